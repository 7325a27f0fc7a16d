//! MCP sessions bound to their caller over real TCP: `SessionBindingLayer` behind a
//! `JwtLayer`, in front of a handler standing in for the MCP endpoint, which opens a new
//! session on every `initialize` and answers every other request with the session it
//! was sent.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::any;
use jwt_tower::mcp::SessionBindingLayer;
use jwt_tower::{Algorithm, JwtLayer, RegisteredClaims, Verifier};
use serde_json::{Value, json};
use support::*;

const ISSUER: &str = "https://issuer.example";

/// The MCP endpoint's stand-in. `initialize` opens session `s<n>`, `reuse <id>` answers
/// as if opening session `<id>` (a server handing out an id twice); a `DELETE` with the
/// body `fail` fails (500), any other succeeds; everything else echoes its session.
async fn endpoint(
    counter: Arc<AtomicU64>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let session = headers
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_owned());
    if method == Method::DELETE {
        let status = if body.as_ref() == b"fail" {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::NO_CONTENT
        };
        return (status, HeaderMap::new(), String::new());
    }
    let mut response_headers = HeaderMap::new();
    if body.as_ref() == b"initialize" {
        let id = counter.fetch_add(1, Ordering::Relaxed) + 1;
        response_headers.insert("mcp-session-id", format!("s{id}").parse().unwrap());
    }
    if let Some(reused) = body.strip_prefix(b"reuse ") {
        response_headers.insert("mcp-session-id", HeaderValue::from_bytes(reused).unwrap());
    }
    let echo = format!(
        "reached with {}",
        session.as_deref().unwrap_or("no session")
    );
    (StatusCode::OK, response_headers, echo)
}

fn verifier() -> Verifier<RegisteredClaims> {
    Verifier::builder(hs256_key("k1"))
        .algorithms([Algorithm::HS256])
        .build()
        .unwrap()
}

/// `/mcp` behind `layer` (outside) and `sessions` (inside).
async fn start(layer: JwtLayer<RegisteredClaims>, sessions: SessionBindingLayer) -> String {
    let counter = Arc::new(AtomicU64::new(0));
    let app = Router::new()
        .route(
            "/mcp",
            any(move |method, headers, body| endpoint(counter.clone(), method, headers, body)),
        )
        .layer(sessions)
        .layer(layer);
    format!("http://{}/mcp", serve(app).await)
}

fn token(iss: &str, sub: Option<&str>) -> String {
    let mut claims = json!({"iss": iss, "exp": now() + 600});
    if let Some(sub) = sub {
        claims["sub"] = json!(sub);
    }
    mint_hs256("k1", &claims)
}

fn alice() -> String {
    token(ISSUER, Some("alice"))
}

fn bob() -> String {
    token(ISSUER, Some("bob"))
}

