//! Properties, over generated inputs (proptest):
//! - whatever a `TokenIssuer` signs (any subject, scopes, roles and extra claims, every
//!   algorithm) verifies with a `Verifier` over the issuer's keys, and over its published
//!   JWKS, and gives back exactly the claims it was given;
//! - any single-byte change to a signed token (any position, any other byte value) is
//!   refused, for HS256, RS256, PS256, ES256, ES384 and EdDSA.
//!
//! Case counts are modest so that a debug run takes seconds; `PROPTEST_CASES=N` runs more.

mod common;

use std::sync::LazyLock;

use common::*;
use jwt_tower::{Algorithm, KeySet, RegisteredClaims, Verifier};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::json;

/// `cases` unless `PROPTEST_CASES` says otherwise.
fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        // No regression files: a failure prints its minimal input.
        failure_persistence: None,
        ..Config::default()
    }
}

/// The algorithms of the single-byte property, with genuinely signed tokens (minted
/// once) and a verifier allowing them all over their keys.
const TAMPERED: [Algorithm; 6] = [
    Algorithm::HS256,
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

fn kid(alg: Algorithm) -> String {
    format!("{alg:?}").to_lowercase()
}

static SIGNED: LazyLock<(Verifier<RegisteredClaims>, Vec<String>)> = LazyLock::new(|| {
    let keys = KeySet::new(
        TAMPERED
            .iter()
            .map(|&alg| verification_key(alg).with_kid(kid(alg))),
    );
    let verifier = Verifier::builder(keys)
        .algorithms(TAMPERED)
        .issuer("https://issuer.test")
        .audience("api")
        .build()
        .unwrap();
    let claims = json!({
        "sub": "alice", "iss": "https://issuer.test", "aud": ["api", "web"],
        "exp": now() + 3600, "iat": now(), "scope": "read write", "roles": ["admin"],
        "note": "caf\u{e9} \"quoted\"",
    });
    let tokens: Vec<String> = TAMPERED
        .iter()
        .map(|&alg| mint(alg, Some(&kid(alg)), &claims))
        .collect();
    for token in &tokens {
        verifier.verify(token).expect("a genuine token verifies");
    }
    (verifier, tokens)
});

proptest! {
    #![proptest_config(config(1024))]

    /// A changed byte anywhere (header, payload, signature, a dot) is refused: the
    /// signature covers the first two parts, and each signature has one text only
    /// (strict base64url: no padding, no stray bits in the last character).
    #[test]
    fn any_single_byte_change_is_refused(
        which in 0..TAMPERED.len(),
        position in any::<prop::sample::Index>(),
        delta in 1..=255u8,
    ) {
        let (verifier, tokens) = &*SIGNED;
        let mut bytes = tokens[which].clone().into_bytes();
        let at = position.index(bytes.len());
        bytes[at] = bytes[at].wrapping_add(delta);
        // A change that breaks UTF-8 cannot even be handed to the verifier as text.
        if let Ok(tampered) = std::str::from_utf8(&bytes) {
            let result = verifier.verify(tampered);
            prop_assert!(
                result.is_err(),
                "{:?}: byte {} changed to {:#04x} and still accepted",
                TAMPERED[which], at, bytes[at]
            );
        }
    }
}

/// The issuing side needs the aws-lc-rs backend.
#[cfg(feature = "aws_lc_rs")]
mod issued {
    use std::collections::BTreeMap;

    use jwt_tower::algorithm::SUPPORTED;
    use jwt_tower::issue::{SigningKey, TokenIssuer};
    use serde_json::Value;

    use super::*;

    const ISSUER: &str = "https://auth.test";

    /// Claims the issuer sets itself, or the verifier reads with a type of its own.
    const RESERVED: [&str; 10] = [
        "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "scope", "scp", "roles",
    ];

    struct Case {
        alg: Algorithm,
        issuer: TokenIssuer,
        /// Over the issuer's live keys.
        local: Verifier<Value>,
        /// Over its published JWKS (none for HMAC, whose secrets are never published).
        remote: Option<Verifier<Value>>,
    }

    /// One issuer per supported algorithm. RSA keys come from the test key file (one
    /// RSA-2048 key for the six RSA algorithms: generating is slow in debug builds); the
    /// others are generated.
    static CASES: LazyLock<Vec<Case>> = LazyLock::new(|| {
        SUPPORTED
            .iter()
            .map(|&alg| {
                let key = match alg.family() {
                    jwt_tower::algorithm::AlgorithmFamily::Rsa => {
                        SigningKey::from_pem(alg, key_file("rsa2048-private.pem")).unwrap()
                    }
                    _ => SigningKey::generate(alg).unwrap(),
                };
                let issuer = TokenIssuer::builder(ISSUER, key)
                    .audience("api")
                    .audience("web")
                    .build();
                let verifier = |keys: jwt_tower::Keys| {
                    Verifier::builder(keys)
                        .algorithms([alg])
                        .issuer(ISSUER)
                        .audience("web")
                        .require_typ("at+jwt")
                        .require_claims(["sub", "jti", "iat", "nbf"])
                        .build()
                        .unwrap()
                };
                let local = verifier(issuer.keys());
                let jwks = issuer.jwks();
                let remote = (!jwks["keys"].as_array().unwrap().is_empty())
                    .then(|| verifier(KeySet::from_jwks_str(&jwks.to_string()).unwrap().into()));
                Case {
                    alg,
                    issuer,
                    local,
                    remote,
                }
            })
            .collect()
    });

    /// JSON values that survive a text round trip exactly (floats with a short exact
    /// decimal form: serde_json's default float parsing is not exact for all of them).
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1_000_000i32..1_000_000).prop_map(|n| Value::from(f64::from(n) / 8.0)),
            "(?s).{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map("(?s).{0,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn extra_claims() -> impl Strategy<Value = BTreeMap<String, Value>> {
        prop::collection::btree_map(
            "(?s).{1,10}".prop_filter("set by the issuer or typed", |k| {
                !RESERVED.contains(&k.as_str())
            }),
            json_value(),
            0..5,
        )
    }

    proptest! {
        #![proptest_config(config(128))]

        /// Issued, verified, and the same claims back, under every algorithm.
        #[test]
        fn whatever_the_issuer_signs_verifies_with_the_same_claims(
            which in 0..SUPPORTED.len(),
            // Identity strings without control characters, which the verifier refuses.
            subject in "[^\\p{Cc}]{0,24}",
            scopes in prop::collection::vec("[!#-\\[\\]-~]{1,12}", 0..4),
            roles in prop::collection::vec("[^\\p{Cc}]{0,10}", 0..3),
            extra in extra_claims(),
        ) {
            let case = &CASES[which];
            let mut claims: serde_json::Map<String, Value> = extra.clone().into_iter().collect();
            if !scopes.is_empty() {
                claims.insert("scope".into(), Value::from(scopes.join(" ")));
            }
            claims.insert("roles".into(), Value::from(roles.clone()));
            let issued = case.issuer.issue(&subject, &claims).unwrap();

            let mut verifiers = vec![&case.local];
            verifiers.extend(&case.remote);
            for verifier in verifiers {
                let verified = verifier.verify(&issued.token).map_err(|e| {
                    TestCaseError::fail(format!("{:?}: refused: {e}", case.alg))
                })?;
                let got = verified.claims();
                prop_assert_eq!(verified.header().unwrap().alg, case.alg);
                let key = case.issuer.current_key();
                prop_assert_eq!(verified.header().unwrap().kid.as_deref(), Some(key.kid()));
                prop_assert_eq!(verified.subject(), Some(subject.as_str()));
                prop_assert_eq!(&got["sub"], &Value::from(subject.as_str()));
                prop_assert_eq!(&got["iss"], &json!(ISSUER));
                prop_assert_eq!(&got["aud"], &json!(["api", "web"]));
                prop_assert_eq!(&got["jti"], &json!(issued.token_id));
                prop_assert_eq!(&got["exp"], &json!(issued.expires_at));
                for (name, value) in &extra {
                    prop_assert_eq!(&got[name.as_str()], value, "claim {:?}", name);
                }
                // Nothing more than what was given and what the issuer adds.
                let expected_len = extra.len()
                    + usize::from(!scopes.is_empty())
                    + 1 // roles
                    + 7; // iss, aud, sub, iat, nbf, exp, jti
                prop_assert_eq!(got.as_object().map(|o| o.len()), Some(expected_len));
                for scope in &scopes {
                    prop_assert!(verified.has_scope(scope), "scope {:?}", scope);
                }
                for role in &roles {
                    prop_assert!(verified.has_role(role), "role {:?}", role);
                }
                let identity = verified.identity();
                let got_roles: Vec<&str> = identity.roles().iter().map(|r| &**r).collect();
                prop_assert_eq!(got_roles, roles.iter().map(String::as_str).collect::<Vec<_>>());
            }
        }
    }
}
