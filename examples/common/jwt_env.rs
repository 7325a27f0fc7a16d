//! The `JWT_*` environment contract shared by the examples (`resource_server`, and the
//! gRPC service and gateway): keys, issuers, audiences, algorithms, leeway, `typ`, the
//! remote-JWKS timings, the verified-token cache and introspection (`JWT_INTROSPECTION_*`,
//! see `introspection_env.rs`). A bad value stops the program with one line naming the
//! variable.
//!
//! What it builds is one [`Verifier`]. Whatever runs in the background for it (the
//! remote JWKS refresh, the Redis revocation feed) runs for as long as the verifier, or
//! a clone of it in a layer, is in use: there is nothing else to hold.
#![allow(dead_code)]

use std::time::Duration;

#[path = "introspection_env.rs"]
mod introspection_env;

use jwt_tower::jwks::RemoteJwks;
use jwt_tower::{Algorithm, KeySet, Keys, RegisteredClaims, VerificationKey, Verifier};

/// A configuration problem: the variable, and what is wrong with it.
#[derive(Debug)]
pub struct EnvError {
    pub variable: &'static str,
    pub problem: String,
}

impl std::fmt::Display for EnvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "configuration error: {}: {}",
            self.variable, self.problem
        )
    }
}

impl std::error::Error for EnvError {}

pub fn fail<T>(variable: &'static str, problem: impl std::fmt::Display) -> Result<T, EnvError> {
    Err(EnvError {
        variable,
        problem: problem.to_string(),
    })
}

/// A variable's value, `None` when unset or empty.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn list(name: &str) -> Vec<String> {
    var(name)
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn seconds(name: &'static str) -> Result<Option<Duration>, EnvError> {
    match var(name) {
        None => Ok(None),
        Some(v) => match v.trim().parse::<u64>() {
            Ok(n) => Ok(Some(Duration::from_secs(n))),
            Err(_) => fail(name, format!("{v:?} is not a whole number of seconds")),
        },
    }
}

/// `BIND`, or the default.
pub fn bind(default: &str) -> String {
    var("BIND").unwrap_or_else(|| default.to_owned())
}

const KEY_VARIABLES: [&str; 5] = [
    "JWT_JWKS_URL",
    "JWT_OIDC_ISSUER",
    "JWT_JWKS_FILE",
    "JWT_PUBLIC_KEY_PEM_FILE",
    "JWT_HS256_SECRET",
];

/// The verifier the `JWT_*` variables describe. Must run inside a tokio runtime (remote
/// keys start their background refresh, which the verifier keeps running).
pub fn from_env() -> Result<Verifier<RegisteredClaims>, EnvError> {
    from_env_with(None)
}

/// The in-process revocation list kept in step with Redis when `REDIS_URL` is set
/// (revocations published by `auth_server`); `None` otherwise. The list keeps the
/// subscription running, so a verifier checking it stays in step for as long as it
/// lives.
pub async fn revocations_from_env() -> Result<Option<jwt_tower::revoke::Revocations>, EnvError> {
    Ok(redis_from_env().await?.as_ref().map(revocations_of))
}

/// The Redis store `REDIS_URL` names, connected; `None` when unset.
pub async fn redis_from_env() -> Result<Option<jwt_tower::store::RedisStore>, EnvError> {
    let Some(url) = var("REDIS_URL") else {
        return Ok(None);
    };
    match jwt_tower::store::RedisStore::connect(&url).await {
        Ok(store) => Ok(Some(store)),
        Err(e) => fail("REDIS_URL", e),
    }
}

/// An in-process revocation list kept in step with `store`.
pub fn revocations_of(store: &jwt_tower::store::RedisStore) -> jwt_tower::revoke::Revocations {
    use jwt_tower::store::Store as _;
    let list = jwt_tower::revoke::Revocations::new();
    store.follow(&list);
    list
}

/// As [`from_env`], checking every token against `revocations` too.
pub fn from_env_with(
    revocations: Option<jwt_tower::revoke::Revocations>,
) -> Result<Verifier<RegisteredClaims>, EnvError> {
    build(builder_from_env(revocations)?)
}

/// The verifier [`from_env_with`] builds, with claims of type `C`, not built yet: for a
/// program that adds its own rules (`mcp_server`: the resource as the only audience).
pub fn builder_from_env<C>(
    revocations: Option<jwt_tower::revoke::Revocations>,
) -> Result<jwt_tower::VerifierBuilder<C>, EnvError> {
    let introspector = introspection_env::introspector()?;
    let keyed = KEY_VARIABLES.iter().any(|v| var(v).is_some());
    let builder = match introspector {
        // Opaque tokens alone: no keys, no algorithms.
        Some(introspector) if !keyed => Verifier::<C>::introspecting(introspector),
        Some(introspector) => keys_builder()?.introspection(introspector),
        None => keys_builder()?,
    };
    with_rules(builder, revocations)
}

/// The verifier of the key variables and `JWT_ALGORITHMS`, with no rules yet.
fn keys_builder<C>() -> Result<jwt_tower::VerifierBuilder<C>, EnvError> {
    let names = list("JWT_ALGORITHMS");
    if names.is_empty() {
        return fail(
            "JWT_ALGORITHMS",
            "required (comma-separated, e.g. RS256,ES256): there is no default allow-list",
        );
    }
    let mut algorithms = Vec::new();
    for name in &names {
        match jwt_tower::algorithm::parse(name) {
            Ok(alg) => algorithms.push(alg),
            Err(e) => return fail("JWT_ALGORITHMS", e),
        }
    }

    let set: Vec<&str> = KEY_VARIABLES
        .iter()
        .copied()
        .filter(|v| var(v).is_some())
        .collect();
    let keys = match set.as_slice() {
        [] => {
            return fail(
                "JWT_JWKS_URL",
                format!(
                    "no keys configured: set one of {}",
                    KEY_VARIABLES.join(", ")
                ),
            );
        }
        [one] => load_keys(one, &algorithms)?,
        several => {
            return fail(
                "JWT_JWKS_URL",
                format!("set only one key source, not {}", several.join(" and ")),
            );
        }
    };

    Ok(Verifier::<C>::builder(keys).algorithms(algorithms))
}

