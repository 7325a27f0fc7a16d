//! `cargo run --example gateway`: an axum HTTP gateway in front of the gRPC
//! `identity.v1.Identity` service, configured only by environment: the `JWT_*` contract of
//! `resource_server` (see `examples/common/jwt_env.rs`), `BIND` (default
//! `127.0.0.1:8080`), `UPSTREAM_GRPC_URL` (required) and `QUOTA_PER_SECOND` (optional).
//!
//! - `GET /whoami`: verifies the caller, calls `WhoAmI` upstream *as the caller* (the
//!   client layer forwards its token, to `UPSTREAM_GRPC_URL`'s origin only; the handler
//!   passes nothing), and answers
//!   `{"gateway":{"sub":…},"upstream":{"subject":…,"issuer":…,"scopes":[…]}}`, with
//!   the upstream's `"audiences"` and `"actors"` (its token's `aud`, and its `act` chain's
//!   `sub`s, current actor first) when it saw any.
//!   Upstream `UNAUTHENTICATED` is 401, `PERMISSION_DENIED` 403, anything else
//!   (unreachable, unavailable, a refused token exchange, …) 502: never 500.
//! - `GET /relay`: the same through the upstream's `Relay`, which asks its own
//!   `DOWNSTREAM_URL`: three hops, the caller's identity carried all the way.
//! - `EXCHANGE_TOKEN_URL`, `EXCHANGE_CLIENT_ID`, `EXCHANGE_CLIENT_SECRET`,
//!   `EXCHANGE_AUDIENCE`, `EXCHANGE_SCOPE` (optional): the upstream calls carry the
//!   caller's token exchanged (RFC 8693) for one for `EXCHANGE_AUDIENCE`, naming this
//!   gateway's client as its actor (`act`), instead of the caller's own (see
//!   `examples/common/exchange_env.rs`). A refused exchange is 502, and nothing is sent
//!   upstream.
//! - `QUOTA_PER_SECOND=N`: at most N requests per second per verified `sub` (a GCRA
//!   limiter from `governor`, bursts of N); over it, 429 with `Retry-After`. Unset or 0: off.
//! - `GET /health`: open.
#![forbid(unsafe_code)]

#[path = "common/cli.rs"]
mod cli;
#[path = "common/exchange_env.rs"]
mod exchange_env;
#[path = "common/identity_proto.rs"]
mod identity_proto;
#[path = "common/jwt_env.rs"]
mod jwt_env;
#[path = "common/retry_after.rs"]
mod retry_after;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, routing::get};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use identity_proto::identity_client::IdentityClient;
use identity_proto::{WhoAmIRequest, WhoAmIResponse};
use jwt_axum::CurrentIdentity;
use jwt_tower::propagate::PropagateService;
use jwt_tower::{Identity, JwtLayer};
use serde_json::{Value, json};
use tonic::transport::{Channel, Endpoint};
use tower::Layer;

type Upstream = IdentityClient<PropagateService<Channel>>;

#[derive(Clone)]
struct AppState {
    upstream: Upstream,
}

/// Why the gateway answers with an error: each renders as a status and a JSON body
/// `{"error", "error_description"}`.
#[derive(Debug)]
enum GatewayError {
    /// The upstream did not accept the forwarded credentials (`UNAUTHENTICATED`): 401.
    UpstreamUnauthenticated,
    /// The upstream refused the caller (`PERMISSION_DENIED`): 403.
    UpstreamDenied,
    /// The upstream is unreachable or failed otherwise: 502, never 500.
    UpstreamFailed,
    /// The caller's quota is spent: 429 with `Retry-After`.
    RateLimited { retry_after: u64 },
}

impl From<tonic::Status> for GatewayError {
    fn from(status: tonic::Status) -> Self {
        tracing::warn!(code = ?status.code(), message = status.message(), "upstream refused");
        match status.code() {
            tonic::Code::Unauthenticated => Self::UpstreamUnauthenticated,
            tonic::Code::PermissionDenied => Self::UpstreamDenied,
            _ => Self::UpstreamFailed,
        }
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let (status, code, description) = match self {
            Self::UpstreamUnauthenticated => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the upstream service did not accept the credentials",
            ),
            Self::UpstreamDenied => (
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                "the upstream service refused the caller",
            ),
            Self::UpstreamFailed => (
                StatusCode::BAD_GATEWAY,
                "bad_gateway",
                "the upstream service is unreachable or failed",
            ),
            Self::RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests for this subject",
            ),
        };
        let body = Json(json!({ "error": code, "error_description": description }));
        let mut response = (status, body).into_response();
        if let Self::RateLimited { retry_after } = self {
            retry_after::insert(response.headers_mut(), retry_after);
        }
        response
    }
}

