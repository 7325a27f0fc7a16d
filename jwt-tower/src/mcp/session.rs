//! [`SessionBindingLayer`]: an MCP session (`Mcp-Session-Id`) serves only the subject
//! whose request created it.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::RETRY_AFTER;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use tower_layer::Layer;
use tower_service::Service;

use super::jsonrpc;
use super::service::json_rpc_error;
use crate::Identity;

/// The header carrying an MCP session's id, in the response that creates the session and
/// in every request of it (MCP streamable HTTP transport).
pub const SESSION_ID_HEADER: &str = "mcp-session-id";

/// How many sessions are remembered by default.
pub const DEFAULT_MAX_SESSIONS: usize = 10_000;

/// How long a session unused is remembered by default: longer than the MCP server's own
/// idle timeout (rmcp closes a session idle for 5 minutes), so that a session is
/// forgotten here only once the server has closed it.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);

/// A tower layer binding each MCP session to the subject (`iss` and `sub`) of the
/// verified token whose request created it: a request naming the session with another
/// subject's token, or with none, is refused with 404, as the MCP server refuses an
/// unknown session. Place it inside (behind) the [`JwtLayer`](crate::JwtLayer). See the
/// [module documentation](super) for what it does with each request.
///
/// Sessions are remembered in memory, at most [`max_sessions`](Self::max_sessions) of
/// them, each for as long as it is used at least once per
/// [`idle_timeout`](Self::idle_timeout). When the table is full, sessions idle past the
/// timeout are forgotten first; if none is, the response creating a new session is
/// replaced by 503 (a JSON-RPC error, with `Retry-After`), so that no session the layer
/// cannot bind ever reaches a client: its id is withheld, and the server closes it when
/// it has been idle for its own timeout.
///
/// ```
/// use std::time::Duration;
///
/// use jwt_tower::mcp::SessionBindingLayer;
///
/// let sessions = SessionBindingLayer::new()
///     .max_sessions(50_000)
///     .idle_timeout(Duration::from_secs(30 * 60));
/// # let _ = sessions;
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
    /// A layer remembering at most [`DEFAULT_MAX_SESSIONS`] sessions, each for
    /// [`DEFAULT_IDLE_TIMEOUT`] after its last use.
    pub fn new() -> Self {
        Self {
            sessions: Arc::new(Sessions {
                bindings: Mutex::default(),
                max: DEFAULT_MAX_SESSIONS,
                idle: DEFAULT_IDLE_TIMEOUT,
            }),
        }
    }

    /// The most sessions remembered at once (default [`DEFAULT_MAX_SESSIONS`]). Sets the
    /// limit of this layer's own table: call it before the layer is cloned.
    pub fn max_sessions(mut self, max: usize) -> Self {
        self.sessions = Arc::new(Sessions {
            bindings: Mutex::default(),
            max,
            idle: self.sessions.idle,
        });
        self
    }

    /// How long a session is remembered after its last request (default
    /// [`DEFAULT_IDLE_TIMEOUT`]). Keep it longer than the MCP server's own session idle
    /// timeout: a session forgotten here while the server still serves it is unbound,
    /// and passes with any token.
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.sessions = Arc::new(Sessions {
            bindings: Mutex::default(),
            max: self.sessions.max,
            idle,
        });
        self
    }

    /// How many sessions are bound now, idle ones not yet forgotten included.
    #[must_use]
    pub fn len(&self) -> usize {
        self.sessions.lock().len()
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

/// Who a session belongs to: the `iss` and `sub` of the token that created it (a token
/// without `sub` is one with no subject, and matches only such tokens of its issuer).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Owner {
    issuer: Option<Box<str>>,
    subject: Option<Box<str>>,
}

impl Owner {
    fn of(identity: &Identity) -> Self {
        Self {
            issuer: identity.issuer().map(Into::into),
            subject: identity.subject().map(Into::into),
        }
    }
}

#[derive(Debug)]
struct Binding {
    owner: Owner,
    last_used: Instant,
}

#[derive(Debug)]
struct Sessions {
    /// Keyed on the session id's bytes, compared whole.
    bindings: Mutex<HashMap<Box<[u8]>, Binding>>,
    max: usize,
    idle: Duration,
}

