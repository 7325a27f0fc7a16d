//! [`TokenIssuer`]: signs access tokens and publishes its public keys, across rotations.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::SigningKey;
use crate::algorithm;
use crate::clock::now;
use crate::{ConfigError, KeySet, Keys};

/// Why a token could not be issued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The caller's claims do not serialize to a JSON object.
    #[error("claims must serialize to a JSON object: {0}")]
    Claims(String),
    /// The subject holds a control character, which verifiers refuse.
    #[error("the subject holds a control character")]
    Subject,
    /// The signature could not be made.
    #[error("signing failed: {0}")]
    Signing(#[from] ConfigError),
}

/// A freshly issued access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssuedToken {
    /// The compact JWS.
    pub token: String,
    /// Its `jti`.
    pub token_id: String,
    /// Its `exp`, seconds since the epoch.
    pub expires_at: i64,
    /// Seconds until it expires (the OAuth `expires_in`).
    pub expires_in: u64,
}

/// Configures a [`TokenIssuer`].
#[must_use]
#[derive(Debug)]
pub struct TokenIssuerBuilder {
    issuer: String,
    audiences: Vec<String>,
    ttl: Duration,
    key: SigningKey,
    typ: String,
}

impl TokenIssuerBuilder {
    /// An audience put in every token (call again for several).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Access-token lifetime (default 15 minutes).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The header `typ` (default `at+jwt`, RFC 9068).
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = typ.into();
        self
    }

    /// Finishes the issuer.
    pub fn build(self) -> TokenIssuer {
        let ring = KeyRing {
            current: self.key,
            retired: Vec::new(),
        };
        let keys = Keys::new(ring.key_set());
        TokenIssuer {
            inner: Arc::new(Shared {
                issuer: self.issuer,
                audiences: self.audiences,
                ttl: self.ttl,
                typ: self.typ,
                ring: ArcSwap::from_pointee(ring),
                keys,
            }),
        }
    }
}

struct KeyRing {
    current: SigningKey,
    /// Retired keys and the time (seconds since the epoch) until which they stay published.
    retired: Vec<(SigningKey, i64)>,
}

impl KeyRing {
    fn key_set(&self) -> KeySet {
        KeySet::new(
            std::iter::once(&self.current)
                .chain(self.retired.iter().map(|(k, _)| k))
                .map(SigningKey::verification_key),
        )
    }

    fn pruned(&self, now: i64) -> Option<Self> {
        if self.retired.iter().all(|(_, until)| *until >= now) {
            return None;
        }
        Some(Self {
            current: self.current.clone(),
            retired: self
                .retired
                .iter()
                .filter(|(_, until)| *until >= now)
                .cloned()
                .collect(),
        })
    }
}

struct Shared {
    issuer: String,
    audiences: Vec<String>,
    ttl: Duration,
    typ: String,
    ring: ArcSwap<KeyRing>,
    keys: Keys,
}

/// Signs access tokens with a current key and publishes its public keys.
///
/// Rotation keeps each retired public key published until every token it signed has
/// expired (its last token's `exp` plus a minute), then drops it. Cheap to clone.
///
/// ```
/// use jwt_tower::issue::{SigningKey, TokenIssuer};
/// use jwt_tower::{Algorithm, RegisteredClaims, Verifier};
///
/// let issuer = TokenIssuer::builder("https://auth.example.com", SigningKey::generate(Algorithm::ES256)?)
///     .audience("orders-api")
///     .build();
/// let issued = issuer.issue("alice", serde_json::json!({"scope": "orders:read"})).unwrap();
///
/// // A verifier over the issuer's live keys follows its rotations.
/// let verifier = Verifier::<RegisteredClaims>::builder(issuer.keys())
///     .algorithms([Algorithm::ES256])
///     .issuer("https://auth.example.com")
///     .audience("orders-api")
///     .require_typ("at+jwt")
///     .build()?;
/// assert_eq!(verifier.verify(&issued.token).unwrap().claims().sub.as_deref(), Some("alice"));
///
/// issuer.rotate(SigningKey::generate(Algorithm::ES256)?);
/// assert!(verifier.verify(&issued.token).is_ok(), "the retired key is still published");
/// assert_eq!(issuer.jwks()["keys"].as_array().unwrap().len(), 2);
/// # Ok::<(), jwt_tower::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct TokenIssuer {
    inner: Arc<Shared>,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("issuer", &self.inner.issuer)
            .field("audiences", &self.inner.audiences)
            .field("ttl", &self.inner.ttl)
            .field("kid", &self.inner.ring.load().current.kid())
            .finish_non_exhaustive()
    }
}

/// 128 random bits, base64url: a `jti`.
pub(crate) fn random_id(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    aws_lc_rs::rand::fill(&mut buf).expect("the system random generator failed");
    URL_SAFE_NO_PAD.encode(buf)
}

