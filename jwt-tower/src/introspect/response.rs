//! Reading an introspection answer (RFC 7662 §2.2): a JSON object whose `active` is a
//! boolean; when it is `true`, every other member is a claim of the token, and its
//! `token_type`, when present, must name an access token's type (`Bearer`, `DPoP`): an
//! authorization server answers for its refresh tokens too, and a refresh token is no
//! credential for a resource.

use serde_json::{Map, Value};

use crate::verify::strict::{self, StrictValue};

/// What the endpoint said about a token.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reading {
    /// `"active": false`: whatever else the answer holds is not about a usable token.
    Inactive,
    /// `"active": true`, and the token's claims as a JSON object (the answer less
    /// `active`), to be read and checked as a JWT's payload is.
    Active(String),
    /// `"active": true` for a token that is not an access token (a refresh token: its
    /// `token_type` is neither `Bearer` nor `DPoP`).
    NotAnAccessToken,
}

/// Reads `body`. It must be UTF-8 JSON read as strictly as a token's claims (an object,
/// no member name twice in any object, no deep nesting), so that the claims have one
/// meaning for us and for the claims type; `active` must be a boolean.
///
/// # Errors
/// A fixed description of what is wrong, for the logs: never the body's content.
pub(crate) fn read(body: &[u8]) -> Result<Reading, &'static str> {
    let text = std::str::from_utf8(body).map_err(|_| "the answer is not UTF-8")?;
    strict::read_object(text, StrictValue { depth: 0 })
        .map_err(|_| "the answer is not a JSON object (read strictly)")?;
    let mut members: Map<String, Value> =
        serde_json::from_str(text).map_err(|_| "the answer is not a JSON object")?;
    match members.remove("active") {
        Some(Value::Bool(true)) if !is_access_token(members.get("token_type")) => {
            Ok(Reading::NotAnAccessToken)
        }
        Some(Value::Bool(true)) => serde_json::to_string(&members)
            .map(Reading::Active)
            .map_err(|_| "the answer's claims cannot be written back as JSON"),
        Some(Value::Bool(false)) => Ok(Reading::Inactive),
        Some(_) => Err("the answer's `active` is not a boolean"),
        None => Err("the answer has no `active` member"),
    }
}

/// Whether a `token_type` says access token: absent, or `Bearer` or `DPoP` (RFC 6750,
/// RFC 9449; case-insensitive, as RFC 6749 §5.1 has it).
fn is_access_token(token_type: Option<&Value>) -> bool {
    match token_type {
        None => true,
        Some(Value::String(t)) => {
            t.eq_ignore_ascii_case("bearer") || t.eq_ignore_ascii_case("dpop")
        }
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::{Reading, read};

    #[test]
    fn only_access_tokens_are_active_here() {
        for token_type in ["Bearer", "bearer", "DPoP"] {
            let body = format!(r#"{{"active":true,"token_type":"{token_type}"}}"#);
            assert!(matches!(read(body.as_bytes()), Ok(Reading::Active(_))));
        }
        for body in [
            &br#"{"active":true,"token_type":"refresh_token"}"#[..],
            br#"{"active":true,"token_type":"Refresh"}"#,
            br#"{"active":true,"token_type":7}"#,
        ] {
            assert_eq!(read(body), Ok(Reading::NotAnAccessToken));
        }
    }

    #[test]
    fn active_must_be_the_boolean_true() {
        assert_eq!(read(br#"{"active":false}"#), Ok(Reading::Inactive));
        assert_eq!(
            read(br#"{"active":false,"sub":"alice"}"#),
            Ok(Reading::Inactive)
        );
        let Ok(Reading::Active(claims)) = read(br#"{"active":true,"sub":"alice","exp":5}"#) else {
            panic!("active")
        };
        let claims: serde_json::Value = serde_json::from_str(&claims).unwrap();
        assert_eq!(claims, serde_json::json!({"sub": "alice", "exp": 5}));
        for bad in [
            &br#"{"active":"true"}"#[..],
            br#"{"active":1}"#,
            br#"{"sub":"alice"}"#,
            br#"{"active":null}"#,
            br#"[{"active":true}]"#,
            br#"{"active":true,"active":true}"#,
            br#"{"active":false,"active":true}"#,
            br#"{"active":true,"cnf":{"jkt":"a","jkt":"b"}}"#,
            br#"{"active":true} trailing"#,
            b"{\"active\":true,\"sub\":\"\xff\"}",
            b"",
            b"<html>",
        ] {
            assert!(read(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
