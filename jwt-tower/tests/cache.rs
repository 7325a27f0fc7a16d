//! The verified-token cache (`VerifierBuilder::cache`): what it serves, and every case
//! where a fresh verify would refuse and the cache therefore must not answer.
//!
//! Each test states in one line why the expected outcome is the right one.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;
use jwt_tower::revoke::{Revocation, Revocations};
use jwt_tower::{Algorithm, KeySet, Keys, RegisteredClaims, RejectionKind, Verifier};
use serde_json::json;

const HS: Algorithm = Algorithm::HS256;

fn cached(keys: impl Into<Keys>, alg: Algorithm) -> Verifier<RegisteredClaims> {
    Verifier::builder(keys)
        .algorithms([alg])
        .cache(1000)
        .build()
        .unwrap()
}

/// A token seen again is answered by the cache, with the same claims, for every algorithm.
#[test]
fn a_reused_token_is_a_hit_for_every_algorithm() {
    for alg in [
        HS,
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ] {
        let verifier = cached(verification_key(alg), alg);
        let token = mint(
            alg,
            None,
            &claims_with(json!({"jti": "t-1", "scope": "a b"})),
        );
        let first = verifier.verify(&token).unwrap();
        let second = verifier.verify(&token).unwrap();
        assert_eq!(second.claims().sub.as_deref(), Some("alice"), "{alg:?}");
        assert!(second.has_scope("b"));
        assert_eq!(second.token(), first.token());
        let m = verifier.metrics();
        assert_eq!(
            (m.verified, m.cache_hits, m.cached_tokens),
            (2, 1, 1),
            "{alg:?}"
        );
    }
}

/// Only exactly the same bytes share an entry: one byte changed is verified afresh.
#[test]
fn a_token_differing_in_one_byte_is_not_served() {
    let verifier = cached(verification_key(HS), HS);
    let token = mint(HS, None, &claims());
    verifier.verify(&token).unwrap();
    for i in [0, token.len() / 2, token.len() - 1] {
        let mut bytes = token.clone().into_bytes();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_ne!(
            verifier.verify(&tampered).map(|_| ()),
            Ok(()),
            "byte {i} changed must not be accepted",
        );
    }
    assert_eq!(verifier.metrics().cache_hits, 0);
}

/// Refusals are never stored: the same bad token is refused for its own reason each time.
#[test]
fn refusals_are_never_cached() {
    let verifier = cached(verification_key(HS), HS);
    let expired = mint(HS, None, &claims_with(json!({"exp": now() - 3600})));
    for _ in 0..3 {
        assert_eq!(kind(verifier.verify(&expired)), RejectionKind::Expired);
    }
    assert_eq!(verifier.metrics().cached_tokens, 0);
}

/// An entry never outlives `exp` (plus the leeway): the token expires in the cache too.
#[test]
fn an_entry_expires_with_its_token() {
    let verifier = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms([HS])
        .leeway(Duration::ZERO)
        .cache(10)
        .build()
        .unwrap();
    // Two seconds: a clock tick between minting and verifying cannot expire it early.
    let token = mint(HS, None, &claims_with(json!({"exp": now() + 2})));
    verifier.verify(&token).unwrap();
    verifier.verify(&token).unwrap();
    assert_eq!(verifier.metrics().cache_hits, 1);
    std::thread::sleep(Duration::from_millis(3100));
    assert_eq!(kind(verifier.verify(&token)), RejectionKind::Expired);
    assert_eq!(
        verifier.metrics().cached_tokens,
        0,
        "an expired entry is dropped"
    );
}

/// `max_age` bounds the entry as it bounds the token.
#[test]
fn an_entry_ends_with_max_age() {
    let verifier = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms([HS])
        .leeway(Duration::ZERO)
        .max_age(Duration::from_secs(1))
        .cache(10)
        .build()
        .unwrap();
    let token = mint(HS, None, &claims_with(json!({"iat": now()})));
    verifier.verify(&token).unwrap();
    verifier.verify(&token).unwrap();
    assert_eq!(verifier.metrics().cache_hits, 1);
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(kind(verifier.verify(&token)), RejectionKind::TooOld);
}

/// A token whose `nbf` is still ahead is refused and so never cached; once it is valid,
/// it is cached like any other.
#[test]
fn a_not_yet_valid_token_is_not_cached_until_valid() {
    let verifier = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms([HS])
        .leeway(Duration::ZERO)
        .cache(10)
        .build()
        .unwrap();
    let token = mint(HS, None, &claims_with(json!({"nbf": now() + 2})));
    assert_eq!(kind(verifier.verify(&token)), RejectionKind::NotYetValid);
    assert_eq!(verifier.metrics().cached_tokens, 0);
    std::thread::sleep(Duration::from_millis(3100));
    verifier.verify(&token).unwrap();
    verifier.verify(&token).unwrap();
    assert_eq!(verifier.metrics().cache_hits, 1);
}

