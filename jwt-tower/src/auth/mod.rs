//! The tower middleware: [`JwtLayer`] wraps a service in a [`JwtService`], which
//! extracts, verifies and authorizes each request before the inner service sees it.
//!
//! A request that passes carries its [`VerifiedToken`](crate::VerifiedToken) in its
//! extensions; one that fails gets the [`OnRejection`](crate::reject::OnRejection)
//! response and never reaches the inner service.

mod future;
mod layer;
mod service;

pub use future::ResponseFuture;
pub use layer::JwtLayer;
pub use service::JwtService;

/// Whether a request without a token may pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A token is required (the default): no token is 401.
    Required,
    /// No token passes through without identity; a token that is present must be valid.
    Optional,
}
