//! `examples/auth_server` as a standard OAuth authorization server, over real sockets:
//! RFC 8414 metadata, the authorization-code flow with PKCE through the login form,
//! the token endpoint's grants and client authentication methods, refresh rotation and
//! reuse detection, RFC 7591 registration, and every refusal in its RFC form. Access
//! tokens are checked with jwt-tower's verifier against the server's JWKS.

mod support;

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jwt_tower::{Algorithm, KeySet, Verifier};
use serde_json::{Value, json};
use support::process::{Running, run_to_exit, start};
use support::redis::Redis;
use support::*;

const MCP: &str = "https://mcp.example.com/mcp";
const CALLBACK: &str = "http://127.0.0.1:9/callback";
const WEB_CALLBACK: &str = "https://app.example.com/cb";
/// A secret with every character form-urlencoding changes (32 bytes: the shortest
/// accepted).
const REPORTS_SECRET: &str = "r3p/rt&s=cret+ %r3p/rt&s=cret+ %";
const WEB_SECRET: &str = "web-secret-0123456789abcdefghijkl";

const USERS: &str = "alice:alice-password:orders.read profile;\
                     bob:bob-password:orders.read orders.write admin";

/// The clients file, written once for the whole test binary (tests run at once).
fn clients_file() -> String {
    static PATH: LazyLock<String> = LazyLock::new(write_clients_file);
    PATH.clone()
}

fn write_clients_file() -> String {
    let path = std::env::temp_dir().join(format!("oauth-clients-{}.json", std::process::id()));
    let clients = json!([
        {"client_id": "cli", "redirect_uris": [CALLBACK]},
        {"client_id": "narrow", "redirect_uris": [CALLBACK], "scope": "orders.read"},
        {"client_id": "web", "client_secret": WEB_SECRET, "redirect_uris": [WEB_CALLBACK],
         "scope": "orders.read orders.write"},
        {"client_id": "reports", "client_secret": REPORTS_SECRET, "scope": "orders.read",
         "grant_types": ["client_credentials"]},
    ]);
    std::fs::write(&path, clients.to_string()).unwrap();
    path.to_string_lossy().into_owned()
}

fn env(extra: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("DEMO_USERS", USERS.to_owned()),
        ("JWT_AUDIENCE", "api".to_owned()),
        ("OAUTH_RESOURCES", format!("{MCP},api")),
        ("OAUTH_CLIENTS_FILE", clients_file()),
        ("LOGIN_ATTEMPTS_PER_USER", "100".to_owned()),
        ("LOGIN_ATTEMPTS_PER_ADDRESS", "100".to_owned()),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    env
}

async fn auth_server(extra: &[(&'static str, &str)]) -> Running {
    start("auth_server", &env(extra)).await
}

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    static CLIENT: LazyLock<reqwest::Client> = LazyLock::new(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    });
    CLIENT.clone()
}

/// `pairs` form-urlencoded (by the url crate, independently of the server's parser).
fn form(pairs: &[(&str, &str)]) -> String {
    let mut url = reqwest::Url::parse("http://form.invalid/").unwrap();
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_owned()
}

/// A PKCE verifier and its S256 challenge, computed here with aws-lc-rs.
fn pkce(seed: &str) -> (String, String) {
    let verifier = format!("{seed}-{}", "v".repeat(50));
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    (verifier, URL_SAFE_NO_PAD.encode(digest))
}

/// An authorization request's query.
struct Authorize<'a> {
    client_id: &'a str,
    redirect_uri: &'a str,
    scope: Option<&'a str>,
    resource: Option<&'a str>,
    challenge: String,
    extra: Vec<(&'a str, &'a str)>,
}

impl<'a> Authorize<'a> {
    fn new(client_id: &'a str, challenge: &str) -> Self {
        Self {
            client_id,
            redirect_uri: CALLBACK,
            scope: None,
            resource: None,
            challenge: challenge.to_owned(),
            extra: Vec::new(),
        }
    }

    fn query(&self) -> String {
        let mut pairs = vec![
            ("response_type", "code"),
            ("client_id", self.client_id),
            ("redirect_uri", self.redirect_uri),
            ("state", "st@te 1"),
            ("code_challenge", &self.challenge),
            ("code_challenge_method", "S256"),
        ];
        if let Some(scope) = self.scope {
            pairs.push(("scope", scope));
        }
        if let Some(resource) = self.resource {
            pairs.push(("resource", resource));
        }
        for (name, value) in &self.extra {
            pairs.retain(|(n, _)| n != name);
            if !value.is_empty() {
                pairs.push((name, value));
            }
        }
        form(&pairs)
    }
}