/// What a test reads of a response.
#[derive(Debug)]
struct Answer {
    status: u16,
    session: Option<String>,
    retry_after: Option<String>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

async fn request(
    method: Method,
    url: &str,
    token: Option<&str>,
    session: Option<&str>,
    body: &'static str,
) -> Answer {
    let mut request = http().request(method, url).body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    let response = request.send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (session, retry_after) = (header("mcp-session-id"), header("retry-after"));
    Answer {
        status: response.status().as_u16(),
        session,
        retry_after,
        body: response.text().await.unwrap(),
    }
}

async fn post(url: &str, token: Option<&str>, session: Option<&str>) -> Answer {
    request(Method::POST, url, token, session, "tools/list").await
}

async fn open(url: &str, token: Option<&str>) -> String {
    let answer = request(Method::POST, url, token, None, "initialize").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.session.expect("a session")
}

/// 404 with the JSON-RPC error of an unknown session.
fn assert_not_found(answer: &Answer) {
    assert_eq!(answer.status, 404, "{answer:?}");
    let body = answer.json();
    assert_eq!(body["jsonrpc"], "2.0");
    assert_eq!(body["id"], Value::Null);
    assert_eq!(body["error"]["code"], -32001);
    assert_eq!(body["error"]["message"], "Session not found");
}

#[tokio::test]
async fn a_session_serves_its_creator_and_no_one_else() {
    let sessions = SessionBindingLayer::new();
    let url = start(JwtLayer::new(verifier()), sessions.clone()).await;
    let session = open(&url, Some(&alice())).await;
    assert_eq!(sessions.len(), 1);

    let reached = post(&url, Some(&alice()), Some(&session)).await;
    assert_eq!(
        (reached.status, reached.body.as_str()),
        (200, "reached with s1")
    );
    assert_not_found(&post(&url, Some(&bob()), Some(&session)).await);
    // The same subject from another issuer is another subject.
    let other = token("https://other.example", Some("alice"));
    assert_not_found(&post(&url, Some(&other), Some(&session)).await);
    // Every method: the SSE stream's GET too.
    let get = request(Method::GET, &url, Some(&bob()), Some(&session), "").await;
    assert_not_found(&get);
    // Without a token, the JwtLayer refuses first.
    assert_eq!(post(&url, None, Some(&session)).await.status, 401);
}

#[tokio::test]
async fn a_session_not_bound_is_404_for_everyone() {
    let url = start(JwtLayer::new(verifier()), SessionBindingLayer::new()).await;
    assert_not_found(&post(&url, Some(&bob()), Some("never-issued")).await);
    let reached = post(&url, Some(&bob()), None).await;
    assert_eq!(reached.body, "reached with no session");
}

#[tokio::test]
async fn an_idle_session_is_refused_to_its_owner_too() {
    let sessions = SessionBindingLayer::new().idle_timeout(Duration::from_secs(1));
    let url = start(JwtLayer::new(verifier()), sessions.clone()).await;
    let session = open(&url, Some(&alice())).await;
    assert_eq!(post(&url, Some(&alice()), Some(&session)).await.status, 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // The server may still serve it: the layer no longer knows whose it is.
    assert_not_found(&post(&url, Some(&bob()), Some(&session)).await);
    assert_not_found(&post(&url, Some(&alice()), Some(&session)).await);
    assert!(sessions.is_empty());
}

#[tokio::test]
async fn only_a_request_naming_no_session_opens_one() {
    let sessions = SessionBindingLayer::new();
    let url = start(JwtLayer::new(verifier()), sessions.clone()).await;
    let first = open(&url, Some(&alice())).await;
    // A response naming a new session to a request of another session binds nothing.
    let answer = request(
        Method::POST,
        &url,
        Some(&alice()),
        Some(&first),
        "initialize",
    )
    .await;
    let second = answer.session.expect("the stand-in opens one");
    assert_eq!(sessions.len(), 1);
    assert_not_found(&post(&url, Some(&alice()), Some(&second)).await);
}

#[tokio::test]
async fn a_bound_id_handed_out_again_is_withheld() {
    let sessions = SessionBindingLayer::new();
    let url = start(JwtLayer::new(verifier()), sessions.clone()).await;
    let session = open(&url, Some(&alice())).await;
    assert_eq!(session, "s1");
    let reused = request(Method::POST, &url, Some(&bob()), None, "reuse s1").await;
    assert_eq!(reused.status, 500, "{reused:?}");
    assert_eq!(reused.session, None, "the id is withheld");
    assert_eq!(reused.json()["error"]["code"], -32603);
    assert_not_found(&post(&url, Some(&bob()), Some("s1")).await);
    assert_eq!(post(&url, Some(&alice()), Some("s1")).await.status, 200);
    // Its owner opening it again keeps it.
    let again = request(Method::POST, &url, Some(&alice()), None, "reuse s1").await;
    assert_eq!((again.status, again.session.as_deref()), (200, Some("s1")));
    assert_eq!(sessions.len(), 1);
}

#[tokio::test]
async fn an_owner_at_its_limit_loses_its_oldest_session_not_others_theirs() {
    let sessions = SessionBindingLayer::new()
        .max_sessions(3)
        .max_sessions_per_owner(2);
    let url = start(JwtLayer::new(verifier()), sessions.clone()).await;
    let bobs = open(&url, Some(&bob())).await;
    let mut alices = Vec::new();
    for _ in 0..10 {
        alices.push(open(&url, Some(&alice())).await);
    }
    assert_eq!(sessions.len(), 3);
    for old in &alices[..8] {
        assert_not_found(&post(&url, Some(&alice()), Some(old)).await);
    }
    for kept in &alices[8..] {
        assert_eq!(post(&url, Some(&alice()), Some(kept)).await.status, 200);
    }
    assert_eq!(post(&url, Some(&bob()), Some(&bobs)).await.status, 200);
}

#[tokio::test]
async fn a_request_naming_two_sessions_is_400() {
    let url = start(JwtLayer::new(verifier()), SessionBindingLayer::new()).await;
    let session = open(&url, Some(&alice())).await;
    for pair in [
        [session.as_str(), "never-issued"],
        ["never-issued", session.as_str()],
    ] {
        let response = http()
            .post(&url)
            .bearer_auth(bob())
            .header("mcp-session-id", pair[0])
            .header("mcp-session-id", pair[1])
            .body("tools/list")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], -32600);
    }
}

