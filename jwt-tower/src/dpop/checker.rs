//! [`DpopChecker`]: every check of RFC 9449 §4.3 (and §7.1 at a resource) on one proof,
//! synchronous, then the reservation of its `jti` in a store, asynchronous, so that a
//! caller runs the cheap checks first and waits on the store only for a proof that
//! passed them.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, Method};
use sha2::{Digest as _, Sha256};

use super::DpopMode;
use super::htu::{self, PublicOrigin};
use super::nonce::{DEFAULT_NONCE_WINDOW_SECS, NonceSecret, NonceVerdict, Nonces};
use super::proof::{self, access_token_hash};
use crate::algorithm::{Algorithm, AlgorithmSet};
use crate::resource::TrustForwarded;
use crate::store::{MemoryStore, Store};
use crate::{AuthError, ConfigError, RejectionKind};

/// How old a proof may be by default: 60 seconds.
pub const DEFAULT_PROOF_MAX_AGE: Duration = Duration::from_secs(60);

/// The algorithms proofs may be signed with by default: `ES256`, `Ed25519`, `EdDSA`.
pub const DEFAULT_PROOF_ALGORITHMS: [Algorithm; 3] =
    [Algorithm::ES256, Algorithm::Ed25519, Algorithm::EdDSA];

/// A proof that passed every synchronous check; [`DpopChecker::reserve`] still has to
/// reserve its `jti` before the request is admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedProof {
    jkt: String,
    jti: String,
    iat: i64,
    nonce: Option<String>,
    fresh_nonce_due: bool,
    replay_key: String,
    reserve_until: i64,
}

impl CheckedProof {
    /// The RFC 7638 thumbprint of the proof's key: what a bound token's `cnf.jkt` names.
    #[must_use]
    pub fn jkt(&self) -> &str {
        &self.jkt
    }

    /// The proof's `jti`.
    #[must_use]
    pub fn jti(&self) -> &str {
        &self.jti
    }

    /// The proof's `iat`, seconds since the epoch.
    #[must_use]
    pub fn iat(&self) -> i64 {
        self.iat
    }

    /// The server nonce the proof carried, if any.
    #[must_use]
    pub fn nonce(&self) -> Option<&str> {
        self.nonce.as_deref()
    }

    /// Whether the answer should carry a fresh `DPoP-Nonce`: the proof's nonce is from
    /// the previous window and will soon stop being accepted.
    #[must_use]
    pub fn fresh_nonce_due(&self) -> bool {
        self.fresh_nonce_due
    }
}

/// Checks DPoP proofs: built once, cheap to clone, shared by every request.
///
/// ```
/// use jwt_tower::dpop::{DpopChecker, DpopMode};
///
/// let checker = DpopChecker::builder("https://api.example.com")
///     .mode(DpopMode::Required)
///     .build()?;
/// assert_eq!(checker.algs(), "ES256 Ed25519 EdDSA");
/// assert_eq!(checker.mode(), DpopMode::Required);
/// # Ok::<(), jwt_tower::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct DpopChecker {
    inner: Arc<Inner>,
}

struct Inner {
    mode: DpopMode,
    algorithms: AlgorithmSet,
    algs: Arc<str>,
    max_age: i64,
    leeway: i64,
    origin: PublicOrigin,
    nonces: Option<Nonces>,
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopChecker")
            .field("mode", &self.mode)
            .field("algs", &self.algs)
            .field("max_age", &self.max_age)
            .field("leeway", &self.leeway)
            .field("origin", &self.origin)
            .field("nonces", &self.nonces.is_some())
            .finish_non_exhaustive()
    }
}

/// Builds a [`DpopChecker`].
#[must_use]
pub struct DpopCheckerBuilder {
    public_url: String,
    mode: DpopMode,
    algorithms: Vec<Algorithm>,
    max_age: Duration,
    leeway: Duration,
    trust: TrustForwarded,
    nonce: Option<NonceSecret>,
    nonce_window: Duration,
    store: Option<Arc<dyn Store>>,
}

impl DpopChecker {
    /// A checker for requests reaching this server at `public_url` (scheme, host, port
    /// and any path prefix, e.g. `https://api.example.com`): a proof's `htu` must name
    /// that URL plus the request's path. Mode [`DpopMode::Allowed`], the
    /// [default algorithms](DEFAULT_PROOF_ALGORITHMS), 60 s back and the verifier's
    /// default leeway forward, no nonces, replays refused through a [`MemoryStore`]
    /// (one instance; give a shared store to a fleet).
    pub fn builder(public_url: impl Into<String>) -> DpopCheckerBuilder {
        DpopCheckerBuilder {
            public_url: public_url.into(),
            mode: DpopMode::Allowed,
            algorithms: DEFAULT_PROOF_ALGORITHMS.to_vec(),
            max_age: DEFAULT_PROOF_MAX_AGE,
            leeway: crate::verify::DEFAULT_LEEWAY,
            trust: TrustForwarded::Off,
            nonce: None,
            nonce_window: Duration::from_secs(DEFAULT_NONCE_WINDOW_SECS.unsigned_abs()),
            store: None,
        }
    }