async fn get_authorize(base: &str, query: &str) -> reqwest::Response {
    no_redirects()
        .get(format!("{base}/authorize?{query}"))
        .send()
        .await
        .unwrap()
}

async fn post_authorize(base: &str, query: &str, user: &str, password: &str) -> reqwest::Response {
    no_redirects()
        .post(format!("{base}/authorize?{query}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("username", user), ("password", password)]))
        .send()
        .await
        .unwrap()
}

/// The query parameters of a redirect's `Location`, and the location without its query.
fn redirected(response: &reqwest::Response) -> (String, Vec<(String, String)>) {
    assert_eq!(response.status(), 303, "a redirect to the client");
    let location = response.headers()["location"].to_str().unwrap();
    let url = reqwest::Url::parse(location).unwrap();
    let pairs = url.query_pairs().into_owned().collect();
    let mut bare = url.clone();
    bare.set_query(None);
    (bare.to_string(), pairs)
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Logs `user` in through the form and returns the code of the redirect, after checking
/// the redirect's target, `state` and `iss`.
async fn code_for(base: &str, request: &Authorize<'_>, user: &str, password: &str) -> String {
    let response = post_authorize(base, &request.query(), user, password).await;
    let (target, pairs) = redirected(&response);
    assert_eq!(target, request.redirect_uri);
    assert_eq!(param(&pairs, "state"), Some("st@te 1"));
    assert_eq!(param(&pairs, "iss"), Some(base), "RFC 9207 iss");
    param(&pairs, "code")
        .unwrap_or_else(|| panic!("no code: {pairs:?}"))
        .to_owned()
}

/// A token request; `basic` is sent form-urlencoded inside Basic (RFC 6749 §2.3.1).
async fn token(base: &str, pairs: &[(&str, &str)], basic: Option<(&str, &str)>) -> Reply {
    let mut request = http()
        .post(format!("{base}/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(pairs));
    if let Some((id, secret)) = basic {
        let encode = |s: &str| form(&[(s, "")]).trim_end_matches('=').to_owned();
        let credentials = format!("{}:{}", encode(id), encode(secret));
        request = request.header(
            "authorization",
            format!("Basic {}", STANDARD.encode(credentials)),
        );
    }
    send(request).await
}

fn error_of(reply: &Reply) -> String {
    reply.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The access token's claims, verified with jwt-tower against the server's JWKS: `iss`,
/// `aud`, `typ: at+jwt`, signature.
async fn verified(base: &str, token: &str, audience: &str) -> Value {
    let jwks = send(http().get(format!("{base}/.well-known/jwks.json"))).await;
    let keys = KeySet::from_jwks_str(&jwks.body).unwrap();
    let verifier = Verifier::<Value>::builder(keys)
        .algorithms([Algorithm::ES256])
        .issuer(base)
        .audience(audience)
        .require_typ("at+jwt")
        .build()
        .unwrap();
    let verified = verifier
        .verify(token)
        .unwrap_or_else(|e| panic!("{e}: not a token for {audience}"));
    verified.claims().clone()
}

#[tokio::test]
async fn the_metadata_names_every_endpoint_and_capability() {
    let auth = auth_server(&[]).await;
    let base = auth.base();
    let reply = send(http().get(format!("{base}/.well-known/oauth-authorization-server"))).await;
    assert_eq!(reply.status, 200);
    let metadata = reply.json();
    assert_eq!(metadata["issuer"], base);
    for (member, path) in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("registration_endpoint", "/register"),
        ("jwks_uri", "/.well-known/jwks.json"),
    ] {
        assert_eq!(metadata[member], format!("{base}{path}"), "{member}");
    }
    assert_eq!(metadata["response_types_supported"], json!(["code"]));
    assert_eq!(
        metadata["grant_types_supported"],
        json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    assert_eq!(
        metadata["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "none"])
    );
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert_eq!(
        metadata["authorization_response_iss_parameter_supported"],
        true
    );
    assert_eq!(
        metadata["scopes_supported"],
        json!(["admin", "orders.read", "orders.write", "profile"])
    );

    // An issuer with a path: the metadata is also at the path-inserted URL (RFC 8414 §3.1)
    // and its endpoints are under the issuer.
    let tenant = auth_server(&[("JWT_ISSUER", "https://auth.example.com/tenant")]).await;
    for path in [
        "/.well-known/oauth-authorization-server/tenant",
        "/.well-known/oauth-authorization-server",
    ] {
        let reply = send(http().get(format!("{}{path}", tenant.base()))).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.json()["issuer"], "https://auth.example.com/tenant");
        assert_eq!(
            reply.json()["token_endpoint"],
            "https://auth.example.com/tenant/token"
        );
    }
}

#[tokio::test]
async fn the_code_flow_with_pkce_issues_rotating_tokens_for_the_resource() {
    // The refresh cookie is on (the default): /token answers in the body all the same.
    let auth = auth_server(&[]).await;
    let base = auth.base();
    let (verifier, challenge) = pkce("flow");
    let mut request = Authorize::new("cli", &challenge);
    // MCP clients ask for every scope the resource lists: alice gets what she may have.
    request.scope = Some("orders.read orders.write");
    request.resource = Some(MCP);

    let form_page = get_authorize(&base, &request.query()).await;
    assert_eq!(form_page.status(), 200);
    assert_eq!(form_page.headers()["x-frame-options"], "DENY");
    let html = form_page.text().await.unwrap();
    assert!(html.contains("<form method=\"post\""), "{html}");
    assert!(html.contains("name=\"password\""), "{html}");

    let code = code_for(&base, &request, "alice", "alice-password").await;
    let exchange = |code: String| {
        let (base, verifier) = (base.clone(), verifier.clone());
        async move {
            token(
                &base,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", CALLBACK),
                    ("client_id", "cli"),
                    ("code_verifier", &verifier),
                    ("resource", MCP),
                ],
                None,
            )
            .await
        }
    };
    let reply = exchange(code.clone()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let tokens = reply.json();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "orders.read");
    assert!(tokens["expires_in"].as_u64().unwrap() > 0);
    let claims = verified(&base, tokens["access_token"].as_str().unwrap(), MCP).await;
    assert_eq!(claims["aud"], MCP);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["client_id"], "cli");
    assert_eq!(claims["scope"], "orders.read");
    let first_refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    // Rotation keeps the audience and the scope; the spent token's reuse revokes the family.
    let refresh = |refresh_token: String| {
        let base = base.clone();
        async move {
            token(
                &base,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &refresh_token),
                    ("client_id", "cli"),
                    ("resource", MCP),
                ],
                None,
            )
            .await
        }
    };
    let rotated = refresh(first_refresh.clone()).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let rotated = rotated.json();
    let second_refresh = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second_refresh, first_refresh);
    let claims = verified(&base, rotated["access_token"].as_str().unwrap(), MCP).await;
    assert_eq!(
        (claims["aud"].as_str(), claims["scope"].as_str()),
        (Some(MCP), Some("orders.read"))
    );
    let reused = refresh(first_refresh).await;
    assert_eq!(
        (reused.status, error_of(&reused).as_str()),
        (400, "invalid_grant")
    );
    let revoked = refresh(second_refresh).await;
    assert_eq!(error_of(&revoked), "invalid_grant", "the family is revoked");
    // The code is single-use (its replay also revokes the family: see
    // a_second_redemption_of_a_code_revokes_its_refresh_family).
    let again = exchange(code).await;
    assert_eq!(
        (again.status, error_of(&again).as_str()),
        (400, "invalid_grant")
    );
}

#[tokio::test]
async fn without_a_resource_the_token_is_for_the_first_audience_and_refresh_is_client_bound() {
    let auth = auth_server(&[]).await;
    let base = auth.base();
    let (verifier, challenge) = pkce("plain");
    let request = Authorize::new("cli", &challenge);
    let code = code_for(&base, &request, "bob", "bob-password").await;
    let reply = token(
        &base,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("client_id", "cli"),
            ("code_verifier", &verifier),
        ],
        None,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // Nothing asked: everything bob may have.
    assert_eq!(reply.json()["scope"], "orders.read orders.write admin");
    let claims = verified(&base, reply.json()["access_token"].as_str().unwrap(), "api").await;
    assert_eq!(claims["aud"], "api");

    // Another client presenting cli's refresh token is refused, and ends the family.
    let refresh_token = reply.json()["refresh_token"].as_str().unwrap().to_owned();
    let stolen = token(
        &base,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token),
            ("client_id", "narrow"),
        ],
        None,
    )
    .await;
    assert_eq!(error_of(&stolen), "invalid_grant");
    let owner = token(
        &base,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token),
            ("client_id", "cli"),
        ],
        None,
    )
    .await;
    assert_eq!(error_of(&owner), "invalid_grant", "the family was revoked");
}

