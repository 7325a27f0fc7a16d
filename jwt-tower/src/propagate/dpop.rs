//! DPoP on the way out (RFC 9449): a service's own key signing a fresh proof for each
//! request, and the nonces each server asked for, remembered per origin.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use http::header::WWW_AUTHENTICATE;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};

use super::destination::Origin;
use super::source::ServiceTokenError;

/// The proof header (`dpop` metadata in gRPC).
pub(super) static DPOP: HeaderName = HeaderName::from_static("dpop");

/// The header a server sends a nonce in.
pub(super) static DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// How many origins' nonces are remembered: one client talks to few servers, and a
/// server sending nonces from many names must not grow this without bound.
const MAX_REMEMBERED_ORIGINS: usize = 64;

/// A service's DPoP key and the nonces servers sent it. Cheap to share; one per
/// [`ServiceTokenSource`](super::ServiceTokenSource).
#[cfg(feature = "aws_lc_rs")]
#[derive(Debug)]
pub(super) struct DpopSigner {
    key: crate::dpop::DpopKey,
    /// The last nonce each origin sent (`scheme://host:port`).
    nonces: Mutex<HashMap<String, Arc<str>>>,
}

/// Without a backend able to sign proofs there is no signer: this type has no value.
#[cfg(not(feature = "aws_lc_rs"))]
#[derive(Debug)]
pub(super) enum DpopSigner {}

#[cfg(feature = "aws_lc_rs")]
impl DpopSigner {
    pub(super) fn new(key: crate::dpop::DpopKey) -> Self {
        Self {
            key,
            nonces: Mutex::new(HashMap::new()),
        }
    }

    pub(super) fn key(&self) -> &crate::dpop::DpopKey {
        &self.key
    }

    /// A fresh proof for `method` to `htu`, for `access_token` when one is sent, with
    /// the server's `nonce` when it sent one.
    pub(super) fn proof(
        &self,
        method: &Method,
        htu: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<HeaderValue, ServiceTokenError> {
        let proof = self
            .key
            .proof(method.as_str(), htu, access_token, nonce)
            .map_err(|e| ServiceTokenError::new(Box::new(e)))?;
        HeaderValue::try_from(proof).map_err(|_| {
            ServiceTokenError::new("the DPoP proof is not a valid header value".into())
        })
    }
}

#[cfg(not(feature = "aws_lc_rs"))]
impl DpopSigner {
    pub(super) fn proof(
        &self,
        _: &Method,
        _: &str,
        _: Option<&str>,
        _: Option<&str>,
    ) -> Result<HeaderValue, ServiceTokenError> {
        match *self {}
    }
}

impl DpopSigner {
    fn nonces(&self) -> &Mutex<HashMap<String, Arc<str>>> {
        #[cfg(feature = "aws_lc_rs")]
        return &self.nonces;
        #[cfg(not(feature = "aws_lc_rs"))]
        match *self {}
    }

    /// The last nonce `origin` sent, if any.
    pub(super) fn nonce(&self, origin: &str) -> Option<Arc<str>> {
        self.nonces()
            .lock()
            .expect("nonce lock")
            .get(origin)
            .cloned()
    }

