//! One test per check of a proof, each refused with its own kind; proofs signed with
//! [`DpopKey`].

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, Method};
use serde_json::{Value, json};

use super::*;
use crate::store::MemoryStore;
use crate::{Algorithm, RejectionKind as K};

const NOW: i64 = 1_800_000_000;
const URL: &str = "https://api.example.com";
const HTU: &str = "https://api.example.com/orders";
const TOKEN: &str = "eyJ.the.token";

fn key() -> DpopKey {
    DpopKey::generate(Algorithm::ES256).unwrap()
}

fn checker() -> DpopChecker {
    DpopChecker::builder(URL).build().unwrap()
}

fn check(checker: &DpopChecker, proof: &str) -> Result<CheckedProof, K> {
    checker
        .check(
            proof,
            &Method::GET,
            "/orders",
            &HeaderMap::new(),
            Some(TOKEN),
            NOW,
        )
        .map_err(|e| e.kind())
}

fn good_claims() -> Value {
    json!({"jti": "j-1", "htm": "GET", "htu": HTU, "iat": NOW, "ath": access_token_hash(TOKEN)})
}

/// `key`'s header with `edit` applied, over `claims`.
fn signed(key: &DpopKey, edit: impl FnOnce(&mut Value), claims: &Value) -> String {
    let mut header = key.header();
    edit(&mut header);
    key.sign(&header, claims).unwrap()
}

#[test]
fn a_good_proof_passes_with_its_keys_thumbprint() {
    for alg in [
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::Ed25519,
        Algorithm::EdDSA,
    ] {
        let key = DpopKey::generate(alg).unwrap();
        let checker = DpopChecker::builder(URL)
            .algorithms([
                Algorithm::ES256,
                Algorithm::ES384,
                Algorithm::Ed25519,
                Algorithm::EdDSA,
            ])
            .build()
            .unwrap();
        let proof = key.proof_at("GET", HTU, Some(TOKEN), None, NOW).unwrap();
        let checked = check(&checker, &proof).unwrap_or_else(|k| panic!("{alg:?}: {k}"));
        assert_eq!(checked.jkt(), key.thumbprint());
        assert_eq!(checked.iat(), NOW);
        assert!(!checked.fresh_nonce_due());
    }
}

#[test]
fn malformed_proofs() {
    let key = key();
    let good = key.proof_at("GET", HTU, Some(TOKEN), None, NOW).unwrap();
    let (head, sig) = good.rsplit_once('.').unwrap();
    for bad in [
        String::new(),
        "a.b".to_owned(),
        format!("{good}.x"),
        format!("{head}.{sig}="),
        format!("!{good}"),
        "x".repeat(MAX_PROOF_LEN + 1),
        // A header naming a member twice.
        format!(
            "{}.{}.{sig}",
            b64(r#"{"typ":"dpop+jwt","typ":"dpop+jwt"}"#),
            head.split_once('.').unwrap().1
        ),
    ] {
        assert_eq!(
            check(&checker(), &bad).unwrap_err(),
            K::DpopMalformed,
            "{bad:.40}"
        );
    }
    // Claims missing or of the wrong type, signed.
    for claims in [
        json!({"htm": "GET", "htu": HTU, "iat": NOW}),
        json!({"jti": "j", "htm": "GET", "htu": HTU, "iat": "now"}),
        json!({"jti": "j", "htm": "GET", "htu": HTU, "iat": 1.5}),
        json!({"jti": "", "htm": "GET", "htu": HTU, "iat": NOW}),
        json!({"jti": "j".repeat(MAX_JTI_LEN + 1), "htm": "GET", "htu": HTU, "iat": NOW}),
        json!({"jti": "j", "htm": "GET", "iat": NOW}),
        json!(["not", "an", "object"]),
    ] {
        let proof = signed(&key, |_| {}, &claims);
        assert_eq!(
            check(&checker(), &proof).unwrap_err(),
            K::DpopMalformed,
            "{claims}"
        );
    }
}

fn b64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

#[test]
fn typ_must_be_dpop_jwt() {
    let key = key();
    for typ in [
        json!("JWT"),
        json!("DPOP+JWT"),
        json!(null),
        json!(["dpop+jwt"]),
    ] {
        let proof = signed(&key, |h| h["typ"] = typ.clone(), &good_claims());
        assert_eq!(check(&checker(), &proof).unwrap_err(), K::DpopType, "{typ}");
    }
    let proof = signed(
        &key,
        |h| drop(h.as_object_mut().unwrap().remove("typ")),
        &good_claims(),
    );
    assert_eq!(check(&checker(), &proof).unwrap_err(), K::DpopType);
}

#[test]
fn alg_must_be_in_the_allow_list() {
    let key = key();
    for alg in ["none", "HS256", "RS256", "ES384", "es256", ""] {
        let proof = signed(&key, |h| h["alg"] = json!(alg), &good_claims());
        assert_eq!(
            check(&checker(), &proof).unwrap_err(),
            K::DpopAlgorithm,
            "{alg}"
        );
    }
    assert!(
        DpopChecker::builder(URL)
            .algorithms([Algorithm::HS256])
            .build()
            .is_err()
    );
    assert!(DpopChecker::builder(URL).algorithms([]).build().is_err());
}

#[test]
fn jwk_must_be_a_public_key_for_alg() {
    let key = key();
    let ed = DpopKey::generate(Algorithm::Ed25519).unwrap();
    type Edit<'a> = Box<dyn Fn(&mut Value) + 'a>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "absent",
            Box::new(|h| drop(h.as_object_mut().unwrap().remove("jwk"))),
        ),
        ("private", Box::new(|h| h["jwk"]["d"] = json!("AAAA"))),
        (
            "symmetric",
            Box::new(|h| h["jwk"] = json!({"kty": "oct", "k": "c2VjcmV0"})),
        ),
        (
            "another type's",
            Box::new(|h| h["jwk"] = ed.public_jwk().clone()),
        ),
        ("not an object", Box::new(|h| h["jwk"] = json!("key"))),
        ("broken", Box::new(|h| h["jwk"]["x"] = json!("AAAA"))),
    ];
    for (what, edit) in cases {
        let proof = signed(&key, edit, &good_claims());
        assert_eq!(check(&checker(), &proof).unwrap_err(), K::DpopKey, "{what}");
    }
}