/// How long after its last token's expiry a retired key stays published (clock skew).
const RETENTION_MARGIN: i64 = 60;

impl TokenIssuer {
    /// Starts an issuer named `issuer` (the `iss` claim) signing with `key`.
    pub fn builder(issuer: impl Into<String>, key: SigningKey) -> TokenIssuerBuilder {
        TokenIssuerBuilder {
            issuer: issuer.into(),
            audiences: Vec::new(),
            ttl: Duration::from_secs(900),
            key,
            typ: "at+jwt".to_owned(),
        }
    }

    /// The `iss` of the tokens.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The access-token lifetime.
    #[must_use]
    pub fn ttl(&self) -> Duration {
        self.inner.ttl
    }

    /// Issues an access token for `subject` with the caller's `claims` (a JSON object,
    /// e.g. `{"scope": "…"}`). `iss`, `aud`, `sub`, `iat`, `nbf`, `exp` and a random `jti`
    /// are set by the issuer and cannot be overridden.
    ///
    /// # Errors
    /// [`IssueError::Claims`] when `claims` is not an object, [`IssueError::Subject`] when
    /// `subject` holds a control character.
    pub fn issue(&self, subject: &str, claims: impl Serialize) -> Result<IssuedToken, IssueError> {
        let now = now();
        self.sign(subject, None, claims, now, now, None)
    }

    /// As [`issue`](Self::issue), but for one audience: `aud` is `audience` alone,
    /// instead of the issuer's configured audiences. For a token requested for one
    /// resource (RFC 8707), which must be accepted by that resource only.
    ///
    /// ```
    /// use jwt_tower::issue::{SigningKey, TokenIssuer};
    /// use jwt_tower::{Algorithm, RegisteredClaims, Verifier};
    ///
    /// let issuer = TokenIssuer::builder("https://auth.example.com", SigningKey::generate(Algorithm::ES256)?)
    ///     .audience("api")
    ///     .build();
    /// let issued = issuer
    ///     .issue_for_audience("alice", "https://mcp.example.com/mcp", serde_json::json!({"scope": "read"}))
    ///     .unwrap();
    /// let for_mcp = Verifier::<RegisteredClaims>::builder(issuer.keys())
    ///     .algorithms([Algorithm::ES256])
    ///     .audience("https://mcp.example.com/mcp")
    ///     .build()?;
    /// assert!(for_mcp.verify(&issued.token).is_ok());
    /// let for_api = Verifier::<RegisteredClaims>::builder(issuer.keys())
    ///     .algorithms([Algorithm::ES256])
    ///     .audience("api")
    ///     .build()?;
    /// assert!(for_api.verify(&issued.token).is_err());
    /// # Ok::<(), jwt_tower::ConfigError>(())
    /// ```
    ///
    /// # Errors
    /// As [`issue`](Self::issue).
    pub fn issue_for_audience(
        &self,
        subject: &str,
        audience: &str,
        claims: impl Serialize,
    ) -> Result<IssuedToken, IssueError> {
        let now = now();
        self.sign(subject, Some(audience), claims, now, now, None)
    }

    /// As [`issue`](Self::issue), but expiring no later than `not_after` (seconds since
    /// the epoch), as [`issue_for_audience_until`](Self::issue_for_audience_until) does
    /// for one audience: the issuer's own audiences, if any, are the token's `aud`.
    ///
    /// ```
    /// use jwt_tower::issue::{SigningKey, TokenIssuer};
    /// use jwt_tower::Algorithm;
    ///
    /// let issuer = TokenIssuer::builder("https://auth.example.com", SigningKey::generate(Algorithm::ES256)?)
    ///     .ttl(std::time::Duration::from_secs(900))
    ///     .build();
    /// let subject = issuer.issue("alice", serde_json::json!({}))?;
    /// let soon = subject.expires_at - 600;
    /// let derived = issuer.issue_until("alice", serde_json::json!({}), soon)?;
    /// assert_eq!(derived.expires_at, soon);
    /// assert!(derived.expires_in <= 300);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`issue`](Self::issue).
    pub fn issue_until(
        &self,
        subject: &str,
        claims: impl Serialize,
        not_after: i64,
    ) -> Result<IssuedToken, IssueError> {
        let now = now();
        self.sign(subject, None, claims, now, now, Some(not_after))
    }