/// `builder` with the rules of the `JWT_*` variables: issuers, audiences, leeway, `typ`,
/// revocations, the verified-token cache.
fn with_rules<C>(
    mut builder: jwt_tower::VerifierBuilder<C>,
    revocations: Option<jwt_tower::revoke::Revocations>,
) -> Result<jwt_tower::VerifierBuilder<C>, EnvError> {
    // An issuer discovered by OIDC is the issuer its tokens must name, unless told otherwise.
    let mut issuers = list("JWT_ISSUER");
    if issuers.is_empty()
        && let Some(oidc_issuer) = var("JWT_OIDC_ISSUER")
    {
        issuers.push(oidc_issuer.trim().to_owned());
    }
    for issuer in issuers {
        builder = builder.issuer(issuer);
    }
    for audience in list("JWT_AUDIENCE") {
        builder = builder.audience(audience);
    }
    if let Some(leeway) = seconds("JWT_LEEWAY_SECONDS")? {
        builder = builder.leeway(leeway);
    }
    if let Some(typ) = var("JWT_REQUIRE_TYP") {
        builder = builder.require_typ(typ);
    }
    if let Some(revocations) = revocations {
        builder = builder.revocations(revocations);
    }
    if let Some(entries) = var("JWT_CACHE_ENTRIES") {
        match entries.trim().parse::<usize>() {
            Ok(entries) => builder = builder.cache(entries),
            Err(_) => {
                return fail(
                    "JWT_CACHE_ENTRIES",
                    format!("{entries:?} is not a whole number of tokens"),
                );
            }
        }
    }
    Ok(builder)
}

/// The verifier `builder` describes; a refusal names `JWT_ALGORITHMS` (keys for none of
/// the allowed algorithms).
pub fn build<C>(builder: jwt_tower::VerifierBuilder<C>) -> Result<Verifier<C>, EnvError> {
    builder.build().or_else(|e| fail("JWT_ALGORITHMS", e))
}

fn read(variable: &'static str) -> Result<String, EnvError> {
    let path = var(variable).unwrap_or_default();
    std::fs::read_to_string(&path).or_else(|e| fail(variable, format!("cannot read {path:?}: {e}")))
}

fn with_kid(key: VerificationKey) -> VerificationKey {
    match var("JWT_KID") {
        Some(kid) => key.with_kid(kid),
        None => key,
    }
}

fn remote(
    variable: &'static str,
    builder: jwt_tower::jwks::RemoteJwksBuilder,
    algorithms: &[Algorithm],
) -> Result<Keys, EnvError> {
    let mut builder = builder.algorithms(algorithms.iter().copied());
    if let Some(refresh) = seconds("JWT_JWKS_REFRESH_SECONDS")? {
        builder = builder.refresh_interval(refresh).refresh_bounds(
            refresh.min(Duration::from_secs(1)),
            refresh.max(Duration::from_secs(86_400)),
        );
    }
    if let Some(cooldown) = seconds("JWT_JWKS_COOLDOWN_SECONDS")? {
        builder = builder.cooldown(cooldown);
    }
    // The keys hold the refresh: it runs for as long as a verifier uses them.
    match builder.start() {
        Ok(jwks) => Ok(jwks.keys()),
        Err(e) => fail(variable, e),
    }
}

fn load_keys(variable: &'static str, algorithms: &[Algorithm]) -> Result<Keys, EnvError> {
    let value = var(variable).unwrap_or_default();
    match variable {
        "JWT_JWKS_URL" => {
            if reqwest_url_ok(&value) {
                remote(variable, RemoteJwks::builder(value), algorithms)
            } else {
                fail(variable, format!("{value:?} is not an http(s) URL"))
            }
        }
        "JWT_OIDC_ISSUER" => {
            if reqwest_url_ok(&value) {
                remote(variable, RemoteJwks::discover(value), algorithms)
            } else {
                fail(variable, format!("{value:?} is not an http(s) URL"))
            }
        }
        "JWT_JWKS_FILE" => {
            let text = read(variable)?;
            let allowed = algorithms.iter().copied().collect();
            match KeySet::from_jwks_filtered(&text, Some(allowed)) {
                Ok((set, _)) => Ok(Keys::new(set)),
                Err(e) => fail(variable, e),
            }
        }
        "JWT_PUBLIC_KEY_PEM_FILE" => {
            let pem = read(variable)?;
            let Some(alg) = algorithms
                .iter()
                .copied()
                .find(|a| !matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
            else {
                return fail(
                    variable,
                    "JWT_ALGORITHMS names no public-key algorithm for it",
                );
            };
            match VerificationKey::from_pem(alg, pem) {
                Ok(key) => Ok(Keys::from(with_kid(key))),
                Err(e) => fail(variable, e),
            }
        }
        _ => {
            if !algorithms.contains(&Algorithm::HS256) {
                return fail(
                    "JWT_ALGORITHMS",
                    "must include HS256 to use JWT_HS256_SECRET",
                );
            }
            match VerificationKey::hmac(Algorithm::HS256, value.as_bytes()) {
                Ok(key) => Ok(Keys::from(with_kid(key))),
                Err(e) => fail(variable, e),
            }
        }
    }
}

fn reqwest_url_ok(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://"))
        && value.len() > 8
        && value.parse::<http::Uri>().is_ok_and(|u| u.host().is_some())
}
