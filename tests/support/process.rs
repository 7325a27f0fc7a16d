//! Runs an example program as a child process, as an operator would, and stops it when
//! the test ends.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The path of an example binary: `cargo test` builds every example beside the tests.
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} not built (run through `cargo test`)",
        path.display()
    );
    path
}

/// A loopback address that was free a moment ago.
pub fn free_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// A running example; killed on drop.
pub struct Running {
    child: Child,
    pub addr: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The process id, to read the process's `/proc/<pid>/status`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

fn command(name: &str, env: &[(&str, String)]) -> Command {
    let mut command = Command::new(example(name));
    command.env_clear();
    if let Ok(path) = std::env::var("PATH") {
        command.env("PATH", path);
    }
    command.env("RUST_LOG", "warn");
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

/// Starts `name` with `env` (and `BIND` on a free port), and waits until `GET /health`
/// answers 200.
pub async fn start(name: &str, env: &[(&str, String)]) -> Running {
    start_at(name, &free_addr(), env).await
}

/// [`start`] at `addr`, chosen beforehand (when another server's configuration names it).
pub async fn start_at(name: &str, addr: &str, env: &[(&str, String)]) -> Running {
    let addr = addr.to_owned();
    let child = command(name, env)
        .env("BIND", &addr)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let running = Running { child, addr };
    let health = format!("{}/health", running.base());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = super::http().get(&health).send().await
            && r.status() == 200
        {
            return running;
        }
        assert!(Instant::now() < deadline, "{name} did not become healthy");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `name` with `env` to completion (for configurations that must fail).
pub fn run_to_exit(name: &str, env: &[(&str, String)]) -> Output {
    let mut child = command(name, env)
        .env("BIND", free_addr())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{name} kept running with a bad configuration");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Starts `name` with `env` (and `BIND` on a free port), and waits until it accepts TCP
/// connections (for servers without an HTTP/1 `/health`, such as gRPC ones).
pub async fn start_listening(name: &str, env: &[(&str, String)]) -> Running {
    let addr = free_addr();
    let child = command(name, env)
        .env("BIND", &addr)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let running = Running { child, addr };
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(&running.addr).await.is_err() {
        assert!(Instant::now() < deadline, "{name} did not start listening");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    running
}

/// Runs an outside client (a Python or Node script) to completion, killed after `limit`:
/// whether it exited successfully, and everything it printed, stdout then stderr.
pub fn run_client(mut command: Command, limit: Duration) -> (bool, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?} does not start: {e}"));
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), printed)
}