    /// As [`issue_for_audience`](Self::issue_for_audience), but expiring no later than
    /// `not_after` (seconds since the epoch): `exp` is the earlier of the usual lifetime's
    /// end and `not_after`. For a token derived from another, which must not outlive it
    /// (an RFC 8693 exchanged token and its subject token).
    ///
    /// ```
    /// use jwt_tower::issue::{SigningKey, TokenIssuer};
    /// use jwt_tower::Algorithm;
    ///
    /// let issuer = TokenIssuer::builder("https://auth.example.com", SigningKey::generate(Algorithm::ES256)?)
    ///     .ttl(std::time::Duration::from_secs(900))
    ///     .build();
    /// let subject = issuer.issue("alice", serde_json::json!({}))?;
    /// let soon = subject.expires_at - 600;
    /// let derived = issuer.issue_for_audience_until("alice", "orders-api", serde_json::json!({}), soon)?;
    /// assert_eq!(derived.expires_at, soon);
    /// assert!(derived.expires_in <= 300);
    /// // A ceiling past the usual lifetime changes nothing.
    /// let far = issuer.issue_for_audience_until("alice", "orders-api", serde_json::json!({}), i64::MAX)?;
    /// assert!(far.expires_at >= subject.expires_at);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`issue`](Self::issue).
    pub fn issue_for_audience_until(
        &self,
        subject: &str,
        audience: &str,
        claims: impl Serialize,
        not_after: i64,
    ) -> Result<IssuedToken, IssueError> {
        let now = now();
        self.sign(subject, Some(audience), claims, now, now, Some(not_after))
    }

    /// As [`issue`](Self::issue), but as if issued at `issued_at` (seconds since the
    /// epoch): `iat` and `nbf` are `issued_at`, `exp` is `issued_at` plus the lifetime.
    ///
    /// For tests that need an expired or a not-yet-valid token without waiting, and for
    /// back-dating. Key rotation keeps a retired key published for tokens issued *now*;
    /// a token dated in the future may outlive its key's publication.
    ///
    /// ```
    /// use jwt_tower::issue::{SigningKey, TokenIssuer};
    /// use jwt_tower::{Algorithm, RegisteredClaims, RejectionKind, Verifier};
    ///
    /// let issuer = TokenIssuer::builder("https://auth.example.com", SigningKey::generate(Algorithm::ES256)?)
    ///     .ttl(std::time::Duration::from_secs(60))
    ///     .build();
    /// let verifier = Verifier::<RegisteredClaims>::builder(issuer.keys())
    ///     .algorithms([Algorithm::ES256])
    ///     .build()?;
    /// let now = std::time::SystemTime::now()
    ///     .duration_since(std::time::UNIX_EPOCH)
    ///     .unwrap()
    ///     .as_secs() as i64;
    ///
    /// let expired = issuer.issue_at("alice", serde_json::json!({}), now - 3600).unwrap();
    /// assert_eq!(verifier.verify(&expired.token).unwrap_err().kind(), RejectionKind::Expired);
    /// let early = issuer.issue_at("alice", serde_json::json!({}), now + 3600).unwrap();
    /// assert_eq!(verifier.verify(&early.token).unwrap_err().kind(), RejectionKind::NotYetValid);
    /// # Ok::<(), jwt_tower::ConfigError>(())
    /// ```
    ///
    /// # Errors
    /// As [`issue`](Self::issue).
    pub fn issue_at(
        &self,
        subject: &str,
        claims: impl Serialize,
        issued_at: i64,
    ) -> Result<IssuedToken, IssueError> {
        self.sign(subject, None, claims, issued_at, now(), None)
    }

