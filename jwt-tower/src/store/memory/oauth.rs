//! The memory store's OAuth records: registered clients, authorization codes and the
//! codes already redeemed, each with an index by expiry so that expired ones are
//! forgotten first without looking at the others.

use std::collections::{BTreeSet, HashMap};

use crate::oauth::{AuthorizationCode, Client};
use crate::store::{PutClientError, StoreError};

#[derive(Default)]
pub(super) struct OAuthRecords {
    /// Registered OAuth clients by id, each with the moment it expires unless used, and
    /// (expiry, id) of every one to forget the expired ones first.
    clients: HashMap<String, (Client, i64)>,
    client_ends: BTreeSet<(i64, String)>,
    /// Authorization codes by hash, and (expiry, hash) to forget the expired ones first.
    pub(super) codes: HashMap<Box<str>, AuthorizationCode>,
    code_ends: BTreeSet<(i64, Box<str>)>,
    /// Redeemed codes by hash: a token hash of the family each was redeemed for, and
    /// until when it is remembered; (until, hash) to forget them in order.
    spent_codes: HashMap<Box<str>, (Box<str>, i64)>,
    spent_code_ends: BTreeSet<(i64, Box<str>)>,
}

impl OAuthRecords {
    /// Forgets every code that expired at or before `now`.
    fn remove_expired_codes(&mut self, now: i64) {
        while let Some((end, hash)) = self.code_ends.first().cloned()
            && end <= now
        {
            self.code_ends.remove(&(end, hash.clone()));
            self.codes.remove(&hash);
        }
        while let Some((end, hash)) = self.spent_code_ends.first().cloned()
            && end <= now
        {
            self.spent_code_ends.remove(&(end, hash.clone()));
            self.spent_codes.remove(&hash);
        }
    }

    /// Forgets every client that expired at or before `now`.
    fn remove_expired_clients(&mut self, now: i64) {
        while let Some((end, id)) = self.client_ends.first().cloned()
            && end <= now
        {
            self.client_ends.remove(&(end, id.clone()));
            self.clients.remove(&id);
        }
    }

    /// Registers `client` until `idle` seconds past `now`; refused past `capacity`.
    pub(super) fn put_client(
        &mut self,
        client: &Client,
        now: i64,
        capacity: usize,
        idle: i64,
    ) -> Result<(), PutClientError> {
        self.remove_expired_clients(now);
        if self.clients.len() >= capacity && !self.clients.contains_key(&client.client_id) {
            return Err(PutClientError::Full(capacity));
        }
        let end = now.saturating_add(idle);
        let id = client.client_id.clone();
        if let Some((_, old_end)) = self.clients.insert(id.clone(), (client.clone(), end)) {
            self.client_ends.remove(&(old_end, id.clone()));
        }
        self.client_ends.insert((end, id));
        Ok(())
    }

    /// The client `client_id`, renewed until `idle` seconds past `now`.
    pub(super) fn client(&mut self, client_id: &str, now: i64, idle: i64) -> Option<Client> {
        self.remove_expired_clients(now);
        let end = now.saturating_add(idle);
        let (client, old_end) = self.clients.get_mut(client_id)?;
        let (client, old_end) = (client.clone(), std::mem::replace(old_end, end));
        self.client_ends.remove(&(old_end, client_id.to_owned()));
        self.client_ends.insert((end, client_id.to_owned()));
        Some(client)
    }

    /// Keeps `code` under `code_hash`; refused past `capacity` live codes.
    pub(super) fn put_code(
        &mut self,
        code_hash: &str,
        code: &AuthorizationCode,
        now: i64,
        capacity: usize,
    ) -> Result<(), StoreError> {
        self.remove_expired_codes(now);
        if self.codes.len() >= capacity {
            return Err(StoreError(format!(
                "memory store full: {capacity} authorization codes outstanding"
            )));
        }
        if let Some(old) = self.codes.insert(code_hash.into(), code.clone()) {
            self.code_ends.remove(&(old.expires_at, code_hash.into()));
        }
        self.code_ends.insert((code.expires_at, code_hash.into()));
        Ok(())
    }

    /// Removes the code under `code_hash`; returns it if it had not expired at `now`.
    pub(super) fn take_code(&mut self, code_hash: &str, now: i64) -> Option<AuthorizationCode> {
        let code = self.codes.remove(code_hash)?;
        self.code_ends.remove(&(code.expires_at, code_hash.into()));
        (now < code.expires_at).then_some(code)
    }

    /// Remembers until `until` that the code was redeemed for `token_hash`'s family.
    pub(super) fn mark_code_spent(
        &mut self,
        code_hash: &str,
        token_hash: &str,
        until: i64,
        now: i64,
        capacity: usize,
    ) {
        self.remove_expired_codes(now);
        // Bounded like the codes themselves; past it, a replay is only refused.
        if self.spent_codes.len() < capacity {
            if let Some((_, old)) = self
                .spent_codes
                .insert(code_hash.into(), (token_hash.into(), until))
            {
                self.spent_code_ends.remove(&(old, code_hash.into()));
            }
            self.spent_code_ends.insert((until, code_hash.into()));
        }
    }

    /// The token hash a redeemed code was marked with, if still remembered at `now`.
    pub(super) fn spent_code(&self, code_hash: &str, now: i64) -> Option<String> {
        self.spent_codes
            .get(code_hash)
            .filter(|(_, until)| now < *until)
            .map(|(token, _)| token.to_string())
    }
}
