//! `jwks`: arbitrary text parsed as a JWK (`VerificationKey::from_jwk_str`) and as a JWKS
//! document (`KeySet::from_jwks_str`, `KeySet::from_jwks_filtered` with several
//! allow-lists).
//!
//! Asserts, besides never panicking, that whatever parses is the key its JWK describes
//! (checked against the JSON itself, when no object in it repeats a member):
//! - its `kid` is the JWK's `kid`; it verifies at least one algorithm;
//! - a declared `alg` is exactly its one algorithm; otherwise the algorithms follow from
//!   `kty`/`crv`: RSA keys RS*/PS* only, with a modulus of at least 2048 bits; EC P-256
//!   ES256 and P-384 ES384 only, with coordinates of the curve's size; OKP Ed25519
//!   EdDSA and Ed25519 (RFC 9864's name for the same signature) only; `oct` HS* only, each with a secret at least as long as its hash;
//! - no key with a `use` other than `sig`, or with `key_ops` lacking `verify`, is ever
//!   loaded;
//! - an `oct` key round-trips: a token signed with its secret verifies under exactly the
//!   HS* algorithms the key claims, and no other;
//! - a JWKS loads or reports every element, loads only keys that load one by one, and a
//!   filtered JWKS only keys usable with an allowed algorithm.
#![no_main]

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_tower::algorithm::{AlgorithmSet, SUPPORTED, name};
use jwt_tower::{Algorithm, KeySet, VerificationKey, Verifier};
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

/// A JSON object's members in order, duplicates kept.
struct Entries(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Entries, M::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(V)
    }
}

impl Entries {
    /// The members as a map, `None` when one is repeated (readers may then differ on
    /// which one counts, and nothing is asserted).
    fn unique(self) -> Option<serde_json::Map<String, Value>> {
        let len = self.0.len();
        let map: serde_json::Map<String, Value> = self.0.into_iter().collect();
        (map.len() == len).then_some(map)
    }
}

/// Base64url as the JWK reader takes it (trailing `=` tolerated).
fn b64(value: Option<&Value>) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(value?.as_str()?.trim_end_matches('='))
        .ok()
}

fn min_secret_len(alg: Algorithm) -> usize {
    match alg {
        Algorithm::HS384 => 48,
        Algorithm::HS512 => 64,
        _ => 32,
    }
}

const HMAC: [Algorithm; 3] = [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];

fn set(algs: &[Algorithm]) -> AlgorithmSet {
    algs.iter().copied().collect()
}

/// Whether `key` is what `jwk` describes; the reason when it is not.
fn check_key(key: &VerificationKey, jwk: &serde_json::Map<String, Value>) -> Result<(), String> {
    let algs = key.algorithms();
    let list: Vec<&str> = algs.iter().map(name).collect();
    let fail = |why: &str| {
        Err(format!(
            "{why}: key algorithms {list:?}, kid {:?}",
            key.kid()
        ))
    };
    if key.kid() != jwk.get("kid").and_then(Value::as_str) {
        return fail("kid differs");
    }
    if algs.is_empty() {
        return fail("no algorithm");
    }
    if jwk.get("use").is_some_and(|u| u != "sig") {
        return fail("loaded a key whose `use` is not `sig`");
    }
    if let Some(ops) = jwk.get("key_ops").and_then(Value::as_array)
        && !ops.iter().any(|op| op == "verify")
    {
        return fail("loaded a key whose key_ops lack verify");
    }
    if let Some(declared) = jwk.get("alg").and_then(Value::as_str)
        && (list.len() != 1 || list[0] != declared)
    {
        return fail("declared alg is not the key's one algorithm");
    }
    let all_in = |family: &[Algorithm]| algs.iter().all(|a| family.contains(&a));
    match jwk.get("kty").and_then(Value::as_str) {
        Some("RSA") => {
            let rsa = [
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
            ];
            if !all_in(&rsa) {
                return fail("RSA key with a non-RSA algorithm");
            }
            let Some(n) = b64(jwk.get("n")) else {
                return fail("RSA key without a readable n");
            };
            let n: Vec<u8> = n.into_iter().skip_while(|b| *b == 0).collect();
            let bits = n
                .first()
                .map_or(0, |b| n.len() * 8 - b.leading_zeros() as usize);
            if bits < 2048 {
                return fail(&format!("RSA key of {bits} bits"));
            }
        }
        Some("EC") => {
            let (alg, size) = match jwk.get("crv").and_then(Value::as_str) {
                Some("P-256") => (Algorithm::ES256, 32),
                Some("P-384") => (Algorithm::ES384, 48),
                _ => return fail("EC key of an unsupported curve"),
            };
            if !all_in(&[alg]) {
                return fail("EC key with another algorithm than its curve's");
            }
            let (x, y) = (b64(jwk.get("x")), b64(jwk.get("y")));
            if x.map(|x| x.len()) != Some(size) || y.map(|y| y.len()) != Some(size) {
                return fail("EC coordinates of the wrong size");
            }
        }
        Some("OKP") => {
            if jwk.get("crv").and_then(Value::as_str) != Some("Ed25519")
                || !all_in(&[Algorithm::EdDSA, Algorithm::Ed25519])
            {
                return fail("OKP key that is not an Ed25519 EdDSA key");
            }
            if b64(jwk.get("x")).map(|x| x.len()) != Some(32) {
                return fail("Ed25519 key not 32 bytes");
            }
        }
        Some("oct") => {
            if !all_in(&HMAC) {
                return fail("oct key with a non-HMAC algorithm");
            }
            let Some(secret) = b64(jwk.get("k")) else {
                return fail("oct key without a readable k");
            };
            if algs.iter().any(|a| secret.len() < min_secret_len(a)) {
                return fail("HMAC secret shorter than its hash");
            }
            if !jwk.contains_key("alg") {
                let expected: Vec<Algorithm> = HMAC
                    .into_iter()
                    .filter(|a| secret.len() >= min_secret_len(*a))
                    .collect();
                if algs != set(&expected) {
                    return fail("oct key without alg: not every HS* its length allows");
                }
            }
            round_trip_hmac(key, &secret)?;
        }
        _ => return fail("loaded a key of an unknown kty"),
    }
    Ok(())
}