#[tokio::test]
async fn a_code_is_refused_for_a_wrong_verifier_redirect_uri_or_client() {
    let auth = auth_server(&[]).await;
    let base = auth.base();
    let (verifier, challenge) = pkce("mismatch");
    let wrong_verifier = pkce("other").0;
    let cases = [
        ("cli", CALLBACK, wrong_verifier.as_str()),
        ("cli", "http://127.0.0.1:9/other", verifier.as_str()),
        ("narrow", CALLBACK, verifier.as_str()),
    ];
    for (client_id, redirect_uri, code_verifier) in cases {
        let code = code_for(
            &base,
            &Authorize::new("cli", &challenge),
            "alice",
            "alice-password",
        )
        .await;
        let reply = token(
            &base,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect_uri),
                ("client_id", client_id),
                ("code_verifier", code_verifier),
            ],
            None,
        )
        .await;
        assert_eq!(
            (reply.status, error_of(&reply).as_str()),
            (400, "invalid_grant"),
            "{client_id} {redirect_uri}: {}",
            reply.body
        );
        // The failed attempt spent the code: the right request fails too.
        let right = token(
            &base,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("client_id", "cli"),
                ("code_verifier", &verifier),
            ],
            None,
        )
        .await;
        assert_eq!(error_of(&right), "invalid_grant");
    }
}

