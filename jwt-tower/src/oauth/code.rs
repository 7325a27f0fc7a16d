//! Authorization codes (RFC 6749 §4.1): short-lived, single-use, bound to the client, the
//! redirect URI, the PKCE challenge, the resource, the scope and the user. The store keeps
//! a code under its SHA-256 hash and hands it out once.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{OAuthError, pkce};

/// How long a code can be redeemed unless configured otherwise (RFC 6749 §4.1.2
/// recommends at most ten minutes; a client redeems it at once).
pub const DEFAULT_CODE_LIFETIME: Duration = Duration::from_secs(60);

/// What an authorization code stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationCode {
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect URI of the authorization request; the token request must repeat it.
    pub redirect_uri: String,
    /// The PKCE `S256` challenge.
    pub code_challenge: String,
    /// The RFC 8707 resource asked for at authorization, if any: the token's audience.
    #[serde(default)]
    pub resource: Option<String>,
    /// The thumbprint of the DPoP key the authorization request named (`dpop_jkt`,
    /// RFC 9449 §10), if any: the code is redeemed only with a proof by that key
    /// ([`check_dpop_key`](Self::check_dpop_key)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
    /// The scope granted (already narrowed to the client's and the user's).
    pub scope: String,
    /// The user who logged in.
    pub subject: String,
    /// Seconds since the epoch after which the code is refused.
    pub expires_at: i64,
}

impl AuthorizationCode {
    /// Checks a token request against the code: same client, same redirect URI, the
    /// verifier of the challenge, not expired at `now`, and a `resource`, if the token
    /// request names one, equal to the code's (when the code has one).
    ///
    /// # Errors
    /// `invalid_grant` for each mismatch (RFC 6749 §5.2), `invalid_target` for another
    /// resource.
    ///
    /// ```
    /// use jwt_tower::oauth::{AuthorizationCode, pkce};
    ///
    /// let verifier = "v".repeat(43);
    /// let code = AuthorizationCode {
    ///     client_id: "cli".into(),
    ///     redirect_uri: "http://127.0.0.1:9/cb".into(),
    ///     code_challenge: pkce::challenge_of(&verifier),
    ///     resource: None,
    ///     dpop_jkt: None,
    ///     scope: "read".into(),
    ///     subject: "alice".into(),
    ///     expires_at: 1_000,
    /// };
    /// assert!(code.check("cli", Some("http://127.0.0.1:9/cb"), Some(&verifier), None, 999).is_ok());
    /// assert!(code.check("cli", Some("http://127.0.0.1:9/cb"), Some(&verifier), None, 1_000).is_err());
    /// assert!(code.check("other", Some("http://127.0.0.1:9/cb"), Some(&verifier), None, 999).is_err());
    /// ```
    pub fn check(
        &self,
        client_id: &str,
        redirect_uri: Option<&str>,
        code_verifier: Option<&str>,
        resource: Option<&str>,
        now: i64,
    ) -> Result<(), OAuthError> {
        if now >= self.expires_at {
            return Err(OAuthError::invalid_grant(
                "the authorization code has expired",
            ));
        }
        if client_id != self.client_id {
            return Err(OAuthError::invalid_grant(
                "the authorization code was issued to another client",
            ));
        }
        if redirect_uri != Some(self.redirect_uri.as_str()) {
            return Err(OAuthError::invalid_grant(
                "redirect_uri differs from the authorization request's",
            ));
        }
        let verifier = code_verifier
            .ok_or_else(|| OAuthError::invalid_request("code_verifier is required (PKCE)"))?;
        if !pkce::verify_s256(verifier, &self.code_challenge) {
            return Err(OAuthError::invalid_grant(
                "code_verifier does not match the code_challenge",
            ));
        }
        if let (Some(asked), Some(bound)) = (resource, self.resource.as_deref())
            && asked != bound
        {
            return Err(OAuthError::invalid_target(
                "resource differs from the authorization request's",
            ));
        }
        Ok(())
    }

