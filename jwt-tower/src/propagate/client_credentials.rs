//! [`ClientCredentials`]: a service's own token from an OAuth 2.1 token endpoint, by the
//! client-credentials grant (RFC 6749 §4.4), with DPoP proofs when the source holds a key.

use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};

use super::dpop::{DPOP, DpopSigner};
use super::{BoxError, ServiceToken, ServiceTokenSource};
use crate::oauth::client_secret_basic;

/// How long one token request may take, by default.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest token response read.
const MAX_RESPONSE_LEN: usize = 64 * 1024;

/// Builds a [`ServiceTokenSource`] that obtains the service's token from an
/// authorization server's token endpoint with the client-credentials grant, the client
/// authenticated by `client_secret_basic` (id and secret form-urlencoded inside HTTP
/// Basic, RFC 6749 §2.3.1).
///
/// With a DPoP key ([`dpop`](Self::dpop)), each token request carries a proof (`htm`
/// `POST`, `htu` the token URL); a `400` answer `{"error": "use_dpop_nonce"}` with a
/// `DPoP-Nonce` header is retried once with that nonce (RFC 9449 §8), and the token must
/// come back bound (`token_type` `DPoP`): a server that answers with a Bearer token is an
/// error, never a silent downgrade.
///
/// ```no_run
/// use jwt_tower::Algorithm;
/// use jwt_tower::dpop::DpopKey;
/// use jwt_tower::propagate::{PropagateLayer, ServiceTokenSource};
///
/// let source = ServiceTokenSource::client_credentials(
///     "https://auth.internal/token",
///     "billing",
///     std::env::var("BILLING_CLIENT_SECRET")?,
/// )
/// .scope("orders:read")
/// .dpop(DpopKey::generate(Algorithm::ES256)?)
/// .build()?;
/// let layer = PropagateLayer::service_token(source).to(["https://orders.internal"])?;
/// # let _ = layer;
/// # Ok::<(), jwt_tower::propagate::BoxError>(())
/// ```
#[derive(Clone)]
#[must_use = "a ClientCredentials does nothing until built into a source with `build`"]
pub struct ClientCredentials {
    token_url: String,
    client_id: String,
    client_secret: String,
    scope: Option<String>,
    resource: Option<String>,
    client: Option<reqwest::Client>,
    #[cfg(feature = "aws_lc_rs")]
    dpop: Option<crate::dpop::DpopKey>,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret is a credential: never in logs.
        f.debug_struct("ClientCredentials")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

/// The token endpoint's URL is not an absolute `http`/`https` URL.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid token endpoint URL {0:?}: an absolute http or https URL is required")]
pub struct InvalidTokenUrl(String);

impl ServiceTokenSource {
    /// A source obtaining the service's token from `token_url` with the OAuth
    /// client-credentials grant: see [`ClientCredentials`].
    pub fn client_credentials(
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> ClientCredentials {
        ClientCredentials {
            token_url: token_url.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            scope: None,
            resource: None,
            client: None,
            #[cfg(feature = "aws_lc_rs")]
            dpop: None,
        }
    }
}

impl ClientCredentials {
    /// The `scope` requested (space-separated), if any.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// The `resource` (RFC 8707) the token is for, if the server wants one.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// The HTTP client (default: reqwest's, no redirects, a 10 s timeout).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Requests DPoP-bound tokens, with proofs signed by `key`, which the built source
    /// then holds (see [`ServiceTokenSource::dpop`]).
    #[cfg(feature = "aws_lc_rs")]
    #[cfg_attr(docsrs, doc(cfg(feature = "aws_lc_rs")))]
    pub fn dpop(mut self, key: crate::dpop::DpopKey) -> Self {
        self.dpop = Some(key);
        self
    }

    /// The source: tokens are requested when first needed and renewed before they
    /// expire (`expires_in`).
    ///
    /// # Errors
    /// If the token URL is not an absolute `http`/`https` URL, or the default HTTP client
    /// cannot be built.
    pub fn build(self) -> Result<ServiceTokenSource, BoxError> {
        let request = Arc::new(TokenRequest::new(
            &self.token_url,
            &self.client_id,
            &self.client_secret,
            self.client,
        )?);
        let body: Arc<str> = form(self.scope.as_deref(), self.resource.as_deref()).into();
        let source = ServiceTokenSource::from_fetch(move |signer| {
            let (request, body) = (Arc::clone(&request), Arc::clone(&body));
            Box::pin(async move { request.send(&body, signer.as_deref()).await })
        });
        #[cfg(feature = "aws_lc_rs")]
        let source = match self.dpop {
            Some(key) => source.dpop(key),
            None => source,
        };
        Ok(source)
    }
}

fn form(scope: Option<&str>, resource: Option<&str>) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "client_credentials");
    if let Some(scope) = scope {
        form.append_pair("scope", scope);
    }
    if let Some(resource) = resource {
        form.append_pair("resource", resource);
    }
    form.finish()
}

/// A token endpoint and this client's credentials for it: a token request is sent
/// for each new token (client credentials, or a token exchange).
pub(super) struct TokenRequest {
    url: url::Url,
    /// The token endpoint's origin: the key of its nonces.
    origin: String,
    /// The proof's `htu`: the token URL without query and fragment.
    htu: String,
    authorization: String,
    client: reqwest::Client,
}

/// What a token endpoint answers.
#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: String,
    token_type: String,
    expires_in: Option<u64>,
}

