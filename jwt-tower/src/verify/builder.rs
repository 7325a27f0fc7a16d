//! [`VerifierBuilder`]: the rules a [`Verifier`] checks, set once before it is built.

use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;

use super::cache::TokenCache;
use super::header::CheckedHeader;
use super::pipeline::HEADER_SLOTS;
use super::routing::IssuerRouter;
use super::verifier::Verifier;
use crate::algorithm::{self, AlgorithmSet};
use crate::metrics::Metrics;
use crate::{Algorithm, ConfigError, Keys, ProtectedResourceMetadata};

/// The default limit on a token's length, in bytes: 8 KiB.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;
/// The default clock-skew leeway for `exp`, `nbf` and `iat`: 30 seconds.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

type Check<C> = Box<dyn Fn(&C) -> Result<(), Cow<'static, str>> + Send + Sync>;

/// Everything a [`Verifier`] holds: its keys, its rules and its per-verifier state.
pub(super) struct Config<C> {
    pub(super) keys: Keys,
    pub(super) algorithms: AlgorithmSet,
    pub(super) issuers: Box<[Box<str>]>,
    pub(super) audiences: Box<[Box<str>]>,
    /// Set by [`VerifierBuilder::accept_any_audience`]: with no audience configured, a
    /// token's `aud` is not judged (else it is refused).
    pub(super) any_audience: bool,
    pub(super) subject: Option<Box<str>>,
    pub(super) leeway: i64,
    pub(super) require_exp: bool,
    pub(super) validate_nbf: bool,
    pub(super) max_age: Option<i64>,
    pub(super) required_typ: Option<Box<str>>,
    pub(super) required_claims: Box<[Box<str>]>,
    pub(super) roles_claim: Box<str>,
    pub(super) max_token_len: usize,
    pub(super) checks: Vec<Check<C>>,
    pub(super) metrics: Metrics,
    pub(super) revocations: Option<crate::revoke::Revocations>,
    /// Set for a verifier that routes by `iss` to one verifier per issuer.
    pub(super) router: Option<IssuerRouter<C>>,
    /// Recent headers that passed [`Verifier::check_header`] in a token whose signature
    /// verified, by their base64 text, in a few slots chosen by a hash of that text.
    /// Tokens from one issuer carry byte-identical headers (same `alg`, `kid`, `typ`),
    /// so this spares decoding and parsing nearly every header; only what the header
    /// checks concluded is kept, and the key is still looked up on every verify.
    /// Several slots: after a rotation, tokens of the old and the new `kid` are in use
    /// together for a token lifetime, and one slot would be rewritten on every request.
    /// Measured to pay: checking every header instead (decoded and read with no
    /// allocation) costs 3,250 more instructions of an HS256 `GET /me` of 52,300 (6.2%;
    /// `benches/load/instructions.sh HS256`, both builds counted in one run).
    pub(super) recent_headers: [ArcSwapOption<CheckedHeader>; HEADER_SLOTS],
    /// Picks a header's slot.
    pub(super) header_hasher: ahash::RandomState,
    /// Tokens that verified, answered without a signature check while valid (see `cache`).
    pub(super) cache: Option<TokenCache<C>>,
    /// Opaque tokens, checked by introspection (see `introspected`).
    #[cfg(feature = "remote")]
    pub(super) introspection: Option<crate::introspect::IntrospectionCache<C>>,
    pub(super) _claims: PhantomData<fn() -> C>,
}

/// Builds a [`Verifier`]. Start from [`Verifier::builder`].
///
/// Defaults are strict: `exp` required, `nbf` checked, an `iat` in the future refused, a
/// 30 s leeway, tokens up to 8 KiB, no token naming an audience accepted until
/// [`audience`](Self::audience) (or [`accept_any_audience`](Self::accept_any_audience))
/// says which, and no algorithm allowed until [`algorithms`](Self::algorithms) names
/// some. The header and claims are read strictly whatever the claims type: UTF-8 JSON
/// objects, no member name twice in any object, nesting at most
/// [`MAX_JSON_DEPTH`](crate::verify::MAX_JSON_DEPTH).
#[must_use]
pub struct VerifierBuilder<C> {
    pub(super) config: Config<C>,
    bad_algorithm: Option<ConfigError>,
}

