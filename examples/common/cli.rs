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
