//! `Verifier<C>`: token text in, verified claims (or a precise rejection) out. No HTTP.

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;

use serde::de::DeserializeOwned;

use super::base64url;
use super::cache::{TokenCache, Window};
use super::claims::BorrowedStr;
use super::claims::{ClaimsView, RegisteredClaims, StrOrList, ViewSeed};
use super::header::{self, CheckedHeader, HeaderSeed};
use super::scan;
use super::strict::{self, Violation};
use super::verified::{Facts, VerifiedToken};
use crate::algorithm::{self, AlgorithmSet};
use crate::clock::now;
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::{Algorithm, AuthError, ConfigError, KeySet, Keys, RejectionKind};

/// The default limit on a token's length, in bytes: 8 KiB.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;
/// The default clock-skew leeway for `exp`, `nbf` and `iat`: 30 seconds.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
/// The largest signature we decode: RSA-8192.
const MAX_SIGNATURE_LEN: usize = 1024;
/// Stack room for the decoded header: real headers are well under 200 bytes.
const HEADER_STACK_LEN: usize = 256;
/// Stack room for the decoded claims: typical access tokens fit, larger ones are decoded
/// onto the heap.
const PAYLOAD_STACK_LEN: usize = 2048;

type Check<C> = Box<dyn Fn(&C) -> Result<(), Cow<'static, str>> + Send + Sync>;

/// Verifies JWS compact tokens against a live key set and validation rules, and
/// deserializes their claims once into `C`.
///
/// Usable on its own (a CLI, a websocket handshake, a queue consumer); the tower layer
/// is a thin wrapper around it. Cheap to clone.
///
/// ```
/// use jwt_tower::{Algorithm, RejectionKind, Verifier, VerificationKey};
/// use serde::Deserialize;
///
/// #[derive(Debug, Deserialize)]
/// struct MyClaims { sub: String, tenant: String }
///
/// let secret = b"a-secret-of-at-least-thirty-two-bytes";
/// let verifier = Verifier::<MyClaims>::builder(VerificationKey::hmac(Algorithm::HS256, secret)?)
///     .algorithms([Algorithm::HS256])
///     .issuer("https://auth.example.com")
///     .audience("orders-api")
///     .build()?;
///
/// let claims = serde_json::json!({
///     "sub": "alice", "tenant": "acme", "iss": "https://auth.example.com",
///     "aud": "orders-api", "exp": jsonwebtoken::get_current_timestamp() + 60,
/// });
/// let token = jsonwebtoken::encode(
///     &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
///     &claims,
///     &jsonwebtoken::EncodingKey::from_secret(secret),
/// ).unwrap();
///
/// let verified = verifier.verify(&token).unwrap();
/// assert_eq!(verified.claims().tenant, "acme");
///
/// let err = verifier.verify("not.a.token").unwrap_err();
/// assert_eq!(err.kind(), RejectionKind::Malformed);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Verifier<C> {
    inner: Arc<Config<C>>,
}

impl<C> Clone for Verifier<C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C> std::fmt::Debug for Verifier<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.inner;
        f.debug_struct("Verifier")
            .field("algorithms", &c.algorithms)
            .field("issuers", &c.issuers)
            .field("audiences", &c.audiences)
            .field("any_audience", &c.any_audience)
            .field("leeway", &c.leeway)
            .field("required_typ", &c.required_typ)
            .field(
                "cache_capacity",
                &c.cache.as_ref().map(TokenCache::capacity),
            )
            .finish_non_exhaustive()
    }
}

