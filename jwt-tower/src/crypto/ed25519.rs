//! Ed25519 public keys are checked once, when they are loaded, the same way whichever
//! backend verifies: neither aws-lc-rs nor ed25519-dalek's `verify` refuses a key of
//! small order, and with the identity point as the key the signature `R = identity,
//! S = 0` verifies for every message.

use ed25519_dalek::VerifyingKey;

use super::der;

/// The canonical 32-byte encoding of a usable Ed25519 public key, given as those 32 bytes
/// or as a SubjectPublicKeyInfo wrapping them.
///
/// Refused: encodings that are no point on the curve, non-canonical encodings (RFC 8032
/// §5.1.3: `y` at least p, or `x = 0` with its sign bit set), and the eight points of
/// small order (the identity, the point of order 2, two of order 4, four of order 8),
/// which are the forgeable keys.
pub(crate) fn public_key(encoded: &[u8]) -> Result<[u8; 32], &'static str> {
    let raw: [u8; 32] = match encoded.try_into() {
        Ok(raw) => raw,
        Err(_) => der::ed25519_spki_key(encoded)
            .ok_or("not an Ed25519 public key (32 bytes or a SubjectPublicKeyInfo)")?,
    };
    let key = VerifyingKey::from_bytes(&raw).map_err(|_| "not a point on Ed25519")?;
    if key.to_edwards().compress().to_bytes() != raw {
        return Err("a non-canonical Ed25519 point encoding (RFC 8032 §5.1.3)");
    }
    if key.is_weak() {
        return Err(
            "an Ed25519 point of small order: signatures under it can be forged for any message",
        );
    }
    Ok(raw)
}