    /// The mode: whether DPoP is off, allowed beside Bearer, or required.
    #[must_use]
    pub fn mode(&self) -> DpopMode {
        self.inner.mode
    }

    /// The algorithms proofs may be signed with.
    #[must_use]
    pub fn algorithms(&self) -> AlgorithmSet {
        self.inner.algorithms
    }

    /// The algorithms as a challenge's `algs` names them: space-separated.
    #[must_use]
    pub fn algs(&self) -> &str {
        &self.inner.algs
    }

    pub(crate) fn algs_shared(&self) -> Arc<str> {
        Arc::clone(&self.inner.algs)
    }

    /// Whether proofs must carry a server nonce.
    #[must_use]
    pub fn nonce_required(&self) -> bool {
        self.inner.nonces.is_some()
    }

    /// The nonce to send in `DPoP-Nonce` now, when nonces are required.
    #[must_use]
    pub fn fresh_nonce(&self, now: i64) -> Option<String> {
        self.inner.nonces.as_ref().map(|n| n.issue(now))
    }

    /// The normalised URI a proof for a request to `path` must name in `htu`: the
    /// public URL plus `path`, with the scheme and host a trusted proxy reports when
    /// forwarding headers are trusted. `None` when they make no valid URI.
    #[must_use]
    pub fn expected_htu(&self, path: &str, headers: &HeaderMap) -> Option<String> {
        self.inner.origin.expected(path, headers)
    }

    /// Every synchronous check of `proof` for a request with this `method`, `path` and
    /// `headers` (for trusted forwarding headers only), presenting `access_token` (its
    /// `ath` is then required) at `now` (seconds since the epoch).
    ///
    /// # Errors
    /// The refusal of the first check that fails, of a `Dpop…` kind.
    pub fn check(
        &self,
        proof: &str,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        access_token: Option<&str>,
        now: i64,
    ) -> Result<CheckedProof, AuthError> {
        let expected = self
            .expected_htu(path, headers)
            .ok_or_else(|| AuthError::new(RejectionKind::DpopUri))?;
        self.check_for_uri(proof, method, &expected, access_token, now)
    }

    /// As [`check`](Self::check), for a proof that must name exactly `expected_htu`
    /// (normalised here): an authorization server's token endpoint, for example.
    ///
    /// # Errors
    /// As [`check`](Self::check).
    pub fn check_for_uri(
        &self,
        proof: &str,
        method: &Method,
        expected_htu: &str,
        access_token: Option<&str>,
        now: i64,
    ) -> Result<CheckedProof, AuthError> {
        let inner = &*self.inner;
        let signed = proof::verify(proof, inner.algorithms)?;
        let claims = signed.claims;
        if claims.htm != method.as_str() {
            return Err(AuthError::new(RejectionKind::DpopMethod));
        }
        let expected =
            htu::normalise(expected_htu).ok_or_else(|| AuthError::new(RejectionKind::DpopUri))?;
        if !htu::matches(&claims.htu, &expected) {
            return Err(AuthError::new(RejectionKind::DpopUri));
        }
        let mut fresh_nonce_due = false;
        if let Some(nonces) = &inner.nonces {
            let Some(nonce) = &claims.nonce else {
                return Err(AuthError::new(RejectionKind::DpopNonceRequired));
            };
            match nonces.check(nonce, now) {
                NonceVerdict::Current => {}
                NonceVerdict::Previous => fresh_nonce_due = true,
                NonceVerdict::Invalid => {
                    return Err(AuthError::new(RejectionKind::DpopNonceInvalid));
                }
            }
        }
        if claims.iat < now.saturating_sub(inner.max_age)
            || claims.iat > now.saturating_add(inner.leeway)
        {
            return Err(AuthError::new(RejectionKind::DpopIssuedAt));
        }
        if let Some(token) = access_token {
            let matches = claims.ath.as_deref().is_some_and(|ath| {
                // Both are public values; the comparison need not be constant-time, but
                // it is exact: no normalisation of either side.
                ath == access_token_hash(token)
            });
            if !matches {
                return Err(AuthError::new(RejectionKind::DpopTokenHash));
            }
        }
        let replay_key = replay_key(&signed.jkt, &claims.jti);
        Ok(CheckedProof {
            jkt: signed.jkt,
            jti: claims.jti,
            iat: claims.iat,
            nonce: claims.nonce,
            fresh_nonce_due,
            replay_key,
            reserve_until: claims
                .iat
                .saturating_add(inner.max_age)
                .saturating_add(inner.leeway)
                .saturating_add(1),
        })
    }

