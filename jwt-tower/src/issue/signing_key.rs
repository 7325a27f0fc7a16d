//! A private key for signing, parsed once, with its `kid` and its public half.

use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use aws_lc_rs::{hmac, rsa};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::algorithm::{self, AlgorithmFamily};
use crate::{Algorithm, ConfigError, VerificationKey};

/// Held once behind an `Arc`: the HMAC key state is large, so it is boxed to keep the
/// other variants small.
enum Signer {
    Hmac(Box<hmac::Key>),
    Rsa(RsaKeyPair, &'static dyn signature::RsaEncoding),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A signing key: private half parsed once, public half as a JWK and as a
/// [`VerificationKey`] for local verifiers. Cheap to clone.
///
/// ```
/// use jwt_tower::Algorithm;
/// use jwt_tower::issue::SigningKey;
///
/// let key = SigningKey::generate(Algorithm::ES256)?.with_kid("2026-11");
/// assert_eq!(key.kid(), "2026-11");
/// assert_eq!(key.public_jwk().unwrap()["crv"], "P-256");
/// # Ok::<(), jwt_tower::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct SigningKey {
    inner: Arc<Inner>,
}

struct Inner {
    kid: Arc<str>,
    alg: Algorithm,
    signer: Arc<Signer>,
    /// The public JWK (none for HMAC secrets, which are never published).
    public_jwk: Option<Value>,
    verification: VerificationKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.inner.kid)
            .field("alg", &self.inner.alg)
            .finish_non_exhaustive()
    }
}

fn invalid(alg: Algorithm, reason: impl std::fmt::Display) -> ConfigError {
    ConfigError::InvalidKey {
        alg,
        reason: reason.to_string(),
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn ecdsa_algs(alg: Algorithm) -> Option<&'static signature::EcdsaSigningAlgorithm> {
    match alg {
        Algorithm::ES256 => Some(&signature::ECDSA_P256_SHA256_FIXED_SIGNING),
        Algorithm::ES384 => Some(&signature::ECDSA_P384_SHA384_FIXED_SIGNING),
        _ => None,
    }
}

fn rsa_encoding(alg: Algorithm) -> Option<&'static dyn signature::RsaEncoding> {
    Some(match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_SHA512,
        _ => return None,
    })
}

impl SigningKey {
    /// A fresh key for `alg`: an RSA-2048, P-256, P-384 or Ed25519 key pair, or a 64-byte
    /// random HMAC secret. Its `kid` is derived from its public key (or random for HMAC).
    ///
    /// # Errors
    /// [`ConfigError::InvalidKey`] if the platform's generator fails.
    pub fn generate(alg: Algorithm) -> Result<Self, ConfigError> {
        let signer = match alg.family() {
            AlgorithmFamily::Hmac => {
                let mut secret = [0u8; 64];
                aws_lc_rs::rand::fill(&mut secret).map_err(|e| invalid(alg, e))?;
                return Self::hmac(alg, secret);
            }
            AlgorithmFamily::Rsa => {
                let pair =
                    RsaKeyPair::generate(rsa::KeySize::Rsa2048).map_err(|e| invalid(alg, e))?;
                Signer::Rsa(
                    pair,
                    rsa_encoding(alg).ok_or_else(|| invalid(alg, "not RSA"))?,
                )
            }
            AlgorithmFamily::Ec => {
                let curve = ecdsa_algs(alg).ok_or_else(|| invalid(alg, "not ECDSA"))?;
                Signer::Ecdsa(EcdsaKeyPair::generate(curve).map_err(|e| invalid(alg, e))?)
            }
            _ => Signer::Ed25519(Ed25519KeyPair::generate().map_err(|e| invalid(alg, e))?),
        };
        Self::from_signer(alg, signer, None)
    }

    /// An HMAC signing secret (at least as long as the hash output).
    ///
    /// # Errors
    /// [`ConfigError::WeakSecret`] when it is shorter, [`ConfigError::InvalidKey`] when
    /// `alg` is not HS256/384/512.
    pub fn hmac(alg: Algorithm, secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let secret = secret.as_ref();
        let hmac_alg = match alg {
            Algorithm::HS256 => hmac::HMAC_SHA256,
            Algorithm::HS384 => hmac::HMAC_SHA384,
            Algorithm::HS512 => hmac::HMAC_SHA512,
            _ => return Err(invalid(alg, "not an HMAC algorithm")),
        };
        let verification = VerificationKey::hmac(alg, secret)?;
        let mut kid = [0u8; 12];
        aws_lc_rs::rand::fill(&mut kid).map_err(|e| invalid(alg, e))?;
        let signer = Arc::new(Signer::Hmac(Box::new(hmac::Key::new(hmac_alg, secret))));
        Ok(Self {
            inner: Arc::new(Inner {
                kid: b64(&kid).into(),
                alg,
                signer,
                public_jwk: None,
                verification,
            }),
        })
    }