impl<C> Verifier<C> {
    /// Starts a verifier over `keys`: a [`Keys`] handle (shared, hot-swappable), a
    /// [`KeySet`](crate::KeySet) or a single [`VerificationKey`](crate::VerificationKey).
    pub fn builder(keys: impl Into<Keys>) -> VerifierBuilder<C> {
        VerifierBuilder {
            config: Config {
                keys: keys.into(),
                algorithms: AlgorithmSet::empty(),
                issuers: Box::default(),
                audiences: Box::default(),
                any_audience: false,
                subject: None,
                leeway: DEFAULT_LEEWAY.as_secs() as i64,
                require_exp: true,
                validate_nbf: true,
                max_age: None,
                required_typ: None,
                required_claims: Box::default(),
                roles_claim: "roles".into(),
                max_token_len: DEFAULT_MAX_TOKEN_LEN,
                checks: Vec::new(),
                metrics: Metrics::new(),
                revocations: None,
                router: None,
                recent_headers: Default::default(),
                header_hasher: ahash::RandomState::new(),
                cache: None,
                #[cfg(feature = "remote")]
                introspection: None,
                _claims: PhantomData,
            },
            bad_algorithm: None,
        }
    }
}

impl<C> VerifierBuilder<C> {
    /// The allow-list of algorithms. Required: there is no default. A token is accepted
    /// only when its `alg` is here *and* is one the selected key is for.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.config.algorithms = algorithms.into_iter().collect();
        self
    }

    /// The allow-list by name (`"RS256"`, `"EdDSA"`), as configuration files spell it.
    /// An unknown name (including `none`) makes [`build`](Self::build) fail.
    pub fn algorithm_names<S: AsRef<str>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        let mut set = AlgorithmSet::empty();
        for name in names {
            match algorithm::parse(name.as_ref().trim()) {
                Ok(alg) => set.insert(alg),
                Err(e) => self.bad_algorithm = Some(e),
            }
        }
        self.config.algorithms = set;
        self
    }

    /// Accept tokens whose `iss` equals `issuer` (may be called again to accept several).
    /// Once an issuer is set, `iss` is required and must be a string.
    pub fn issuer(mut self, issuer: impl Into<Box<str>>) -> Self {
        let mut list = std::mem::take(&mut self.config.issuers).into_vec();
        list.push(issuer.into());
        self.config.issuers = list.into();
        self
    }

    /// Accept tokens whose `aud` (string or array) names `audience` (may be called again).
    /// Once an audience is set, `aud` is required.
    ///
    /// Without an audience, a token that carries an `aud` (other than `null`) is refused
    /// as `invalid_audience` (RFC 7519 §4.1.3: a recipient that does not identify itself
    /// with a value of `aud` must reject the token), unless
    /// [`accept_any_audience`](Self::accept_any_audience) says otherwise.
    pub fn audience(mut self, audience: impl Into<Box<str>>) -> Self {
        let mut list = std::mem::take(&mut self.config.audiences).into_vec();
        list.push(audience.into());
        self.config.audiences = list.into();
        self
    }

    /// Accept exactly the tokens for `metadata`'s resource: its `resource` URI becomes the
    /// only accepted audience, replacing any set before, so the metadata a client reads
    /// and the audience checked come from one value (RFC 8707, RFC 9728 §2). `aud` must
    /// name the URI exactly as configured, character for character: RFC 8707 §2 defines
    /// no normalisation, so `https://api.example.com/mcp/` is another resource.
    ///
    /// The audience is the configured URI even when the metadata is served through a
    /// proxy ([`ProtectedResourceMetadata::for_request`]): request headers never choose
    /// which tokens are accepted.
    ///
    /// ```
    /// # use jwt_tower::{Algorithm, ProtectedResourceMetadata, RegisteredClaims, RejectionKind};
    /// # use jwt_tower::{Verifier, VerificationKey};
    /// let metadata = ProtectedResourceMetadata::builder("https://api.example.com/mcp").build()?;
    /// let secret = [7u8; 32];
    /// let verifier = Verifier::<RegisteredClaims>::builder(VerificationKey::hmac(Algorithm::HS256, secret)?)
    ///     .algorithms([Algorithm::HS256])
    ///     .resource(&metadata)
    ///     .build()?;
    /// # #[cfg(feature = "rust_crypto")] // jsonwebtoken then has both backends: pick one
    /// # let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    /// let token_for = |aud: &str| jsonwebtoken::encode(&jsonwebtoken::Header::default(),
    ///     &serde_json::json!({"aud": aud, "exp": jsonwebtoken::get_current_timestamp() + 60}),
    ///     &jsonwebtoken::EncodingKey::from_secret(&secret).unwrap()).unwrap();
    ///
    /// assert!(verifier.verify(&token_for("https://api.example.com/mcp")).is_ok());
    /// let err = verifier.verify(&token_for("https://api.example.com/mcp/")).unwrap_err();
    /// assert_eq!(err.kind(), RejectionKind::InvalidAudience);
    /// # Ok::<(), jwt_tower::ConfigError>(())
    /// ```
    pub fn resource(mut self, metadata: &ProtectedResourceMetadata) -> Self {
        self.config.audiences = Box::new([metadata.resource().into()]);
        self
    }

    /// Accept a token whatever its `aud` says, when no [`audience`](Self::audience) is
    /// set: the one way to verify tokens meant for other recipients too (a gateway that
    /// checks only the signature and issuer, a token-inspection tool). An audience, once
    /// set, is checked regardless.
    ///
    /// ```
    /// # use jwt_tower::{Algorithm, RegisteredClaims, RejectionKind, Verifier, VerificationKey};
    /// let secret = [7u8; 32];
    /// let key = || VerificationKey::hmac(Algorithm::HS256, secret);
    /// # #[cfg(feature = "rust_crypto")] // jsonwebtoken then has both backends: pick one
    /// # let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    /// let token = jsonwebtoken::encode(&jsonwebtoken::Header::default(),
    ///     &serde_json::json!({"aud": "billing", "exp": jsonwebtoken::get_current_timestamp() + 60}),
    ///     &jsonwebtoken::EncodingKey::from_secret(&secret).unwrap()).unwrap();
    ///
    /// let strict = Verifier::<RegisteredClaims>::builder(key()?)
    ///     .algorithms([Algorithm::HS256])
    ///     .build()?;
    /// let err = strict.verify(&token).unwrap_err();
    /// assert_eq!(err.kind(), RejectionKind::InvalidAudience);
    ///
    /// let any = Verifier::<RegisteredClaims>::builder(key()?)
    ///     .algorithms([Algorithm::HS256])
    ///     .accept_any_audience()
    ///     .build()?;
    /// assert!(any.verify(&token).is_ok());
    /// # Ok::<(), jwt_tower::ConfigError>(())
    /// ```
    pub fn accept_any_audience(mut self) -> Self {
        self.config.any_audience = true;
        self
    }

    /// Require `sub` to equal `subject`.
    pub fn subject(mut self, subject: impl Into<Box<str>>) -> Self {
        self.config.subject = Some(subject.into());
        self
    }

    /// Clock-skew leeway for `exp`, `nbf` and `iat` (default 30 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.config.leeway = i64::try_from(leeway.as_secs()).unwrap_or(i64::MAX);
        self
    }

    /// Whether `exp` is required (default `true`). When present it is always checked.
    pub fn require_exp(mut self, require: bool) -> Self {
        self.config.require_exp = require;
        self
    }

    /// Whether `nbf` is checked when present (default `true`).
    pub fn validate_nbf(mut self, validate: bool) -> Self {
        self.config.validate_nbf = validate;
        self
    }

    /// Refuse tokens issued (`iat`) longer ago than `max_age`; `iat` becomes required.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.config.max_age = Some(i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX));
        self
    }

    /// Require the header's `typ`, e.g. `"at+jwt"` for RFC 9068 access tokens (compared
    /// case-insensitively, `application/` prefix optional).
    pub fn require_typ(mut self, typ: impl Into<Box<str>>) -> Self {
        self.config.required_typ = Some(typ.into());
        self
    }

    /// Claims that must be present (and not null), e.g. `["sub", "jti"]`. At most 64.
    pub fn require_claims<S: Into<Box<str>>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        let mut list = std::mem::take(&mut self.config.required_claims).into_vec();
        for name in names {
            let name = name.into();
            // A name given twice is one requirement: the claims view marks only the first
            // position of a name as seen, so a duplicate entry could never be satisfied.
            if !list.contains(&name) {
                list.push(name);
            }
        }
        list.truncate(64);
        self.config.required_claims = list.into();
        self
    }

    /// The claim holding roles (string or array), default `"roles"`.
    pub fn roles_claim(mut self, name: impl Into<Box<str>>) -> Self {
        self.config.roles_claim = name.into();
        self
    }

    /// Check every verified token against this revocation list (by `jti`, and by
    /// subject and `iat`); a revoked token is `invalid_token` (`revoked`).
    pub fn revocations(mut self, revocations: crate::revoke::Revocations) -> Self {
        self.config.revocations = Some(revocations);
        self
    }

    /// Keeps up to `capacity` verified tokens in memory and answers a token seen again
    /// without checking its signature: a reused token then costs a hash lookup whatever
    /// its algorithm. Off by default; `0` turns it off.
    ///
    /// A cached answer is never wrong where a fresh verify would refuse:
    /// - entries are keyed on the whole token text (compared in full), and only tokens
    ///   that verified are stored;
    /// - an entry is served only while the time checks pass (`exp`, `nbf`,
    ///   [`max_age`](Self::max_age), with the leeway); tokens without `exp` are not
    ///   stored;
    /// - any change of the key set (a rotation, a retired key, a JWKS refresh) empties
    ///   it, and nothing verified under the old set is served under the new one;
    /// - [`revocations`](Self::revocations) and [`validate`](Self::validate) checks run
    ///   on every hit.
    ///
    /// Memory: about two copies of each token plus its claims, per entry. With
    /// [`Verifier::by_issuer`], give each issuer's verifier its own cache (the router's
    /// is not used). Hits are counted in [`Verifier::metrics`].
    ///
    /// ```
    /// # use jwt_tower::{Algorithm, RegisteredClaims, Verifier, VerificationKey};
    /// let secret = [7u8; 32];
    /// let verifier = Verifier::<RegisteredClaims>::builder(VerificationKey::hmac(Algorithm::HS256, secret)?)
    ///     .algorithms([Algorithm::HS256])
    ///     .cache(10_000)
    ///     .build()?;
    /// # #[cfg(feature = "rust_crypto")] // jsonwebtoken then has both backends: pick one
    /// # let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    /// # let token = jsonwebtoken::encode(&jsonwebtoken::Header::default(),
    /// #     &serde_json::json!({"sub": "alice", "exp": jsonwebtoken::get_current_timestamp() + 60}),
    /// #     &jsonwebtoken::EncodingKey::from_secret(&secret).unwrap()).unwrap();
    /// verifier.verify(&token).unwrap(); // checked in full, then remembered
    /// verifier.verify(&token).unwrap(); // from the cache
    /// assert_eq!(verifier.metrics().cache_hits, 1);
    /// # Ok::<(), jwt_tower::ConfigError>(())
    /// ```
    pub fn cache(mut self, capacity: usize) -> Self {
        self.config.cache = (capacity > 0).then(|| TokenCache::new(capacity));
        self
    }

    /// The longest token accepted (default 8 KiB); longer ones are refused before any
    /// decoding.
    pub fn max_token_len(mut self, bytes: usize) -> Self {
        self.config.max_token_len = bytes;
        self
    }

    /// A custom check on the deserialized claims. An `Err` rejects the token as
    /// `invalid_token` with that description (never put claim values in it).
    pub fn validate(
        mut self,
        check: impl Fn(&C) -> Result<(), Cow<'static, str>> + Send + Sync + 'static,
    ) -> Self {
        self.config.checks.push(Box::new(check));
        self
    }

    /// Finishes the verifier.
    ///
    /// # Errors
    /// [`ConfigError::NoAlgorithms`] when no algorithm was allowed,
    /// [`ConfigError::UnknownAlgorithm`] when [`algorithm_names`](Self::algorithm_names)
    /// named one we do not know, [`ConfigError::AlgorithmsMatchNoKey`] when the keys are
    /// fixed now (a [`KeySet`](crate::KeySet), a
    /// [`VerificationKey`](crate::VerificationKey) or a loaded [`Keys`] no source
    /// refreshes) and none of them is for an allowed algorithm.
    pub fn build(self) -> Result<Verifier<C>, ConfigError> {
        if let Some(e) = self.bad_algorithm {
            return Err(e);
        }
        if self.config.algorithms.is_empty() && !self.introspects_alone() {
            return Err(ConfigError::NoAlgorithms);
        }
        if let Some(keys) = static_key_algorithms(&self.config.keys)
            && keys.intersection(self.config.algorithms).is_empty()
        {
            return Err(ConfigError::AlgorithmsMatchNoKey {
                keys,
                allowed: self.config.algorithms,
            });
        }
        if let Some(revocations) = &self.config.revocations {
            // A token is accepted until `exp + leeway`: its revocation must last as long.
            revocations.keep_after_exp(Duration::from_secs(self.config.leeway.unsigned_abs()));
        }
        Ok(Verifier {
            inner: Arc::new(self.config),
        })
    }
}

impl<C> VerifierBuilder<C> {
    /// Whether every token is introspected: no keys, no algorithms needed.
    fn introspects_alone(&self) -> bool {
        #[cfg(feature = "remote")]
        if let Some(introspection) = &self.config.introspection {
            return introspection.alone;
        }
        false
    }
}

/// Every algorithm the keys of `keys` can verify, when those keys are known now: a set
/// is loaded and no source (a remote JWKS) will replace it. `None` when the keys arrive
/// later, or there are none yet: then nothing can be judged at build time.
fn static_key_algorithms(keys: &Keys) -> Option<AlgorithmSet> {
    if keys.source().is_some() {
        return None;
    }
    let set = keys.snapshot()?;
    // The keys a token can select: those with a `kid`, and the unnamed one when it is
    // reachable (see `KeySet::get`).
    let reachable = set
        .kids()
        .filter_map(|kid| set.get(Some(kid)))
        .chain(set.get(None));
    let mut algorithms = AlgorithmSet::empty();
    let mut any = false;
    for key in reachable {
        any = true;
        for alg in key.algorithms().iter() {
            algorithms.insert(alg);
        }
    }
    any.then_some(algorithms)
}
