//! Why a request was refused, and why a configuration was.
//!
//! Every refusal is an [`AuthError`] with a [`RejectionKind`]. The kind decides the
//! category ([`ErrorCategory`]), and the category decides the HTTP (RFC 6750) and gRPC
//! forms. Descriptions are fixed strings: they never echo the token or a claim value.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// The family a rejection belongs to; it decides the status code and the
/// `WWW-Authenticate` challenge.
///
/// | category | HTTP | `error=` |
/// |---|---|---|
/// | [`MissingToken`](Self::MissingToken) | 401 | none |
/// | [`InvalidRequest`](Self::InvalidRequest) | 400 | `invalid_request` |
/// | [`InvalidToken`](Self::InvalidToken) | 401 | `invalid_token` |
/// | [`InsufficientScope`](Self::InsufficientScope) | 403 | `insufficient_scope` |
/// | [`Unavailable`](Self::Unavailable) | 503 | none |
/// | [`InvalidDpopProof`](Self::InvalidDpopProof) | 401 | `invalid_dpop_proof` |
/// | [`UseDpopNonce`](Self::UseDpopNonce) | 401 | `use_dpop_nonce` |
///
/// The two DPoP categories (RFC 9449 §7.1, §9) are answered with a `DPoP` challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCategory {
    /// The request carried no token at all.
    MissingToken,
    /// The request was malformed (two different tokens, a bad `Authorization` header).
    InvalidRequest,
    /// The token was malformed, expired, revoked, badly signed or failed a claim check.
    InvalidToken,
    /// The token was valid but the policy (scopes, roles, predicate) was not met.
    InsufficientScope,
    /// The service cannot decide yet (no keys loaded, the revocation list out of step
    /// with its store, the introspection endpoint unreachable); the caller should retry
    /// later.
    Unavailable,
    /// The DPoP proof was missing, malformed, or failed a check (RFC 9449 §7.1).
    InvalidDpopProof,
    /// The DPoP proof lacked the server nonce, or carried one that is not current
    /// (RFC 9449 §9): the answer carries a fresh `DPoP-Nonce`.
    UseDpopNonce,
}

impl ErrorCategory {
    /// The RFC 6750 `error` code, if this category has one.
    #[must_use]
    pub fn error_code(self) -> Option<&'static str> {
        match self {
            Self::MissingToken | Self::Unavailable => None,
            Self::InvalidRequest => Some("invalid_request"),
            Self::InvalidToken => Some("invalid_token"),
            Self::InsufficientScope => Some("insufficient_scope"),
            Self::InvalidDpopProof => Some("invalid_dpop_proof"),
            Self::UseDpopNonce => Some("use_dpop_nonce"),
        }
    }
}