    /// Remembers the `DPoP-Nonce` of a response from `origin`, and returns it, if it
    /// has a valid one.
    pub(super) fn remember(&self, origin: &str, headers: &HeaderMap) -> Option<Arc<str>> {
        let nonce = headers.get(&DPOP_NONCE)?.to_str().ok()?;
        // RFC 9449 §8.1: a nonce is one or more NQCHAR (printable ASCII but `"` and `\`).
        if nonce.is_empty()
            || nonce
                .bytes()
                .any(|b| !(0x21..=0x7e).contains(&b) || b == b'"' || b == b'\\')
        {
            return None;
        }
        let mut nonces = self.nonces().lock().expect("nonce lock");
        if let Some(known) = nonces.get(origin).filter(|known| &***known == nonce) {
            return Some(Arc::clone(known));
        }
        if nonces.len() >= MAX_REMEMBERED_ORIGINS && !nonces.contains_key(origin) {
            nonces.clear();
        }
        let nonce: Arc<str> = nonce.into();
        nonces.insert(origin.to_owned(), Arc::clone(&nonce));
        Some(nonce)
    }
}

/// Whether a resource server's answer asks for a nonce: 401 with a `DPoP` challenge
/// whose `error` is `use_dpop_nonce` (RFC 9449 §9).
pub(super) fn asks_for_nonce(status: StatusCode, headers: &HeaderMap) -> bool {
    status == StatusCode::UNAUTHORIZED
        && headers.get_all(WWW_AUTHENTICATE).iter().any(|value| {
            value.to_str().is_ok_and(|v| {
                let v = v.trim_start();
                v.get(..5).is_some_and(|s| s.eq_ignore_ascii_case("dpop "))
                    && v.contains("error=\"use_dpop_nonce\"")
            })
        })
}

/// Where a request goes, for its proof: the origin (the key of its nonces) and the
/// `htu` (scheme, host, port and path: never user information, query or fragment).
pub(super) fn target(uri: &Uri, fixed: Option<&Origin>) -> Option<(String, String)> {
    let origin = match (uri.scheme().is_some() && uri.authority().is_some(), fixed) {
        (true, _) => Origin::try_from(uri).ok()?,
        (false, Some(fixed)) => fixed.clone(),
        (false, None) => return None,
    };
    let path = match uri.path() {
        "" => "/",
        path => path,
    };
    let htu = format!("{}{path}", origin.url_base());
    Some((origin.to_string(), htu))
}

/// Whether a (verified) token is bound to a key its holder must prove: a `cnf.jkt` in
/// its claims. Read from the token itself, which the verifier has already checked.
pub(super) fn is_key_bound(token: &str) -> bool {
    use base64::Engine as _;
    #[derive(serde::Deserialize)]
    struct Claims {
        cnf: Option<Confirmation>,
    }
    #[derive(serde::Deserialize)]
    struct Confirmation {
        jkt: Option<serde::de::IgnoredAny>,
    }
    let Some(payload) = token.split('.').nth(1) else {
        return false;
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Claims>(&bytes).ok())
        .and_then(|claims| claims.cnf)
        .is_some_and(|cnf| cnf.jkt.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htu_is_the_origin_and_path_only() {
        let uri: Uri = "https://user:pw@Orders.Internal/v1/orders?x=1"
            .parse()
            .unwrap();
        let (origin, htu) = target(&uri, None).unwrap();
        assert_eq!(origin, "https://orders.internal:443");
        assert_eq!(htu, "https://orders.internal/v1/orders");
        let fixed: Origin = "http://127.0.0.1:50051".parse().unwrap();
        let path: Uri = "/identity.v1.Identity/WhoAmI".parse().unwrap();
        let (_, htu) = target(&path, Some(&fixed)).unwrap();
        assert_eq!(htu, "http://127.0.0.1:50051/identity.v1.Identity/WhoAmI");
        assert!(target(&path, None).is_none());
    }

    #[test]
    fn only_a_dpop_challenge_asking_for_a_nonce_counts() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.append(WWW_AUTHENTICATE, HeaderValue::from_static(value));
            headers
        };
        let nonce = with(
            r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof""#,
        );
        assert!(asks_for_nonce(StatusCode::UNAUTHORIZED, &nonce));
        assert!(!asks_for_nonce(StatusCode::BAD_REQUEST, &nonce));
        assert!(!asks_for_nonce(
            StatusCode::UNAUTHORIZED,
            &with(r#"Bearer error="use_dpop_nonce""#)
        ));
        assert!(!asks_for_nonce(
            StatusCode::UNAUTHORIZED,
            &with(r#"DPoP error="invalid_dpop_proof""#)
        ));
    }

    #[test]
    fn a_token_is_key_bound_when_it_names_a_jkt() {
        use base64::Engine as _;
        let token = |claims: &str| {
            format!(
                "e30.{}.sig",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims)
            )
        };
        assert!(is_key_bound(&token(r#"{"sub":"a","cnf":{"jkt":"abc"}}"#)));
        assert!(!is_key_bound(&token(
            r#"{"sub":"a","cnf":{"x5t#S256":"abc"}}"#
        )));
        assert!(!is_key_bound(&token(r#"{"sub":"a"}"#)));
        assert!(!is_key_bound("opaque"));
    }
}