async fn whoami(
    State(state): State<AppState>,
    CurrentIdentity(caller): CurrentIdentity,
) -> Result<Json<Value>, GatewayError> {
    let reply = state.upstream.clone().who_am_i(WhoAmIRequest {}).await?;
    Ok(answer(&caller, reply.into_inner()))
}

/// The same, through the upstream's `Relay` (which asks its own downstream): three hops.
async fn relay(
    State(state): State<AppState>,
    CurrentIdentity(caller): CurrentIdentity,
) -> Result<Json<Value>, GatewayError> {
    let reply = state.upstream.clone().relay(WhoAmIRequest {}).await?;
    Ok(answer(&caller, reply.into_inner()))
}

/// Who the gateway verified, and who the upstream saw.
fn answer(caller: &Identity, upstream: WhoAmIResponse) -> Json<Value> {
    let mut seen = json!({
        "subject": upstream.subject,
        "issuer": upstream.issuer,
        "scopes": upstream.scopes,
    });
    for (name, list) in [
        ("audiences", upstream.audiences),
        ("actors", upstream.actors),
    ] {
        if !list.is_empty() {
            seen[name] = json!(list);
        }
    }
    Json(json!({
        "gateway": { "sub": caller.subject() },
        "upstream": seen,
    }))
}

/// Per-subject quota, after the layer: only verified callers count, keyed on `sub`.
async fn quota(
    State(limiter): State<Arc<DefaultKeyedRateLimiter<String>>>,
    CurrentIdentity(caller): CurrentIdentity,
    request: Request,
    next: Next,
) -> Result<Response, GatewayError> {
    let key = caller.subject().unwrap_or_default().to_owned();
    match limiter.check_key(&key) {
        Ok(()) => Ok(next.run(request).await),
        Err(not_until) => Err(GatewayError::RateLimited {
            retry_after: retry_after::seconds(&not_until),
        }),
    }
}

#[tokio::main]
async fn main() {
    cli::run_and_exit(run()).await;
}

fn upstream() -> Result<Upstream, String> {
    let problem = |p: String| format!("configuration error: UPSTREAM_GRPC_URL: {p}");
    let url = jwt_env::var("UPSTREAM_GRPC_URL").ok_or_else(|| {
        problem("required: the gRPC identity service, e.g. http://127.0.0.1:50051".into())
    })?;
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(problem(format!("{url:?} is not an http(s) URL")));
    }
    let endpoint = Endpoint::from_shared(url.clone())
        .map_err(|e| problem(format!("{url:?}: {e}")))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30));
    // The caller's token (or, configured, the caller's token exchanged for the
    // upstream's) goes upstream with every call made while handling its request, to the
    // upstream's origin only; a call made outside a request fails, unsent.
    let exchange = exchange_env::from_env().map_err(|e| e.to_string())?;
    let channel = exchange_env::client_layer(exchange, endpoint.uri(), "UPSTREAM_GRPC_URL")?
        .layer(endpoint.connect_lazy());
    Ok(IdentityClient::new(channel))
}

fn quota_per_second() -> Result<Option<NonZeroU32>, String> {
    match jwt_env::var("QUOTA_PER_SECOND") {
        None => Ok(None),
        Some(v) => match v.trim().parse::<u32>() {
            Ok(n) => Ok(NonZeroU32::new(n)),
            Err(_) => Err(format!(
                "configuration error: QUOTA_PER_SECOND: {v:?} is not a whole number of requests"
            )),
        },
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let bind = jwt_env::bind("127.0.0.1:8080");
    let verifier = jwt_env::from_env()?;
    let upstream = upstream()?;
    let quota_per_second = quota_per_second()?;

    let mut api = Router::new()
        .route("/whoami", get(whoami))
        .route("/relay", get(relay))
        .with_state(AppState { upstream });
    if let Some(n) = quota_per_second {
        let limiter = Arc::new(RateLimiter::keyed(Quota::per_second(n)));
        // Forget subjects idle long enough to be back at a full burst.
        let sweeper = Arc::clone(&limiter);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                sweeper.retain_recent();
                sweeper.shrink_to_fit();
            }
        });
        api = api.layer(middleware::from_fn_with_state(limiter, quota));
    }
    let app = api
        .layer(JwtLayer::new(verifier))
        .route("/health", get(|| async { "ok" }));

    cli::serve_http(&bind, app, "gateway").await
}
