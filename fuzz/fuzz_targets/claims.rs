//! `claims`: a token's claims through the public API, behind a valid HS256 signature.
//!
//! The first input byte picks the verifier (which claim holds roles, which claims are
//! required) and whether the rest is the claims' JSON bytes, which the target encodes, or
//! (high bit set) the payload's base64url text as is. The token is signed properly, so
//! `Verifier::verify` reaches the payload's decoding and the claim checks.
//!
//! Asserts, besides never panicking, that the verifier accepts exactly when an
//! independent reading of the payload says it should: canonical unpadded base64url
//! (the `base64` crate's `URL_SAFE_NO_PAD`), UTF-8, a JSON object with no member name twice
//! in any object and nested at most `MAX_JSON_DEPTH` deep (serde_json, with the checks
//! written out here), registered claims of the right types (`RegisteredClaims` as serde
//! reads it; `scp` and the roles claim a string or an array of strings; `cnf` an object
//! whose `jkt` and `x5t#S256` are strings; `act` an object with a string `sub`, a string
//! `iss` if any and at most `MAX_ACTOR_DEPTH` actors nested, its strings free of control
//! characters), no control
//! character in an identity claim, the time checks with the default leeway, and the
//! required claims present. It refuses with the kind that reading gives (`malformed` or
//! `invalid_claim` when the JSON breaks a rule, since one pass finds either first), and an
//! accepted token's claims and identity are what serde reads.
#![no_main]

use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;
use jwt_tower::verify::{MAX_ACTOR_DEPTH, MAX_JSON_DEPTH};
use jwt_tower::{Algorithm, RegisteredClaims, RejectionKind, VerificationKey, Verifier};
use libfuzzer_sys::fuzz_target;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;
/// The verifier's default leeway, in seconds.
const LEEWAY: i64 = 30;
const ROLES_CLAIMS: [&str; 5] = ["roles", "groups", "sub", "aud", ""];
const REQUIRED: [&[&str]; 4] = [
    &[],
    &["sub"],
    &["sub", "tenant", "groups", "exp"],
    &["", "x", "roles", "iat", "jti"],
];
/// The claims the verifier reads itself, before any roles claim of the same name.
const REGISTERED: [&str; 11] = [
    "iss", "sub", "jti", "scope", "aud", "scp", "exp", "nbf", "iat", "cnf", "act",
];

struct Fixture {
    /// One per roles claim and set of required claims: `verifiers[roles * 4 + required]`.
    verifiers: Vec<Verifier<RegisteredClaims>>,
    signing: EncodingKey,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    let mut verifiers = Vec::new();
    for roles in ROLES_CLAIMS {
        for required in REQUIRED {
            let key = VerificationKey::hmac(Algorithm::HS256, SECRET).unwrap();
            verifiers.push(
                Verifier::builder(key)
                    .algorithms([Algorithm::HS256])
                    .accept_any_audience()
                    .require_exp(false)
                    .roles_claim(roles)
                    .require_claims(required.iter().copied())
                    .build()
                    .unwrap(),
            );
        }
    }
    Fixture {
        verifiers,
        signing: EncodingKey::from_secret(SECRET).expect("a non-empty secret"),
    }
});

/// Reads any JSON value, refusing an object that names a member twice and nesting
/// deeper than `MAX_JSON_DEPTH` (the top level counts as 1).
struct Strict {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let depth = self.depth + 1;
        if depth > MAX_JSON_DEPTH {
            return Err(de::Error::custom("too deep"));
        }
        while seq.next_element_seed(Strict { depth })?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let depth = self.depth + 1;
        if depth > MAX_JSON_DEPTH {
            return Err(de::Error::custom("too deep"));
        }
        let mut names = HashSet::new();
        while let Some(name) = map.next_key::<String>()? {
            if !names.insert(name) {
                return Err(de::Error::custom("a member named twice"));
            }
            map.next_value_seed(Strict { depth })?;
        }
        Ok(())
    }
}

/// Whether `text` is one JSON object read strictly (see [`Strict`]).
fn strictly_an_object(text: &str) -> bool {
    if !text
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with('{')
    {
        return false;
    }
    let mut de = serde_json::Deserializer::from_str(text);
    Strict { depth: 0 }.deserialize(&mut de).is_ok() && de.end().is_ok()
}

