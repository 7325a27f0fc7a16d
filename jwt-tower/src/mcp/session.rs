//! [`SessionBindingLayer`]: an MCP session (`Mcp-Session-Id`) serves only the subject
//! whose request created it, and an id the layer did not bind serves no one.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::RETRY_AFTER;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use tower_layer::Layer;
use tower_service::Service;

use super::jsonrpc;
use super::service::json_rpc_error;
use crate::auth::Refusal;
use crate::reject::DefaultRejection;
use crate::unread_body::close_if_body_unread;
use crate::{AuthError, Identity, RejectionKind};

/// The header carrying an MCP session's id, in the response that creates the session and
/// in every request of it (MCP streamable HTTP transport).
pub const SESSION_ID_HEADER: &str = "mcp-session-id";

/// How many sessions are remembered by default, all owners together.
pub const DEFAULT_MAX_SESSIONS: usize = 10_000;

/// How many sessions one owner (one `iss` + `sub`) keeps by default: opening one more
/// forgets that owner's least recently used one.
pub const DEFAULT_MAX_SESSIONS_PER_OWNER: usize = 100;

/// How long a session unused is remembered by default: six minutes, a minute more than
/// rmcp's own session keep-alive (`SessionConfig::DEFAULT_KEEP_ALIVE`, 5 minutes, in
/// rmcp 3.11's `LocalSessionManager`, after which the server closes an idle session), so
/// that a binding outlives its session by a minute at most, and is not forgotten while
/// the server still serves the session.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(6 * 60);

/// A tower layer binding each MCP session to the owner of the request that created it
/// (the `iss` and `sub` of its verified token, or "no token" behind an optional
/// [`JwtLayer`](crate::JwtLayer)): a request naming a session that is not its own (another
/// subject's, or one the layer does not know: never issued, forgotten, expired) is refused
/// with 404, as the MCP server refuses an unknown session, and the client opens a new
/// one. Place it inside (behind) the `JwtLayer`. See the [module
/// documentation](super) for what it does with each request.
///
/// Sessions are remembered in memory, each for as long as it is used at least once per
/// [`idle_timeout`](Self::idle_timeout), at most
/// [`max_sessions_per_owner`](Self::max_sessions_per_owner) per owner (one more forgets
/// the owner's least recently used one: one token holder cannot fill the table) and at
/// most [`max_sessions`](Self::max_sessions) in all. When the table is full, sessions
/// idle past the timeout are forgotten first; if none is, the response creating a new
/// session is replaced by 503 (a JSON-RPC error, with `Retry-After`), so that no session
/// the layer cannot bind ever reaches a client: its id is withheld, and the server closes
/// it when it has been idle for its own timeout.
///
/// A verified token without `sub` names no one who could own a session: its requests are
/// refused with 401 `invalid_token` (RFC 6750: the token is unusable here, and more
/// scopes would not help), through the `JwtLayer`'s
/// [`Refusal`](crate::auth::Refusal), so with its challenge.
///
/// The settings are those of the layer's one table, shared by its clones: each method
/// changes it for every clone, and keeps the sessions already bound.
///
/// ```
/// use std::time::Duration;
///
/// use jwt_tower::mcp::SessionBindingLayer;
///
/// let sessions = SessionBindingLayer::new()
///     .max_sessions(50_000)
///     .max_sessions_per_owner(20)
///     .idle_timeout(Duration::from_secs(10 * 60));
/// assert!(sessions.is_empty());
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct SessionBindingLayer {
    /// Shared by every service the layer makes (axum makes one per route).
    sessions: Arc<Sessions>,
}

impl Default for SessionBindingLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl SessionBindingLayer {
    /// A layer remembering at most [`DEFAULT_MAX_SESSIONS`] sessions,
    /// [`DEFAULT_MAX_SESSIONS_PER_OWNER`] per owner, each for [`DEFAULT_IDLE_TIMEOUT`]
    /// after its last use.
    pub fn new() -> Self {
        Self {
            sessions: Arc::new(Sessions {
                table: Mutex::new(Table {
                    bindings: HashMap::new(),
                    owners: HashMap::new(),
                    limits: Limits::default(),
                }),
            }),
        }
    }

