//! The issuing side: [`SigningKey`]s, and a [`TokenIssuer`] that signs access tokens,
//! rotates keys and publishes its JWKS. Needs the `aws_lc_rs` backend.

mod issuer;
mod signing_key;

pub(crate) use issuer::random_id;
pub use issuer::{IssueError, IssuedToken, TokenIssuer, TokenIssuerBuilder};
pub use signing_key::SigningKey;
