//! The servers the revocation subscription may use: the one server, or the nodes of a
//! cluster. A classic `PUBLISH` reaches the subscribers of every node of a cluster, so
//! any live node will do; each attempt takes the next one, and on a cluster the list
//! is refreshed from `CLUSTER SLOTS` first, so that the subscription finds a live node
//! even when every node the URL names is gone (a failover).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use ::redis::{Client, ConnectionAddr, Value};

use super::connection::Connection;

pub(super) struct Subscribers {
    /// The servers of the URL, then the cluster nodes learnt since.
    known: Mutex<Vec<Client>>,
    next: AtomicUsize,
    cluster: bool,
}

impl Subscribers {
    pub(super) fn new(seeds: Vec<Client>, cluster: bool) -> Self {
        Self {
            known: Mutex::new(seeds),
            next: AtomicUsize::new(0),
            cluster,
        }
    }

    /// The server the next subscription attempt uses (after learning the cluster's
    /// nodes, within `timeout`, best effort).
    pub(super) async fn next(&self, conn: &mut Connection, timeout: Duration) -> Client {
        if self.cluster {
            let slots = tokio::time::timeout(
                timeout,
                ::redis::cmd("CLUSTER")
                    .arg("SLOTS")
                    .query_async::<Value>(conn),
            )
            .await;
            if let Ok(Ok(slots)) = slots {
                self.learn(&nodes_of(&slots));
            }
        }
        let known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        let next = self.next.fetch_add(1, Ordering::Relaxed);
        known[next % known.len()].clone()
    }

    /// Adds the nodes not known yet, reached as the first server is (its credentials,
    /// database and protocol); nodes over TLS are not added (the URL's nodes remain).
    fn learn(&self, nodes: &[(String, u16)]) {
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        let template = known[0].get_connection_info().clone();
        if !matches!(template.addr(), ConnectionAddr::Tcp(..)) {
            return;
        }
        for (host, port) in nodes {
            let addr = ConnectionAddr::Tcp(host.clone(), *port);
            if known
                .iter()
                .any(|client| *client.get_connection_info().addr() == addr)
            {
                continue;
            }
            if let Ok(client) = Client::open(template.clone().set_addr(addr)) {
                known.push(client);
            }
        }
    }
}

/// The `(host, port)` of every node in a `CLUSTER SLOTS` reply: ranges of
/// `[start, end, [host, port, id, …], [replica host, port, id, …]…]`.
fn nodes_of(slots: &Value) -> Vec<(String, u16)> {
    let Value::Array(ranges) = slots else {
        return Vec::new();
    };
    ranges
        .iter()
        .filter_map(|range| match range {
            Value::Array(fields) => Some(fields.iter().skip(2)),
            _ => None,
        })
        .flatten()
        .filter_map(|node| {
            let Value::Array(node) = node else {
                return None;
            };
            let host = match node.first()? {
                Value::BulkString(host) => String::from_utf8(host.clone()).ok()?,
                Value::SimpleString(host) => host.clone(),
                _ => return None,
            };
            let port = match node.get(1)? {
                Value::Int(port) => u16::try_from(*port).ok()?,
                _ => return None,
            };
            // An empty host means "the node you asked", which one is not known here.
            (!host.is_empty()).then_some((host, port))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn every_primary_and_replica_of_cluster_slots() {
        let node =
            |host: &str, port: i64| Value::Array(vec![bulk(host), Value::Int(port), bulk("id")]);
        let slots = Value::Array(vec![
            Value::Array(vec![
                Value::Int(0),
                Value::Int(5460),
                node("10.0.0.1", 7000),
                node("10.0.0.4", 7003),
            ]),
            Value::Array(vec![Value::Int(5461), Value::Int(16383), node("", 7001)]),
        ]);
        assert_eq!(
            nodes_of(&slots),
            [("10.0.0.1".to_owned(), 7000), ("10.0.0.4".to_owned(), 7003)]
        );
        assert!(nodes_of(&Value::Nil).is_empty());
    }

    #[test]
    fn learnt_nodes_keep_the_credentials_of_the_url() {
        let seed = Client::open("redis://user:pw@10.0.0.1:7000/0").unwrap();
        let subscribers = Subscribers::new(vec![seed], true);
        subscribers.learn(&[("10.0.0.1".to_owned(), 7000), ("10.0.0.2".to_owned(), 7001)]);
        let known = subscribers.known.lock().unwrap();
        assert_eq!(known.len(), 2);
        let learnt = known[1].get_connection_info();
        assert_eq!(*learnt.addr(), ConnectionAddr::Tcp("10.0.0.2".into(), 7001));
        assert_eq!(learnt.redis_settings().password(), Some("pw"));
        assert_eq!(learnt.redis_settings().username(), Some("user"));
    }
}
