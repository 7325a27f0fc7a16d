//! The verification pipeline: shape → header → key → signature → claims → custom
//! checks, for a token the cache did not answer.

use std::any::{Any, TypeId};
use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::base64url;
use super::cache::Window;
use super::claims::{BorrowedStr, ClaimsView, RegisteredClaims, ViewSeed};
use super::decode::{
    Part, claims_view, decode_part, described, json_error, reject, strict_error, utf8,
};
use super::header::{self, CheckedHeader, HeaderSeed};
use super::strict;
use super::verified::{Facts, VerifiedToken};
use super::verifier::Verifier;
use crate::algorithm;
use crate::{AuthError, RejectionKind};

/// The largest signature we decode: RSA-8192.
const MAX_SIGNATURE_LEN: usize = 1024;
/// Stack room for the decoded header: real headers are well under 200 bytes.
const HEADER_STACK_LEN: usize = 256;
/// Stack room for the decoded claims: typical access tokens fit, larger ones are decoded
/// onto the heap.
pub(super) const PAYLOAD_STACK_LEN: usize = 2048;

/// How many distinct headers `Config::recent_headers` keeps (at most; two can share a
/// slot).
pub(super) const HEADER_SLOTS: usize = 4;

/// A token that just passed the full verification.
pub(super) struct Fresh<C> {
    pub(super) token: VerifiedToken<C>,
    /// The key set that verified it.
    pub(super) generation: u64,
    /// When it may be served from the cache (`None`: never, or no cache).
    pub(super) window: Option<Window>,
}

/// Whether `C` is [`RegisteredClaims`]: then every one of its fields is in the token's
/// facts (the claims view, read from the whole payload), so parsing the JSON again would
/// only repeat it, and the claims are built from the facts on first use only.
///
/// Measured to pay: parsing the payload again with serde for `RegisteredClaims` instead
/// costs 6,000 more instructions of an HS256 `GET /me` of 50,600 (11.8%;
/// `benches/load/instructions.sh HS256`, both builds counted in one run).
fn is_registered<C: 'static>() -> bool {
    TypeId::of::<C>() == TypeId::of::<RegisteredClaims>()
}

/// The claims of `facts` as `C`, for a `C` that [`is_registered`]: the builder handed to
/// [`VerifiedToken::lazy`] for it.
fn registered_from_facts<C: 'static>(facts: &Facts) -> C {
    let mut claims = Some(facts.registered_claims());
    (&mut claims as &mut dyn Any)
        .downcast_mut::<Option<C>>()
        .and_then(Option::take)
        .expect("only used when `C` is `RegisteredClaims`")
}

impl<C> Verifier<C> {
    /// Decodes and checks a header: JSON, not encrypted, `alg` allowed, no `crit`, the
    /// required `typ`. The outcome depends on the header's bytes and this verifier's
    /// (fixed) rules only, which is what lets `verify` reuse it for identical bytes.
    pub(super) fn check_header(&self, header_b64: &str) -> Result<CheckedHeader, AuthError> {
        let c = &*self.inner;
        let mut header_stack = [0u8; HEADER_STACK_LEN];
        let header_json = decode_part(header_b64, &mut header_stack)?;
        let header_text = utf8(&header_json, Part::Header)?;
        let raw = strict::read_object(header_text, HeaderSeed).map_err(|e| {
            strict_error(&e, Part::Header).unwrap_or_else(|| {
                described(RejectionKind::Malformed, "the token header is not valid")
            })
        })?;
        if raw.enc {
            return Err(reject(RejectionKind::Encrypted));
        }
        let alg = raw
            .alg
            .as_ref()
            .and_then(|name| algorithm::from_header(&name.0))
            .filter(|alg| c.algorithms.contains(*alg))
            .ok_or_else(|| reject(RejectionKind::AlgorithmNotAllowed))?;
        if raw.crit.is_some() {
            // We implement no JWS extension, so any listed one is unknown (RFC 7515 §4.1.11);
            // an empty list is forbidden outright.
            return Err(reject(RejectionKind::UnsupportedCritical));
        }
        if raw
            .cty
            .as_ref()
            .is_some_and(|cty| header::is_nested_jwt(&cty.0))
        {
            // A nested JWT's claims are another token, which we would have to unwrap and
            // verify in turn (RFC 7519 §5.2); its outer claims are not the claims.
            return Err(described(
                RejectionKind::InvalidType,
                "nested tokens (`cty: JWT`) are not accepted",
            ));
        }
        if let Some(required) = &c.required_typ {
            let ok = raw
                .typ
                .as_ref()
                .is_some_and(|typ| header::typ_matches(&typ.0, required));
            if !ok {
                return Err(reject(RejectionKind::InvalidType));
            }
        }
        let owned = |s: &Option<BorrowedStr<'_>>| s.as_ref().map(|s| Box::<str>::from(&*s.0));
        Ok(CheckedHeader {
            b64: header_b64.into(),
            alg,
            kid: owned(&raw.kid),
            typ: owned(&raw.typ),
            cty: owned(&raw.cty),
        })
    }
}

