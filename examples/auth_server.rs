//! `cargo run --example auth_server`: an authorization server. Users log in with a
//! password and get a short-lived access token plus a rotating refresh token; logout
//! revokes; keys rotate on demand and are published as a JWKS.
//!
//! Environment: `BIND` (default `127.0.0.1:4000`), `JWT_ISSUER` (default
//! `http://$BIND`), `JWT_AUDIENCE` (comma-separated, default `api`), `JWT_SIGNING_ALG`
//! (default ES256; a key is generated at start unless `JWT_SIGNING_KEY_PEM_FILE`, with
//! optional `JWT_KID`), `ACCESS_TTL_SECONDS` (default 900), `REDIS_URL` (share refresh
//! families and revocations with other instances; in memory without it), `REFRESH_COOKIE` (`off` for
//! non-browser clients), `DEMO_USERS` (`name:password:scope scope;…`; default alice /
//! alice-password with scope `read`, bob / bob-password with `read admin`).
//!
//! Refresh tokens: with the cookie on (the default), the refresh token is never in a
//! response body, only in two `HttpOnly; Secure; SameSite=Strict` cookies named
//! `refresh_token`, one with `Path=/refresh` and one with `Path=/logout`, so that a
//! browser's logout ends the login; a request using the cookie must be
//! `Content-Type: application/json` and not `Sec-Fetch-Site: cross-site`/`same-site`. With
//! `REFRESH_COOKIE=off`, the refresh token is in the body and goes back in the body.
//!
//! Login limits: `LOGIN_ATTEMPTS_PER_USER` (default 5) and `LOGIN_ATTEMPTS_PER_ADDRESS`
//! (default 20, IPv6 per /64) per `LOGIN_WINDOW_SECONDS` (default 60), then 429 with
//! `Retry-After`. The address is the TCP peer's, unless `LOGIN_CLIENT_ADDRESS_HEADER`
//! names a header that a reverse proxy in front sets or appends to (`x-forwarded-for`,
//! `x-real-ip`): then the last address in it (set it only behind such a proxy, or clients
//! choose their own address). Each instance of a fleet counts on its own.
//! `LOGIN_HASH_CONCURRENCY` password hashes at once (default: the number of CPUs; each
//! argon2 hash holds 19 MiB), with up to `LOGIN_HASH_QUEUE` (default 64) more logins
//! waiting, then 503 with `Retry-After`. Every login attempt is padded to the time of the
//! slowest stored hash, and a bcrypt or non-default argon2 hash is replaced by a default
//! argon2id hash at the user's first successful login (in memory only; `GET
//! /password-hashes`, scope `admin`, lists each user's scheme).
//!
//! Standard OAuth, for OAuth client libraries and MCP clients: `GET
//! /.well-known/oauth-authorization-server` (RFC 8414, issuer `JWT_ISSUER`), `GET`/`POST
//! /authorize` (authorization code with PKCE S256, a login form for `DEMO_USERS`),
//! `POST /token` (`authorization_code`, `refresh_token`, `client_credentials`, and RFC
//! 8693 token exchange, `urn:ietf:params:oauth:grant-type:token-exchange`), `POST
//! /register` (RFC 7591, public clients; counted against `LOGIN_ATTEMPTS_PER_ADDRESS`,
//! 429 past it; a registered client is forgotten after 30 days unused), `POST
//! /introspect` (RFC 7662, confidential clients: is a token active, and what it stands
//! for; `common/oauth_introspect.rs`), `POST /revoke` (RFC 7009: a client revokes its
//! own tokens or those of `/login`; `common/oauth_revoke.rs`).
//! `OAUTH_CLIENTS_FILE`: pre-registered clients, a JSON array of `{"client_id",
//! "client_secret" (absent for public clients, else at least 32 bytes), "scope",
//! "redirect_uris", "grant_types", "exchange_audiences"}`, kept in this process only (not
//! in Redis), none named like a `DEMO_USERS` user. `OAUTH_RESOURCES`: the comma-separated
//! `resource` values (RFC 8707) tokens may be requested for, each becoming the token's
//! `aud` (default the `JWT_AUDIENCE` values; without `resource`, the first
//! `JWT_AUDIENCE`). A confidential client's `exchange_audiences` (each an
//! `OAUTH_RESOURCES` or `JWT_AUDIENCE` value) are the audiences it may exchange this
//! server's access tokens for (see `common/oauth_exchange.rs`); the metadata names the
//! grant when some client has them.
//!
//! `ACCESS_TOKEN_FORMAT`: `jwt` (the default: signed JWTs, RFC 9068) or `opaque` (random
//! strings whose claims the store keeps under their hash until they expire, shared by
//! instances sharing `REDIS_URL`); it applies to every access token `/login`, `/refresh`
//! and `/token` give. An opaque token is checked by introspection only; the admin routes
//! (`/rotate-keys`, `/password-hashes`) take JWTs. See `common/oauth_access.rs`.
//!
//! TLS: `TLS_CERT_FILE` and `TLS_KEY_FILE` serve HTTPS (and `JWT_ISSUER` defaults to
//! `https://$BIND`); `TLS_CLIENT_CA_FILE` asks clients for a certificate signed by that
//! CA, without requiring one, and `/token` binds the access tokens it issues to the
//! certificate a client presented (RFC 8705, `cnf["x5t#S256"]`). See `common/tls.rs`.
//!
//! DPoP (RFC 9449): a `/token` request with a `DPoP` proof (`htm` POST, `htu`
//! `JWT_ISSUER` + `/token`, signed with an asymmetric algorithm the metadata lists in
//! `dpop_signing_alg_values_supported`) gets an access token bound to the proof's key
//! (`cnf.jkt`, `token_type: DPoP`); a public client's refresh tokens are bound to it too,
//! and a refresh must then prove that key; `/authorize` takes `dpop_jkt` (RFC 9449
//! §10), and its code is redeemed only with a proof by that key. Each proof is accepted
//! once, on every instance sharing `REDIS_URL`. `DPOP_NONCE=1`: proofs must carry a
//! server nonce (`use_dpop_nonce` with a `DPoP-Nonce` header otherwise); instances
//! sharing `REDIS_URL` accept each other's nonces. See `common/oauth_dpop.rs`.
#![forbid(unsafe_code)]

