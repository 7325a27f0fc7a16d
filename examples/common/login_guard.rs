//! What stands between `POST /login` and the password hash: attempt limits per user
//! name and per client address (password guessing), and a bound on how many hashes run
//! at once (each argon2 verification holds 19 MiB: unbounded, a burst of logins takes
//! the process's memory with it). The including example also includes
//! `hashing_pool.rs` and `retry_after.rs` as sibling modules.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::hashing_pool::{HashingPool, PoolError};
use super::retry_after;

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
    /// The configured client address header is missing or holds no address (500): a
    /// proxy misconfiguration. Counting such logins against the proxy's own address
    /// would put every client in one budget, which a few guesses use up for everyone.
    NoClientAddress,
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

/// The last address of a header value as proxies write it: `X-Forwarded-For` style
/// (`203.0.113.7`, `2001:db8::1`, with a port `203.0.113.7:5123`, bracketed
/// `[2001:db8::1]` or `[2001:db8::1]:5123`), or RFC 7239 `Forwarded` style
/// (`for=203.0.113.7;proto=https`, `for="[2001:db8::1]:5123"`). `None` for anything else,
/// such as `unknown` or an obfuscated `for=_hidden`.
fn last_address(value: &str) -> Option<IpAddr> {
    let element = value.rsplit(',').next()?.trim();
    let node = if element.contains('=') {
        element.split(';').find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            key.trim()
                .eq_ignore_ascii_case("for")
                .then(|| value.trim().trim_matches('"'))
        })?
    } else {
        element
    };
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(socket) = node.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    node.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|v6| v6.parse::<std::net::Ipv6Addr>().ok())
        .map(IpAddr::V6)
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

    /// The client's address: the TCP peer's, or, with a configured header, the last
    /// address in it (earlier ones are whatever the client claimed). Refused, with a
    /// warning logged, when that header is missing or its last value is no address.
    pub fn client(&self, headers: &HeaderMap, peer: IpAddr) -> Result<IpAddr, Refused> {
        let Some(name) = &self.client_address_header else {
            return Ok(peer);
        };
        let last = headers
            .get_all(name)
            .iter()
            .next_back()
            .map(|v| String::from_utf8_lossy(v.as_bytes()));
        let address = last.as_deref().and_then(last_address);
        address.ok_or_else(|| {
            tracing::warn!(
                header = %name,
                value = ?last,
                "login refused: the client address header holds no address; \
                 check the proxy and LOGIN_CLIENT_ADDRESS_HEADER"
            );
            Refused::NoClientAddress
        })
    }

    /// Counts one attempt for `user` from `client`; refused when either has used up its
    /// budget. The address is counted first, so attempts it refuses do not use up the
    /// user's budget.
    pub fn attempt(&self, user: &str, client: IpAddr) -> Result<(), Refused> {
        let retry_after = |not_until: governor::NotUntil<_>| Refused::TooManyAttempts {
            retry_after: retry_after::seconds(&not_until),
        };
        self.per_address
            .check_key(&address_key(client))
            .map_err(retry_after)?;
        self.per_user
            .check_key(&user.to_owned())
            .map_err(retry_after)?;
        Ok(())
    }

    /// Counts one request from `client` against its address's budget, the one logins
    /// use too: for a route anyone may call without a password (`POST /register`), so
    /// that one address cannot fill the store.
    pub fn attempt_from(&self, client: IpAddr) -> Result<(), Refused> {
        self.per_address
            .check_key(&address_key(client))
            .map_err(|not_until| Refused::TooManyAttempts {
                retry_after: retry_after::seconds(&not_until),
            })
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
