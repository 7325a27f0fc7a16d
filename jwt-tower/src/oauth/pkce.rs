//! PKCE (RFC 7636) with the `S256` method, the only one this server accepts: a code is
//! redeemed only with the verifier whose SHA-256 the client sent as the challenge.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::OAuthError;

/// The one challenge method accepted (`plain` would send the verifier itself).
pub const S256: &str = "S256";

/// Whether `verifier` has the grammar of RFC 7636 §4.1: 43 to 128 characters of
/// `A-Z a-z 0-9 - . _ ~`.
///
/// ```
/// use jwt_tower::oauth::pkce;
/// assert!(pkce::is_valid_verifier(&"a".repeat(43)));
/// assert!(!pkce::is_valid_verifier(&"a".repeat(42)));
/// assert!(!pkce::is_valid_verifier(&format!("{}+", "a".repeat(43))));
/// ```
#[must_use]
pub fn is_valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Checks an authorization request's `code_challenge` and `code_challenge_method`: both
/// present, the method `S256`, the challenge the base64url (unpadded) form of a SHA-256
/// digest.
///
/// # Errors
/// `invalid_request` naming what is wrong.
///
/// ```
/// use jwt_tower::oauth::pkce;
/// let challenge = pkce::challenge_of(&"v".repeat(43));
/// assert!(pkce::check_challenge(Some(&challenge), Some("S256")).is_ok());
/// assert!(pkce::check_challenge(Some(&challenge), Some("plain")).is_err());
/// assert!(pkce::check_challenge(None, None).is_err());
/// ```
pub fn check_challenge(challenge: Option<&str>, method: Option<&str>) -> Result<(), OAuthError> {
    let challenge = challenge
        .ok_or_else(|| OAuthError::invalid_request("code_challenge is required (PKCE)"))?;
    if method != Some(S256) {
        return Err(OAuthError::invalid_request(
            "code_challenge_method must be S256",
        ));
    }
    let decoded = URL_SAFE_NO_PAD
        .decode(challenge)
        .map_err(|_| OAuthError::invalid_request("code_challenge is not base64url"))?;
    if decoded.len() != 32 {
        return Err(OAuthError::invalid_request(
            "code_challenge is not a SHA-256 digest",
        ));
    }
    Ok(())
}

/// The `S256` challenge of `verifier`: base64url (unpadded) of its SHA-256.
#[must_use]
pub fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `verifier` is well formed and its `S256` challenge is `challenge`, compared in
/// constant time.
///
/// ```
/// use jwt_tower::oauth::pkce;
/// let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// // RFC 7636 Appendix B.
/// assert!(pkce::verify_s256(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
/// assert!(!pkce::verify_s256(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"));
/// ```
#[must_use]
pub fn verify_s256(verifier: &str, challenge: &str) -> bool {
    is_valid_verifier(verifier)
        && bool::from(
            challenge_of(verifier)
                .as_bytes()
                .ct_eq(challenge.as_bytes()),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_grammar_follows_rfc_7636() {
        let ok = "abcXYZ019-._~".repeat(4);
        assert!(is_valid_verifier(&ok[..43]));
        assert!(is_valid_verifier(&"Z".repeat(128)));
        assert!(!is_valid_verifier(&"Z".repeat(129)));
        for bad in ['+', '/', '=', ' ', 'é', '%'] {
            let verifier = format!("{}{bad}", "a".repeat(43));
            assert!(!is_valid_verifier(&verifier), "{bad:?}");
        }
    }

    #[test]
    fn a_wrong_or_malformed_verifier_fails() {
        let verifier = "x".repeat(64);
        let challenge = challenge_of(&verifier);
        assert!(verify_s256(&verifier, &challenge));
        assert!(!verify_s256(&"y".repeat(64), &challenge));
        // The right digest, but the verifier breaks the grammar.
        let short = "x".repeat(10);
        assert!(!verify_s256(&short, &challenge_of(&short)));
        // A challenge of another length.
        assert!(!verify_s256(&verifier, &challenge[..42]));
    }

    #[test]
    fn challenges_are_checked_for_method_and_shape() {
        let good = challenge_of(&"v".repeat(50));
        assert!(check_challenge(Some(&good), Some("S256")).is_ok());
        for (challenge, method) in [
            (Some(good.as_str()), None),
            (Some(good.as_str()), Some("plain")),
            (Some(good.as_str()), Some("s256")),
            (None, Some("S256")),
            (Some("not base64!"), Some("S256")),
            (Some("c2hvcnQ"), Some("S256")),
        ] {
            let error = check_challenge(challenge, method).unwrap_err();
            assert_eq!(error.code(), super::super::OAuthErrorCode::InvalidRequest);
        }
    }
}