#[path = "common/app_error.rs"]
mod app_error;
#[path = "common/auth_requests.rs"]
mod auth_requests;
#[path = "common/auth_routes.rs"]
mod auth_routes;
#[path = "common/cli.rs"]
mod cli;
#[path = "common/hashing_pool.rs"]
mod hashing_pool;
#[path = "common/login_guard.rs"]
mod login_guard;
#[path = "common/oauth_access.rs"]
mod oauth_access;
#[path = "common/oauth_authorize.rs"]
mod oauth_authorize;
#[path = "common/oauth_config.rs"]
mod oauth_config;
#[path = "common/oauth_dpop.rs"]
mod oauth_dpop;
#[path = "common/oauth_error.rs"]
mod oauth_error;
#[path = "common/oauth_exchange.rs"]
mod oauth_exchange;
#[path = "common/oauth_introspect.rs"]
mod oauth_introspect;
#[path = "common/oauth_lookup.rs"]
mod oauth_lookup;
#[path = "common/oauth_pages.rs"]
mod oauth_pages;
#[path = "common/oauth_params.rs"]
mod oauth_params;
#[path = "common/oauth_register.rs"]
mod oauth_register;
#[path = "common/oauth_revoke.rs"]
mod oauth_revoke;
#[path = "common/oauth_routes.rs"]
mod oauth_routes;
#[path = "common/oauth_token.rs"]
mod oauth_token;
#[path = "common/refresh_delivery.rs"]
mod refresh_delivery;
#[path = "common/retry_after.rs"]
mod retry_after;
#[path = "common/tls.rs"]
mod tls;
#[path = "common/users.rs"]
mod users;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use jwt_tower::dpop::NonceSecret;
use jwt_tower::issue::{SigningKey, TokenIssuer};
use jwt_tower::oauth::{AuthorizationCodes, Client};
use jwt_tower::refresh::RefreshTokens;
use jwt_tower::revoke::Revocations;
use jwt_tower::store::{MemoryStore, RedisStore, Store};
use jwt_tower::{RegisteredClaims, Verifier};
use login_guard::{LoginGuard, LoginLimits};
use oauth_access::{ACCESS_TOKEN_FORMAT, AccessTokenFormat, AccessTokens};
use refresh_delivery::RefreshDelivery;

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn config_error(variable: &str, problem: impl std::fmt::Display) -> Box<dyn std::error::Error> {
    format!("configuration error: {variable}: {problem}").into()
}

