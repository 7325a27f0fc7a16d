//! Just enough DER to build an RSA public key from its JWK components, to read an RSA
//! key's size and exponent, and to unwrap an Ed25519 SubjectPublicKeyInfo. Keys are
//! parsed for real by the crypto backend; this only frames them.

/// Encodes `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`
/// from big-endian unsigned magnitudes.
pub(crate) fn rsa_pkcs1(n: &[u8], e: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(n.len() + e.len() + 16);
    push_unsigned_integer(&mut body, n);
    push_unsigned_integer(&mut body, e);
    let mut out = Vec::with_capacity(body.len() + 6);
    out.push(0x30);
    push_len(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

fn push_unsigned_integer(out: &mut Vec<u8>, magnitude: &[u8]) {
    let trimmed = match magnitude.iter().position(|b| *b != 0) {
        Some(first) => &magnitude[first..],
        None => &[0u8][..],
    };
    let pad = trimmed[0] & 0x80 != 0;
    out.push(0x02);
    push_len(out, trimmed.len() + usize::from(pad));
    if pad {
        out.push(0);
    }
    out.extend_from_slice(trimmed);
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(bytes.len() - 1);
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// Reads one TLV; returns (tag, contents, rest).
fn read_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[count..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The modulus and public exponent (big-endian, leading zeros removed) of an RSA public
/// key given as PKCS#1 `RSAPublicKey` or as a SubjectPublicKeyInfo wrapping one.
fn rsa_components(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let (tag, seq, _) = read_tlv(der)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, first, rest) = read_tlv(seq)?;
    match tag {
        // PKCS#1: the modulus, then the exponent.
        0x02 => {
            let (tag, exponent, _) = read_tlv(rest)?;
            if tag != 0x02 {
                return None;
            }
            Some((magnitude(first), magnitude(exponent)))
        }
        // SubjectPublicKeyInfo: AlgorithmIdentifier, then a BIT STRING holding PKCS#1.
        0x30 => {
            let (tag, bits, _) = read_tlv(rest)?;
            if tag != 0x03 || bits.first() != Some(&0) {
                return None;
            }
            rsa_components(&bits[1..])
        }
        _ => None,
    }
}

/// An unsigned INTEGER's contents without leading zero bytes.
fn magnitude(integer: &[u8]) -> &[u8] {
    let first = integer
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(integer.len());
    &integer[first..]
}

fn bit_length(magnitude: &[u8]) -> usize {
    magnitude
        .first()
        .map_or(0, |b| magnitude.len() * 8 - b.leading_zeros() as usize)
}

/// The modulus size in bits of an RSA public key given as PKCS#1 `RSAPublicKey` or
/// as a SubjectPublicKeyInfo wrapping one.
pub(crate) fn rsa_modulus_bits(der: &[u8]) -> Option<usize> {
    rsa_components(der).map(|(n, _)| bit_length(n))
}

/// Whether an RSA public key's exponent is one a verifier may use: odd, at least 3 and
/// at most 32 bits. An exponent of 1 makes every padded message its own signature; an
/// even one is no RSA key; aws-lc-rs refuses all of these and RustCrypto's `rsa` some,
/// so the rule is applied here, once, for both backends.
pub(crate) fn rsa_exponent_is_usable(der: &[u8]) -> bool {
    rsa_components(der).is_some_and(|(_, e)| {
        let bits = bit_length(e);
        (2..=32).contains(&bits) && e.last().is_some_and(|b| b & 1 == 1)
    })
}

const ED25519_OID: [u8; 5] = [0x06, 0x03, 0x2B, 0x65, 0x70];

/// The 32 key bytes of an Ed25519 SubjectPublicKeyInfo (RFC 8410): exactly
/// `SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING (32 bytes) }`, nothing after.
pub(crate) fn ed25519_spki_key(der: &[u8]) -> Option<[u8; 32]> {
    let (tag, spki, rest) = read_tlv(der)?;
    if tag != 0x30 || !rest.is_empty() {
        return None;
    }
    let (tag, algorithm, rest) = read_tlv(spki)?;
    if tag != 0x30 || algorithm != ED25519_OID {
        return None;
    }
    let (tag, bits, rest) = read_tlv(rest)?;
    if tag != 0x03 || !rest.is_empty() {
        return None;
    }
    match bits.split_first() {
        Some((0, key)) => key.try_into().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkcs1_round_trips_the_modulus_size() {
        let mut n = vec![0xC3u8; 256];
        n[0] = 0xFF;
        let der = rsa_pkcs1(&n, &[1, 0, 1]);
        assert_eq!(rsa_modulus_bits(&der), Some(2048));
        let small = rsa_pkcs1(&[0x00, 0x7F, 0xFF], &[3]);
        assert_eq!(rsa_modulus_bits(&small), Some(15));
    }

    #[test]
    fn garbage_is_not_a_key() {
        assert_eq!(rsa_modulus_bits(&[]), None);
        assert_eq!(rsa_modulus_bits(&[0x30, 0x85, 1, 1, 1, 1, 1]), None);
        assert_eq!(rsa_modulus_bits(&[0x04, 0x00]), None);
        assert!(!rsa_exponent_is_usable(&[]));
        assert_eq!(ed25519_spki_key(&[0x30, 0x00]), None);
    }

    #[test]
    fn rsa_exponents() {
        let n = [0xC3u8; 256];
        for (e, usable) in [
            (&[1u8][..], false),
            (&[2], false),
            (&[0], false),
            (&[0, 1], false),
            (&[1, 0, 0], false),
            (&[3], true),
            (&[1, 0, 1], true),
            (&[0xFF, 0xFF, 0xFF, 0xFF], true),
            (&[1, 0, 0, 0, 1], false),
        ] {
            assert_eq!(rsa_exponent_is_usable(&rsa_pkcs1(&n, e)), usable, "{e:?}");
        }
    }

    #[test]
    fn ed25519_spki_round_trip() {
        let mut der = vec![0x30, 0x2A, 0x30, 0x05];
        der.extend_from_slice(&ED25519_OID);
        der.extend_from_slice(&[0x03, 0x21, 0x00]);
        der.extend_from_slice(&[7u8; 32]);
        assert_eq!(ed25519_spki_key(&der), Some([7u8; 32]));
        der.push(0);
        assert_eq!(ed25519_spki_key(&der), None, "trailing bytes");
    }
}
