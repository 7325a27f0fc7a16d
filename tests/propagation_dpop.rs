//! DPoP on the client side over real sockets: a `PropagateLayer` whose service token is
//! bound to the service's own key calls a resource server that requires DPoP (each
//! request's proof checked by the dpop module, its `jti` reserved, server nonces on
//! demand); the token comes from a token endpoint that requires a proof and a nonce; a
//! caller's DPoP-bound token is never forwarded.

#[path = "support/http_client.rs"]
mod http_client;
mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http_client::{Answer, Reqwest, reqwest_client};
use jwt_tower::dpop::{DpopChecker, DpopKey, DpopMode, NonceSecret};
use jwt_tower::propagate::{
    self, BoxError, PropagateError, PropagateLayer, ServiceToken, ServiceTokenSource,
};
use jwt_tower::{Algorithm, Keys, RejectionKind, Verifier};
use serde_json::{Value, json};
use support::*;
use tower::{Layer, Service, ServiceExt};

/// What the resource server admitted: one entry per request.
#[derive(Debug, Clone)]
struct Admitted {
    method: Method,
    jti: String,
    nonce: Option<String>,
    body: String,
}

/// A resource server requiring DPoP: the token verified, then its proof checked
/// against the request (`htm`, `htu`, `ath`, `iat`, the nonce when required), the
/// token's `cnf.jkt` against the proof's key, and the `jti` reserved once.
struct Resource {
    verifier: Verifier<Value>,
    checker: DpopChecker,
    admitted: Mutex<Vec<Admitted>>,
    /// Every `authorization` received, admitted or not.
    received: Mutex<Vec<String>>,
}

fn verifier() -> Verifier<Value> {
    Verifier::builder(Keys::from(hs256_key("k1")))
        .algorithms([Algorithm::HS256])
        .build()
        .unwrap()
}

