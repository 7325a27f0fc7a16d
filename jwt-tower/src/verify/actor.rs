//! The `act` claim (RFC 8693 §4.1): who acts on the subject's behalf. Read strictly, as
//! every claim is: an object, no member twice; `sub` a string (required: an actor that
//! names nobody cannot be checked), `iss` a string when present, an earlier actor nested
//! as `act`, any other member kept out. Actor strings hold no control character, as the
//! identity strings do not, and the chain nests at most [`MAX_ACTOR_DEPTH`] actors.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use super::claims::BorrowedStr;
use super::strict::{MemberNames, StrictValue};

/// The longest `act` chain a token may carry: deeper is refused as
/// [`InvalidClaim`](crate::RejectionKind::InvalidClaim). Real chains are a hop or two
/// (gateway, then a service); a policy can ask for fewer
/// ([`Policy::max_actor_depth`](crate::Policy::max_actor_depth)).
///
/// ```
/// assert_eq!(jwt_tower::verify::MAX_ACTOR_DEPTH, 8);
/// ```
pub const MAX_ACTOR_DEPTH: usize = 8;

/// One actor of a delegated token's `act` chain (RFC 8693 §4.1): the party acting on the
/// subject's behalf, and, nested, the actor that acted before it.
///
/// The outermost actor is the current one (the party that presented the token to be
/// exchanged last); [`chain`](Self::chain) walks from it to the first. It serializes as
/// the `act` claim it was read from (`sub`, `iss` when present, the nested `act`),
/// without the members it kept out.
///
/// ```
/// # use jwt_tower::{Algorithm, RegisteredClaims, Verifier, VerificationKey};
/// # let secret = [7u8; 32];
/// # let verifier = Verifier::<RegisteredClaims>::builder(VerificationKey::hmac(Algorithm::HS256, secret)?)
/// #     .algorithms([Algorithm::HS256]).build()?;
/// # #[cfg(feature = "rust_crypto")]
/// # let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
/// # let token = jsonwebtoken::encode(&jsonwebtoken::Header::default(),
/// #     &serde_json::json!({"sub": "alice", "exp": 4_000_000_000u64,
/// #         "act": {"sub": "orders", "act": {"sub": "gateway", "iss": "https://auth.example"}}}),
/// #     &jsonwebtoken::EncodingKey::from_secret(&secret).unwrap()).unwrap();
/// let verified = verifier.verify(&token).unwrap();
/// let actor = verified.actor().unwrap();
/// assert_eq!(actor.sub(), "orders"); // the current actor
/// assert_eq!(actor.depth(), 2);
/// let chain: Vec<&str> = actor.chain().map(|a| a.sub()).collect();
/// assert_eq!(chain, ["orders", "gateway"]);
/// assert_eq!(actor.act().unwrap().iss(), Some("https://auth.example"));
/// assert_eq!(verified.identity().actor(), Some(actor));
/// assert_eq!(
///     serde_json::to_value(actor).unwrap(),
///     serde_json::json!({"sub": "orders", "act": {"sub": "gateway", "iss": "https://auth.example"}})
/// );
/// # Ok::<(), jwt_tower::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Actor {
    sub: Box<str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<Box<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    act: Option<Box<Actor>>,
}

impl Actor {
    /// The actor's `sub`: who acts (for a token exchanged by a client, its client id).
    #[must_use]
    pub fn sub(&self) -> &str {
        &self.sub
    }

    /// The actor's `iss`, if the token names one.
    #[must_use]
    pub fn iss(&self) -> Option<&str> {
        self.iss.as_deref()
    }

    /// The actor that acted before this one, if any.
    #[must_use]
    pub fn act(&self) -> Option<&Actor> {
        self.act.as_deref()
    }

    /// Every actor, from this one (the current actor when called on the token's) to the
    /// first.
    pub fn chain(&self) -> impl Iterator<Item = &Actor> {
        std::iter::successors(Some(self), |actor| actor.act())
    }

    /// How many actors the chain holds, this one included (at least 1).
    #[must_use]
    pub fn depth(&self) -> usize {
        self.chain().count()
    }
}

/// Reads `act` (null: absent); `depth` is how many objects enclose it (1 for a claim),
/// `actors` how many actors enclose it (0 for the claim).
#[derive(Clone, Copy)]
pub(crate) struct ActSeed {
    pub(crate) depth: usize,
    pub(crate) actors: usize,
}

impl<'de> DeserializeSeed<'de> for ActSeed {
    type Value = Option<Actor>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(ActVisitor(self))
    }
}

struct ActVisitor(ActSeed);

/// An actor string: no control character (it is compared by policies, and shown).
fn actor_str<E: de::Error>(s: BorrowedStr<'_>) -> Result<Box<str>, E> {
    if s.0.chars().any(char::is_control) {
        return Err(E::custom("an act member holds a control character"));
    }
    Ok(s.0.into())
}

