//! Propagation for tonic clients: [`forward_caller`] and [`service_token`] start the core
//! [`PropagateLayer`] with its errors shaped as `tonic::Status`.
//!
//! A tonic `Channel` sends every call to its `Endpoint`'s origin, whatever the request
//! says, so the layer is bound to that origin with
//! [`to_fixed_origin`](PropagateBuilder::to_fixed_origin)`(endpoint.uri())`, one layer
//! per channel: what keeps the token from other services is that each channel's layer
//! holds the token only for the endpoint that channel reaches. A call whose request names
//! another origin (a client built `with_origin` something else) fails with
//! `FAILED_PRECONDITION`: the channel would have sent it to its own endpoint anyway, so
//! this reports a client misconfigured, it does not stop a leak. A channel balanced over
//! several endpoints (`Channel::balance_list`) has no one origin: the layer cannot tell
//! them apart, so bind it to one of them only if every endpoint may receive the token.
//!
//! DPoP: with a service token source holding the service's key
//! ([`ServiceTokenSource::dpop`]), each call carries `authorization: DPoP …` and a fresh
//! proof in the `dpop` metadata, its `htu` the endpoint's origin plus the method path
//! (`http://orders:50051/orders.v1.Orders/Get`). A gRPC call's body is a stream and is
//! not sent twice: a call refused for want of a server nonce fails, and the next call
//! carries the nonce the refusal's `dpop-nonce` header sent.

use jwt_tower::propagate::builder::{CallerTokenOnly, CredentialsChosen};
use jwt_tower::propagate::{
    BoxError, PropagateBuilder, PropagateError, PropagateLayer, ServiceTokenSource,
};
use tonic::{Code, Status};

/// The status a tonic client reports when [`PropagateLayer`] did not send a call:
/// `UNAUTHENTICATED` when there was no credential to send, `UNAVAILABLE` when the token
/// source failed or a token exchange failed (refused, its OAuth error in the message,
/// or the endpoint unreachable: either way this service could not get a credential for
/// the call, as when a service token cannot be had), `FAILED_PRECONDITION` when the call
/// was not for the layer's destination (a configuration error of the client).
///
/// ```
/// use jwt_tower::propagate::PropagateError;
/// let status = jwt_tonic::propagate::status(&PropagateError::NoCredentials);
/// assert_eq!(status.code(), tonic::Code::Unauthenticated);
/// ```
#[must_use]
pub fn status(error: &PropagateError) -> Status {
    let code = match error {
        PropagateError::ServiceToken(_) => Code::Unavailable,
        #[cfg(feature = "remote")]
        PropagateError::Exchange(_) => Code::Unavailable,
        PropagateError::DestinationNotAllowed { .. } | PropagateError::NoDestination => {
            Code::FailedPrecondition
        }
        _ => Code::Unauthenticated,
    };
    Status::new(code, error.to_string())
}

fn boxed_status(error: PropagateError) -> BoxError {
    Box::new(status(&error))
}

/// A client layer forwarding the caller's token on every call made while handling a
/// verified request, for a tonic `Channel`, once bound to the channel's origin. Outside
/// such a request, calls fail with `UNAUTHENTICATED` and are not sent, unless a service
/// token is chosen for them with
/// [`or_service_token`](PropagateBuilder::or_service_token).
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use tower_layer::Layer;
/// let endpoint = tonic::transport::Endpoint::from_static("http://orders:50051");
/// let channel = jwt_tonic::propagate::forward_caller()
///     .to_fixed_origin(endpoint.uri())?
///     .layer(endpoint.connect_lazy());
/// // let client = OrdersClient::new(channel);  // generated code
/// # let _ = channel; Ok(()) }
/// ```
pub fn forward_caller() -> PropagateBuilder<CallerTokenOnly> {
    PropagateLayer::forward().map_error(boxed_status)
}

/// A client layer sending the service's own token from `source` on every call, for a
/// tonic `Channel`, once bound to the channel's origin (as [`forward_caller`]).
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use jwt_tower::propagate::{ServiceToken, ServiceTokenSource};
/// use tower_layer::Layer;
///
/// // The service's own token, e.g. from an OAuth client-credentials grant; cached and
/// // renewed before it expires.
/// let source = ServiceTokenSource::from_fn(|| async {
///     Ok::<_, std::io::Error>(ServiceToken::new("a-service-token"))
/// });
/// let endpoint = tonic::transport::Endpoint::from_static("http://billing:50051");
/// let channel = jwt_tonic::propagate::service_token(source)
///     .to_fixed_origin(endpoint.uri())?
///     .layer(endpoint.connect_lazy());
/// // let client = BillingClient::new(channel);  // generated code
/// # let _ = channel; Ok(()) }
/// ```
pub fn service_token(source: ServiceTokenSource) -> PropagateBuilder<CredentialsChosen> {
    PropagateLayer::service_token(source).map_error(boxed_status)
}

/// A client layer sending, on every call made while handling a verified request, the
/// caller's token exchanged (RFC 8693) for one meant for the channel's service (see
/// [`TokenExchange`](jwt_tower::propagate::TokenExchange)), once bound to the channel's
/// origin (as [`forward_caller`]). Outside such a request, calls fail with
/// `UNAUTHENTICATED`; a refused exchange, or an unreachable token endpoint, with
/// `UNAVAILABLE` (the server's OAuth error in the message); none is sent.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// use jwt_tower::propagate::TokenExchange;
/// use tower_layer::Layer;
///
/// let exchange = TokenExchange::new("https://auth.internal/token", "orders", "secret")
///     .audience("billing");
/// let endpoint = tonic::transport::Endpoint::from_static("http://billing:50051");
/// let channel = jwt_tonic::propagate::exchange(exchange)?
///     .to_fixed_origin(endpoint.uri())?
///     .layer(endpoint.connect_lazy());
/// // let client = BillingClient::new(channel);  // generated code
/// # let _ = channel; Ok(()) }
/// ```
///
/// # Errors
/// If the token URL is not an absolute `http`/`https` URL, or the default HTTP client
/// cannot be built.
#[cfg(feature = "remote")]
pub fn exchange(
    exchange: jwt_tower::propagate::TokenExchange,
) -> Result<PropagateBuilder<CredentialsChosen>, BoxError> {
    Ok(PropagateLayer::exchange(exchange)?.map_error(boxed_status))
}
