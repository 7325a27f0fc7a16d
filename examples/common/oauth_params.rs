//! The parameters of an OAuth request (the `/authorize` query, the `/token` form), read
//! by the rules of RFC 6749 §3.1: a parameter sent twice is an error, one sent without a
//! value counts as absent.
#![allow(dead_code)]

use std::collections::HashMap;

use jwt_tower::oauth::OAuthError;

/// Parameters by name, each at most once.
#[derive(Debug, Default)]
pub struct Params(HashMap<String, String>);

impl Params {
    /// From the decoded pairs of a query string or form.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Self, OAuthError> {
        let mut params = HashMap::with_capacity(pairs.len());
        for (name, value) in pairs {
            if params.insert(name.clone(), value).is_some() {
                return Err(OAuthError::invalid_request(format!(
                    "the parameter {name} is repeated"
                )));
            }
        }
        Ok(Self(params))
    }

    /// The value of `name`; `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The value of `name`, which the request must carry.
    pub fn required(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("{name} is required")))
    }
}
