//! What the peer servers share: the keys of `examples/load_target.rs` (the harness signs
//! every token with them, so each server checks the same bytes), the expected claims, the
//! environment, and the serving loop's prologue.
//!
//! Environment, as `load_target`'s: `LOAD_AUTH` (`HS256`, `RS256`, `ES256` or `EdDSA`),
//! `LOAD_THREADS` (tokio workers) and `BIND` (default `127.0.0.1:0`). On stdout:
//! `listening on ADDR`, nothing else.

/// `load_target`'s HMAC secret.
pub const HMAC_SECRET: &str = "load-target-hmac-secret-0123456789abcdef0123456789abcdef01234567";
/// `load_target`'s public keys (the test keys of `jwt-tower/tests/keys`).
pub const RSA_PUBLIC: &str = include_str!("../../../jwt-tower/tests/keys/rsa2048-public.pem");
/// P-256.
pub const P256_PUBLIC: &str = include_str!("../../../jwt-tower/tests/keys/p256-public.pem");
/// Ed25519.
pub const ED25519_PUBLIC: &str = include_str!("../../../jwt-tower/tests/keys/ed25519-public.pem");
/// The issuer and audience `load_target` issues for and requires.
pub const ISSUER: &str = "https://auth.load.test";
/// See [`ISSUER`].
pub const AUDIENCE: &str = "load-api";
/// Leeway, as the hand-written middleware of `load_target` (jwt-tower's default is 30 s).
pub const LEEWAY_SECS: u64 = 30;

/// The claims the handler reads.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct Subject {
    /// `sub`.
    pub sub: String,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// `LOAD_AUTH`, checked.
pub fn algorithm() -> Result<String, String> {
    match env("LOAD_AUTH").as_deref() {
        Some(alg @ ("HS256" | "RS256" | "ES256" | "EdDSA")) => Ok(alg.to_owned()),
        other => Err(format!(
            "configuration error: LOAD_AUTH: {other:?} is not HS256, RS256, ES256 or EdDSA"
        )),
    }
}

/// A runtime with `LOAD_THREADS` workers, the listener on `BIND`, announced on stdout.
pub fn serve<F, Fut>(run: F) -> Result<(), Box<dyn std::error::Error>>
where
    F: FnOnce(tokio::net::TcpListener) -> Fut,
    Fut: std::future::Future<Output = std::io::Result<()>>,
{
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(threads) = env("LOAD_THREADS") {
        let n: usize = threads
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("configuration error: LOAD_THREADS: {threads:?}"))?;
        runtime.worker_threads(n);
    }
    let bind = env("BIND").unwrap_or_else(|| "127.0.0.1:0".to_owned());
    runtime.build()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&bind).await?;
        println!("listening on {}", listener.local_addr()?);
        run(listener).await?;
        Ok(())
    })
}

/// Resolves on Ctrl-C (the harness stops a server with SIGINT).
pub async fn interrupted() {
    let _ = tokio::signal::ctrl_c().await;
}