    /// Reserves the proof's `jti` in the store, until the proof would be too old anyway:
    /// the first presentation on any instance sharing the store passes, every other is
    /// a replay.
    ///
    /// # Errors
    /// [`DpopReplay`](RejectionKind::DpopReplay) for a proof seen before,
    /// [`ReplayStoreUnavailable`](RejectionKind::ReplayStoreUnavailable) when the store
    /// cannot answer (the request is refused rather than risk a replay).
    pub async fn reserve(&self, proof: &CheckedProof, now: i64) -> Result<(), AuthError> {
        match self
            .inner
            .store
            .mark_once(&proof.replay_key, proof.reserve_until, now)
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(AuthError::new(RejectionKind::DpopReplay)),
            Err(e) => {
                tracing::warn!(error = %e, "DPoP replay store unavailable");
                Err(AuthError::new(RejectionKind::ReplayStoreUnavailable))
            }
        }
    }
}

/// The store key of a proof: namespaced, and a hash of the key's thumbprint and the
/// `jti`, so that its length is bounded whatever the client sends.
fn replay_key(jkt: &str, jti: &str) -> String {
    use base64::Engine as _;
    let mut hash = Sha256::new();
    hash.update(jkt.as_bytes());
    hash.update([0]);
    hash.update(jti.as_bytes());
    format!(
        "dpop:jti:{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash.finalize())
    )
}

impl DpopCheckerBuilder {
    /// Off, allowed (the builder's default) or required.
    pub fn mode(mut self, mode: DpopMode) -> Self {
        self.mode = mode;
        self
    }

    /// The algorithms proofs may be signed with (asymmetric only: HMAC algorithms make
    /// [`build`](Self::build) fail).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// How old a proof's `iat` may be (default 60 s).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// How far in the future a proof's `iat` may be, for clock skew (default the
    /// verifier's default leeway).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Whether a trusted proxy's `Forwarded` / `X-Forwarded-*` headers give the scheme
    /// and host of the expected `htu` (default off: the public URL alone).
    pub fn trust_forwarded(mut self, trust: TrustForwarded) -> Self {
        self.trust = trust;
        self
    }

    /// Require server nonces derived from `secret` (see [`NonceSecret::from_store`] for
    /// one every instance of a fleet shares).
    pub fn require_nonce(mut self, secret: NonceSecret) -> Self {
        self.nonce = Some(secret);
        self
    }

    /// How long a nonce window lasts (default 5 minutes; a nonce is accepted in its
    /// window and the next).
    pub fn nonce_window(mut self, window: Duration) -> Self {
        self.nonce_window = window;
        self
    }

    /// The store that reserves proofs' `jti`s: a shared one (Redis) refuses a proof
    /// replayed on any instance of a fleet.
    pub fn replay_store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The checker.
    ///
    /// # Errors
    /// [`ConfigError::NoAlgorithms`] for an empty allow-list, [`ConfigError::Dpop`] for
    /// an HMAC algorithm (a proof proves a private key) or a public URL that is not an
    /// absolute `http(s)` URL.
    pub fn build(self) -> Result<DpopChecker, ConfigError> {
        let mut algorithms = AlgorithmSet::empty();
        for alg in &self.algorithms {
            if alg.family() == crate::algorithm::AlgorithmFamily::Hmac {
                return Err(ConfigError::Dpop(format!(
                    "{} cannot sign proofs: they need an asymmetric algorithm",
                    alg.name()
                )));
            }
            algorithms.insert(*alg);
        }
        if algorithms.is_empty() {
            return Err(ConfigError::NoAlgorithms);
        }
        let mut names: Vec<&str> = Vec::new();
        for alg in &self.algorithms {
            if !names.contains(&alg.name()) {
                names.push(alg.name());
            }
        }
        let origin = PublicOrigin::new(&self.public_url, self.trust).ok_or_else(|| {
            ConfigError::Dpop(format!(
                "the public URL {:?} is not an absolute http(s) URL",
                self.public_url
            ))
        })?;
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        Ok(DpopChecker {
            inner: Arc::new(Inner {
                mode: self.mode,
                algorithms,
                algs: Arc::from(names.join(" ")),
                max_age: secs(self.max_age),
                leeway: secs(self.leeway),
                origin,
                nonces: self
                    .nonce
                    .map(|secret| Nonces::new(secret, secs(self.nonce_window))),
                store: self.store.unwrap_or_else(|| Arc::new(MemoryStore::new())),
            }),
        })
    }
}
