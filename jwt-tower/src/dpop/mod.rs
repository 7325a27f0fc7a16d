//! DPoP (RFC 9449): tokens bound to a key the client proves it holds, with a fresh
//! signed proof on every request.
//!
//! HTTP-free and usable on its own, by a resource server (through the
//! [`Authenticator`](crate::Authenticator)) or by a token endpoint:
//!
//! | job | file |
//! |---|---|
//! | one proof: form, header, key, signature, claims' types | `dpop/proof.rs` |
//! | the checks against a request, and the `jti` reservation | `dpop/checker.rs` |
//! | `htu` against the public URL, RFC 3986-normalised | `dpop/htu.rs` |
//! | server nonces any instance sharing a secret accepts | `dpop/nonce.rs` |
//! | RFC 7638 JWK thumbprints (`cnf.jkt`) | `dpop/thumbprint.rs` |
//! | the client's key pair and proof signer (aws-lc-rs) | `dpop/key.rs` |
//!
//! The checks run in RFC 9449 §4.3's order; each failure has a kind of its own
//! (`RejectionKind::Dpop…`), answered with a `DPoP` challenge (`invalid_dpop_proof`, or
//! `use_dpop_nonce` with a fresh `DPoP-Nonce`).

mod checker;
mod htu;
#[cfg(feature = "aws_lc_rs")]
mod key;
mod nonce;
mod proof;
#[cfg(all(test, feature = "aws_lc_rs"))]
mod tests;
mod thumbprint;

pub use checker::{
    CheckedProof, DEFAULT_PROOF_ALGORITHMS, DEFAULT_PROOF_MAX_AGE, DpopChecker, DpopCheckerBuilder,
};
#[cfg(feature = "aws_lc_rs")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws_lc_rs")))]
pub use key::DpopKey;
pub use nonce::{DEFAULT_NONCE_WINDOW_SECS, NONCE_SECRET_NAME, NonceSecret};
pub use proof::{MAX_JTI_LEN, MAX_PROOF_LEN, PROOF_TYPE, access_token_hash};
pub use thumbprint::{ThumbprintError, jwk_thumbprint};

/// Whether a resource accepts DPoP-bound tokens.
///
/// A token bound to a key (`cnf.jkt`) presented as a Bearer token is refused in every
/// mode, [`Off`](Self::Off) included: whoever holds a copy of it must not get in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum DpopMode {
    /// Bearer tokens only; an `Authorization: DPoP` header is not understood.
    #[default]
    Off,
    /// Bearer tokens and DPoP-bound tokens with their proofs.
    Allowed,
    /// DPoP-bound tokens with their proofs only: a plain Bearer token is refused.
    Required,
}

impl std::str::FromStr for DpopMode {
    type Err = crate::ConfigError;

    /// `off`, `allowed` or `required` (case-insensitive).
    ///
    /// ```
    /// use jwt_tower::dpop::DpopMode;
    /// assert_eq!("required".parse::<DpopMode>()?, DpopMode::Required);
    /// # Ok::<(), jwt_tower::ConfigError>(())
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "off" | "" => Ok(Self::Off),
            "allowed" => Ok(Self::Allowed),
            "required" => Ok(Self::Required),
            _ => Err(crate::ConfigError::Dpop(format!(
                "unknown mode {s:?} (expected off, allowed or required)"
            ))),
        }
    }
}

/// The DPoP side of a refusal, which the authenticator attaches to every refusal when
/// DPoP is allowed or required: it decides the `DPoP` challenge (RFC 9449 §7.1) beside
/// or instead of the Bearer one, and the `DPoP-Nonce` sent with `use_dpop_nonce`.
///
/// ```
/// use jwt_tower::dpop::{DpopChallenge, DpopMode};
///
/// let challenge = DpopChallenge::new(DpopMode::Allowed, "ES256 EdDSA");
/// assert_eq!(challenge.algs(), "ES256 EdDSA");
/// assert_eq!(challenge.nonce(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopChallenge {
    mode: DpopMode,
    algs: std::sync::Arc<str>,
    dpop_request: bool,
    nonce: Option<String>,
}

impl DpopChallenge {
    /// The challenge of a resource in `mode` accepting proofs signed with `algs`
    /// (space-separated).
    #[must_use]
    pub fn new(mode: DpopMode, algs: impl Into<std::sync::Arc<str>>) -> Self {
        Self {
            mode,
            algs: algs.into(),
            dpop_request: false,
            nonce: None,
        }
    }

    /// Marks the refused request as one that used the `DPoP` scheme: a token error is
    /// then reported in the `DPoP` challenge.
    #[must_use]
    pub fn for_dpop_request(mut self) -> Self {
        self.dpop_request = true;
        self
    }

    /// The nonce to send in `DPoP-Nonce`.
    #[must_use]
    pub fn with_nonce(mut self, nonce: impl Into<String>) -> Self {
        self.nonce = Some(nonce.into());
        self
    }

    /// The resource's mode.
    #[must_use]
    pub fn mode(&self) -> DpopMode {
        self.mode
    }

    /// The accepted proof algorithms, space-separated (the challenge's `algs`).
    #[must_use]
    pub fn algs(&self) -> &str {
        &self.algs
    }

    /// Whether the refused request used the `DPoP` scheme.
    #[must_use]
    pub fn is_dpop_request(&self) -> bool {
        self.dpop_request
    }

    /// The nonce to send in `DPoP-Nonce`, if any.
    #[must_use]
    pub fn nonce(&self) -> Option<&str> {
        self.nonce.as_deref()
    }
}
