//! Verification cost per algorithm: `jwt_tower` (`Verifier::verify`), `jsonwebtoken`
//! (`jsonwebtoken::decode` with equivalent validation) and `floor` (the bare aws-lc-rs
//! call on a pre-parsed key over the same signing input and signature); and with the
//! verified-token cache on (`VerifierBuilder::cache`): `cache_hit` (the token seen
//! before) and `cache_miss` (tokens never seen: a full verify plus storing it), whose
//! `miss/floor` ratio is taken against the floor over the same distinct tokens
//! (`floor_fresh`: ECDSA's verification time varies from one signature to another).
//!
//! `cargo bench -p jwt-tower --bench verify`
//!
//! On a busy machine criterion's medians drift with whatever else runs. With
//! `VERIFY_MIN_OF_BATCHES=1` the bench instead times the three side by side, in turns,
//! and reports each one's fastest batch (the run least disturbed), with the ratios:
//! `VERIFY_MIN_OF_BATCHES=1 cargo bench -p jwt-tower --bench verify` (or `=HS256` for
//! one algorithm).

use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_lc_rs::{hmac, signature};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group};
use jsonwebtoken::{DecodingKey, DecodingKeyKind, EncodingKey, Header, Validation};
use jwt_tower::{Algorithm, VerificationKey, Verifier};
use serde::{Deserialize, Serialize};

const SECRET: &[u8; 64] = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "orders-api";

const RSA_PRIVATE: &str = include_str!("../tests/keys/rsa2048-private.pem");
const RSA_PUBLIC: &str = include_str!("../tests/keys/rsa2048-public.pem");
const P256_PRIVATE: &str = include_str!("../tests/keys/p256-private.pem");
const P256_PUBLIC: &str = include_str!("../tests/keys/p256-public.pem");
const P384_PRIVATE: &str = include_str!("../tests/keys/p384-private.pem");
const P384_PUBLIC: &str = include_str!("../tests/keys/p384-public.pem");
const ED_PRIVATE: &str = include_str!("../tests/keys/ed25519-private.pem");
const ED_PUBLIC: &str = include_str!("../tests/keys/ed25519-public.pem");

/// Distinct tokens cycled through to time cache misses (through a one-entry cache, so
/// every one is a miss: verified in full, then stored in place of the previous one).
const FRESH_TOKENS: usize = 256;

/// A realistic small set of access-token claims.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    aud: String,
    exp: u64,
    iat: u64,
    scope: String,
}

/// The bare crypto call, key parsed once.
enum Floor {
    Hmac(Box<hmac::Key>),
    Public(signature::ParsedPublicKey),
}

impl Floor {
    #[inline]
    fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        match self {
            Self::Hmac(key) => hmac::verify(key, message, sig).is_ok(),
            Self::Public(key) => key.verify_sig(message, sig).is_ok(),
        }
    }
}

struct Case {
    name: &'static str,
    token: String,
    ours: Verifier<Claims>,
    /// The same rules with the cache on, already holding `token`.
    cached: Verifier<Claims>,
    /// The same rules with a one-entry cache, and distinct tokens to cycle through it.
    missing: Verifier<Claims>,
    fresh_tokens: Vec<String>,
    decoding_key: DecodingKey,
    validation: Validation,
    floor: Floor,
}

/// A token's signing input and decoded signature, what the floor verifies.
fn signed_parts(token: &str) -> (&[u8], Vec<u8>) {
    let (input, signature) = token.rsplit_once('.').unwrap();
    (input.as_bytes(), URL_SAFE_NO_PAD.decode(signature).unwrap())
}

fn der_of(key: &DecodingKey) -> &[u8] {
    match key.kind() {
        DecodingKeyKind::SecretOrDer(der) => der,
        DecodingKeyKind::RsaModulusExponent { .. } => unreachable!("PEM keys decode to DER"),
    }
}

