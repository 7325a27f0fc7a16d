//! Opaque access tokens, checked by the authorization server's introspection endpoint
//! (RFC 7662), as a source of verified tokens beside (or instead of) signature keys.
//!
//! An [`Introspector`] says where the endpoint is, how this resource server
//! authenticates to it (`client_secret_basic`), and how long answers are kept. Handed to
//! a verifier ([`VerifierBuilder::introspection`](crate::VerifierBuilder::introspection)
//! beside keys, or [`Verifier::introspecting`](crate::Verifier::introspecting) alone),
//! every token that is not JWT-shaped (neither two dots nor, a JWE, four) is
//! introspected, and with introspection alone every token is. The endpoint's claims then go through the same
//! checks as a JWT's (time, issuer, audience, required claims, revocations, custom
//! checks), and the same [`VerifiedToken`](crate::VerifiedToken) and
//! [`Identity`](crate::Identity) come out, with no header.
//!
//! What keeps it fast and fail-closed:
//! - answers are cached per verifier, keyed by the SHA-256 of the token, bounded in
//!   entries: an active token for the configured TTL (default 60 s) and never past its
//!   `exp`, an inactive one (`inactive_token`, 401) for the negative TTL (default 5 s),
//!   a failure (`introspection_unavailable`, 503) for a second;
//! - a hit is answered synchronously, as a cached JWT is: a hash, a lookup, the time
//!   checks, revocations and custom checks;
//! - a miss is refused with `introspection_unavailable`, and
//!   [`Authenticator::wait_for_keys`](crate::auth::Authenticator::wait_for_keys) gives
//!   the wait that introspects it (one request in flight per token, however many
//!   requests carry it), after which the request is authenticated again: the layer, the
//!   axum extractors and guards and the tonic layer do so by themselves;
//! - when the endpoint is down, answers too slowly, answers an error status or
//!   something that is not an RFC 7662 answer, cached tokens keep being served and new
//!   ones are refused with 503;
//! - at most [`max_in_flight`](IntrospectorBuilder::max_in_flight) tokens are being
//!   introspected at once (default 256): past it a new token is refused with 503, so a
//!   flood of made-up tokens is not relayed to the authorization server;
//! - an active answer for a token that is not an access token (a `token_type` other
//!   than `Bearer` or `DPoP`: the authorization server's refresh tokens) is refused
//!   (`invalid_type`, 401);
//! - a token bound to a key or certificate (`cnf` in the answer) still needs its DPoP
//!   proof or certificate, as a JWT does.

mod cache;
mod introspector;
mod response;

pub(crate) use cache::{Answer, IntrospectionCache, after, digest, now_ms};
pub use introspector::{
    DEFAULT_CACHE_TTL, DEFAULT_NEGATIVE_TTL, Introspector, IntrospectorBuilder,
};
pub(crate) use introspector::{Failure, Settings};
pub(crate) use response::Reading;
