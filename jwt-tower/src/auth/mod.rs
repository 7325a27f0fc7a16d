//! The tower middleware: [`JwtLayer`] wraps a service in a [`JwtService`], which has its
//! [`Authenticator`] extract, verify and authorize each request before the inner service
//! sees it.
//!
//! A request that passes carries its [`VerifiedToken`](crate::VerifiedToken) and
//! [`Identity`](crate::Identity) in its extensions, and the layer's [`Refusal`] for guards
//! further in; one that fails gets the [`OnRejection`](crate::reject::OnRejection)
//! response and never reaches the inner service.

mod authenticator;
mod future;
mod layer;
mod refusal;
mod service;
pub(crate) mod unread_body;

pub use authenticator::Authenticator;
pub use future::ResponseFuture;
pub use layer::JwtLayer;
pub use refusal::Refusal;
pub use service::JwtService;