fn case(name: &'static str, alg: Algorithm) -> Case {
    let (encoding_key, decoding_key, ours_key, floor) = match alg {
        Algorithm::HS256 => (
            EncodingKey::from_secret(SECRET).unwrap(),
            DecodingKey::from_secret(SECRET).unwrap(),
            VerificationKey::hmac(alg, SECRET).unwrap(),
            Floor::Hmac(Box::new(hmac::Key::new(hmac::HMAC_SHA256, SECRET))),
        ),
        _ => {
            let (private, public, verification): (
                _,
                _,
                &'static dyn signature::VerificationAlgorithm,
            ) = match alg {
                Algorithm::RS256 => (
                    RSA_PRIVATE,
                    RSA_PUBLIC,
                    &signature::RSA_PKCS1_2048_8192_SHA256,
                ),
                Algorithm::PS256 => (
                    RSA_PRIVATE,
                    RSA_PUBLIC,
                    &signature::RSA_PSS_2048_8192_SHA256,
                ),
                Algorithm::ES256 => (
                    P256_PRIVATE,
                    P256_PUBLIC,
                    &signature::ECDSA_P256_SHA256_FIXED,
                ),
                Algorithm::ES384 => (
                    P384_PRIVATE,
                    P384_PUBLIC,
                    &signature::ECDSA_P384_SHA384_FIXED,
                ),
                Algorithm::EdDSA => (ED_PRIVATE, ED_PUBLIC, &signature::ED25519),
                _ => unreachable!("not benchmarked"),
            };
            let (encoding_key, decoding_key) = match alg {
                Algorithm::RS256 | Algorithm::PS256 => (
                    EncodingKey::from_rsa_pem(private.as_bytes()).unwrap(),
                    DecodingKey::from_rsa_pem(public.as_bytes()).unwrap(),
                ),
                Algorithm::ES256 | Algorithm::ES384 => (
                    EncodingKey::from_ec_pem(private.as_bytes()).unwrap(),
                    DecodingKey::from_ec_pem(public.as_bytes()).unwrap(),
                ),
                _ => (
                    EncodingKey::from_ed_pem(private.as_bytes()).unwrap(),
                    DecodingKey::from_ed_pem(public.as_bytes()).unwrap(),
                ),
            };
            let floor = Floor::Public(
                signature::ParsedPublicKey::new(verification, der_of(&decoding_key)).unwrap(),
            );
            (
                encoding_key,
                decoding_key,
                VerificationKey::from_pem(alg, public).unwrap(),
                floor,
            )
        }
    };

    let now = jsonwebtoken::get_current_timestamp();
    let claims = Claims {
        sub: "user-7f3a9c2e".to_owned(),
        iss: ISSUER.to_owned(),
        aud: AUDIENCE.to_owned(),
        exp: now + 24 * 3600,
        iat: now,
        scope: "orders:read orders:write profile".to_owned(),
    };
    let token = jsonwebtoken::encode(&Header::new(jwt_alg(alg)), &claims, &encoding_key).unwrap();
    let fresh_tokens = (0..FRESH_TOKENS)
        .map(|n| {
            let claims = Claims {
                sub: format!("user-{n:08}"),
                ..claims.clone()
            };
            jsonwebtoken::encode(&Header::new(jwt_alg(alg)), &claims, &encoding_key).unwrap()
        })
        .collect();

    let builder = || {
        Verifier::<Claims>::builder(ours_key.clone())
            .algorithms([alg])
            .issuer(ISSUER)
            .audience(AUDIENCE)
    };
    let ours = builder().build().unwrap();
    let cached = builder().cache(1024).build().unwrap();
    cached.verify(&token).expect("jwt-tower verifies");
    let missing = builder().cache(1).build().unwrap();

    let mut validation = Validation::new(jwt_alg(alg));
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.leeway = 30;

    Case {
        name,
        token,
        ours,
        cached,
        missing,
        fresh_tokens,
        decoding_key,
        validation,
        floor,
    }
}

fn cases() -> [Case; 6] {
    [
        case("HS256", Algorithm::HS256),
        case("RS256", Algorithm::RS256),
        case("PS256", Algorithm::PS256),
        case("ES256", Algorithm::ES256),
        case("ES384", Algorithm::ES384),
        case("EdDSA", Algorithm::EdDSA),
    ]
}

fn verify(c: &mut Criterion) {
    for case in &cases() {
        let token = case.token.as_str();

        // All three must accept the token before we time anything.
        let ours = case.ours.verify(token).expect("jwt-tower verifies");
        assert_eq!(ours.claims().sub, "user-7f3a9c2e");
        jsonwebtoken::decode::<Claims>(token, &case.decoding_key, &case.validation)
            .expect("jsonwebtoken verifies");
        let (signing_input, sig) = signed_parts(token);
        assert!(case.floor.verify(signing_input, &sig));

        let mut group = c.benchmark_group(case.name);
        group.bench_function("jwt_tower", |b| {
            b.iter(|| case.ours.verify(black_box(token)).unwrap());
        });
        group.bench_function("cache_hit", |b| {
            b.iter(|| case.cached.verify(black_box(token)).unwrap());
        });
        group.bench_function("cache_miss", |b| {
            let mut next = case.fresh_tokens.iter().cycle();
            b.iter(|| {
                let token = next.next().unwrap();
                case.missing.verify(black_box(token)).unwrap()
            });
        });
        group.bench_function("jsonwebtoken", |b| {
            b.iter(|| {
                jsonwebtoken::decode::<Claims>(
                    black_box(token),
                    &case.decoding_key,
                    &case.validation,
                )
                .unwrap()
            });
        });
        group.bench_function("floor_fresh", |b| {
            let fresh: Vec<_> = case.fresh_tokens.iter().map(|t| signed_parts(t)).collect();
            let mut next = fresh.iter().cycle();
            b.iter(|| {
                let (input, sig) = next.next().unwrap();
                assert!(case.floor.verify(black_box(input), black_box(sig)));
            });
        });
        group.bench_function("floor", |b| {
            b.iter(|| {
                assert!(case.floor.verify(black_box(signing_input), black_box(&sig)));
            });
        });
        group.finish();
    }
}

