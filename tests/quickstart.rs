//! `cargo run --example quickstart` on embedded defaults: the whole flow works.

mod support;

use serde_json::{Value, json};
use support::process::start;
use support::*;

#[tokio::test]
async fn login_call_refresh_logout() {
    let app = start("quickstart", &[]).await;
    let base = app.base();
    let login: Value = http()
        .post(format!("{base}/login"))
        .json(&json!({"username": "bob", "password": "bob-password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = login["access_token"].as_str().unwrap();
    let me = send(http().get(format!("{base}/me")).bearer_auth(access)).await;
    assert_eq!((me.status, me.json()["sub"].clone()), (200, json!("bob")));
    assert_eq!(
        send(http().get(format!("{base}/admin")).bearer_auth(access))
            .await
            .status,
        200
    );
    assert_eq!(send(http().get(format!("{base}/me"))).await.status, 401);

    let refreshed = send(
        http()
            .post(format!("{base}/refresh"))
            .json(&json!({"refresh_token": login["refresh_token"]})),
    )
    .await;
    assert_eq!(refreshed.status, 200);
    let logout = send(
        http()
            .post(format!("{base}/logout"))
            .bearer_auth(access)
            .json(&json!({"refresh_token": refreshed.json()["refresh_token"]})),
    )
    .await;
    assert_eq!(logout.status, 200);
    let after = send(http().get(format!("{base}/me")).bearer_auth(access)).await;
    assert_eq!(after.status, 401);
    assert!(after.challenge.unwrap().contains("revoked"));
}