/// Exactly why a request was refused.
///
/// The kind is stable and machine-readable: it is what `tracing` events and metrics
/// name, and what a custom rejection handler can match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectionKind {
    /// No token in any configured source.
    MissingToken,
    /// Two different tokens in one request (for example a header and a cookie).
    MultipleTokens,
    /// An `Authorization` header that is not `Bearer <token>`.
    InvalidAuthorizationHeader,
    /// The token is longer than the configured limit; it was not decoded.
    TokenTooLarge,
    /// Not three base64url segments, or the header or claims are not valid JSON: not
    /// UTF-8, not an object, a member name repeated in any object, or arrays and objects
    /// nested deeper than [`MAX_JSON_DEPTH`](crate::verify::MAX_JSON_DEPTH).
    Malformed,
    /// A JWE (five segments, or an `enc` header): encrypted tokens are not accepted.
    Encrypted,
    /// The header's `alg` is `none`, unknown, outside the allow-list, or not one the key is for.
    AlgorithmNotAllowed,
    /// No key matches the token's `kid` (or the token has no `kid` and the set needs one).
    UnknownKey,
    /// The header lists a `crit` extension this verifier does not understand.
    UnsupportedCritical,
    /// The signature does not verify.
    InvalidSignature,
    /// The header's `typ` is not the required one, or its `cty` announces a nested JWT
    /// (which is never unwrapped), or introspection says the token is not an access
    /// token (a `token_type` other than `Bearer` or `DPoP`: a refresh token).
    InvalidType,
    /// `exp` is in the past (beyond the leeway).
    Expired,
    /// `nbf` or `iat` is in the future (beyond the leeway).
    NotYetValid,
    /// `iat` is older than the configured maximum age.
    TooOld,
    /// `iss` is not one of the accepted issuers.
    InvalidIssuer,
    /// `aud` names none of the accepted audiences, or the token has an `aud` and the
    /// verifier accepts none (see
    /// [`accept_any_audience`](crate::VerifierBuilder::accept_any_audience)).
    InvalidAudience,
    /// `sub` is not the expected subject.
    InvalidSubject,
    /// A required claim is absent.
    MissingClaim,
    /// A claim has the wrong JSON type (`exp` as a string, `iss` as an array, …), or a
    /// claim handed out as identity (`iss`, `sub`, `jti`, `aud`, `scope`, `scp`, roles)
    /// holds a control character.
    InvalidClaim,
    /// The token was revoked.
    Revoked,
    /// A custom check refused the claims.
    Rejected,
    /// A scope, role or predicate policy was not met.
    InsufficientScope,
    /// A policy on the token's actors (RFC 8693 `act`) was not met: the token is not
    /// delegated where an actor is required, its current actor is not one allowed here,
    /// or its chain of actors is longer than allowed. A 403 `insufficient_scope`, as any
    /// policy failure: the token is valid, and getting a fresh one of the same kind
    /// (what `invalid_token` tells a client to do) would not help.
    ActorNotAllowed,
    /// The key set has never been loaded.
    KeysUnavailable,
    /// A fail-closed revocation list is out of step with its store (for example its
    /// Redis subscription is down), so a revoked token cannot be told apart.
    RevocationsOutOfStep,
    /// `Authorization: DPoP` without a `DPoP` proof header.
    DpopProofMissing,
    /// More than one `DPoP` proof header (RFC 9449 §4.3).
    DpopMultipleProofs,
    /// The proof is not a JWS compact serialization of JSON objects with the claims a
    /// proof must have (`jti`, `htm`, `htu`, `iat`), or is larger than accepted.
    DpopMalformed,
    /// The proof's `typ` is not `dpop+jwt`.
    DpopType,
    /// The proof's `alg` is not in the DPoP allow-list (never `none` nor HMAC).
    DpopAlgorithm,
    /// The proof's `jwk` is missing, private, symmetric, unsupported, or not for its `alg`.
    DpopKey,
    /// The proof's signature does not verify with its own `jwk`.
    DpopSignature,
    /// The proof's `htm` is not the request's method.
    DpopMethod,
    /// The proof's `htu` is not the request's URI (after RFC 3986 normalisation).
    DpopUri,
    /// The proof's `iat` is outside the accepted window.
    DpopIssuedAt,
    /// The proof's `ath` is missing or is not the hash of the access token.
    DpopTokenHash,
    /// The token's `cnf.jkt` is not the thumbprint of the proof's key, or a DPoP token
    /// has no `cnf.jkt`.
    DpopKeyMismatch,
    /// The proof's `jti` was seen before within its window: a replay.
    DpopReplay,
    /// The server requires a nonce and the proof carries none.
    DpopNonceRequired,
    /// The proof's nonce is not one this server (or its fleet) issued, or has expired.
    DpopNonceInvalid,
    /// A DPoP-bound token (with `cnf.jkt`) presented as a Bearer token.
    DpopBoundTokenAsBearer,
    /// A Bearer token where DPoP is required.
    DpopRequired,
    /// A certificate-bound token (`cnf["x5t#S256"]`) from a client that did not present
    /// that certificate.
    CertificateMismatch,
    /// The store that reserves DPoP proofs (against replay) cannot be reached: refused
    /// rather than risk admitting a replay.
    ReplayStoreUnavailable,
    /// The authorization server's introspection endpoint (RFC 7662) says the token is
    /// not active: expired, revoked, unknown to it, or never issued.
    InactiveToken,
    /// The token must be introspected and the introspection endpoint could not answer
    /// (down, an error status, too slow, an unreadable answer), with no answer for this
    /// token cached: refused rather than admitted unchecked.
    IntrospectionUnavailable,
}

