//! Propagation for tonic clients: [`forward_caller`] and [`propagation`] build the core
//! [`PropagateLayer`] with its errors shaped as `tonic::Status`.

use jwt_tower::propagate::{BoxError, PropagateError, PropagateLayer};
use tonic::{Code, Status};

/// The status a tonic client reports when [`PropagateLayer`] did not send a call:
/// `UNAUTHENTICATED` when there was no credential to send, `UNAVAILABLE` when the token
/// source failed.
///
/// ```
/// use jwt_tower::propagate::PropagateError;
/// let status = jwt_tonic::propagate::status(&PropagateError::NoCredentials);
/// assert_eq!(status.code(), tonic::Code::Unauthenticated);
/// ```
#[must_use]
pub fn status(error: &PropagateError) -> Status {
    let code = match error {
        PropagateError::TokenSource(_) => Code::Unavailable,
        _ => Code::Unauthenticated,
    };
    Status::new(code, error.to_string())
}

fn boxed_status(error: PropagateError) -> BoxError {
    Box::new(status(&error))
}

/// A [`PropagateLayer`] with no credential yet, whose errors are `tonic::Status`es: add
/// [`forward`](PropagateLayer::forward) and
/// [`service_token`](PropagateLayer::service_token) in the order to try them.
pub fn propagation() -> PropagateLayer {
    PropagateLayer::new().map_error(boxed_status)
}

/// A client layer forwarding the caller's token on every call made while handling a
/// verified request, for a tonic `Channel`. Outside such a request, calls fail with
/// `UNAUTHENTICATED` and are not sent.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use tower_layer::Layer;
/// let channel = tonic::transport::Channel::from_static("http://orders:50051").connect_lazy();
/// let channel = jwt_tonic::propagate::forward_caller().layer(channel);
/// // let client = OrdersClient::new(channel);  // generated code
/// # let _ = channel; Ok(()) }
/// ```
pub fn forward_caller() -> PropagateLayer {
    propagation().forward()
}