fn challenge(status: StatusCode, error: &str, kind: impl std::fmt::Debug) -> Response {
    let mut response = (status, format!("{kind:?}")).into_response();
    response.headers_mut().insert(
        "www-authenticate",
        HeaderValue::try_from(format!(r#"DPoP algs="ES256", error="{error}""#)).unwrap(),
    );
    response
}

async fn resource(
    State(rs): State<Arc<Resource>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let now = now();
    let authorization = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    rs.received.lock().unwrap().push(authorization.clone());
    let Some(token) = authorization.strip_prefix("DPoP ") else {
        return challenge(StatusCode::UNAUTHORIZED, "invalid_token", "not DPoP");
    };
    let proofs: Vec<_> = headers.get_all("dpop").iter().collect();
    let [proof] = proofs[..] else {
        return challenge(StatusCode::BAD_REQUEST, "invalid_request", proofs.len());
    };
    let Ok(verified) = rs.verifier.verify(token) else {
        return challenge(StatusCode::UNAUTHORIZED, "invalid_token", "token");
    };
    let checked = match rs.checker.check(
        proof.to_str().unwrap(),
        &method,
        uri.path(),
        &headers,
        Some(token),
        now,
    ) {
        Ok(checked) => checked,
        Err(error)
            if matches!(
                error.kind(),
                RejectionKind::DpopNonceRequired | RejectionKind::DpopNonceInvalid
            ) =>
        {
            let mut response = challenge(StatusCode::UNAUTHORIZED, "use_dpop_nonce", error.kind());
            let nonce = rs.checker.fresh_nonce(now).unwrap();
            response
                .headers_mut()
                .insert("dpop-nonce", HeaderValue::try_from(nonce).unwrap());
            return response;
        }
        Err(error) => {
            return challenge(StatusCode::UNAUTHORIZED, "invalid_dpop_proof", error.kind());
        }
    };
    if verified.claims()["cnf"]["jkt"] != checked.jkt() {
        return challenge(StatusCode::UNAUTHORIZED, "invalid_token", "jkt");
    }
    if let Err(error) = rs.checker.reserve(&checked, now).await {
        return challenge(StatusCode::UNAUTHORIZED, "invalid_dpop_proof", error.kind());
    }
    rs.admitted.lock().unwrap().push(Admitted {
        method,
        jti: checked.jti().to_owned(),
        nonce: checked.nonce().map(str::to_owned),
        body,
    });
    (StatusCode::OK, "ok").into_response()
}

/// Serves a DPoP-required resource on a fresh port, with server nonces when `nonces`.
async fn resource_server(nonces: bool) -> (String, Arc<Resource>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut checker = DpopChecker::builder(base.clone()).mode(DpopMode::Required);
    if nonces {
        checker = checker.require_nonce(NonceSecret::new([9u8; 32]));
    }
    let rs = Arc::new(Resource {
        verifier: verifier(),
        checker: checker.build().unwrap(),
        admitted: Mutex::default(),
        received: Mutex::default(),
    });
    let app = Router::new().fallback(resource).with_state(Arc::clone(&rs));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, rs)
}

/// A token bound to `key` (`cnf.jkt`), as an authorization server would issue it.
fn bound_token(key: &DpopKey, sub: &str) -> String {
    mint_hs256(
        "k1",
        &json!({"sub": sub, "iat": now(), "exp": now() + 600, "cnf": {"jkt": key.thumbprint()}}),
    )
}

fn fixed_source(key: &DpopKey, sub: &str) -> ServiceTokenSource {
    let token = bound_token(key, sub);
    ServiceTokenSource::fixed(ServiceToken::new(token)).dpop(key.clone())
}

async fn send<S, B>(client: &mut S, request: http::Request<B>) -> Result<Answer, BoxError>
where
    S: Service<http::Request<B>, Response = Answer, Error = BoxError>,
{
    client.ready().await?.call(request).await
}

#[tokio::test]
async fn each_call_gets_a_fresh_proof_for_its_method_and_uri() {
    let (base, rs) = resource_server(false).await;
    let key = DpopKey::generate(Algorithm::ES256).unwrap();
    let mut client = PropagateLayer::service_token(fixed_source(&key, "billing"))
        .to([base.as_str()])
        .unwrap()
        .layer(reqwest_client());

    for path in ["/orders?page=1", "/orders?page=2", "/stock#top"] {
        let request = http::Request::get(format!("{base}{path}"))
            .body(String::new())
            .unwrap();
        let answer = send(&mut client, request).await.unwrap();
        assert_eq!(answer.status(), 200, "{path}: {}", answer.body());
    }
    let request = http::Request::post(format!("{base}/orders"))
        .body(String::from("{}"))
        .unwrap();
    assert_eq!(send(&mut client, request).await.unwrap().status(), 200);

    let admitted = rs.admitted.lock().unwrap().clone();
    assert_eq!(admitted.len(), 4);
    assert_eq!(admitted[3].method, Method::POST);
    let mut jtis: Vec<_> = admitted.iter().map(|a| a.jti.clone()).collect();
    jtis.sort();
    jtis.dedup();
    assert_eq!(jtis.len(), 4, "every proof has its own jti");
    assert!(
        rs.received
            .lock()
            .unwrap()
            .iter()
            .all(|auth| auth.starts_with("DPoP ey"))
    );
}

#[tokio::test]
async fn a_server_asking_for_a_nonce_gets_a_retry_with_it_then_the_nonce_every_time() {
    let (base, rs) = resource_server(true).await;
    let key = DpopKey::generate(Algorithm::ES256).unwrap();
    let mut client = PropagateLayer::service_token(fixed_source(&key, "billing"))
        .to([base.as_str()])
        .unwrap()
        .layer(reqwest_client());

    // The first call is refused for want of a nonce, and retried with the one sent.
    let request = http::Request::post(format!("{base}/orders"))
        .body(String::from("order-1"))
        .unwrap();
    let answer = send(&mut client, request).await.unwrap();
    assert_eq!(answer.status(), 200, "{}", answer.body());
    assert_eq!(
        rs.received.lock().unwrap().len(),
        2,
        "one refusal, one retry"
    );
    // Later calls carry the nonce from the start.
    let request = http::Request::get(format!("{base}/orders"))
        .body(String::new())
        .unwrap();
    assert_eq!(send(&mut client, request).await.unwrap().status(), 200);
    assert_eq!(rs.received.lock().unwrap().len(), 3);

    let admitted = rs.admitted.lock().unwrap().clone();
    assert_eq!(admitted.len(), 2);
    assert_eq!(admitted[0].body, "order-1", "the retry sent the same body");
    assert!(admitted.iter().all(|a| a.nonce.is_some()));
    assert_ne!(admitted[0].jti, admitted[1].jti);
}

/// A request body that cannot be copied: a stream, as a tonic call's.
struct Streaming(String);

impl From<Streaming> for reqwest::Body {
    fn from(body: Streaming) -> Self {
        body.0.into()
    }
}

#[tokio::test]
async fn a_request_that_cannot_be_copied_is_not_retried_and_the_next_one_uses_the_nonce() {
    let (base, rs) = resource_server(true).await;
    let key = DpopKey::generate(Algorithm::ES256).unwrap();
    let mut client = PropagateLayer::service_token(fixed_source(&key, "billing"))
        .to([base.as_str()])
        .unwrap()
        .layer(reqwest_client());

    let request = || {
        http::Request::post(format!("{base}/upload"))
            .body(Streaming("chunk".into()))
            .unwrap()
    };
    let answer = send(&mut client, request()).await.unwrap();
    assert_eq!(answer.status(), 401, "answered as the server did");
    assert!(answer.headers().contains_key("dpop-nonce"));
    assert_eq!(rs.received.lock().unwrap().len(), 1, "not sent twice");
    let answer = send(&mut client, request()).await.unwrap();
    assert_eq!(answer.status(), 200, "{}", answer.body());
    assert_eq!(rs.admitted.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_proof_is_bound_to_its_request_so_a_copy_of_it_is_refused() {
    // What the layer sends can be replayed by no one: the server refuses a second use of
    // a proof, and a proof for another URI.
    let (base, rs) = resource_server(false).await;
    let key = DpopKey::generate(Algorithm::ES256).unwrap();
    let seen = Arc::new(Mutex::new(None::<(String, String)>));
    let spy = {
        let seen = Arc::clone(&seen);
        let inner = reqwest_client();
        tower::service_fn(move |request: http::Request<String>| {
            let header = |name| request.headers()[name].to_str().unwrap().to_owned();
            *seen.lock().unwrap() = Some((header("authorization"), header("dpop")));
            inner.clone().oneshot(request)
        })
    };
    let mut client = PropagateLayer::service_token(fixed_source(&key, "billing"))
        .to([base.as_str()])
        .unwrap()
        .layer(spy);
    let request = http::Request::get(format!("{base}/orders"))
        .body(String::new())
        .unwrap();
    assert_eq!(send(&mut client, request).await.unwrap().status(), 200);

    let (authorization, proof) = seen.lock().unwrap().clone().unwrap();
    for path in ["/orders", "/other"] {
        let replay = http()
            .get(format!("{base}{path}"))
            .header("authorization", &authorization)
            .header("dpop", &proof)
            .send()
            .await
            .unwrap();
        assert_eq!(replay.status(), 401, "{path}");
        assert!(
            replay.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_dpop_proof")
        );
    }
    assert_eq!(rs.admitted.lock().unwrap().len(), 1);
}

/// A gateway verifying its callers' tokens (some bound to the caller's key) and calling
/// the resource through `client` in their scope.
async fn call_as(
    client: propagate::PropagateService<Reqwest>,
    caller_token: &str,
    url: &str,
) -> Result<Answer, BoxError> {
    let identity = verifier().verify(caller_token).unwrap().identity();
    propagate::scope(identity, async move {
        let request = http::Request::get(url).body(String::new()).unwrap();
        client.oneshot(request).await
    })
    .await
}

#[tokio::test]
async fn a_callers_dpop_bound_token_is_never_forwarded() {
    let (base, rs) = resource_server(false).await;
    let caller_key = DpopKey::generate(Algorithm::ES256).unwrap();
    let caller_token = bound_token(&caller_key, "alice");
    let url = format!("{base}/orders");

    let forward = PropagateLayer::forward()
        .to([base.as_str()])
        .unwrap()
        .layer(reqwest_client());
    let error = call_as(forward, &caller_token, &url).await.unwrap_err();
    assert!(
        matches!(error.downcast_ref(), Some(PropagateError::CallerTokenBound)),
        "{error}"
    );
    assert!(rs.received.lock().unwrap().is_empty(), "nothing was sent");

    // With a service-token fallback, the service's own DPoP-bound token goes instead.
    let service_key = DpopKey::generate(Algorithm::ES256).unwrap();
    let with_fallback = PropagateLayer::forward()
        .or_service_token(fixed_source(&service_key, "gateway"))
        .to([base.as_str()])
        .unwrap()
        .layer(reqwest_client());
    let answer = call_as(with_fallback, &caller_token, &url).await.unwrap();
    assert_eq!(answer.status(), 200, "{}", answer.body());
    let received = rs.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    assert!(!received[0].contains(&caller_token));
    let sent = received[0].strip_prefix("DPoP ").unwrap();
    assert_eq!(verifier().verify(sent).unwrap().subject(), Some("gateway"));

    // A plain Bearer caller token is still forwarded as it was.
    let plain = mint_hs256("k1", &claims("bob", ""));
    let forward = PropagateLayer::forward()
        .to([base.as_str()])
        .unwrap()
        .layer(reqwest_client());
    let answer = call_as(forward, &plain, &url).await.unwrap();
    assert_eq!(answer.status(), 401, "this resource requires DPoP");
    assert_eq!(
        rs.received.lock().unwrap().last().unwrap(),
        &format!("Bearer {plain}")
    );
}

/// A token endpoint requiring a DPoP proof with its nonce, issuing tokens bound to the
/// proof's key; `requests` counts what it received.
struct TokenEndpoint {
    checker: DpopChecker,
    url: String,
    requests: Mutex<Vec<TokenRequest>>,
}

/// One token request: its `authorization` and its form.
type TokenRequest = (Option<String>, Vec<(String, String)>);

async fn token(
    State(te): State<Arc<TokenEndpoint>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Response {
    let now = now();
    let authorization = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned());
    te.requests
        .lock()
        .unwrap()
        .push((authorization.clone(), form));
    let oauth_error = |status: StatusCode, error: &str| {
        (status, axum::Json(json!({"error": error}))).into_response()
    };
    // client_secret_basic: "billing" / "s3cret: &more", form-urlencoded, then Basic.
    let expected = {
        use base64::Engine as _;
        let pair = "billing:s3cret%3A+%26more";
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    };
    if authorization.as_deref() != Some(expected.as_str()) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let Some(proof) = headers.get("dpop").and_then(|v| v.to_str().ok()) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_dpop_proof");
    };
    let checked = match te
        .checker
        .check_for_uri(proof, &Method::POST, &te.url, None, now)
    {
        Ok(checked) => checked,
        Err(error)
            if matches!(
                error.kind(),
                RejectionKind::DpopNonceRequired | RejectionKind::DpopNonceInvalid
            ) =>
        {
            let mut response = oauth_error(StatusCode::BAD_REQUEST, "use_dpop_nonce");
            let nonce = te.checker.fresh_nonce(now).unwrap();
            response
                .headers_mut()
                .insert("dpop-nonce", HeaderValue::try_from(nonce).unwrap());
            return response;
        }
        Err(_) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_dpop_proof"),
    };
    if te.checker.reserve(&checked, now).await.is_err() {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_dpop_proof");
    }
    let access_token = mint_hs256(
        "k1",
        &json!({"sub": "billing", "iat": now, "exp": now + 600, "cnf": {"jkt": checked.jkt()}}),
    );
    axum::Json(json!({"access_token": access_token, "token_type": "DPoP", "expires_in": 600}))
        .into_response()
}

async fn token_endpoint() -> (String, Arc<TokenEndpoint>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let url = format!("http://{addr}/token");
    let te = Arc::new(TokenEndpoint {
        checker: DpopChecker::builder(format!("http://{addr}"))
            .require_nonce(NonceSecret::new([4u8; 32]))
            .build()
            .unwrap(),
        url: url.clone(),
        requests: Mutex::default(),
    });
    let app = Router::new()
        .route("/token", post(token))
        .with_state(Arc::clone(&te));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, te)
}

#[tokio::test]
async fn client_credentials_with_a_key_gets_a_bound_token_through_the_nonce_dance_and_uses_it() {
    let (token_url, te) = token_endpoint().await;
    let (base, rs) = resource_server(true).await;
    let key = DpopKey::generate(Algorithm::ES256).unwrap();
    let source = ServiceTokenSource::client_credentials(&token_url, "billing", "s3cret: &more")
        .scope("orders:read")
        .resource(base.clone())
        .dpop(key.clone())
        .build()
        .unwrap();

    let token = source.token().await.unwrap();
    let requests = te.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 2, "use_dpop_nonce, then the retry with it");
    assert_eq!(
        requests[1].1,
        [
            ("grant_type".into(), "client_credentials".into()),
            ("scope".into(), "orders:read".into()),
            ("resource".into(), base.clone()),
        ]
    );
    let claims = verifier().verify(token.token()).unwrap().claims().clone();
    assert_eq!(claims["cnf"]["jkt"], key.thumbprint());
    assert!(token.expiry().is_some());

    // The token, with a proof of the same key per call, opens the DPoP resource.
    let mut client = PropagateLayer::service_token(source)
        .to([base.as_str()])
        .unwrap()
        .layer(reqwest_client());
    let request = http::Request::get(format!("{base}/orders"))
        .body(String::new())
        .unwrap();
    let answer = send(&mut client, request).await.unwrap();
    assert_eq!(answer.status(), 200, "{}", answer.body());
    assert_eq!(
        rs.received.lock().unwrap().last().unwrap(),
        &format!("DPoP {}", token.token())
    );
    assert_eq!(te.requests.lock().unwrap().len(), 2, "the token was cached");
}

#[tokio::test]
async fn client_credentials_reports_the_servers_refusal() {
    let (token_url, te) = token_endpoint().await;
    let key = DpopKey::generate(Algorithm::ES256).unwrap();
    let source = ServiceTokenSource::client_credentials(&token_url, "billing", "wrong")
        .dpop(key)
        .build()
        .unwrap();
    let error = source.token().await.unwrap_err().to_string();
    assert!(
        error.contains("401") && error.contains("invalid_client"),
        "{error}"
    );
    assert!(!error.contains("wrong"), "{error}");
    assert_eq!(te.requests.lock().unwrap().len(), 1);
}
