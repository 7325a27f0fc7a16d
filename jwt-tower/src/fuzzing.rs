//! Internal entry points for the fuzz targets in `fuzz/` (feature `fuzzing`): the private
//! decoders the verifier relies on, reachable for differential fuzzing against reference
//! implementations. Not part of the API, exempt from semver; never enable `fuzzing` in an
//! application.

use crate::verify;

/// The verifier's strict base64url decoder over `input`, into a buffer of `out_len`
/// bytes: `None` when `input` is not canonical unpadded base64url or does not fit.
#[must_use]
pub fn base64url_decode(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let mut out = vec![0u8; out_len];
    let len = verify::base64url_decode(input, &mut out)?;
    out.truncate(len);
    Some(out)
}

/// How many bytes `encoded_len` base64url characters decode to (`None`: no such length).
#[must_use]
pub fn base64url_decoded_len(encoded_len: usize) -> Option<usize> {
    verify::base64url_decoded_len(encoded_len)
}

/// The registered-claims view of `text`: `([iss, sub, jti, scope], [aud, scp, roles],
/// [exp, nbf, iat], bit i set when required[i] is present)`.
pub type ClaimsProjection = verify::Projection;

/// The claims view of `text` as the plain-JSON fast path reads it (`None` when the text
/// leaves its subset) and as serde reads it (`Err` with serde's message), with
/// `required` claims and roles read from `roles_claim`.
pub fn claims_views(
    text: &str,
    required: &[&str],
    roles_claim: &str,
) -> (Option<ClaimsProjection>, Result<ClaimsProjection, String>) {
    let required: Vec<Box<str>> = required.iter().map(|r| Box::from(*r)).collect();
    verify::both_views(text, &required, roles_claim)
}
