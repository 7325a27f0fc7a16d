//! Client authentication at the token endpoint: `client_secret_basic` (RFC 6749 §2.3.1,
//! id and secret form-urlencoded inside HTTP Basic), `client_secret_post` (both in the
//! form) or `none` (a public client names itself with `client_id`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{Client, OAuthError};

/// How a token request authenticated its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// HTTP Basic.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form.
    ClientSecretPost,
    /// `client_id` alone: a public client.
    None,
}

/// The client credentials of a token request.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    /// The client the request claims to be.
    pub client_id: String,
    /// The secret it sent, if any.
    pub client_secret: Option<String>,
    /// How it sent them.
    pub method: AuthMethod,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// One form-urlencoded component (`+` is a space, `%XX` a byte), through the
/// `form_urlencoded` crate: a lone component reads as a key without a value.
fn form_decode(component: &str) -> Option<String> {
    if component.contains(['&', '=']) {
        return None;
    }
    match form_urlencoded::parse(component.as_bytes()).next() {
        Some((key, value)) if value.is_empty() => Some(key.into_owned()),
        None if component.is_empty() => Some(String::new()),
        _ => None,
    }
}

/// The `Authorization` value of a client authenticating with `client_secret_basic`, as
/// [`ClientCredentials::from_request`] reads it back: id and secret each form-urlencoded,
/// then HTTP Basic (RFC 6749 §2.3.1). For this crate's own token-endpoint and
/// introspection clients.
#[cfg(feature = "remote")]
pub(crate) fn client_secret_basic(client_id: &str, secret: &str) -> String {
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", encode(client_id), encode(secret));
    format!("Basic {}", STANDARD.encode(pair))
}

impl ClientCredentials {
    /// Reads the credentials from the `Authorization` header and the form's `client_id`
    /// and `client_secret`.
    ///
    /// # Errors
    /// `invalid_client` (with a Basic challenge) for an unreadable Basic header;
    /// `invalid_request` for two methods at once, another `Authorization` scheme, or no
    /// `client_id` at all.
    ///
    /// ```
    /// use jwt_tower::oauth::ClientCredentials;
    /// use jwt_tower::oauth::client_auth::AuthMethod;
    ///
    /// // "my client" / "p@ss:word", form-urlencoded, then Basic.
    /// let header = http::HeaderValue::from_static("Basic bXkrY2xpZW50OnAlNDBzcyUzQXdvcmQ=");
    /// let creds = ClientCredentials::from_request(Some(&header), None, None).unwrap();
    /// assert_eq!(creds.client_id, "my client");
    /// assert_eq!(creds.client_secret.as_deref(), Some("p@ss:word"));
    /// assert_eq!(creds.method, AuthMethod::ClientSecretBasic);
    ///
    /// let public = ClientCredentials::from_request(None, Some("cli"), None).unwrap();
    /// assert_eq!(public.method, AuthMethod::None);
    /// ```
    pub fn from_request(
        authorization: Option<&http::HeaderValue>,
        form_client_id: Option<&str>,
        form_client_secret: Option<&str>,
    ) -> Result<Self, OAuthError> {
        if let Some(header) = authorization {
            let basic = || OAuthError::invalid_client("unreadable Basic credentials");
            let value = header.to_str().map_err(|_| basic())?;
            let (scheme, encoded) = value.split_once(' ').unwrap_or((value, ""));
            if !scheme.eq_ignore_ascii_case("basic") {
                return Err(OAuthError::invalid_request(
                    "the only Authorization scheme accepted here is Basic",
                ));
            }
            if form_client_secret.is_some() {
                return Err(OAuthError::invalid_request(
                    "use one client authentication method, not Basic and client_secret",
                ));
            }
            let decoded = STANDARD.decode(encoded.trim()).map_err(|_| basic())?;
            let decoded = String::from_utf8(decoded).map_err(|_| basic())?;
            let (id, secret) = decoded.split_once(':').ok_or_else(basic)?;
            let (id, secret) = (
                form_decode(id).ok_or_else(basic)?,
                form_decode(secret).ok_or_else(basic)?,
            );
            if form_client_id.is_some_and(|form| form != id) {
                return Err(OAuthError::invalid_request(
                    "client_id differs from the Basic credentials",
                ));
            }
            return Ok(Self {
                client_id: id,
                client_secret: Some(secret),
                method: AuthMethod::ClientSecretBasic,
            });
        }
        let client_id = form_client_id
            .ok_or_else(|| OAuthError::invalid_client("no client authentication and no client_id"))?
            .to_owned();
        Ok(match form_client_secret {
            Some(secret) => Self {
                client_id,
                client_secret: Some(secret.to_owned()),
                method: AuthMethod::ClientSecretPost,
            },
            None => Self {
                client_id,
                client_secret: None,
                method: AuthMethod::None,
            },
        })
    }

