//! Keeping the in-process revocation lists in step with Redis: the subscription, the
//! periodic resync (merged, never replacing), and the write-back of what Redis lost.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;

use super::connection::Connection;
use super::{Shared, lock, within};
use crate::clock::now;
use crate::revoke::{Revocation, Revocations, WeakRevocations};
use crate::store::StoreError;

/// Revocations given back to Redis per script call, so that one call stays short.
const RESTORE_BATCH: usize = 256;
/// How often the subscription task checks whether it has been down past the bound.
const STEP_CHECK: Duration = Duration::from_millis(50);
/// How often the subscription connection is checked (a silent network cut does not
/// close a socket; a `PING` that gets no answer does end the subscription).
const PING_INTERVAL: Duration = Duration::from_secs(1);
const RECONNECT_MIN: Duration = Duration::from_millis(50);
const RECONNECT_MAX: Duration = Duration::from_secs(1);

/// `ZRANGEBYSCORE … WITHSCORES`: (member, score).
type Scored = Vec<(String, f64)>;
/// `HGETALL`: (field, value).
type Fields = Vec<(String, String)>;

/// The lists following the store, and whether they are in step. One lock, so that a
/// resync, a report of the subscription being down and a new follower never interleave.
#[derive(Default)]
pub(super) struct Following {
    /// Held weakly: a list keeps the subscription running, not the other way round.
    pub(super) lists: Vec<WeakRevocations>,
    /// Since when the subscription has been down (`None` while it is up and resynced).
    pub(super) down_since: Option<Instant>,
    /// The lists were told they are out of step (down past the bound).
    pub(super) reported: bool,
}

impl Following {
    /// The lists still in use; forgets the ones that are not.
    pub(super) fn live(&mut self) -> Vec<Revocations> {
        let mut live = Vec::with_capacity(self.lists.len());
        self.lists.retain(|weak| match weak.upgrade() {
            Some(list) => {
                live.push(list);
                true
            }
            None => false,
        });
        live
    }
}

impl Shared {
    pub(super) fn conn(&self) -> Connection {
        self.conn.clone()
    }

    /// Seconds past `exp` token revocations are kept: the builder's margin, or the
    /// longest of the followed lists' (each raised to its verifier's leeway).
    fn keep_after_exp(&self) -> i64 {
        let lists = self.lists();
        let longest = lists
            .iter()
            .map(Revocations::kept_after_exp)
            .fold(self.keep_after_exp, Duration::max);
        i64::try_from(longest.as_secs()).unwrap_or(i64::MAX)
    }

    /// Every revocation still in force, in one atomic read.
    pub(super) async fn read_all(&self) -> Result<Vec<Revocation>, StoreError> {
        let mut pipe = ::redis::pipe();
        pipe.atomic()
            .cmd("ZRANGEBYSCORE")
            .arg(&self.keys.revoked_tokens)
            .arg(now().saturating_sub(self.keep_after_exp()))
            .arg("+inf")
            .arg("WITHSCORES")
            .cmd("HGETALL")
            .arg(&self.keys.revoked_subjects);
        let mut conn = self.conn();
        let (tokens, subjects): (Scored, Fields) =
            within(self.timeout, "revocations", pipe.query_async(&mut conn)).await?;
        let tokens = tokens.into_iter().map(|(jti, exp)| Revocation::Token {
            jti,
            // Saturates: `i64::MAX` comes back as 2^63 in a double.
            exp: exp as i64,
        });
        let subjects = subjects.into_iter().filter_map(|(sub, before)| {
            let before = before.parse().ok()?;
            Some(Revocation::Subject { sub, before })
        });
        Ok(tokens.chain(subjects).collect())
    }

    pub(super) fn lists(&self) -> Vec<Revocations> {
        lock(&self.follow).live()
    }

    /// Merges `all` into every list and reports them in step (the subscription is up).
    /// Returns what the lists hold and `all` lacks: what Redis lost.
    fn resynced(&self, all: &[Revocation]) -> Vec<Revocation> {
        let mut follow = lock(&self.follow);
        let mut lost = Vec::new();
        for list in &follow.live() {
            list.apply_all(all);
            list.set_in_step(true);
            lost.extend(list.missing_from(all));
        }
        follow.down_since = None;
        follow.reported = false;
        self.synced.store(true, Ordering::Release);
        self.resyncs.fetch_add(1, Ordering::Relaxed);
        lost.sort_unstable();
        lost.dedup();
        lost
    }

    /// Reads every revocation, merges it into the lists, and writes back to Redis what
    /// it lost.
    async fn resync(&self) -> Result<(), StoreError> {
        let all = self.read_all().await?;
        let lost = self.resynced(&all);
        tracing::debug!(revocations = all.len(), "revocations resynced from redis");
        if lost.is_empty() {
            return Ok(());
        }
        let mut written = 0;
        for batch in lost.chunks(RESTORE_BATCH) {
            written += self.write(batch, "restore revocations").await?;
        }
        if written > 0 {
            self.restored.fetch_add(written, Ordering::Relaxed);
            tracing::warn!(
                restored = written,
                "redis had lost revocations this instance holds (a restart without \
                 persistence, a failover or an eviction); written back"
            );
        }
        Ok(())
    }

