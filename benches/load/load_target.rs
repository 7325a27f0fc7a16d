//! The server that the load harness (`benches/load/run.py`, see `BENCHMARKS.md`) loads:
//! one axum route, `GET /me`, answering the verified `sub` as text, behind a
//! [`JwtLayer`], or without any authentication for the baseline. Not an example to copy
//! from; it exists so the harness measures the layer and nothing else.
//!
//! Environment:
//! - `LOAD_AUTH`: `none` (the baseline: the same router and a handler answering a fixed
//!   `sub`, no layer), `HS256`, `RS256`, `ES256` or `EdDSA` (default `none`); or
//!   `jsonwebtoken-HS256` (and the other three): no jwt-tower on the request path but a
//!   hand-written axum middleware calling `jsonwebtoken::decode`, the reference
//!   point, so that it is measured in the same run; or `floor-HS256` / `floor-RS256`: the
//!   crypto floor, only the bare signature check of the token, in a tower layer (see
//!   [`Floor`]); or `floor-from_fn-HS256` / `floor-from_fn-RS256`: the same check in an
//!   axum `from_fn` middleware, as the floor ran until `782fa9c`; or `empty-layer`: the
//!   floor without its check, a tower layer placed as `JwtLayer` is that only finds the
//!   token (see [`find_token`]) and never refuses, what any such layer costs before it
//!   does any work; or `empty-middleware`: the hand-written middleware without its
//!   `jsonwebtoken::decode`, an axum `from_fn` middleware that only finds the token (a
//!   401 without one); or `dpop-ES256` (and the other three): jwt-tower with DPoP
//!   required, the token bound to an ES256 DPoP key, each request sent with its own
//!   proof (see `LOAD_DPOP_PROOFS_FILE`), replays refused through a `MemoryStore`; or
//!   `introspect`: jwt-tower with introspection alone, sent an opaque token (43 random
//!   base64url characters, as `auth_server` issues) that an introspection endpoint in
//!   this process (axum, on another loopback port) says is active with the claims the
//!   JWT modes' tokens carry; the first request introspects it, every later one is
//!   answered from the introspection cache (its TTL outlasts any run);
//! - `LOAD_DPOP_PROOFS_FILE`: with `dpop-*`, where to write the proofs, one a line
//!   (`LOAD_DPOP_PROOFS` of them, default 3000, each for `GET http://load.test/me`, the
//!   checker's public URL, with a fresh `jti`): as many whatever the run's length, so
//!   that making them costs every run the same;
//! - `LOAD_CACHE`: `1` to turn on the verifier's verified-token cache (default `0`), with
//!   jwt-tower's modes only;
//! - `LOAD_SPIN_NS`: with `LOAD_AUTH=none` only, the baseline's handler first busy-waits
//!   this many nanoseconds (default 0): a control, showing what any fixed amount of work
//!   per request (say, as long as one HS256 verify) costs in req/s on this machine;
//! - `LOAD_THREADS`: tokio worker threads (default: the CPUs this process may run on);
//! - `BIND`: listen address (default `127.0.0.1:0`).
//!
//! On stdout: `listening on ADDR`, then `token JWT` (valid for an hour, signed with the
//! test keys of `jwt-tower/tests/keys`) and `bad_token JWT` (the same token with a wrong
//! signature); nothing else. With `introspect`, `token` is the opaque token and
//! `bad_token` another one the endpoint says is inactive. With `LOAD_AUTH=none`, `empty-layer` and `empty-middleware`
//! the tokens are HS256 ones, never verified (`bad_token` gets a 200 too).
#![forbid(unsafe_code)]

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use aws_lc_rs::{hmac, signature};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header::AUTHORIZATION};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router, routing::get};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, DecodingKeyKind, Validation};
use jwt_axum::CurrentIdentity;
use jwt_tower::auth::Authenticator;
use jwt_tower::dpop::{DpopChecker, DpopKey, DpopMode};
use jwt_tower::issue::{SigningKey, TokenIssuer};
use jwt_tower::{Algorithm, JwtLayer, RegisteredClaims, Verifier};
use tower::util::MapRequestLayer;
use tower::{Layer, Service};

