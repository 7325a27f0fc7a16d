//! Heap allocations per verification, counted by a global allocator (dhat's, in its
//! testing mode), so that no avoidable allocation creeps back onto the request path.
//!
//! `cargo bench -p jwt-tower --bench allocations`
//!
//! For each algorithm it prints the allocations (blocks) and bytes per call of:
//! - `verify`: a full verification, no cache (what `jsonwebtoken::decode` is compared to);
//! - `registered`: the same with `Verifier<RegisteredClaims>`, its claims not read (an
//!   application reading only the identity or the scopes, as through the layer);
//! - `cache hit`: a token seen before, answered by the verified-token cache;
//! - `cache miss`: a full verification plus storing the token;
//! - `layer`: one request through `JwtLayer` (with `propagate` on) minus the same request
//!   through the bare inner service, i.e. what the layer adds;
//! - `jsonwebtoken`: `jsonwebtoken::decode` of the same token, same validation.
//!
//! The claims type owns four `String`s, so deserializing it costs four allocations in any
//! library; ours adds two: the `Arc` shared by `VerifiedToken` and `Identity`, and one
//! buffer holding every string fact (token, `sub`, `iss`, scopes). The run fails if those
//! numbers grow. `RegisteredClaims` are built from those facts on first use only, so
//! verifying with it costs our two alone until someone reads them.

use std::convert::Infallible;
use std::hint::black_box;

use http::{Request, Response};
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use jwt_tower::{Algorithm, JwtLayer, RegisteredClaims, VerificationKey, Verifier};
use serde::{Deserialize, Serialize};
use tower::{Layer as _, Service as _, ServiceExt as _};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const SECRET: &[u8; 64] = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "orders-api";
const ROUNDS: u64 = 200;

/// The claims of `benches/verify.rs`: four owned strings, two numbers.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    aud: String,
    exp: u64,
    iat: u64,
    scope: String,
}