#[tokio::test]
async fn each_client_authentication_method_is_accepted() {
    let auth = auth_server(&[]).await;
    let base = auth.base();

    // client_secret_basic, with a secret that needs form-urlencoding; the scope asked for
    // is narrowed to the client's; `sub` is the client.
    let reply = token(
        &base,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "orders.read orders.write"),
            ("resource", MCP),
        ],
        Some(("reports", REPORTS_SECRET)),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.json().get("refresh_token").is_none());
    assert_eq!(reply.json()["scope"], "orders.read");
    let claims = verified(&base, reply.json()["access_token"].as_str().unwrap(), MCP).await;
    assert_eq!(claims["sub"], "reports");
    assert_eq!(claims["client_id"], "reports");

    // client_secret_post.
    let reply = token(
        &base,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "reports"),
            ("client_secret", REPORTS_SECRET),
        ],
        None,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let claims = verified(&base, reply.json()["access_token"].as_str().unwrap(), "api").await;
    assert_eq!(claims["scope"], "orders.read");

    // A confidential client's code exchange with client_secret_post; none for public
    // clients is in the code-flow tests.
    let (verifier, challenge) = pkce("web");
    let mut request = Authorize::new("web", &challenge);
    request.redirect_uri = WEB_CALLBACK;
    let code = code_for(&base, &request, "bob", "bob-password").await;
    let reply = token(
        &base,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", WEB_CALLBACK),
            ("code_verifier", &verifier),
        ],
        Some(("web", WEB_SECRET)),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // bob's scope, bound by the client's.
    assert_eq!(reply.json()["scope"], "orders.read orders.write");
}

#[tokio::test]
async fn failed_client_authentication_is_invalid_client_401() {
    let auth = auth_server(&[]).await;
    let base = auth.base();
    let grant = ("grant_type", "client_credentials");

    let basic = token(&base, &[grant], Some(("reports", "wrong"))).await;
    assert_eq!(
        (basic.status, error_of(&basic).as_str()),
        (401, "invalid_client")
    );
    assert_eq!(
        basic.challenge.as_deref(),
        Some("Basic realm=\"auth_server\""),
        "a client that tried Basic is challenged"
    );

    for pairs in [
        vec![grant, ("client_id", "reports"), ("client_secret", "wrong")],
        vec![grant, ("client_id", "reports")],
        vec![grant, ("client_id", "nobody")],
        vec![grant, ("client_id", "cli"), ("client_secret", "anything")],
        vec![grant],
    ] {
        let reply = token(&base, &pairs, None).await;
        assert_eq!(
            (reply.status, error_of(&reply).as_str()),
            (401, "invalid_client"),
            "{pairs:?}"
        );
        assert_eq!(
            reply.challenge.as_deref(),
            Some("Basic realm=\"auth_server\""),
            "{pairs:?}: every 401 carries a challenge (RFC 9110 §15.5.2)"
        );
    }
}

/// Form pairs, and Basic credentials.
type Form<'a> = Vec<(&'a str, &'a str)>;
type Basic<'a> = (&'a str, &'a str);