#[test]
fn the_signature_must_verify_with_the_embedded_key() {
    let key = key();
    let other = self::key();
    // Signed by another key, carrying `key`'s jwk.
    let proof = other.sign(&key.header(), &good_claims()).unwrap();
    assert_eq!(check(&checker(), &proof).unwrap_err(), K::DpopSignature);
    let good = key.proof_at("GET", HTU, Some(TOKEN), None, NOW).unwrap();
    let (head, _) = good.rsplit_once('.').unwrap();
    assert_eq!(
        check(&checker(), &format!("{head}.")).unwrap_err(),
        K::DpopSignature
    );
}

#[test]
fn htm_must_be_the_method() {
    for htm in ["POST", "get", ""] {
        let proof = key().proof_at(htm, HTU, Some(TOKEN), None, NOW).unwrap();
        assert_eq!(
            check(&checker(), &proof).unwrap_err(),
            K::DpopMethod,
            "{htm}"
        );
    }
}

#[test]
fn htu_must_be_the_uri() {
    for htu in [
        "https://api.example.com/other",
        "http://api.example.com/orders",
        "https://evil.example.com/orders",
        "/orders",
    ] {
        let proof = key().proof_at("GET", htu, Some(TOKEN), None, NOW).unwrap();
        assert_eq!(check(&checker(), &proof).unwrap_err(), K::DpopUri, "{htu}");
    }
    // Equivalent forms pass; query and fragment are not compared.
    let k = key();
    let proof = signed(
        &k,
        |_| {},
        &json!({"jti": "j", "htm": "GET", "htu": "HTTPS://API.example.com:443/./orders?x=1#f",
                "iat": NOW, "ath": access_token_hash(TOKEN)}),
    );
    assert!(check(&checker(), &proof).is_ok());
}

#[test]
fn iat_must_be_within_the_window() {
    let checker = DpopChecker::builder(URL)
        .max_age(Duration::from_secs(60))
        .leeway(Duration::from_secs(5))
        .build()
        .unwrap();
    for (iat, ok) in [
        (NOW - 60, true),
        (NOW - 61, false),
        (NOW + 5, true),
        (NOW + 6, false),
    ] {
        let proof = key().proof_at("GET", HTU, Some(TOKEN), None, iat).unwrap();
        let result = check(&checker, &proof);
        if ok {
            assert!(result.is_ok(), "{iat}");
        } else {
            assert_eq!(result.unwrap_err(), K::DpopIssuedAt, "{iat}");
        }
    }
}

#[test]
fn ath_must_hash_the_token() {
    let key = key();
    let wrong = key
        .proof_at("GET", HTU, Some("another token"), None, NOW)
        .unwrap();
    assert_eq!(check(&checker(), &wrong).unwrap_err(), K::DpopTokenHash);
    let absent = key.proof_at("GET", HTU, None, None, NOW).unwrap();
    assert_eq!(check(&checker(), &absent).unwrap_err(), K::DpopTokenHash);
    // Without a token (a token endpoint), no `ath` is needed.
    let checked = checker().check(
        &absent,
        &Method::GET,
        "/orders",
        &HeaderMap::new(),
        None,
        NOW,
    );
    assert!(checked.is_ok());
}

