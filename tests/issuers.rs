//! Several issuers, each with its own keys and rules, chosen by `iss`; and the
//! verifier's counters as seen through a real server.

mod support;

use axum::{Router, routing::get};
use jwt_tower::{Algorithm, ConfigError, JwtLayer, RegisteredClaims, RejectionKind, Verifier};
use serde_json::json;
use support::*;

const A: &str = "https://a.issuer.test";
const B: &str = "https://b.issuer.test";

fn issuer_a() -> Verifier<RegisteredClaims> {
    Verifier::builder(hs256_key("a-key"))
        .algorithms([Algorithm::HS256])
        .issuer(A)
        .build()
        .unwrap()
}

fn issuer_b() -> Verifier<RegisteredClaims> {
    Verifier::builder(es256_key("b-key"))
        .algorithms([Algorithm::ES256])
        .issuer(B)
        .audience("orders")
        .build()
        .unwrap()
}

#[test]
fn each_issuer_is_checked_with_its_own_keys_and_rules() {
    let both = Verifier::by_issuer([(A, issuer_a()), (B, issuer_b())]).unwrap();
    let exp = now() + 600;

    let from_a = mint_hs256("a-key", &json!({"iss": A, "sub": "alice", "exp": exp}));
    assert_eq!(
        both.verify(&from_a).unwrap().claims().sub.as_deref(),
        Some("alice")
    );
    let from_b = mint_es256(
        "b-key",
        &json!({"iss": B, "aud": "orders", "sub": "bob", "exp": exp}),
    );
    assert_eq!(
        both.verify(&from_b).unwrap().claims().sub.as_deref(),
        Some("bob")
    );

    // B's rules apply to B's tokens: its audience is required.
    let b_no_aud = mint_es256("b-key", &json!({"iss": B, "sub": "bob", "exp": exp}));
    assert_eq!(
        both.verify(&b_no_aud).unwrap_err().kind(),
        RejectionKind::MissingClaim
    );
    // A token claiming to be from A but signed with B's key: A's keys do not have it.
    let forged = mint_es256("b-key", &json!({"iss": A, "sub": "mallory", "exp": exp}));
    let kind = both.verify(&forged).unwrap_err().kind();
    assert!(
        matches!(
            kind,
            RejectionKind::AlgorithmNotAllowed | RejectionKind::UnknownKey
        ),
        "{kind:?}"
    );
    // An issuer nobody registered, or none at all.
    let stranger = mint_hs256("a-key", &json!({"iss": "https://evil.test", "exp": exp}));
    assert_eq!(
        both.verify(&stranger).unwrap_err().kind(),
        RejectionKind::InvalidIssuer
    );
    let anonymous = mint_hs256("a-key", &json!({"exp": exp}));
    assert_eq!(
        both.verify(&anonymous).unwrap_err().kind(),
        RejectionKind::MissingClaim
    );
    let numeric = mint_hs256("a-key", &json!({"iss": 7, "exp": exp}));
    assert_eq!(
        both.verify(&numeric).unwrap_err().kind(),
        RejectionKind::InvalidClaim
    );
}

#[test]
fn a_verifier_must_accept_the_issuer_it_is_registered_under() {
    let err = Verifier::by_issuer([(B, issuer_a())]).unwrap_err();
    assert!(
        matches!(err, ConfigError::IssuerRoute(ref i) if i == B),
        "{err}"
    );
    let none: [(&str, Verifier<RegisteredClaims>); 0] = [];
    assert!(Verifier::by_issuer(none).is_err());
}

#[tokio::test]
async fn metrics_count_what_the_layer_decided() {
    let verifier = issuer_a();
    let app = Router::new()
        .route("/me", get(|| async { "ok" }))
        .layer(JwtLayer::new(verifier.clone()).require_scopes(["read"]));
    let url = format!("http://{}/me", serve(app).await);
    let good = mint_hs256(
        "a-key",
        &json!({"iss": A, "scope": "read", "exp": now() + 60}),
    );
    let no_scope = mint_hs256("a-key", &json!({"iss": A, "exp": now() + 60}));
    for (token, status) in [
        (Some(&good), 200),
        (Some(&good), 200),
        (Some(&no_scope), 403),
        (None, 401),
    ] {
        let mut request = http().get(&url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        assert_eq!(send(request).await.status, status);
    }
    let metrics = verifier.metrics();
    assert_eq!(metrics.verified, 3, "{metrics:?}");
    assert_eq!(metrics.rejected(RejectionKind::InsufficientScope), 1);
    assert_eq!(metrics.rejected(RejectionKind::MissingToken), 1);
    assert_eq!(metrics.key_count, 1);
    assert!(metrics.key_source.is_none());
}