/// A positive whole number from `name`, or `default` when it is unset.
fn positive(name: &str, default: u64) -> Result<u64, Box<dyn std::error::Error>> {
    match var(name) {
        Some(v) => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| config_error(name, format!("{v:?} is not a positive whole number"))),
        None => Ok(default),
    }
}

fn login_limits() -> Result<LoginLimits, Box<dyn std::error::Error>> {
    let defaults = LoginLimits::default();
    let attempts = |name: &str, default: NonZeroU32| -> Result<NonZeroU32, _> {
        let n = positive(name, default.get().into())?;
        u32::try_from(n)
            .ok()
            .and_then(NonZeroU32::new)
            .ok_or_else(|| config_error(name, format!("{n} is too large")))
    };
    let hash_queue = match var("LOGIN_HASH_QUEUE") {
        Some(v) => v
            .trim()
            .parse::<usize>()
            .map_err(|_| config_error("LOGIN_HASH_QUEUE", format!("{v:?} is not a number")))?,
        None => defaults.hash_queue,
    };
    let client_address_header = var("LOGIN_CLIENT_ADDRESS_HEADER")
        .map(|v| {
            axum::http::HeaderName::try_from(v.trim())
                .map_err(|e| config_error("LOGIN_CLIENT_ADDRESS_HEADER", format!("{v:?}: {e}")))
        })
        .transpose()?;
    Ok(LoginLimits {
        client_address_header,
        per_user: attempts("LOGIN_ATTEMPTS_PER_USER", defaults.per_user)?,
        per_address: attempts("LOGIN_ATTEMPTS_PER_ADDRESS", defaults.per_address)?,
        window: Duration::from_secs(positive("LOGIN_WINDOW_SECONDS", defaults.window.as_secs())?),
        hash_concurrency: usize::try_from(positive(
            "LOGIN_HASH_CONCURRENCY",
            defaults.hash_concurrency as u64,
        )?)?,
        hash_queue,
    })
}