#[tokio::test]
async fn a_token_without_sub_is_401_invalid_token() {
    let sessions = SessionBindingLayer::new();
    let url = start(JwtLayer::new(verifier()).realm("mcp"), sessions.clone()).await;
    let no_sub = token(ISSUER, None);
    let session = open(&url, Some(&alice())).await;
    // Neither opening a session nor naming one.
    let opening = http().post(&url).bearer_auth(&no_sub).body("initialize");
    let naming = http()
        .post(&url)
        .bearer_auth(&no_sub)
        .header("mcp-session-id", &session)
        .body("tools/list");
    for request in [opening, naming] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.starts_with(r#"Bearer realm="mcp""#),
            "{challenge}"
        );
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{challenge}"
        );
        assert!(response.headers().get("mcp-session-id").is_none());
    }
    assert_eq!(sessions.len(), 1);
}

#[tokio::test]
async fn behind_an_optional_layer_sessions_without_a_token_are_bound_too() {
    let sessions = SessionBindingLayer::new();
    let url = start(JwtLayer::new(verifier()).optional(), sessions.clone()).await;
    // A session opened without a token belongs to requests without one.
    let open_to_all = open(&url, None).await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(post(&url, None, Some(&open_to_all)).await.status, 200);
    assert_not_found(&post(&url, Some(&bob()), Some(&open_to_all)).await);
    assert_not_found(&post(&url, None, Some("never-issued")).await);
    // One opened with a token is refused to requests without one.
    let bound = open(&url, Some(&alice())).await;
    assert_not_found(&post(&url, None, Some(&bound)).await);
    assert_eq!(post(&url, Some(&alice()), Some(&bound)).await.status, 200);
}

#[tokio::test]
async fn a_successful_delete_by_the_owner_forgets_the_session() {
    let sessions = SessionBindingLayer::new();
    let url = start(JwtLayer::new(verifier()), sessions.clone()).await;
    let session = open(&url, Some(&alice())).await;
    let delete = |token: String| {
        let url = url.clone();
        let session = session.clone();
        async move { request(Method::DELETE, &url, Some(&token), Some(&session), "").await }
    };
    assert_not_found(&delete(bob()).await);
    assert_eq!(sessions.len(), 1);
    assert_eq!(delete(alice()).await.status, 204);
    assert!(sessions.is_empty());
    // Forgotten: refused to everyone, its owner too.
    assert_not_found(&post(&url, Some(&bob()), Some(&session)).await);
    assert_not_found(&post(&url, Some(&alice()), Some(&session)).await);
}

#[tokio::test]
async fn a_failed_delete_keeps_the_binding() {
    let sessions = SessionBindingLayer::new();
    let url = start(JwtLayer::new(verifier()), sessions.clone()).await;
    let session = open(&url, Some(&alice())).await;
    let failed = request(Method::DELETE, &url, Some(&alice()), Some(&session), "fail").await;
    assert_eq!(failed.status, 500);
    assert_eq!(sessions.len(), 1);
    assert_not_found(&post(&url, Some(&bob()), Some(&session)).await);
}

#[tokio::test]
async fn a_full_table_refuses_new_sessions_with_503_and_withholds_the_id() {
    let sessions = SessionBindingLayer::new().max_sessions(2);
    let url = start(JwtLayer::new(verifier()), sessions.clone()).await;
    let first = open(&url, Some(&alice())).await;
    let _second = open(&url, Some(&bob())).await;

    let refused = request(Method::POST, &url, Some(&bob()), None, "initialize").await;
    assert_eq!(refused.status, 503, "{refused:?}");
    assert_eq!(refused.session, None, "the new session's id is withheld");
    let retry: u64 = refused.retry_after.as_deref().unwrap().parse().unwrap();
    assert!((300..=360).contains(&retry), "{retry}");
    let body = refused.json();
    assert_eq!(body["error"]["code"], -32000);
    assert_eq!(body["id"], Value::Null);
    assert_eq!(sessions.len(), 2);

    // The sessions in the table still work, and a deleted one makes room.
    assert_eq!(post(&url, Some(&alice()), Some(&first)).await.status, 200);
    let deleted = request(Method::DELETE, &url, Some(&alice()), Some(&first), "").await;
    assert_eq!(deleted.status, 204);
    let third = open(&url, Some(&bob())).await;
    assert_not_found(&post(&url, Some(&alice()), Some(&third)).await);
}
