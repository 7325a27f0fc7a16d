//! OIDC discovery (`/.well-known/openid-configuration`) and RFC 8414
//! (`/.well-known/oauth-authorization-server`): the issuer's `jwks_uri`.

use std::time::Duration;

use super::fetch::{self, FetchError};

/// Why discovery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// Neither discovery document could be fetched.
    #[error("discovery document unavailable: {0}")]
    Fetch(#[from] FetchError),
    /// The document was not JSON or had no `jwks_uri`.
    #[error("discovery document invalid: {0}")]
    Invalid(String),
    /// The document's `issuer` is not the configured issuer (OIDC Discovery §4.3): its
    /// keys must not be trusted for this issuer.
    #[error("discovery document names issuer {found:?}, expected {expected:?}")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The issuer the document names.
        found: String,
    },
}

/// The discovery URLs for `issuer`, in the order they are tried: OIDC's (path appended),
/// then RFC 8414's (well-known segment inserted before the path).
pub(crate) fn discovery_urls(issuer: &str) -> Vec<String> {
    let trimmed = issuer.trim_end_matches('/');
    let mut urls = vec![format!("{trimmed}/.well-known/openid-configuration")];
    if let Some((scheme, rest)) = trimmed.split_once("://") {
        let (host, path) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
        let path = if path.is_empty() {
            String::new()
        } else {
            format!("/{path}")
        };
        urls.push(format!(
            "{scheme}://{host}/.well-known/oauth-authorization-server{path}"
        ));
    }
    urls
}

/// Finds the `jwks_uri` of `issuer` by discovery, checking the document's `issuer`.
///
/// # Errors
/// [`DiscoveryError`] when no document can be fetched, it is invalid, or it names
/// another issuer.
pub async fn discover(
    client: &reqwest::Client,
    issuer: &str,
    timeout: Duration,
) -> Result<String, DiscoveryError> {
    #[derive(serde::Deserialize)]
    struct Document {
        issuer: String,
        jwks_uri: String,
    }
    let mut last_error = None;
    for url in discovery_urls(issuer) {
        let body = match fetch::get(client, &url, timeout, 256 * 1024).await {
            Ok((body, _)) => body,
            Err(e) => {
                last_error = Some(e);
                continue;
            }
        };
        let doc: Document =
            serde_json::from_slice(&body).map_err(|e| DiscoveryError::Invalid(e.to_string()))?;
        if doc.issuer != issuer {
            return Err(DiscoveryError::IssuerMismatch {
                expected: issuer.to_owned(),
                found: doc.issuer,
            });
        }
        return Ok(doc.jwks_uri);
    }
    Err(DiscoveryError::Fetch(last_error.unwrap_or_else(|| {
        FetchError::Unreachable("no discovery URL".to_owned())
    })))
}

#[cfg(test)]
mod tests {
    use super::discovery_urls;

    #[test]
    fn both_well_known_forms() {
        assert_eq!(
            discovery_urls("https://id.example.com/realms/acme/"),
            [
                "https://id.example.com/realms/acme/.well-known/openid-configuration",
                "https://id.example.com/.well-known/oauth-authorization-server/realms/acme",
            ]
        );
        assert_eq!(
            discovery_urls("https://id.example.com"),
            [
                "https://id.example.com/.well-known/openid-configuration",
                "https://id.example.com/.well-known/oauth-authorization-server",
            ]
        );
    }
}
