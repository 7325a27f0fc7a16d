//! Keys: parsed once ([`VerificationKey`]), grouped immutably ([`KeySet`]), and held live
//! behind a lock-free, hot-swappable handle ([`Keys`]).

mod handle;
pub(crate) mod jwk;
mod key;
mod set;
mod source;

pub use handle::Keys;
pub use jwk::SkippedKey;
pub use key::VerificationKey;
pub use set::KeySet;
pub(crate) use source::KeySource;
pub use source::{KeysWait, SourceStats};
