//! Demo users for the auth examples: `DEMO_USERS` (`name:password:scope scope;…`),
//! passwords held only as argon2 hashes. An entry may also carry a bcrypt hash
//! (`$2a$`/`$2b$`/`$2y$`) or an argon2 PHC string instead of a password, so a user table
//! carried over from an Express + bcrypt service keeps working; such a hash is replaced by
//! an argon2id hash of the default parameters at the user's first successful login (in
//! memory: `DEMO_USERS` itself is never rewritten, so after a restart the old hash is
//! upgraded again at the next login).
//!
//! Timing: a login must not tell an unknown name from a known one, nor an imported hash
//! from a default one. Unknown names are verified against a copy of a stored hash of the
//! slowest scheme in the table (the result thrown away), so they cost what the slowest
//! known users cost, under any load; and the login route pads every attempt to
//! [`Users::floor`], so that users with faster hashes answer no sooner. The floor follows
//! the load: it is the larger of that scheme's verification time measured at start and
//! a slowly decaying maximum of the recent unknown-name verifications, because a flood of
//! logins slows every hash, and a floor fixed at start would then let slow-hash users and
//! unknown names answer later than padded users.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// The default users, documented in the README.
pub const DEFAULT_DEMO_USERS: &str = "alice:alice-password:read;bob:bob-password:read admin";

/// A stored password hash.
#[derive(Clone)]
enum Hash {
    Argon2(String),
    Bcrypt(String),
}

impl Hash {
    fn verify(&self, password: &str) -> bool {
        match self {
            Hash::Argon2(hash) => verify_argon2(hash, password),
            Hash::Bcrypt(hash) => bcrypt::verify(password, hash).unwrap_or(false),
        }
    }

    /// The algorithm and its cost parameters, e.g. `argon2id v19 m=19456 t=2 p=1 len=32`
    /// or `bcrypt cost=12`: two hashes of one scheme cost the same to verify.
    fn scheme(&self) -> String {
        match self {
            Hash::Bcrypt(hash) => match hash.parse::<bcrypt::HashParts>() {
                Ok(parts) => format!("bcrypt cost={}", parts.get_cost()),
                Err(_) => "bcrypt (malformed)".to_owned(),
            },
            Hash::Argon2(hash) => argon2_scheme(hash).unwrap_or_else(|e| format!("argon2 ({e})")),
        }
    }
}

/// Of `default` and one stored hash of each scheme in `users`, the one that takes longest
/// to verify (with a wrong password), and how long it took.
fn slowest_scheme(users: &HashMap<String, User>, default: Hash) -> (Hash, Duration) {
    let mut samples: BTreeMap<String, Hash> = BTreeMap::new();
    samples.insert(default.scheme(), default);
    for user in users.values() {
        let hash = user.hash.lock().expect("user lock").clone();
        samples.entry(hash.scheme()).or_insert(hash);
    }
    samples
        .into_values()
        .map(|hash| {
            let started = Instant::now();
            let _ = hash.verify("not the password");
            let took = started.elapsed();
            (hash, took)
        })
        .max_by_key(|(_, took)| *took)
        .expect("the default scheme at least")
}

fn argon2_scheme(hash: &str) -> Result<String, argon2::password_hash::Error> {
    let parsed = PasswordHash::new(hash)?;
    let params = Params::try_from(&parsed)?;
    Ok(format!(
        "{} v{} m={} t={} p={} len={}",
        parsed.algorithm,
        // Without `v=`, verification uses the crate's default version: label it so.
        parsed.version.unwrap_or_else(|| Version::default().into()),
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN),
    ))
}

struct User {
    /// Behind a lock so that a successful login can replace an imported hash.
    hash: Mutex<Hash>,
    scope: String,
}

/// The outcome of one password check.
pub struct Checked {
    /// The user's scope when the password was right.
    pub scope: Option<String>,
    /// Whether the user's stored hash was replaced by one of the default parameters.
    pub upgraded: bool,
}

/// The user table.
pub struct Users {
    users: HashMap<String, User>,
    /// The scheme of argon2id with the default parameters: other schemes are upgraded.
    default_scheme: String,
    /// A hash of the slowest scheme in the table (a default one, or a copy of a stored
    /// one), verified against when the user does not exist.
    dummy: Hash,
    /// How long the dummy took to verify at start.
    floor: Duration,
    /// The longest recent unknown-name verification and when it was measured: it follows
    /// a slowdown at once, and a recovery over [`RECENT_HALF_LIFE`]s.
    recent_dummy: Mutex<(Duration, Instant)>,
}

/// How fast a slow unknown-name verification stops counting towards [`Users::floor`]:
/// slowly enough that padded logins keep up with a flood that comes in waves, quickly
/// enough that logins are not slow for long after it.
const RECENT_HALF_LIFE: Duration = Duration::from_secs(60);

/// `took`, measured at `at`, as it counts at `now`.
fn decayed((took, at): (Duration, Instant), now: Instant) -> Duration {
    let half_lives =
        now.saturating_duration_since(at).as_secs_f64() / RECENT_HALF_LIFE.as_secs_f64();
    took.mul_f64(0.5f64.powf(half_lives))
}

thread_local! {
    /// Each hashing thread's argon2 working memory, kept from one hash to the next: a
    /// fresh 19 MiB allocation per hash fragments the allocator's heap, so that the
    /// process would grow by up to about ten times 19 MiB even hashing one at a time.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Argon2 of `password` and `salt` into an output of `output_len` bytes, in this
/// thread's kept memory.
fn argon2_output(
    argon2: &Argon2<'_>,
    params: &Params,
    password: &str,
    salt: Salt<'_>,
    output_len: usize,
) -> Result<Output, argon2::password_hash::Error> {
    let mut salt_bytes = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_bytes)?;
    MEMORY.with_borrow_mut(|memory| {
        if memory.len() < params.block_count() {
            memory.resize(params.block_count(), Block::new());
        }
        Output::init_with(output_len, |out| {
            argon2
                .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut memory[..])
                .map_err(Into::into)
        })
    })
}