/// A string, or an array of strings (`null` is absent): `Err` for any other type.
fn strings(value: Option<&Value>) -> Result<Vec<&str>, ()> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(one)) => Ok(vec![one.as_str()]),
        Some(Value::Array(items)) => items.iter().map(|v| v.as_str().ok_or(())).collect(),
        Some(_) => Err(()),
    }
}

/// A string or `null` (absent): `Err` for any other type.
fn optional_string(value: Option<&Value>) -> Result<Option<&str>, ()> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(()),
    }
}

/// Whether `cnf` is absent, `null`, or an object whose `jkt` and `x5t#S256` are strings.
fn confirmation_ok(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::Object(cnf)) => {
            optional_string(cnf.get("jkt")).is_ok() && optional_string(cnf.get("x5t#S256")).is_ok()
        }
        Some(_) => false,
    }
}

/// The `sub`s of the `act` chain, outermost first (empty when absent or `null`); `Err`
/// when it is not an object with a `sub` string, an `iss` string if any, no control
/// character in either, and at most `MAX_ACTOR_DEPTH` actors.
fn actors(value: Option<&Value>) -> Result<Vec<String>, ()> {
    let mut chain = Vec::new();
    let mut next = value;
    loop {
        let act = match next {
            None | Some(Value::Null) => return Ok(chain),
            Some(Value::Object(act)) => act,
            Some(_) => return Err(()),
        };
        let sub = optional_string(act.get("sub"))?.ok_or(())?;
        let iss = optional_string(act.get("iss"))?;
        if chain.len() == MAX_ACTOR_DEPTH
            || [Some(sub), iss]
                .into_iter()
                .flatten()
                .any(|s| s.chars().any(char::is_control))
        {
            return Err(());
        }
        chain.push(sub.to_owned());
        next = act.get("act");
    }
}

