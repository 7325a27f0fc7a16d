//! `examples/common/oauth_access.rs` on its own: the access tokens of `auth_server` in
//! both formats, their `exp` ceiling (an exchanged token never outlives its subject
//! token), and which tokens it calls active. The HTTP routes that use it are tested over
//! sockets in tests/oauth_lifecycle.rs.

#[path = "../examples/common/app_error.rs"]
mod app_error;
#[path = "../examples/common/hashing_pool.rs"]
mod hashing_pool;
#[path = "../examples/common/login_guard.rs"]
mod login_guard;
#[path = "../examples/common/oauth_access.rs"]
mod oauth_access;
#[path = "../examples/common/retry_after.rs"]
mod retry_after;

use std::sync::Arc;
use std::time::Duration;

use jwt_tower::Algorithm;
use jwt_tower::issue::{SigningKey, TokenIssuer};
use jwt_tower::revoke::{Revocation, Revocations};
use jwt_tower::store::{MemoryStore, Store};
use oauth_access::{AccessTokenError, AccessTokenFormat, AccessTokens};
use serde_json::{Map, Value, json};

const ISSUER: &str = "https://auth.example.com";
const MCP: &str = "https://mcp.example.com/mcp";

fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

fn tokens(format: AccessTokenFormat) -> (AccessTokens, Arc<dyn Store>) {
    tokens_in(format, Arc::new(MemoryStore::new()))
}

fn tokens_in(format: AccessTokenFormat, store: Arc<dyn Store>) -> (AccessTokens, Arc<dyn Store>) {
    let issuer = TokenIssuer::builder(ISSUER, SigningKey::generate(Algorithm::ES256).unwrap())
        .audience("api")
        .ttl(Duration::from_secs(900))
        .build();
    let revocations = Revocations::new();
    store.follow(&revocations);
    let tokens = AccessTokens::new(
        format,
        issuer,
        Algorithm::ES256,
        &["api".to_owned()],
        &[MCP.to_owned(), "api".to_owned()],
        revocations,
        Arc::clone(&store),
    )
    .unwrap();
    (tokens, store)
}

fn scope(scope: &str) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("scope".into(), scope.into());
    claims
}

const FORMATS: [AccessTokenFormat; 2] = [AccessTokenFormat::Jwt, AccessTokenFormat::Opaque];

#[tokio::test]
async fn a_token_never_outlives_its_ceiling() {
    for format in FORMATS {
        let (tokens, _) = tokens(format);
        let ceiling = now() + 100;
        let issued = tokens
            .issue("alice", Some(MCP), scope("read"), Some(ceiling))
            .await
            .unwrap();
        assert!(issued.expires_at <= ceiling, "{format:?}");
        assert!(issued.expires_at >= ceiling - 2, "{format:?}");
        assert!(issued.expires_in <= 100);
        let claims = tokens.active(&issued.token).await.unwrap().expect("active");
        assert_eq!(claims["exp"], issued.expires_at, "{format:?}");
        assert_eq!(claims["aud"], MCP);

        // A ceiling past the lifetime changes nothing; none passed is refused.
        let far = tokens
            .issue("alice", None, scope("read"), Some(now() + 100_000))
            .await
            .unwrap();
        assert!((far.expires_at - (now() + 900)).abs() <= 2, "{format:?}");
        let refused = tokens
            .issue("alice", None, scope("read"), Some(now()))
            .await
            .unwrap_err();
        assert!(matches!(refused, AccessTokenError::Expired), "{format:?}");
    }
}

#[tokio::test]
async fn active_tokens_carry_their_claims_and_revoked_ones_are_not_active() {
    for format in FORMATS {
        let (tokens, store) = tokens(format);
        let mut claims = scope("read write");
        claims.insert("client_id".into(), "svc".into());
        claims.insert("act".into(), json!({"sub": "gateway"}));
        let issued = tokens.issue("alice", None, claims, None).await.unwrap();
        assert_eq!(issued.token.contains('.'), format == AccessTokenFormat::Jwt);
        let found = tokens.active(&issued.token).await.unwrap().expect("active");
        for (name, value) in [
            ("iss", json!(ISSUER)),
            ("sub", json!("alice")),
            ("aud", json!("api")),
            ("scope", json!("read write")),
            ("client_id", json!("svc")),
            ("act", json!({"sub": "gateway"})),
            ("exp", json!(issued.expires_at)),
        ] {
            assert_eq!(found[name], value, "{format:?}: {name}");
        }
        assert!(found["jti"].as_str().is_some_and(|j| j.len() >= 22));
        assert!((found["iat"].as_i64().unwrap() - now()).abs() <= 2);

        tokens.revoke(&issued.token, &found).await.unwrap();
        assert_eq!(
            tokens.active(&issued.token).await.unwrap(),
            None,
            "{format:?}"
        );

        // A subject revoked everywhere loses every token issued before.
        let other = tokens
            .issue("bob", None, scope("read"), None)
            .await
            .unwrap();
        store
            .revoke(Revocation::Subject {
                sub: "bob".into(),
                before: now() + 1,
            })
            .await
            .unwrap();
        assert_eq!(
            tokens.active(&other.token).await.unwrap(),
            None,
            "{format:?}"
        );
    }
}

/// Only the configured format is looked up: a JWT server does not ask the store about a
/// dotless token (even one another server put there), an opaque server ignores JWTs it
/// did not sign.
#[tokio::test]
async fn each_format_knows_its_own_tokens_only() {
    let (opaque, store) = tokens(AccessTokenFormat::Opaque);
    let (jwt, _) = tokens_in(AccessTokenFormat::Jwt, store);
    let from_opaque = opaque
        .issue("alice", None, scope("read"), None)
        .await
        .unwrap();
    assert_eq!(jwt.active(&from_opaque.token).await.unwrap(), None);
    let from_jwt = jwt.issue("alice", None, scope("read"), None).await.unwrap();
    assert_eq!(
        opaque.active(&from_jwt.token).await.unwrap(),
        None,
        "another key"
    );
    assert_eq!(opaque.active("a.b.c").await.unwrap(), None);
    assert_eq!(jwt.default_audience(), json!("api"));
}