/// Without `exp` nothing bounds an entry's life, so such tokens are not cached.
#[test]
fn tokens_without_exp_are_not_cached() {
    let verifier = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms([HS])
        .require_exp(false)
        .cache(10)
        .build()
        .unwrap();
    let token = mint(HS, None, &json!({"sub": "alice"}));
    verifier.verify(&token).unwrap();
    verifier.verify(&token).unwrap();
    let m = verifier.metrics();
    assert_eq!((m.cache_hits, m.cached_tokens), (0, 0));
}

/// A retired key's tokens are refused at once, cached or not.
#[test]
fn retiring_the_key_ends_its_cached_tokens() {
    let keys = Keys::new(KeySet::new([verification_key(HS).with_kid("k1")]));
    let verifier = cached(keys.clone(), HS);
    let token = mint(HS, Some("k1"), &claims());
    verifier.verify(&token).unwrap();
    verifier.verify(&token).unwrap();
    assert_eq!(verifier.metrics().cache_hits, 1);
    assert!(keys.retire("k1"));
    assert_eq!(kind(verifier.verify(&token)), RejectionKind::UnknownKey);
    assert_eq!(
        verifier.metrics().cached_tokens,
        0,
        "the key change emptied it"
    );
}

/// Replacing the set with other keys under the same kid: the old key's token no longer
/// verifies, and the cache does not pretend it does.
#[test]
fn replacing_the_key_set_empties_the_cache() {
    let keys = Keys::new(KeySet::new([verification_key(HS).with_kid("k1")]));
    let verifier = cached(keys.clone(), HS);
    let token = mint(HS, Some("k1"), &claims());
    verifier.verify(&token).unwrap();
    let other = jwt_tower::VerificationKey::hmac(HS, [9u8; 64])
        .unwrap()
        .with_kid("k1");
    keys.replace(KeySet::new([other]));
    assert_eq!(
        kind(verifier.verify(&token)),
        RejectionKind::InvalidSignature
    );
    assert_eq!(verifier.metrics().cache_hits, 0);
}

/// A rotation that only adds a key still empties the cache, and the token is simply
/// verified again (then cached again).
#[test]
fn adding_a_key_reverifies_then_caches_again() {
    let keys = Keys::new(KeySet::new([verification_key(HS).with_kid("k1")]));
    let verifier = cached(keys.clone(), HS);
    let token = mint(HS, Some("k1"), &claims());
    verifier.verify(&token).unwrap();
    keys.insert(
        jwt_tower::VerificationKey::hmac(HS, [9u8; 64])
            .unwrap()
            .with_kid("k2"),
    );
    verifier.verify(&token).unwrap();
    assert_eq!(verifier.metrics().cache_hits, 0, "verified afresh");
    verifier.verify(&token).unwrap();
    assert_eq!(verifier.metrics().cache_hits, 1);
}

/// Revocation is checked on every hit: a cached token revoked by `jti` or by subject is
/// refused on its next use.
#[test]
fn revocations_apply_to_cached_tokens() {
    let revocations = Revocations::new();
    let verifier = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms([HS])
        .revocations(revocations.clone())
        .cache(10)
        .build()
        .unwrap();
    let by_jti = mint(HS, None, &claims_with(json!({"jti": "j-1", "sub": "bob"})));
    let by_sub = mint(
        HS,
        None,
        &claims_with(json!({"jti": "j-2", "iat": now() - 10})),
    );
    for token in [&by_jti, &by_sub] {
        verifier.verify(token).unwrap();
        verifier.verify(token).unwrap();
    }
    assert_eq!(verifier.metrics().cache_hits, 2);
    revocations.apply(Revocation::Token {
        jti: "j-1".into(),
        exp: now() + 3600,
    });
    assert_eq!(kind(verifier.verify(&by_jti)), RejectionKind::Revoked);
    revocations.apply(Revocation::Subject {
        sub: "alice".into(),
        before: now(),
    });
    assert_eq!(kind(verifier.verify(&by_sub)), RejectionKind::Revoked);
}

