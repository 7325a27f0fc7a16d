//! HMAC verification (HS256/384/512), the same in both backends.
//!
//! RustCrypto's `hmac` keeps the key as the two hash states after the inner and outer
//! padded key blocks, so a verification copies two small states and hashes only the
//! message. aws-lc-rs copies and wipes a whole `HMAC_CTX` (several hundred bytes) per
//! call instead: on an HS256 access token that copy cost more than the SHA-256 work
//! (measured with `benches/verify.rs`; `sha2` uses the CPU's SHA extensions when present).

use hmac::{Hmac, KeyInit as _, Mac};
use sha2::{Sha256, Sha384, Sha512};

use crate::{Algorithm, ConfigError};

/// An HMAC secret, keyed once for one hash.
#[derive(Clone)]
pub(crate) enum HmacKey {
    Sha256(Hmac<Sha256>),
    Sha384(Hmac<Sha384>),
    Sha512(Hmac<Sha512>),
}

impl HmacKey {
    /// # Errors
    /// [`ConfigError::InvalidKey`] when `alg` is not an HMAC algorithm.
    pub(crate) fn new(alg: Algorithm, secret: &[u8]) -> Result<Self, ConfigError> {
        // HMAC takes keys of any length (a long one is hashed first): `new_from_slice`
        // cannot fail for these hashes. (The minimum length is enforced where keys are
        // built, `crypto::min_secret_len`.)
        const ANY_LENGTH: &str = "HMAC accepts keys of any length";
        let keyed = match alg {
            Algorithm::HS256 => Self::Sha256(Hmac::new_from_slice(secret).expect(ANY_LENGTH)),
            Algorithm::HS384 => Self::Sha384(Hmac::new_from_slice(secret).expect(ANY_LENGTH)),
            Algorithm::HS512 => Self::Sha512(Hmac::new_from_slice(secret).expect(ANY_LENGTH)),
            _ => {
                return Err(ConfigError::InvalidKey {
                    alg,
                    reason: "an HMAC secret can only verify HS256/384/512".to_owned(),
                });
            }
        };
        Ok(keyed)
    }

    /// Whether `tag` is the MAC of `message`: `Mac::verify_slice` refuses a tag of
    /// another length and compares the bytes in constant time (through `subtle`).
    #[inline]
    pub(crate) fn verify(&self, message: &[u8], tag: &[u8]) -> bool {
        fn check<M: Mac + Clone>(key: &M, message: &[u8], tag: &[u8]) -> bool {
            let mut mac = key.clone();
            mac.update(message);
            mac.verify_slice(tag).is_ok()
        }
        match self {
            Self::Sha256(key) => check(key, message, tag),
            Self::Sha384(key) => check(key, message, tag),
            Self::Sha512(key) => check(key, message, tag),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::HmacKey;
    use crate::Algorithm;

    /// RFC 4231 test case 2 ("Jefe"), all three hashes.
    #[test]
    fn rfc_4231_case_2() {
        let message = b"what do ya want for nothing?";
        let cases = [
            (
                Algorithm::HS256,
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                Algorithm::HS384,
                "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
            ),
            (
                Algorithm::HS512,
                "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
            ),
        ];
        for (alg, hex) in cases {
            let tag: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            let key = HmacKey::new(alg, b"Jefe").unwrap();
            assert!(key.verify(message, &tag), "{alg:?}");
            assert!(
                !key.verify(b"what do ya want for nothing!", &tag),
                "{alg:?}"
            );
            assert!(
                !key.verify(message, &tag[..tag.len() - 1]),
                "{alg:?}: short tag"
            );
        }
        assert!(HmacKey::new(Algorithm::RS256, b"Jefe").is_err());
    }

    /// A tag differing from the right one in any single bit, or one byte short or long,
    /// is refused; only the same bytes pass.
    #[test]
    fn only_the_exact_tag_verifies() {
        let message = b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9";
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let key = HmacKey::new(alg, &[7u8; 64]).unwrap();
            let tag = tag_of(&key, message);
            assert!(key.verify(message, &tag), "{alg:?}");
            for bit in 0..tag.len() * 8 {
                let mut bad = tag.clone();
                bad[bit / 8] ^= 1 << (bit % 8);
                assert!(!key.verify(message, &bad), "{alg:?}: bit {bit}");
            }
            assert!(!key.verify(message, &tag[..tag.len() - 1]), "{alg:?}");
            assert!(
                !key.verify(message, &[tag.as_slice(), &[0]].concat()),
                "{alg:?}"
            );
            assert!(!key.verify(message, &[]), "{alg:?}");
        }
    }

    /// The tag of `message` under `key`, computed apart from `verify`.
    fn tag_of(key: &HmacKey, message: &[u8]) -> Vec<u8> {
        fn tag<M: hmac::Mac + Clone>(key: &M, message: &[u8]) -> Vec<u8> {
            let mut mac = key.clone();
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }
        match key {
            HmacKey::Sha256(k) => tag(k, message),
            HmacKey::Sha384(k) => tag(k, message),
            HmacKey::Sha512(k) => tag(k, message),
        }
    }
}
