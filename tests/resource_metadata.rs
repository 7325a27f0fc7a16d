//! Protected resource metadata (RFC 9728) over real TCP: every 401 and 403 challenge of
//! the layer, its guards and its extractors names the metadata URL, and jwt-axum serves
//! the metadata there and at the root form; the resource is the only audience accepted,
//! and behind a trusted proxy the metadata names the public URL.

mod support;

use axum::{Json, Router, routing::get};
use jwt_axum::{
    Claims, RequireScopes, protected_resource_metadata, protected_resource_metadata_with,
};
use jwt_tower::resource::TrustForwarded;
use jwt_tower::{
    Algorithm, JwtLayer, ProtectedResourceMetadata, RegisteredClaims, RejectionKind, Verifier,
};
use serde_json::{Value, json};
use support::*;

const RESOURCE: &str = "https://api.example.com/mcp";
const METADATA_URL: &str = "https://api.example.com/.well-known/oauth-protected-resource/mcp";

async fn me(Claims(claims): Claims<RegisteredClaims>) -> Json<RegisteredClaims> {
    Json(claims)
}

fn metadata(resource: &str) -> ProtectedResourceMetadata {
    ProtectedResourceMetadata::builder(resource)
        .authorization_servers(["https://auth.example.com"])
        .scopes_supported(["orders.read", "orders.write"])
        .bearer_methods_supported(["header"])
        .build()
        .unwrap()
}

/// Tokens must be for `RESOURCE`; `/orders` needs `orders.write` (a guard behind the
/// layer), `/me` is behind an optional layer (so its extractor refuses a missing token).
async fn start(layer: JwtLayer<RegisteredClaims>) -> String {
    let layer = layer.resource_metadata(&metadata(RESOURCE));
    let app = Router::new()
        .route(
            "/orders",
            get(me).route_layer(RequireScopes::new(["orders.write"])),
        )
        .route("/mcp", get(me))
        .layer(layer.clone())
        .merge(Router::new().route("/me", get(me)).layer(layer.optional()));
    format!("http://{}", serve(app).await)
}

fn verifier() -> Verifier<RegisteredClaims> {
    Verifier::builder(hs256_key("k1"))
        .algorithms([Algorithm::HS256])
        .audience(RESOURCE)
        .build()
        .unwrap()
}

fn token(aud: &str, scope: &str) -> String {
    let mut claims = claims("alice", scope);
    claims["aud"] = json!(aud);
    mint_hs256("k1", &claims)
}

async fn get_with(url: &str, token: Option<&str>) -> Reply {
    let request = http().get(url);
    send(match token {
        Some(token) => request.header("authorization", format!("Bearer {token}")),
        None => request,
    })
    .await
}

/// The challenge's `resource_metadata` parameter, which must close it.
fn resource_metadata(reply: &Reply) -> &str {
    let challenge = reply.challenge.as_deref().expect("a challenge");
    challenge
        .rsplit_once(", resource_metadata=\"")
        .or_else(|| challenge.split_once(" resource_metadata=\""))
        .and_then(|(_, value)| value.strip_suffix('"'))
        .unwrap_or_else(|| panic!("no resource_metadata at the end of {challenge}"))
}