/// Each contender's fastest batch, per verify, taking turns so that all three see the
/// same machine; a batch lasts about 100 µs, so most batches run undisturbed.
fn min_of_batches(only: &str) {
    fn batch(iterations: u32, f: &dyn Fn()) -> Duration {
        let start = Instant::now();
        for _ in 0..iterations {
            f();
        }
        start.elapsed()
    }

    println!(
        "alg     jwt_tower  jsonwebtoken     floor  cache_hit cache_miss floor_fresh  ours/jsonwebtoken  ours/floor  hit/HS256 miss/floor_fresh   (ns per verify)"
    );
    let mut hs256 = None;
    for case in cases() {
        if only != "1" && only != case.name {
            continue;
        }
        let token = case.token.as_str();
        let (signing_input, sig) = signed_parts(token);
        let ours = || drop(black_box(case.ours.verify(black_box(token)).unwrap()));
        let theirs = || {
            drop(black_box(
                jsonwebtoken::decode::<Claims>(
                    black_box(token),
                    &case.decoding_key,
                    &case.validation,
                )
                .unwrap(),
            ));
        };
        let floor = || assert!(case.floor.verify(black_box(signing_input), black_box(&sig)));
        let hit = || drop(black_box(case.cached.verify(black_box(token)).unwrap()));
        let next = std::cell::Cell::new(0usize);
        let miss = || {
            let i = next.get();
            next.set((i + 1) % case.fresh_tokens.len());
            drop(black_box(
                case.missing
                    .verify(black_box(&case.fresh_tokens[i]))
                    .unwrap(),
            ));
        };
        // The floor over the same tokens as the misses: ECDSA verification time varies
        // with the signature, so a miss cycling through 256 tokens is compared with the
        // floor cycling through the same 256, not with the one token's floor.
        let fresh: Vec<_> = case.fresh_tokens.iter().map(|t| signed_parts(t)).collect();
        let next_floor = std::cell::Cell::new(0usize);
        let floor_fresh = || {
            let i = next_floor.get();
            next_floor.set((i + 1) % fresh.len());
            let (input, sig) = &fresh[i];
            assert!(case.floor.verify(black_box(input), black_box(sig)));
        };
        let contenders: [&dyn Fn(); 6] = [&ours, &theirs, &floor, &hit, &miss, &floor_fresh];

        let mut best = [f64::INFINITY; 6];
        let iterations: Vec<u32> = contenders
            .iter()
            .map(|f| {
                let once = batch(10, *f).as_secs_f64() / 10.0;
                ((100e-6 / once) as u32).max(1)
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(4);
        while Instant::now() < deadline {
            for (i, f) in contenders.iter().enumerate() {
                let per = batch(iterations[i], *f).as_secs_f64() * 1e9 / f64::from(iterations[i]);
                best[i] = best[i].min(per);
            }
        }
        // The hit's cost against a full HS256 verify (the cheapest algorithm), measured
        // in this same run.
        let hs256 = *hs256.get_or_insert(if case.name == "HS256" {
            best[0]
        } else {
            f64::NAN
        });
        println!(
            "{:6} {:10.0} {:13.0} {:9.0} {:10.0} {:10.0} {:11.0} {:19.3} {:11.3} {:10.3} {:16.3}",
            case.name,
            best[0],
            best[1],
            best[2],
            best[3],
            best[4],
            best[5],
            best[0] / best[1],
            best[0] / best[2],
            best[3] / hs256,
            best[4] / best[5],
        );
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = verify
}

fn main() {
    if let Ok(only) = std::env::var("VERIFY_MIN_OF_BATCHES") {
        min_of_batches(&only);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

/// The same algorithm as jsonwebtoken, the comparison, names it.
fn jwt_alg(alg: Algorithm) -> jsonwebtoken::Algorithm {
    alg.name().parse().unwrap()
}
