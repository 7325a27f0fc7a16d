//! The issuing side: every signing algorithm round-trips through our verifier, rotation
//! keeps retired keys published, revocation is enforced, and refresh rotation is atomic.
// Issuing needs the aws-lc-rs backend (`issue` and `refresh` are compiled only with it).
#![cfg(feature = "aws_lc_rs")]

use std::sync::Arc;
use std::time::Duration;

use jwt_tower::algorithm::SUPPORTED;
use jwt_tower::issue::{IssueError, SigningKey, TokenIssuer};
use jwt_tower::refresh::{RefreshError, RefreshTokens};
use jwt_tower::revoke::{Revocation, Revocations};
use jwt_tower::store::{MemoryStore, Store};
use jwt_tower::{Algorithm, ConfigError, KeySet, RegisteredClaims, RejectionKind, Verifier};
use serde_json::json;

fn verifier(issuer: &TokenIssuer, alg: Algorithm) -> Verifier<RegisteredClaims> {
    Verifier::builder(issuer.keys())
        .algorithms([alg])
        .issuer(issuer.issuer())
        .audience("api")
        .require_typ("at+jwt")
        .require_claims(["jti", "iat", "nbf", "sub"])
        .build()
        .unwrap()
}

#[test]
fn every_algorithm_signs_what_the_verifier_accepts() {
    for alg in SUPPORTED {
        // RSA key generation is slow in debug builds: one RSA algorithm of each padding.
        if matches!(
            alg,
            Algorithm::RS384 | Algorithm::RS512 | Algorithm::PS384 | Algorithm::PS512
        ) {
            continue;
        }
        let key = SigningKey::generate(alg).unwrap();
        let issuer = TokenIssuer::builder("https://auth.test", key)
            .audience("api")
            .build();
        let issued = issuer.issue("alice", json!({"scope": "read"})).unwrap();
        let verified = verifier(&issuer, alg)
            .verify(&issued.token)
            .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert_eq!(verified.claims().sub.as_deref(), Some("alice"), "{alg:?}");
        assert_eq!(
            verified.claims().jti.as_deref(),
            Some(issued.token_id.as_str())
        );
        assert_eq!(
            verified.header().unwrap().kid.as_deref(),
            Some(issuer.current_key().kid())
        );
        assert!(verified.has_scope("read"));
        // Public keys are published for asymmetric algorithms only.
        let published = issuer.jwks()["keys"].as_array().unwrap().len();
        let hmac = matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512);
        assert_eq!(published, usize::from(!hmac), "{alg:?}");
    }
}

#[test]
fn the_published_jwks_verifies_tokens_in_another_process() {
    let issuer = TokenIssuer::builder(
        "https://auth.test",
        SigningKey::generate(Algorithm::EdDSA).unwrap(),
    )
    .audience("api")
    .build();
    let jwks = issuer.jwks().to_string();
    let remote = Verifier::<RegisteredClaims>::builder(KeySet::from_jwks_str(&jwks).unwrap())
        .algorithms([Algorithm::EdDSA])
        .audience("api")
        .build()
        .unwrap();
    let token = issuer.issue("bob", json!({})).unwrap().token;
    assert_eq!(
        remote.verify(&token).unwrap().claims().sub.as_deref(),
        Some("bob")
    );
    let key = &issuer.jwks()["keys"][0];
    assert_eq!(
        (key["use"].as_str(), key["alg"].as_str()),
        (Some("sig"), Some("EdDSA"))
    );
}

#[test]
fn registered_claims_cannot_be_overridden_by_the_caller() {
    let issuer = TokenIssuer::builder(
        "https://auth.test",
        SigningKey::generate(Algorithm::ES256).unwrap(),
    )
    .audience("api")
    .ttl(Duration::from_secs(60))
    .build();
    let issued = issuer
        .issue(
            "alice",
            json!({"sub": "root", "exp": 9_999_999_999i64, "iss": "https://evil.test"}),
        )
        .unwrap();
    let claims = verifier(&issuer, Algorithm::ES256)
        .verify(&issued.token)
        .unwrap()
        .claims()
        .clone();
    assert_eq!(claims.sub.as_deref(), Some("alice"));
    assert_eq!(claims.iss.as_deref(), Some("https://auth.test"));
    assert_eq!(claims.exp, Some(issued.expires_at));
    assert!(
        issuer
            .issue("alice", json!(["not", "an", "object"]))
            .is_err()
    );
}

