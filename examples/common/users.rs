//! Demo users for the auth examples: `DEMO_USERS` (`name:password:scope scope;…`),
//! passwords held only as argon2 hashes. An entry may also carry a bcrypt hash
//! (`$2a$`/`$2b$`/`$2y$`) or an argon2 PHC string instead of a password, so a user table
//! carried over from an Express + bcrypt service keeps working.
#![allow(dead_code)]

use std::collections::HashMap;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// The default users, documented in the README.
pub const DEFAULT_DEMO_USERS: &str = "alice:alice-password:read;bob:bob-password:read admin";

enum Hash {
    Argon2(String),
    Bcrypt(String),
}

struct User {
    hash: Hash,
    scope: String,
}

/// The user table.
pub struct Users {
    users: HashMap<String, User>,
    /// Verified against when the user does not exist, so unknown users take as long.
    dummy: String,
}

fn argon2_hash(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
        .expect("argon2 hashing")
        .to_string()
}

impl Users {
    /// Parses a `DEMO_USERS` value.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut users = HashMap::new();
        for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let mut fields = entry.splitn(3, ':');
            let (Some(name), Some(secret)) = (fields.next(), fields.next()) else {
                return Err(format!("entry {entry:?} is not name:password:scope"));
            };
            if name.is_empty() || secret.is_empty() {
                return Err(format!("entry {entry:?} has an empty name or password"));
            }
            let hash = if ["$2a$", "$2b$", "$2y$"]
                .iter()
                .any(|p| secret.starts_with(p))
            {
                Hash::Bcrypt(secret.to_owned())
            } else if secret.starts_with("$argon2") {
                PasswordHash::new(secret).map_err(|e| format!("{name}: bad argon2 hash: {e}"))?;
                Hash::Argon2(secret.to_owned())
            } else {
                Hash::Argon2(argon2_hash(secret))
            };
            let scope = fields.next().unwrap_or("").trim().to_owned();
            users.insert(name.to_owned(), User { hash, scope });
        }
        if users.is_empty() {
            return Err("no users".to_owned());
        }
        Ok(Self {
            users,
            dummy: argon2_hash("no such user, no such password"),
        })
    }

    /// The user's scope when `password` is right.
    pub fn check(&self, name: &str, password: &str) -> Option<String> {
        let Some(user) = self.users.get(name) else {
            // Same work as for a real user: no timing difference to probe names with.
            let _ = verify_argon2(&self.dummy, password);
            return None;
        };
        let ok = match &user.hash {
            Hash::Argon2(hash) => verify_argon2(hash, password),
            Hash::Bcrypt(hash) => bcrypt::verify(password, hash).unwrap_or(false),
        };
        ok.then(|| user.scope.clone())
    }
}

fn verify_argon2(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}
