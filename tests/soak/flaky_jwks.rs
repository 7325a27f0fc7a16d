//! The soak's JWKS endpoint on loopback: serves the current document, or fails on
//! demand (HTTP 500, a hang, a body that is not JSON), and counts what it answered.
//!
//! Adapted from `tests/support/jwks_server.rs`, trimmed to what the soak drives: the
//! document is replaced on every key rotation, the behaviour on every flap.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Router, routing::get};

/// How the endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// The current document.
    Serve,
    /// HTTP 500.
    Error,
    /// No answer (longer than any fetch timeout), then 504.
    Hang,
    /// 200 with a body that is not JSON.
    Garbage,
}

impl Behaviour {
    pub fn name(self) -> &'static str {
        match self {
            Self::Serve => "serve",
            Self::Error => "500",
            Self::Hang => "hang",
            Self::Garbage => "garbage",
        }
    }
}

#[derive(Default)]
struct Counters {
    served: AtomicU64,
    errors: AtomicU64,
    hangs: AtomicU64,
    garbage: AtomicU64,
}

struct Shared {
    behaviour: Mutex<Behaviour>,
    document: Mutex<String>,
    counters: Counters,
}

pub struct FlakyJwks {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

async fn jwks(State(s): State<Arc<Shared>>) -> Response {
    let behaviour = *s.behaviour.lock().unwrap();
    match behaviour {
        Behaviour::Serve => {
            s.counters.served.fetch_add(1, Ordering::Relaxed);
            let body = s.document.lock().unwrap().clone();
            ([("content-type", "application/json")], body).into_response()
        }
        Behaviour::Error => {
            s.counters.errors.fetch_add(1, Ordering::Relaxed);
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Behaviour::Garbage => {
            s.counters.garbage.fetch_add(1, Ordering::Relaxed);
            "<html>not json</html>".into_response()
        }
        Behaviour::Hang => {
            s.counters.hangs.fetch_add(1, Ordering::Relaxed);
            // Longer than the client's timeout; bounded, so hung handlers do not pile up.
            tokio::time::sleep(Duration::from_secs(5)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
    }
}

impl FlakyJwks {
    /// Serves `document` on a fresh loopback port.
    pub async fn start(document: String) -> Self {
        let shared = Arc::new(Shared {
            behaviour: Mutex::new(Behaviour::Serve),
            document: Mutex::new(document),
            counters: Counters::default(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .route("/jwks.json", get(jwks))
            .with_state(Arc::clone(&shared));
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, shared }
    }

    pub fn url(&self) -> String {
        format!("http://{}/jwks.json", self.addr)
    }

    pub fn set_document(&self, document: String) {
        *self.shared.document.lock().unwrap() = document;
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *self.shared.behaviour.lock().unwrap() = behaviour;
    }

    /// Fetches answered: (served, 500, hung, garbage).
    pub fn answered(&self) -> (u64, u64, u64, u64) {
        let c = &self.shared.counters;
        (
            c.served.load(Ordering::Relaxed),
            c.errors.load(Ordering::Relaxed),
            c.hangs.load(Ordering::Relaxed),
            c.garbage.load(Ordering::Relaxed),
        )
    }
}
