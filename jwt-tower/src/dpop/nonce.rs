//! Server nonces (RFC 9449 §8, §9) that need no shared state but one secret: a nonce is
//! the number of the time window it was issued in and a MAC of that number under the
//! secret. Every instance holding the secret (one [`Store`](crate::store::Store) shares
//! it, see [`NonceSecret::from_store`]) accepts a nonce any of them issued, with no
//! sticky sessions; a made-up nonce fails the MAC.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

use crate::store::{Store, StoreError};

/// How long one nonce window lasts, by default: a nonce is accepted in the window it was
/// issued in and the next, so for five to ten minutes.
pub const DEFAULT_NONCE_WINDOW_SECS: i64 = 300;

/// The name the nonce secret is kept under in a shared store.
pub const NONCE_SECRET_NAME: &str = "dpop-nonce";

/// A window number (8 bytes) and its HMAC-SHA256 (32 bytes).
const NONCE_LEN: usize = 8 + 32;

/// The secret DPoP nonces are derived from. Cheap to clone; never printed.
#[derive(Clone)]
pub struct NonceSecret {
    key: Arc<Hmac<Sha256>>,
}

impl fmt::Debug for NonceSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NonceSecret(..)")
    }
}

impl NonceSecret {
    /// A secret from bytes (at least 32 of them are wise: this is an HMAC key).
    ///
    /// ```
    /// let secret = jwt_tower::dpop::NonceSecret::new([7u8; 32]);
    /// # let _ = secret;
    /// ```
    #[must_use]
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        Self {
            key: Arc::new(
                Hmac::<Sha256>::new_from_slice(secret.as_ref()).expect("HMAC takes any key length"),
            ),
        }
    }

    /// The secret every instance sharing `store` uses: `candidate` (fresh random bytes
    /// from the caller) if this is the first instance to ask, else the one the first
    /// instance offered.
    ///
    /// # Errors
    /// The store's, when it cannot be reached.
    pub async fn from_store(store: &dyn Store, candidate: &[u8]) -> Result<Self, StoreError> {
        let offered = URL_SAFE_NO_PAD.encode(candidate);
        let kept = store.shared_secret(NONCE_SECRET_NAME, &offered).await?;
        Ok(Self::new(kept.as_bytes()))
    }

    fn mac(&self, window: u64) -> [u8; 32] {
        let mut mac = (*self.key).clone();
        mac.update(&window.to_be_bytes());
        mac.finalize().into_bytes().into()
    }

    fn verify(&self, window: u64, tag: &[u8]) -> bool {
        let mut mac = (*self.key).clone();
        mac.update(&window.to_be_bytes());
        mac.verify_slice(tag).is_ok()
    }
}

/// Issues and checks nonces: one secret, one window length.
#[derive(Debug, Clone)]
pub(crate) struct Nonces {
    secret: NonceSecret,
    window_secs: i64,
}

/// What a presented nonce is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NonceVerdict {
    /// Issued in the current window.
    Current,
    /// Issued in the previous window: accepted, and a fresh one is due.
    Previous,
    /// Made up, older, or from the future.
    Invalid,
}

impl Nonces {
    pub(crate) fn new(secret: NonceSecret, window_secs: i64) -> Self {
        Self {
            secret,
            window_secs: window_secs.max(1),
        }
    }

    fn window(&self, now: i64) -> u64 {
        u64::try_from(now.max(0) / self.window_secs).unwrap_or(0)
    }

    /// The nonce of the window `now` falls in.
    pub(crate) fn issue(&self, now: i64) -> String {
        let window = self.window(now);
        let mut bytes = [0u8; NONCE_LEN];
        bytes[..8].copy_from_slice(&window.to_be_bytes());
        bytes[8..].copy_from_slice(&self.secret.mac(window));
        URL_SAFE_NO_PAD.encode(bytes)
    }

    pub(crate) fn check(&self, nonce: &str, now: i64) -> NonceVerdict {
        let mut bytes = [0u8; NONCE_LEN];
        match URL_SAFE_NO_PAD.decode_slice(nonce, &mut bytes) {
            Ok(NONCE_LEN) => {}
            _ => return NonceVerdict::Invalid,
        }
        let (window, tag) = bytes.split_at(8);
        let window = u64::from_be_bytes(window.try_into().unwrap_or_default());
        let current = self.window(now);
        let verdict = if window == current {
            NonceVerdict::Current
        } else if current.checked_sub(1) == Some(window) {
            NonceVerdict::Previous
        } else {
            return NonceVerdict::Invalid;
        };
        if self.secret.verify(window, tag) {
            verdict
        } else {
            NonceVerdict::Invalid
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nonces(secret: &[u8]) -> Nonces {
        Nonces::new(NonceSecret::new(secret), 300)
    }

    #[test]
    fn a_nonce_is_accepted_in_its_window_and_the_next() {
        let n = nonces(b"secret-secret-secret-secret-1234");
        let t = 1_800_000_000;
        let nonce = n.issue(t);
        assert_eq!(n.check(&nonce, t), NonceVerdict::Current);
        assert_eq!(n.check(&nonce, t + 300), NonceVerdict::Previous);
        assert_eq!(n.check(&nonce, t + 600), NonceVerdict::Invalid);
        assert_eq!(n.check(&nonce, t - 300), NonceVerdict::Invalid);
    }

    #[test]
    fn another_secrets_or_a_made_up_nonce_is_refused() {
        let t = 1_800_000_000;
        let ours = nonces(b"secret-secret-secret-secret-1234");
        let theirs = nonces(b"another-secret-another-secret-12");
        assert_eq!(ours.check(&theirs.issue(t), t), NonceVerdict::Invalid);
        // Same secret, another instance: accepted.
        assert_eq!(
            nonces(b"secret-secret-secret-secret-1234").check(&ours.issue(t), t),
            NonceVerdict::Current
        );
        let mut forged = URL_SAFE_NO_PAD.decode(ours.issue(t)).unwrap();
        forged[20] ^= 1;
        assert_eq!(
            ours.check(&URL_SAFE_NO_PAD.encode(&forged), t),
            NonceVerdict::Invalid
        );
        for junk in ["", "abc", "!!!!", &"A".repeat(54), &"A".repeat(4000)] {
            assert_eq!(ours.check(junk, t), NonceVerdict::Invalid, "{junk}");
        }
    }

    #[tokio::test]
    async fn every_instance_sharing_a_store_shares_the_secret() {
        let store = crate::store::MemoryStore::new();
        let a = NonceSecret::from_store(&store, &[1; 32]).await.unwrap();
        let b = NonceSecret::from_store(&store, &[2; 32]).await.unwrap();
        let t = 1_800_000_000;
        let nonce = Nonces::new(a, 300).issue(t);
        assert_eq!(Nonces::new(b, 300).check(&nonce, t), NonceVerdict::Current);
    }
}
