//! What every example's `main` does: logs as `RUST_LOG` says (default `info`), then runs,
//! and a failure (a bad configuration, above all) is one line on stderr and exit status 2.

/// Sets up logging, awaits `run`, and exits with status 2 on its error.
pub async fn run_and_exit(run: impl Future<Output = Result<(), Box<dyn std::error::Error>>>) {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    if let Err(error) = run.await {
        eprintln!("{error}");
        std::process::exit(2);
    }
}

/// Listens on `bind` (a failure is a configuration error naming `BIND`) and serves `app`
/// until Ctrl-C.
#[allow(dead_code)]
pub async fn serve_http(
    bind: &str,
    app: axum::Router,
    what: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| format!("configuration error: BIND: cannot listen on {bind:?}: {e}"))?;
    tracing::info!(addr = %listener.local_addr()?, "{what} listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
