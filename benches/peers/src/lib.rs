//! What the peer servers share: the keys of `benches/load/load_target.rs` (the harness sends
//! each peer a token that `load_target` mints with them), the issuer and audience, the
//! environment, and the runtime.
//!
//! Environment, as `load_target`'s: `LOAD_AUTH` (`HS256`, `RS256`, `ES256` or `EdDSA`),
//! `LOAD_THREADS` (tokio workers) and `BIND` (default `127.0.0.1:0`). On stdout, once the
//! server is ready: `listening on ADDR`, nothing else.

/// `load_target`'s HMAC secret.
pub const HMAC_SECRET: &str = "load-target-hmac-secret-0123456789abcdef0123456789abcdef01234567";
/// `load_target`'s RSA-2048 public key (the test keys of `jwt-tower/tests/keys`).
pub const RSA_PUBLIC: &str = include_str!("../../../jwt-tower/tests/keys/rsa2048-public.pem");
/// `load_target`'s P-256 public key.
pub const P256_PUBLIC: &str = include_str!("../../../jwt-tower/tests/keys/p256-public.pem");
/// `load_target`'s Ed25519 public key.
pub const ED25519_PUBLIC: &str = include_str!("../../../jwt-tower/tests/keys/ed25519-public.pem");
/// The issuer `load_target` issues as and jwt-tower's rows require.
pub const ISSUER: &str = "https://auth.load.test";
/// The audience `load_target` issues for and jwt-tower's rows require.
pub const AUDIENCE: &str = "load-api";
/// Leeway for `exp` and `nbf`, as jwt-tower's default and `load_target`'s hand-written
/// middleware.
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

/// Runs `run` on a runtime with `LOAD_THREADS` workers, given a listener on `BIND`; `run`
/// calls [`announce`] once it is ready to answer.
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
            .ok_or_else(|| {
                format!("configuration error: LOAD_THREADS: {threads:?} is not a positive number")
            })?;
        runtime.worker_threads(n);
    }
    let bind = env("BIND").unwrap_or_else(|| "127.0.0.1:0".to_owned());
    runtime.build()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&bind)
            .await
            .map_err(|e| format!("configuration error: BIND: cannot listen on {bind:?}: {e}"))?;
        run(listener).await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}

/// Tells the harness where the server listens: the line it waits for.
pub fn announce(listener: &tokio::net::TcpListener) -> std::io::Result<()> {
    println!("listening on {}", listener.local_addr()?);
    Ok(())
}

/// Resolves on Ctrl-C (the harness stops a server with SIGINT).
pub async fn interrupted() {
    let _ = tokio::signal::ctrl_c().await;
}
