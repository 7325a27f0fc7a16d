//! The exchange decision, rule by rule.

use serde_json::json;

use super::*;
use crate::oauth::ClientConfig;

fn gateway() -> Client {
    ClientConfig {
        exchange_audiences: vec!["orders".into(), "billing".into()],
        ..ClientConfig::confidential("gateway", "secret")
    }
    .into_client(0)
    .unwrap()
}

fn request() -> ExchangeRequest<'static> {
    ExchangeRequest {
        subject_token: Some("subject"),
        subject_token_type: Some(ACCESS_TOKEN_TYPE),
        audiences: vec!["orders"],
        ..ExchangeRequest::default()
    }
}

fn serves(audience: &str) -> bool {
    ["api", "orders", "billing", "inventory"].contains(&audience)
}

fn code(request: &ExchangeRequest<'_>, client: &Client) -> OAuthErrorCode {
    request.check(client, serves).unwrap_err().code()
}

fn claims(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

fn alice() -> Map<String, Value> {
    claims(json!({"sub": "alice", "scope": "read write", "exp": 2000}))
}

#[test]
fn a_checked_request_names_its_tokens_and_target() {
    let client = gateway();
    let checked = ExchangeRequest {
        actor_token: Some("actor"),
        actor_token_type: Some(JWT_TOKEN_TYPE),
        requested_token_type: Some(ACCESS_TOKEN_TYPE),
        ..request()
    }
    .check(&client, serves)
    .unwrap();
    assert_eq!(checked.subject_token(), "subject");
    assert_eq!(checked.actor_token(), Some("actor"));
    assert_eq!(checked.audience(), "orders");
    // `resource` names a target as `audience` does; the same one twice is one.
    let by_resource = ExchangeRequest {
        audiences: vec!["billing"],
        resources: vec!["billing"],
        ..request()
    };
    assert_eq!(
        by_resource.check(&client, serves).unwrap().audience(),
        "billing"
    );
}

#[test]
fn only_confidential_clients_with_the_grant_exchange() {
    let public = ClientConfig {
        client_secret: None,
        ..ClientConfig::confidential("cli", "x")
    }
    .into_client(0)
    .unwrap();
    assert_eq!(
        code(&request(), &public),
        OAuthErrorCode::UnauthorizedClient
    );
    let plain = ClientConfig::confidential("svc", "secret")
        .into_client(0)
        .unwrap();
    assert_eq!(code(&request(), &plain), OAuthErrorCode::UnauthorizedClient);
    // A record with the audiences but not the grant (as stored, unchecked).
    let mut no_grant = gateway();
    no_grant.grant_types.retain(|g| g != TOKEN_EXCHANGE);
    assert_eq!(
        code(&request(), &no_grant),
        OAuthErrorCode::UnauthorizedClient
    );
}

#[test]
fn malformed_requests_are_invalid_request() {
    let client = gateway();
    for bad in [
        ExchangeRequest {
            subject_token: None,
            ..request()
        },
        ExchangeRequest {
            subject_token_type: None,
            ..request()
        },
        ExchangeRequest {
            subject_token_type: Some(JWT_TOKEN_TYPE),
            ..request()
        },
        ExchangeRequest {
            subject_token_type: Some("urn:ietf:params:oauth:token-type:refresh_token"),
            ..request()
        },
        ExchangeRequest {
            actor_token: Some("actor"),
            ..request()
        },
        ExchangeRequest {
            actor_token_type: Some(ACCESS_TOKEN_TYPE),
            ..request()
        },
        ExchangeRequest {
            actor_token: Some("actor"),
            actor_token_type: Some("urn:ietf:params:oauth:token-type:id_token"),
            ..request()
        },
        ExchangeRequest {
            requested_token_type: Some("urn:ietf:params:oauth:token-type:refresh_token"),
            ..request()
        },
        ExchangeRequest {
            audiences: vec![],
            ..request()
        },
    ] {
        assert_eq!(
            code(&bad, &client),
            OAuthErrorCode::InvalidRequest,
            "{bad:?}"
        );
    }
}

#[test]
fn one_target_served_and_listed() {
    let client = gateway();
    let to = |audiences: Vec<&'static str>, resources: Vec<&'static str>| ExchangeRequest {
        audiences,
        resources,
        ..request()
    };
    assert_eq!(
        code(&to(vec!["orders", "billing"], vec![]), &client),
        OAuthErrorCode::InvalidTarget
    );
    assert_eq!(
        code(&to(vec!["orders"], vec!["billing"]), &client),
        OAuthErrorCode::InvalidTarget
    );
    assert_eq!(
        code(&to(vec!["elsewhere"], vec![]), &client),
        OAuthErrorCode::InvalidTarget
    );
    // Served, but not among the client's exchange audiences.
    assert_eq!(
        code(&to(vec![], vec!["inventory"]), &client),
        OAuthErrorCode::UnauthorizedClient
    );
    // Listed by the client but not served (any more): not a target.
    let mut stale = gateway();
    stale.exchange_audiences.push("retired".into());
    assert_eq!(
        code(&to(vec!["retired"], vec![]), &stale),
        OAuthErrorCode::InvalidTarget
    );
}

#[test]
fn the_grant_keeps_the_subject_and_narrows_the_scope() {
    let client = gateway();
    let checked = request().check(&client, serves).unwrap();
    let grant = checked.grant(&alice(), None).unwrap();
    assert_eq!(
        grant,
        ExchangeGrant {
            subject: "alice".into(),
            audience: "orders".into(),
            scope: "read write".into(),
            act: json!({"sub": "gateway"}),
            expires_at: 2000,
        }
    );
    let narrowed = ExchangeRequest {
        scope: Some("write"),
        ..request()
    };
    let grant = narrowed
        .check(&client, serves)
        .unwrap()
        .grant(&alice(), None);
    assert_eq!(grant.unwrap().scope, "write");
}

#[test]
fn more_scope_than_the_subject_had_is_invalid_scope() {
    let client = gateway();
    for scope in ["read admin", "admin", "rea", "read  write"] {
        let request = ExchangeRequest {
            scope: Some(scope),
            ..request()
        };
        let checked = request.check(&client, serves).unwrap();
        assert_eq!(
            checked.grant(&alice(), None).unwrap_err().code(),
            OAuthErrorCode::InvalidScope,
            "{scope}"
        );
    }
    // A subject token without scope grants none and allows none to be asked.
    let bare = claims(json!({"sub": "alice", "exp": 2000}));
    let checked = request().check(&client, serves).unwrap();
    assert_eq!(checked.grant(&bare, None).unwrap().scope, "");
    let asking = ExchangeRequest {
        scope: Some("read"),
        ..request()
    };
    let checked = asking.check(&client, serves).unwrap();
    assert_eq!(
        checked.grant(&bare, None).unwrap_err().code(),
        OAuthErrorCode::InvalidScope
    );
}

#[test]
fn act_nests_the_prior_actors_inside_the_current_one() {
    let client = gateway();
    let checked = request().check(&client, serves).unwrap();
    let exchanged_once = claims(json!({
        "sub": "alice", "scope": "read", "exp": 2000,
        "act": {"sub": "frontend", "act": {"sub": "edge"}}
    }));
    let grant = checked.grant(&exchanged_once, None).unwrap();
    assert_eq!(
        grant.act,
        json!({"sub": "gateway", "act": {"sub": "frontend", "act": {"sub": "edge"}}})
    );
    let odd = claims(json!({"sub": "alice", "exp": 2000, "act": "frontend"}));
    assert_eq!(
        checked.grant(&odd, None).unwrap_err().code(),
        OAuthErrorCode::InvalidRequest
    );
}

#[test]
fn an_actor_token_names_the_actor_and_caps_the_lifetime() {
    let client = gateway();
    let request = ExchangeRequest {
        actor_token: Some("actor"),
        actor_token_type: Some(ACCESS_TOKEN_TYPE),
        ..request()
    };
    let checked = request.check(&client, serves).unwrap();
    let actor = claims(json!({
        "sub": "batch-job", "client_id": "gateway", "exp": 1500, "act": {"sub": "x"}
    }));
    let grant = checked.grant(&alice(), Some(&actor)).unwrap();
    assert_eq!(grant.act, json!({"sub": "batch-job"}));
    assert_eq!(grant.expires_at, 1500);
    let later = claims(json!({"sub": "batch-job", "client_id": "gateway", "exp": 9000}));
    assert_eq!(
        checked.grant(&alice(), Some(&later)).unwrap().expires_at,
        2000
    );
    // The client's own client-credentials token: its sub is the client id.
    let own = claims(json!({"sub": "gateway", "exp": 9000}));
    assert_eq!(
        checked.grant(&alice(), Some(&own)).unwrap().act,
        json!({"sub": "gateway"})
    );
    let nameless = claims(json!({"client_id": "gateway", "exp": 9000}));
    assert_eq!(
        checked.grant(&alice(), Some(&nameless)).unwrap_err().code(),
        OAuthErrorCode::InvalidRequest
    );
}

#[test]
fn an_actor_token_of_another_client_is_invalid_request() {
    let client = gateway();
    let request = ExchangeRequest {
        actor_token: Some("actor"),
        actor_token_type: Some(ACCESS_TOKEN_TYPE),
        ..request()
    };
    let checked = request.check(&client, serves).unwrap();
    for other in [
        json!({"sub": "reports", "exp": 9000}),
        json!({"sub": "reports", "client_id": "reports", "exp": 9000}),
        json!({"sub": "batch-job", "client_id": "reports", "exp": 9000}),
        json!({"sub": "batch-job", "client_id": 7, "exp": 9000}),
    ] {
        let err = checked
            .grant(&alice(), Some(&claims(other.clone())))
            .unwrap_err();
        assert_eq!(err.code(), OAuthErrorCode::InvalidRequest, "{other}");
        assert!(err.description().contains("does not belong"), "{other}");
    }
}

#[test]
fn a_subject_token_without_sub_or_exp_is_invalid_request() {
    let client = gateway();
    let checked = request().check(&client, serves).unwrap();
    for bad in [
        json!({"scope": "read", "exp": 2000}),
        json!({"sub": "", "exp": 2000}),
        json!({"sub": 7, "exp": 2000}),
        json!({"sub": "alice"}),
        json!({"sub": "alice", "exp": "2000"}),
        json!({"sub": "alice", "exp": 2000, "scope": ["read"]}),
    ] {
        assert_eq!(
            checked
                .grant(&claims(bad.clone()), None)
                .unwrap_err()
                .code(),
            OAuthErrorCode::InvalidRequest,
            "{bad}"
        );
    }
}
