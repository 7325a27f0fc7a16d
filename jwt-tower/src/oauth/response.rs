//! The authorization response (RFC 6749 §4.1.2 and §4.1.2.1, RFC 9207): the client's
//! redirect URI with the code or the error, `state` and `iss` added to its query.

/// `redirect_uri` with `params` appended to its query (form-urlencoded, after any query
/// it already has), parameters whose value is `None` left out.
///
/// ```
/// use jwt_tower::oauth::authorization_response_url;
///
/// let url = authorization_response_url(
///     "http://127.0.0.1:9/cb?app=1",
///     &[("code", Some("abc")), ("state", Some("x y&z")), ("iss", Some("https://as.example"))],
/// );
/// assert_eq!(url, "http://127.0.0.1:9/cb?app=1&code=abc&state=x+y%26z&iss=https%3A%2F%2Fas.example");
/// ```
#[must_use]
pub fn authorization_response_url(redirect_uri: &str, params: &[(&str, Option<&str>)]) -> String {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        // Registered redirect URIs are parsed at registration: this is not reached.
        return redirect_uri.to_owned();
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
    }
    url.into()
}