    /// Authenticates against the registered `client` (`None`: no such client), and
    /// returns it: a confidential client must send its secret, a public client must send
    /// none.
    ///
    /// # Errors
    /// `invalid_client` (401, with a Basic challenge).
    pub fn authenticate(&self, client: Option<Client>) -> Result<Client, OAuthError> {
        let refuse = OAuthError::invalid_client;
        let client = client.ok_or_else(|| refuse("client authentication failed"))?;
        match (&self.client_secret, client.is_public()) {
            (Some(secret), false) if client.verify_secret(secret) => Ok(client),
            (Some(_), false) => Err(refuse("client authentication failed")),
            (None, true) => Ok(client),
            (None, false) => Err(refuse("this client must authenticate with its secret")),
            (Some(_), true) => Err(refuse("a public client has no secret to send")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::{ClientConfig, OAuthErrorCode};

    fn basic(raw: &str) -> http::HeaderValue {
        http::HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(raw))).unwrap()
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let creds =
            ClientCredentials::from_request(Some(&basic("a%2Fb:x+y%25")), Some("a/b"), None)
                .unwrap();
        assert_eq!(creds.client_id, "a/b");
        assert_eq!(creds.client_secret.as_deref(), Some("x y%"));
        let creds = ClientCredentials::from_request(Some(&basic("svc:")), None, None).unwrap();
        assert_eq!(creds.client_secret.as_deref(), Some(""));
    }

    #[test]
    fn unreadable_or_conflicting_credentials_are_refused() {
        let refused = |header: Option<http::HeaderValue>, id, secret| {
            ClientCredentials::from_request(header.as_ref(), id, secret).unwrap_err()
        };
        let error = refused(Some(basic("no-colon")), None, None);
        assert_eq!(error.code(), OAuthErrorCode::InvalidClient);
        assert!(error.www_authenticate("r").is_some());
        let not_base64 = http::HeaderValue::from_static("Basic %%%");
        assert_eq!(
            refused(Some(not_base64), None, None).code(),
            OAuthErrorCode::InvalidClient
        );
        assert_eq!(
            refused(Some(basic("a:b")), None, Some("b")).code(),
            OAuthErrorCode::InvalidRequest
        );
        assert_eq!(
            refused(Some(basic("a:b")), Some("c"), None).code(),
            OAuthErrorCode::InvalidRequest
        );
        let bearer = http::HeaderValue::from_static("Bearer abc");
        assert_eq!(
            refused(Some(bearer), Some("a"), None).code(),
            OAuthErrorCode::InvalidRequest
        );
        assert_eq!(
            refused(None, None, None).code(),
            OAuthErrorCode::InvalidClient
        );
    }

    #[test]
    fn authentication_matches_the_client_kind() {
        let confidential = ClientConfig::confidential("svc", "secret")
            .into_client(0)
            .unwrap();
        let public = ClientConfig {
            client_secret: None,
            ..ClientConfig::confidential("cli", "x")
        }
        .into_client(0)
        .unwrap();
        let creds = |id: &str, secret: Option<&str>| {
            ClientCredentials::from_request(None, Some(id), secret).unwrap()
        };
        assert!(
            creds("svc", Some("secret"))
                .authenticate(Some(confidential.clone()))
                .is_ok()
        );
        assert!(
            creds("cli", None)
                .authenticate(Some(public.clone()))
                .is_ok()
        );
        for (credentials, client) in [
            (creds("svc", Some("wrong")), Some(confidential.clone())),
            (creds("svc", None), Some(confidential.clone())),
            (creds("cli", Some("x")), Some(public.clone())),
            (creds("ghost", None), None),
        ] {
            let error = credentials.authenticate(client).unwrap_err();
            assert_eq!(error.code(), OAuthErrorCode::InvalidClient);
            assert_eq!(
                error.www_authenticate("r").as_deref(),
                Some("Basic realm=\"r\""),
                "every 401 carries a challenge"
            );
        }
        let via_basic = ClientCredentials::from_request(Some(&basic("svc:wrong")), None, None)
            .unwrap()
            .authenticate(Some(confidential.clone()))
            .unwrap_err();
        assert_eq!(
            via_basic.www_authenticate("r").as_deref(),
            Some("Basic realm=\"r\"")
        );
    }
}
