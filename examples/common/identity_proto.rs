//! The generated code of `examples/proto/identity/v1/identity.proto` (see `build.rs`).
#![allow(dead_code, missing_docs, clippy::all, clippy::pedantic)]

tonic::include_proto!("identity.v1");
