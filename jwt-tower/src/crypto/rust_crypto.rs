//! RustCrypto backend: HMAC secrets keyed once by [`HmacKey`](super::hmac::HmacKey)
//! (shared with the aws-lc-rs backend); public keys through jsonwebtoken's provider.
//!
//! jsonwebtoken's verifier objects are not `Send + Sync`, so they cannot be kept in a
//! shared key set: the material is normalised once and the verifier is rebuilt per call.
//! This backend is for builds that must avoid C code; aws-lc-rs is the fast path.

use super::Material;
use super::hmac::HmacKey;
use crate::{Algorithm, ConfigError};
use jsonwebtoken::DecodingKey;

/// A key ready to verify signatures of one algorithm.
///
/// The HMAC variant is large, but a `Prepared` is built once per key and stored in the
/// key's shared slice: boxing it would only add an indirection to every verification.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Prepared {
    Hmac(HmacKey),
    Public { alg: Algorithm, key: DecodingKey },
}

impl Prepared {
    pub(crate) fn new(alg: Algorithm, material: &Material) -> Result<Self, ConfigError> {
        let key = match material {
            Material::Secret(s) => return HmacKey::new(alg, s).map(Self::Hmac),
            Material::RsaPkcs1(b) => DecodingKey::from_rsa_der(b),
            Material::Ec(b) => DecodingKey::from_ec_der(b),
            Material::Ed(b) => DecodingKey::from_ed_der(b),
        };
        // Build the verifier once now, so a key the backend cannot use fails at load time.
        verifier(alg, &key).map_err(|e| ConfigError::InvalidKey {
            alg,
            reason: e.to_string(),
        })?;
        Ok(Self::Public { alg, key })
    }

    pub(crate) fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        match self {
            Self::Hmac(key) => key.verify(message, sig),
            Self::Public { alg, key } => match verifier(*alg, key) {
                Ok(verifier) => verifier.verify(message, &sig.to_vec()).is_ok(),
                Err(_) => false,
            },
        }
    }
}

fn verifier(
    alg: Algorithm,
    key: &DecodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn jsonwebtoken::crypto::JwtVerifier>> {
    let factory = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.verifier_factory;
    factory(&alg.to_jsonwebtoken(), key)
}
