//! RustCrypto backend, through jsonwebtoken's provider.
//!
//! jsonwebtoken's verifier objects are not `Send + Sync`, so they cannot be kept in a
//! shared key set: the material is normalised once and the verifier is rebuilt per call.
//! This backend is for builds that must avoid C code; aws-lc-rs is the fast path.

use super::Material;
use crate::{Algorithm, ConfigError};
use jsonwebtoken::DecodingKey;

/// A key ready to verify signatures of one algorithm.
pub(crate) struct Prepared {
    alg: Algorithm,
    key: DecodingKey,
}

impl Prepared {
    pub(crate) fn new(alg: Algorithm, material: &Material) -> Result<Self, ConfigError> {
        let key = match material {
            Material::Secret(s) => DecodingKey::from_secret(s),
            Material::RsaPkcs1(b) => DecodingKey::from_rsa_der(b),
            Material::Ec(b) => DecodingKey::from_ec_der(b),
            Material::Ed(b) => DecodingKey::from_ed_der(b),
        };
        let prepared = Self { alg, key };
        // Build the verifier once now, so a key the backend cannot use fails at load time.
        prepared.verifier().map_err(|e| ConfigError::InvalidKey {
            alg,
            reason: e.to_string(),
        })?;
        Ok(prepared)
    }

    fn verifier(&self) -> jsonwebtoken::errors::Result<Box<dyn jsonwebtoken::crypto::JwtVerifier>> {
        let factory = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.verifier_factory;
        factory(&self.alg, &self.key)
    }

    pub(crate) fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        match self.verifier() {
            Ok(verifier) => verifier.verify(message, &sig.to_vec()).is_ok(),
            Err(_) => false,
        }
    }
}