const HMAC_SECRET: &[u8; 64] = b"load-target-hmac-secret-0123456789abcdef0123456789abcdef01234567";
const RSA_PRIVATE: &str = include_str!("../../jwt-tower/tests/keys/rsa2048-private.pem");
const P256_PRIVATE: &str = include_str!("../../jwt-tower/tests/keys/p256-private.pem");
const ED25519_PRIVATE: &str = include_str!("../../jwt-tower/tests/keys/ed25519-private.pem");
const RSA_PUBLIC: &str = include_str!("../../jwt-tower/tests/keys/rsa2048-public.pem");
const P256_PUBLIC: &str = include_str!("../../jwt-tower/tests/keys/p256-public.pem");
const ED25519_PUBLIC: &str = include_str!("../../jwt-tower/tests/keys/ed25519-public.pem");
const ISSUER: &str = "https://auth.load.test";
const AUDIENCE: &str = "load-api";
const SUBJECT: &str = "load-user-7f3a9c2e";
/// Entries in the verified-token cache when `LOAD_CACHE=1`.
const CACHE_CAPACITY: usize = 10_000;

async fn me(CurrentIdentity(identity): CurrentIdentity) -> String {
    identity.subject().unwrap_or_default().to_owned()
}

async fn me_baseline() -> String {
    SUBJECT.to_owned()
}

/// The control of `LOAD_SPIN_NS`: the baseline after `spin` of busy-waiting. A handler
/// of its own, so that the baseline's stays exactly the plain one.
async fn me_spinning(spin: Duration) -> String {
    let start = Instant::now();
    while start.elapsed() < spin {
        std::hint::spin_loop();
    }
    me_baseline().await
}

/// The hand-written middleware of `LOAD_AUTH=jsonwebtoken-*`, as an application would
/// write it without jwt-tower: `Bearer` token, `jsonwebtoken::decode`, claims in the
/// request's extensions, a bare 401 otherwise.
#[derive(Clone)]
struct Decoder {
    key: Arc<DecodingKey>,
    validation: Arc<Validation>,
}

#[derive(Clone, serde::Deserialize)]
struct Subject {
    sub: String,
}

/// The token of `Authorization: Bearer <token>`, as the modes without jwt-tower (the
/// hand-written middleware, the floors, the empty layer and middleware) read it: one
/// exact spelling, nothing more.
fn bearer(req: &Request) -> Option<&str> {
    req.headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

async fn jsonwebtoken_auth(
    State(decoder): State<Decoder>,
    mut req: Request,
    next: Next,
) -> Response {
    match bearer(&req)
        .map(|t| jsonwebtoken::decode::<Subject>(t, &decoder.key, &decoder.validation))
    {
        Some(Ok(data)) => {
            req.extensions_mut().insert(data.claims);
            next.run(req).await
        }
        _ => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn me_jsonwebtoken(Extension(subject): Extension<Subject>) -> String {
    subject.sub
}

/// `LOAD_AUTH=floor-HS256` / `floor-RS256`: the crypto floor through the same server. The
/// Bearer token's signature is checked over its signing input by aws-lc-rs with the key
/// parsed once, as the micro-benchmark's floor does, and nothing else is done: no header,
/// no claims, no times, no `kid`. A verifier without a cache does this and more, so the
/// layer's rows are read against it. Then the baseline's handler answers; a bare 401
/// otherwise. It runs in a tower layer of its own ([`FloorService`]), placed and shaped
/// as `JwtLayer` is, since an axum `from_fn` middleware adds a boxed future and a `Next`
/// per request (`floor-from_fn-*` runs the same check in one, [`floor_auth`]).
#[derive(Clone)]
struct Floor(Arc<FloorKey>);

enum FloorKey {
    // Boxed as the micro-benchmark's floor is (an HMAC key holds two hash states).
    Hmac(Box<hmac::Key>),
    Public(signature::ParsedPublicKey),
}

impl Floor {
    fn new(alg: Algorithm) -> Result<Self, Box<dyn std::error::Error>> {
        let key = match alg {
            Algorithm::HS256 => {
                FloorKey::Hmac(Box::new(hmac::Key::new(hmac::HMAC_SHA256, HMAC_SECRET)))
            }
            Algorithm::RS256 => {
                let key = DecodingKey::from_rsa_pem(RSA_PUBLIC.as_bytes())?;
                let DecodingKeyKind::SecretOrDer(der) = key.kind() else {
                    return Err("a PEM key decodes to DER".into());
                };
                FloorKey::Public(
                    signature::ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, der)
                        .map_err(|e| format!("the RSA test key: {e}"))?,
                )
            }
            other => {
                return Err(format!(
                    "configuration error: LOAD_AUTH: no floor for {other:?} (the floors are HS256 and RS256)"
                )
                .into());
            }
        };
        Ok(Self(Arc::new(key)))
    }

    /// Whether `req` carries a Bearer token whose signature verifies.
    fn admits(&self, req: &Request) -> bool {
        bearer(req).is_some_and(|token| self.verifies(token))
    }

    /// Whether `token`'s signature verifies: the last part, base64url-decoded onto the
    /// stack, over everything before the last dot.
    fn verifies(&self, token: &str) -> bool {
        let Some((signing_input, encoded)) = token.rsplit_once('.') else {
            return false;
        };
        let mut decoded = [0u8; 512];
        let Ok(len) = URL_SAFE_NO_PAD.decode_slice(encoded, &mut decoded) else {
            return false;
        };
        let (message, tag) = (signing_input.as_bytes(), &decoded[..len]);
        match &*self.0 {
            FloorKey::Hmac(key) => hmac::verify(key, message, tag).is_ok(),
            FloorKey::Public(key) => key.verify_sig(message, tag).is_ok(),
        }
    }
}

impl<S> Layer<S> for Floor {
    type Service = FloorService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        FloorService {
            inner,
            floor: self.clone(),
        }
    }
}

/// The floor's service: the inner service's future when the signature verifies, a ready
/// 401 otherwise.
#[derive(Clone)]
struct FloorService<S> {
    inner: S,
    floor: Floor,
}

impl<S> Service<Request> for FloorService<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Unpin,
{
    type Response = Response;
    type Error = Infallible;
    type Future = FloorFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        if self.floor.admits(&req) {
            FloorFuture::Inner(self.inner.call(req))
        } else {
            FloorFuture::Rejected(Some(StatusCode::UNAUTHORIZED.into_response()))
        }
    }
}