#[tokio::test]
async fn grant_scope_and_target_errors_follow_the_rfcs() {
    let auth = auth_server(&[]).await;
    let base = auth.base();
    let reports = Some(("reports", REPORTS_SECRET));
    let cases: Vec<(Form, Option<Basic>, &str)> = vec![
        (
            vec![("grant_type", "password")],
            reports,
            "unsupported_grant_type",
        ),
        (
            vec![("grant_type", "client_credentials"), ("scope", "admin")],
            reports,
            "invalid_scope",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("resource", "https://elsewhere.example/"),
            ],
            reports,
            "invalid_target",
        ),
        // A public client may not use client_credentials; reports may not use codes.
        (
            vec![("grant_type", "client_credentials"), ("client_id", "cli")],
            None,
            "unauthorized_client",
        ),
        (
            vec![("grant_type", "authorization_code"), ("code", "x")],
            reports,
            "unauthorized_client",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("scope", "a"),
                ("scope", "b"),
            ],
            reports,
            "invalid_request",
        ),
        (
            vec![("grant_type", "refresh_token")],
            Some(("web", WEB_SECRET)),
            "invalid_request",
        ),
    ];
    for (pairs, basic, expected) in cases {
        let reply = token(&base, &pairs, basic).await;
        assert_eq!(
            (reply.status, error_of(&reply).as_str()),
            (400, expected),
            "{pairs:?}: {}",
            reply.body
        );
    }
    let json_body = send(
        http()
            .post(format!("{base}/token"))
            .json(&json!({"grant_type": "client_credentials"})),
    )
    .await;
    assert_eq!(error_of(&json_body), "invalid_request");
}

#[tokio::test]
async fn registration_accepts_public_clients_and_refuses_bad_metadata() {
    let auth = auth_server(&[]).await;
    let base = auth.base();
    // What the Python MCP SDK sends.
    let body = json!({
        "redirect_uris": ["http://localhost:3030/callback"],
        "token_endpoint_auth_method": "client_secret_post",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "scope": "orders.read orders.write",
        "client_name": "<script>alert(1)</script>",
        "application_type": "native",
    });
    let reply = send(http().post(format!("{base}/register")).json(&body)).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let registered = reply.json();
    let client_id = registered["client_id"].as_str().unwrap().to_owned();
    assert!(client_id.len() >= 16);
    assert!(registered["client_id_issued_at"].as_i64().unwrap() > 0);
    assert_eq!(registered["token_endpoint_auth_method"], "none");
    assert!(registered.get("client_secret").is_none());
    assert_eq!(registered["redirect_uris"], body["redirect_uris"]);
    assert_eq!(registered["scope"], "orders.read orders.write");

    // The new client can start a flow; its name is escaped on the page.
    let (_, challenge) = pkce("registered");
    let mut request = Authorize::new(&client_id, &challenge);
    request.redirect_uri = "http://localhost:3030/callback";
    let page = get_authorize(&base, &request.query()).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>"), "{html}");

    for (body, expected) in [
        (
            json!({"redirect_uris": ["http://app.example.com/cb"]}),
            "invalid_redirect_uri",
        ),
        (json!({"redirect_uris": []}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": ["myapp:/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": [CALLBACK], "grant_types": ["client_credentials"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [CALLBACK], "response_types": ["token"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": "not a list"}),
            "invalid_client_metadata",
        ),
    ] {
        let reply = send(http().post(format!("{base}/register")).json(&body)).await;
        assert_eq!(
            (reply.status, error_of(&reply).as_str()),
            (400, expected),
            "{body}"
        );
    }
}

#[tokio::test]
async fn authorize_refuses_with_a_page_or_a_redirect_as_it_is_safe() {
    let auth = auth_server(&[]).await;
    let base = auth.base();
    let (_, challenge) = pkce("refusals");

    // Unknown client, or a redirect URI that is not the client's: a page, never a redirect.
    let unknown = Authorize::new("nobody", &challenge);
    let mut foreign = Authorize::new("cli", &challenge);
    foreign.redirect_uri = "http://127.0.0.1:9/elsewhere";
    let mut missing = Authorize::new("cli", &challenge);
    missing.extra = vec![("redirect_uri", "")];
    for request in [&unknown, &foreign, &missing] {
        for response in [
            get_authorize(&base, &request.query()).await,
            post_authorize(&base, &request.query(), "alice", "alice-password").await,
        ] {
            assert_eq!(response.status(), 400);
            assert!(response.headers().get("location").is_none());
            assert!(
                response.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/html")
            );
        }
    }

    // Everything else goes back to the client, with the error, the state and iss.
    let mut cases: Vec<(Authorize<'_>, &str)> = Vec::new();
    let with = |extra: Vec<(&'static str, &'static str)>| {
        let mut request = Authorize::new("cli", &challenge);
        request.extra = extra;
        request
    };
    cases.push((with(vec![("code_challenge", "")]), "invalid_request"));
    cases.push((
        with(vec![("code_challenge_method", "plain")]),
        "invalid_request",
    ));
    cases.push((
        with(vec![("response_type", "token")]),
        "unsupported_response_type",
    ));
    cases.push((
        with(vec![("resource", "https://elsewhere.example/")]),
        "invalid_target",
    ));
    let mut narrow = Authorize::new("narrow", &challenge);
    narrow.scope = Some("admin");
    cases.push((narrow, "invalid_scope"));
    for (request, expected) in &cases {
        let response = get_authorize(&base, &request.query()).await;
        let (target, pairs) = redirected(&response);
        assert_eq!(target, CALLBACK);
        assert_eq!(param(&pairs, "error"), Some(*expected), "{pairs:?}");
        assert_eq!(param(&pairs, "state"), Some("st@te 1"));
        assert_eq!(param(&pairs, "iss"), Some(base.as_str()));
        assert_eq!(param(&pairs, "code"), None);
    }

    // A wrong password: the form again, 401, no redirect.
    let request = Authorize::new("cli", &challenge);
    let response = post_authorize(&base, &request.query(), "alice", "wrong").await;
    assert_eq!(response.status(), 401);
    assert!(response.headers().get("location").is_none());
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("invalid username or password")
    );

    // A user holding none of the scope asked for: the error goes back to the client.
    let mut request = Authorize::new("cli", &challenge);
    request.scope = Some("admin");
    let response = post_authorize(&base, &request.query(), "alice", "alice-password").await;
    let (_, pairs) = redirected(&response);
    assert_eq!(param(&pairs, "error"), Some("invalid_scope"));
}

