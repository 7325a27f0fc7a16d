//! [`DpopKey`]: a client's DPoP key pair, which signs a fresh proof for each request.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::proof::{PROOF_TYPE, access_token_hash};
use super::thumbprint::jwk_thumbprint;
use crate::algorithm::AlgorithmFamily;
use crate::issue::SigningKey;
use crate::{Algorithm, ConfigError};

/// A DPoP key pair on the client side: its public JWK (what a proof's header carries),
/// its RFC 7638 thumbprint (what a bound token's `cnf.jkt` names), and a signer of
/// proofs. Cheap to clone.
///
/// ```
/// use jwt_tower::Algorithm;
/// use jwt_tower::dpop::{DpopChecker, DpopKey};
///
/// let key = DpopKey::generate(Algorithm::ES256)?;
/// let proof = key.proof("GET", "https://api.example.com/orders", Some("the-token"), None)?;
///
/// let checker = DpopChecker::builder("https://api.example.com").build()?;
/// let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
/// let checked = checker.check(
///     &proof, &http::Method::GET, "/orders", &http::HeaderMap::new(), Some("the-token"), now,
/// )?;
/// assert_eq!(checked.jkt(), key.thumbprint());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct DpopKey {
    signing: SigningKey,
    jwk: Value,
    thumbprint: String,
}

impl DpopKey {
    /// A fresh key pair for `alg` (`ES256`, `ES384`, `Ed25519`/`EdDSA`, or an RSA
    /// algorithm).
    ///
    /// # Errors
    /// [`ConfigError::InvalidKey`] for an HMAC algorithm (a proof proves a private key,
    /// which a shared secret is not) or a failing generator.
    pub fn generate(alg: Algorithm) -> Result<Self, ConfigError> {
        Self::asymmetric(alg)?;
        Self::from_signing_key(SigningKey::generate(alg)?)
    }

    /// A key pair from a PEM private key (PKCS#8, or SEC1 / PKCS#1), for `alg`.
    ///
    /// # Errors
    /// As [`SigningKey::from_pem`], and as [`generate`](Self::generate) for HMAC.
    pub fn from_pem(alg: Algorithm, pem: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        Self::asymmetric(alg)?;
        Self::from_signing_key(SigningKey::from_pem(alg, pem)?)
    }

    fn asymmetric(alg: Algorithm) -> Result<(), ConfigError> {
        if alg.family() == AlgorithmFamily::Hmac {
            return Err(ConfigError::InvalidKey {
                alg,
                reason: "DPoP needs an asymmetric key".to_owned(),
            });
        }
        Ok(())
    }

    fn from_signing_key(signing: SigningKey) -> Result<Self, ConfigError> {
        let published = signing
            .public_jwk()
            .ok_or_else(|| ConfigError::InvalidKey {
                alg: signing.alg(),
                reason: "no public key".to_owned(),
            })?;
        // Only the key's own members: no `kid`, `alg` or `use` in a proof's `jwk`.
        let jwk: Map<String, Value> = published
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(name, _)| ["kty", "crv", "x", "y", "n", "e"].contains(&name.as_str()))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        let thumbprint =
            jwk_thumbprint(&jwk).map_err(|e| ConfigError::InvalidJwk(e.to_string()))?;
        Ok(Self {
            signing,
            jwk: Value::Object(jwk),
            thumbprint,
        })
    }

    /// The algorithm proofs are signed with.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.signing.alg()
    }

    /// The public key as a JWK, as every proof's header carries it.
    #[must_use]
    pub fn public_jwk(&self) -> &Value {
        &self.jwk
    }

    /// The RFC 7638 thumbprint of the public key: the `cnf.jkt` of tokens bound to it.
    #[must_use]
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// A fresh proof for one request: `htm` the method, `htu` the URI (query and
    /// fragment are dropped), `ath` the hash of `access_token` when one is sent, the
    /// server's `nonce` when it asked for one, a random `jti` and `iat` now.
    ///
    /// # Errors
    /// [`ConfigError::InvalidKey`] if signing or the random generator fails.
    pub fn proof(
        &self,
        htm: &str,
        htu: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<String, ConfigError> {
        self.proof_at(htm, htu, access_token, nonce, crate::clock::now())
    }

    /// As [`proof`](Self::proof), issued at `iat` (seconds since the epoch).
    ///
    /// # Errors
    /// As [`proof`](Self::proof).
    pub fn proof_at(
        &self,
        htm: &str,
        htu: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
        iat: i64,
    ) -> Result<String, ConfigError> {
        let mut jti = [0u8; 16];
        aws_lc_rs::rand::fill(&mut jti).map_err(|e| ConfigError::InvalidKey {
            alg: self.algorithm(),
            reason: e.to_string(),
        })?;
        let htu = htu.split(['?', '#']).next().unwrap_or(htu);
        let mut claims = json!({
            "jti": URL_SAFE_NO_PAD.encode(jti),
            "htm": htm,
            "htu": htu,
            "iat": iat,
        });
        if let Some(token) = access_token {
            claims["ath"] = Value::from(access_token_hash(token));
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = Value::from(nonce);
        }
        self.sign(&self.header(), &claims)
    }

    /// The header every proof carries: `typ`, `alg` and `jwk`.
    #[must_use]
    pub fn header(&self) -> Value {
        json!({
            "typ": PROOF_TYPE,
            "alg": self.algorithm().name(),
            "jwk": self.jwk,
        })
    }

    /// Signs exactly this header and these claims with the key: for proofs
    /// [`proof`](Self::proof) does not make (tests of a server's refusals among them).
    ///
    /// # Errors
    /// [`ConfigError::InvalidKey`] if signing fails.
    pub fn sign(&self, header: &Value, claims: &Value) -> Result<String, ConfigError> {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self.signing.sign(input.as_bytes())?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}