struct Config<C> {
    keys: Keys,
    algorithms: AlgorithmSet,
    issuers: Box<[Box<str>]>,
    audiences: Box<[Box<str>]>,
    /// Set by [`VerifierBuilder::accept_any_audience`]: with no audience configured, a
    /// token's `aud` is not judged (else it is refused).
    any_audience: bool,
    subject: Option<Box<str>>,
    leeway: i64,
    require_exp: bool,
    validate_nbf: bool,
    max_age: Option<i64>,
    required_typ: Option<Box<str>>,
    required_claims: Box<[Box<str>]>,
    roles_claim: Box<str>,
    max_token_len: usize,
    checks: Vec<Check<C>>,
    metrics: Metrics,
    revocations: Option<crate::revoke::Revocations>,
    /// Set for a verifier that routes by `iss` to one verifier per issuer.
    routes: Option<HashMap<Box<str>, Verifier<C>>>,
    /// Recent headers that passed [`Verifier::check_header`] in a token whose signature
    /// verified, by their base64 text, in a few slots chosen by a hash of that text.
    /// Tokens from one issuer carry byte-identical headers (same `alg`, `kid`, `typ`),
    /// so this spares decoding and parsing nearly every header; only what the header
    /// checks concluded is kept, and the key is still looked up on every verify.
    /// Several slots: after a rotation, tokens of the old and the new `kid` are in use
    /// together for a token lifetime, and one slot would be rewritten on every request.
    recent_headers: [ArcSwapOption<CheckedHeader>; HEADER_SLOTS],
    /// Picks a header's slot.
    header_hasher: ahash::RandomState,
    /// Tokens that verified, answered without a signature check while valid (see `cache`).
    cache: Option<TokenCache<C>>,
    _claims: PhantomData<fn() -> C>,
}

/// How many distinct headers `Config::recent_headers` keeps (at most; two can share a
/// slot).
const HEADER_SLOTS: usize = 4;

