//! Just enough DER to build an RSA public key from its JWK components and to read an
//! RSA key's size. Keys are parsed for real by the crypto backend; this only frames them.

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

/// The modulus size in bits of an RSA public key given as PKCS#1 `RSAPublicKey` or
/// as a SubjectPublicKeyInfo wrapping one.
pub(crate) fn rsa_modulus_bits(der: &[u8]) -> Option<usize> {
    let (tag, seq, _) = read_tlv(der)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, first, rest) = read_tlv(seq)?;
    match tag {
        // PKCS#1: the first element is the modulus.
        0x02 => {
            let magnitude = match first.iter().position(|b| *b != 0) {
                Some(i) => &first[i..],
                None => return Some(0),
            };
            Some(magnitude.len() * 8 - magnitude[0].leading_zeros() as usize)
        }
        // SubjectPublicKeyInfo: AlgorithmIdentifier, then a BIT STRING holding PKCS#1.
        0x30 => {
            let (tag, bits, _) = read_tlv(rest)?;
            if tag != 0x03 || bits.first() != Some(&0) {
                return None;
            }
            rsa_modulus_bits(&bits[1..])
        }
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
    }
}
