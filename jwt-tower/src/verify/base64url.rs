//! Strict base64url decoding (RFC 4648 §5, no padding) into a caller's buffer.
//!
//! `base64-simd` rather than the `base64` crate, because it pays: the `base64` crate's
//! `URL_SAFE_NO_PAD.decode_slice` in its place costs 1,700 more instructions of an HS256
//! `GET /me` of 50,600 (3.4%; `benches/load/instructions.sh HS256`, both builds counted
//! in one run). It accepts exactly what `URL_SAFE_NO_PAD` accepts: the url-safe alphabet,
//! no `=`, no length of the form 4n+1, and no non-zero bits left over in the last
//! character (so every byte string has a single encoding); the tests here and the `claims`
//! fuzz target check this against the `base64` crate.

/// How many bytes `encoded_len` characters decode to, `None` for an impossible length.
pub(crate) fn decoded_len(encoded_len: usize) -> Option<usize> {
    match encoded_len % 4 {
        1 => None,
        rem => Some(encoded_len / 4 * 3 + rem.saturating_sub(1)),
    }
}

/// Decodes `input` into the start of `out`, returning the decoded length; `None` when
/// `input` is not canonical unpadded base64url or `out` is too short. On `None`, `out`
/// holds garbage.
pub(crate) fn decode(input: &[u8], out: &mut [u8]) -> Option<usize> {
    let len = decoded_len(input.len())?;
    let out = out.get_mut(..len)?;
    base64_simd::URL_SAFE_NO_PAD
        .decode(input, base64_simd::Out::from_slice(out))
        .ok()
        .map(|decoded| decoded.len())
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::{decode, decoded_len};

    fn ours(input: &[u8]) -> Option<Vec<u8>> {
        let mut out = vec![0u8; input.len()];
        let len = decode(input, &mut out)?;
        out.truncate(len);
        Some(out)
    }

    fn theirs(input: &[u8]) -> Option<Vec<u8>> {
        URL_SAFE_NO_PAD.decode(input).ok()
    }

    #[test]
    fn round_trips_every_length() {
        let data: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        for len in 0..data.len() {
            let encoded = URL_SAFE_NO_PAD.encode(&data[..len]);
            assert_eq!(decoded_len(encoded.len()), Some(len));
            assert_eq!(ours(encoded.as_bytes()).as_deref(), Some(&data[..len]));
        }
    }

    #[test]
    fn accepts_and_refuses_exactly_what_the_base64_crate_does() {
        // Every string of up to four characters (after a valid prefix or none) over
        // symbols from each class and its edges, padding, the standard
        // alphabet's `+`/`/`, whitespace, a dot, NUL and non-ASCII.
        let symbols = b"AQgwBPfv09-_/+= .\0\x80\xff";
        let mut inputs: Vec<Vec<u8>> = vec![Vec::new()];
        for _ in 0..4 {
            let longer: Vec<Vec<u8>> = inputs
                .iter()
                .filter(|s| s.len() == inputs.last().unwrap().len())
                .flat_map(|s| {
                    symbols.iter().map(move |&c| {
                        let mut s = s.clone();
                        s.push(c);
                        s
                    })
                })
                .collect();
            inputs.extend(longer);
        }
        for prefix in [&b""[..], b"eyJhbGciOiJIUzI1NiJ9"] {
            for input in &inputs {
                let input = [prefix, input].concat();
                assert_eq!(ours(&input), theirs(&input), "{input:?}");
            }
        }
    }

    /// Any byte outside the alphabet at any position of a 200-character token part (the
    /// vector loop as well as its tail) is refused, as the `base64` crate refuses it, and
    /// the part decodes alike when it is left alone.
    #[test]
    fn refuses_a_bad_character_anywhere_in_a_long_input() {
        let data: Vec<u8> = (0..150u8).map(|b| b.wrapping_mul(37)).collect();
        let encoded = URL_SAFE_NO_PAD.encode(&data);
        assert_eq!(encoded.len(), 200);
        assert_eq!(ours(encoded.as_bytes()).as_deref(), Some(&data[..]));
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let outside: Vec<u8> = (0..=255u8).filter(|b| !alphabet.contains(b)).collect();
        for at in 0..encoded.len() {
            for &bad in &outside {
                let mut input = encoded.clone().into_bytes();
                input[at] = bad;
                assert_eq!(ours(&input), None, "{bad:#x} at {at}");
                assert_eq!(theirs(&input), None, "{bad:#x} at {at}");
            }
        }
    }

    #[test]
    fn refuses_a_short_buffer() {
        let mut out = [0u8; 2];
        assert_eq!(decode(b"AAAA", &mut out), None);
        assert_eq!(decode(b"AAA", &mut out), Some(2));
    }
}
