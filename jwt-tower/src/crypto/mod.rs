//! The signature check, on keys parsed once when they are loaded.
//!
//! HMAC secrets are keyed once with RustCrypto's `hmac` whichever backend is compiled in
//! (see `hmac.rs` for why). For public keys one backend is compiled in: aws-lc-rs
//! (feature `aws_lc_rs`, the default and the fast path: every key is held as a parsed
//! `ParsedPublicKey`), or RustCrypto (feature `rust_crypto`, through jsonwebtoken's
//! provider, which keeps ECDSA and Ed25519 keys parsed but re-reads RSA keys on each
//! call). With both enabled,
//! aws-lc-rs is used. With neither, the crate does not compile, rather than panicking
//! at the first verification as jsonwebtoken 10+ does.

#[cfg(not(any(feature = "aws_lc_rs", feature = "rust_crypto")))]
compile_error!(
    "jwt-tower needs a crypto backend: enable exactly one of the features `aws_lc_rs` (default) or `rust_crypto`"
);

#[cfg(feature = "aws_lc_rs")]
mod aws_lc;
#[cfg(feature = "aws_lc_rs")]
pub(crate) use aws_lc::Prepared;

#[cfg(all(feature = "rust_crypto", not(feature = "aws_lc_rs")))]
mod rust_crypto;
#[cfg(all(feature = "rust_crypto", not(feature = "aws_lc_rs")))]
pub(crate) use rust_crypto::Prepared;

pub(crate) mod der;
pub(crate) mod ed25519;
mod hmac;

/// Public (or secret) key material, normalised from whatever it was loaded from.
#[derive(Clone)]
pub(crate) enum Material {
    /// An HMAC secret.
    Secret(Vec<u8>),
    /// An RSA public key as PKCS#1 `RSAPublicKey` DER.
    RsaPkcs1(Vec<u8>),
    /// An EC public key as an uncompressed SEC1 point (or SubjectPublicKeyInfo DER).
    Ec(Vec<u8>),
    /// An Ed25519 public key, 32 raw bytes (or SubjectPublicKeyInfo DER).
    Ed(Vec<u8>),
}

/// The largest RSA modulus the backend verifies, in bits: aws-lc-rs verifies 2048 to
/// 8192 bits; RustCrypto's `rsa` refuses keys over 4096 bits (`RsaPublicKey::MAX_SIZE`)
/// on every verification. Larger keys are refused when loaded instead.
#[cfg(feature = "aws_lc_rs")]
pub(crate) const MAX_RSA_BITS: usize = 8192;
/// The largest RSA modulus the backend verifies, in bits (see the aws-lc-rs build's).
#[cfg(not(feature = "aws_lc_rs"))]
pub(crate) const MAX_RSA_BITS: usize = 4096;

/// The shortest HMAC secret accepted for an algorithm: the hash output size (RFC 7518 §3.2).
pub(crate) fn min_secret_len(alg: crate::Algorithm) -> usize {
    match alg {
        crate::Algorithm::HS384 => 48,
        crate::Algorithm::HS512 => 64,
        _ => 32,
    }
}