/// [`FloorService`]'s future. The inner future is `Unpin` (axum's route futures are), so
/// it is polled in place without pin projection.
enum FloorFuture<F> {
    Inner(F),
    Rejected(Option<Response>),
}

impl<F> Future for FloorFuture<F>
where
    F: Future<Output = Result<Response, Infallible>> + Unpin,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Self::Inner(future) => Pin::new(future).poll(cx),
            Self::Rejected(response) => {
                Poll::Ready(Ok(response.take().expect("polled after completion")))
            }
        }
    }
}

/// `LOAD_AUTH=floor-from_fn-HS256` / `floor-from_fn-RS256`: the floor's check in an axum
/// `from_fn` middleware, as the floor rows ran until `782fa9c`.
async fn floor_auth(State(floor): State<Floor>, req: Request, next: Next) -> Response {
    if floor.admits(&req) {
        next.run(req).await
    } else {
        StatusCode::UNAUTHORIZED.into_response()
    }
}

/// An axum `from_fn` middleware that only finds the Bearer token, then calls the handler:
/// the hand-written middleware's shape without its `jsonwebtoken::decode`. Against the
/// baseline, what such a middleware costs before it does any work.
async fn empty_middleware(req: Request, next: Next) -> Response {
    if bearer(&req).is_some() {
        next.run(req).await
    } else {
        StatusCode::UNAUTHORIZED.into_response()
    }
}

/// The request, after finding its Bearer token and doing nothing with it: the whole of
/// the `empty-layer` mode's layer (`tower::util::MapRequestLayer`, a tower layer placed
/// where `JwtLayer` is, whose service calls the inner one and returns its future as is).
fn find_token(req: Request) -> Request {
    std::hint::black_box(bearer(&req));
    req
}

fn decoder(alg: Algorithm) -> Result<Decoder, jsonwebtoken::errors::Error> {
    let (key, alg) = match alg {
        Algorithm::HS256 => (
            DecodingKey::from_secret(HMAC_SECRET).unwrap(),
            jsonwebtoken::Algorithm::HS256,
        ),
        Algorithm::RS256 => (
            DecodingKey::from_rsa_pem(RSA_PUBLIC.as_bytes())?,
            jsonwebtoken::Algorithm::RS256,
        ),
        Algorithm::ES256 => (
            DecodingKey::from_ec_pem(P256_PUBLIC.as_bytes())?,
            jsonwebtoken::Algorithm::ES256,
        ),
        _ => (
            DecodingKey::from_ed_pem(ED25519_PUBLIC.as_bytes())?,
            jsonwebtoken::Algorithm::EdDSA,
        ),
    };
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    // As `JwtLayer` (and the peers in `benches/peers`): `nbf` checked too.
    validation.validate_nbf = true;
    validation.leeway = 30;
    Ok(Decoder {
        key: Arc::new(key),
        validation: Arc::new(validation),
    })
}

