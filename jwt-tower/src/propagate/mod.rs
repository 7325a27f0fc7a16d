//! Identity propagation: the caller's identity travels on to the services it calls.
//!
//! Two halves, framework-agnostic:
//! - **In scope.** While the inner service of a [`JwtLayer`](crate::JwtLayer) handles a
//!   verified request, its [`Identity`] (subject, scopes, raw token…) is in scope for the
//!   request's future, a tokio task-local: [`current`] reads it from anywhere in the
//!   handler, with nothing passed along.
//! - **On the way out.** [`PropagateLayer`] is a client-side tower layer for an `http`
//!   client service (a tonic `Channel`, a hyper client), one per downstream: it sets
//!   `authorization: Bearer …` on each outgoing request to the destinations it is bound
//!   to, and refuses requests to any other. The token is the caller's
//!   ([`forward`](PropagateLayer::forward)), with the service's own token from a
//!   [`ServiceTokenSource`] outside a caller's scope only if chosen
//!   ([`or_service_token`](PropagateBuilder::or_service_token)), or always the service's
//!   ([`service_token`](PropagateLayer::service_token)), or the caller's exchanged for one
//!   meant for the next service (RFC 8693, [`exchange`](PropagateLayer::exchange), feature
//!   `remote`: the next hop sees an `act` naming this service). A call with no credential fails
//!   with [`PropagateError::NoCredentials`]: it is never sent unauthenticated, nor with
//!   the service's token in place of a missing caller's unless configured so.
//! - **DPoP.** A [`ServiceTokenSource`] can hold the service's own DPoP key
//!   ([`ServiceTokenSource::dpop`]): its tokens are sent as `Authorization: DPoP …` with
//!   a fresh proof per request, and server nonces are remembered per origin (see
//!   [`PropagateLayer`]). [`ServiceTokenSource::client_credentials`] (feature `remote`)
//!   requests the service's token from an OAuth token endpoint, with a proof when it
//!   holds a key. A caller's DPoP-bound token is never forwarded.
//!
//! ```
//! use jwt_tower::propagate::{self, PropagateLayer, ServiceToken, ServiceTokenSource};
//! use tower_layer::Layer;
//!
//! // A client for the orders service: the caller's token when there is one, else
//! // (explicitly) a service token obtained, and renewed before it expires, by a callback.
//! let source = ServiceTokenSource::from_fn(|| async {
//!     Ok::<_, std::io::Error>(ServiceToken::new("a-service-token"))
//! });
//! let layer = PropagateLayer::forward()
//!     .or_service_token(source)
//!     .to(["https://orders.internal"])?;
//!
//! // Any `http` client service; here a stand-in that echoes what it was sent.
//! let client = layer.layer(tower::service_fn(|req: http::Request<()>| async move {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(req.headers().clone()))
//! }));
//! # let _ = client;
//! // Outside any request: no identity in scope.
//! assert!(propagate::current().is_none());
//! # Ok::<(), propagate::InvalidOrigin>(())
//! ```
//!
//! # Limits
//! A task-local does not follow `tokio::spawn`: to keep the identity in a spawned task,
//! wrap its future with [`scope`]`(`[`current`]`()?, future)`. Without it, a forwarding
//! client called there fails with [`PropagateError::NoCredentials`]. For streaming responses,
//! only the handler's future runs in scope, not the body streamed after it returns.

pub mod builder;
mod client;
#[cfg(feature = "remote")]
mod client_credentials;
mod destination;
mod dpop;
#[cfg(feature = "remote")]
mod exchange;
mod response;
mod source;

use std::future::Future;

pub use client::{
    BoxError, PropagateBuilder, PropagateError, PropagateFuture, PropagateLayer, PropagateService,
};
#[cfg(feature = "remote")]
#[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
pub use client_credentials::{ClientCredentials, InvalidTokenUrl};
pub use destination::{IntoOrigin, InvalidOrigin, Origin};
#[cfg(feature = "remote")]
#[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
pub use exchange::{ExchangeError, TokenExchange};
pub use response::ResponseHead;
pub use source::{ServiceToken, ServiceTokenError, ServiceTokenSource};

use crate::Identity;

tokio::task_local! {
    static CURRENT: Identity;
}

/// A future running with an identity in scope (see [`scope`]).
pub type Scoped<F> = tokio::task::futures::TaskLocalFuture<Identity, F>;

/// The identity of the request being handled, if this code runs in its scope (inside the
/// inner service of a [`JwtLayer`](crate::JwtLayer), or in a [`scope`]).
///
/// ```
/// # use jwt_tower::propagate;
/// assert!(propagate::current().is_none());
/// ```
#[must_use]
pub fn current() -> Option<Identity> {
    CURRENT.try_with(Identity::clone).ok()
}

/// Calls `f` with the identity in scope, if any, without cloning it.
///
/// ```
/// # use jwt_tower::propagate;
/// let subject = propagate::with_current(|id| id.and_then(|id| id.subject().map(str::to_owned)));
/// assert_eq!(subject, None);
/// ```
pub fn with_current<R>(f: impl FnOnce(Option<&Identity>) -> R) -> R {
    let mut f = Some(f);
    match CURRENT.try_with(|identity| (f.take().expect("called once"))(Some(identity))) {
        Ok(result) => result,
        Err(_) => (f.take().expect("called once"))(None),
    }
}

/// Runs `future` with `identity` in scope: what the layer does for the inner service, and
/// how to carry the identity into a spawned task.
///
/// ```
/// # use jwt_tower::{propagate, Algorithm, RegisteredClaims, Verifier, VerificationKey};
/// # let secret = [7u8; 32];
/// # let verifier = Verifier::<RegisteredClaims>::builder(VerificationKey::hmac(Algorithm::HS256, secret)?)
/// #     .algorithms([Algorithm::HS256]).build()?;
/// # #[cfg(feature = "rust_crypto")] // jsonwebtoken then has both backends: pick one
/// # let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
/// # let token = jsonwebtoken::encode(&jsonwebtoken::Header::default(),
/// #     &serde_json::json!({"sub": "alice", "exp": 4_000_000_000u64}),
/// #     &jsonwebtoken::EncodingKey::from_secret(&secret).unwrap()).unwrap();
/// let identity = verifier.verify(&token).unwrap().identity();
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let sub = propagate::scope(identity, async {
///     propagate::current().and_then(|id| id.subject().map(str::to_owned))
/// })
/// .await;
/// assert_eq!(sub.as_deref(), Some("alice"));
/// # });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn scope<F: Future>(identity: Identity, future: F) -> Scoped<F> {
    CURRENT.scope(identity, future)
}

/// Runs the synchronous `f` with `identity` in scope.
pub fn sync_scope<R>(identity: Identity, f: impl FnOnce() -> R) -> R {
    CURRENT.sync_scope(identity, f)
}
