//! What stands between `POST /login` and the password hash: attempt limits per user
//! name and per client address (password guessing), and a bound on how many hashes run
//! at once (each argon2 verification holds 19 MiB: unbounded, a burst of logins takes
//! the process's memory with it). The including example also includes
//! `hashing_pool.rs` as a sibling module.
#![allow(dead_code)]

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::hashing_pool::{HashingPool, PoolError};

/// The limits, from the environment in `auth_server`.
#[derive(Debug, Clone)]
pub struct LoginLimits {
    /// Attempts per user name per window.
    pub per_user: NonZeroU32,
    /// Attempts per client address (IPv6: per /64) per window.
    pub per_address: NonZeroU32,
    /// Where the client address is, behind a reverse proxy: the last address in this
    /// header (the one the proxy appended). `None`: the TCP peer's address.
    pub client_address_header: Option<HeaderName>,
    /// The window: a full budget of attempts comes back over this time.
    pub window: Duration,
    /// Password hashes computed at once.
    pub hash_concurrency: usize,
    /// Logins waiting for a hashing slot before further ones are turned away (503).
    pub hash_queue: usize,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            per_user: NonZeroU32::new(5).expect("nonzero"),
            per_address: NonZeroU32::new(20).expect("nonzero"),
            client_address_header: None,
            window: Duration::from_secs(60),
            hash_concurrency: std::thread::available_parallelism().map_or(2, usize::from),
            hash_queue: 64,
        }
    }
}

/// Why an attempt is not let through.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Too many attempts for this user or from this address: retry after that many
    /// seconds (429).
    TooManyAttempts { retry_after: u64 },
    /// Every hashing thread busy and the queue full (503).
    Busy,
    /// The password check itself failed (500).
    Failed,
}

/// The attempt limiters and the hashing threads.
pub struct LoginGuard {
    client_address_header: Option<HeaderName>,
    per_user: DefaultKeyedRateLimiter<String>,
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    hashing: HashingPool,
}

fn quota(attempts: NonZeroU32, window: Duration) -> Quota {
    Quota::with_period(window / attempts.get())
        .unwrap_or_else(|| Quota::per_second(attempts))
        .allow_burst(attempts)
}

/// IPv6 clients usually hold a whole /64: limiting single addresses would not limit them.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::from(segments)
            }
        },
    }
}

impl LoginGuard {
    /// The guard, and a task that forgets idle limiter entries every window so that a
    /// stream of made-up user names does not grow memory without bound. Needs a Tokio
    /// runtime; the task ends when the guard is dropped.
    pub fn new(limits: &LoginLimits) -> Arc<Self> {
        let guard = Arc::new(Self {
            client_address_header: limits.client_address_header.clone(),
            per_user: RateLimiter::keyed(quota(limits.per_user, limits.window)),
            per_address: RateLimiter::keyed(quota(limits.per_address, limits.window)),
            hashing: HashingPool::new(limits.hash_concurrency, limits.hash_queue),
        });
        let weak: Weak<Self> = Arc::downgrade(&guard);
        let every = limits.window.max(Duration::from_secs(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(guard) = weak.upgrade() else { return };
                guard.per_user.retain_recent();
                guard.per_address.retain_recent();
                guard.per_user.shrink_to_fit();
                guard.per_address.shrink_to_fit();
            }
        });
        guard
    }

    /// The client's address: from the configured header when it holds one (the last of
    /// a list: earlier ones are whatever the client claimed), else the TCP peer's.
    pub fn client(&self, headers: &HeaderMap, peer: IpAddr) -> IpAddr {
        let Some(name) = &self.client_address_header else {
            return peer;
        };
        headers
            .get_all(name)
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(peer)
    }

    /// Counts one attempt for `user` from `client`; refused when either has used up its
    /// budget. The address is counted first, so attempts it refuses do not use up the
    /// user's budget.
    pub fn attempt(&self, user: &str, client: IpAddr) -> Result<(), Refused> {
        let retry_after = |not_until: governor::NotUntil<_>| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            Refused::TooManyAttempts {
                retry_after: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            }
        };
        self.per_address
            .check_key(&address_key(client))
            .map_err(retry_after)?;
        self.per_user
            .check_key(&user.to_owned())
            .map_err(retry_after)?;
        Ok(())
    }

    /// Runs the password check `job` on a hashing thread, waiting in the queue, or is
    /// refused at once when the queue is full.
    pub async fn hash<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Refused> {
        self.hashing.run(job).await.map_err(|e| match e {
            PoolError::Busy => Refused::Busy,
            PoolError::Failed => Refused::Failed,
        })
    }
}
