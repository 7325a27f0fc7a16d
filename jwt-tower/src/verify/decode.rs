//! Decoding a token's parts: base64url onto the stack, UTF-8, the strict JSON reading,
//! and the refusal each failure earns.

use std::borrow::Cow;

use super::base64url;
use super::claims::{ClaimsView, ViewSeed};
use super::scan;
use super::strict::{self, Violation};
use crate::{AuthError, RejectionKind};

pub(super) fn reject(kind: RejectionKind) -> AuthError {
    AuthError::new(kind)
}

pub(super) fn described(kind: RejectionKind, description: &'static str) -> AuthError {
    AuthError::with_description(kind, description)
}

/// Maps a JSON error: wrong types are `InvalidClaim`, anything else `Malformed`.
pub(super) fn json_error(e: &serde_json::Error, what: &'static str) -> AuthError {
    match e.classify() {
        serde_json::error::Category::Data => described(RejectionKind::InvalidClaim, what),
        _ => reject(RejectionKind::Malformed),
    }
}

/// Decodes one base64url part into `stack` when it fits, onto the heap otherwise: the
/// common token costs no allocation here.
pub(super) fn decode_part<'b>(b64: &str, stack: &'b mut [u8]) -> Result<Cow<'b, [u8]>, AuthError> {
    let malformed = || reject(RejectionKind::Malformed);
    let len = base64url::decoded_len(b64.len()).ok_or_else(malformed)?;
    if len <= stack.len() {
        base64url::decode(b64.as_bytes(), stack).ok_or_else(malformed)?;
        Ok(Cow::Borrowed(&stack[..len]))
    } else {
        let mut heap = vec![0; len];
        base64url::decode(b64.as_bytes(), &mut heap).ok_or_else(malformed)?;
        Ok(Cow::Owned(heap))
    }
}

/// Which part of a token a piece of JSON is, for the descriptions of its refusals.
#[derive(Clone, Copy)]
pub(super) enum Part {
    Header,
    Claims,
}

/// A decoded header or claims, as text: JSON is UTF-8 (RFC 8259 §8.1), so bytes that
/// are not are malformed, whether or not anybody would read them.
pub(super) fn utf8(bytes: &[u8], part: Part) -> Result<&str, AuthError> {
    std::str::from_utf8(bytes).map_err(|_| {
        described(
            RejectionKind::Malformed,
            match part {
                Part::Header => "the token header is not UTF-8",
                Part::Claims => "the token's claims are not UTF-8",
            },
        )
    })
}

/// The refusal for a strict-reading violation (see `strict`), if `e` is one.
pub(super) fn strict_error(e: &serde_json::Error, part: Part) -> Option<AuthError> {
    let description = match (Violation::of(e)?, part) {
        (Violation::NotAnObject, Part::Header) => "the token header is not a JSON object",
        (Violation::NotAnObject, Part::Claims) => "the token's claims are not a JSON object",
        (Violation::DuplicateMember, Part::Header) => "the token header repeats a member name",
        (Violation::DuplicateMember, Part::Claims) => "the token's claims repeat a member name",
        (Violation::TooDeep, Part::Header) => "the token header nests arrays or objects too deep",
        (Violation::TooDeep, Part::Claims) => "the token's claims nest arrays or objects too deep",
    };
    Some(described(RejectionKind::Malformed, description))
}

/// The claims view of `payload`, read strictly: by the fast path when it can, else by
/// serde, which decides every error.
pub(super) fn claims_view<'a>(
    payload: &'a str,
    seed: ViewSeed<'_>,
) -> Result<ClaimsView<'a>, AuthError> {
    if let Some(view) = scan::view(payload, &seed) {
        return Ok(view);
    }
    strict::read_object(payload, seed).map_err(|e| {
        strict_error(&e, Part::Claims)
            .unwrap_or_else(|| json_error(&e, "a registered claim has the wrong type"))
    })
}
