//! The names of a store's keys, on one server and on a cluster.
//!
//! On a cluster, a script may only touch keys of one hash slot, and Redis puts a key in
//! the slot of its hash tag (the part between the first `{` and the next `}`). So:
//! - every family, token and chain key shares the tag `{<prefix>}`: the rotation script
//!   finds a family from a token's value, and the store is handed token hashes only, so
//!   a token's slot cannot tell its family's; one slot holds every family, written once
//!   per refresh (not per request);
//! - both revocation keys share the tag `{<prefix>rev}`, so that a revocation is written
//!   and published, and the whole set read, in one step;
//! - clients, codes, spent codes, opaque access tokens, one-time marks and shared
//!   secrets are each one key,
//!   untagged: they spread over the whole cluster, as the one-time marks of DPoP proofs
//!   are written on every request.
//!
//! On one server the keys are untagged, as they always were.

use crate::store::StoreError;

pub(super) struct Keys {
    pub(super) prefix: String,
    /// What the family, token and chain keys start with (the scripts build some of them
    /// from it).
    pub(super) families: String,
    pub(super) revoked_tokens: String,
    pub(super) revoked_subjects: String,
    pub(super) channel: String,
}

impl Keys {
    /// The keys under `prefix`, hash-tagged for a cluster when `cluster` is set.
    pub(super) fn new(prefix: &str, cluster: bool) -> Result<Self, StoreError> {
        if !cluster {
            return Ok(Self {
                prefix: prefix.to_owned(),
                families: prefix.to_owned(),
                revoked_tokens: format!("{prefix}rev:tok"),
                revoked_subjects: format!("{prefix}rev:sub"),
                channel: format!("{prefix}revocations"),
            });
        }
        if prefix.contains(['{', '}']) {
            return Err(StoreError(format!(
                "the key prefix {prefix:?} holds a brace: on a Redis Cluster the store tags \
                 its keys itself"
            )));
        }
        Ok(Self {
            prefix: prefix.to_owned(),
            families: format!("{{{prefix}}}"),
            revoked_tokens: format!("{{{prefix}rev}}:tok"),
            revoked_subjects: format!("{{{prefix}rev}}:sub"),
            channel: format!("{prefix}revocations"),
        })
    }

    pub(super) fn family(&self, id: &str) -> String {
        format!("{}fam:{id}", self.families)
    }

    pub(super) fn token(&self, hash: &str) -> String {
        format!("{}tok:{hash}", self.families)
    }

    pub(super) fn chain(&self, id: &str) -> String {
        format!("{}chain:{id}", self.families)
    }

    pub(super) fn client(&self, id: &str) -> String {
        format!("{}client:{id}", self.prefix)
    }

    pub(super) fn spent_code(&self, hash: &str) -> String {
        format!("{}spent:{hash}", self.prefix)
    }

    pub(super) fn code(&self, hash: &str) -> String {
        format!("{}code:{hash}", self.prefix)
    }

    pub(super) fn access_token(&self, hash: &str) -> String {
        format!("{}at:{hash}", self.prefix)
    }

    pub(super) fn once(&self, value: &str) -> String {
        format!("{}once:{value}", self.prefix)
    }

    pub(super) fn secret(&self, name: &str) -> String {
        format!("{}secret:{name}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use ::redis::cluster_routing::Slot;

    use super::*;

    /// The slot Redis Cluster gives a key (CRC16 of its hash tag, or of the whole key).
    fn slot(key: &str) -> Slot {
        Slot::for_key(key)
    }

    #[test]
    fn one_server_keeps_the_untagged_names() {
        let keys = Keys::new("app:", false).unwrap();
        assert_eq!(keys.family("f"), "app:fam:f");
        assert_eq!(keys.token("h"), "app:tok:h");
        assert_eq!(keys.chain("f"), "app:chain:f");
        assert_eq!(keys.revoked_tokens, "app:rev:tok");
        assert_eq!(keys.revoked_subjects, "app:rev:sub");
        assert_eq!(keys.channel, "app:revocations");
        assert_eq!(keys.once("j"), "app:once:j");
        assert_eq!(keys.access_token("h"), "app:at:h");
    }

    #[test]
    fn on_a_cluster_each_script_touches_one_slot() {
        let keys = Keys::new("app:", true).unwrap();
        let families = slot(&keys.family("f1"));
        for key in [
            keys.family("f2"),
            keys.token("h1"),
            keys.token("h2"),
            keys.chain("f1"),
            format!("{}fam:{}", keys.families, "built-by-a-script"),
        ] {
            assert_eq!(slot(&key), families, "{key}");
        }
        assert_eq!(slot(&keys.revoked_tokens), slot(&keys.revoked_subjects));
        assert_ne!(slot(&keys.revoked_tokens), families);
        // One-time marks spread over the cluster.
        let marks: std::collections::HashSet<Slot> = (0..64)
            .map(|i| slot(&keys.once(&format!("jti-{i}"))))
            .collect();
        assert!(marks.len() > 32, "{marks:?}");
    }

    #[test]
    fn a_cluster_prefix_may_not_hold_a_brace() {
        assert!(Keys::new("{app}:", true).is_err());
        assert!(Keys::new("{app}:", false).is_ok());
    }
}