impl RejectionKind {
    /// Every kind, in declaration order.
    pub const ALL: [RejectionKind; 46] = [
        Self::MissingToken,
        Self::MultipleTokens,
        Self::InvalidAuthorizationHeader,
        Self::TokenTooLarge,
        Self::Malformed,
        Self::Encrypted,
        Self::AlgorithmNotAllowed,
        Self::UnknownKey,
        Self::UnsupportedCritical,
        Self::InvalidSignature,
        Self::InvalidType,
        Self::Expired,
        Self::NotYetValid,
        Self::TooOld,
        Self::InvalidIssuer,
        Self::InvalidAudience,
        Self::InvalidSubject,
        Self::MissingClaim,
        Self::InvalidClaim,
        Self::Revoked,
        Self::Rejected,
        Self::InsufficientScope,
        Self::ActorNotAllowed,
        Self::KeysUnavailable,
        Self::RevocationsOutOfStep,
        Self::DpopProofMissing,
        Self::DpopMultipleProofs,
        Self::DpopMalformed,
        Self::DpopType,
        Self::DpopAlgorithm,
        Self::DpopKey,
        Self::DpopSignature,
        Self::DpopMethod,
        Self::DpopUri,
        Self::DpopIssuedAt,
        Self::DpopTokenHash,
        Self::DpopKeyMismatch,
        Self::DpopReplay,
        Self::DpopNonceRequired,
        Self::DpopNonceInvalid,
        Self::DpopBoundTokenAsBearer,
        Self::DpopRequired,
        Self::CertificateMismatch,
        Self::ReplayStoreUnavailable,
        Self::InactiveToken,
        Self::IntrospectionUnavailable,
    ];

    pub(crate) fn index(self) -> usize {
        Self::ALL.iter().position(|k| *k == self).unwrap_or(0)
    }

    /// The category this kind belongs to.
    #[must_use]
    pub fn category(self) -> ErrorCategory {
        match self {
            Self::MissingToken => ErrorCategory::MissingToken,
            Self::MultipleTokens | Self::InvalidAuthorizationHeader | Self::DpopMultipleProofs => {
                ErrorCategory::InvalidRequest
            }
            Self::InsufficientScope | Self::ActorNotAllowed => ErrorCategory::InsufficientScope,
            Self::KeysUnavailable
            | Self::RevocationsOutOfStep
            | Self::ReplayStoreUnavailable
            | Self::IntrospectionUnavailable => ErrorCategory::Unavailable,
            Self::DpopProofMissing
            | Self::DpopMalformed
            | Self::DpopType
            | Self::DpopAlgorithm
            | Self::DpopKey
            | Self::DpopSignature
            | Self::DpopMethod
            | Self::DpopUri
            | Self::DpopIssuedAt
            | Self::DpopTokenHash
            | Self::DpopKeyMismatch
            | Self::DpopReplay => ErrorCategory::InvalidDpopProof,
            Self::DpopNonceRequired | Self::DpopNonceInvalid => ErrorCategory::UseDpopNonce,
            _ => ErrorCategory::InvalidToken,
        }
    }