    /// The most sessions remembered at once, all owners together (default
    /// [`DEFAULT_MAX_SESSIONS`]; 0 counts as 1).
    pub fn max_sessions(self, max: usize) -> Self {
        self.sessions.lock().limits.max = max.max(1);
        self
    }

    /// The most sessions one owner keeps at once (default
    /// [`DEFAULT_MAX_SESSIONS_PER_OWNER`]; 0 counts as 1): a new session of an owner at
    /// the limit forgets that owner's least recently used one, whose requests then get
    /// 404.
    pub fn max_sessions_per_owner(self, max: usize) -> Self {
        self.sessions.lock().limits.per_owner = max.max(1);
        self
    }

    /// How long a session is remembered after its last request (default
    /// [`DEFAULT_IDLE_TIMEOUT`]; at least a second). A session forgotten is refused
    /// (404) to everyone, its owner included, who then opens a new one: keep it at least
    /// as long as the MCP server's own session idle timeout, so that sessions the server
    /// still serves are not refused.
    pub fn idle_timeout(self, idle: Duration) -> Self {
        self.sessions.lock().limits.idle = idle.max(Duration::from_secs(1));
        self
    }

    /// How many sessions are bound now, idle ones not yet forgotten included.
    #[must_use]
    pub fn len(&self) -> usize {
        self.sessions.lock().bindings.len()
    }

    /// Whether no session is bound.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<S> Layer<S> for SessionBindingLayer {
    type Service = SessionBindingService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionBindingService {
            inner,
            sessions: Arc::clone(&self.sessions),
        }
    }
}

/// The response future of [`SessionBindingService`]: boxed, as it reads the response.
pub type SessionBindingFuture<ResBody, E> =
    Pin<Box<dyn Future<Output = Result<Response<ResBody>, E>> + Send>>;

/// The service made by [`SessionBindingLayer`].
#[derive(Debug, Clone)]
pub struct SessionBindingService<S> {
    inner: S,
    sessions: Arc<Sessions>,
}

/// Who a session belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Owner {
    /// Requests without a token (behind an optional `JwtLayer`): one owner for them all.
    Anonymous,
    /// The `iss` and `sub` of a verified token.
    Subject {
        issuer: Option<Box<str>>,
        subject: Box<str>,
    },
}

impl Owner {
    /// The owner of a request's sessions; `Err` for a token without `sub`.
    fn of(identity: Option<&Identity>) -> Result<Self, ()> {
        let Some(identity) = identity else {
            return Ok(Self::Anonymous);
        };
        let subject = identity.subject().ok_or(())?;
        Ok(Self::Subject {
            issuer: identity.issuer().map(Into::into),
            subject: subject.into(),
        })
    }
}

