//! A real `redis-server` on a free loopback port, for the fleet tests. Without the binary
//! the tests print a notice and pass, unless `CI` is set: then they fail.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Redis {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
    /// Append-only file on (a restart keeps the data) or no persistence at all (a
    /// restart comes back empty).
    persistent: bool,
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Redis {
    /// A server with append-only persistence (so a restart keeps the data), or `None`
    /// when `redis-server` is missing outside CI.
    pub fn start() -> Option<Self> {
        Self::start_with(true)
    }

    /// A server without persistence (`--save '' --appendonly no`): a restart comes back
    /// empty, as after a crash of a cache-configured Redis.
    pub fn start_ephemeral() -> Option<Self> {
        Self::start_with(false)
    }

    fn start_with(persistent: bool) -> Option<Self> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            assert!(
                std::env::var_os("CI").is_none(),
                "redis-server is not installed and CI is set: the fleet tests cannot be skipped"
            );
            eprintln!("NOTICE: redis-server not found; skipping this test");
            return None;
        }
        let port = super::process::free_addr()
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let dir =
            std::env::temp_dir().join(format!("jwt-tower-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut redis = Self {
            child: None,
            port,
            dir,
            persistent,
        };
        redis.restart();
        Some(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts (again) on the same port and waits until it answers.
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(if self.persistent {
                ["--appendonly", "yes", "--appendfsync", "always"].as_slice()
            } else {
                ["--appendonly", "no"].as_slice()
            })
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
