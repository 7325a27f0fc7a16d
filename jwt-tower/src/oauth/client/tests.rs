//! Clients: redirect-URI rules, registration, configured clients.

use super::*;

#[test]
fn redirect_uri_rules() {
    for ok in [
        "http://127.0.0.1/cb",
        "http://127.0.0.1:1/cb?x=1",
        "http://localhost:65535/",
        "http://LOCALHOST/cb",
        "http://[::1]/cb",
        "https://example.com/cb",
        "https://example.com:8443/a/b?c=d",
    ] {
        assert!(is_allowed_redirect_uri(ok), "{ok}");
    }
    for bad in [
        "http://example.com/cb",
        "http://127.0.0.2/cb",
        "http://localhost.example.com/cb",
        "http://[::2]/cb",
        "https://example.com/cb#x",
        "https://user:pw@example.com/cb",
        "ftp://127.0.0.1/cb",
        "javascript:alert(1)",
        "com.example.app:/oauth",
        "/relative",
        "",
    ] {
        assert!(!is_allowed_redirect_uri(bad), "{bad}");
    }
}

fn registration(json: &str) -> Result<Client, OAuthError> {
    serde_json::from_str::<ClientRegistration>(json)
        .unwrap()
        .register("id".into(), 5)
}

#[test]
fn registration_accepts_what_mcp_clients_send() {
    let client = registration(
        r#"{"redirect_uris":["http://localhost:3030/callback"],"token_endpoint_auth_method":"client_secret_post",
           "grant_types":["authorization_code","refresh_token"],"response_types":["code"],
           "scope":"orders.read orders.write","client_name":"MCP client","application_type":"native"}"#,
    )
    .unwrap();
    assert!(client.is_public());
    assert_eq!(client.scope.as_deref(), Some("orders.read orders.write"));
    let response = client.registration_response();
    assert_eq!(response["client_id"], "id");
    assert_eq!(response["client_id_issued_at"], 5);
    assert_eq!(response["token_endpoint_auth_method"], "none");
    assert!(response.get("client_secret").is_none());
    assert_eq!(
        response["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
}

#[test]
fn registration_without_grant_types_gets_codes_and_refresh_tokens() {
    let client = registration(r#"{"redirect_uris":["http://127.0.0.1/cb"]}"#).unwrap();
    assert!(client.allows_grant(AUTHORIZATION_CODE));
    assert!(client.allows_grant(REFRESH_TOKEN));
    assert_eq!(
        client.registration_response()["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
}

#[test]
fn registration_refuses_bad_metadata() {
    let code = |json: &str| registration(json).unwrap_err().code();
    assert_eq!(code(r#"{}"#), OAuthErrorCode::InvalidRedirectUri);
    assert_eq!(
        code(r#"{"redirect_uris":["http://example.com/cb"]}"#),
        OAuthErrorCode::InvalidRedirectUri
    );
    let uri = r#""redirect_uris":["http://127.0.0.1/cb"]"#;
    for extra in [
        r#""grant_types":["client_credentials"]"#,
        r#""grant_types":["implicit"]"#,
        r#""grant_types":[]"#,
        r#""response_types":["token"]"#,
        r#""scope":"a  b""#,
    ] {
        assert_eq!(
            code(&format!("{{{uri},{extra}}}")),
            OAuthErrorCode::InvalidClientMetadata,
            "{extra}"
        );
    }
}

#[test]
fn configured_clients_are_checked_and_their_secret_hashed() {
    let client = ClientConfig::confidential("svc", "secret")
        .into_client(0)
        .unwrap();
    assert_ne!(client.secret_hash.as_deref(), Some("secret"));
    assert!(client.verify_secret("secret"));
    assert!(!client.verify_secret(""));
    assert!(client.allows_grant(CLIENT_CREDENTIALS));
    let public = ClientConfig {
        client_secret: None,
        ..ClientConfig::confidential("cli", "x")
    };
    let public_client = public.clone().into_client(0).unwrap();
    assert!(!public_client.verify_secret(""));
    assert!(!public_client.allows_grant(CLIENT_CREDENTIALS));
    let bad = ClientConfig {
        grant_types: Some(vec![CLIENT_CREDENTIALS.into()]),
        ..public
    };
    assert!(bad.into_client(0).unwrap_err().contains("client_secret"));
}

fn exchanging(audiences: &[&str], grants: Option<&[&str]>) -> ClientConfig {
    ClientConfig {
        exchange_audiences: audiences.iter().map(|a| (*a).to_owned()).collect(),
        grant_types: grants.map(|g| g.iter().map(|g| (*g).to_owned()).collect()),
        ..ClientConfig::confidential("gw", "secret")
    }
}

#[test]
fn exchange_audiences_bring_the_grant_to_confidential_clients_only() {
    let client = exchanging(&["orders"], None).into_client(0).unwrap();
    assert!(client.allows_grant(TOKEN_EXCHANGE));
    assert!(client.may_exchange_for("orders"));
    assert!(!client.may_exchange_for("order"));
    assert!(!client.may_exchange_for("billing"));
    // Listing grants explicitly: the exchange grant must be among them.
    let only = exchanging(&["orders"], Some(&[TOKEN_EXCHANGE]))
        .into_client(0)
        .unwrap();
    assert_eq!(only.grant_types, [TOKEN_EXCHANGE]);
    assert!(only.may_exchange_for("orders"));
    for (config, why) in [
        (
            exchanging(&["orders"], Some(&[CLIENT_CREDENTIALS])),
            "go together",
        ),
        (exchanging(&[], Some(&[TOKEN_EXCHANGE])), "go together"),
        (exchanging(&[""], None), "empty"),
        (
            ClientConfig {
                client_secret: None,
                ..exchanging(&["orders"], None)
            },
            "client_secret",
        ),
    ] {
        let error = config.into_client(0).unwrap_err();
        assert!(error.contains(why), "{error}");
    }
    // Without the field, a client exchanges nothing; a record stored before the
    // field existed reads the same.
    let plain = ClientConfig::confidential("svc", "secret")
        .into_client(0)
        .unwrap();
    assert!(!plain.allows_grant(TOKEN_EXCHANGE));
    let mut stored = serde_json::to_value(&plain).unwrap();
    assert!(stored.get("exchange_audiences").is_none());
    stored["grant_types"] = json!([TOKEN_EXCHANGE]);
    let read: Client = serde_json::from_value(stored).unwrap();
    assert!(read.exchange_audiences.is_empty());
    assert!(!read.may_exchange_for("orders"));
}

#[test]
fn registered_clients_never_exchange() {
    let client = registration(r#"{"redirect_uris":["http://127.0.0.1/cb"]}"#).unwrap();
    assert!(client.exchange_audiences.is_empty());
    assert!(!client.may_exchange_for("api"));
    assert_eq!(
        registration(&format!(
            r#"{{"redirect_uris":["http://127.0.0.1/cb"],"grant_types":["{TOKEN_EXCHANGE}"]}}"#
        ))
        .unwrap_err()
        .code(),
        OAuthErrorCode::InvalidClientMetadata
    );
}
