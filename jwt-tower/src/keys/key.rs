//! One verification key, parsed once, bound to the algorithms it may verify.

use std::sync::Arc;

use jsonwebtoken::{DecodingKey, DecodingKeyKind};

use crate::ConfigError;
use crate::algorithm::{self, Algorithm, AlgorithmFamily, AlgorithmSet};
use crate::crypto::{self, Material, Prepared};

/// A public key (or HMAC secret), parsed once into ready-to-verify form, with its `kid`
/// and the algorithms it may verify.
///
/// The key decides the algorithm: a token is only checked with a key whose algorithms
/// include the token's `alg`, so an RSA public key can never be used as an HMAC secret.
/// Cloning is cheap (an `Arc`).
///
/// ```
/// use jwt_tower::{Algorithm, VerificationKey};
///
/// let key = VerificationKey::hmac(Algorithm::HS256, b"an-hmac-secret-of-at-least-32-bytes!")?
///     .with_kid("k1");
/// assert_eq!(key.kid(), Some("k1"));
/// assert!(key.algorithms().contains(Algorithm::HS256));
///
/// // Secrets shorter than the hash output are refused.
/// assert!(VerificationKey::hmac(Algorithm::HS256, b"short").is_err());
/// # Ok::<(), jwt_tower::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct VerificationKey {
    inner: Arc<Inner>,
}

struct Inner {
    kid: Option<Arc<str>>,
    algorithms: AlgorithmSet,
    prepared: Arc<[(Algorithm, Prepared)]>,
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationKey")
            .field("kid", &self.inner.kid)
            .field("algorithms", &self.inner.algorithms)
            .finish_non_exhaustive()
    }
}

impl VerificationKey {
    /// An HMAC secret for `alg` (HS256, HS384 or HS512).
    ///
    /// # Errors
    /// [`ConfigError::WeakSecret`] when the secret is shorter than the hash output
    /// (32, 48 or 64 bytes), [`ConfigError::InvalidKey`] when `alg` is not HMAC.
    pub fn hmac(alg: Algorithm, secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        Self::from_material(
            [alg].into_iter().collect(),
            Material::Secret(secret.as_ref().to_vec()),
        )
    }

    /// A public key in PEM form for `alg`: RSA (`RSA PUBLIC KEY`, `PUBLIC KEY` or a
    /// certificate) for RS*/PS*, EC `PUBLIC KEY` for ES*, Ed25519 `PUBLIC KEY` for EdDSA.
    ///
    /// # Errors
    /// [`ConfigError::InvalidKey`] when the PEM does not hold a key for `alg`, for an RSA
    /// public exponent that is even, below 3 or over 32 bits, an RSA modulus over 8192
    /// bits (4096 with the `rust_crypto` backend), and for an Ed25519 key that
    /// is not a canonically encoded point of large order (the small-order points make
    /// forgeable keys); [`ConfigError::WeakRsaKey`] for RSA keys under 2048 bits;
    /// [`ConfigError::PrivateKeyGiven`] for a private key (its message says how to get the
    /// public half).
    ///
    /// ```
    /// use jwt_tower::{Algorithm, ConfigError, VerificationKey};
    ///
    /// let private = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n";
    /// let err = VerificationKey::from_pem(Algorithm::EdDSA, private).unwrap_err();
    /// assert!(matches!(err, ConfigError::PrivateKeyGiven { .. }));
    /// assert!(err.to_string().contains("public"));
    /// ```
    pub fn from_pem(alg: Algorithm, pem: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let pem = pem.as_ref();
        refuse_private_key(alg, pem)?;
        let decoded = match alg.family() {
            AlgorithmFamily::Rsa => DecodingKey::from_rsa_pem(pem),
            AlgorithmFamily::Ec => DecodingKey::from_ec_pem(pem),
            AlgorithmFamily::Ed => DecodingKey::from_ed_pem(pem),
            _ => {
                return Err(invalid(alg, "HMAC keys are secrets, not PEM: use `hmac`"));
            }
        }
        .map_err(|e| invalid(alg, &e.to_string()))?;
        Self::from_material([alg].into_iter().collect(), material_of(&decoded))
    }