#[derive(Debug, Clone, Copy)]
struct Limits {
    max: usize,
    per_owner: usize,
    idle: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max: DEFAULT_MAX_SESSIONS,
            per_owner: DEFAULT_MAX_SESSIONS_PER_OWNER,
            idle: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

#[derive(Debug)]
struct Binding {
    owner: Owner,
    last_used: Instant,
}

#[derive(Debug)]
struct Table {
    /// Keyed on the session id's bytes, compared whole.
    bindings: HashMap<Box<[u8]>, Binding>,
    /// Each owner's session ids, so that its least recently used is found among its own.
    owners: HashMap<Owner, Vec<Box<[u8]>>>,
    limits: Limits,
}

#[derive(Debug)]
struct Sessions {
    table: Mutex<Table>,
}

/// Why a new session was not bound.
#[derive(Debug, PartialEq, Eq)]
enum Unbindable {
    /// The table is full of sessions in use; a place frees up after this long.
    Full(Duration),
    /// The id is bound to another owner already: the server handed out an id it had
    /// given before.
    Taken,
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, Table> {
        // Nothing panics while holding the lock; a poisoned table is still consistent.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Table {
    /// Whether `id` is `owner`'s session, idle less than the timeout; if so, its idle
    /// time restarts. Anything else (bound to another owner, idle past the timeout,
    /// unknown) is not.
    fn check(&mut self, id: &[u8], owner: &Owner, now: Instant) -> bool {
        let idle = self.limits.idle;
        let Some(binding) = self.bindings.get_mut(id) else {
            return false;
        };
        if now.saturating_duration_since(binding.last_used) > idle {
            self.forget(id);
            return false;
        }
        if *owner == binding.owner {
            binding.last_used = now;
            true
        } else {
            false
        }
    }

    /// Binds the new session `id` to `owner`, first forgetting the owner's least
    /// recently used session if it is at its limit, then sessions idle past the timeout
    /// if the table is full. An id bound already is never handed to another owner.
    fn bind(&mut self, id: &[u8], owner: Owner, now: Instant) -> Result<(), Unbindable> {
        if let Some(binding) = self.bindings.get_mut(id) {
            if binding.owner != owner {
                return Err(Unbindable::Taken);
            }
            binding.last_used = now;
            return Ok(());
        }
        let owned = self.owners.get(&owner).map_or(0, Vec::len);
        if owned >= self.limits.per_owner {
            let least_recent = self.owners[&owner]
                .iter()
                .min_by_key(|id| self.bindings.get(&***id).map(|b| b.last_used))
                .cloned();
            if let Some(least_recent) = least_recent {
                self.forget(&least_recent);
            }
        }
        if self.bindings.len() >= self.limits.max {
            let idle = self.limits.idle;
            let expired: Vec<Box<[u8]>> = self
                .bindings
                .iter()
                .filter(|(_, b)| now.saturating_duration_since(b.last_used) > idle)
                .map(|(id, _)| id.clone())
                .collect();
            for id in expired {
                self.forget(&id);
            }
        }
        if self.bindings.len() >= self.limits.max {
            let oldest = self.bindings.values().map(|b| b.last_used).min();
            let oldest = oldest.unwrap_or(now);
            let wait = (oldest + self.limits.idle).saturating_duration_since(now);
            return Err(Unbindable::Full(wait));
        }
        self.owners
            .entry(owner.clone())
            .or_default()
            .push(id.into());
        self.bindings.insert(
            id.into(),
            Binding {
                owner,
                last_used: now,
            },
        );
        Ok(())
    }

    fn forget(&mut self, id: &[u8]) {
        let Some(binding) = self.bindings.remove(id) else {
            return;
        };
        if let Some(ids) = self.owners.get_mut(&binding.owner) {
            ids.retain(|owned| **owned != *id);
            if ids.is_empty() {
                self.owners.remove(&binding.owner);
            }
        }
    }
}

impl<S, B, ResBody> Service<Request<B>> for SessionBindingService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: From<Bytes> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = SessionBindingFuture<ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // An async block holds no error value, so it is `Send` whatever the error type.
        let Ok(owner) = Owner::of(req.extensions().get::<Identity>()) else {
            let refused = no_subject(&req);
            return Box::pin(async { Ok(refused) });
        };
        let mut ids = req.headers().get_all(SESSION_ID_HEADER).iter();
        let id: Option<Box<[u8]>> = ids.next().map(|id| id.as_bytes().into());
        if ids.next().is_some() {
            // Which one a server reads is its choice: refused, not guessed.
            let mut refused = several_sessions();
            close_if_body_unread(req.version(), req.headers(), &mut refused);
            return Box::pin(async { Ok(refused) });
        }
        let now = Instant::now();
        if let Some(id) = &id
            && !self.sessions.lock().check(id, &owner, now)
        {
            let mut refused = not_found();
            close_if_body_unread(req.version(), req.headers(), &mut refused);
            return Box::pin(async { Ok(refused) });
        }
        let deleting = req.method() == Method::DELETE;
        let response = self.inner.call(req);
        let sessions = Arc::clone(&self.sessions);
        Box::pin(async move {
            let response = response.await?;
            let Some(id) = id else {
                // No session named: the `initialize`, and a session it opens is bound.
                let Some(created) = response.headers().get(SESSION_ID_HEADER) else {
                    return Ok(response);
                };
                let bound = sessions.lock().bind(created.as_bytes(), owner, now);
                return Ok(match bound {
                    Ok(()) => response,
                    Err(Unbindable::Full(wait)) => {
                        tracing::warn!(
                            max_sessions = sessions.lock().limits.max,
                            "MCP session refused: every remembered session is in use"
                        );
                        too_many_sessions(wait)
                    }
                    Err(Unbindable::Taken) => {
                        tracing::error!(
                            "the MCP server opened a session with the id of one it had \
                             opened before: refused"
                        );
                        session_id_reused()
                    }
                });
            };
            if deleting && response.status().is_success() {
                sessions.lock().forget(&id);
            }
            Ok(response)
        })
    }
}