/// What the table says about a request's session.
enum Verdict {
    /// No session id, or one not bound (unknown, expired, or created without a token):
    /// the server answers.
    Unbound,
    /// Bound to the request's subject.
    Owner,
    /// Bound to another subject, or the request has no token.
    Stranger,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Box<[u8]>, Binding>> {
        // Nothing panics while holding the lock; a poisoned table is still consistent.
        self.bindings.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn check(&self, id: &[u8], owner: Option<&Owner>, now: Instant) -> Verdict {
        let mut bindings = self.lock();
        let Some(binding) = bindings.get_mut(id) else {
            return Verdict::Unbound;
        };
        if now.saturating_duration_since(binding.last_used) > self.idle {
            bindings.remove(id);
            return Verdict::Unbound;
        }
        if owner == Some(&binding.owner) {
            binding.last_used = now;
            Verdict::Owner
        } else {
            Verdict::Stranger
        }
    }

    /// Binds `id` to `owner` unless it is bound already. `Err` with the time until a
    /// place frees up when the table is full of sessions in use.
    fn bind(&self, id: &[u8], owner: Owner, now: Instant) -> Result<(), Duration> {
        let mut bindings = self.lock();
        if bindings.contains_key(id) {
            return Ok(());
        }
        if bindings.len() >= self.max {
            let idle = self.idle;
            bindings.retain(|_, b| now.saturating_duration_since(b.last_used) <= idle);
        }
        if bindings.len() >= self.max {
            let oldest = bindings.values().map(|b| b.last_used).min().unwrap_or(now);
            return Err((oldest + self.idle).saturating_duration_since(now));
        }
        bindings.insert(
            id.into(),
            Binding {
                owner,
                last_used: now,
            },
        );
        Ok(())
    }

    fn forget(&self, id: &[u8]) {
        self.lock().remove(id);
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
        let owner = req.extensions().get::<Identity>().map(Owner::of);
        let mut ids = req.headers().get_all(SESSION_ID_HEADER).iter();
        let id: Option<Box<[u8]>> = ids.next().map(|id| id.as_bytes().into());
        if ids.next().is_some() {
            // Which one a server reads is its choice: refused, not guessed.
            return Box::pin(async { Ok(several_sessions()) });
        }
        let now = Instant::now();
        if let Some(id) = &id
            && let Verdict::Stranger = self.sessions.check(id, owner.as_ref(), now)
        {
            let mut response = not_found();
            crate::auth::unread_body::close_if_body_unread(&req, &mut response);
            // An async block holds no error value, so it is `Send` whatever the error type.
            return Box::pin(async { Ok(response) });
        }
        let deleting = req.method() == Method::DELETE;
        let response = self.inner.call(req);
        let sessions = Arc::clone(&self.sessions);
        Box::pin(async move {
            let response = response.await?;
            if let Some(id) = &id
                && deleting
                && response.status().is_success()
            {
                sessions.forget(id);
            }
            let (Some(owner), Some(created)) = (owner, response.headers().get(SESSION_ID_HEADER))
            else {
                return Ok(response);
            };
            match sessions.bind(created.as_bytes(), owner, now) {
                Ok(()) => Ok(response),
                Err(wait) => {
                    tracing::warn!(
                        max_sessions = sessions.max,
                        "MCP session refused: every remembered session is in use"
                    );
                    Ok(too_many_sessions(wait))
                }
            }
        })
    }
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
        Owner {
            issuer: Some("https://issuer.example".into()),
            subject: Some(sub.into()),
        }
    }

    fn sessions(max: usize, idle: Duration) -> Sessions {
        Sessions {
            bindings: Mutex::default(),
            max,
            idle,
        }
    }

    #[test]
    fn a_session_serves_its_owner_only() {
        let table = sessions(10, Duration::from_secs(60));
        let now = Instant::now();
        table.bind(b"s1", owner("alice"), now).unwrap();
        assert!(matches!(
            table.check(b"s1", Some(&owner("alice")), now),
            Verdict::Owner
        ));
        assert!(matches!(
            table.check(b"s1", Some(&owner("bob")), now),
            Verdict::Stranger
        ));
        assert!(matches!(table.check(b"s1", None, now), Verdict::Stranger));
        let other_issuer = Owner {
            issuer: Some("https://other.example".into()),
            subject: Some("alice".into()),
        };
        assert!(matches!(
            table.check(b"s1", Some(&other_issuer), now),
            Verdict::Stranger
        ));
        assert!(matches!(
            table.check(b"s2", Some(&owner("bob")), now),
            Verdict::Unbound
        ));
        // Binding again keeps the first owner.
        table.bind(b"s1", owner("bob"), now).unwrap();
        assert!(matches!(
            table.check(b"s1", Some(&owner("bob")), now),
            Verdict::Stranger
        ));
    }

    #[test]
    fn an_idle_session_is_forgotten_and_use_keeps_it() {
        let idle = Duration::from_secs(60);
        let table = sessions(10, idle);
        let start = Instant::now();
        table.bind(b"s1", owner("alice"), start).unwrap();
        table.bind(b"s2", owner("alice"), start).unwrap();
        // Used just before the timeout: remembered from then on.
        let later = start + idle;
        assert!(matches!(
            table.check(b"s1", Some(&owner("alice")), later),
            Verdict::Owner
        ));
        let past = start + idle + Duration::from_secs(1);
        assert!(matches!(
            table.check(b"s1", Some(&owner("bob")), past),
            Verdict::Stranger
        ));
        assert!(matches!(
            table.check(b"s2", Some(&owner("bob")), past),
            Verdict::Unbound
        ));
        assert_eq!(table.lock().len(), 1);
    }

    #[test]
    fn a_full_table_forgets_idle_sessions_first_then_refuses() {
        let idle = Duration::from_secs(60);
        let table = sessions(2, idle);
        let start = Instant::now();
        table.bind(b"s1", owner("alice"), start).unwrap();
        table
            .bind(b"s2", owner("alice"), start + Duration::from_secs(30))
            .unwrap();
        // Full, none idle: refused until s1 is idle past the timeout.
        let wait = table
            .bind(b"s3", owner("bob"), start + Duration::from_secs(40))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(20));
        assert!(matches!(
            table.check(b"s3", Some(&owner("bob")), start),
            Verdict::Unbound
        ));
        // s1 idle past the timeout makes room.
        let later = start + idle + Duration::from_secs(1);
        table.bind(b"s3", owner("bob"), later).unwrap();
        assert!(matches!(
            table.check(b"s3", Some(&owner("bob")), later),
            Verdict::Owner
        ));
        assert!(matches!(
            table.check(b"s2", Some(&owner("bob")), later),
            Verdict::Stranger
        ));
        table.forget(b"s2");
        assert!(matches!(
            table.check(b"s2", Some(&owner("bob")), later),
            Verdict::Unbound
        ));
    }
}
