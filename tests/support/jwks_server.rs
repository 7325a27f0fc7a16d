//! A JWKS endpoint on loopback that misbehaves on demand: it rotates keys, goes down,
//! hangs, answers 500, garbage, an oversized body or a set without the old key, and
//! counts the fetches it serves.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Router, routing::get};
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, EncodingKey};
use tokio::task::JoinHandle;

/// How the endpoint answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Behaviour {
    /// The current document, with `Cache-Control: max-age` if set.
    Serve,
    /// HTTP 500.
    Error,
    /// 200 with a body that is not JSON.
    Garbage,
    /// 200 with a body of this many bytes.
    Oversized(usize),
    /// Never answers.
    Hang,
}

#[derive(Clone)]
struct Shared {
    behaviour: Arc<Mutex<Behaviour>>,
    document: Arc<Mutex<String>>,
    max_age: Arc<Mutex<Option<u64>>>,
    issuer: Arc<Mutex<String>>,
    fetches: Arc<AtomicUsize>,
    marked_fetches: Arc<AtomicUsize>,
}

pub struct JwksServer {
    pub addr: SocketAddr,
    shared: Shared,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// A public JWK for the test key of `alg`, under `kid`.
pub fn jwk(alg: Algorithm, kid: &str) -> Jwk {
    let key = match alg {
        Algorithm::ES256 => {
            EncodingKey::from_ec_pem(super::key_file("p256-private.pem").as_bytes()).unwrap()
        }
        Algorithm::EdDSA => {
            EncodingKey::from_ed_pem(super::key_file("ed25519-private.pem").as_bytes()).unwrap()
        }
        _ => EncodingKey::from_rsa_pem(super::key_file("rsa2048-private.pem").as_bytes()).unwrap(),
    };
    let mut jwk = Jwk::from_encoding_key(&key, alg).unwrap();
    jwk.common.key_id = Some(kid.to_owned());
    jwk.common.key_algorithm = Some(match alg {
        Algorithm::ES256 => KeyAlgorithm::ES256,
        Algorithm::EdDSA => KeyAlgorithm::EdDSA,
        _ => KeyAlgorithm::RS256,
    });
    jwk
}

pub fn document(keys: Vec<Jwk>) -> String {
    serde_json::to_string(&JwkSet { keys }).unwrap()
}

async fn jwks(State(s): State<Shared>, headers: HeaderMap) -> Response {
    s.fetches.fetch_add(1, Ordering::SeqCst);
    if headers.contains_key("x-test-client") {
        s.marked_fetches.fetch_add(1, Ordering::SeqCst);
    }
    let behaviour = s.behaviour.lock().unwrap().clone();
    match behaviour {
        Behaviour::Serve => {
            let body = s.document.lock().unwrap().clone();
            let mut response = ([("content-type", "application/json")], body).into_response();
            if let Some(max_age) = *s.max_age.lock().unwrap() {
                response.headers_mut().insert(
                    "cache-control",
                    format!("public, max-age={max_age}").parse().unwrap(),
                );
            }
            response
        }
        Behaviour::Error => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        Behaviour::Garbage => "<html>not json</html>".into_response(),
        Behaviour::Oversized(n) => {
            let padding = " ".repeat(n);
            format!("{{\"keys\":[]{padding}}}").into_response()
        }
        Behaviour::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
    }
}

impl JwksServer {
    /// Starts serving `document` on a fresh loopback port.
    pub async fn start(document: String) -> Self {
        let shared = Shared {
            behaviour: Arc::new(Mutex::new(Behaviour::Serve)),
            document: Arc::new(Mutex::new(document)),
            max_age: Arc::new(Mutex::new(None)),
            issuer: Arc::new(Mutex::new(String::new())),
            fetches: Arc::new(AtomicUsize::new(0)),
            marked_fetches: Arc::new(AtomicUsize::new(0)),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        *shared.issuer.lock().unwrap() = format!("http://{addr}");
        let server = Self {
            addr,
            shared,
            task: Mutex::new(None),
        };
        server.serve_on(listener);
        server
    }

    fn serve_on(&self, listener: tokio::net::TcpListener) {
        let base = format!("http://{}", self.addr);
        let issuer = self.shared.issuer.clone();
        let app = Router::new()
            .route("/jwks.json", get(jwks))
            .route(
                "/.well-known/openid-configuration",
                get(move || {
                    let (issuer, base) = (issuer.lock().unwrap().clone(), base.clone());
                    async move {
                        axum::Json(serde_json::json!({
                            "issuer": issuer,
                            "jwks_uri": format!("{base}/jwks.json"),
                        }))
                    }
                }),
            )
            .with_state(self.shared.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        *self.task.lock().unwrap() = Some(task);
    }

    pub fn url(&self) -> String {
        format!("http://{}/jwks.json", self.addr)
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn fetches(&self) -> usize {
        self.shared.fetches.load(Ordering::SeqCst)
    }

    /// Fetches made by a client sending `x-test-client`.
    pub fn marked_fetches(&self) -> usize {
        self.shared.marked_fetches.load(Ordering::SeqCst)
    }

    pub fn set_document(&self, document: String) {
        *self.shared.document.lock().unwrap() = document;
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *self.shared.behaviour.lock().unwrap() = behaviour;
    }

    pub fn set_max_age(&self, max_age: Option<u64>) {
        *self.shared.max_age.lock().unwrap() = max_age;
    }

    /// The issuer the discovery document names.
    pub fn set_discovery_issuer(&self, issuer: &str) {
        *self.shared.issuer.lock().unwrap() = issuer.to_owned();
    }

    /// Stops accepting connections: the port refuses them.
    pub fn go_down(&self) {
        if let Some(task) = self.task.lock().unwrap().take() {
            task.abort();
        }
    }

    /// Listens again on the same port.
    pub async fn come_back(&self) {
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        self.serve_on(listener);
    }
}