/// The `JwtLayer`'s 401 `invalid_token` for a token without `sub`; with no `JwtLayer`
/// in front (misplaced), the default RFC 6750 refusal.
fn no_subject<B, ResBody: From<Bytes> + 'static>(req: &Request<B>) -> Response<ResBody> {
    let error = AuthError::with_description(
        RejectionKind::MissingClaim,
        "the token has no sub: an MCP session belongs to a subject",
    );
    if let Some(refusal) = req.extensions().get::<Refusal<ResBody>>() {
        return refusal.refuse_unread(req, &error);
    }
    let mut response = DefaultRejection::default().response(&error);
    close_if_body_unread(req.version(), req.headers(), &mut response);
    response
}

/// 404, as the MCP transport answers a session it does not know, with a JSON-RPC error.
fn not_found<ResBody: From<Bytes>>() -> Response<ResBody> {
    json_rpc_error(
        StatusCode::NOT_FOUND,
        jsonrpc::SESSION_NOT_FOUND,
        "Session not found",
    )
}

/// 400 for a request naming more than one session.
fn several_sessions<ResBody: From<Bytes>>() -> Response<ResBody> {
    json_rpc_error(
        StatusCode::BAD_REQUEST,
        jsonrpc::Unreadable::InvalidRequest.code(),
        "Invalid Request: more than one Mcp-Session-Id",
    )
}

/// 500 for a new session whose id the server had already given another owner: withheld.
fn session_id_reused<ResBody: From<Bytes>>() -> Response<ResBody> {
    json_rpc_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        jsonrpc::INTERNAL_ERROR,
        "Internal error: the new session could not be opened",
    )
}

