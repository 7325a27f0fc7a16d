//! The building blocks of an OAuth 2.1 authorization server, framework-agnostic: what
//! `examples/auth_server.rs` serves at `/authorize`, `/token`, `/register`, `/introspect`
//! and `/revoke`.
//!
//! | job | file |
//! |---|---|
//! | registered clients, secrets, redirect-URI rules, RFC 7591 registration | `client.rs` |
//! | PKCE `S256` (RFC 7636) | `pkce.rs` |
//! | authorization codes: what one is bound to, and the checks at redemption | `code.rs` |
//! | issuing codes into the [`Store`](crate::store::Store), redeeming each once | `codes.rs` |
//! | scope narrowing (RFC 6749 §3.3) | `scope.rs` |
//! | client authentication at the token endpoint (RFC 6749 §2.3.1) | `client_auth.rs` |
//! | token exchange (RFC 8693): who may exchange for which audience, and the exchanged token's `sub`, `aud`, `scope`, `act` and latest `exp` | `exchange.rs` |
//! | opaque access tokens: random, their claims kept in the store under their hash | `opaque.rs` |
//! | the redirect back to the client, with `code` or `error`, `state`, `iss` | `response.rs` |
//! | the error codes, their status and JSON body | `error.rs` |
//!
//! Clients and codes live in the store, so every instance of a fleet sharing a Redis
//! store accepts a code another instance issued, exactly once.

mod client;
pub mod client_auth;
mod code;
#[cfg(feature = "aws_lc_rs")]
mod codes;
mod error;
mod exchange;
#[cfg(feature = "aws_lc_rs")]
mod opaque;
pub mod pkce;
mod response;
pub mod scope;

pub use client::{
    AUTHORIZATION_CODE, CLIENT_CREDENTIALS, Client, ClientConfig, ClientRegistration,
    REFRESH_TOKEN, hash_secret, is_allowed_redirect_uri,
};
pub use client_auth::ClientCredentials;
#[cfg(feature = "remote")]
pub(crate) use client_auth::client_secret_basic;
pub use code::{AuthorizationCode, DEFAULT_CODE_LIFETIME};
#[cfg(feature = "aws_lc_rs")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws_lc_rs")))]
pub use codes::{AuthorizationCodes, new_client_id};
pub use error::{OAuthError, OAuthErrorCode};
pub use exchange::{
    ACCESS_TOKEN_TYPE, CheckedExchange, ExchangeGrant, ExchangeRequest, JWT_TOKEN_TYPE,
    TOKEN_EXCHANGE,
};
#[cfg(feature = "aws_lc_rs")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws_lc_rs")))]
pub use opaque::{OPAQUE_TOKEN_LEN, OpaqueAccessTokens};
pub use response::authorization_response_url;
