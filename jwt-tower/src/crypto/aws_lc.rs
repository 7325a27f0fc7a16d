//! aws-lc-rs backend: public keys parsed once into `ParsedPublicKey`; HMAC secrets keyed
//! once by [`HmacKey`](super::hmac::HmacKey), shared with the RustCrypto backend.

use super::Material;
use super::hmac::HmacKey;
use crate::{Algorithm, ConfigError};
use aws_lc_rs::signature;

/// A key ready to verify signatures of one algorithm.
///
/// The HMAC variant is large, but a `Prepared` is built once per key and stored in the
/// key's shared slice: boxing it would only add an indirection to every verification.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Prepared {
    Hmac(HmacKey),
    Public(signature::ParsedPublicKey),
}

fn public_algorithm(alg: Algorithm) -> Option<&'static dyn signature::VerificationAlgorithm> {
    Some(match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
        Algorithm::EdDSA | Algorithm::Ed25519 => &signature::ED25519,
        _ => return None,
    })
}

impl Prepared {
    pub(crate) fn new(alg: Algorithm, material: &Material) -> Result<Self, ConfigError> {
        let invalid = |reason: &str| ConfigError::InvalidKey {
            alg,
            reason: reason.to_owned(),
        };
        if let Material::Secret(secret) = material {
            return HmacKey::new(alg, secret).map(Self::Hmac);
        }
        let bytes = match material {
            Material::RsaPkcs1(b) | Material::Ec(b) | Material::Ed(b) => b,
            Material::Secret(_) => unreachable!("handled above"),
        };
        let verification = public_algorithm(alg)
            .ok_or_else(|| invalid("a public key cannot verify an HMAC algorithm"))?;
        signature::ParsedPublicKey::new(verification, bytes)
            .map(Self::Public)
            .map_err(|e| invalid(&e.to_string()))
    }

    #[inline]
    pub(crate) fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        match self {
            Self::Hmac(key) => key.verify(message, sig),
            Self::Public(key) => key.verify_sig(message, sig).is_ok(),
        }
    }
}
