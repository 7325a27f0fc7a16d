//! The in-memory store: one instance, nothing to run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{Family, Rotation, Store, StoreError};
use crate::revoke::{Revocation, Revocations};

#[derive(Default)]
struct State {
    /// Token hash → (family id, spent).
    tokens: HashMap<String, (String, bool)>,
    /// Family id → (family, last used, revoked).
    families: HashMap<String, (Family, i64, bool)>,
    followers: Vec<Revocations>,
}

/// Refresh families and revocations in this process's memory. Clones share the store.
///
/// ```
/// use jwt_tower::revoke::{Revocation, Revocations};
/// use jwt_tower::store::{MemoryStore, Store};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let list = Revocations::new();
/// store.follow(&list);
/// store.revoke(Revocation::Subject { sub: "bob".into(), before: 100 }).await.unwrap();
/// assert!(list.is_revoked(None, Some("bob"), Some(50)));
/// # });
/// ```
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
    revocations: Revocations,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("MemoryStore")
            .field("families", &state.families.len())
            .field("tokens", &state.tokens.len())
            .field("revocations", &self.revocations.len())
            .finish()
    }
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn alive(family: &Family, last_used: i64, now: i64) -> bool {
    now < family.expires_at && now < last_used.saturating_add(family.idle_timeout)
}

impl Store for MemoryStore {
    async fn create_family(&self, family: &Family, token_hash: &str) -> Result<(), StoreError> {
        let mut state = self.lock();
        // Forget families that can no longer be used, so the store does not grow forever.
        let now = family.created_at;
        let dead: Vec<String> = state
            .families
            .iter()
            .filter(|(_, (f, last, _))| !alive(f, *last, now))
            .map(|(id, _)| id.clone())
            .collect();
        if !dead.is_empty() {
            state.tokens.retain(|_, (id, _)| !dead.contains(id));
            for id in &dead {
                state.families.remove(id);
            }
        }
        state.families.insert(
            family.id.clone(),
            (family.clone(), family.created_at, false),
        );
        state
            .tokens
            .insert(token_hash.to_owned(), (family.id.clone(), false));
        Ok(())
    }

    async fn rotate(&self, presented: &str, next: &str, now: i64) -> Result<Rotation, StoreError> {
        let mut state = self.lock();
        let Some((family_id, spent)) = state.tokens.get(presented).cloned() else {
            return Ok(Rotation::Unknown);
        };
        let Some((family, last_used, revoked)) = state.families.get(&family_id).cloned() else {
            return Ok(Rotation::Unknown);
        };
        if revoked {
            return Ok(Rotation::Unknown);
        }
        if spent {
            if let Some(entry) = state.families.get_mut(&family_id) {
                entry.2 = true;
            }
            return Ok(Rotation::Reused(family));
        }
        if !alive(&family, last_used, now) {
            return Ok(Rotation::Expired);
        }
        state
            .tokens
            .insert(presented.to_owned(), (family_id.clone(), true));
        state
            .tokens
            .insert(next.to_owned(), (family_id.clone(), false));
        if let Some(entry) = state.families.get_mut(&family_id) {
            entry.1 = now;
        }
        Ok(Rotation::Rotated(family))
    }

    async fn revoke_family(&self, token_hash: &str) -> Result<Option<Family>, StoreError> {
        let mut state = self.lock();
        let Some((family_id, _)) = state.tokens.get(token_hash).cloned() else {
            return Ok(None);
        };
        Ok(state.families.get_mut(&family_id).map(|entry| {
            entry.2 = true;
            entry.0.clone()
        }))
    }

    async fn revoke(&self, revocation: Revocation) -> Result<(), StoreError> {
        self.revocations.apply(revocation.clone());
        let followers = self.lock().followers.clone();
        for list in followers {
            list.apply(revocation.clone());
        }
        Ok(())
    }

    async fn revocations(&self) -> Result<Vec<Revocation>, StoreError> {
        Ok(self.revocations.snapshot())
    }

    fn follow(&self, list: &Revocations) {
        list.apply_all(&self.revocations.snapshot());
        self.lock().followers.push(list.clone());
    }
}