fn too_many_sessions<ResBody: From<Bytes>>(wait: Duration) -> Response<ResBody> {
    let mut response = json_rpc_error(
        StatusCode::SERVICE_UNAVAILABLE,
        jsonrpc::SERVER_BUSY,
        "Too many sessions: try again later",
    );
    let seconds = wait.as_secs().max(1);
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(sub: &str) -> Owner {
        Owner::Subject {
            issuer: Some("https://issuer.example".into()),
            subject: sub.into(),
        }
    }

    fn table(max: usize, per_owner: usize, idle: Duration) -> Table {
        Table {
            bindings: HashMap::new(),
            owners: HashMap::new(),
            limits: Limits {
                max,
                per_owner,
                idle,
            },
        }
    }

    #[test]
    fn a_session_serves_its_owner_only() {
        let mut table = table(10, 10, Duration::from_secs(60));
        let now = Instant::now();
        table.bind(b"s1", owner("alice"), now).unwrap();
        assert!(table.check(b"s1", &owner("alice"), now));
        assert!(!table.check(b"s1", &owner("bob"), now));
        assert!(!table.check(b"s1", &Owner::Anonymous, now));
        let other_issuer = Owner::Subject {
            issuer: Some("https://other.example".into()),
            subject: "alice".into(),
        };
        assert!(!table.check(b"s1", &other_issuer, now));
        // Fail closed: an id never bound serves no one, with a token or without.
        assert!(!table.check(b"s2", &owner("bob"), now));
        assert!(!table.check(b"s2", &Owner::Anonymous, now));
    }

    #[test]
    fn a_bound_id_is_never_handed_to_another_owner() {
        let mut table = table(10, 10, Duration::from_secs(60));
        let now = Instant::now();
        table.bind(b"s1", owner("alice"), now).unwrap();
        assert_eq!(table.bind(b"s1", owner("bob"), now), Err(Unbindable::Taken));
        assert_eq!(
            table.bind(b"s1", Owner::Anonymous, now),
            Err(Unbindable::Taken)
        );
        assert!(!table.check(b"s1", &owner("bob"), now));
        assert!(table.check(b"s1", &owner("alice"), now));
        // The same owner again: still one binding.
        table.bind(b"s1", owner("alice"), now).unwrap();
        assert_eq!(table.bindings.len(), 1);
        assert_eq!(table.owners[&owner("alice")].len(), 1);
    }

    #[test]
    fn an_idle_session_is_forgotten_and_use_keeps_it() {
        let idle = Duration::from_secs(60);
        let mut table = table(10, 10, idle);
        let start = Instant::now();
        table.bind(b"s1", owner("alice"), start).unwrap();
        table.bind(b"s2", owner("alice"), start).unwrap();
        // Used just before the timeout: remembered from then on.
        assert!(table.check(b"s1", &owner("alice"), start + idle));
        let past = start + idle + Duration::from_secs(1);
        assert!(table.check(b"s1", &owner("alice"), past));
        // Idle past the timeout: refused to its owner too, and forgotten.
        assert!(!table.check(b"s2", &owner("alice"), past));
        assert_eq!(table.bindings.len(), 1);
        assert_eq!(table.owners[&owner("alice")].len(), 1);
    }

    #[test]
    fn an_owner_at_its_limit_loses_its_least_recently_used_session() {
        let mut table = table(10, 3, Duration::from_secs(600));
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        table.bind(b"a1", owner("alice"), at(0)).unwrap();
        table.bind(b"a2", owner("alice"), at(1)).unwrap();
        table.bind(b"a3", owner("alice"), at(2)).unwrap();
        table.bind(b"b1", owner("bob"), at(3)).unwrap();
        // a1 used last: a2 is the least recently used.
        assert!(table.check(b"a1", &owner("alice"), at(4)));
        table.bind(b"a4", owner("alice"), at(5)).unwrap();
        assert!(!table.check(b"a2", &owner("alice"), at(6)));
        for id in [&b"a1"[..], b"a3", b"a4"] {
            assert!(table.check(id, &owner("alice"), at(6)));
        }
        // Bob's session is untouched by alice's.
        assert!(table.check(b"b1", &owner("bob"), at(6)));
        assert_eq!(table.bindings.len(), 4);
        assert_eq!(table.owners[&owner("alice")].len(), 3);
    }

    #[test]
    fn one_owner_cannot_fill_the_table() {
        let mut table = table(5, 2, Duration::from_secs(600));
        let now = Instant::now();
        for n in 0..100u32 {
            let id = format!("a{n}");
            table.bind(id.as_bytes(), owner("alice"), now).unwrap();
        }
        assert_eq!(table.bindings.len(), 2);
        for sub in ["bob", "carol", "dave"] {
            table.bind(sub.as_bytes(), owner(sub), now).unwrap();
        }
        assert_eq!(table.bindings.len(), 5);
    }

    #[test]
    fn a_full_table_forgets_idle_sessions_first_then_refuses() {
        let idle = Duration::from_secs(60);
        let mut table = table(2, 10, idle);
        let start = Instant::now();
        table.bind(b"s1", owner("alice"), start).unwrap();
        table
            .bind(b"s2", owner("carol"), start + Duration::from_secs(30))
            .unwrap();
        // Full, none idle: refused until s1 is idle past the timeout.
        let refused = table.bind(b"s3", owner("bob"), start + Duration::from_secs(40));
        assert_eq!(refused, Err(Unbindable::Full(Duration::from_secs(20))));
        assert!(!table.owners.contains_key(&owner("bob")));
        // s1 idle past the timeout makes room.
        let later = start + idle + Duration::from_secs(1);
        table.bind(b"s3", owner("bob"), later).unwrap();
        assert!(table.check(b"s3", &owner("bob"), later));
        assert!(!table.owners.contains_key(&owner("alice")));
        assert!(table.check(b"s2", &owner("carol"), later));
        table.forget(b"s2");
        assert!(!table.check(b"s2", &owner("carol"), later));
        assert!(!table.owners.contains_key(&owner("carol")));
    }

    #[test]
    fn limits_of_zero_count_as_one_and_settings_keep_the_table() {
        let layer = SessionBindingLayer::new();
        let clone = layer.clone();
        layer
            .sessions
            .lock()
            .bind(b"s1", owner("alice"), Instant::now())
            .unwrap();
        let layer = layer
            .max_sessions(0)
            .max_sessions_per_owner(0)
            .idle_timeout(Duration::ZERO);
        // The binding and the clone's view survive the settings.
        assert_eq!((layer.len(), clone.len()), (1, 1));
        let limits = clone.sessions.lock().limits;
        assert_eq!(limits.max, 1);
        assert_eq!(limits.per_owner, 1);
        assert_eq!(limits.idle, Duration::from_secs(1));
    }
}