#[test]
fn rotation_keeps_retired_keys_until_their_tokens_expire() {
    let issuer = TokenIssuer::builder(
        "https://auth.test",
        SigningKey::generate(Algorithm::ES256).unwrap(),
    )
    .audience("api")
    .build();
    let verifier = verifier(&issuer, Algorithm::ES256);
    let old = issuer.issue("alice", json!({})).unwrap();
    let old_kid = issuer.current_key().kid().to_owned();
    let new_key = issuer.rotate_generated().unwrap();
    assert_ne!(new_key.kid(), old_kid);
    let new = issuer.issue("alice", json!({})).unwrap();
    assert!(
        verifier.verify(&old.token).is_ok(),
        "retired key still published"
    );
    assert!(verifier.verify(&new.token).is_ok());
    let kids: Vec<String> = issuer.jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kids, [new_key.kid().to_owned(), old_kid]);

    // With a zero TTL, a retired key's tokens expire at once: it is dropped after the
    // retention margin (a minute), so it is still there right after rotating.
    let short = TokenIssuer::builder(
        "https://auth.test",
        SigningKey::generate(Algorithm::ES256).unwrap(),
    )
    .ttl(Duration::ZERO)
    .build();
    short.rotate_generated().unwrap();
    assert_eq!(short.jwks()["keys"].as_array().unwrap().len(), 2);
}

/// A rotation to a key whose `kid` is still published (current or retired) would publish a
/// JWKS in which one `kid` names two keys, which verifiers refuse: it is refused, and the
/// issuer keeps signing, and its verifiers keep accepting, as before.
#[test]
fn rotation_to_a_published_kid_is_refused() {
    let issuer = TokenIssuer::builder(
        "https://auth.test",
        SigningKey::generate(Algorithm::ES256)
            .unwrap()
            .with_kid("k1"),
    )
    .audience("api")
    .build();
    let verifier = verifier(&issuer, Algorithm::ES256);
    issuer
        .rotate(
            SigningKey::generate(Algorithm::ES256)
                .unwrap()
                .with_kid("k2"),
        )
        .unwrap();
    for kid in ["k1", "k2"] {
        let reused = SigningKey::generate(Algorithm::ES256)
            .unwrap()
            .with_kid(kid);
        assert!(
            matches!(issuer.rotate(reused), Err(ConfigError::DuplicateKid(k)) if k == kid),
            "{kid}"
        );
    }
    assert_eq!(issuer.current_key().kid(), "k2");
    let token = issuer.issue("alice", json!({})).unwrap();
    assert!(verifier.verify(&token.token).is_ok());
    assert_eq!(issuer.jwks()["keys"].as_array().unwrap().len(), 2);
}

/// Verifiers refuse a `sub` holding a control character, so the issuer does not sign one.
#[test]
fn subjects_with_control_characters_are_not_signed() {
    let issuer = TokenIssuer::builder(
        "https://auth.test",
        SigningKey::generate(Algorithm::ES256).unwrap(),
    )
    .build();
    for subject in ["al\0ice", "alice\n", "\u{85}alice"] {
        assert!(
            matches!(issuer.issue(subject, json!({})), Err(IssueError::Subject)),
            "{subject:?}"
        );
    }
    assert!(issuer.issue("alïce ✓", json!({})).is_ok());
}

