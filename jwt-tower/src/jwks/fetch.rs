//! One fetch of a JWKS document: bounded in time and size, parsed with key hygiene.

use std::time::Duration;

use http::header::CACHE_CONTROL;

use crate::KeySet;
use crate::algorithm::AlgorithmSet;

/// Why a fetch failed. The last good key set keeps serving meanwhile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The endpoint could not be reached, or did not answer in time.
    #[error("JWKS endpoint unreachable: {0}")]
    Unreachable(String),
    /// The endpoint answered with a non-success status.
    #[error("JWKS endpoint answered HTTP {0}")]
    Status(u16),
    /// The body was larger than the limit.
    #[error("JWKS document larger than {0} bytes")]
    TooLarge(usize),
    /// The body was not a JWKS document, or held no usable key.
    #[error("JWKS document unusable: {0}")]
    Invalid(String),
}

pub(crate) struct Fetched {
    /// The document's keys, or `None` when it is the document already in use.
    pub(crate) set: Option<KeySet>,
    /// The document as received, to tell an unchanged one from a new one.
    pub(crate) document: Vec<u8>,
    /// `Cache-Control: max-age`, if the endpoint sent one.
    pub(crate) max_age: Option<Duration>,
}

/// `max-age` from a `Cache-Control` value; `no-cache` / `no-store` count as zero.
pub(crate) fn max_age(value: &str) -> Option<Duration> {
    let mut found = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-cache" || lower == "no-store" {
            return Some(Duration::ZERO);
        }
        if let Some(secs) = lower.strip_prefix("max-age=") {
            found = secs
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    found
}

/// Reads a body, refusing it once it exceeds `limit` bytes.
pub(crate) async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, FetchError> {
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(FetchError::TooLarge(limit));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| FetchError::Unreachable(e.to_string()))?
    {
        if body.len() + chunk.len() > limit {
            return Err(FetchError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// GETs `url` and returns its body and `Cache-Control` max-age, within `timeout`.
pub(crate) async fn get(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
    limit: usize,
) -> Result<(Vec<u8>, Option<Duration>), FetchError> {
    let attempt = async {
        let response = client
            .get(url)
            .header(
                http::header::ACCEPT,
                "application/json, application/jwk-set+json",
            )
            .send()
            .await
            .map_err(|e| FetchError::Unreachable(e.without_url().to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Status(status.as_u16()));
        }
        let max_age = response
            .headers()
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age);
        Ok((read_limited(response, limit).await?, max_age))
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| FetchError::Unreachable(format!("no answer within {timeout:?}")))?
}

/// Fetches a JWKS document and parses it, unless `in_use` says it is the document the
/// keys in use came from: that one is not parsed again (nor are its skipped keys logged
/// again on every refresh).
pub(crate) async fn fetch_jwks(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
    limit: usize,
    allowed: Option<AlgorithmSet>,
    in_use: impl FnOnce(&[u8]) -> bool,
) -> Result<Fetched, FetchError> {
    let (body, max_age) = get(client, url, timeout, limit).await?;
    let set = if in_use(&body) {
        None
    } else {
        let text =
            std::str::from_utf8(&body).map_err(|_| FetchError::Invalid("not UTF-8".into()))?;
        let (set, _skipped) = KeySet::from_remote_jwks(text, allowed)
            .map_err(|e| FetchError::Invalid(e.to_string()))?;
        Some(set)
    };
    Ok(Fetched {
        set,
        document: body,
        max_age,
    })
}

#[cfg(test)]
mod tests {
    use super::max_age;
    use std::time::Duration;

    #[test]
    fn cache_control_max_age() {
        assert_eq!(
            max_age("public, max-age=600"),
            Some(Duration::from_secs(600))
        );
        assert_eq!(max_age("max-age=\"60\""), Some(Duration::from_secs(60)));
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=abc"), None);
    }
}