    /// A private key in PEM form (PKCS#8 `PRIVATE KEY`, or `RSA PRIVATE KEY` / `EC PRIVATE
    /// KEY`) for `alg`.
    ///
    /// # Errors
    /// [`ConfigError::InvalidKey`] when the PEM holds no key for `alg`;
    /// [`ConfigError::WeakRsaKey`] for RSA keys under 2048 bits.
    pub fn from_pem(alg: Algorithm, pem: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let block = pem::parse(pem.as_ref()).map_err(|e| invalid(alg, e))?;
        let der = block.contents();
        let signer = match alg.family() {
            AlgorithmFamily::Rsa => {
                let pair = RsaKeyPair::from_pkcs8(der)
                    .or_else(|_| RsaKeyPair::from_der(der))
                    .map_err(|e| invalid(alg, e))?;
                Signer::Rsa(
                    pair,
                    rsa_encoding(alg).ok_or_else(|| invalid(alg, "not RSA"))?,
                )
            }
            AlgorithmFamily::Ec => {
                let curve = ecdsa_algs(alg).ok_or_else(|| invalid(alg, "not ECDSA"))?;
                Signer::Ecdsa(
                    EcdsaKeyPair::from_pkcs8(curve, der)
                        .or_else(|_| EcdsaKeyPair::from_private_key_der(curve, der))
                        .map_err(|e| invalid(alg, e))?,
                )
            }
            AlgorithmFamily::Ed => {
                Signer::Ed25519(Ed25519KeyPair::from_pkcs8(der).map_err(|e| invalid(alg, e))?)
            }
            _ => {
                return Err(invalid(
                    alg,
                    "HMAC secrets are not PEM: use `SigningKey::hmac`",
                ));
            }
        };
        Self::from_signer(alg, signer, None)
    }

    fn from_signer(
        alg: Algorithm,
        signer: Signer,
        kid: Option<Arc<str>>,
    ) -> Result<Self, ConfigError> {
        let (jwk, verification) = match &signer {
            Signer::Rsa(pair, _) => {
                let public = pair.public_key();
                let (n, e) = (
                    public.modulus().big_endian_without_leading_zero(),
                    public.exponent().big_endian_without_leading_zero(),
                );
                if n.len() * 8 < 2048 {
                    return Err(ConfigError::WeakRsaKey { bits: n.len() * 8 });
                }
                let jwk = json!({"kty": "RSA", "n": b64(n), "e": b64(e)});
                let key = VerificationKey::from_der(alg, crate::crypto::der::rsa_pkcs1(n, e))?;
                (jwk, key)
            }
            Signer::Ecdsa(pair) => {
                let point = pair.public_key().as_ref();
                let size = (point.len() - 1) / 2;
                let crv = if alg == Algorithm::ES256 {
                    "P-256"
                } else {
                    "P-384"
                };
                let jwk = json!({
                    "kty": "EC", "crv": crv,
                    "x": b64(&point[1..1 + size]), "y": b64(&point[1 + size..]),
                });
                (jwk, VerificationKey::from_der(alg, point)?)
            }
            Signer::Ed25519(pair) => {
                let x = pair.public_key().as_ref();
                let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(x)});
                (jwk, VerificationKey::from_der(alg, x)?)
            }
            Signer::Hmac(_) => return Err(invalid(alg, "use `SigningKey::hmac`")),
        };
        let kid = match kid {
            Some(kid) => kid,
            None => thumbprint(&jwk).into(),
        };
        let mut jwk = jwk;
        jwk["kid"] = Value::from(&*kid);
        jwk["alg"] = Value::from(algorithm::name(alg));
        jwk["use"] = Value::from("sig");
        Ok(Self {
            inner: Arc::new(Inner {
                verification: verification.with_kid(Arc::clone(&kid)),
                kid,
                alg,
                signer: Arc::new(signer),
                public_jwk: Some(jwk),
            }),
        })
    }

    /// The same key under another `kid`.
    #[must_use]
    pub fn with_kid(self, kid: impl Into<Arc<str>>) -> Self {
        let kid: Arc<str> = kid.into();
        let public_jwk = self.inner.public_jwk.clone().map(|mut jwk| {
            jwk["kid"] = Value::from(&*kid);
            jwk
        });
        Self {
            inner: Arc::new(Inner {
                verification: self.inner.verification.clone().with_kid(Arc::clone(&kid)),
                kid,
                alg: self.inner.alg,
                signer: Arc::clone(&self.inner.signer),
                public_jwk,
            }),
        }
    }

    /// The key id put in the header of every token this key signs.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.inner.kid
    }

    /// The algorithm.
    #[must_use]
    pub fn alg(&self) -> Algorithm {
        self.inner.alg
    }

    /// The public key as a JWK (RFC 7517, with `kid`, `alg`, `use: sig`); `None` for HMAC.
    #[must_use]
    pub fn public_jwk(&self) -> Option<&Value> {
        self.inner.public_jwk.as_ref()
    }

    /// The key that verifies this key's signatures, with the same `kid`.
    #[must_use]
    pub fn verification_key(&self) -> VerificationKey {
        self.inner.verification.clone()
    }

    /// Signs `message` (the JWS signing input).
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, ConfigError> {
        let alg = self.inner.alg;
        Ok(match &*self.inner.signer {
            Signer::Hmac(key) => hmac::sign(key, message).as_ref().to_vec(),
            Signer::Rsa(pair, encoding) => {
                let mut out = vec![0u8; pair.public_modulus_len()];
                pair.sign(*encoding, &SystemRandom::new(), message, &mut out)
                    .map_err(|e| invalid(alg, e))?;
                out
            }
            Signer::Ecdsa(pair) => pair
                .sign(&SystemRandom::new(), message)
                .map_err(|e| invalid(alg, e))?
                .as_ref()
                .to_vec(),
            Signer::Ed25519(pair) => pair.sign(message).as_ref().to_vec(),
        })
    }
}

/// The RFC 7638 thumbprint (SHA-256, base64url) of a public JWK: a stable `kid`.
fn thumbprint(jwk: &Value) -> String {
    let members: &[&str] = match jwk["kty"].as_str() {
        Some("RSA") => &["e", "kty", "n"],
        Some("EC") => &["crv", "kty", "x", "y"],
        _ => &["crv", "kty", "x"],
    };
    let canonical = members
        .iter()
        .map(|m| format!("\"{m}\":{}", jwk[*m]))
        .collect::<Vec<_>>()
        .join(",");
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("{{{canonical}}}").as_bytes(),
    );
    b64(digest.as_ref())
}