    /// A short, stable, snake_case name, for logs and metrics.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::MultipleTokens => "multiple_tokens",
            Self::InvalidAuthorizationHeader => "invalid_authorization_header",
            Self::TokenTooLarge => "token_too_large",
            Self::Malformed => "malformed",
            Self::Encrypted => "encrypted",
            Self::AlgorithmNotAllowed => "algorithm_not_allowed",
            Self::UnknownKey => "unknown_key",
            Self::UnsupportedCritical => "unsupported_critical",
            Self::InvalidSignature => "invalid_signature",
            Self::InvalidType => "invalid_type",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::TooOld => "too_old",
            Self::InvalidIssuer => "invalid_issuer",
            Self::InvalidAudience => "invalid_audience",
            Self::InvalidSubject => "invalid_subject",
            Self::MissingClaim => "missing_claim",
            Self::InvalidClaim => "invalid_claim",
            Self::Revoked => "revoked",
            Self::Rejected => "rejected",
            Self::InsufficientScope => "insufficient_scope",
            Self::ActorNotAllowed => "actor_not_allowed",
            Self::KeysUnavailable => "keys_unavailable",
            Self::RevocationsOutOfStep => "revocations_out_of_step",
            Self::DpopProofMissing => "dpop_proof_missing",
            Self::DpopMultipleProofs => "dpop_multiple_proofs",
            Self::DpopMalformed => "dpop_malformed",
            Self::DpopType => "dpop_type",
            Self::DpopAlgorithm => "dpop_algorithm",
            Self::DpopKey => "dpop_key",
            Self::DpopSignature => "dpop_signature",
            Self::DpopMethod => "dpop_method",
            Self::DpopUri => "dpop_uri",
            Self::DpopIssuedAt => "dpop_issued_at",
            Self::DpopTokenHash => "dpop_token_hash",
            Self::DpopKeyMismatch => "dpop_key_mismatch",
            Self::DpopReplay => "dpop_replay",
            Self::DpopNonceRequired => "dpop_nonce_required",
            Self::DpopNonceInvalid => "dpop_nonce_invalid",
            Self::DpopBoundTokenAsBearer => "dpop_bound_token_as_bearer",
            Self::DpopRequired => "dpop_required",
            Self::CertificateMismatch => "certificate_mismatch",
            Self::ReplayStoreUnavailable => "replay_store_unavailable",
            Self::InactiveToken => "inactive_token",
            Self::IntrospectionUnavailable => "introspection_unavailable",
        }
    }

    fn default_description(self) -> &'static str {
        match self {
            Self::MissingToken => "no bearer token in the request",
            Self::MultipleTokens => "the request carries more than one token",
            Self::InvalidAuthorizationHeader => {
                "the Authorization header is not of the form 'Bearer <token>'"
            }
            Self::TokenTooLarge => "the token is larger than the accepted size",
            Self::Malformed => "the token is not a well-formed JWS compact serialization",
            Self::Encrypted => "encrypted tokens (JWE) are not accepted",
            Self::AlgorithmNotAllowed => "the token's signing algorithm is not accepted",
            Self::UnknownKey => "the token was signed by an unknown key",
            Self::UnsupportedCritical => "the token requires an unsupported header extension",
            Self::InvalidSignature => "the token's signature is invalid",
            Self::InvalidType => "the token is not of the required type",
            Self::Expired => "the token has expired",
            Self::NotYetValid => "the token is not valid yet",
            Self::TooOld => "the token was issued too long ago",
            Self::InvalidIssuer => "the token's issuer is not accepted",
            Self::InvalidAudience => "the token is not intended for this audience",
            Self::InvalidSubject => "the token's subject is not accepted",
            Self::MissingClaim => "the token lacks a required claim",
            Self::InvalidClaim => "a claim in the token has the wrong type",
            Self::Revoked => "the token has been revoked",
            Self::Rejected => "the token was rejected",
            Self::InsufficientScope => "the token lacks the privileges this resource requires",
            Self::ActorNotAllowed => "the token's actor may not act for its subject here",
            Self::KeysUnavailable => "the signing keys are not available yet",
            Self::RevocationsOutOfStep => {
                "the revocation list is out of step with its store; refusing until it is back"
            }
            Self::DpopProofMissing => "the request has no DPoP proof",
            Self::DpopMultipleProofs => "the request carries more than one DPoP proof",
            Self::DpopMalformed => "the DPoP proof is not a well-formed proof JWT",
            Self::DpopType => "the DPoP proof's typ is not dpop+jwt",
            Self::DpopAlgorithm => "the DPoP proof's signing algorithm is not accepted",
            Self::DpopKey => "the DPoP proof's jwk is not an accepted public key for its alg",
            Self::DpopSignature => "the DPoP proof's signature is invalid",
            Self::DpopMethod => "the DPoP proof is for another HTTP method",
            Self::DpopUri => "the DPoP proof is for another URI",
            Self::DpopIssuedAt => "the DPoP proof was not issued within the accepted window",
            Self::DpopTokenHash => "the DPoP proof's ath does not match the access token",
            Self::DpopKeyMismatch => "the access token is not bound to the DPoP proof's key",
            Self::DpopReplay => "the DPoP proof has been used before",
            Self::DpopNonceRequired => "the DPoP proof must carry the server's nonce",
            Self::DpopNonceInvalid => "the DPoP proof's nonce is not current",
            Self::DpopBoundTokenAsBearer => "a DPoP-bound token cannot be used as a bearer token",
            Self::DpopRequired => "this resource requires DPoP-bound tokens",
            Self::CertificateMismatch => {
                "the token is bound to a client certificate the request did not present"
            }
            Self::ReplayStoreUnavailable => {
                "the DPoP replay store is unavailable; refusing until it is back"
            }
            Self::InactiveToken => "the token is not active",
            Self::IntrospectionUnavailable => {
                "the token cannot be introspected now; refusing until the endpoint answers"
            }
        }
    }
}