    /// Checks the DPoP key a token request proved (`None`: no proof) against the code's
    /// [`dpop_jkt`](Self::dpop_jkt): a code bound to a key needs a proof by that key
    /// (RFC 9449 §10), so a stolen code is of no use without the client's private key.
    ///
    /// # Errors
    /// `invalid_dpop_proof` when the code is bound to another key, or the request proved
    /// none.
    ///
    /// ```
    /// use jwt_tower::oauth::{AuthorizationCode, OAuthErrorCode};
    ///
    /// let code = AuthorizationCode {
    ///     client_id: "cli".into(),
    ///     redirect_uri: "http://127.0.0.1:9/cb".into(),
    ///     code_challenge: "c".into(),
    ///     resource: None,
    ///     dpop_jkt: Some("the-thumbprint".into()),
    ///     scope: "read".into(),
    ///     subject: "alice".into(),
    ///     expires_at: 1_000,
    /// };
    /// assert!(code.check_dpop_key(Some("the-thumbprint")).is_ok());
    /// assert_eq!(code.check_dpop_key(None).unwrap_err().code(), OAuthErrorCode::InvalidDpopProof);
    /// assert!(code.check_dpop_key(Some("another")).is_err());
    /// ```
    pub fn check_dpop_key(&self, proved_jkt: Option<&str>) -> Result<(), OAuthError> {
        match &self.dpop_jkt {
            Some(bound) if proved_jkt != Some(bound.as_str()) => Err(OAuthError::new(
                super::OAuthErrorCode::InvalidDpopProof,
                "the authorization request named a DPoP key (dpop_jkt): send a proof signed by that key",
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::OAuthErrorCode;

    fn code() -> (AuthorizationCode, String) {
        let verifier = "k".repeat(60);
        (
            AuthorizationCode {
                client_id: "cli".into(),
                redirect_uri: "http://127.0.0.1:9/cb".into(),
                code_challenge: pkce::challenge_of(&verifier),
                resource: Some("https://mcp.example.com/mcp".into()),
                dpop_jkt: None,
                scope: "read".into(),
                subject: "alice".into(),
                expires_at: 100,
            },
            verifier,
        )
    }

    #[test]
    fn every_binding_is_checked() {
        let (code, verifier) = code();
        let uri = Some("http://127.0.0.1:9/cb");
        let resource = Some("https://mcp.example.com/mcp");
        assert!(
            code.check("cli", uri, Some(&verifier), resource, 99)
                .is_ok()
        );
        assert!(code.check("cli", uri, Some(&verifier), None, 99).is_ok());
        let kind = |r: Result<(), OAuthError>| r.unwrap_err().code();
        assert_eq!(
            kind(code.check("cli", uri, Some(&verifier), resource, 100)),
            OAuthErrorCode::InvalidGrant
        );
        assert_eq!(
            kind(code.check("x", uri, Some(&verifier), resource, 99)),
            OAuthErrorCode::InvalidGrant
        );
        assert_eq!(
            kind(code.check(
                "cli",
                Some("http://127.0.0.1:9/cb2"),
                Some(&verifier),
                resource,
                99
            )),
            OAuthErrorCode::InvalidGrant
        );
        assert_eq!(
            kind(code.check("cli", None, Some(&verifier), resource, 99)),
            OAuthErrorCode::InvalidGrant
        );
        assert_eq!(
            kind(code.check("cli", uri, Some(&"j".repeat(60)), resource, 99)),
            OAuthErrorCode::InvalidGrant
        );
        assert_eq!(
            kind(code.check("cli", uri, None, resource, 99)),
            OAuthErrorCode::InvalidRequest
        );
        assert_eq!(
            kind(code.check("cli", uri, Some(&verifier), Some("https://other/"), 99)),
            OAuthErrorCode::InvalidTarget
        );
    }
}