    /// Signs a token; `audience` replaces the configured audiences when given, and `exp`
    /// is at most `not_after` when given.
    fn sign(
        &self,
        subject: &str,
        audience: Option<&str>,
        claims: impl Serialize,
        issued_at: i64,
        now: i64,
        not_after: Option<i64>,
    ) -> Result<IssuedToken, IssueError> {
        // A verifier refuses a `sub` with a control character: such a token would be
        // refused everywhere, so it is not signed.
        if subject.chars().any(char::is_control) {
            return Err(IssueError::Subject);
        }
        let mut payload =
            match serde_json::to_value(claims).map_err(|e| IssueError::Claims(e.to_string()))? {
                Value::Object(map) => map,
                Value::Null => Map::new(),
                _ => return Err(IssueError::Claims("not an object".to_owned())),
            };
        let ttl = self.inner.ttl.as_secs();
        let lifetime_end = issued_at.saturating_add(ttl as i64);
        let expires_at = not_after.map_or(lifetime_end, |ceiling| lifetime_end.min(ceiling));
        let token_id = random_id(16);
        payload.insert("iss".into(), Value::from(self.inner.issuer.as_str()));
        match (audience, self.inner.audiences.as_slice()) {
            (Some(one), _) => {
                payload.insert("aud".into(), Value::from(one));
            }
            (None, []) => {}
            (None, [one]) => {
                payload.insert("aud".into(), Value::from(one.as_str()));
            }
            (None, many) => {
                payload.insert("aud".into(), Value::from(many.to_vec()));
            }
        }
        payload.insert("sub".into(), Value::from(subject));
        payload.insert("iat".into(), Value::from(issued_at));
        payload.insert("nbf".into(), Value::from(issued_at));
        payload.insert("exp".into(), Value::from(expires_at));
        payload.insert("jti".into(), Value::from(token_id.as_str()));

        let key = self.inner.ring.load().current.clone();
        let header =
            json!({"alg": algorithm::name(key.alg()), "typ": self.inner.typ, "kid": key.kid()});
        let mut token = URL_SAFE_NO_PAD.encode(header.to_string());
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(Value::Object(payload).to_string()));
        let signature = key.sign(token.as_bytes())?;
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(IssuedToken {
            token,
            token_id,
            expires_at,
            expires_in: u64::try_from(expires_at.saturating_sub(now)).unwrap_or(0),
        })
    }

    /// Makes `next` the signing key. The previous key stays published (in
    /// [`jwks`](Self::jwks) and [`keys`](Self::keys)) until every token it signed has
    /// expired.
    ///
    /// # Errors
    /// [`ConfigError::DuplicateKid`] when `next` has the `kid` of a key still published
    /// (the current one or a retired one): verifiers refuse every key of a JWKS in which
    /// one `kid` names two keys, so such a rotation would fail every token. Nothing
    /// changes then.
    ///
    /// ```
    /// # use jwt_tower::issue::{SigningKey, TokenIssuer};
    /// # use jwt_tower::{Algorithm, ConfigError};
    /// let issuer = TokenIssuer::builder("https://auth.example.com",
    ///     SigningKey::generate(Algorithm::ES256)?.with_kid("2026-11")).build();
    /// issuer.rotate(SigningKey::generate(Algorithm::ES256)?.with_kid("2026-12"))?;
    /// let again = SigningKey::generate(Algorithm::ES256)?.with_kid("2026-11");
    /// assert!(matches!(issuer.rotate(again), Err(ConfigError::DuplicateKid(_))));
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn rotate(&self, next: SigningKey) -> Result<(), ConfigError> {
        let until = now() + self.inner.ttl.as_secs() as i64 + RETENTION_MARGIN;
        let mut duplicate = false;
        self.inner.ring.rcu(|ring| {
            duplicate = std::iter::once(&ring.current)
                .chain(ring.retired.iter().map(|(k, _)| k))
                .any(|k| k.kid() == next.kid());
            if duplicate {
                return Arc::clone(ring);
            }
            let mut retired: Vec<(SigningKey, i64)> = ring.retired.clone();
            retired.push((ring.current.clone(), until));
            Arc::new(KeyRing {
                current: next.clone(),
                retired,
            })
        });
        if duplicate {
            return Err(ConfigError::DuplicateKid(next.kid().to_owned()));
        }
        self.refresh_keys();
        Ok(())
    }

    /// Rotates to a freshly generated key of the same algorithm.
    ///
    /// # Errors
    /// As [`SigningKey::generate`].
    pub fn rotate_generated(&self) -> Result<SigningKey, ConfigError> {
        let alg = self.inner.ring.load().current.alg();
        let next = SigningKey::generate(alg)?;
        self.rotate(next.clone())?;
        Ok(next)
    }

    /// The current signing key.
    #[must_use]
    pub fn current_key(&self) -> SigningKey {
        self.inner.ring.load().current.clone()
    }

    fn prune(&self) {
        let now = now();
        let ring = self.inner.ring.load();
        if let Some(pruned) = ring.pruned(now) {
            self.inner.ring.store(Arc::new(pruned));
            self.refresh_keys();
        }
    }

    fn refresh_keys(&self) {
        self.inner.keys.replace(self.inner.ring.load().key_set());
    }

    /// The live public keys (current and still-published retired ones), for verifiers in
    /// this process. The handle follows rotations.
    #[must_use]
    pub fn keys(&self) -> Keys {
        self.prune();
        self.inner.keys.clone()
    }

    /// The public keys as a JWKS document (RFC 7517): current first, then retired keys
    /// still covering unexpired tokens. HMAC secrets are never published.
    #[must_use]
    pub fn jwks(&self) -> Value {
        self.prune();
        let ring = self.inner.ring.load();
        let keys: Vec<Value> = std::iter::once(&ring.current)
            .chain(ring.retired.iter().map(|(k, _)| k))
            .filter_map(|k| k.public_jwk().cloned())
            .collect();
        json!({ "keys": keys })
    }

    /// A minimal OpenID Connect discovery document for this issuer.
    #[must_use]
    pub fn discovery_document(&self, jwks_uri: &str) -> Value {
        let alg = algorithm::name(self.inner.ring.load().current.alg());
        json!({
            "issuer": self.inner.issuer,
            "jwks_uri": jwks_uri,
            "id_token_signing_alg_values_supported": [alg],
            "token_endpoint_auth_methods_supported": ["none"],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
        })
    }
}