/// Two instances sharing Redis: a client registered at one is known at the other, and a
/// code issued by one is redeemed at the other, once.
#[tokio::test]
async fn with_redis_clients_and_codes_are_shared_by_the_fleet() {
    let Some(redis) = Redis::start() else {
        return;
    };
    let url = redis.url();
    let a = auth_server(&[("REDIS_URL", &url)]).await;
    let b = auth_server(&[("REDIS_URL", &url)]).await;
    let registered = send(http().post(format!("{}/register", a.base())).json(&json!({
        "redirect_uris": [CALLBACK],
        "grant_types": ["authorization_code", "refresh_token"],
    })))
    .await;
    assert_eq!(registered.status, 201);
    let client_id = registered.json()["client_id"].as_str().unwrap().to_owned();

    let (verifier, challenge) = pkce("fleet");
    let mut request = Authorize::new(&client_id, &challenge);
    request.resource = Some(MCP);
    let code = code_for(&b.base(), &request, "alice", "alice-password").await;
    let exchange = |base: String| {
        let (code, verifier, client_id) = (code.clone(), verifier.clone(), client_id.clone());
        async move {
            token(
                &base,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", CALLBACK),
                    ("client_id", &client_id),
                    ("code_verifier", &verifier),
                ],
                None,
            )
            .await
        }
    };
    let first = exchange(a.base()).await;
    assert_eq!(first.status, 200, "{}", first.body);
    // a signed it: a's keys verify it.
    let claims = verified(
        &a.base(),
        first.json()["access_token"].as_str().unwrap(),
        MCP,
    )
    .await;
    assert_eq!(claims["client_id"], client_id.as_str());

    // The refresh family is shared too: b rotates what a issued, keeping the audience.
    let refreshed = token(
        &b.base(),
        &[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                first.json()["refresh_token"].as_str().unwrap(),
            ),
            ("client_id", &client_id),
        ],
        None,
    )
    .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let claims = verified(
        &b.base(),
        refreshed.json()["access_token"].as_str().unwrap(),
        MCP,
    )
    .await;
    assert_eq!(claims["sub"], "alice");
    // After the refresh: a second redemption revokes the family it started.
    let second = exchange(b.base()).await;
    assert_eq!(
        error_of(&second),
        "invalid_grant",
        "redeemed once across the fleet"
    );
}

#[test]
fn a_bad_clients_file_names_the_variable() {
    let dir = std::env::temp_dir();
    let bad_json = dir.join(format!("oauth-bad-{}.json", std::process::id()));
    std::fs::write(&bad_json, "[{\"client_id\": ").unwrap();
    let public_credentials = dir.join(format!("oauth-public-cc-{}.json", std::process::id()));
    std::fs::write(
        &public_credentials,
        r#"[{"client_id": "x", "grant_types": ["client_credentials"]}]"#,
    )
    .unwrap();
    let http_redirect = dir.join(format!("oauth-http-{}.json", std::process::id()));
    std::fs::write(
        &http_redirect,
        r#"[{"client_id": "x", "redirect_uris": ["http://app.example.com/cb"]}]"#,
    )
    .unwrap();
    for path in [&bad_json, &public_credentials, &http_redirect] {
        let output = run_to_exit(
            "auth_server",
            &[("OAUTH_CLIENTS_FILE", path.to_string_lossy().into_owned())],
        );
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("configuration error: OAUTH_CLIENTS_FILE"),
            "{stderr}"
        );
    }
}