/// What `LOAD_AUTH` puts on the request path (see the module's docs), with the
/// algorithm named where the mode has one (checked when its keys are made).
enum Mode<'a> {
    Baseline,
    JwtTower(&'a str),
    HandWritten(&'a str),
    Floor { alg: &'a str, from_fn: bool },
    EmptyLayer,
    EmptyMiddleware,
    Dpop(&'a str),
    Introspect,
}

impl<'a> Mode<'a> {
    fn parse(auth: &'a str) -> Result<Self, String> {
        let mode = if auth == "none" {
            Self::Baseline
        } else if auth == "introspect" {
            Self::Introspect
        } else if auth == "empty-layer" {
            Self::EmptyLayer
        } else if auth == "empty-middleware" {
            Self::EmptyMiddleware
        } else if let Some(alg) = auth.strip_prefix("dpop-") {
            Self::Dpop(alg)
        } else if let Some(alg) = auth.strip_prefix("jsonwebtoken-") {
            Self::HandWritten(alg)
        } else if let Some(alg) = auth.strip_prefix("floor-from_fn-") {
            Self::Floor { alg, from_fn: true }
        } else if let Some(alg) = auth.strip_prefix("floor-") {
            Self::Floor {
                alg,
                from_fn: false,
            }
        } else {
            Self::JwtTower(auth)
        };
        match mode {
            Self::HandWritten("none") | Self::Floor { alg: "none", .. } | Self::Dpop("none") => {
                Err(format!(
                    "configuration error: LOAD_AUTH: {auth} is not a mode"
                ))
            }
            mode => Ok(mode),
        }
    }

    /// The algorithm of the tokens it is sent (HS256 for the modes that verify none).
    fn algorithm(&self) -> &'a str {
        match *self {
            Self::JwtTower(alg)
            | Self::HandWritten(alg)
            | Self::Floor { alg, .. }
            | Self::Dpop(alg) => alg,
            Self::Baseline | Self::EmptyLayer | Self::EmptyMiddleware | Self::Introspect => "HS256",
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn signing_key(auth: &str) -> Result<(Algorithm, SigningKey), String> {
    let (alg, key) = match auth {
        "none" | "HS256" => (
            Algorithm::HS256,
            SigningKey::hmac(Algorithm::HS256, HMAC_SECRET),
        ),
        "RS256" => (
            Algorithm::RS256,
            SigningKey::from_pem(Algorithm::RS256, RSA_PRIVATE),
        ),
        "ES256" => (
            Algorithm::ES256,
            SigningKey::from_pem(Algorithm::ES256, P256_PRIVATE),
        ),
        "EdDSA" => (
            Algorithm::EdDSA,
            SigningKey::from_pem(Algorithm::EdDSA, ED25519_PRIVATE),
        ),
        other => {
            return Err(format!(
                "configuration error: LOAD_AUTH: {other:?} is not a mode: none, HS256, RS256, ES256 or EdDSA, \
                 jsonwebtoken- or floor- or floor-from_fn- and one of those four, empty-layer or \
                 empty-middleware"
            ));
        }
    };
    Ok((alg, key.map_err(|e| e.to_string())?.with_kid("load-key")))
}

/// The public URL of `dpop-*` modes, which every proof's `htu` names.
const DPOP_PUBLIC_URL: &str = "http://load.test";

/// With a `dpop-*` mode, writes `LOAD_DPOP_PROOFS` proofs (default 3000) to
/// `LOAD_DPOP_PROOFS_FILE`, one a line.
fn write_proofs(key: &DpopKey, token: &str) -> Result<(), Box<dyn std::error::Error>> {
    let path = env("LOAD_DPOP_PROOFS_FILE")
        .ok_or("configuration error: LOAD_DPOP_PROOFS_FILE is required with dpop-*")?;
    let count = match env("LOAD_DPOP_PROOFS") {
        None => 3000,
        Some(n) => n
            .trim()
            .parse::<usize>()
            .map_err(|_| format!("configuration error: LOAD_DPOP_PROOFS: {n:?} is not a count"))?,
    };
    let htu = format!("{DPOP_PUBLIC_URL}/me");
    let mut text = String::new();
    for _ in 0..count {
        text.push_str(&key.proof("GET", &htu, Some(token), None)?);
        text.push('\n');
    }
    std::fs::write(&path, text)
        .map_err(|e| format!("configuration error: LOAD_DPOP_PROOFS_FILE: {path:?}: {e}"))?;
    Ok(())
}

/// `token` with the first character of its signature changed (a full 6 bits of the
/// signature, where the last character may hold padding bits).
fn with_bad_signature(token: &str) -> String {
    let at = token.rfind('.').map_or(0, |dot| dot + 1);
    let mut bad = token.to_owned();
    let replacement = if bad[at..].starts_with('A') { "B" } else { "A" };
    bad.replace_range(at..=at, replacement);
    bad
}

/// `LOAD_AUTH=introspect`: the opaque token, and the claims the introspection endpoint
/// answers for it (those of the JWT modes' tokens).
#[derive(Clone)]
struct Introspected {
    token: Arc<str>,
    claims: Arc<serde_json::Value>,
}

impl Introspected {
    fn new() -> Result<Self, Box<dyn std::error::Error>> {
        let mut random = [0u8; 32];
        aws_lc_rs::rand::fill(&mut random).map_err(|_| "no random bytes")?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        Ok(Self {
            token: URL_SAFE_NO_PAD.encode(random).into(),
            claims: Arc::new(serde_json::json!({
                "active": true, "iss": ISSUER, "aud": AUDIENCE, "sub": SUBJECT,
                "scope": "orders:read profile", "token_type": "Bearer",
                "iat": now, "nbf": now, "exp": now + 3600,
            })),
        })
    }
}

/// The introspection endpoint: active for the one opaque token, inactive otherwise.
async fn introspection_endpoint(
    State(introspected): State<Introspected>,
    axum::Form(form): axum::Form<std::collections::HashMap<String, String>>,
) -> axum::Json<serde_json::Value> {
    axum::Json(
        if form.get("token").map(String::as_str) == Some(&*introspected.token) {
            (*introspected.claims).clone()
        } else {
            serde_json::json!({"active": false})
        },
    )
}

fn main() {
    if let Err(error) = run() {
        eprintln!("{error}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let auth = env("LOAD_AUTH").unwrap_or_else(|| "none".to_owned());
    let cache = match env("LOAD_CACHE").as_deref() {
        None | Some("0") => false,
        Some("1") => true,
        Some(other) => {
            return Err(format!("configuration error: LOAD_CACHE: {other:?} is not 0 or 1").into());
        }
    };
    let spin = match env("LOAD_SPIN_NS") {
        None => Duration::ZERO,
        Some(ns) => Duration::from_nanos(ns.trim().parse::<u64>().map_err(|_| {
            format!("configuration error: LOAD_SPIN_NS: {ns:?} is not a number of nanoseconds")
        })?),
    };
    let mode = Mode::parse(&auth)?;
    if !matches!(mode, Mode::Baseline) && !spin.is_zero() {
        return Err("configuration error: LOAD_SPIN_NS applies to LOAD_AUTH=none only".into());
    }
    let bind = env("BIND").unwrap_or_else(|| "127.0.0.1:0".to_owned());

    // The cache is jwt-tower's: every other mode has none, and must not seem to measure
    // one.
    if cache && !matches!(mode, Mode::JwtTower(_)) {
        return Err(format!(
            "configuration error: LOAD_CACHE=1 applies to jwt-tower's modes only, not {auth}"
        )
        .into());
    }
    let (alg, key) = signing_key(mode.algorithm())?;
    let issuer = TokenIssuer::builder(ISSUER, key)
        .audience(AUDIENCE)
        .ttl(Duration::from_secs(3600))
        .build();
    let dpop_key = DpopKey::generate(Algorithm::ES256)?;
    let mut extra = serde_json::json!({"scope": "orders:read profile"});
    if matches!(mode, Mode::Dpop(_)) {
        extra["cnf"] = serde_json::json!({"jkt": dpop_key.thumbprint()});
    }
    let token = issuer.issue(SUBJECT, extra)?;
    if matches!(mode, Mode::Dpop(_)) {
        write_proofs(&dpop_key, &token.token)?;
    }

    // `introspect`: the endpoint's listener, bound now (its URL goes into the verifier),
    // served once the runtime runs.
    let introspection = match mode {
        Mode::Introspect => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
            listener.set_nonblocking(true)?;
            Some((listener, Introspected::new()?))
        }
        _ => None,
    };

    let baseline = Router::new().route("/me", get(me_baseline));
    let app =
        match mode {
            Mode::Baseline if !spin.is_zero() => {
                Router::new().route("/me", get(move || me_spinning(spin)))
            }
            Mode::Baseline => baseline,
            Mode::EmptyLayer => baseline.layer(MapRequestLayer::new(find_token)),
            Mode::EmptyMiddleware => baseline.layer(middleware::from_fn(empty_middleware)),
            Mode::Floor { from_fn: true, .. } => {
                baseline.layer(middleware::from_fn_with_state(Floor::new(alg)?, floor_auth))
            }
            Mode::Floor { from_fn: false, .. } => baseline.layer(Floor::new(alg)?),
            Mode::HandWritten(_) => Router::new().route("/me", get(me_jsonwebtoken)).layer(
                middleware::from_fn_with_state(decoder(alg)?, jsonwebtoken_auth),
            ),
            Mode::Dpop(_) => {
                let verifier = Verifier::<RegisteredClaims>::builder(issuer.keys())
                    .algorithms([alg])
                    .issuer(ISSUER)
                    .audience(AUDIENCE)
                    .build()?;
                // The proofs are made at start-up: a window long enough for any run.
                let checker = DpopChecker::builder(DPOP_PUBLIC_URL)
                    .mode(DpopMode::Required)
                    .max_age(Duration::from_secs(3600))
                    .build()?;
                Router::new()
                    .route("/me", get(me))
                    .layer(JwtLayer::from_authenticator(
                        Authenticator::new(verifier).dpop(checker),
                    ))
            }
            Mode::Introspect => {
                let (listener, _) = introspection.as_ref().ok_or("no introspection endpoint")?;
                let url = format!("http://{}/introspect", listener.local_addr()?);
                let introspector =
                    jwt_tower::introspect::Introspector::builder(url, "load-target", "secret")
                        .cache_ttl(Duration::from_secs(3600))
                        .build()?;
                let verifier = Verifier::<RegisteredClaims>::introspecting(introspector)
                    .issuer(ISSUER)
                    .audience(AUDIENCE)
                    .build()?;
                Router::new()
                    .route("/me", get(me))
                    .layer(JwtLayer::new(verifier))
            }
            Mode::JwtTower(_) => {
                let mut builder = Verifier::<RegisteredClaims>::builder(issuer.keys())
                    .algorithms([alg])
                    .issuer(ISSUER)
                    .audience(AUDIENCE);
                if cache {
                    builder = builder.cache(CACHE_CAPACITY);
                }
                Router::new()
                    .route("/me", get(me))
                    .layer(JwtLayer::new(builder.build()?))
            }
        };

    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(threads) = env("LOAD_THREADS") {
        match threads.trim().parse::<usize>() {
            Ok(n) if n > 0 => {
                runtime.worker_threads(n);
            }
            _ => {
                return Err(format!(
                    "configuration error: LOAD_THREADS: {threads:?} is not a positive number"
                )
                .into());
            }
        }
    }
    runtime.build()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&bind)
            .await
            .map_err(|e| format!("configuration error: BIND: cannot listen on {bind:?}: {e}"))?;
        println!("listening on {}", listener.local_addr()?);
        match introspection {
            Some((endpoint, introspected)) => {
                let endpoint = tokio::net::TcpListener::from_std(endpoint)?;
                let token = introspected.token.clone();
                let app = Router::new()
                    .route("/introspect", axum::routing::post(introspection_endpoint))
                    .with_state(introspected);
                tokio::spawn(async move { axum::serve(endpoint, app).await });
                println!("token {token}");
                // Another random token: one the endpoint does not know.
                println!("bad_token {}", Introspected::new()?.token);
            }
            None => {
                println!("token {}", token.token);
                println!("bad_token {}", with_bad_signature(&token.token));
            }
        }
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        Ok(())
    })
}