#[test]
fn revoked_tokens_and_subjects_are_refused() {
    let issuer = TokenIssuer::builder(
        "https://auth.test",
        SigningKey::generate(Algorithm::ES256).unwrap(),
    )
    .audience("api")
    .build();
    let list = Revocations::new();
    let verifier = Verifier::<RegisteredClaims>::builder(issuer.keys())
        .algorithms([Algorithm::ES256])
        .audience("api")
        .revocations(list.clone())
        .build()
        .unwrap();
    let first = issuer.issue("alice", json!({})).unwrap();
    let second = issuer.issue("alice", json!({})).unwrap();
    let carol = issuer.issue("carol", json!({})).unwrap();
    list.apply(Revocation::Token {
        jti: first.token_id.clone(),
        exp: first.expires_at,
    });
    assert_eq!(
        verifier.verify(&first.token).unwrap_err().kind(),
        RejectionKind::Revoked
    );
    assert!(verifier.verify(&second.token).is_ok());
    let now = jsonwebtoken::get_current_timestamp() as i64;
    list.apply(Revocation::Subject {
        sub: "alice".into(),
        before: now + 1,
    });
    assert_eq!(
        verifier.verify(&second.token).unwrap_err().kind(),
        RejectionKind::Revoked
    );
    assert!(
        verifier.verify(&carol.token).is_ok(),
        "other subjects unaffected"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uses_of_one_refresh_token_have_exactly_one_winner() {
    let refresh = Arc::new(RefreshTokens::new(MemoryStore::new()));
    let grant = refresh.start("alice", "read").await.unwrap();
    let mut attempts = Vec::new();
    for _ in 0..16 {
        let (refresh, token) = (Arc::clone(&refresh), grant.token.clone());
        attempts.push(tokio::spawn(async move { refresh.rotate(&token).await }));
    }
    let mut wins = Vec::new();
    let mut reused = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(next) => wins.push(next),
            Err(RefreshError::Reused | RefreshError::Invalid) => reused += 1,
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(wins.len(), 1, "exactly one rotation wins");
    assert_eq!(reused, 15);
    // The losers' replay revoked the family: the winner's token is dead too.
    assert_eq!(
        refresh.rotate(&wins[0].token).await.unwrap_err(),
        RefreshError::Invalid
    );
}

/// A store chosen at run time: `Arc<dyn Store>` behind `RefreshTokens` (no type
/// parameter), shared with the code that revokes and follows through the same handle.
#[tokio::test]
async fn a_store_chosen_at_run_time_works_as_arc_dyn_store() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let revocations = Revocations::new();
    store.follow(&revocations);
    let refresh: RefreshTokens = RefreshTokens::new(Arc::clone(&store));
    let first = refresh.start("alice", "read").await.unwrap();
    let second = refresh.rotate(&first.token).await.unwrap();
    assert_eq!(second.family.subject, "alice");
    assert_eq!(
        refresh.rotate(&first.token).await.unwrap_err(),
        RefreshError::Reused
    );
    assert_eq!(
        refresh.rotate(&second.token).await.unwrap_err(),
        RefreshError::Invalid
    );

    let revocation = Revocation::Token {
        jti: "j1".into(),
        exp: i64::MAX / 2,
    };
    refresh.store().revoke(revocation.clone()).await.unwrap();
    assert!(store.revocations().await.unwrap().contains(&revocation));
    assert!(revocations.is_revoked(Some("j1"), None, None));
}

#[tokio::test]
async fn families_end_at_their_idle_timeout_and_on_logout() {
    let refresh = RefreshTokens::new(MemoryStore::new()).idle_timeout(Duration::ZERO);
    let grant = refresh.start("alice", "read").await.unwrap();
    assert_eq!(
        refresh.rotate(&grant.token).await.unwrap_err(),
        RefreshError::Expired
    );

    let refresh = RefreshTokens::new(MemoryStore::new());
    let grant = refresh.start("alice", "read").await.unwrap();
    let family = refresh.revoke(&grant.token).await.unwrap().unwrap();
    assert_eq!(family.subject, "alice");
    assert_eq!(
        refresh.rotate(&grant.token).await.unwrap_err(),
        RefreshError::Invalid
    );
    assert_eq!(
        refresh.rotate("garbage").await.unwrap_err(),
        RefreshError::Invalid
    );
    assert!(refresh.revoke("unknown-token").await.unwrap().is_none());
}

#[tokio::test]
async fn the_memory_store_keeps_followers_in_step() {
    let store = MemoryStore::new();
    store
        .revoke(Revocation::Subject {
            sub: "early".into(),
            before: 10,
        })
        .await
        .unwrap();
    let (a, b) = (Revocations::new(), Revocations::new());
    store.follow(&a);
    store.follow(&b);
    assert!(
        a.is_revoked(None, Some("early"), Some(5)),
        "a follower starts with the full set"
    );
    store
        .revoke(Revocation::Token {
            jti: "t".into(),
            exp: i64::MAX,
        })
        .await
        .unwrap();
    assert!(b.is_revoked(Some("t"), None, None));
    assert_eq!(store.revocations().await.unwrap().len(), 2);
}

#[test]
fn a_fail_closed_list_refuses_while_out_of_step_with_its_store() {
    let issuer = TokenIssuer::builder(
        "https://auth.test",
        SigningKey::generate(Algorithm::ES256).unwrap(),
    )
    .build();
    let open = Revocations::new();
    let closed = Revocations::new().fail_closed(true);
    let token = issuer.issue("alice", json!({})).unwrap().token;
    let verify = |list: &Revocations| {
        Verifier::<RegisteredClaims>::builder(issuer.keys())
            .algorithms([Algorithm::ES256])
            .revocations(list.clone())
            .build()
            .unwrap()
            .verify(&token)
            .map(|_| ())
            .map_err(|e| e.kind())
    };
    for list in [&open, &closed] {
        list.set_in_step(false);
    }
    assert_eq!(
        verify(&open),
        Ok(()),
        "the default keeps serving on what it holds"
    );
    assert_eq!(verify(&closed), Err(RejectionKind::RevocationsOutOfStep));
    closed.set_in_step(true);
    assert_eq!(verify(&closed), Ok(()));
}

fn epoch_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn back_dated_and_future_dated_tokens_are_refused_with_their_kind() {
    let issuer = TokenIssuer::builder(
        "https://auth.test",
        SigningKey::generate(Algorithm::ES256).unwrap(),
    )
    .audience("api")
    .ttl(Duration::from_secs(60))
    .build();
    let verifier = verifier(&issuer, Algorithm::ES256);
    let now = epoch_now();

    let expired = issuer.issue_at("alice", json!({}), now - 3600).unwrap();
    assert_eq!(expired.expires_at, now - 3540);
    assert_eq!(expired.expires_in, 0);
    assert_eq!(
        verifier.verify(&expired.token).unwrap_err().kind(),
        RejectionKind::Expired
    );

    let early = issuer.issue_at("alice", json!({}), now + 3600).unwrap();
    assert_eq!(
        verifier.verify(&early.token).unwrap_err().kind(),
        RejectionKind::NotYetValid
    );

    // Dated a little in the past but still inside its lifetime: accepted.
    let recent = issuer.issue_at("alice", json!({}), now - 30).unwrap();
    assert!(recent.expires_in <= 30);
    assert!(verifier.verify(&recent.token).is_ok());
}

/// RFC 9864's `Ed25519` and the polymorphic `EdDSA` name one signature with an Ed25519
/// key: a key verifies either name, a JWK may declare either, and the allow-list decides
/// which names pass.
#[test]
fn ed25519_is_eddsa_under_its_fully_specified_name() {
    let key = SigningKey::generate(Algorithm::Ed25519).unwrap();
    let issuer = TokenIssuer::builder("https://auth.test", key)
        .audience("api")
        .build();
    let jwks = issuer.jwks();
    assert_eq!(jwks["keys"][0]["alg"], "Ed25519");
    let token = issuer.issue("carol", json!({})).unwrap().token;
    let header: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            token.split('.').next().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "Ed25519");

    // The published JWK, declaring `Ed25519`, is read back (jsonwebtoken's JWK enum alone
    // does not know the name).
    let published = KeySet::from_jwks_str(&jwks.to_string()).unwrap();
    let allowing = |algs: &[Algorithm]| {
        Verifier::<RegisteredClaims>::builder(published.clone())
            .algorithms(algs.iter().copied())
            .audience("api")
            .build()
            .unwrap()
    };
    assert_eq!(
        allowing(&[Algorithm::Ed25519])
            .verify(&token)
            .unwrap()
            .claims()
            .sub
            .as_deref(),
        Some("carol")
    );
    let only_eddsa = allowing(&[Algorithm::EdDSA]).verify(&token).unwrap_err();
    assert_eq!(only_eddsa.kind(), RejectionKind::AlgorithmNotAllowed);

    // One Ed25519 key verifies a token under either name.
    let eddsa = TokenIssuer::builder(
        "https://auth.test",
        SigningKey::generate(Algorithm::EdDSA).unwrap(),
    )
    .audience("api")
    .build();
    let both = Verifier::<RegisteredClaims>::builder(eddsa.keys())
        .algorithms([Algorithm::EdDSA, Algorithm::Ed25519])
        .audience("api")
        .build()
        .unwrap();
    assert!(
        both.verify(&eddsa.issue("dan", json!({})).unwrap().token)
            .is_ok()
    );
    assert!("Ed25519".parse::<Algorithm>().is_ok());
    assert!("ed25519".parse::<Algorithm>().is_err());
}