fn pem(name: &str) -> String {
    let path = format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Keys for `alg`: to sign, to verify (ours), to verify (jsonwebtoken).
fn keys(alg: Algorithm) -> (EncodingKey, VerificationKey, DecodingKey) {
    let files = match alg {
        Algorithm::HS256 => {
            return (
                EncodingKey::from_secret(SECRET).unwrap(),
                VerificationKey::hmac(alg, SECRET).unwrap(),
                DecodingKey::from_secret(SECRET).unwrap(),
            );
        }
        Algorithm::RS256 => ("rsa2048-private.pem", "rsa2048-public.pem"),
        Algorithm::ES256 => ("p256-private.pem", "p256-public.pem"),
        _ => ("ed25519-private.pem", "ed25519-public.pem"),
    };
    let (private, public) = (pem(files.0), pem(files.1));
    let (encoding, decoding) = match alg {
        Algorithm::RS256 => (
            EncodingKey::from_rsa_pem(private.as_bytes()).unwrap(),
            DecodingKey::from_rsa_pem(public.as_bytes()).unwrap(),
        ),
        Algorithm::ES256 => (
            EncodingKey::from_ec_pem(private.as_bytes()).unwrap(),
            DecodingKey::from_ec_pem(public.as_bytes()).unwrap(),
        ),
        _ => (
            EncodingKey::from_ed_pem(private.as_bytes()).unwrap(),
            DecodingKey::from_ed_pem(public.as_bytes()).unwrap(),
        ),
    };
    (
        encoding,
        VerificationKey::from_pem(alg, public).unwrap(),
        decoding,
    )
}

fn token(alg: Algorithm, key: &EncodingKey, n: u64) -> String {
    let now = jsonwebtoken::get_current_timestamp();
    let claims = Claims {
        sub: format!("user-{n:08}"),
        iss: ISSUER.to_owned(),
        aud: AUDIENCE.to_owned(),
        exp: now + 3600,
        iat: now,
        scope: "orders:read orders:write profile".to_owned(),
    };
    jsonwebtoken::encode(&Header::new(jwt_alg(alg)), &claims, key).unwrap()
}

fn verifier<C>(key: VerificationKey, alg: Algorithm, cache: usize) -> Verifier<C> {
    Verifier::builder(key)
        .algorithms([alg])
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .cache(cache)
        .build()
        .unwrap()
}

/// (blocks, bytes) allocated per call of `f`, over `ROUNDS` calls after one warm-up.
fn per_call(mut f: impl FnMut(u64)) -> (f64, f64) {
    f(0);
    let before = dhat::HeapStats::get();
    for i in 1..=ROUNDS {
        f(i);
    }
    let after = dhat::HeapStats::get();
    (
        (after.total_blocks - before.total_blocks) as f64 / ROUNDS as f64,
        (after.total_bytes - before.total_bytes) as f64 / ROUNDS as f64,
    )
}

fn request(token: &str) -> Request<()> {
    Request::builder()
        .uri("/me")
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .unwrap()
}

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();

    println!("allocations (bytes) per call");
    println!(
        "{:6} {:>14} {:>14} {:>14} {:>14} {:>14} {:>14}",
        "alg", "verify", "registered", "cache hit", "cache miss", "layer", "jsonwebtoken"
    );
    for alg in [
        Algorithm::HS256,
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
    ] {
        let (encoding, ours_key, decoding) = keys(alg);
        let token = token(alg, &encoding, 0);
        // Distinct tokens for misses, more than the cache holds.
        let misses: Vec<String> = (0..64).map(|n| self::token(alg, &encoding, n)).collect();

        let plain = verifier::<Claims>(ours_key.clone(), alg, 0);
        let verify = per_call(|_| drop(black_box(plain.verify(&token).unwrap())));
        let registered = verifier::<RegisteredClaims>(ours_key.clone(), alg, 0);
        let unread = per_call(|_| drop(black_box(registered.verify(&token).unwrap())));

        let cached = verifier::<Claims>(ours_key.clone(), alg, 1024);
        let hit = per_call(|_| drop(black_box(cached.verify(&token).unwrap())));

        let small = verifier::<Claims>(ours_key.clone(), alg, 4);
        let miss = per_call(|i| {
            let token = &misses[(i % 64) as usize];
            drop(black_box(small.verify(token).unwrap()));
        });

        // What the layer adds: the same request with and without it, both driven the
        // same way.
        let inner = tower::service_fn(|_req: Request<()>| async {
            Ok::<_, Infallible>(Response::new(bytes::Bytes::new()))
        });
        let layered = JwtLayer::new(verifier::<Claims>(ours_key, alg, 0)).layer(inner);
        let bare = per_call(|_| {
            let mut service = inner;
            let response = runtime.block_on(async {
                service.ready().await.unwrap();
                service.call(request(&token)).await.unwrap()
            });
            drop(black_box(response));
        });
        let through = per_call(|_| {
            let mut service = layered.clone();
            let response = runtime.block_on(async {
                service.ready().await.unwrap();
                service.call(request(&token)).await.unwrap()
            });
            assert_eq!(response.status(), 200);
            drop(black_box(response));
        });
        let layer = (through.0 - bare.0, through.1 - bare.1);

        let mut validation = Validation::new(jwt_alg(alg));
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        let theirs = per_call(|_| {
            drop(black_box(
                jsonwebtoken::decode::<Claims>(&token, &decoding, &validation).unwrap(),
            ));
        });

        let cell = |(blocks, bytes): (f64, f64)| format!("{blocks:.1} ({bytes:.0})");
        println!(
            "{:6} {:>14} {:>14} {:>14} {:>14} {:>14} {:>14}",
            format!("{alg:?}"),
            cell(verify),
            cell(unread),
            cell(hit),
            cell(miss),
            cell(layer),
            cell(theirs)
        );

        // The budget: claims (4 strings) + our 2; nothing at all on a hit.
        assert!(
            verify.0 <= 6.0,
            "{alg:?}: {} allocations per verify",
            verify.0
        );
        assert!(
            unread.0 <= 2.0,
            "{alg:?}: {} allocations per verify with RegisteredClaims unread",
            unread.0
        );
        assert!(hit.0 == 0.0, "{alg:?}: {} allocations per cache hit", hit.0);
    }
}

/// The same algorithm as jsonwebtoken, the comparison, names it.
fn jwt_alg(alg: Algorithm) -> jsonwebtoken::Algorithm {
    alg.name().parse().unwrap()
}
