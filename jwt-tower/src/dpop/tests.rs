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
            "an RSA private member",
            Box::new(|h| h["jwk"]["qi"] = json!("AAAA")),
        ),
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

/// The HTTP forms of DPoP refusals (RFC 9449 §7.1): which challenges, in which order,
/// which one carries the error, and the nonce header.
mod answers {
    use bytes::Bytes;
    use http::Response;

    use super::*;
    use crate::reject::DefaultRejection;
    use crate::{AuthError, ProtectedResourceMetadata};

    fn answer(error: AuthError) -> (u16, Vec<String>, Option<String>) {
        let response: Response<Bytes> = DefaultRejection::default().response(&error);
        let challenges = response
            .headers()
            .get_all("www-authenticate")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let nonce = response
            .headers()
            .get("dpop-nonce")
            .map(|v| v.to_str().unwrap().to_owned());
        (response.status().as_u16(), challenges, nonce)
    }

    fn challenge(mode: DpopMode) -> DpopChallenge {
        DpopChallenge::new(mode, "ES256 EdDSA")
    }

    #[test]
    fn allowed_mode_sends_bearer_then_dpop() {
        let (status, challenges, nonce) = answer(
            AuthError::new(K::DpopSignature)
                .with_dpop(challenge(DpopMode::Allowed).for_dpop_request()),
        );
        assert_eq!(status, 401);
        assert_eq!(
            challenges,
            [
                r#"Bearer realm="api""#,
                r#"DPoP realm="api", error="invalid_dpop_proof", error_description="the DPoP proof's signature is invalid", algs="ES256 EdDSA""#
            ]
        );
        assert_eq!(nonce, None);
        // A Bearer request's token error stays in the Bearer challenge.
        let (_, challenges, _) =
            answer(AuthError::new(K::Expired).with_dpop(challenge(DpopMode::Allowed)));
        assert_eq!(
            challenges,
            [
                r#"Bearer realm="api", error="invalid_token", error_description="the token has expired""#,
                r#"DPoP realm="api", algs="ES256 EdDSA""#
            ]
        );
        // A DPoP request's token error goes in the DPoP challenge.
        let (_, challenges, _) = answer(
            AuthError::new(K::Expired).with_dpop(challenge(DpopMode::Allowed).for_dpop_request()),
        );
        assert_eq!(
            challenges[1],
            r#"DPoP realm="api", error="invalid_token", error_description="the token has expired", algs="ES256 EdDSA""#
        );
    }