/// Tokens signed with the secret verify under exactly the key's algorithms.
fn round_trip_hmac(key: &VerificationKey, secret: &[u8]) -> Result<(), String> {
    let verifier = Verifier::<Value>::builder(key.clone())
        .algorithms(HMAC)
        .require_exp(false)
        .build()
        .map_err(|e| e.to_string())?;
    for alg in HMAC {
        let mut header = jsonwebtoken::Header::new(jwt_alg(alg));
        header.kid = key.kid().map(str::to_owned);
        let token = jsonwebtoken::encode(
            &header,
            &serde_json::json!({"sub": "fuzz"}),
            &jsonwebtoken::EncodingKey::from_secret(secret).map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
        let accepted = verifier.verify(&token).is_ok();
        if accepted != key.algorithms().contains(alg) {
            return Err(format!(
                "{} token accepted: {accepted}, key {key:?}",
                name(alg)
            ));
        }
    }
    Ok(())
}

fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    });
}

fuzz_target!(|input: &[u8]| {
    init();
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };

    // One JWK.
    if let Ok(key) = VerificationKey::from_jwk_str(text)
        && let Some(jwk) = serde_json::from_str::<Entries>(text)
            .ok()
            .and_then(Entries::unique)
        && let Err(why) = check_key(&key, &jwk)
    {
        panic!("{why}\n{text}");
    }

    // A JWKS document, each key as its raw text.
    #[derive(Deserialize)]
    struct Document<'a> {
        #[serde(borrow)]
        keys: Vec<&'a RawValue>,
    }
    let document = serde_json::from_str::<Document<'_>>(text).ok();
    // The objects among the keys, `None` when one of them repeats a member.
    let elements: Option<Vec<serde_json::Map<String, Value>>> = document.as_ref().and_then(|d| {
        d.keys
            .iter()
            .filter_map(|k| serde_json::from_str::<Entries>(k.get()).ok())
            .map(Entries::unique)
            .collect()
    });
    let all = KeySet::from_jwks_filtered(text, None);
    assert_eq!(
        all.is_ok(),
        KeySet::from_jwks_str(text).is_ok(),
        "from_jwks_str and from_jwks_filtered(None) disagree"
    );
    for allowed in [
        None,
        Some(set(&[Algorithm::RS256])),
        Some(set(&[Algorithm::ES256, Algorithm::EdDSA])),
        Some(set(&HMAC)),
        Some(SUPPORTED.into_iter().collect()),
    ] {
        let Ok((keys, skipped)) = KeySet::from_jwks_filtered(text, allowed) else {
            continue;
        };
        let document = document
            .as_ref()
            .expect("a JWKS loaded that is no {keys: [..]} document");
        assert!(!keys.is_empty(), "an empty set loaded");
        assert!(keys.len() + skipped.len() <= document.keys.len());
        for kid in keys.kids() {
            let key = keys.get(Some(kid)).expect("a listed kid has its key");
            if let Some(allowed) = allowed {
                assert!(
                    !key.algorithms().intersection(allowed).is_empty(),
                    "a key outside the allow-list loaded: {key:?}"
                );
            }
            // The key is the one some element with its kid describes.
            if let Some(elements) = &elements {
                let reasons: Vec<String> = elements
                    .iter()
                    .filter(|e| e.get("kid").and_then(Value::as_str) == Some(kid))
                    .map(|e| check_key(key, e).err().unwrap_or_default())
                    .collect();
                assert!(
                    reasons.iter().any(String::is_empty),
                    "key {kid:?} is described by no element: {reasons:?}\n{text}"
                );
            }
        }
        // Every element is either loaded or reported; without an allow-list, only
        // elements that load alone load here (fewer when their kid names several keys,
        // or they have no kid among several keys).
        assert_eq!(
            keys.len() + skipped.len(),
            document.keys.len(),
            "{skipped:?}\n{text}"
        );
        if allowed.is_none() && elements.is_some() {
            let loadable = document
                .keys
                .iter()
                .filter(|k| VerificationKey::from_jwk_str(k.get()).is_ok())
                .count();
            assert!(keys.len() <= loadable, "{skipped:?}\n{text}");
        }
    }
});

/// The same algorithm as jsonwebtoken, the oracle, names it.
fn jwt_alg(alg: Algorithm) -> jsonwebtoken::Algorithm {
    alg.name().parse().expect("the same JOSE names")
}
