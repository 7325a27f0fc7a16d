//! Where a store connects, read from its URL: one server (`redis://…`), or a Redis
//! Cluster (`redis+cluster://…`); and the connection the store's calls go through.

use std::time::Duration;

use ::redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use ::redis::cluster::ClusterClientBuilder;
use ::redis::cluster_async::ClusterConnection;
use ::redis::{Client, Cmd, Pipeline, RedisFuture, Value};

use super::within;
use crate::store::StoreError;

/// The schemes naming a cluster, and the scheme of each of its nodes.
const CLUSTER_SCHEMES: [(&str, &str); 2] = [
    ("redis+cluster://", "redis://"),
    ("rediss+cluster://", "rediss://"),
];

/// What a URL names.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Target {
    /// One server (a primary, possibly behind Sentinel-managed failover).
    Server(String),
    /// The seed nodes of a cluster, each as a `redis://` (or `rediss://`) URL.
    Cluster(Vec<String>),
}

impl Target {
    /// Reads `redis+cluster://[user:password@]host:port[,host:port…][/…][?…]` as a
    /// cluster (the credentials, path and query apply to every node), anything else as
    /// one server.
    pub(super) fn parse(url: &str) -> Result<Self, StoreError> {
        let Some((rest, node_scheme)) = CLUSTER_SCHEMES
            .iter()
            .find_map(|(scheme, node)| Some((url.strip_prefix(scheme)?, *node)))
        else {
            return Ok(Self::Server(url.to_owned()));
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (credentials, hosts) = match authority.rfind('@') {
            Some(at) => authority.split_at(at + 1),
            None => ("", authority),
        };
        let nodes: Vec<String> = hosts
            .split(',')
            .map(|host| format!("{node_scheme}{credentials}{}{tail}", host.trim()))
            .collect();
        if hosts.split(',').any(|host| host.trim().is_empty()) {
            return Err(StoreError(
                "invalid redis cluster URL: an empty node in the list".into(),
            ));
        }
        Ok(Self::Cluster(nodes))
    }
}

/// The connection every store call goes through: to one server (reconnecting by
/// itself), or to a cluster (routing each command to the node owning its keys'
/// slot, and following the cluster's topology as it changes).
#[derive(Clone)]
pub(super) enum Connection {
    Server(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Server(conn) => conn.req_packed_command(cmd),
            Self::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Server(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Server(conn) => conn.get_db(),
            Self::Cluster(conn) => conn.get_db(),
        }
    }
}

/// An open connection, and the servers the revocation subscription may use: the one
/// server, or every seed node of a cluster (a classic `PUBLISH` reaches the subscribers
/// of every node, so any live one will do).
pub(super) struct Opened {
    pub(super) conn: Connection,
    pub(super) subscribers: Vec<Client>,
    pub(super) cluster: bool,
}

/// Connects to `url` within `timeout`.
pub(super) async fn open(url: &str, timeout: Duration) -> Result<Opened, StoreError> {
    let invalid = |e: ::redis::RedisError| StoreError(format!("invalid redis URL: {e}"));
    match Target::parse(url)? {
        Target::Server(url) => {
            let client = Client::open(url.as_str()).map_err(invalid)?;
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(timeout))
                .set_response_timeout(Some(timeout))
                .set_number_of_retries(1)
                .set_max_delay(timeout);
            let conn = within(
                timeout,
                "connect",
                ConnectionManager::new_with_config(client.clone(), config),
            )
            .await?;
            Ok(Opened {
                conn: Connection::Server(conn),
                subscribers: vec![client],
                cluster: false,
            })
        }
        Target::Cluster(nodes) => {
            let subscribers = nodes
                .iter()
                .map(|node| Client::open(node.as_str()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(invalid)?;
            let client = ClusterClientBuilder::new(nodes)
                .connection_timeout(timeout)
                .response_timeout(timeout)
                // A few quick retries follow a slot moving; the store's timeout bounds
                // the whole call anyway.
                .retries(3)
                .max_retry_wait(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX))
                .build()
                .map_err(invalid)?;
            let conn = within(timeout, "connect", client.get_async_connection()).await?;
            Ok(Opened {
                conn: Connection::Cluster(conn),
                subscribers,
                cluster: true,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_url_is_one_server() {
        for url in ["redis://127.0.0.1:6379", "rediss://h:1/2", "redis://a:b@h"] {
            assert_eq!(Target::parse(url), Ok(Target::Server(url.to_owned())));
        }
    }

    #[test]
    fn a_cluster_url_lists_its_nodes_with_shared_credentials() {
        assert_eq!(
            Target::parse("redis+cluster://u:p%40ss@h1:7000,h2:7001, h3:7002/?protocol=resp3"),
            Ok(Target::Cluster(vec![
                "redis://u:p%40ss@h1:7000/?protocol=resp3".to_owned(),
                "redis://u:p%40ss@h2:7001/?protocol=resp3".to_owned(),
                "redis://u:p%40ss@h3:7002/?protocol=resp3".to_owned(),
            ]))
        );
        assert_eq!(
            Target::parse("rediss+cluster://h1:7000"),
            Ok(Target::Cluster(vec!["rediss://h1:7000".to_owned()]))
        );
        assert!(Target::parse("redis+cluster://h1:7000,,h2:7001").is_err());
        assert!(Target::parse("redis+cluster://").is_err());
    }
}