/// A token that just passed the full verification.
struct Fresh<C> {
    token: VerifiedToken<C>,
    /// The key set that verified it.
    generation: u64,
    /// When it may be served from the cache (`None`: never, or no cache).
    window: Option<Window>,
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
    config: Config<C>,
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
                routes: None,
                recent_headers: Default::default(),
                header_hasher: ahash::RandomState::new(),
                cache: None,
                _claims: PhantomData,
            },
            bad_algorithm: None,
        }
    }

    /// The live keys this verifier reads.
    #[must_use]
    pub fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    /// When verifying `token` failed with `error`, an unknown key or keys not loaded yet,
    /// and the key source allows it: a wait for fresh keys, after which the caller
    /// verifies again. `None`: refuse now. Reached through
    /// [`Authenticator::wait_for_keys`](crate::auth::Authenticator::wait_for_keys).
    #[must_use]
    pub(crate) fn wait_for_keys(
        &self,
        token: &str,
        error: &AuthError,
    ) -> Option<crate::keys::KeysWait> {
        if let Some(routes) = &self.inner.routes {
            return route(routes, token).ok()?.wait_for_keys(token, error);
        }
        let source = self.inner.keys.source()?;
        match error.kind() {
            // A fetch may have brought the key between this token's verify and now: then
            // verify again at once rather than refuse within the cooldown.
            RejectionKind::UnknownKey if self.knows_kid_now(token) => {
                Some(Box::pin(std::future::ready(())))
            }
            RejectionKind::UnknownKey => source.unknown_kid(),
            RejectionKind::KeysUnavailable => source.unloaded(),
            _ => None,
        }
    }

    /// Whether the current key set holds the key `token`'s header names.
    fn knows_kid_now(&self, token: &str) -> bool {
        let Some((header_b64, _)) = token.split_once('.') else {
            return false;
        };
        let Ok(header) = self.check_header(header_b64) else {
            return false;
        };
        let keys = self.inner.keys.load();
        keys.as_deref()
            .and_then(|set| set.get(header.kid.as_deref()))
            .is_some()
    }

    /// Counts, in [`metrics`](Self::metrics), a refusal decided outside
    /// [`verify`](Self::verify): no token, a malformed request, a policy not met. Only
    /// the [`Authenticator`](crate::auth::Authenticator) calls it.
    pub(crate) fn record_rejection(&self, kind: RejectionKind) {
        self.inner.metrics.rejected(kind);
    }

    /// What this verifier has accepted and refused so far, and the state of its keys.
    ///
    /// ```
    /// # use jwt_tower::{Algorithm, RegisteredClaims, RejectionKind, Verifier, VerificationKey};
    /// let verifier = Verifier::<RegisteredClaims>::builder(VerificationKey::hmac(Algorithm::HS256, [1u8; 32])?)
    ///     .algorithms([Algorithm::HS256])
    ///     .build()?;
    /// let _ = verifier.verify("not-a-token");
    /// let metrics = verifier.metrics();
    /// assert_eq!(metrics.verified, 0);
    /// assert_eq!(metrics.rejected(RejectionKind::Malformed), 1);
    /// assert_eq!(metrics.key_count, 1);
    /// # Ok::<(), jwt_tower::ConfigError>(())
    /// ```
    #[must_use]
    pub fn metrics(&self) -> MetricsSnapshot {
        let c = &*self.inner;
        match &c.routes {
            Some(routes) => {
                let each = || routes.values().map(Verifier::metrics);
                let key_count = each().map(|m| m.key_count).sum();
                let cached = each().map(|m| m.cached_tokens).sum();
                c.metrics.snapshot(None, key_count, cached)
            }
            None => {
                let key_count = c.keys.snapshot().map_or(0, |set| set.len());
                let cached = c.cache.as_ref().map_or(0, TokenCache::len);
                c.metrics
                    .snapshot(c.keys.source().map(|s| s.stats()), key_count, cached)
            }
        }
    }

    /// A verifier for several issuers, each with its own keys and rules, chosen by the
    /// token's `iss`. A token whose `iss` names none of them is `invalid_issuer`.
    ///
    /// The `iss` is read before the signature is checked only to choose the verifier,
    /// as strictly as the verifiers read claims; the chosen verifier then checks
    /// everything, `iss` and `aud` included (by its own rules: one with no audience
    /// refuses a token that names one), so each one must accept exactly the issuer it is
    /// registered under.
    ///
    /// # Errors
    /// [`ConfigError::IssuerRoute`] when a verifier does not accept the issuer it is
    /// registered under, or no verifier is given.
    ///
    /// ```
    /// # use jwt_tower::{Algorithm, RegisteredClaims, Verifier, VerificationKey};
    /// let a = Verifier::<RegisteredClaims>::builder(VerificationKey::hmac(Algorithm::HS256, [1u8; 32])?)
    ///     .algorithms([Algorithm::HS256]).issuer("https://a.example").build()?;
    /// let b = Verifier::<RegisteredClaims>::builder(VerificationKey::hmac(Algorithm::HS256, [2u8; 32])?)
    ///     .algorithms([Algorithm::HS256]).issuer("https://b.example").audience("api").build()?;
    /// let both = Verifier::by_issuer([("https://a.example", a), ("https://b.example", b)])?;
    /// # let _ = both;
    /// # Ok::<(), jwt_tower::ConfigError>(())
    /// ```
    pub fn by_issuer<I: Into<Box<str>>>(
        verifiers: impl IntoIterator<Item = (I, Verifier<C>)>,
    ) -> Result<Self, ConfigError> {
        let mut routes = HashMap::new();
        let mut algorithms = AlgorithmSet::empty();
        let mut max_token_len = 0;
        for (issuer, verifier) in verifiers {
            let issuer: Box<str> = issuer.into();
            let sub = &*verifier.inner;
            if sub.routes.is_some() || !sub.issuers.contains(&issuer) {
                return Err(ConfigError::IssuerRoute(issuer.into_string()));
            }
            for alg in sub.algorithms.iter() {
                algorithms.insert(alg);
            }
            max_token_len = max_token_len.max(sub.max_token_len);
            routes.insert(issuer, verifier);
        }
        if routes.is_empty() {
            return Err(ConfigError::IssuerRoute(String::new()));
        }
        let mut builder = Verifier::builder(Keys::unloaded())
            .algorithms(algorithms.iter())
            .max_token_len(max_token_len);
        builder.config.routes = Some(routes);
        builder.build()
    }

    /// The longest token accepted, in bytes.
    #[must_use]
    pub fn max_token_len(&self) -> usize {
        self.inner.max_token_len
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

    /// Accept a token whatever its `aud` says, when no [`audience`](Self::audience) is
    /// set: the one way to verify tokens meant for other recipients too (a gateway that
    /// checks only the signature and issuer, a token-inspection tool). An audience, once
    /// set, is checked regardless.
    ///
    /// ```
    /// # use jwt_tower::{Algorithm, RegisteredClaims, RejectionKind, Verifier, VerificationKey};
    /// let secret = [7u8; 32];
    /// let key = || VerificationKey::hmac(Algorithm::HS256, secret);
    /// let token = jsonwebtoken::encode(&jsonwebtoken::Header::default(),
    ///     &serde_json::json!({"aud": "billing", "exp": jsonwebtoken::get_current_timestamp() + 60}),
    ///     &jsonwebtoken::EncodingKey::from_secret(&secret)).unwrap();
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
    /// # let token = jsonwebtoken::encode(&jsonwebtoken::Header::default(),
    /// #     &serde_json::json!({"sub": "alice", "exp": jsonwebtoken::get_current_timestamp() + 60}),
    /// #     &jsonwebtoken::EncodingKey::from_secret(&secret)).unwrap();
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
    /// named one we do not know.
    pub fn build(self) -> Result<Verifier<C>, ConfigError> {
        if let Some(e) = self.bad_algorithm {
            return Err(e);
        }
        if self.config.algorithms.is_empty() {
            return Err(ConfigError::NoAlgorithms);
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

fn reject(kind: RejectionKind) -> AuthError {
    AuthError::new(kind)
}

fn described(kind: RejectionKind, description: &'static str) -> AuthError {
    AuthError::with_description(kind, description)
}

/// Whether `C` is [`RegisteredClaims`]: then every one of its fields is in the token's
/// facts (the claims view, read from the whole payload), so parsing the JSON again would
/// only repeat it, and the claims are built from the facts on first use only.
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

/// Maps a JSON error: wrong types are `InvalidClaim`, anything else `Malformed`.
fn json_error(e: &serde_json::Error, what: &'static str) -> AuthError {
    match e.classify() {
        serde_json::error::Category::Data => described(RejectionKind::InvalidClaim, what),
        _ => reject(RejectionKind::Malformed),
    }
}

/// Decodes one base64url part into `stack` when it fits, onto the heap otherwise: the
/// common token costs no allocation here.
fn decode_part<'b>(b64: &str, stack: &'b mut [u8]) -> Result<Cow<'b, [u8]>, AuthError> {
    let malformed = || reject(RejectionKind::Malformed);
    let len = base64url::decoded_len(b64.len()).ok_or_else(malformed)?;
    if len <= stack.len() {
        base64url::decode(b64.as_bytes(), stack).ok_or_else(malformed)?;
        Ok(Cow::Borrowed(&stack[..len]))
    } else {
        let mut heap = vec![0; len];
        base64url::decode(b64.as_bytes(), &mut heap).ok_or_else(malformed)?;
        Ok(Cow::Owned(heap))
    }
}

/// Which part of a token a piece of JSON is, for the descriptions of its refusals.
#[derive(Clone, Copy)]
enum Part {
    Header,
    Claims,
}

/// A decoded header or claims, as text: JSON is UTF-8 (RFC 8259 §8.1), so bytes that
/// are not are malformed, whether or not anybody would read them.
fn utf8(bytes: &[u8], part: Part) -> Result<&str, AuthError> {
    std::str::from_utf8(bytes).map_err(|_| {
        described(
            RejectionKind::Malformed,
            match part {
                Part::Header => "the token header is not UTF-8",
                Part::Claims => "the token's claims are not UTF-8",
            },
        )
    })
}

/// The refusal for a strict-reading violation (see `strict`), if `e` is one.
fn strict_error(e: &serde_json::Error, part: Part) -> Option<AuthError> {
    let description = match (Violation::of(e)?, part) {
        (Violation::NotAnObject, Part::Header) => "the token header is not a JSON object",
        (Violation::NotAnObject, Part::Claims) => "the token's claims are not a JSON object",
        (Violation::DuplicateMember, Part::Header) => "the token header repeats a member name",
        (Violation::DuplicateMember, Part::Claims) => "the token's claims repeat a member name",
        (Violation::TooDeep, Part::Header) => "the token header nests arrays or objects too deep",
        (Violation::TooDeep, Part::Claims) => "the token's claims nest arrays or objects too deep",
    };
    Some(described(RejectionKind::Malformed, description))
}

/// The claims view of `payload`, read strictly: by the fast path when it can, else by
/// serde, which decides every error.
fn claims_view<'a>(payload: &'a str, seed: ViewSeed<'_>) -> Result<ClaimsView<'a>, AuthError> {
    if let Some(view) = scan::view(payload, &seed) {
        return Ok(view);
    }
    strict::read_object(payload, seed).map_err(|e| {
        strict_error(&e, Part::Claims)
            .unwrap_or_else(|| json_error(&e, "a registered claim has the wrong type"))
    })
}

/// Whether `s` holds a control character (Unicode `Cc`: U+0000-U+001F, U+007F-U+009F).
/// In a string handed out as identity, one would be cut or reinterpreted by whatever
/// prints, logs or passes it on as a C string (`alice\0admin` reads `alice`): such a
/// string is refused, not cleaned.
fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

impl<C> Verifier<C> {
    /// Decodes and checks a header: JSON, not encrypted, `alg` allowed, no `crit`, the
    /// required `typ`. The outcome depends on the header's bytes and this verifier's
    /// (fixed) rules only, which is what lets `verify` reuse it for identical bytes.
    fn check_header(&self, header_b64: &str) -> Result<CheckedHeader, AuthError> {
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
    /// Verifies `token` and returns its claims.
    ///
    /// The order is fixed: size, shape, header (`alg` allow-list, `crit`, `typ`), key by
    /// `kid` (its algorithms must include `alg`), signature, then claims. Nothing in the
    /// claims is read before the signature has verified.
    ///
    /// # Errors
    /// An [`AuthError`] whose [`RejectionKind`] says exactly why.
    pub fn verify(&self, token: &str) -> Result<VerifiedToken<C>, AuthError> {
        let result = self.verify_routed(token);
        self.count(&result);
        result
    }

    /// [`verify`](Self::verify) for a token whose characters nobody checked yet: the bytes
    /// of an `Authorization` value, as they came. Spares the layer a pass over every valid
    /// token to prove what verifying it proves anyway.
    ///
    /// That is sound because a token that verifies is base64url and dots only (its
    /// characters are a subset of `b64token`'s), and a cache entry matches only the exact
    /// bytes of a token that verified: a hit is a well-formed token. A failure is handed
    /// to `blame`, which turns it into the error to give (it may be the request's rather
    /// than the token's), and that one is counted; a hit's refusal (revoked, a custom
    /// check) is the token's, as is.
    ///
    /// With a cache (and one issuer), the token is looked up once: a miss goes straight
    /// on to the full verification, which stores it.
    pub(crate) fn verify_unchecked(
        &self,
        token: &[u8],
        blame: impl FnOnce(AuthError) -> AuthError,
    ) -> Result<VerifiedToken<C>, AuthError> {
        let c = &*self.inner;
        let text = |token| std::str::from_utf8(token).map_err(|_| reject(RejectionKind::Malformed));
        // Several issuers: each route has its own cache, and `verify_routed` picks it.
        let result = match c.cache.as_ref().filter(|_| c.routes.is_none()) {
            Some(cache) => match self.cached(cache, token) {
                Some(hit) => self.serve_hit(hit),
                None => text(token)
                    .and_then(|token| self.within_limit(token))
                    .and_then(|token| self.verify_and_store(cache, token))
                    .map_err(blame),
            },
            None => text(token)
                .and_then(|token| self.verify_routed(token))
                .map_err(blame),
        };
        self.count(&result);
        result
    }

    /// `verify` by the verifier for the token's issuer (or this one), not counted.
    fn verify_routed(&self, token: &str) -> Result<VerifiedToken<C>, AuthError> {
        match &self.inner.routes {
            Some(routes) => route(routes, token).and_then(|v| v.verify_uncounted(token)),
            None => self.verify_uncounted(token),
        }
    }

    /// Counts an answer in the metrics.
    fn count(&self, result: &Result<VerifiedToken<C>, AuthError>) {
        match result {
            Ok(_) => self.inner.metrics.verified(),
            Err(e) => self.inner.metrics.rejected(e.kind()),
        }
    }

    /// `token`, unless it is longer than the limit: checked first, before any work.
    fn within_limit<'t>(&self, token: &'t str) -> Result<&'t str, AuthError> {
        if token.len() > self.inner.max_token_len {
            return Err(reject(RejectionKind::TokenTooLarge));
        }
        Ok(token)
    }

    fn verify_uncounted(&self, token: &str) -> Result<VerifiedToken<C>, AuthError> {
        let c = &*self.inner;
        let token = self.within_limit(token)?;
        let Some(cache) = &c.cache else {
            return self.verify_signed(token).map(|fresh| fresh.token);
        };
        if let Some(hit) = self.cached(cache, token.as_bytes()) {
            return self.serve_hit(hit);
        }
        self.verify_and_store(cache, token)
    }

    /// The full verification of a token within the size limit that the cache does not
    /// hold, then stored in it while the time checks keep passing.
    fn verify_and_store(
        &self,
        cache: &TokenCache<C>,
        token: &str,
    ) -> Result<VerifiedToken<C>, AuthError> {
        let fresh = self.verify_signed(token)?;
        if let Some(window) = fresh.window {
            cache.insert(token.as_bytes(), &fresh.token, fresh.generation, window);
        }
        Ok(fresh.token)
    }

    /// The cache's entry for `token` under the key set in use, if any.
    fn cached(&self, cache: &TokenCache<C>, token: &[u8]) -> Option<VerifiedToken<C>> {
        let generation = self.inner.keys.load().as_deref().map(KeySet::generation)?;
        cache.get(token, generation, now())
    }

    /// A cache hit, checked again where the answer can change for the same token.
    fn serve_hit(&self, hit: VerifiedToken<C>) -> Result<VerifiedToken<C>, AuthError> {
        // Revocations and custom checks can change their answer for the same token;
        // everything else the cache skips cannot.
        let (jti, sub, iat) = hit.revocation_facts();
        self.check_revocations(jti, sub, iat)?;
        self.run_checks(&hit)?;
        self.inner.metrics.cache_hit();
        Ok(hit)
    }

    /// The full verification: header, key, signature, claims. Also says under which key
    /// set it passed, and how long the time checks will keep passing (for the cache).
    fn verify_signed(&self, token: &str) -> Result<Fresh<C>, AuthError> {
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

        // Claims: first the registered ones, borrowed, then the caller's type.
        let mut payload_stack = [0u8; PAYLOAD_STACK_LEN];
        let payload = decode_part(payload_b64, &mut payload_stack)?;
        let payload = utf8(&payload, Part::Claims)?;
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
        self.run_checks(&verified)?;

        Ok(Fresh {
            token: verified,
            generation,
            window: c.cache.as_ref().and_then(|_| self.valid_window(&view)),
        })
    }

    /// The custom checks, on the claims (built now if they are built lazily and there is
    /// a check to read them).
    fn run_checks(&self, verified: &VerifiedToken<C>) -> Result<(), AuthError> {
        for check in &self.inner.checks {
            check(verified.claims())
                .map_err(|why| AuthError::with_description(RejectionKind::Rejected, why))?;
        }
        Ok(())
    }

    /// When `check_claims` passes for these claims: from `nbf` (and a max age's `iat`),
    /// less the leeway, until `exp` (or the max age) plus the leeway. Tokens without
    /// `exp` get none: nothing bounds how long they would sit in the cache.
    fn valid_window(&self, view: &ClaimsView<'_>) -> Option<Window> {
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

    fn check_revocations(
        &self,
        jti: Option<&str>,
        sub: Option<&str>,
        iat: Option<i64>,
    ) -> Result<(), AuthError> {
        let Some(revocations) = &self.inner.revocations else {
            return Ok(());
        };
        if revocations.refusing() {
            return Err(reject(RejectionKind::RevocationsOutOfStep));
        }
        if revocations.is_revoked(jti, sub, iat) {
            return Err(reject(RejectionKind::Revoked));
        }
        Ok(())
    }

    fn check_claims(&self, view: &ClaimsView<'_>) -> Result<(), AuthError> {
        let c = &*self.inner;
        let now = now();
        match view.exp {
            Some(exp) if now >= exp.saturating_add(c.leeway) => {
                return Err(reject(RejectionKind::Expired));
            }
            None if c.require_exp => {
                return Err(described(
                    RejectionKind::MissingClaim,
                    "the token has no `exp` claim",
                ));
            }
            _ => {}
        }
        if let Some(nbf) = view.nbf
            && c.validate_nbf
            && now.saturating_add(c.leeway) < nbf
        {
            return Err(reject(RejectionKind::NotYetValid));
        }
        // A token issued in the future is not valid yet, whether or not its age is
        // bounded: its `iat` would also place it after any revocation of its subject.
        if let Some(iat) = view.iat
            && iat > now.saturating_add(c.leeway)
        {
            return Err(described(
                RejectionKind::NotYetValid,
                "the token's `iat` is in the future",
            ));
        }
        if let Some(max_age) = c.max_age {
            let Some(iat) = view.iat else {
                return Err(described(
                    RejectionKind::MissingClaim,
                    "the token has no `iat` claim",
                ));
            };
            if now.saturating_sub(iat) > max_age.saturating_add(c.leeway) {
                return Err(reject(RejectionKind::TooOld));
            }
        }
        if !c.issuers.is_empty() {
            let Some(iss) = &view.iss else {
                return Err(described(
                    RejectionKind::MissingClaim,
                    "the token has no `iss` claim",
                ));
            };
            if !c.issuers.iter().any(|i| **i == **iss) {
                return Err(reject(RejectionKind::InvalidIssuer));
            }
        }
        if c.audiences.is_empty() {
            if view.aud.is_some() && !c.any_audience {
                return Err(described(
                    RejectionKind::InvalidAudience,
                    "the token names an audience and this verifier is configured for none",
                ));
            }
        } else {
            let Some(aud) = &view.aud else {
                return Err(described(
                    RejectionKind::MissingClaim,
                    "the token has no `aud` claim",
                ));
            };
            if !aud
                .iter()
                .any(|a| c.audiences.iter().any(|ours| **ours == *a))
            {
                return Err(reject(RejectionKind::InvalidAudience));
            }
        }
        if !view.no_controls {
            check_identity_strings(view, &c.roles_claim)?;
        }
        if let Some(subject) = &c.subject
            && view.sub.as_deref() != Some(&**subject)
        {
            return Err(reject(RejectionKind::InvalidSubject));
        }
        self.check_revocations(view.jti.as_deref(), view.sub.as_deref(), view.iat)?;
        let all_required = if c.required_claims.len() >= 64 {
            u64::MAX
        } else {
            (1u64 << c.required_claims.len()) - 1
        };
        if view.required_seen & all_required != all_required {
            let missing = c
                .required_claims
                .iter()
                .enumerate()
                .find(|(i, _)| view.required_seen & (1 << i) == 0)
                .map(|(_, name)| name.to_string())
                .unwrap_or_default();
            return Err(AuthError::with_description(
                RejectionKind::MissingClaim,
                format!("the token lacks the required claim `{missing}`"),
            ));
        }
        Ok(())
    }
}

/// Refuses control characters (see [`has_control`]) in the claims handed out as the
/// caller's identity: `iss`, `sub`, `jti`, and every entry of `aud`, `scope`, `scp` and
/// the roles claim (named `roles_claim`).
fn check_identity_strings(view: &ClaimsView<'_>, roles_claim: &str) -> Result<(), AuthError> {
    let one = |s: &Option<Cow<'_, str>>| s.as_deref().is_some_and(has_control);
    let list = |l: &Option<StrOrList<'_>>| l.as_ref().is_some_and(|l| l.iter().any(has_control));
    let bad = if one(&view.iss) {
        "iss"
    } else if one(&view.sub) {
        "sub"
    } else if one(&view.jti) {
        "jti"
    } else if one(&view.scope) {
        "scope"
    } else if list(&view.aud) {
        "aud"
    } else if list(&view.scp) {
        "scp"
    } else if list(&view.roles) {
        roles_claim
    } else {
        return Ok(());
    };
    Err(AuthError::with_description(
        RejectionKind::InvalidClaim,
        format!("the `{bad}` claim holds a control character"),
    ))
}

/// The verifier registered for the token's `iss`, read without verifying anything.
fn route<'v, C>(
    routes: &'v HashMap<Box<str>, Verifier<C>>,
    token: &str,
) -> Result<&'v Verifier<C>, AuthError> {
    let max = routes
        .values()
        .map(|v| v.inner.max_token_len)
        .max()
        .unwrap_or(0);
    if token.len() > max {
        return Err(reject(RejectionKind::TokenTooLarge));
    }
    let payload_b64 = token
        .split('.')
        .nth(1)
        .ok_or_else(|| reject(RejectionKind::Malformed))?;
    let mut payload_stack = [0u8; PAYLOAD_STACK_LEN];
    let payload = decode_part(payload_b64, &mut payload_stack)?;
    // The strict reading the chosen verifier will make: no second reading of `iss`.
    let seed = ViewSeed {
        required: &[],
        roles_claim: None,
    };
    let view = claims_view(utf8(&payload, Part::Claims)?, seed)?;
    let iss = view
        .iss
        .ok_or_else(|| described(RejectionKind::MissingClaim, "the token has no `iss` claim"))?;
    routes
        .get(&*iss)
        .ok_or_else(|| reject(RejectionKind::InvalidIssuer))
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header};

    use crate::{
        Algorithm, KeySet, Keys, RegisteredClaims, RejectionKind, VerificationKey, Verifier,
    };

    /// Tests mint with jsonwebtoken, which panics when both of its backends are enabled
    /// (as in the RustCrypto test run, where dev-dependencies add aws-lc-rs): pin one.
    fn pin_jsonwebtoken_backend() {
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    }

    fn mint(typ: &str, secret: &[u8]) -> String {
        pin_jsonwebtoken_backend();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        header.typ = Some(typ.into());
        let claims = serde_json::json!({"sub": "alice", "exp": 4_000_000_000u64});
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret)).unwrap()
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
        let key = EncodingKey::from_secret(secret);
        let signature =
            jsonwebtoken::crypto::sign(signing_input.as_bytes(), &key, Algorithm::HS256).unwrap();
        format!("{signing_input}.{signature}")
    }

    /// Claims that are not UTF-8 are not JSON (RFC 8259 §8.1): malformed, whether the
    /// invalid bytes sit in a claim nobody reads or in one that is read.
    #[test]
    fn claims_that_are_not_utf8_are_malformed() {
        let secret = [1u8; 32];
        let verifier = Verifier::<RegisteredClaims>::builder(
            VerificationKey::hmac(Algorithm::HS256, secret).unwrap(),
        )
        .algorithms([Algorithm::HS256])
        .build()
        .unwrap();
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
        let verifier = Verifier::<RegisteredClaims>::builder(
            VerificationKey::hmac(Algorithm::HS256, secret).unwrap(),
        )
        .algorithms([Algorithm::HS256])
        .build()
        .unwrap();
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
        assert_eq!(verified.header().alg, Algorithm::HS256);
        assert_eq!(verified.header().typ.as_deref(), Some("JWT"));
        assert_eq!(verified.header().kid, None);
    }

    /// `RegisteredClaims` built lazily from a token's facts are what serde reads from its
    /// payload, for every shape of `aud` and `scope`, through the scanner and through
    /// serde (escapes), whether asked by reference or taken by value.
    #[test]
    fn registered_claims_from_the_facts_are_what_serde_reads() {
        let secret = [1u8; 32];
        let verifier = Verifier::<RegisteredClaims>::builder(
            VerificationKey::hmac(Algorithm::HS256, secret).unwrap(),
        )
        .algorithms([Algorithm::HS256])
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
        let verifier =
            Verifier::<Mine>::builder(VerificationKey::hmac(Algorithm::HS256, secret).unwrap())
                .algorithms([Algorithm::HS256])
                .require_exp(false)
                .build()
                .unwrap();
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
