//! The states of a [`PropagateBuilder`](super::PropagateBuilder), which say what can
//! still be chosen before the layer is bound to its destinations.

/// After [`PropagateLayer::forward`](super::PropagateLayer::forward): the caller's token
/// only, and a service-token fallback can still be chosen with
/// [`or_service_token`](super::PropagateBuilder::or_service_token).
#[derive(Clone, Copy, Debug)]
pub struct CallerTokenOnly(pub(super) ());

/// The credentials are settled (a service token, always or as the fallback): only the
/// destinations remain to be chosen.
#[derive(Clone, Copy, Debug)]
pub struct CredentialsChosen(pub(super) ());