/// What the verifier must answer for these claims, read apart from it.
enum Expected {
    Accept {
        claims: RegisteredClaims,
        scopes: Vec<String>,
        roles: Vec<String>,
        actors: Vec<String>,
    },
    /// Refused with one of these kinds.
    Refuse(&'static [RejectionKind]),
    /// Too close to an instant a time check flips at: either answer.
    Either,
}

const MALFORMED: &[RejectionKind] = &[RejectionKind::Malformed];
const BROKEN_JSON: &[RejectionKind] = &[RejectionKind::Malformed, RejectionKind::InvalidClaim];
const INVALID_CLAIM: &[RejectionKind] = &[RejectionKind::InvalidClaim];
const EXPIRED: &[RejectionKind] = &[RejectionKind::Expired];
const NOT_YET_VALID: &[RejectionKind] = &[RejectionKind::NotYetValid];
const MISSING: &[RejectionKind] = &[RejectionKind::MissingClaim];

fn expected(payload_b64: &str, roles_claim: &str, required: &[&str], now: i64) -> Expected {
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(payload_b64) else {
        return Expected::Refuse(MALFORMED);
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Expected::Refuse(MALFORMED);
    };
    if !strictly_an_object(text) {
        return Expected::Refuse(BROKEN_JSON);
    }
    let members: Map<String, Value> = serde_json::from_str(text).expect("a strict object");
    let Ok(claims) = serde_json::from_str::<RegisteredClaims>(text) else {
        return Expected::Refuse(INVALID_CLAIM);
    };
    let roles_value = (!REGISTERED.contains(&roles_claim))
        .then(|| members.get(roles_claim))
        .flatten();
    let (Ok(scp), Ok(roles)) = (strings(members.get("scp")), strings(roles_value)) else {
        return Expected::Refuse(INVALID_CLAIM);
    };
    let Ok(actors) = actors(members.get("act")) else {
        return Expected::Refuse(INVALID_CLAIM);
    };
    if !confirmation_ok(members.get("cnf")) {
        return Expected::Refuse(INVALID_CLAIM);
    }

    // The time checks, in the verifier's order; within 2 s of a flip, either answer.
    let near = |a: i64, b: i64| a.abs_diff(b) <= 2;
    if let Some(exp) = claims.exp {
        let limit = exp.saturating_add(LEEWAY);
        if near(now, limit) {
            return Expected::Either;
        }
        if now >= limit {
            return Expected::Refuse(EXPIRED);
        }
    }
    for (date, flips_at) in [
        (claims.nbf, claims.nbf.map(|nbf| nbf.saturating_sub(LEEWAY))),
        (claims.iat, claims.iat.map(|iat| iat.saturating_sub(LEEWAY))),
    ] {
        let (Some(_), Some(flips_at)) = (date, flips_at) else {
            continue;
        };
        if near(now, flips_at) {
            return Expected::Either;
        }
        if now < flips_at {
            return Expected::Refuse(NOT_YET_VALID);
        }
    }

    let audiences: Vec<&str> = match &claims.aud {
        None => Vec::new(),
        Some(jwt_tower::Audience::One(one)) => vec![one.as_str()],
        Some(jwt_tower::Audience::Many(many)) => many.iter().map(String::as_str).collect(),
    };
    let identity = [&claims.iss, &claims.sub, &claims.jti, &claims.scope]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .chain(audiences)
        .chain(scp.iter().copied())
        .chain(roles.iter().copied());
    if identity
        .into_iter()
        .any(|s| s.chars().any(char::is_control))
    {
        return Expected::Refuse(INVALID_CLAIM);
    }
    if required
        .iter()
        .any(|name| members.get(*name).is_none_or(Value::is_null))
    {
        return Expected::Refuse(MISSING);
    }

    let scopes = claims
        .scope
        .iter()
        .map(String::as_str)
        .chain(scp.iter().copied())
        .flat_map(|s| s.split(' '))
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let roles = roles.into_iter().map(str::to_owned).collect();
    Expected::Accept {
        claims,
        scopes,
        roles,
        actors,
    }
}

fuzz_target!(|input: &[u8]| {
    let f = &*FIXTURE;
    let Some((&config, rest)) = input.split_first() else {
        return;
    };
    let payload_b64 = if config & 0x80 == 0 {
        URL_SAFE_NO_PAD.encode(rest)
    } else {
        // The payload's text as given: a dot would make another token shape.
        match std::str::from_utf8(rest) {
            Ok(text) if !text.contains('.') => text.to_owned(),
            _ => return,
        }
    };
    let config = usize::from(config & 0x7f);
    let (roles_claim, required) = (ROLES_CLAIMS[config % 5], REQUIRED[(config / 5) % 4]);
    let verifier = &f.verifiers[(config % 5) * 4 + (config / 5) % 4];

    let mut token = URL_SAFE_NO_PAD.encode(HEADER);
    token.push('.');
    token.push_str(&payload_b64);
    let signature =
        jsonwebtoken::crypto::sign(token.as_bytes(), &f.signing, jsonwebtoken::Algorithm::HS256)
            .expect("signing");
    token.push('.');
    token.push_str(&signature);

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let result = verifier.verify(&token);
    if token.len() > verifier.max_token_len() {
        assert_eq!(
            result.map(|_| ()).map_err(|e| e.kind()),
            Err(RejectionKind::TokenTooLarge)
        );
        return;
    }
    match (expected(&payload_b64, roles_claim, required, now), result) {
        (Expected::Either, _) => {}
        (
            Expected::Accept {
                claims,
                scopes,
                roles,
                actors,
            },
            Ok(verified),
        ) => {
            assert_eq!(verified.claims(), &claims, "{token}");
            let identity = verified.identity();
            assert_eq!(identity.subject(), claims.sub.as_deref());
            assert_eq!(identity.issuer(), claims.iss.as_deref());
            assert_eq!(identity.token_id(), claims.jti.as_deref());
            assert_eq!(identity.expires_at(), claims.exp);
            assert_eq!(identity.issued_at(), claims.iat);
            assert_eq!(identity.token(), token);
            let ours: Vec<&str> = identity.scopes().iter().map(|s| &**s).collect();
            assert_eq!(ours, scopes, "{token}");
            let ours: Vec<&str> = identity.roles().iter().map(|s| &**s).collect();
            assert_eq!(ours, roles, "{token}");
            let ours: Vec<&str> = identity
                .actor()
                .into_iter()
                .flat_map(|a| a.chain())
                .map(|a| a.sub())
                .collect();
            assert_eq!(ours, actors, "{token}");
            assert_eq!(verified.header().unwrap().alg, Algorithm::HS256);
            assert_eq!(verified.header().unwrap().typ.as_deref(), Some("JWT"));
        }
        (Expected::Accept { .. }, Err(e)) => {
            panic!("refused ({:?}: {e}) what should pass: {token}", e.kind())
        }
        (Expected::Refuse(kinds), Ok(_)) => {
            panic!("accepted what should be refused as {kinds:?}: {token}")
        }
        (Expected::Refuse(kinds), Err(e)) => assert!(
            kinds.contains(&e.kind()),
            "refused as {:?} ({e}), expected {kinds:?}: {token}",
            e.kind()
        ),
    }
});