impl<'de> Visitor<'de> for ActVisitor {
    type Value = Option<Actor>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an act object")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let seed = self.0;
        if seed.actors >= MAX_ACTOR_DEPTH {
            return Err(de::Error::custom("the act chain nests too many actors"));
        }
        let (mut sub, mut iss, mut act) = (None, None, None);
        let mut names = MemberNames::default();
        while let Some(BorrowedStr(key)) = map.next_key::<BorrowedStr<'de>>()? {
            names.insert(key.clone())?;
            match &*key {
                "sub" => {
                    sub = map
                        .next_value::<Option<BorrowedStr<'de>>>()?
                        .map(actor_str)
                        .transpose()?;
                }
                "iss" => {
                    iss = map
                        .next_value::<Option<BorrowedStr<'de>>>()?
                        .map(actor_str)
                        .transpose()?;
                }
                "act" => {
                    act = map
                        .next_value_seed(ActSeed {
                            depth: seed.depth + 1,
                            actors: seed.actors + 1,
                        })?
                        .map(Box::new);
                }
                _ => map.next_value_seed(StrictValue {
                    depth: seed.depth + 1,
                })?,
            }
        }
        let sub = sub.ok_or_else(|| de::Error::custom("an act object has no sub"))?;
        Ok(Some(Actor { sub, iss, act }))
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::{Hmac, KeyInit as _, Mac as _};

    use super::MAX_ACTOR_DEPTH;
    use crate::{Algorithm, RegisteredClaims, RejectionKind, VerificationKey, Verifier};

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    /// An HS256 token over exactly `claims`.
    fn token(claims: &str) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
        mac.update(input.as_bytes());
        format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }

    /// The chain's `sub`s, outermost first.
    fn chain(claims: &str) -> Result<Option<Vec<String>>, RejectionKind> {
        let verifier = Verifier::<RegisteredClaims>::builder(
            VerificationKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        )
        .algorithms([Algorithm::HS256])
        .require_exp(false)
        .build()
        .unwrap();
        let verified = verifier.verify(&token(claims)).map_err(|e| e.kind())?;
        let from_identity = verified.identity().actor().cloned();
        assert_eq!(verified.actor(), from_identity.as_ref());
        Ok(verified
            .actor()
            .map(|a| a.chain().map(|a| a.sub().to_owned()).collect()))
    }

    /// `depth` actors nested, `a1` outermost.
    fn nested(depth: usize) -> String {
        let mut act = String::new();
        for i in (1..=depth).rev() {
            act = if act.is_empty() {
                format!(r#"{{"sub":"a{i}"}}"#)
            } else {
                format!(r#"{{"sub":"a{i}","act":{act}}}"#)
            };
        }
        format!(r#"{{"sub":"alice","act":{act}}}"#)
    }

    #[test]
    fn the_chain_is_read_outermost_first() {
        let claims = r#"{"sub":"alice","act":{"sub":"svc-a","iss":"I","exp":1,"x":{"y":[1]},"act":{"sub":"gateway"}}}"#;
        assert_eq!(
            chain(claims),
            Ok(Some(vec!["svc-a".to_owned(), "gateway".to_owned()]))
        );
        assert_eq!(chain(r#"{"sub":"alice"}"#), Ok(None));
        assert_eq!(chain(r#"{"sub":"alice","act":null}"#), Ok(None));
        assert_eq!(
            chain(r#"{"act":{"sub":"g\u0041","act":null}}"#),
            Ok(Some(vec!["gA".to_owned()]))
        );
    }

    #[test]
    fn act_is_read_strictly() {
        for bad in [
            r#"{"act":"gateway"}"#,
            r#"{"act":["gateway"]}"#,
            r#"{"act":{}}"#,
            r#"{"act":{"iss":"I"}}"#,
            r#"{"act":{"sub":1}}"#,
            r#"{"act":{"sub":"a","iss":["I"]}}"#,
            r#"{"act":{"sub":"a","act":"b"}}"#,
            r#"{"act":{"sub":"a","act":{"iss":"I"}}}"#,
            r#"{"act":{"sub":"a\u0007"}}"#,
            r#"{"act":{"sub":"a","iss":"\n"}}"#,
        ] {
            assert_eq!(chain(bad), Err(RejectionKind::InvalidClaim), "{bad}");
        }
        for bad in [
            r#"{"act":{"sub":"a","sub":"b"}}"#,
            r#"{"act":{"sub":"a"},"act":{"sub":"b"}}"#,
            r#"{"act":{"sub":"a","act":{"sub":"b","x":1,"x":2}}}"#,
        ] {
            assert_eq!(chain(bad), Err(RejectionKind::Malformed), "{bad}");
        }
    }

    #[test]
    fn the_depth_is_capped() {
        let deepest = chain(&nested(MAX_ACTOR_DEPTH)).unwrap().unwrap();
        assert_eq!(deepest.len(), MAX_ACTOR_DEPTH);
        assert_eq!(deepest[0], "a1");
        assert_eq!(
            chain(&nested(MAX_ACTOR_DEPTH + 1)),
            Err(RejectionKind::InvalidClaim)
        );
    }

    #[test]
    fn the_fast_path_leaves_a_token_with_act_to_serde() {
        let seed = super::super::claims::ViewSeed {
            required: &[],
            roles_claim: None,
        };
        assert!(super::super::scan::view(r#"{"sub":"a","act":{"sub":"g"}}"#, &seed).is_none());
        assert!(super::super::scan::view(r#"{"sub":"a","act":null}"#, &seed).is_none());
    }
}