impl fmt::Display for RejectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused request: the kind, a description safe to show the caller, and for
/// [`InsufficientScope`](RejectionKind::InsufficientScope) the scope that was required.
///
/// ```
/// use jwt_tower::{AuthError, ErrorCategory, RejectionKind};
///
/// let err = AuthError::new(RejectionKind::Expired);
/// assert_eq!(err.category(), ErrorCategory::InvalidToken);
/// assert_eq!(err.description(), "the token has expired");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    kind: RejectionKind,
    description: Cow<'static, str>,
    required_scope: Option<Arc<str>>,
    /// Boxed: only refusals of a DPoP-enabled authenticator carry it.
    dpop: Option<Box<crate::dpop::DpopChallenge>>,
}

impl AuthError {
    /// An error of this kind with its standard description.
    #[must_use]
    pub fn new(kind: RejectionKind) -> Self {
        Self {
            kind,
            description: Cow::Borrowed(kind.default_description()),
            required_scope: None,
            dpop: None,
        }
    }

    /// An error of this kind with a more precise description.
    ///
    /// The description is sent to the caller: never put the token or a claim's value in it.
    #[must_use]
    pub fn with_description(
        kind: RejectionKind,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            kind,
            description: description.into(),
            required_scope: None,
            dpop: None,
        }
    }

    /// An [`InsufficientScope`](RejectionKind::InsufficientScope) error naming the scope
    /// (space-separated) the resource requires.
    #[must_use]
    pub fn insufficient_scope(required_scope: impl Into<Arc<str>>) -> Self {
        Self {
            required_scope: Some(required_scope.into()),
            ..Self::new(RejectionKind::InsufficientScope)
        }
    }

    /// What went wrong.
    #[must_use]
    pub fn kind(&self) -> RejectionKind {
        self.kind
    }

    /// The family of the error, which decides its HTTP and gRPC forms.
    #[must_use]
    pub fn category(&self) -> ErrorCategory {
        self.kind.category()
    }

    /// A human-readable description that never contains the token or claim values.
    #[must_use]
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The scope the resource requires, for `insufficient_scope` errors.
    #[must_use]
    pub fn required_scope(&self) -> Option<&str> {
        self.required_scope.as_deref()
    }

    /// The DPoP challenge parameters of the refusal, when DPoP is allowed or required.
    #[must_use]
    pub fn dpop(&self) -> Option<&crate::dpop::DpopChallenge> {
        self.dpop.as_deref()
    }

    /// The same refusal, answered with `challenge`'s `DPoP` challenge (and nonce).
    #[must_use]
    pub fn with_dpop(mut self, challenge: crate::dpop::DpopChallenge) -> Self {
        self.dpop = Some(Box::new(challenge));
        self
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.description)
    }
}

impl std::error::Error for AuthError {}

