//! Verification: the HTTP-free heart. [`Verifier`] turns token text into a
//! [`VerifiedToken`] or an [`AuthError`](crate::AuthError).

mod base64url;
mod claims;
mod header;
mod scan;
mod verified;
mod verifier;

pub use claims::{Audience, RegisteredClaims};
pub use header::TokenHeader;
pub use verified::{Identity, VerifiedToken};
pub use verifier::{DEFAULT_LEEWAY, DEFAULT_MAX_TOKEN_LEN, Verifier, VerifierBuilder};