    /// A public key in DER form for `alg`: PKCS#1 `RSAPublicKey` or SubjectPublicKeyInfo
    /// for RSA, an uncompressed SEC1 point or SubjectPublicKeyInfo for EC, 32 raw bytes or
    /// SubjectPublicKeyInfo for Ed25519.
    ///
    /// # Errors
    /// As [`from_pem`](Self::from_pem).
    pub fn from_der(alg: Algorithm, der: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let der = der.as_ref().to_vec();
        let material = match alg.family() {
            AlgorithmFamily::Rsa => Material::RsaPkcs1(der),
            AlgorithmFamily::Ec => Material::Ec(der),
            AlgorithmFamily::Ed => Material::Ed(der),
            _ => return Err(invalid(alg, "HMAC keys are secrets, not DER: use `hmac`")),
        };
        Self::from_material([alg].into_iter().collect(), material)
    }

    /// A key from a JWK (RFC 7517) given as JSON text. Its `kid` is kept.
    ///
    /// The algorithm is the JWK's `alg`; without one it is inferred from `kty` and `crv`
    /// (an RSA key may then verify any of RS*/PS*, an `oct` key any HS* its length allows).
    ///
    /// # Errors
    /// [`ConfigError::InvalidJwk`] for a key that is not JSON, is not for signatures
    /// (`use` other than `sig`, `key_ops` without `verify`), or has an unsupported type
    /// or curve; otherwise as [`from_pem`](Self::from_pem).
    ///
    /// ```
    /// use jwt_tower::{Algorithm, VerificationKey};
    /// let key = VerificationKey::from_jwk_str(
    ///     r#"{"kty":"oct","kid":"k1","alg":"HS256","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}"#,
    /// )?;
    /// assert_eq!(key.kid(), Some("k1"));
    /// # Ok::<(), jwt_tower::ConfigError>(())
    /// ```
    pub fn from_jwk_str(jwk: &str) -> Result<Self, ConfigError> {
        super::jwk::key_from_jwk_str(jwk)
    }

    /// A key from a JWK already read as JSON, such as
    /// [`SigningKey::public_jwk`](crate::issue::SigningKey::public_jwk) or one member of a
    /// JWKS document's `keys`; otherwise as [`from_jwk_str`](Self::from_jwk_str).
    ///
    /// # Errors
    /// As [`from_jwk_str`](Self::from_jwk_str).
    ///
    /// ```
    /// use jwt_tower::{Algorithm, VerificationKey};
    ///
    /// let jwk = serde_json::json!({
    ///     "kty": "OKP", "crv": "Ed25519", "kid": "ed-1",
    ///     "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
    /// });
    /// let key = VerificationKey::from_jwk(&jwk)?;
    /// assert_eq!(key.kid(), Some("ed-1"));
    /// assert!(key.algorithms().contains(Algorithm::EdDSA));
    /// # Ok::<(), jwt_tower::ConfigError>(())
    /// ```
    pub fn from_jwk(jwk: &serde_json::Value) -> Result<Self, ConfigError> {
        super::jwk::key_from_jwk_value(jwk)
    }

    /// The same key under another `kid`.
    #[must_use]
    pub fn with_kid(self, kid: impl Into<Arc<str>>) -> Self {
        Self {
            inner: Arc::new(Inner {
                kid: Some(kid.into()),
                algorithms: self.inner.algorithms,
                prepared: Arc::clone(&self.inner.prepared),
            }),
        }
    }

    /// The key's id, if it has one.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.inner.kid.as_deref()
    }

    pub(crate) fn kid_arc(&self) -> Option<&Arc<str>> {
        self.inner.kid.as_ref()
    }

    /// The algorithms this key may verify.
    #[must_use]
    pub fn algorithms(&self) -> AlgorithmSet {
        self.inner.algorithms
    }

    /// Checks `signature` over `message` with this key, for `alg`. A key that is not for
    /// `alg` verifies nothing.
    #[inline]
    pub(crate) fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        self.inner
            .prepared
            .iter()
            .find(|(a, _)| *a == alg)
            .is_some_and(|(_, key)| key.verify(message, signature))
    }

    /// Builds a key for each algorithm in `algorithms`, refusing weak material.
    pub(crate) fn from_material(
        algorithms: AlgorithmSet,
        material: Material,
    ) -> Result<Self, ConfigError> {
        // Ed25519 keys are kept as their 32 canonical bytes, checked once here for both
        // backends (see `crypto::ed25519`).
        let (algorithms, material) = match material {
            // An Ed25519 key verifies EdDSA under either of its names (RFC 9864): the
            // signature is the same; the allow-list still decides which names pass.
            Material::Ed(encoded) if !algorithms.is_empty() => (
                AlgorithmSet::family(AlgorithmFamily::Ed),
                Material::Ed(
                    crypto::ed25519::public_key(&encoded)
                        .map_err(|reason| invalid(Algorithm::EdDSA, reason))?
                        .to_vec(),
                ),
            ),
            other => (algorithms, other),
        };
        let mut prepared = Vec::new();
        for alg in algorithms.iter() {
            check_strength(alg, &material)?;
            prepared.push((alg, Prepared::new(alg, &material)?));
        }
        if prepared.is_empty() {
            return Err(ConfigError::InvalidJwk(
                "the key is usable with no supported algorithm".to_owned(),
            ));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                kid: None,
                algorithms,
                prepared: prepared.into(),
            }),
        })
    }
}

