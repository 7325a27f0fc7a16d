//! A real Redis Cluster of `redis-server` processes on loopback ports (three primaries,
//! with or without a replica each), made by `redis-cli --cluster create`. Without the
//! binaries the tests print a notice and pass, unless `CI` or `JWT_TOWER_REQUIRE_REDIS`
//! is set: then they fail.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisCluster {
    nodes: Vec<Node>,
    dir: PathBuf,
}

struct Node {
    port: u16,
    child: Option<Child>,
    /// The slot ranges this node owned as a primary when the cluster was made.
    slots: Vec<(u16, u16)>,
    /// The node this one replicated when the cluster was made.
    replica_of: Option<usize>,
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for index in 0..self.nodes.len() {
            self.kill(index);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A free loopback port whose cluster bus port (the port plus 10000) is free too.
fn free_port_pair() -> u16 {
    loop {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        if port < 55_000 && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

/// `redis-cli -p <port> <args…>`: its standard output.
pub fn cli(port: u16, args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

impl RedisCluster {
    /// Three primaries, every slot assigned, `cluster_state:ok` on each; or `None` when
    /// redis-server or redis-cli is missing (outside CI).
    pub fn start() -> Option<Self> {
        Self::start_with(0)
    }

    /// Three primaries with a replica each (six nodes): a primary killed is replaced
    /// by its replica (failover after the node timeout).
    pub fn start_with_replicas() -> Option<Self> {
        Self::start_with(1)
    }

    fn start_with(replicas: usize) -> Option<Self> {
        if !(installed("redis-server") && installed("redis-cli")) {
            assert!(
                std::env::var_os("CI").is_none()
                    && std::env::var_os("JWT_TOWER_REQUIRE_REDIS").is_none(),
                "redis-server or redis-cli is not installed, and CI or JWT_TOWER_REQUIRE_REDIS \
                 is set: the Redis Cluster tests cannot be skipped"
            );
            eprintln!("NOTICE: redis-server or redis-cli not found; skipping this test");
            return None;
        }
        let mut ports: Vec<u16> = Vec::new();
        while ports.len() < 3 * (1 + replicas) {
            let port = free_port_pair();
            if !ports.contains(&port) {
                ports.push(port);
            }
        }
        let dir = std::env::temp_dir().join(format!(
            "jwt-tower-redis-cluster-{}-{}",
            std::process::id(),
            ports[0]
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut cluster = Self {
            nodes: ports
                .iter()
                .map(|&port| Node {
                    port,
                    child: None,
                    slots: Vec::new(),
                    replica_of: None,
                })
                .collect(),
            dir,
        };
        for index in 0..cluster.nodes.len() {
            cluster.restart(index);
        }
        let addresses: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli --cluster create runs");
        assert!(
            created.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&created.stdout)
        );
        for index in 0..cluster.nodes.len() {
            cluster.wait_ok(index, Duration::from_secs(20));
        }
        cluster.read_topology(replicas * 3);
        if replicas > 0 {
            cluster.wait_replicated();
        }
        Some(cluster)
    }

    /// `redis+cluster://` with every node, as an operator would set `REDIS_URL`.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        format!("redis+cluster://{}", nodes.join(","))
    }

    pub fn port(&self, index: usize) -> u16 {
        self.nodes[index].port
    }

    /// The replica of primary `index`, as the cluster was made.
    pub fn replica_of(&self, index: usize) -> Option<usize> {
        self.nodes
            .iter()
            .position(|node| node.replica_of == Some(index))
    }

    /// Waits until every replica has received all its primary has written.
    pub fn wait_replicated(&self) {
        let offset = |port: u16, field: &str| -> Option<u64> {
            cli(port, &["info", "replication"])
                .lines()
                .find_map(|line| line.strip_prefix(field)?.trim().parse().ok())
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        for (index, node) in self.nodes.iter().enumerate() {
            let Some(primary) = node.replica_of else {
                continue;
            };
            loop {
                let written = offset(self.port(primary), "master_repl_offset:");
                let received = offset(node.port, "slave_repl_offset:");
                if written.is_some() && written == received {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "replica {index} behind: {written:?} {received:?}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Which primary owns `key`'s slot.
    pub fn node_of(&self, key: &str) -> usize {
        let slot: u16 = cli(self.port(0), &["cluster", "keyslot", key])
            .trim()
            .parse()
            .expect("a slot number");
        self.nodes
            .iter()
            .position(|node| node.slots.iter().any(|&(a, b)| (a..=b).contains(&slot)))
            .expect("every slot is assigned")
    }

    /// Whether `key` exists, asked of the node owning it.
    pub fn exists(&self, key: &str) -> bool {
        cli(self.port(self.node_of(key)), &["exists", key]).trim() == "1"
    }

    /// Kills a node (SIGKILL: no goodbye to its clients or to the other nodes).
    pub fn kill(&mut self, index: usize) {
        if let Some(mut child) = self.nodes[index].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a node (again) on its port, with its cluster configuration file and no
    /// data (no persistence): it rejoins the cluster with the slots it owned, empty.
    pub fn restart(&mut self, index: usize) {
        self.kill(index);
        let port = self.nodes[index].port;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--cluster-enabled", "yes"])
            .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
            // Fail a node fast, and keep serving the slots of the live ones.
            .args(["--cluster-node-timeout", "1000"])
            .args(["--cluster-require-full-coverage", "no"])
            .args(["--appendonly", "no", "--save", ""])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.nodes[index].child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while cli(port, &["ping"]).trim() != "PONG" {
            assert!(
                Instant::now() < deadline,
                "redis-server on {port} did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until node `index` reports `cluster_state:ok`.
    pub fn wait_ok(&self, index: usize, limit: Duration) {
        let port = self.nodes[index].port;
        let deadline = Instant::now() + limit;
        while !cli(port, &["cluster", "info"]).contains("cluster_state:ok") {
            assert!(
                Instant::now() < deadline,
                "node {port} not cluster_state:ok within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Reads each primary's slot ranges, and each replica's primary, from
    /// `CLUSTER NODES`.
    fn read_topology(&mut self, replicas: usize) {
        // Replicas show as such once every node has heard of their `CLUSTER REPLICATE`.
        let deadline = Instant::now() + Duration::from_secs(10);
        let nodes = loop {
            let nodes = cli(self.port(0), &["cluster", "nodes"]);
            if nodes.matches("slave").count() == replicas {
                break nodes;
            }
            assert!(Instant::now() < deadline, "replicas not joined: {nodes}");
            std::thread::sleep(Duration::from_millis(50));
        };
        let port_of = |id: &str| -> Option<u16> {
            let line = nodes.lines().find(|line| line.starts_with(id))?;
            let address = line.split_whitespace().nth(1)?;
            address.split(['@', ':']).nth(1)?.parse().ok()
        };
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let Some(port) = fields
                .get(1)
                .and_then(|address| address.split(['@', ':']).nth(1))
                .and_then(|port| port.parse::<u16>().ok())
            else {
                continue;
            };
            let slots = fields
                .iter()
                .skip(8)
                .filter_map(|range| {
                    let (a, b) = range.split_once('-').unwrap_or((range, range));
                    Some((a.parse().ok()?, b.parse().ok()?))
                })
                .collect();
            let primary = fields
                .get(3)
                .filter(|id| **id != "-")
                .and_then(|id| port_of(id))
                .and_then(|port| self.nodes.iter().position(|node| node.port == port));
            if let Some(node) = self.nodes.iter_mut().find(|node| node.port == port) {
                node.slots = slots;
                node.replica_of = primary;
            }
        }
        let primaries = self
            .nodes
            .iter()
            .filter(|node| !node.slots.is_empty())
            .count();
        assert_eq!(primaries, 3, "three primaries own the slots: {nodes}");
    }
}