#[tokio::test]
async fn every_401_and_403_names_the_metadata_url() {
    let base = start(JwtLayer::new(verifier())).await;
    let good = token(RESOURCE, "orders.read");

    let admitted = get_with(&format!("{base}/mcp"), Some(&good)).await;
    assert_eq!(admitted.status, 200, "{admitted:?}");
    assert!(admitted.challenge.is_none());

    // No token: the layer's bare challenge, with the metadata URL.
    let reply = get_with(&format!("{base}/mcp"), None).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(
        reply.challenge.as_deref(),
        Some(format!(r#"Bearer realm="api", resource_metadata="{METADATA_URL}""#).as_str())
    );

    // A bad token and a token for another audience: invalid_token, with the URL.
    let forged = format!("{}x", &good[..good.len() - 1]);
    for (what, bad) in [
        ("bad signature", forged),
        ("not a JWT", "not-a-jwt".to_owned()),
        (
            "wrong audience",
            token("https://other.example.com/mcp", "orders.read"),
        ),
    ] {
        let reply = get_with(&format!("{base}/mcp"), Some(&bad)).await;
        assert_eq!(reply.status, 401, "{what}: {reply:?}");
        let challenge = reply.challenge.as_deref().unwrap();
        assert!(
            challenge.starts_with(r#"Bearer realm="api", error="invalid_token", "#),
            "{what}: {challenge}"
        );
        assert_eq!(resource_metadata(&reply), METADATA_URL, "{what}");
        assert_eq!(reply.json()["error"], "invalid_token");
    }

    // A guard behind the layer: 403 insufficient_scope naming the scope it needs.
    let reply = get_with(&format!("{base}/orders"), Some(&good)).await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert_eq!(
        reply.challenge.as_deref(),
        Some(
            format!(
                r#"Bearer realm="api", error="insufficient_scope", error_description="the token lacks the privileges this resource requires", scope="orders.write", resource_metadata="{METADATA_URL}""#
            )
            .as_str()
        )
    );
    let writer = token(RESOURCE, "orders.read orders.write");
    assert_eq!(
        get_with(&format!("{base}/orders"), Some(&writer))
            .await
            .status,
        200
    );

    // An extractor behind an optional layer, with no token: 401, with the URL.
    let reply = get_with(&format!("{base}/me"), None).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(resource_metadata(&reply), METADATA_URL);
}

#[tokio::test]
async fn the_layers_own_policy_names_its_scopes_and_the_url() {
    let base =
        start(JwtLayer::new(verifier()).require_scopes(["orders.read", "orders.write"])).await;
    let reply = get_with(
        &format!("{base}/mcp"),
        Some(&token(RESOURCE, "orders.read")),
    )
    .await;
    assert_eq!(reply.status, 403, "{reply:?}");
    let challenge = reply.challenge.as_deref().unwrap();
    assert!(
        challenge.contains(r#", scope="orders.read orders.write", "#),
        "{challenge}"
    );
    assert_eq!(resource_metadata(&reply), METADATA_URL);
    assert_eq!(reply.json()["error"], "insufficient_scope");
}

#[tokio::test]
async fn without_metadata_challenges_carry_no_url() {
    let app = Router::new()
        .route("/mcp", get(me))
        .layer(JwtLayer::new(verifier()));
    let base = format!("http://{}", serve(app).await);
    let reply = get_with(&format!("{base}/mcp"), None).await;
    assert_eq!(reply.challenge.as_deref(), Some(r#"Bearer realm="api""#));
    let reply = get_with(&format!("{base}/mcp"), Some("not-a-jwt")).await;
    assert!(!reply.challenge.unwrap().contains("resource_metadata"));
}

/// Serves `/mcp` behind the layer and the metadata for `http://<this server>/<path>`,
/// from one listener bound first so that the resource names the server's real address.
async fn serve_metadata(path: &str) -> (String, ProtectedResourceMetadata) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let metadata = metadata(&format!("{base}{path}"));
    // As documented: a segment starting with `:` is a literal only with this.
    let app = match path.contains("/:") {
        true => Router::new().without_v07_checks(),
        false => Router::new(),
    };
    let app = app
        .route("/mcp", get(me))
        .layer(JwtLayer::new(verifier()).resource_metadata(&metadata))
        .merge(protected_resource_metadata(&metadata));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, metadata)
}

/// GETs `url`: status, content type, cache control, body.
async fn fetch(url: &str) -> (u16, Option<String>, Option<String>, String) {
    let response = http().get(url).send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (content_type, cache_control) = (header("content-type"), header("cache-control"));
    let status = response.status().as_u16();
    (
        status,
        content_type,
        cache_control,
        response.text().await.unwrap(),
    )
}

fn assert_metadata_document(body: &str, resource: &str) {
    let document: Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        document,
        json!({
            "resource": resource,
            "authorization_servers": ["https://auth.example.com"],
            "scopes_supported": ["orders.read", "orders.write"],
            "bearer_methods_supported": ["header"],
        })
    );
}

#[tokio::test]
async fn the_metadata_is_served_at_both_well_known_urls() {
    let (base, metadata) = serve_metadata("/mcp").await;
    let resource = format!("{base}/mcp");
    assert_eq!(
        metadata.metadata_url(),
        format!("{base}/.well-known/oauth-protected-resource/mcp")
    );
    for url in [
        metadata.metadata_url().to_owned(),
        format!("{base}/.well-known/oauth-protected-resource"),
    ] {
        let (status, content_type, cache_control, body) = fetch(&url).await;
        assert_eq!(status, 200, "{url}: {body}");
        assert_eq!(content_type.as_deref(), Some("application/json"), "{url}");
        assert_eq!(
            cache_control.as_deref(),
            Some("public, max-age=3600"),
            "{url}"
        );
        assert_metadata_document(&body, &resource);
    }
    for path in [
        "/.well-known/oauth-protected-resource/other",
        "/.well-known/oauth-protected-resource/mcp/extra",
        "/.well-known/oauth-protected-resource/",
        "/.well-known/oauth-authorization-server",
        "/mcp/.well-known/oauth-protected-resource",
    ] {
        let (status, _, _, body) = fetch(&format!("{base}{path}")).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    // The challenge of the protected route names the URL that was just served.
    let reply = get_with(&format!("{base}/mcp"), None).await;
    assert_eq!(reply.status, 401);
    assert_eq!(resource_metadata(&reply), metadata.metadata_url());
}

#[tokio::test]
async fn a_resource_at_the_root_is_served_once_at_the_root_form() {
    let (base, metadata) = serve_metadata("").await;
    assert_eq!(
        metadata.metadata_url(),
        format!("{base}/.well-known/oauth-protected-resource")
    );
    let (status, _, _, body) = fetch(metadata.metadata_url()).await;
    assert_eq!(status, 200, "{body}");
    assert_metadata_document(&body, &base);
}

#[tokio::test]
async fn a_path_segment_starting_with_a_colon_is_a_literal() {
    let (base, metadata) = serve_metadata("/v1/:tenant/mcp").await;
    let (status, _, _, body) = fetch(metadata.metadata_url()).await;
    assert_eq!(status, 200, "{body}");
    assert_metadata_document(&body, &format!("{base}/v1/:tenant/mcp"));
    let (status, _, _, _) = fetch(&format!(
        "{base}/.well-known/oauth-protected-resource/v1/acme/mcp"
    ))
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_resource_is_the_only_audience_compared_exactly() {
    let resource = metadata(RESOURCE);
    // `resource` replaces the audience set before it.
    let verifier = Verifier::<RegisteredClaims>::builder(hs256_key("k1"))
        .algorithms([Algorithm::HS256])
        .audience("legacy-api")
        .resource(&resource)
        .build()
        .unwrap();
    for (aud, expected) in [
        (json!(RESOURCE), None),
        (json!(["https://other.example.com", RESOURCE]), None),
        (json!("legacy-api"), Some(RejectionKind::InvalidAudience)),
        (
            json!("https://other.example.com/mcp"),
            Some(RejectionKind::InvalidAudience),
        ),
        // RFC 8707 §2 defines no normalisation: each of these is another resource.
        (
            json!("https://api.example.com/mcp/"),
            Some(RejectionKind::InvalidAudience),
        ),
        (
            json!("https://API.example.com/mcp"),
            Some(RejectionKind::InvalidAudience),
        ),
        (
            json!("https://api.example.com:443/mcp"),
            Some(RejectionKind::InvalidAudience),
        ),
        (
            json!("http://api.example.com/mcp"),
            Some(RejectionKind::InvalidAudience),
        ),
    ] {
        let mut claims = claims("alice", "orders.read");
        claims["aud"] = aud.clone();
        let token = mint_hs256("k1", &claims);
        assert_eq!(
            verifier.verify(&token).err().map(|e| e.kind()),
            expected,
            "{aud}"
        );
    }

    // Over HTTP: the resource's token is admitted, another audience's gets a 401.
    let app = Router::new()
        .route("/mcp", get(me))
        .layer(JwtLayer::new(verifier).resource_metadata(&resource));
    let base = format!("http://{}", serve(app).await);
    let admitted = get_with(&format!("{base}/mcp"), Some(&token(RESOURCE, ""))).await;
    assert_eq!(admitted.status, 200, "{admitted:?}");
    let refused = get_with(
        &format!("{base}/mcp"),
        Some(&token("https://api.example.com/mcp/", "")),
    )
    .await;
    assert_eq!(refused.status, 401, "{refused:?}");
    assert!(
        refused
            .challenge
            .as_deref()
            .unwrap()
            .contains(r#"error="invalid_token""#),
        "{refused:?}"
    );
    assert_eq!(resource_metadata(&refused), METADATA_URL);
}

/// Serves `/mcp` (tokens for the configured resource only) and its metadata with `trust`.
async fn serve_behind_proxy(trust: TrustForwarded) -> (String, ProtectedResourceMetadata) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let metadata = metadata(&format!("{base}/mcp"));
    let verifier = Verifier::<RegisteredClaims>::builder(hs256_key("k1"))
        .algorithms([Algorithm::HS256])
        .resource(&metadata)
        .build()
        .unwrap();
    let app = Router::new()
        .route("/mcp", get(me))
        .layer(JwtLayer::new(verifier).resource_metadata(&metadata))
        .merge(protected_resource_metadata_with(&metadata, trust));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, metadata)
}

/// GETs `url` with `headers`: status, `Vary`, the document's `resource`.
async fn fetch_resource(url: &str, headers: &[(&str, &str)]) -> (u16, Option<String>, Value) {
    let mut request = http().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let vary = response
        .headers()
        .get("vary")
        .map(|v| v.to_str().unwrap().to_owned());
    let document: Value = response.json().await.unwrap();
    (status, vary, document["resource"].clone())
}

const PROXY_HEADERS: [(&str, &str); 2] = [
    ("x-forwarded-proto", "https"),
    ("x-forwarded-host", "api.example.com"),
];

#[tokio::test]
async fn behind_a_trusted_proxy_the_metadata_names_the_public_url() {
    let (base, metadata) = serve_behind_proxy(TrustForwarded::On).await;
    let path_inserted = format!("{base}/.well-known/oauth-protected-resource/mcp");
    for url in [
        path_inserted.clone(),
        format!("{base}/.well-known/oauth-protected-resource"),
    ] {
        let (status, vary, resource) = fetch_resource(&url, &PROXY_HEADERS).await;
        assert_eq!(status, 200, "{url}");
        assert_eq!(resource, "https://api.example.com/mcp", "{url}");
        assert_eq!(
            vary.as_deref(),
            Some("forwarded, x-forwarded-proto, x-forwarded-host")
        );
    }
    // RFC 7239 `Forwarded`: the last element, the one the proxy in front appended.
    let (_, _, resource) = fetch_resource(
        &path_inserted,
        &[(
            "forwarded",
            r#"proto=http;host=evil.example, for=192.0.2.1;proto=https;host="[2001:db8::1]:8443""#,
        )],
    )
    .await;
    assert_eq!(resource, "https://[2001:db8::1]:8443/mcp");
    // No forwarding headers, or malformed ones: the configured resource.
    for headers in [
        &[][..],
        &[("x-forwarded-proto", "gopher")],
        &[("x-forwarded-host", "user@evil.example")],
        &[("forwarded", r#"proto=https;host="api.example.com"#)],
    ] {
        let (status, _, resource) = fetch_resource(&path_inserted, headers).await;
        assert_eq!(status, 200);
        assert_eq!(resource, metadata.resource(), "{headers:?}");
    }
    // The audience does not follow the headers: a token for the public URL is refused.
    let mut request = http().get(format!("{base}/mcp"));
    for (name, value) in PROXY_HEADERS {
        request = request.header(name, value);
    }
    let for_public_url = token("https://api.example.com/mcp", "");
    let reply = send(request.header("authorization", format!("Bearer {for_public_url}"))).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    let for_resource = token(metadata.resource(), "");
    assert_eq!(
        get_with(&format!("{base}/mcp"), Some(&for_resource))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn without_trust_the_forwarding_headers_are_ignored() {
    for trust in [TrustForwarded::Off, TrustForwarded::default()] {
        let (base, metadata) = serve_behind_proxy(trust).await;
        for headers in [
            &PROXY_HEADERS[..],
            &[("forwarded", "proto=https;host=api.example.com")],
        ] {
            let (status, vary, resource) = fetch_resource(metadata.metadata_url(), headers).await;
            assert_eq!(status, 200);
            assert_eq!(resource, format!("{base}/mcp"), "{headers:?}");
            assert_eq!(vary, None);
        }
    }
}
