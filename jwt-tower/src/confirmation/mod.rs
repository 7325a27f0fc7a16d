//! Sender-constrained tokens: what a token's `cnf` (confirmation) claim binds it to,
//! and what the request shows of the sender. A certificate-bound token (RFC 8705,
//! `cnf["x5t#S256"]`) is accepted only with the [`ClientCertificate`] it names.

mod certificate;

pub use certificate::{CertificateError, ClientCertificate};