    /// Writes `revocations` (each only if Redis lacks it or holds less) and publishes
    /// the ones written. Returns how many were.
    pub(super) async fn write(
        &self,
        revocations: &[Revocation],
        what: &str,
    ) -> Result<u64, StoreError> {
        let mut invocation = self.scripts.revoke.prepare_invoke();
        invocation
            .key(&self.keys.revoked_tokens)
            .key(&self.keys.revoked_subjects)
            .arg(&self.keys.prefix)
            .arg(self.keep_after_exp())
            .arg(now())
            .arg(&self.keys.channel);
        for revocation in revocations {
            let message = serde_json::to_string(revocation)
                .map_err(|e| StoreError(format!("cannot encode revocation: {e}")))?;
            let (kind, id, value) = match revocation {
                Revocation::Token { jti, exp } => ("token", jti, exp),
                Revocation::Subject { sub, before } => ("subject", sub, before),
            };
            invocation.arg(kind).arg(id).arg(*value).arg(message);
        }
        let mut conn = self.conn();
        within(
            self.timeout,
            what,
            invocation.invoke_async::<u64>(&mut conn),
        )
        .await
    }

    /// The subscription is down: the clock for [`out_of_step_after`] starts.
    fn lost(&self) -> bool {
        let mut follow = lock(&self.follow);
        follow.down_since.get_or_insert_with(Instant::now);
        self.synced.swap(false, Ordering::AcqRel)
    }

    /// Reports the lists out of step once the subscription has been down past the bound.
    async fn watch_step(&self) {
        let mut tick = tokio::time::interval(STEP_CHECK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let mut follow = lock(&self.follow);
            if let Some(since) = follow.down_since
                && !follow.reported
                && since.elapsed() >= self.out_of_step_after
            {
                for list in &follow.live() {
                    list.set_in_step(false);
                }
                follow.reported = true;
                tracing::warn!(
                    down_for = ?since.elapsed(),
                    "revocation lists out of step with redis"
                );
            }
        }
    }

    fn deliver(&self, payload: &[u8]) {
        match serde_json::from_slice::<Revocation>(payload) {
            Ok(revocation) => {
                for list in self.lists() {
                    list.apply(revocation.clone());
                }
            }
            Err(e) => tracing::warn!(error = %e, "ignoring a malformed revocation message"),
        }
    }

    /// Subscribes, resyncs every list, then applies messages until the connection
    /// fails. Returns why it ended.
    async fn follow_once(&self, delay: &mut Duration) -> StoreError {
        let result: Result<(), StoreError> = async {
            let server = self.subscribers.next(&mut self.conn(), self.timeout).await;
            let pubsub = within(self.timeout, "subscribe", server.get_async_pubsub()).await?;
            let (mut sink, mut messages) = pubsub.split();
            within(
                self.timeout,
                "subscribe",
                sink.subscribe(&self.keys.channel),
            )
            .await?;
            // Subscribed first, read second: a revocation written before the read is
            // in it, one written after reaches us as a message (queued meanwhile).
            self.resync().await?;
            *delay = RECONNECT_MIN;
            let mut ping = tokio::time::interval(PING_INTERVAL);
            ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ping.tick().await;
            let mut resync = tokio::time::interval(self.resync_every);
            resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            resync.tick().await;
            loop {
                tokio::select! {
                    message = messages.next() => match message {
                        Some(message) => self.deliver(message.get_payload_bytes()),
                        None => return Err(StoreError("redis subscription closed".into())),
                    },
                    _ = ping.tick() => {
                        within(self.timeout, "ping", sink.ping::<::redis::Value>()).await?;
                    }
                    _ = resync.tick() => self.resync().await?,
                }
            }
        }
        .await;
        match result {
            Err(e) => e,
            Ok(()) => StoreError("redis subscription ended".into()),
        }
    }

    /// The subscription task: follows, reconnects (then resyncs) whenever it fails, and
    /// reports the lists out of step when it stays down.
    pub(super) async fn follow_loop(self: Arc<Self>) {
        lock(&self.follow)
            .down_since
            .get_or_insert_with(Instant::now);
        tokio::join!(self.reconnect_loop(), self.watch_step());
    }

    async fn reconnect_loop(&self) {
        let mut delay = RECONNECT_MIN;
        loop {
            let error = self.follow_once(&mut delay).await;
            let was_synced = self.lost();
            if was_synced {
                tracing::warn!(%error, "revocation subscription lost; reconnecting");
            } else {
                tracing::debug!(%error, "revocation subscription still down");
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(RECONNECT_MAX);
        }
    }
}
