//! The `EXCHANGE_*` variables, incomplete or wrong: the example exits with one line
//! naming the variable.

use crate::support::process::run_to_exit;

/// `JWT_*` enough to start, and an upstream for each example.
fn base(name: &str) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("JWT_HS256_SECRET", "s".repeat(32)),
        ("JWT_ALGORITHMS", "HS256".to_owned()),
    ];
    env.push(match name {
        "gateway" => ("UPSTREAM_GRPC_URL", "http://127.0.0.1:1".to_owned()),
        _ => ("DOWNSTREAM_URL", "http://127.0.0.1:1".to_owned()),
    });
    env
}

#[test]
fn incomplete_exchange_settings_exit_with_one_line() {
    let complete = [
        ("EXCHANGE_TOKEN_URL", "http://127.0.0.1:1/token"),
        ("EXCHANGE_CLIENT_ID", "gateway"),
        ("EXCHANGE_CLIENT_SECRET", "secret"),
        ("EXCHANGE_AUDIENCE", "svc-a"),
    ];
    let without = |name: &str| -> Vec<(&'static str, String)> {
        complete
            .iter()
            .filter(|(k, _)| *k != name)
            .map(|(k, v)| (*k, (*v).to_owned()))
            .collect()
    };
    let mut cases: Vec<(Vec<(&'static str, String)>, &str)> = [
        "EXCHANGE_CLIENT_ID",
        "EXCHANGE_CLIENT_SECRET",
        "EXCHANGE_AUDIENCE",
    ]
    .into_iter()
    .map(|missing| (without(missing), missing))
    .collect();
    cases.push((
        vec![("EXCHANGE_CLIENT_ID", "gateway".to_owned())],
        "EXCHANGE_TOKEN_URL",
    ));
    let mut bad_url = without("EXCHANGE_TOKEN_URL");
    bad_url.push(("EXCHANGE_TOKEN_URL", "auth.internal/token".to_owned()));
    cases.push((bad_url, "EXCHANGE_TOKEN_URL"));

    for name in ["gateway", "grpc_service"] {
        for (exchange, variable) in &cases {
            let mut env = base(name);
            env.extend(exchange.iter().cloned());
            let output = run_to_exit(name, &env);
            assert!(!output.status.success(), "{name} {variable}");
            let stderr = String::from_utf8_lossy(&output.stderr);
            let lines: Vec<_> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
            assert_eq!(lines.len(), 1, "{name}: {stderr}");
            assert!(
                lines[0].starts_with("configuration error:") && lines[0].contains(variable),
                "{name} {variable}: {stderr}"
            );
        }
    }
    // grpc_service exchanges only for its downstream: one is required.
    let mut env = base("grpc_service");
    env.retain(|(k, _)| *k != "DOWNSTREAM_URL");
    env.extend(complete.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let output = run_to_exit("grpc_service", &env);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("DOWNSTREAM_URL"));
}