/// A code exchanged for one resource, and the refresh token that came with it.
async fn refresh_token_for(base: &str, resource: Option<&str>, seed: &str) -> String {
    let (verifier, challenge) = pkce(seed);
    let mut request = Authorize::new("cli", &challenge);
    request.resource = resource;
    let code = code_for(base, &request, "alice", "alice-password").await;
    let mut pairs = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("client_id", "cli"),
        ("code_verifier", verifier.as_str()),
    ];
    if let Some(resource) = resource {
        pairs.push(("resource", resource));
    }
    let reply = token(base, &pairs, None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["refresh_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_refresh_keeps_its_audience_and_scope_and_the_login_route_refuses_it() {
    let auth = auth_server(&[("REFRESH_COOKIE", "off")]).await;
    let base = auth.base();
    let refresh = |refresh_token: String, extra: Vec<(&'static str, &'static str)>| {
        let base = base.clone();
        async move {
            let mut pairs = vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.as_str()),
                ("client_id", "cli"),
            ];
            pairs.extend(extra);
            token(&base, &pairs, None).await
        }
    };

    // A refresh may narrow the scope, not widen it, and keeps the audience.
    let first = refresh_token_for(&base, Some(MCP), "keep").await;
    let narrowed = refresh(first, vec![("scope", "profile")]).await;
    assert_eq!(narrowed.status, 200, "{}", narrowed.body);
    assert_eq!(narrowed.json()["scope"], "profile");
    let claims = verified(
        &base,
        narrowed.json()["access_token"].as_str().unwrap(),
        MCP,
    )
    .await;
    assert_eq!(claims["scope"], "profile");
    let next = narrowed.json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let widened = refresh(next, vec![("scope", "admin")]).await;
    assert_eq!(error_of(&widened), "invalid_scope");

    // Asking to move the grant to another resource.
    let second = refresh_token_for(&base, Some(MCP), "move").await;
    let moved = refresh(second, vec![("resource", "api")]).await;
    assert_eq!(error_of(&moved), "invalid_target");

    // The login routes' /refresh does not take a client's refresh token.
    let third = refresh_token_for(&base, None, "login-route").await;
    let reply = send(
        http()
            .post(format!("{base}/refresh"))
            .json(&json!({"refresh_token": third})),
    )
    .await;
    assert_eq!(
        (reply.status, error_of(&reply).as_str()),
        (401, "invalid_grant")
    );
}

/// A refresh refused for its scope or its resource is refused before the token is
/// spent: the client's retry with the same token is not a replay and succeeds.
#[tokio::test]
async fn a_refused_refresh_leaves_the_grant_usable() {
    let auth = auth_server(&[]).await;
    let base = auth.base();
    let presented = refresh_token_for(&base, Some(MCP), "refused-refresh").await;
    let refresh = |extra: Vec<(&'static str, &'static str)>| {
        let (base, presented) = (base.clone(), presented.clone());
        async move {
            let mut pairs = vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", presented.as_str()),
                ("client_id", "cli"),
            ];
            pairs.extend(extra);
            token(&base, &pairs, None).await
        }
    };
    let widened = refresh(vec![("scope", "admin")]).await;
    assert_eq!(error_of(&widened), "invalid_scope", "{}", widened.body);
    let moved = refresh(vec![("resource", "api")]).await;
    assert_eq!(error_of(&moved), "invalid_target", "{}", moved.body);

    let retried = refresh(vec![]).await;
    assert_eq!(retried.status, 200, "{}", retried.body);
    let next = retried.json()["refresh_token"].as_str().unwrap().to_owned();
    // The family lives on: the new token rotates too.
    let reply = token(
        &base,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &next),
            ("client_id", "cli"),
        ],
        None,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

