//! A gRPC client not written with tonic: Python's grpcio (from PyPI; `.ci/run` installs
//! it) against `examples/grpc_service` as a process sees the same statuses as tonic.
//!
//! Without grpcio the test is skipped with a notice, except under CI (`CI` set), where
//! a missing grpcio fails it.

mod support;

use std::process::Command;

use serde_json::{Value, json};
use support::process::{free_addr, start_listening};
use support::*;

/// Calls each `(method, token)` with grpcio's generic unary API (empty request messages,
/// raw response bytes), and prints `[{"code": NAME, "details": …, "body": HEX}]`.
const CLIENT: &str = r#"
import json, sys
import grpc
address, cases = sys.argv[1], json.loads(sys.argv[2])
results = []
with grpc.insecure_channel(address) as channel:
    for method, token in cases:
        call = channel.unary_unary(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        metadata = [("authorization", "Bearer " + token)] if token else []
        try:
            body = call(b"", metadata=metadata, timeout=30)
            results.append({"code": "OK", "body": body.hex()})
        except grpc.RpcError as error:
            results.append({"code": error.code().name, "details": error.details()})
print(json.dumps(results))
"#;

fn grpcio_available() -> bool {
    Command::new("python3")
        .args(["-c", "import grpc"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn python_calls(addr: &str, cases: &Value) -> Vec<Value> {
    let output = Command::new("python3")
        .args(["-c", CLIENT, addr, &cases.to_string()])
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "python client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice::<Vec<Value>>(&output.stdout).unwrap()
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn grpcio_sees_the_same_statuses() {
    if !grpcio_available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "grpcio is required under CI: python3 -m pip install grpcio"
        );
        eprintln!(
            "NOTICE: skipping grpcio_sees_the_same_statuses: python3 with grpcio not found (pip install grpcio)"
        );
        return;
    }
    let env = |keys: (&'static str, String)| {
        vec![
            keys,
            ("JWT_ALGORITHMS", "HS256".to_owned()),
            ("JWT_KID", "k1".to_owned()),
        ]
    };
    let secret = std::str::from_utf8(SECRET).unwrap().to_owned();
    let service = start_listening("grpc_service", &env(("JWT_HS256_SECRET", secret))).await;
    // Keys from a JWKS endpoint that is not there: never loaded.
    let no_keys = start_listening(
        "grpc_service",
        &env(("JWT_JWKS_URL", format!("http://{}/jwks.json", free_addr()))),
    )
    .await;

    let user = mint_hs256("k1", &claims("alice", "read"));
    let admin = mint_hs256("k1", &claims("root", "admin"));
    let expired = mint_hs256("k1", &json!({"sub": "alice", "exp": now() - 3600}));
    let cases = json!([
        ["/identity.v1.Identity/WhoAmI", null],
        ["/identity.v1.Identity/WhoAmI", expired],
        ["/identity.v1.Identity/WhoAmI", "garbage"],
        ["/identity.v1.Identity/WhoAmI", user],
        ["/identity.v1.Identity/Admin", user],
        ["/identity.v1.Identity/Admin", admin],
        ["/grpc.health.v1.Health/Check", null],
    ]);
    let results = python_calls(&service.addr, &cases);
    let codes: Vec<&str> = results
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "UNAUTHENTICATED",
            "UNAUTHENTICATED",
            "UNAUTHENTICATED",
            "OK",
            "PERMISSION_DENIED",
            "OK",
            "OK"
        ],
        "{results:?}"
    );
    assert_eq!(results[1]["details"], "the token has expired");
    for result in &results {
        let details = result["details"].as_str().unwrap_or_default();
        assert!(!details.contains(&expired) && !details.contains(&user));
    }
    // WhoAmIResponse field 1 (subject) = "alice"; HealthCheckResponse status = SERVING (1).
    assert!(
        results[3]["body"]
            .as_str()
            .unwrap()
            .starts_with(&format!("0a05{}", hex("alice")))
    );
    assert!(
        results[5]["body"]
            .as_str()
            .unwrap()
            .starts_with(&format!("0a04{}", hex("root")))
    );
    assert_eq!(results[6]["body"], "0801");

    let results = python_calls(
        &no_keys.addr,
        &json!([
            ["/identity.v1.Identity/WhoAmI", user],
            ["/grpc.health.v1.Health/Check", null]
        ]),
    );
    assert_eq!(results[0]["code"], "UNAVAILABLE", "{results:?}");
    assert_eq!(results[1]["code"], "OK", "{results:?}");
}