#[tokio::main]
async fn main() {
    cli::run_and_exit(run()).await;
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let bind = var("BIND").unwrap_or_else(|| "127.0.0.1:4000".to_owned());
    let tls = tls::Tls::from_env()?;
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .map_err(|e| config_error("BIND", format!("cannot listen on {bind:?}: {e}")))?;
    let public_base = format!("{}://{}", tls::scheme(tls.as_ref()), listener.local_addr()?);
    let issuer_name = var("JWT_ISSUER").unwrap_or_else(|| public_base.clone());

    let alg_name = var("JWT_SIGNING_ALG").unwrap_or_else(|| "ES256".to_owned());
    let alg =
        jwt_tower::algorithm::parse(&alg_name).map_err(|e| config_error("JWT_SIGNING_ALG", e))?;
    let key = match var("JWT_SIGNING_KEY_PEM_FILE") {
        Some(path) => {
            let pem = std::fs::read(&path).map_err(|e| {
                config_error(
                    "JWT_SIGNING_KEY_PEM_FILE",
                    format!("cannot read {path:?}: {e}"),
                )
            })?;
            SigningKey::from_pem(alg, pem)
                .map_err(|e| config_error("JWT_SIGNING_KEY_PEM_FILE", e))?
        }
        None => SigningKey::generate(alg).map_err(|e| config_error("JWT_SIGNING_ALG", e))?,
    };
    let key = match var("JWT_KID") {
        Some(kid) => key.with_kid(kid),
        None => key,
    };
    let ttl = match var("ACCESS_TTL_SECONDS") {
        Some(v) => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                config_error(
                    "ACCESS_TTL_SECONDS",
                    format!("{v:?} is not a positive number of seconds"),
                )
            })?,
        None => 900,
    };
    let audiences: Vec<String> = var("JWT_AUDIENCE")
        .unwrap_or_else(|| "api".to_owned())
        .split(',')
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty())
        .collect();
    let login_limits = login_limits()?;
    let users = users::Users::parse(
        &var("DEMO_USERS").unwrap_or_else(|| users::DEFAULT_DEMO_USERS.to_owned()),
    )
    .map_err(|e| config_error("DEMO_USERS", e))?;

    let now = jsonwebtoken::get_current_timestamp() as i64;
    let clients = match var("OAUTH_CLIENTS_FILE") {
        Some(path) => {
            let names = users.schemes();
            oauth_config::clients_from_file(&path, now, |id| names.contains_key(id))
                .map_err(|e| config_error("OAUTH_CLIENTS_FILE", e))?
        }
        None => Vec::new(),
    };
    let resources = oauth_config::resources(var("OAUTH_RESOURCES"), &audiences);
    oauth_config::check_exchange_audiences(
        &clients,
        &oauth_config::served_audiences(&resources, &audiences),
    )
    .map_err(|e| config_error("OAUTH_CLIENTS_FILE", e))?;
    let access_format = AccessTokenFormat::parse(var(ACCESS_TOKEN_FORMAT).as_deref())
        .map_err(|e| config_error(ACCESS_TOKEN_FORMAT, e))?;

    let mut builder = TokenIssuer::builder(issuer_name.clone(), key).ttl(Duration::from_secs(ttl));
    for audience in &audiences {
        builder = builder.audience(audience.clone());
    }
    let issuer = builder.build();

    let settings = Settings {
        listener,
        tls,
        public_base,
        issuer_name,
        issuer,
        audiences,
        alg,
        users,
        login_limits,
        clients,
        resources,
        access_format,
    };
    let store: Arc<dyn Store> = match var("REDIS_URL") {
        Some(url) => Arc::new(
            RedisStore::connect(&url)
                .await
                .map_err(|e| config_error("REDIS_URL", e))?,
        ),
        None => Arc::new(MemoryStore::new()),
    };
    serve(store, settings).await
}

/// Everything configured, before the store is chosen.
struct Settings {
    listener: tokio::net::TcpListener,
    /// `TLS_*`: HTTPS, and client certificates for certificate-bound tokens.
    tls: Option<tls::Tls>,
    public_base: String,
    issuer_name: String,
    issuer: TokenIssuer,
    audiences: Vec<String>,
    alg: jwt_tower::Algorithm,
    users: users::Users,
    login_limits: LoginLimits,
    /// Pre-registered OAuth clients (`OAUTH_CLIENTS_FILE`).
    clients: Vec<Client>,
    /// The resources tokens may be requested for (`OAUTH_RESOURCES`).
    resources: Vec<String>,
    /// `ACCESS_TOKEN_FORMAT`: JWTs, or opaque tokens kept in the store.
    access_format: AccessTokenFormat,
}

