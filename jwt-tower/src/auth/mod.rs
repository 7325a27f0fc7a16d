//! The tower middleware: [`JwtLayer`] wraps a service in a [`JwtService`], which has its
//! [`Authenticator`] extract, verify and authorize each request before the inner service
//! sees it.
//!
//! A request that passes carries its [`VerifiedToken`](crate::VerifiedToken) and
//! [`Identity`](crate::Identity) in its extensions, and the layer's [`Refusal`] for guards
//! further in; one that fails gets the [`OnRejection`](crate::reject::OnRejection)
//! response and never reaches the inner service.

mod authenticator;
mod bound;
mod future;
mod layer;
mod refusal;
mod request;
mod service;

pub use authenticator::Authenticator;
pub use bound::{Admission, PendingProof};
pub use future::ResponseFuture;
pub use layer::JwtLayer;
pub use refusal::Refusal;
pub use request::RequestView;
pub use service::JwtService;
