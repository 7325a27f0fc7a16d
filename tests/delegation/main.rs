//! Delegation end to end, over real sockets, with `examples/auth_server` exchanging the
//! tokens (RFC 8693): a user's token goes two hops down, each hop's token exchanged by
//! the hop before it for the next one's audience, `sub` kept, scope narrowed where asked,
//! and the `act` chain nested (the current actor outermost).
//!
//! - HTTP: services written here (axum, `JwtLayer`, `PropagateLayer::exchange` over
//!   reqwest) in front of `examples/resource_server`, whose `/me` shows the chain.
//! - gRPC: `examples/gateway` → `examples/grpc_service` → `examples/grpc_service`, each
//!   with `EXCHANGE_*`, and a tonic client of our own exchanging through jwt-tonic.
//! - A hop whose client may not reach the next audience is refused by the token endpoint:
//!   502 (or `UNAVAILABLE`) there, and nothing reaches the next service.
//! - The actor policies (`allow_actors`, `require_actor`, `max_actor_depth`): 403
//!   `insufficient_scope` over HTTP, `PERMISSION_DENIED` over gRPC.

#[path = "../support/mod.rs"]
mod support;

#[path = "../../examples/common/identity_proto.rs"]
mod identity_proto;

mod config;
mod grpc;
mod http;
mod setup;