#[test]
fn nonces_are_required_when_configured() {
    let checker = DpopChecker::builder(URL)
        .require_nonce(NonceSecret::new([9; 32]))
        .build()
        .unwrap();
    let key = key();
    let none = key.proof_at("GET", HTU, Some(TOKEN), None, NOW).unwrap();
    assert_eq!(check(&checker, &none).unwrap_err(), K::DpopNonceRequired);
    let made_up = key
        .proof_at("GET", HTU, Some(TOKEN), Some("made-up"), NOW)
        .unwrap();
    assert_eq!(check(&checker, &made_up).unwrap_err(), K::DpopNonceInvalid);
    let other = DpopChecker::builder(URL)
        .require_nonce(NonceSecret::new([8; 32]))
        .build()
        .unwrap();
    let foreign = other.fresh_nonce(NOW).unwrap();
    let proof = key
        .proof_at("GET", HTU, Some(TOKEN), Some(&foreign), NOW)
        .unwrap();
    assert_eq!(check(&checker, &proof).unwrap_err(), K::DpopNonceInvalid);

    let nonce = checker.fresh_nonce(NOW).unwrap();
    let proof = key
        .proof_at("GET", HTU, Some(TOKEN), Some(&nonce), NOW)
        .unwrap();
    let checked = check(&checker, &proof).unwrap();
    assert_eq!(checked.nonce(), Some(nonce.as_str()));
    assert!(!checked.fresh_nonce_due());
    // A window later the same nonce still passes, and a fresh one is due.
    let later = NOW + DEFAULT_NONCE_WINDOW_SECS;
    let proof = key
        .proof_at("GET", HTU, Some(TOKEN), Some(&nonce), later)
        .unwrap();
    let checked = checker
        .check(
            &proof,
            &Method::GET,
            "/orders",
            &HeaderMap::new(),
            Some(TOKEN),
            later,
        )
        .unwrap();
    assert!(checked.fresh_nonce_due());
}

#[tokio::test]
async fn a_proof_is_reserved_once() {
    let store: Arc<dyn crate::store::Store> = Arc::new(MemoryStore::new());
    let a = DpopChecker::builder(URL)
        .replay_store(Arc::clone(&store))
        .build()
        .unwrap();
    let b = DpopChecker::builder(URL)
        .replay_store(store)
        .build()
        .unwrap();
    let proof = key().proof_at("GET", HTU, Some(TOKEN), None, NOW).unwrap();
    let checked = check(&a, &proof).unwrap();
    a.reserve(&checked, NOW).await.unwrap();
    // The same proof, on the same or another instance sharing the store.
    for checker in [&a, &b] {
        let again = check(checker, &proof).unwrap();
        assert_eq!(
            checker.reserve(&again, NOW).await.unwrap_err().kind(),
            K::DpopReplay
        );
    }
}

#[tokio::test]
async fn a_store_that_cannot_mark_refuses_closed() {
    use crate::revoke::Revocation;
    use crate::store::{Family, Rotation, StoreError};
    /// A store with only the required methods: `mark_once`'s default errs.
    struct NoMarks;
    #[async_trait::async_trait]
    impl crate::store::Store for NoMarks {
        async fn create_family(&self, _: &Family, _: &str) -> Result<(), StoreError> {
            Ok(())
        }
        async fn rotate(&self, _: &str, _: &str, _: i64) -> Result<Rotation, StoreError> {
            Ok(Rotation::Unknown)
        }
        async fn revoke_family(&self, _: &str) -> Result<Option<Family>, StoreError> {
            Ok(None)
        }
        async fn revoke(&self, _: Revocation) -> Result<(), StoreError> {
            Ok(())
        }
        async fn revocations(&self) -> Result<Vec<Revocation>, StoreError> {
            Ok(Vec::new())
        }
        fn follow(&self, _: &crate::revoke::Revocations) {}
    }
    let checker = DpopChecker::builder(URL)
        .replay_store(Arc::new(NoMarks))
        .build()
        .unwrap();
    let proof = key().proof_at("GET", HTU, Some(TOKEN), None, NOW).unwrap();
    let checked = check(&checker, &proof).unwrap();
    assert_eq!(
        checker.reserve(&checked, NOW).await.unwrap_err().kind(),
        K::ReplayStoreUnavailable
    );
}

#[test]
fn every_dpop_kind_has_its_category() {
    use crate::ErrorCategory as C;
    assert_eq!(K::DpopMultipleProofs.category(), C::InvalidRequest);
    assert_eq!(K::DpopSignature.category(), C::InvalidDpopProof);
    assert_eq!(K::DpopNonceRequired.category(), C::UseDpopNonce);
    assert_eq!(K::DpopBoundTokenAsBearer.category(), C::InvalidToken);
    assert_eq!(K::CertificateMismatch.category(), C::InvalidToken);
    assert_eq!(K::ReplayStoreUnavailable.category(), C::Unavailable);
    assert_eq!(C::InvalidDpopProof.error_code(), Some("invalid_dpop_proof"));
    assert_eq!(C::UseDpopNonce.error_code(), Some("use_dpop_nonce"));
}