impl<C: DeserializeOwned + 'static> Verifier<C> {
    /// The full verification: header, key, signature, claims. Also says under which key
    /// set it passed, and how long the time checks will keep passing (for the cache).
    pub(super) fn verify_signed(&self, token: &str) -> Result<Fresh<C>, AuthError> {
        let c = &*self.inner;
        // A JWS has two dots, a JWE four (RFC 7516 §9), anything else is no token.
        let malformed = || reject(RejectionKind::Malformed);
        // One vectorised pass finds the dots (memchr; `str::split_once` searched twice).
        let mut dots = memchr::memchr_iter(b'.', token.as_bytes());
        let (Some(first), Some(second)) = (dots.next(), dots.next()) else {
            return Err(malformed());
        };
        if dots.next().is_some() {
            return Err(match dots.count() {
                1 => reject(RejectionKind::Encrypted),
                _ => malformed(),
            });
        }
        // The dots are ASCII, so these are character boundaries.
        let (header_b64, payload_b64, signature_b64) = (
            &token[..first],
            &token[first + 1..second],
            &token[second + 1..],
        );

        // Header: the one checked before when the bytes are the same (see
        // `Config::recent_headers`), else decoded and checked now.
        let slot = &c.recent_headers
            [(c.header_hasher.hash_one(header_b64.as_bytes()) as usize) % HEADER_SLOTS];
        let last = slot.load();
        let fresh = match last.as_deref() {
            Some(last) if *last.b64 == *header_b64 => None,
            _ => Some(Arc::new(self.check_header(header_b64)?)),
        };
        let header = match (&fresh, last.as_deref()) {
            (Some(fresh), _) => &**fresh,
            (None, Some(last)) => last,
            (None, None) => unreachable!("`fresh` is only `None` when `last` matched"),
        };
        let alg = header.alg;

        // Key and signature.
        let keys = c.keys.load();
        let Some(set) = keys.as_deref() else {
            return Err(reject(RejectionKind::KeysUnavailable));
        };
        let generation = set.generation();
        let key = set
            .get(header.kid.as_deref())
            .ok_or_else(|| reject(RejectionKind::UnknownKey))?;
        if !key.algorithms().contains(alg) {
            return Err(described(
                RejectionKind::AlgorithmNotAllowed,
                "the token's algorithm does not match its key",
            ));
        }
        let mut signature = [0u8; MAX_SIGNATURE_LEN];
        if signature_b64.len() > MAX_SIGNATURE_LEN * 4 / 3 + 4 {
            return Err(reject(RejectionKind::InvalidSignature));
        }
        let sig_len = base64url::decode(signature_b64.as_bytes(), &mut signature)
            .ok_or_else(|| reject(RejectionKind::Malformed))?;
        let signing_input = &token.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
        if !key.verify(alg, signing_input, &signature[..sig_len]) {
            return Err(reject(RejectionKind::InvalidSignature));
        }
        // Remembered only once its signature verified: tokens nobody signed cannot push
        // the issuer's header out.
        if let Some(fresh) = &fresh {
            slot.store(Some(Arc::clone(fresh)));
        }
        drop(keys);

        let mut payload_stack = [0u8; PAYLOAD_STACK_LEN];
        let payload = decode_part(payload_b64, &mut payload_stack)?;
        let payload = utf8(&payload, Part::Claims)?;
        let (verified, window) =
            self.accept_claims(token, Some(header), payload, c.cache.is_some())?;
        self.run_checks(&verified)?;

        Ok(Fresh {
            token: verified,
            generation,
            window,
        })
    }

    /// The claims of a token whose origin is established (its signature verified, or
    /// the introspection endpoint vouched for it): read strictly, checked, and handed
    /// over as `C`; the custom checks are left to the caller. With `window`, also says
    /// when the time checks pass (see [`valid_window`](Self::valid_window)).
    pub(super) fn accept_claims(
        &self,
        token: &str,
        header: Option<&CheckedHeader>,
        payload: &str,
        window: bool,
    ) -> Result<(VerifiedToken<C>, Option<Window>), AuthError> {
        let c = &*self.inner;
        // First the registered claims, borrowed, then the caller's type.
        let seed = ViewSeed {
            required: &c.required_claims,
            roles_claim: Some(&c.roles_claim),
        };
        // Read strictly: `C` below reads the same JSON, which then has one meaning.
        let view = claims_view(payload, seed)?;
        self.check_claims(&view)?;
        let verified = if is_registered::<C>() {
            VerifiedToken::lazy(Facts::new(token, header, &view), registered_from_facts::<C>)
        } else {
            let claims: C = serde_json::from_str(payload)
                .map_err(|e| json_error(&e, "the claims do not have the expected shape"))?;
            VerifiedToken::new(Facts::new(token, header, &view), claims)
        };
        Ok((verified, window.then(|| self.valid_window(&view)).flatten()))
    }

    /// The custom checks, on the claims (built now if they are built lazily and there is
    /// a check to read them).
    pub(super) fn run_checks(&self, verified: &VerifiedToken<C>) -> Result<(), AuthError> {
        for check in &self.inner.checks {
            check(verified.claims())
                .map_err(|why| AuthError::with_description(RejectionKind::Rejected, why))?;
        }
        Ok(())
    }

    /// When `check_claims` passes for these claims: from `nbf` (and a max age's `iat`),
    /// less the leeway, until `exp` (or the max age) plus the leeway. Tokens without
    /// `exp` get none: nothing bounds how long they would sit in the cache.
    pub(super) fn valid_window(&self, view: &ClaimsView<'_>) -> Option<Window> {
        let c = &*self.inner;
        // Rejected when `now >= exp + leeway`.
        let mut valid_until = view.exp?.saturating_add(c.leeway);
        let mut not_before = i64::MIN;
        if c.validate_nbf
            && let Some(nbf) = view.nbf
        {
            // Rejected when `now + leeway < nbf`.
            not_before = nbf.saturating_sub(c.leeway);
        }
        if let Some(iat) = view.iat {
            // Rejected when `iat > now + leeway`.
            not_before = not_before.max(iat.saturating_sub(c.leeway));
            if let Some(max_age) = c.max_age {
                // Rejected when `now - iat > max_age + leeway`.
                let last = iat.saturating_add(max_age).saturating_add(c.leeway);
                valid_until = valid_until.min(last.saturating_add(1));
            }
        }
        Some(Window {
            not_before,
            valid_until,
        })
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header};

    use crate::{
        Algorithm, KeySet, Keys, RegisteredClaims, RejectionKind, VerificationKey, Verifier,
        VerifierBuilder,
    };

    /// Tests mint with jsonwebtoken, which panics when both of its backends are enabled
    /// (as in the RustCrypto test run, where dev-dependencies add aws-lc-rs): pin one.
    fn pin_jsonwebtoken_backend() {
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    }

    fn mint(typ: &str, secret: &[u8]) -> String {
        pin_jsonwebtoken_backend();
        let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some("k1".into());
        header.typ = Some(typ.into());
        let claims = serde_json::json!({"sub": "alice", "exp": 4_000_000_000u64});
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret).unwrap()).unwrap()
    }

    /// A verifier builder for HS256 tokens over `secret`, as [`mint_bytes`] signs them.
    fn hs256<C>(secret: &[u8]) -> VerifierBuilder<C> {
        Verifier::<C>::builder(VerificationKey::hmac(Algorithm::HS256, secret).unwrap())
            .algorithms([Algorithm::HS256])
    }

    fn key(secret: &[u8]) -> VerificationKey {
        VerificationKey::hmac(Algorithm::HS256, secret)
            .unwrap()
            .with_kid("k1")
    }

    /// An HS256 token over exactly these payload bytes (which need not be UTF-8).
    fn mint_bytes(payload: &[u8], secret: &[u8]) -> String {
        pin_jsonwebtoken_backend();
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let key = EncodingKey::from_secret(secret).unwrap();
        let signature = jsonwebtoken::crypto::sign(
            signing_input.as_bytes(),
            &key,
            jsonwebtoken::Algorithm::HS256,
        )
        .unwrap();
        format!("{signing_input}.{signature}")
    }

    /// Claims that are not UTF-8 are not JSON (RFC 8259 §8.1): malformed, whether the
    /// invalid bytes sit in a claim nobody reads or in one that is read.
    #[test]
    fn claims_that_are_not_utf8_are_malformed() {
        let secret = [1u8; 32];
        let verifier = hs256::<RegisteredClaims>(&secret).build().unwrap();
        let unread = mint_bytes(
            b"{\"note\":\"\xff\",\"sub\":\"alice\",\"exp\":4000000000}",
            &secret,
        );
        let err = verifier.verify(&unread).unwrap_err();
        assert_eq!(err.kind(), RejectionKind::Malformed);
        assert_eq!(err.description(), "the token's claims are not UTF-8");
        let read = mint_bytes(b"{\"sub\":\"\xff\",\"exp\":4000000000}", &secret);
        assert_eq!(
            verifier.verify(&read).map(|_| ()).map_err(|e| e.kind()),
            Err(RejectionKind::Malformed)
        );
    }

    /// Every fact read back from the one buffer they share, escapes decoded, lists
    /// rebuilt on demand: scopes from `scope` and `scp`, more roles than fit inline.
    #[test]
    fn facts_read_back_from_their_buffer() {
        let secret = [1u8; 32];
        let verifier = hs256::<RegisteredClaims>(&secret).build().unwrap();
        let payload = r#"{"sub":"al\u00efce","iss":"https://i","jti":"j\"1","exp":4000000000,
            "iat":1700000000,"scope":" read  write","scp":["admin all","x"],
            "roles":["r1","r 2","r3","r4"]}"#;
        let token = mint_bytes(payload.as_bytes(), &secret);
        let verified = verifier.verify(&token).unwrap();
        let id = verified.identity();
        assert_eq!(id.token(), token);
        assert_eq!(id.subject(), Some("al\u{ef}ce"));
        assert_eq!(id.issuer(), Some("https://i"));
        assert_eq!(id.token_id(), Some("j\"1"));
        assert_eq!(id.expires_at(), Some(4_000_000_000));
        assert_eq!(id.issued_at(), Some(1_700_000_000));
        let scopes: Vec<&str> = id.scopes().iter().map(|s| &**s).collect();
        assert_eq!(scopes, ["read", "write", "admin", "all", "x"]);
        assert!(id.has_scope("all") && !id.has_scope("") && !id.has_scope("admin all"));
        let roles: Vec<&str> = id.roles().iter().map(|s| &**s).collect();
        assert_eq!(roles, ["r1", "r 2", "r3", "r4"]);
        assert!(verified.has_role("r 2") && !verified.has_role("r"));
        let header = verified.header().unwrap();
        assert_eq!(header.alg, Algorithm::HS256);
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        assert_eq!(header.kid, None);
    }

    /// `RegisteredClaims` built lazily from a token's facts are what serde reads from its
    /// payload, for every shape of `aud` and `scope`, through the scanner and through
    /// serde (escapes), whether asked by reference or taken by value.
    #[test]
    fn registered_claims_from_the_facts_are_what_serde_reads() {
        let secret = [1u8; 32];
        let verifier = hs256::<RegisteredClaims>(&secret)
            .roles_claim("groups")
            .require_exp(false)
            .accept_any_audience()
            .build()
            .unwrap();
        let payloads = [
            r#"{}"#,
            r#"{"sub":"alice","aud":"api","exp":4000000000,"nbf":1700000000,"iat":1700000001}"#,
            r#"{"aud":["a"],"scope":"read write","jti":"t-1","iss":"https://i"}"#,
            r#"{"aud":["a","b","c"],"scope":"","scp":["x","y"]}"#,
            r#"{"aud":["a","b","c","d","e"],"scp":"x","groups":["g1","g2","g3","g4"]}"#,
            r#"{"aud":[],"sub":null,"scope":null,"groups":"g"}"#,
            r#"{"sub":"al\u00efce","aud":["w\"x","y"],"scope":"r\/w","exp":4000000000.5}"#,
            r#"{"iss":"i","sub":"s","aud":"a","exp":4000000000,"nbf":1,"iat":2,"jti":"j","scope":"s","other":{"nested":[1,2]}}"#,
        ];
        for payload in payloads {
            let token = mint_bytes(payload.as_bytes(), &secret);
            let expected: RegisteredClaims = serde_json::from_str(payload).unwrap();
            let verified = verifier.verify(&token).unwrap();
            assert_eq!(verified.claims(), &expected, "{payload}");
            // Built by `claims`, then taken by value: the same claims.
            assert_eq!(verified.try_into_claims().unwrap(), expected, "{payload}");
            // Taken by value without being built first.
            let verified = verifier.verify(&token).unwrap();
            assert_eq!(verified.try_into_claims().unwrap(), expected, "{payload}");
        }
    }

    /// Typed claims are deserialized at verification: read by reference, taken by value
    /// when the token is not shared, and handed back when it is.
    #[test]
    fn typed_claims_by_reference_and_by_value() {
        #[derive(Debug, PartialEq, serde::Deserialize)]
        struct Mine {
            sub: String,
            tenant: String,
        }
        let secret = [1u8; 32];
        let verifier = hs256::<Mine>(&secret).require_exp(false).build().unwrap();
        let token = mint_bytes(br#"{"sub":"alice","tenant":"acme"}"#, &secret);
        let expected = Mine {
            sub: "alice".to_owned(),
            tenant: "acme".to_owned(),
        };

        let verified = verifier.verify(&token).unwrap();
        assert_eq!(verified.claims(), &expected);
        let shared = verified.clone();
        let verified = verified.try_into_claims().unwrap_err();
        drop(shared);
        assert_eq!(verified.try_into_claims().unwrap(), expected);
    }

    /// The remembered header spares only the header's decoding and checks: a token with
    /// the same header bytes still has its key looked up and its signature checked, and
    /// a different header is checked afresh.
    #[test]
    fn a_remembered_header_still_has_its_key_and_signature_checked() {
        let good = [1u8; 32];
        let keys = Keys::new(KeySet::single(key(&good)));
        let verifier = Verifier::<RegisteredClaims>::builder(keys.clone())
            .algorithms([Algorithm::HS256])
            .require_typ("at+jwt")
            .build()
            .unwrap();
        let kind = |token: &str| verifier.verify(token).map(|_| ()).map_err(|e| e.kind());

        let token = mint("at+jwt", &good);
        assert_eq!(kind(&token), Ok(()));
        let forged = mint("at+jwt", &[2u8; 32]);
        assert_eq!(forged.split('.').next(), token.split('.').next());
        assert_eq!(kind(&forged), Err(RejectionKind::InvalidSignature));
        assert_eq!(kind(&mint("JWT", &good)), Err(RejectionKind::InvalidType));
        assert_eq!(kind(&token), Ok(()));

        keys.replace(KeySet::single(key(&[3u8; 32]).with_kid("k2")));
        assert_eq!(kind(&token), Err(RejectionKind::UnknownKey));
        keys.replace(KeySet::single(key(&good)));
        assert_eq!(kind(&token), Ok(()));
    }
}
