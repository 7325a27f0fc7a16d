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