#[derive(serde::Deserialize)]
struct ErrorResponse {
    error: String,
    error_description: Option<String>,
}

/// Why a token request failed: the status and the server's OAuth error, never the
/// request's credentials.
#[derive(Debug, thiserror::Error)]
#[error("the token endpoint answered {status}: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
pub(super) struct TokenEndpointError {
    pub(super) status: StatusCode,
    pub(super) error: String,
    pub(super) description: Option<String>,
}

impl TokenRequest {
    /// The request to `token_url` as `client_id`, authenticated by
    /// `client_secret_basic`; `client` by default is reqwest's, with no redirects and a
    /// 10 s timeout.
    ///
    /// # Errors
    /// If the token URL is not an absolute `http`/`https` URL, or the default HTTP client
    /// cannot be built.
    pub(super) fn new(
        token_url: &str,
        client_id: &str,
        client_secret: &str,
        client: Option<reqwest::Client>,
    ) -> Result<Self, BoxError> {
        let url = url::Url::parse(token_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| InvalidTokenUrl(token_url.to_owned()))?;
        let uri: http::Uri = url.as_str().parse()?;
        let (origin, htu) =
            super::dpop::target(&uri, None).ok_or_else(|| InvalidTokenUrl(token_url.to_owned()))?;
        let client = match client {
            Some(client) => client,
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(DEFAULT_TIMEOUT)
                .build()?,
        };
        Ok(Self {
            url,
            origin,
            htu,
            authorization: client_secret_basic(client_id, client_secret),
            client,
        })
    }

    /// Posts the form `body` (with a proof when `signer` is given) and reads the token
    /// it answers: a Bearer token, or a DPoP one with a signer.
    pub(super) async fn send(
        &self,
        body: &str,
        signer: Option<&DpopSigner>,
    ) -> Result<ServiceToken, BoxError> {
        let mut retried = false;
        loop {
            let mut request = self
                .client
                .post(self.url.clone())
                .header(http::header::AUTHORIZATION, &self.authorization)
                .header(
                    http::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .header(http::header::ACCEPT, "application/json")
                .body(body.to_owned());
            let used = signer.and_then(|s| s.nonce(&self.origin));
            if let Some(signer) = signer {
                let proof = signer.proof(&Method::POST, &self.htu, None, used.as_deref())?;
                request = request.header(&DPOP, proof);
            }
            let response = request.send().await?;
            let status = response.status();
            let sent = signer.and_then(|s| s.remember(&self.origin, response.headers()));
            let new_nonce = sent.is_some() && sent != used;
            let body = read_limited(response).await?;
            if status.is_success() {
                return token(&body, signer.is_some());
            }
            let error = serde_json::from_slice::<ErrorResponse>(&body).ok();
            // RFC 9449 §8: the server wants a nonce; retry once with the one it sent.
            if status == StatusCode::BAD_REQUEST
                && error.as_ref().is_some_and(|e| e.error == "use_dpop_nonce")
                && new_nonce
                && !retried
            {
                retried = true;
                continue;
            }
            return Err(Box::new(TokenEndpointError {
                status,
                error: error
                    .as_ref()
                    .map_or_else(|| "no OAuth error".to_owned(), |e| e.error.clone()),
                description: error.and_then(|e| e.error_description),
            }));
        }
    }
}

async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, BoxError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_RESPONSE_LEN {
            return Err("the token endpoint's answer is too large".into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn token(body: &[u8], dpop: bool) -> Result<ServiceToken, BoxError> {
    let response: TokenResponse = serde_json::from_slice(body)
        .map_err(|e| format!("the token endpoint's answer is not a token response: {e}"))?;
    let expected = if dpop { "DPoP" } else { "Bearer" };
    if !response.token_type.eq_ignore_ascii_case(expected) {
        return Err(format!(
            "the token endpoint answered a token of type {:?}, not {expected}",
            response.token_type
        )
        .into());
    }
    let token = ServiceToken::new(response.access_token);
    Ok(match response.expires_in {
        Some(secs) => token.expires_in(Duration::from_secs(secs)),
        None => token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_urlencoded_first() {
        // RFC 6749 §2.3.1, as the oauth module's own example reads it back.
        assert_eq!(
            client_secret_basic("my client", "p@ss:word"),
            "Basic bXkrY2xpZW50OnAlNDBzcyUzQXdvcmQ="
        );
    }

    #[test]
    fn the_form_names_the_grant_and_the_options() {
        assert_eq!(form(None, None), "grant_type=client_credentials");
        assert_eq!(
            form(Some("a b"), Some("https://api.example/")),
            "grant_type=client_credentials&scope=a+b&resource=https%3A%2F%2Fapi.example%2F"
        );
    }

    #[test]
    fn a_bound_token_must_say_so() {
        let body = br#"{"access_token":"t","token_type":"Bearer","expires_in":60}"#;
        assert!(token(body, true).is_err());
        assert!(token(body, false).unwrap().expiry().is_some());
        let body = br#"{"access_token":"t","token_type":"DPoP"}"#;
        assert_eq!(token(body, true).unwrap().token(), "t");
        assert!(token(body, false).is_err());
    }

    #[test]
    fn only_http_urls_make_a_source() {
        for bad in ["auth.internal/token", "ftp://auth.internal/token", "/token"] {
            assert!(
                ServiceTokenSource::client_credentials(bad, "a", "b")
                    .build()
                    .is_err(),
                "{bad}"
            );
        }
    }
}