/// DPoP at `/token`: proofs' `jti`s reserved in `store`; with `DPOP_NONCE=1`, nonces
/// from the secret every instance sharing `store` shares.
async fn token_dpop(
    issuer: &str,
    store: &Arc<dyn Store>,
) -> Result<oauth_dpop::TokenDpop, Box<dyn std::error::Error>> {
    let nonce = match var("DPOP_NONCE").as_deref().map(str::trim) {
        None | Some("0") => None,
        Some("1") => {
            let mut candidate = [0u8; 32];
            aws_lc_rs::rand::fill(&mut candidate)
                .map_err(|e| config_error("DPOP_NONCE", format!("no random bytes: {e}")))?;
            let secret = NonceSecret::from_store(store.as_ref(), &candidate)
                .await
                .map_err(|e| config_error("DPOP_NONCE", format!("the nonce secret: {e}")))?;
            Some(secret)
        }
        Some(other) => {
            return Err(config_error(
                "DPOP_NONCE",
                format!("{other:?} is neither 1 nor 0"),
            ));
        }
    };
    oauth_dpop::TokenDpop::new(issuer, Arc::clone(store), nonce)
        .map_err(|e| config_error("DPOP_NONCE", format!("JWT_ISSUER: {e}")))
}

async fn serve(
    store: Arc<dyn Store>,
    settings: Settings,
) -> Result<(), Box<dyn std::error::Error>> {
    let Settings {
        listener,
        tls,
        public_base,
        issuer_name,
        issuer,
        audiences,
        alg,
        users,
        login_limits,
        clients,
        resources,
        access_format,
    } = settings;
    let mut scopes_supported = users.scopes();
    scopes_supported.extend(
        clients
            .iter()
            .filter_map(|c| c.scope.as_deref())
            .flat_map(|s| s.split(' ').map(str::to_owned)),
    );
    let dpop = token_dpop(&issuer_name, &store).await?;
    let revocations = Revocations::new();
    store.follow(&revocations);
    let exchange = oauth_exchange::Exchange::new(
        oauth_config::served_audiences(&resources, &audiences),
        clients.iter().any(|c| !c.exchange_audiences.is_empty()),
    );
    let mut verifier = Verifier::<RegisteredClaims>::builder(issuer.keys())
        .algorithms([alg])
        .issuer(issuer_name.clone())
        .require_typ("at+jwt")
        .revocations(revocations.clone());
    for audience in &audiences {
        verifier = verifier.audience(audience.clone());
    }
    let access = AccessTokens::new(
        access_format,
        issuer.clone(),
        alg,
        &audiences,
        &resources,
        revocations.clone(),
        Arc::clone(&store),
    )?;
    let state = auth_routes::AuthState {
        issuer: issuer.clone(),
        access,
        refresh: RefreshTokens::new(Arc::clone(&store)).revocations(revocations),
        users: Arc::new(users),
        verifier: verifier.build()?,
        delivery: if var("REFRESH_COOKIE").is_none_or(|v| v != "off") {
            RefreshDelivery::cookies()
        } else {
            RefreshDelivery::Body
        },
        login_guard: LoginGuard::new(&login_limits),
    };
    let oauth = oauth_routes::OAuthState {
        auth: state.clone(),
        codes: AuthorizationCodes::new(Arc::clone(&store)),
        store,
        configured_clients: Arc::new(
            clients
                .into_iter()
                .map(|client| (client.client_id.clone(), client))
                .collect(),
        ),
        issuer_url: issuer_name.clone(),
        default_audience: audiences.first().cloned(),
        resources: Arc::new(resources),
        scopes_supported: Arc::new(scopes_supported.into_iter().collect()),
        certificate_bound_tokens: tls
            .as_ref()
            .is_some_and(tls::Tls::requests_client_certificates),
        dpop,
        exchange,
    };
    let app = auth_routes::router(state, &public_base)
        .merge(oauth_routes::router(oauth))
        .route("/health", axum::routing::get(|| async { "ok" }));
    tracing::info!(addr = %public_base, issuer = %issuer_name, kid = %issuer.current_key().kid(), "auth server listening");
    serve_app(listener, app, tls).await
}

/// Plain HTTP, or HTTPS with the `TLS_*` variables; either way with the peer address as
/// `ConnectInfo` (the login limits count per address).
async fn serve_app(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    tls: Option<tls::Tls>,
) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(tls) = tls {
        return tls::serve(listener, app, tls).await;
    }
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