impl From<RejectionKind> for AuthError {
    fn from(kind: RejectionKind) -> Self {
        Self::new(kind)
    }
}

/// A key that could not be loaded, or a verifier that could not be built.
///
/// These happen at configuration time, never on the request path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No algorithm was allowed: there is deliberately no default allow-list.
    #[error(
        "no algorithms allowed: call `algorithms([...])` with the algorithms your issuer signs with"
    )]
    NoAlgorithms,
    /// An algorithm name was not recognised (`none` never is).
    #[error("unknown or unsupported algorithm {0:?}")]
    UnknownAlgorithm(String),
    /// An HMAC secret shorter than the hash output.
    #[error("HMAC secret for {alg:?} is {len} bytes; at least {min} are required")]
    WeakSecret {
        /// The algorithm the secret is for.
        alg: crate::Algorithm,
        /// The secret's length in bytes.
        len: usize,
        /// The minimum length in bytes.
        min: usize,
    },
    /// An RSA key under 2048 bits.
    #[error("RSA key of {bits} bits refused: at least 2048 are required")]
    WeakRsaKey {
        /// The key's modulus size in bits.
        bits: usize,
    },
    /// The key is not valid for the algorithm, or could not be parsed.
    #[error("invalid key for {alg:?}: {reason}")]
    InvalidKey {
        /// The algorithm the key was loaded for.
        alg: crate::Algorithm,
        /// What was wrong with it.
        reason: String,
    },
    /// A JWK or JWKS document could not be used.
    #[error("invalid JWK: {0}")]
    InvalidJwk(String),
    /// A verifier registered for an issuer does not accept that issuer.
    #[error(
        "the verifier registered for issuer {0:?} must accept exactly that issuer (call `.issuer({0:?})` on it)"
    )]
    IssuerRoute(String),
    /// Remote keys were started outside a tokio runtime.
    #[error("remote keys need a tokio runtime: start them from inside one")]
    NoRuntime,
    /// The remote key source could not be set up.
    #[error("remote keys: {0}")]
    Remote(String),
    /// A key file could not be read.
    #[error("cannot read key file {path}: {source}")]
    Io {
        /// The path that was read.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Protected resource metadata that could not be built: a resource identifier or
    /// URL that is not an absolute `http(s)` URI as RFC 9728 requires.
    #[error("protected resource metadata: {0}")]
    ResourceMetadata(String),
    /// A DPoP setting that cannot work: an HMAC algorithm for proofs, a public URL that
    /// is not an absolute `http(s)` URL, an unknown mode.
    #[error("DPoP: {0}")]
    Dpop(String),
    /// An introspection endpoint that cannot be used: not an absolute `http(s)` URL, or
    /// credentials that cannot be sent.
    #[error("introspection: {0}")]
    Introspection(String),
    /// A signing key whose `kid` is already published by the issuer.
    #[error("a key with kid {0:?} is already published: give the new key another `kid`")]
    DuplicateKid(String),
    /// A private key was given where a public key was expected.
    #[error(
        "a private key ({label}) was given for {alg:?}, but verification needs the public key: \
         give its public half (`openssl pkey -in key.pem -pubout`), or load the private key with \
         `issue::SigningKey::from_pem` and take `.verification_key()` from it"
    )]
    PrivateKeyGiven {
        /// The algorithm the key was loaded for.
        alg: crate::Algorithm,
        /// The PEM label that names the private key, e.g. `PRIVATE KEY`.
        label: String,
    },
    /// The verifier's keys are for none of the algorithms it allows, so it could never
    /// verify a token (an ES256 key with `.algorithms([RS256])`). Checked only for keys
    /// known when the verifier is built, not for keys a remote source loads later.
    #[error(
        "the keys are for {keys:?} and the allow-list names {allowed:?}: no token could ever verify"
    )]
    AlgorithmsMatchNoKey {
        /// Every algorithm some key in the set is for.
        keys: crate::algorithm::AlgorithmSet,
        /// The verifier's allow-list.
        allowed: crate::algorithm::AlgorithmSet,
    },
}
