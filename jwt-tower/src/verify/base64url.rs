//! Strict base64url decoding (RFC 4648 §5, no padding) into a caller's buffer.
//!
//! The verifier decodes three parts of every token; a table lookup per character with
//! one validity check per four costs about half of what the general-purpose `base64`
//! engine does on parts this short. It accepts exactly what
//! `base64::engine::general_purpose::URL_SAFE_NO_PAD` accepts: the url-safe alphabet,
//! no `=`, no length of the form 4n+1, and no non-zero bits left over in the last
//! character (so every byte string has a single encoding). The tests check this
//! against the `base64` crate.

/// Marks a byte outside the alphabet: no valid character sets this bit, so OR-ing
/// everything decoded and testing it once at the end catches any invalid one.
const INVALID: u32 = 1 << 31;

/// For each byte: its 6-bit value shifted to the position it takes in a group of four
/// characters (the first character gives the top six of 24 bits), or [`INVALID`].
/// Decoding a group is then four lookups OR-ed together.
static DECODE: [[u32; 256]; 4] = {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut tables = [[INVALID; 256]; 4];
    let mut i = 0;
    while i < alphabet.len() {
        let mut position = 0;
        while position < 4 {
            tables[position][alphabet[i] as usize] = (i as u32) << (18 - 6 * position);
            position += 1;
        }
        i += 1;
    }
    tables
};

/// The 24 bits of a group of up to four characters (missing ones count as `A`), with
/// [`INVALID`] set if any character is not in the alphabet.
#[inline]
fn group(chars: &[u8]) -> u32 {
    chars
        .iter()
        .zip(&DECODE)
        .fold(0, |bits, (&c, table)| bits | table[usize::from(c)])
}

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
    let (quads, tail) = input.split_at(input.len() / 4 * 4);
    let (triples, out_tail) = out.split_at_mut(quads.len() / 4 * 3);
    // Validity is checked once, after the loop: it keeps the loop free of branches.
    let mut seen = 0;
    for (quad, triple) in quads.chunks_exact(4).zip(triples.chunks_exact_mut(3)) {
        let bits = group(quad);
        seen |= bits;
        triple.copy_from_slice(&bits.to_be_bytes()[1..]);
    }
    // A last group of two or three characters carries one or two bytes; the bits left
    // over must be zero, or two encodings would decode alike.
    let bits = group(tail);
    seen |= bits;
    let leftover = match tail.len() {
        2 => bits & 0xffff,
        3 => bits & 0xff,
        _ => 0,
    };
    if seen & INVALID != 0 || leftover != 0 {
        return None;
    }
    out_tail.copy_from_slice(&bits.to_be_bytes()[1..][..out_tail.len()]);
    Some(len)
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

    #[test]
    fn refuses_a_short_buffer() {
        let mut out = [0u8; 2];
        assert_eq!(decode(b"AAAA", &mut out), None);
        assert_eq!(decode(b"AAA", &mut out), Some(2));
    }
}