/// Open registration is bounded per client address, sharing the login budget: past it,
/// 429 with `Retry-After`. A registration without `grant_types` gets refresh tokens too.
#[tokio::test]
async fn registration_is_limited_per_address_and_defaults_to_refresh_tokens() {
    let auth = auth_server(&[("LOGIN_ATTEMPTS_PER_ADDRESS", "3")]).await;
    let base = auth.base();
    let register = || async {
        send(http().post(format!("{base}/register")).json(&json!({
            "redirect_uris": [CALLBACK],
        })))
        .await
    };
    let first = register().await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(
        first.json()["grant_types"],
        json!(["authorization_code", "refresh_token"]),
        "public clients get a refresh token with the code exchange"
    );
    let client_id = first.json()["client_id"].as_str().unwrap().to_owned();

    // The client registered without grant_types gets a refresh token (one login: the
    // second attempt of this address).
    let (verifier, challenge) = pkce("default-grants");
    let code = code_for(
        &base,
        &Authorize::new(&client_id, &challenge),
        "alice",
        "alice-password",
    )
    .await;
    let exchanged = token(
        &base,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("client_id", &client_id),
            ("code_verifier", &verifier),
        ],
        None,
    )
    .await;
    assert_eq!(exchanged.status, 200, "{}", exchanged.body);
    assert!(
        exchanged.json()["refresh_token"].is_string(),
        "{}",
        exchanged.body
    );

    assert_eq!(register().await.status, 201);
    let fourth = register().await;
    assert_eq!(fourth.status, 429, "{}", fourth.body);
    let wait: u64 = fourth.retry_after.as_deref().unwrap().parse().unwrap();
    assert!(wait >= 1, "{wait}");
}

/// The clients of `OAUTH_CLIENTS_FILE` are configuration: with a shared Redis, a client
/// removed from the file is unknown after a restart.
#[tokio::test]
async fn a_client_removed_from_the_file_is_gone_after_a_restart() {
    let Some(redis) = Redis::start() else {
        return;
    };
    let url = redis.url();
    let path = std::env::temp_dir().join(format!("oauth-removed-{}.json", std::process::id()));
    let write = |clients: Value| std::fs::write(&path, clients.to_string()).unwrap();
    let file = path.to_string_lossy().into_owned();
    let (_, challenge) = pkce("removed");
    let page = |base: String| {
        let query = Authorize::new("leaving", &challenge).query();
        async move { get_authorize(&base, &query).await.status() }
    };

    write(json!([{"client_id": "leaving", "redirect_uris": [CALLBACK]}]));
    let before = auth_server(&[("REDIS_URL", &url), ("OAUTH_CLIENTS_FILE", &file)]).await;
    assert_eq!(page(before.base()).await, 200);
    drop(before);

    write(json!([{"client_id": "staying", "redirect_uris": [CALLBACK]}]));
    let after = auth_server(&[("REDIS_URL", &url), ("OAUTH_CLIENTS_FILE", &file)]).await;
    assert_eq!(page(after.base()).await, 400, "unknown client_id");
}

#[test]
fn a_short_secret_or_a_client_named_like_a_user_is_refused_at_start() {
    let dir = std::env::temp_dir();
    let short = dir.join(format!("oauth-short-{}.json", std::process::id()));
    std::fs::write(
        &short,
        r#"[{"client_id": "svc", "client_secret": "0123456789abcdef0123456789abcde"}]"#,
    )
    .unwrap();
    let user = dir.join(format!("oauth-user-{}.json", std::process::id()));
    std::fs::write(
        &user,
        r#"[{"client_id": "alice", "client_secret": "0123456789abcdef0123456789abcdef",
             "grant_types": ["client_credentials"]}]"#,
    )
    .unwrap();
    for (path, why) in [
        (&short, "shorter than 32 bytes"),
        (&user, "DEMO_USERS user"),
    ] {
        let output = run_to_exit(
            "auth_server",
            &[
                ("OAUTH_CLIENTS_FILE", path.to_string_lossy().into_owned()),
                ("DEMO_USERS", USERS.to_owned()),
            ],
        );
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("configuration error: OAUTH_CLIENTS_FILE") && stderr.contains(why),
            "{stderr}"
        );
    }
}

/// A code redeemed twice was stolen or replayed: the second redemption is refused and
/// revokes the refresh family the first one started (RFC 6749 §4.1.2).
#[tokio::test]
async fn a_second_redemption_of_a_code_revokes_its_refresh_family() {
    let auth = auth_server(&[]).await;
    let base = auth.base();
    let (verifier, challenge) = pkce("twice");
    let code = code_for(
        &base,
        &Authorize::new("cli", &challenge),
        "alice",
        "alice-password",
    )
    .await;
    let pairs = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("client_id", "cli"),
        ("code_verifier", verifier.as_str()),
    ];
    let exchange = || token(&base, &pairs, None);
    let first = exchange().await;
    assert_eq!(first.status, 200, "{}", first.body);
    let refresh_token = first.json()["refresh_token"].as_str().unwrap().to_owned();
    let second = exchange().await;
    assert_eq!(error_of(&second), "invalid_grant", "{}", second.body);
    let refreshed = token(
        &base,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token),
            ("client_id", "cli"),
        ],
        None,
    )
    .await;
    assert_eq!(
        error_of(&refreshed),
        "invalid_grant",
        "the family is revoked: {}",
        refreshed.body
    );
}
