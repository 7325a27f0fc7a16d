//! A request refused before its body is read, over raw HTTP/1.1 on real TCP: the refusal
//! says `Connection: close`, so a keep-alive client (an MCP client whose first `POST` has
//! no token) opens a new connection for its next request instead of reusing one the server
//! is closing; requests without a body keep their connection. Route guards refuse alike.

mod support;

use std::time::Duration;

use axum::{Router, routing::post};
use jwt_axum::RequireScopes;
use jwt_tower::{Algorithm, JwtLayer, RegisteredClaims, Verifier};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn start() -> std::net::SocketAddr {
    let verifier = Verifier::<RegisteredClaims>::builder(hs256_key("k1"))
        .algorithms([Algorithm::HS256])
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/mcp",
            post(|body: String| async move { body }).get(|| async { "ok" }),
        )
        .route(
            "/admin",
            post(|body: String| async move { body }).route_layer(RequireScopes::new(["admin"])),
        )
        .layer(JwtLayer::new(verifier));
    serve(app).await
}

/// One response's status line and headers (lower-cased), read from `stream`, and its
/// body, read to its `Content-Length`.
async fn response(stream: &mut TcpStream) -> (String, Vec<(String, String)>) {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let read = stream.read(&mut byte).await.unwrap();
        assert_eq!(read, 1, "connection closed before a response: {head:?}");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    let length: usize = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .map_or(0, |(_, value)| value.parse().unwrap());
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.unwrap();
    (status, headers)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn a_refused_post_whose_body_is_still_arriving_says_connection_close() {
    let addr = start().await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // The headers and the first bytes of a body that is not all sent yet.
    stream
        .write_all(b"POST /mcp HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"jsonrpc\":")
        .await
        .unwrap();
    let (status, headers) = response(&mut stream).await;
    assert!(status.starts_with("HTTP/1.1 401"), "{status}");
    assert_eq!(header(&headers, "connection"), Some("close"), "{headers:?}");
    // And the server does close it.
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the connection stayed open");
}

#[tokio::test]
async fn a_refused_post_with_its_whole_body_says_connection_close() {
    let addr = start().await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /mcp HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}")
        .await
        .unwrap();
    let (status, headers) = response(&mut stream).await;
    assert!(status.starts_with("HTTP/1.1 401"), "{status}");
    assert_eq!(header(&headers, "connection"), Some("close"), "{headers:?}");
}

#[tokio::test]
async fn refused_requests_without_a_body_keep_their_connection() {
    let addr = start().await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    for _ in 0..3 {
        stream
            .write_all(b"GET /mcp HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let (status, headers) = response(&mut stream).await;
        assert!(status.starts_with("HTTP/1.1 401"), "{status}");
        assert_eq!(header(&headers, "connection"), None, "{headers:?}");
    }
    // An admitted POST on the same connection: the connection is still good.
    let token = mint_hs256("k1", &claims("alice", "read"));
    let request = format!(
        "POST /mcp HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\ncontent-length: 2\r\n\r\n{{}}"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let (status, headers) = response(&mut stream).await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert_eq!(header(&headers, "connection"), None, "{headers:?}");
}

#[tokio::test]
async fn a_guard_refusing_a_post_says_connection_close() {
    let addr = start().await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let token = mint_hs256("k1", &claims("alice", "read"));
    let request = format!(
        "POST /admin HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\ncontent-length: 100\r\n\r\n{{"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let (status, headers) = response(&mut stream).await;
    assert!(status.starts_with("HTTP/1.1 403"), "{status}");
    assert_eq!(header(&headers, "connection"), Some("close"), "{headers:?}");
}