/// A PHC string of `password` hashed with argon2id of the default parameters.
fn argon2_hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    let params = Params::default();
    let argon2 = Argon2::new(Algorithm::default(), Version::default(), params.clone());
    let output = argon2_output(
        &argon2,
        &params,
        password,
        salt.as_salt(),
        Params::DEFAULT_OUTPUT_LEN,
    )
    .expect("argon2 hashing with the default parameters");
    PasswordHash {
        algorithm: Algorithm::default().ident(),
        version: Some(Version::default().into()),
        params: ParamsString::try_from(&params).expect("default parameters"),
        salt: Some(salt.as_salt()),
        hash: Some(output),
    }
    .to_string()
}

/// Whether `password` matches the PHC string `hash` (`Output` compares in constant time).
fn verify_argon2(hash: &str, password: &str) -> bool {
    let check = || -> Result<bool, argon2::password_hash::Error> {
        let parsed = PasswordHash::new(hash)?;
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Ok(false);
        };
        let params = Params::try_from(&parsed)?;
        let version = parsed
            .version
            .map(Version::try_from)
            .transpose()?
            .unwrap_or_default();
        let argon2 = Argon2::new(
            Algorithm::try_from(parsed.algorithm)?,
            version,
            params.clone(),
        );
        let computed = argon2_output(&argon2, &params, password, salt, expected.len())?;
        Ok(computed == expected)
    };
    check().unwrap_or(false)
}

impl Users {
    /// Parses a `DEMO_USERS` value, and measures how long each kind of stored hash takes
    /// to verify (one verification per distinct scheme: this takes a moment).
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
                secret
                    .parse::<bcrypt::HashParts>()
                    .map_err(|e| format!("{name}: bad bcrypt hash: {e}"))?;
                Hash::Bcrypt(secret.to_owned())
            } else if secret.starts_with("$argon2") {
                argon2_scheme(secret).map_err(|e| format!("{name}: bad argon2 hash: {e}"))?;
                Hash::Argon2(secret.to_owned())
            } else {
                Hash::Argon2(argon2_hash(secret))
            };
            let scope = fields.next().unwrap_or("").trim().to_owned();
            users.insert(
                name.to_owned(),
                User {
                    hash: Mutex::new(hash),
                    scope,
                },
            );
        }
        if users.is_empty() {
            return Err("no users".to_owned());
        }
        let default = Hash::Argon2(argon2_hash("no such user, no such password"));
        let default_scheme = default.scheme();
        let (dummy, floor) = slowest_scheme(&users, default);
        // This thread hashes no more: give its argon2 memory back.
        MEMORY.with_borrow_mut(std::mem::take);
        Ok(Self {
            users,
            default_scheme,
            dummy,
            floor,
            recent_dummy: Mutex::new((Duration::ZERO, Instant::now())),
        })
    }

    /// The time every login attempt is padded to: the slowest stored scheme's
    /// verification time, at start or as recently measured on unknown names whichever is
    /// longer, with a margin for a busier moment. Read it after the check: the check of
    /// an unknown name updates it.
    pub fn floor(&self) -> Duration {
        let recent = decayed(
            *self.recent_dummy.lock().expect("recent lock"),
            Instant::now(),
        );
        self.floor.max(recent) * 5 / 4
    }

    /// Counts one verification of the dummy hash into the recent maximum.
    fn record_dummy(&self, took: Duration) {
        let now = Instant::now();
        let mut recent = self.recent_dummy.lock().expect("recent lock");
        if took >= decayed(*recent, now) {
            *recent = (took, now);
        }
    }

    /// Checks `password` for `name`. On success with a hash of another scheme than the
    /// default (bcrypt, or argon2 with other parameters), the hash is replaced by an
    /// argon2id hash of the default parameters. Slow on purpose: run it off the async
    /// workers, and pad the response to [`Users::floor`].
    pub fn check(&self, name: &str, password: &str) -> Checked {
        let Some(user) = self.users.get(name) else {
            // The same work as for a user of the slowest scheme.
            let started = Instant::now();
            let _ = self.dummy.verify(password);
            self.record_dummy(started.elapsed());
            return Checked {
                scope: None,
                upgraded: false,
            };
        };
        let hash = user.hash.lock().expect("user lock").clone();
        if !hash.verify(password) {
            return Checked {
                scope: None,
                upgraded: false,
            };
        }
        let upgraded = hash.scheme() != self.default_scheme;
        if upgraded {
            *user.hash.lock().expect("user lock") = Hash::Argon2(argon2_hash(password));
        }
        Checked {
            scope: Some(user.scope.clone()),
            upgraded,
        }
    }

    /// Every scope some user holds, sorted.
    pub fn scopes(&self) -> std::collections::BTreeSet<String> {
        self.users
            .values()
            .flat_map(|user| user.scope.split_whitespace().map(str::to_owned))
            .collect()
    }

    /// Each user's stored hash scheme (for operators: who still has an imported hash).
    pub fn schemes(&self) -> BTreeMap<String, String> {
        self.users
            .iter()
            .map(|(name, user)| {
                let scheme = user.hash.lock().expect("user lock").scheme();
                (name.clone(), scheme)
            })
            .collect()
    }
}