/// A private key's PEM blocks say so in their label (`PRIVATE KEY`, `RSA PRIVATE KEY`,
/// `EC PRIVATE KEY`, `ENCRYPTED PRIVATE KEY`, `OPENSSH PRIVATE KEY`): naming that beats
/// the parser's "invalid key format".
fn refuse_private_key(alg: Algorithm, pem: &[u8]) -> Result<(), ConfigError> {
    // The key is read from the first block, as jsonwebtoken's parser does.
    match pem::parse(pem) {
        Ok(first) if first.tag().ends_with("PRIVATE KEY") => Err(ConfigError::PrivateKeyGiven {
            alg,
            label: first.tag().to_owned(),
        }),
        _ => Ok(()),
    }
}

fn invalid(alg: Algorithm, reason: &str) -> ConfigError {
    ConfigError::InvalidKey {
        alg,
        reason: reason.to_owned(),
    }
}

/// Refuses HMAC secrets shorter than the hash, RSA moduli under 2048 bits or over what
/// the backend verifies, RSA exponents no verifier should use, and material of the wrong
/// family for `alg`: a key that could never verify a token fails when it is loaded.
fn check_strength(alg: Algorithm, material: &Material) -> Result<(), ConfigError> {
    match (alg.family(), material) {
        (AlgorithmFamily::Hmac, Material::Secret(secret)) => {
            let min = crypto::min_secret_len(alg);
            if secret.len() < min {
                return Err(ConfigError::WeakSecret {
                    alg,
                    len: secret.len(),
                    min,
                });
            }
        }
        (AlgorithmFamily::Rsa, Material::RsaPkcs1(der)) => {
            let bits = crypto::der::rsa_modulus_bits(der)
                .ok_or_else(|| invalid(alg, "not an RSA public key"))?;
            if bits < 2048 {
                return Err(ConfigError::WeakRsaKey { bits });
            }
            if bits > crypto::MAX_RSA_BITS {
                return Err(invalid(
                    alg,
                    &format!(
                        "an RSA modulus of {bits} bits: this backend verifies at most {}",
                        crypto::MAX_RSA_BITS
                    ),
                ));
            }
            if !crypto::der::rsa_exponent_is_usable(der) {
                return Err(invalid(
                    alg,
                    "the RSA public exponent must be odd, at least 3 and at most 32 bits",
                ));
            }
        }
        (AlgorithmFamily::Ec, Material::Ec(_)) | (AlgorithmFamily::Ed, Material::Ed(_)) => {}
        _ => {
            return Err(invalid(
                alg,
                &format!("key material is not for {}", algorithm::name(alg)),
            ));
        }
    }
    Ok(())
}

/// Normalises jsonwebtoken's decoded key (its PEM reading) into our material.
fn material_of(key: &DecodingKey) -> Material {
    use jsonwebtoken::AlgorithmFamily as Family;
    match (key.family(), key.kind()) {
        (_, DecodingKeyKind::RsaModulusExponent { n, e }) => {
            Material::RsaPkcs1(crypto::der::rsa_pkcs1(n, e))
        }
        (Family::Rsa, DecodingKeyKind::SecretOrDer(b)) => Material::RsaPkcs1(b.clone()),
        (Family::Ec, DecodingKeyKind::SecretOrDer(b)) => Material::Ec(b.clone()),
        (Family::Ed, DecodingKeyKind::SecretOrDer(b)) => Material::Ed(b.clone()),
        (_, DecodingKeyKind::SecretOrDer(b)) => Material::Secret(b.clone()),
    }
}
