//! Verification: the HTTP-free heart. [`Verifier`] turns token text into a
//! [`VerifiedToken`] or an [`AuthError`](crate::AuthError).

mod actor;
pub(crate) mod base64url;
mod builder;
mod cache;
mod checks;
mod claims;
mod confirmation;
mod decode;
mod header;
#[cfg(feature = "remote")]
mod introspected;
mod pipeline;
mod routing;
mod scan;
pub(crate) mod strict;
mod verified;
mod verifier;

pub use actor::{Actor, MAX_ACTOR_DEPTH};
pub use builder::{DEFAULT_LEEWAY, DEFAULT_MAX_TOKEN_LEN, VerifierBuilder};
pub use claims::{Audience, RegisteredClaims};
pub use confirmation::Confirmation;
pub use header::TokenHeader;
pub use strict::MAX_JSON_DEPTH;
pub use verified::{Identity, VerifiedToken};
pub use verifier::Verifier;
