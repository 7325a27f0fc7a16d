//! Scope narrowing (RFC 6749 §3.3): a grant gets what was asked for, cut down to what the
//! client and the user may have; never more, and never nothing when something was asked.

use super::OAuthError;

/// Whether `token` is one scope token: one or more of `%x21 / %x23-5B / %x5D-7E` (printable
/// ASCII except space, `"` and `\`).
#[must_use]
pub fn is_scope_token(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

/// Whether `scope` is a space-separated list of scope tokens (single spaces, none at either
/// end), or empty.
#[must_use]
pub fn is_valid_scope(scope: &str) -> bool {
    scope.is_empty() || scope.split(' ').all(is_scope_token)
}

/// The scope to grant: the tokens of `requested` that every one of `bounds` holds, in the
/// order asked, each once. Without a request (absent or empty), what the first bound holds
/// that every other bound holds too. A `bounds` entry is a space-separated scope, e.g.
/// the user's, then the client's.
///
/// # Errors
/// `invalid_scope` when `requested` is malformed, or asks for something and none of it is
/// within the bounds.
///
/// ```
/// use jwt_tower::oauth::scope::narrow;
///
/// // MCP clients ask for every scope the resource lists: the user gets what they may have.
/// let granted = narrow(Some("orders.read orders.write"), &["orders.read profile", "orders.read orders.write"]);
/// assert_eq!(granted.unwrap(), "orders.read");
/// // Nothing asked: everything allowed.
/// assert_eq!(narrow(None, &["a b", "b c"]).unwrap(), "b");
/// // Asking only for what may not be had.
/// assert_eq!(
///     narrow(Some("admin"), &["read"]).unwrap_err().code(),
///     jwt_tower::oauth::OAuthErrorCode::InvalidScope
/// );
/// ```
pub fn narrow(requested: Option<&str>, bounds: &[&str]) -> Result<String, OAuthError> {
    let held = |token: &str| {
        bounds
            .iter()
            .all(|bound| bound.split(' ').any(|t| t == token))
    };
    let requested = requested.filter(|r| !r.is_empty());
    let Some(requested) = requested else {
        let first = bounds.first().copied().unwrap_or("");
        return Ok(join_unique(
            first.split(' ').filter(|t| !t.is_empty() && held(t)),
        ));
    };
    if !is_valid_scope(requested) {
        return Err(OAuthError::invalid_scope(
            "scope must be space-separated scope tokens",
        ));
    }
    let granted = join_unique(requested.split(' ').filter(|t| held(t)));
    if granted.is_empty() {
        return Err(OAuthError::invalid_scope(
            "none of the requested scope may be granted to this client and user",
        ));
    }
    Ok(granted)
}

fn join_unique<'a>(tokens: impl Iterator<Item = &'a str>) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for token in tokens {
        if !seen.contains(&token) {
            seen.push(token);
        }
    }
    seen.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::OAuthErrorCode;

    #[test]
    fn a_request_is_narrowed_never_widened() {
        let user = "read write";
        let client = "read admin";
        assert_eq!(
            narrow(Some("read write admin"), &[user, client]).unwrap(),
            "read"
        );
        assert_eq!(narrow(Some("read read"), &[user, client]).unwrap(), "read");
        assert_eq!(narrow(Some("write read"), &[user]).unwrap(), "write read");
        // Each bound is whole tokens: no prefix or substring match.
        assert_eq!(
            narrow(Some("rea"), &["read"]).unwrap_err().code(),
            OAuthErrorCode::InvalidScope
        );
        assert_eq!(
            narrow(Some("admin"), &[user, client]).unwrap_err().code(),
            OAuthErrorCode::InvalidScope
        );
    }

    #[test]
    fn without_a_request_the_grant_is_what_every_bound_allows() {
        assert_eq!(narrow(None, &["a b c", "c a"]).unwrap(), "a c");
        assert_eq!(narrow(Some(""), &["a b"]).unwrap(), "a b");
        assert_eq!(narrow(None, &["a", ""]).unwrap(), "");
        assert_eq!(narrow(None, &[]).unwrap(), "");
    }

    #[test]
    fn malformed_scope_is_refused() {
        for bad in ["a  b", " a", "a ", "a\"b", "a\\b", "a\tb", "é"] {
            assert_eq!(
                narrow(Some(bad), &["a b"]).unwrap_err().code(),
                OAuthErrorCode::InvalidScope,
                "{bad:?}"
            );
            assert!(!is_valid_scope(bad), "{bad:?}");
        }
        assert!(is_valid_scope("orders.read urn:x:y!#[]~"));
    }
}