    #[test]
    fn required_mode_sends_dpop_alone_and_a_nonce_when_asked() {
        let (status, challenges, nonce) = answer(
            AuthError::new(K::DpopNonceRequired)
                .with_dpop(challenge(DpopMode::Required).with_nonce("n-1")),
        );
        assert_eq!(status, 401);
        assert_eq!(
            challenges,
            [
                r#"DPoP realm="api", error="use_dpop_nonce", error_description="the DPoP proof must carry the server's nonce", algs="ES256 EdDSA""#
            ]
        );
        assert_eq!(nonce.as_deref(), Some("n-1"));
        let (status, challenges, _) =
            answer(AuthError::new(K::MissingToken).with_dpop(challenge(DpopMode::Required)));
        assert_eq!(
            (status, challenges),
            (
                401,
                vec![r#"DPoP realm="api", algs="ES256 EdDSA""#.to_owned()]
            )
        );
    }

    #[test]
    fn two_proofs_are_a_bad_request_and_the_store_down_is_503() {
        let (status, challenges, _) =
            answer(AuthError::new(K::DpopMultipleProofs).with_dpop(challenge(DpopMode::Required)));
        assert_eq!(status, 400);
        assert!(challenges[0].starts_with(r#"DPoP realm="api", error="invalid_request""#));
        let (status, challenges, _) = answer(
            AuthError::new(K::ReplayStoreUnavailable).with_dpop(challenge(DpopMode::Required)),
        );
        assert_eq!((status, challenges.len()), (503, 0));
    }

    #[test]
    fn resource_metadata_ends_both_challenges() {
        let metadata = ProtectedResourceMetadata::builder("https://api.example.com")
            .build()
            .unwrap();
        let response: Response<Bytes> = DefaultRejection::default()
            .resource_metadata(&metadata)
            .response(&AuthError::new(K::MissingToken).with_dpop(challenge(DpopMode::Allowed)));
        let url =
            r#"resource_metadata="https://api.example.com/.well-known/oauth-protected-resource""#;
        let challenges: Vec<_> = response
            .headers()
            .get_all("www-authenticate")
            .iter()
            .collect();
        assert_eq!(challenges.len(), 2);
        for c in challenges {
            assert!(c.to_str().unwrap().ends_with(url), "{c:?}");
        }
    }

    #[test]
    fn off_mode_answers_as_without_dpop() {
        let plain = answer(AuthError::new(K::DpopBoundTokenAsBearer));
        let off =
            answer(AuthError::new(K::DpopBoundTokenAsBearer).with_dpop(challenge(DpopMode::Off)));
        assert_eq!(plain, off);
        assert_eq!(
            plain.1,
            [
                r#"Bearer realm="api", error="invalid_token", error_description="a DPoP-bound token cannot be used as a bearer token""#
            ]
        );
    }
}

/// The authenticator over requests built here: each DPoP refusal is counted under its
/// kind, and a request is admitted only after its proof is reserved.
mod authenticator {
    use http::Request;

    use super::*;
    use crate::auth::{Admission, Authenticator};
    use crate::issue::{SigningKey, TokenIssuer};
    use crate::{RegisteredClaims, Verifier};

    fn setup(mode: DpopMode) -> (TokenIssuer, Authenticator<RegisteredClaims>) {
        let issuer = TokenIssuer::builder(
            "https://auth.test",
            SigningKey::generate(Algorithm::ES256).unwrap(),
        )
        .build();
        let verifier = Verifier::builder(issuer.keys())
            .algorithms([Algorithm::ES256])
            .build()
            .unwrap();
        let checker = DpopChecker::builder(URL).mode(mode).build().unwrap();
        (issuer, Authenticator::new(verifier).dpop(checker))
    }

    fn request(token: &str, proof: &str) -> Request<()> {
        Request::get("/orders")
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof)
            .body(())
            .unwrap()
    }

    #[tokio::test]
    async fn admitted_after_reservation_and_refusals_counted() {
        let (issuer, authenticator) = setup(DpopMode::Allowed);
        let key = key();
        let token = issuer
            .issue("alice", json!({"cnf": {"jkt": key.thumbprint()}}))
            .unwrap()
            .token;
        let proof = key.proof("GET", HTU, Some(&token), None).unwrap();
        let Admission::Pending(pending) = authenticator
            .authenticate(&request(&token, &proof))
            .unwrap()
        else {
            panic!("a DPoP request is pending its reservation");
        };
        assert_eq!(pending.proof().jkt(), key.thumbprint());
        let admitted = authenticator.reserve(pending).await.unwrap();
        assert_eq!(admitted.subject(), Some("alice"));
        assert_eq!(
            admitted.confirmation().unwrap().jkt(),
            Some(key.thumbprint())
        );

        let again = authenticator
            .authenticate_waiting(&request(&token, &proof))
            .await;
        assert_eq!(again.unwrap_err().kind(), K::DpopReplay);
        let wrong = key.proof("POST", HTU, Some(&token), None).unwrap();
        assert_eq!(
            authenticator
                .authenticate(&request(&token, &wrong))
                .unwrap_err()
                .kind(),
            K::DpopMethod
        );
        let bearer = Request::get("/orders")
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .unwrap();
        let refused = authenticator.authenticate(&bearer).unwrap_err();
        assert_eq!(refused.kind(), K::DpopBoundTokenAsBearer);
        assert_eq!(refused.dpop().unwrap().mode(), DpopMode::Allowed);
        let metrics = authenticator.verifier().metrics();
        for kind in [K::DpopReplay, K::DpopMethod, K::DpopBoundTokenAsBearer] {
            assert_eq!(metrics.rejected(kind), 1, "{kind}");
        }
    }
}