/// A fail-closed revocation list out of step with its store refuses cached tokens too.
#[test]
fn a_refusing_revocation_list_refuses_cached_tokens() {
    let revocations = Revocations::new().fail_closed(true);
    let verifier = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms([HS])
        .revocations(revocations.clone())
        .cache(10)
        .build()
        .unwrap();
    let token = mint(HS, None, &claims());
    verifier.verify(&token).unwrap();
    revocations.set_in_step(false);
    assert_eq!(
        kind(verifier.verify(&token)),
        RejectionKind::RevocationsOutOfStep
    );
}

/// Custom checks may depend on more than the claims (a feature flag, a tenant list), so
/// they run on every hit.
#[test]
fn custom_checks_run_on_every_hit() {
    let allowed = Arc::new(AtomicBool::new(true));
    let flag = Arc::clone(&allowed);
    let verifier = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms([HS])
        .validate(move |_| {
            if flag.load(Ordering::SeqCst) {
                Ok(())
            } else {
                Err("tenant suspended".into())
            }
        })
        .cache(10)
        .build()
        .unwrap();
    let token = mint(HS, None, &claims());
    verifier.verify(&token).unwrap();
    verifier.verify(&token).unwrap();
    allowed.store(false, Ordering::SeqCst);
    assert_eq!(kind(verifier.verify(&token)), RejectionKind::Rejected);
}

/// The cache is bounded: many distinct valid tokens never hold more than its capacity.
#[test]
fn the_cache_is_bounded() {
    let verifier = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms([HS])
        .cache(100)
        .build()
        .unwrap();
    for i in 0..2000 {
        let token = mint(HS, None, &claims_with(json!({"jti": format!("t-{i}")})));
        verifier.verify(&token).unwrap();
    }
    let held = verifier.metrics().cached_tokens;
    assert!(
        (1..=110).contains(&held),
        "{held} entries for a capacity of 100"
    );
}

/// Off by default, and `cache(0)` is off.
#[test]
fn no_cache_unless_asked() {
    for verifier in [
        Verifier::<RegisteredClaims>::builder(verification_key(HS))
            .algorithms([HS])
            .build()
            .unwrap(),
        Verifier::<RegisteredClaims>::builder(verification_key(HS))
            .algorithms([HS])
            .cache(0)
            .build()
            .unwrap(),
    ] {
        let token = mint(HS, None, &claims());
        verifier.verify(&token).unwrap();
        verifier.verify(&token).unwrap();
        let m = verifier.metrics();
        assert_eq!((m.verified, m.cache_hits, m.cached_tokens), (2, 0, 0));
    }
}

/// Many threads hitting one cached token and rotating keys at once: every answer is the
/// one a fresh verify would give at that moment (valid under k1 while k1 is published).
#[test]
fn concurrent_hits_and_rotations_never_serve_a_retired_key() {
    let keys = Keys::new(KeySet::new([verification_key(HS).with_kid("k1")]));
    let verifier = cached(keys.clone(), HS);
    let token = mint(HS, Some("k1"), &claims());
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let verifier = verifier.clone();
            let token = token.clone();
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut answers = (0u64, 0u64);
                while !stop.load(Ordering::Relaxed) {
                    match verifier.verify(&token) {
                        Ok(_) => answers.0 += 1,
                        Err(e) => {
                            assert_eq!(e.kind(), RejectionKind::UnknownKey);
                            answers.1 += 1;
                        }
                    }
                }
                answers
            })
        })
        .collect();
    for round in 0..200 {
        keys.retire("k1");
        // With k1 gone, nothing (cached or not) may accept the token.
        assert_eq!(
            kind(verifier.verify(&token)),
            RejectionKind::UnknownKey,
            "round {round}"
        );
        keys.insert(verification_key(HS).with_kid("k1"));
        std::thread::sleep(Duration::from_micros(200));
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        let (ok, refused) = reader.join().unwrap();
        assert!(ok > 0, "the token verified while its key was published");
        let _ = refused;
    }
}

/// More distinct tokens than the capacity, in turn: nearly every lookup misses (the bound
/// holds per entry, not per shard or generation).
#[test]
fn cycling_more_tokens_than_the_capacity_misses() {
    let verifier = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms([HS])
        .cache(16)
        .build()
        .unwrap();
    let tokens: Vec<String> = (0..256)
        .map(|i| mint(HS, None, &claims_with(json!({"jti": format!("t-{i}")}))))
        .collect();
    for _ in 0..4 {
        for token in &tokens {
            verifier.verify(token).unwrap();
        }
    }
    let m = verifier.metrics();
    assert!(m.cached_tokens <= 20, "{} held", m.cached_tokens);
    assert!(
        m.cache_hits < m.verified / 10,
        "{} hits of {}",
        m.cache_hits,
        m.verified
    );
}
