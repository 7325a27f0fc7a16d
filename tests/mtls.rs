//! Certificate-bound tokens (RFC 8705) over real TLS sockets, with certificates the test
//! generates: a CA, a server certificate for 127.0.0.1 and localhost, and two client
//! certificates, A and B. `auth_server` binds the tokens it issues to the client
//! certificate (`cnf["x5t#S256"]`); `resource_server` and `grpc_service` request client
//! certificates without requiring them, and put the one a client presented where the
//! authenticator checks a bound token against it.

mod support;

#[path = "../examples/common/identity_proto.rs"]
mod identity_proto;
#[path = "../examples/common/tls.rs"]
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, Extension};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use identity_proto::identity_client::IdentityClient;
use identity_proto::identity_server::{Identity, IdentityServer};
use identity_proto::{WhoAmIRequest, WhoAmIResponse};
use jwt_tower::confirmation::ClientCertificate;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use serde_json::{Value, json};
use support::process::{Running, run_to_exit, start_listening};
use support::*;
use tonic::transport::{Channel, ClientTlsConfig, Server, ServerTlsConfig};
use tonic::{Code, Request, Response, Status};

const CLIENT_ID: &str = "service";
const CLIENT_SECRET: &str = "service-secret-0123456789abcdefghij";

/// A certificate and its key, as PEM, and the certificate's DER.
struct Pair {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
}

impl Pair {
    /// The RFC 8705 `x5t#S256` of the certificate, computed here from the DER.
    fn thumbprint(&self) -> String {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &self.der);
        URL_SAFE_NO_PAD.encode(digest.as_ref())
    }

    /// The certificate and key as a client identity for reqwest.
    fn reqwest_identity(&self) -> reqwest::Identity {
        reqwest::Identity::from_pem(format!("{}{}", self.cert_pem, self.key_pem).as_bytes())
            .unwrap()
    }

    fn tonic_identity(&self) -> tonic::transport::Identity {
        tonic::transport::Identity::from_pem(&self.cert_pem, &self.key_pem)
    }
}

/// Everything generated for the test binary, and the files the servers read.
struct Pki {
    ca: Pair,
    server: Pair,
    client_a: Pair,
    client_b: Pair,
    /// Signed by a CA the servers do not trust.
    stranger: Pair,
    dir: PathBuf,
}

impl Pki {
    fn file(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    /// `TLS_*` for a server with client certificates.
    fn server_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TLS_CERT_FILE", self.file("server.pem")),
            ("TLS_KEY_FILE", self.file("server-key.pem")),
            ("TLS_CLIENT_CA_FILE", self.file("ca.pem")),
        ]
    }

    fn tls_files(&self) -> tls::TlsFiles {
        tls::TlsFiles {
            cert_file: self.file("server.pem"),
            key_file: self.file("server-key.pem"),
            client_ca_file: Some(self.file("ca.pem")),
        }
    }
}

fn new_ca(name: &str) -> (Issuer<'static, KeyPair>, Pair) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let pair = Pair {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        der: cert.der().to_vec(),
    };
    (Issuer::new(params, key), pair)
}

fn signed(
    issuer: &Issuer<'_, KeyPair>,
    name: &str,
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
) -> Pair {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    Pair {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        der: cert.der().to_vec(),
    }
}

fn generate() -> Pki {
    let (issuer, ca) = new_ca("jwt-tower test CA");
    let server = signed(
        &issuer,
        "server",
        &["127.0.0.1", "localhost"],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let client_a = signed(
        &issuer,
        "client A",
        &[],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let client_b = signed(
        &issuer,
        "client B",
        &[],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let (other, _) = new_ca("another CA");
    let stranger = signed(&other, "stranger", &[], ExtendedKeyUsagePurpose::ClientAuth);
    let dir = std::env::temp_dir().join(format!("jwt-tower-mtls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    write("ca.pem", &ca.cert_pem);
    write("server.pem", &server.cert_pem);
    write("server-key.pem", &server.key_pem);
    let clients = json!([{
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "scope": "read",
        "grant_types": ["client_credentials"],
    }]);
    write("clients.json", &clients.to_string());
    Pki {
        ca,
        server,
        client_a,
        client_b,
        stranger,
        dir,
    }
}

/// Generated once for the whole test binary (its tests run at once).
fn pki() -> &'static Pki {
    static PKI: LazyLock<Pki> = LazyLock::new(generate);
    &PKI
}

/// An HTTPS client trusting the test CA only, presenting `identity` if given.
fn https(identity: Option<&Pair>) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(pki().ca.cert_pem.as_bytes()).unwrap();
    let mut builder = reqwest::Client::builder().tls_certs_only([ca]);
    if let Some(pair) = identity {
        builder = builder.identity(pair.reqwest_identity());
    }
    builder.build().unwrap()
}

/// Starts an example over TLS and waits until `GET https://…/health` answers.
async fn start_https(name: &str, env: &[(&'static str, String)]) -> Running {
    let running = start_listening(name, env).await;
    let health = format!("https://{}/health", running.addr);
    let client = https(None);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = client.get(&health).send().await
            && r.status() == 200
        {
            return running;
        }
        assert!(Instant::now() < deadline, "{name} did not become healthy");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `auth_server` over TLS with client certificates, signing ES256 with the test key.
async fn auth_server() -> Running {
    auth_server_with(pki().server_env()).await
}

async fn auth_server_with(mut env: Vec<(&'static str, String)>) -> Running {
    env.extend([
        (
            "JWT_SIGNING_KEY_PEM_FILE",
            format!(
                "{}/jwt-tower/tests/keys/p256-private.pem",
                env!("CARGO_MANIFEST_DIR")
            ),
        ),
        ("JWT_KID", "k1".to_owned()),
        ("JWT_AUDIENCE", "api".to_owned()),
        ("OAUTH_CLIENTS_FILE", pki().file("clients.json")),
    ]);
    start_https("auth_server", &env).await
}

/// The `JWT_*` variables of a server accepting the auth server's tokens.
fn jwt_env(issuer: &str) -> Vec<(&'static str, String)> {
    let mut env = pki().server_env();
    env.extend([
        (
            "JWT_PUBLIC_KEY_PEM_FILE",
            format!(
                "{}/jwt-tower/tests/keys/p256-public.pem",
                env!("CARGO_MANIFEST_DIR")
            ),
        ),
        ("JWT_KID", "k1".to_owned()),
        ("JWT_ALGORITHMS", "ES256".to_owned()),
        ("JWT_ISSUER", issuer.to_owned()),
        ("JWT_AUDIENCE", "api".to_owned()),
    ]);
    env
}

/// A `client_credentials` token, the client authenticated by its secret, over a
/// connection presenting `certificate` (if any).
async fn client_credentials(auth: &Running, certificate: Option<&Pair>) -> Value {
    let reply = send(
        https(certificate)
            .post(format!("https://{}/token", auth.addr))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&scope=read"),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

/// The claims of a JWT, read without verifying it.
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// A token from the auth server bound to client certificate A.
async fn bound_token(auth: &Running) -> String {
    let body = client_credentials(auth, Some(&pki().client_a)).await;
    body["access_token"].as_str().unwrap().to_owned()
}

/// A token for the same issuer and audience, bound to nothing.
fn unbound_token(issuer: &str) -> String {
    mint_es256(
        "k1",
        &json!({"iss": issuer, "aud": "api", "sub": "plain", "scope": "read", "exp": now() + 600}),
    )
}

async fn me(server: &Running, token: &str, certificate: Option<&Pair>) -> Reply {
    send(
        https(certificate)
            .get(format!("https://{}/me", server.addr))
            .bearer_auth(token),
    )
    .await
}

fn issuer_of(auth: &Running) -> String {
    format!("https://{}", auth.addr)
}

// --- TLS serving, in process: the certificate reaches the request ---------------------

/// What a request saw of its connection: the client certificate's thumbprint, and
/// whether the peer address was there.
async fn connection(
    certificate: Option<Extension<ClientCertificate>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
) -> axum::Json<Value> {
    axum::Json(json!({
        "thumbprint": certificate.map(|Extension(c)| c.thumbprint().to_owned()),
        "peer": peer.is_some(),
    }))
}

async fn serve_tls_in_process() -> SocketAddr {
    let tls = tls::Tls::from_files(&pki().tls_files()).unwrap();
    assert!(tls.requests_client_certificates());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/connection", get(connection));
    tokio::spawn(async move {
        let _ = tls::serve(listener, app, tls)
            .await
            .map_err(|e| e.to_string());
    });
    addr
}

#[tokio::test]
async fn each_request_carries_its_connections_client_certificate() {
    let addr = serve_tls_in_process().await;
    let url = format!("https://{addr}/connection");
    for (certificate, expected) in [
        (Some(&pki().client_a), json!(pki().client_a.thumbprint())),
        (Some(&pki().client_b), json!(pki().client_b.thumbprint())),
        (None, Value::Null),
    ] {
        let client = https(certificate);
        // Twice on one connection: every request on it carries the certificate.
        for _ in 0..2 {
            let reply = send(client.get(&url)).await;
            assert_eq!(reply.status, 200);
            assert_eq!(reply.json(), json!({"thumbprint": expected, "peer": true}));
        }
    }
    assert_ne!(pki().client_a.thumbprint(), pki().client_b.thumbprint());
}

#[tokio::test]
async fn a_client_certificate_from_another_ca_fails_the_handshake() {
    let addr = serve_tls_in_process().await;
    let url = format!("https://{addr}/connection");
    let refused = https(Some(&pki().stranger)).get(&url).send().await;
    assert!(refused.is_err(), "{refused:?}");
    // Plain HTTP to the TLS port gets no answer either.
    assert!(
        http()
            .get(format!("http://{addr}/connection"))
            .send()
            .await
            .is_err()
    );
    // The server goes on serving.
    assert_eq!(send(https(None).get(&url)).await.status, 200);
}

// --- tonic, in process: ClientCertificateLayer --------------------------------------

/// Answers `WhoAmI` with the thumbprint of the request's client certificate as subject.
struct CertificateEcho;

#[tonic::async_trait]
impl Identity for CertificateEcho {
    async fn who_am_i(
        &self,
        request: Request<WhoAmIRequest>,
    ) -> Result<Response<WhoAmIResponse>, Status> {
        let subject = request
            .extensions()
            .get::<ClientCertificate>()
            .map_or_else(|| "none".to_owned(), |c| c.thumbprint().to_owned());
        Ok(Response::new(WhoAmIResponse {
            subject,
            ..Default::default()
        }))
    }

    async fn admin(
        &self,
        request: Request<WhoAmIRequest>,
    ) -> Result<Response<WhoAmIResponse>, Status> {
        self.who_am_i(request).await
    }

    async fn relay(
        &self,
        request: Request<WhoAmIRequest>,
    ) -> Result<Response<WhoAmIResponse>, Status> {
        self.who_am_i(request).await
    }
}

fn server_tls() -> ServerTlsConfig {
    ServerTlsConfig::new()
        .identity(pki().server.tonic_identity())
        .client_ca_root(tonic::transport::Certificate::from_pem(&pki().ca.cert_pem))
        .client_auth_optional(true)
}

/// A gRPC channel to `addr` over TLS, trusting the test CA, presenting `certificate`.
async fn grpc_channel(addr: &str, certificate: Option<&Pair>) -> Channel {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(&pki().ca.cert_pem))
        .domain_name("localhost");
    if let Some(pair) = certificate {
        tls = tls.identity(pair.tonic_identity());
    }
    Channel::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_tonic_layer_puts_the_client_certificate_in_the_request() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = Server::builder()
        .tls_config(server_tls())
        .unwrap()
        .layer(jwt_tonic::ClientCertificateLayer)
        .add_service(IdentityServer::new(CertificateEcho));
    tokio::spawn(server.serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)));
    for (certificate, expected) in [
        (Some(&pki().client_a), pki().client_a.thumbprint()),
        (Some(&pki().client_b), pki().client_b.thumbprint()),
        (None, "none".to_owned()),
    ] {
        let mut client = IdentityClient::new(grpc_channel(&addr, certificate).await);
        for _ in 0..2 {
            let answer = client.who_am_i(WhoAmIRequest {}).await.unwrap();
            assert_eq!(answer.into_inner().subject, expected);
        }
    }
}

// --- the examples, as processes ------------------------------------------------------

#[tokio::test]
async fn auth_server_binds_tokens_to_the_client_certificate() {
    let auth = auth_server().await;
    // Served over TLS, the issuer is `https://$BIND`.
    let metadata = send(https(None).get(format!(
        "https://{}/.well-known/oauth-authorization-server",
        auth.addr
    )))
    .await
    .json();
    assert_eq!(metadata["issuer"], json!(issuer_of(&auth)));
    assert_eq!(
        metadata["token_endpoint"],
        json!(format!("{}/token", issuer_of(&auth)))
    );
    assert_eq!(metadata["tls_client_certificate_bound_access_tokens"], true);

    for pair in [&pki().client_a, &pki().client_b] {
        let body = client_credentials(&auth, Some(pair)).await;
        assert_eq!(body["token_type"], "Bearer");
        let claims = claims_of(body["access_token"].as_str().unwrap());
        assert_eq!(claims["cnf"], json!({"x5t#S256": pair.thumbprint()}));
        assert_eq!(claims["client_id"], CLIENT_ID);
        assert_eq!(claims["iss"], json!(issuer_of(&auth)));
    }
    // Whatever the client authentication: here the secret in the body.
    let reply = send(
        https(Some(&pki().client_b))
            .post(format!("https://{}/token", auth.addr))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}"
            )),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let claims = claims_of(reply.json()["access_token"].as_str().unwrap());
    assert_eq!(
        claims["cnf"],
        json!({"x5t#S256": pki().client_b.thumbprint()})
    );
    // A refused client gets no token, certificate or not.
    let reply = send(
        https(Some(&pki().client_a))
            .post(format!("https://{}/token", auth.addr))
            .basic_auth(CLIENT_ID, Some("not-the-secret-0123456789abcdefghij"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials"),
    )
    .await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert_eq!(reply.json()["error"], "invalid_client");

    // No certificate, no binding: a plain bearer token.
    let body = client_credentials(&auth, None).await;
    let claims = claims_of(body["access_token"].as_str().unwrap());
    assert_eq!(claims.get("cnf"), None, "{claims}");
    assert_eq!(claims["scope"], "read");
}

#[tokio::test]
async fn over_tls_without_a_client_ca_no_certificate_is_asked_for_or_bound() {
    let mut env = pki().server_env();
    env.retain(|(name, _)| *name != "TLS_CLIENT_CA_FILE");
    let auth = auth_server_with(env).await;
    let metadata = send(https(None).get(format!(
        "https://{}/.well-known/oauth-authorization-server",
        auth.addr
    )))
    .await
    .json();
    assert_eq!(metadata["issuer"], json!(issuer_of(&auth)));
    assert_eq!(
        metadata.get("tls_client_certificate_bound_access_tokens"),
        None
    );
    // The client has a certificate, but the server does not ask for one.
    let body = client_credentials(&auth, Some(&pki().client_a)).await;
    let claims = claims_of(body["access_token"].as_str().unwrap());
    assert_eq!(claims.get("cnf"), None, "{claims}");
}

#[tokio::test]
async fn resource_server_over_mtls_accepts_the_bound_token_with_its_certificate() {
    let auth = auth_server().await;
    let issuer = issuer_of(&auth);
    let resource = start_https("resource_server", &jwt_env(&issuer)).await;
    let bound = bound_token(&auth).await;

    let reply = me(&resource, &bound, Some(&pki().client_a)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["sub"], CLIENT_ID);
    // A client without a certificate completes the handshake: its plain token is good.
    let reply = me(&resource, &unbound_token(&issuer), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["sub"], "plain");
    // And an unbound token needs no particular certificate.
    let reply = me(&resource, &unbound_token(&issuer), Some(&pki().client_b)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // A bad token is still refused over TLS, as over plain HTTP.
    let reply = me(&resource, "not-a-token", Some(&pki().client_a)).await;
    assert_eq!(reply.status, 401);
}

#[tokio::test]
async fn resource_server_refuses_a_bound_token_without_its_certificate() {
    let auth = auth_server().await;
    let resource = start_https("resource_server", &jwt_env(&issuer_of(&auth))).await;
    let bound = bound_token(&auth).await;

    for certificate in [Some(&pki().client_b), None] {
        let reply = me(&resource, &bound, certificate).await;
        assert_eq!(reply.status, 401, "{}", reply.body);
        let challenge = reply.challenge.unwrap_or_default();
        assert!(
            challenge.starts_with("Bearer ") && challenge.contains(r#"error="invalid_token""#),
            "{challenge}"
        );
    }
    // The right certificate still gets in.
    assert_eq!(
        me(&resource, &bound, Some(&pki().client_a)).await.status,
        200
    );
}

async fn grpc_service(issuer: &str) -> Running {
    start_listening("grpc_service", &jwt_env(issuer)).await
}

async fn who_am_i(
    service: &Running,
    token: &str,
    certificate: Option<&Pair>,
) -> Result<String, Status> {
    let mut client = IdentityClient::new(grpc_channel(&service.addr, certificate).await);
    let mut request = Request::new(WhoAmIRequest {});
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    client
        .who_am_i(request)
        .await
        .map(|answer| answer.into_inner().subject)
}

#[tokio::test]
async fn grpc_service_over_mtls_accepts_the_bound_token_with_its_certificate() {
    let auth = auth_server().await;
    let issuer = issuer_of(&auth);
    let service = grpc_service(&issuer).await;
    let bound = bound_token(&auth).await;

    assert_eq!(
        who_am_i(&service, &bound, Some(&pki().client_a))
            .await
            .unwrap(),
        CLIENT_ID
    );
    assert_eq!(
        who_am_i(&service, &unbound_token(&issuer), None)
            .await
            .unwrap(),
        "plain"
    );
    let refused = who_am_i(&service, "not-a-token", Some(&pki().client_a))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn grpc_service_refuses_a_bound_token_without_its_certificate() {
    let auth = auth_server().await;
    let service = grpc_service(&issuer_of(&auth)).await;
    let bound = bound_token(&auth).await;

    for certificate in [Some(&pki().client_b), None] {
        let refused = who_am_i(&service, &bound, certificate).await.unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    }
    assert_eq!(
        who_am_i(&service, &bound, Some(&pki().client_a))
            .await
            .unwrap(),
        CLIENT_ID
    );
}

/// A trusted proxy's certificate header on a server that reads client certificates
/// itself would let a client without one name any certificate: refused at start-up.
#[test]
fn a_certificate_header_beside_client_certificates_is_refused() {
    let pki = pki();
    let mut env = jwt_env("https://issuer.test");
    env.retain(|(name, _)| !name.starts_with("TLS_"));
    env.extend([
        ("TLS_CERT_FILE", pki.file("server.pem")),
        ("TLS_KEY_FILE", pki.file("server-key.pem")),
        ("TLS_CLIENT_CA_FILE", pki.file("ca.pem")),
        ("JWT_MTLS_CERT_HEADER", "x-client-cert".to_owned()),
    ]);
    let output = run_to_exit("resource_server", &env);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("configuration error: JWT_MTLS_CERT_HEADER"),
        "{stderr}"
    );
}

#[test]
fn incomplete_tls_configuration_names_the_variable() {
    let pki = pki();
    let missing = pki.file("missing.pem");
    let cases: Vec<(Vec<(&'static str, String)>, &str)> = vec![
        (
            vec![("TLS_CERT_FILE", pki.file("server.pem"))],
            "TLS_KEY_FILE",
        ),
        (
            vec![("TLS_KEY_FILE", pki.file("server-key.pem"))],
            "TLS_CERT_FILE",
        ),
        (
            vec![("TLS_CLIENT_CA_FILE", pki.file("ca.pem"))],
            "TLS_CLIENT_CA_FILE",
        ),
        (
            vec![
                ("TLS_CERT_FILE", missing.clone()),
                ("TLS_KEY_FILE", pki.file("server-key.pem")),
            ],
            "TLS_CERT_FILE",
        ),
        (
            vec![
                ("TLS_CERT_FILE", pki.file("server.pem")),
                ("TLS_KEY_FILE", pki.file("server-key.pem")),
                ("TLS_CLIENT_CA_FILE", missing),
            ],
            "TLS_CLIENT_CA_FILE",
        ),
        (
            // A certificate is not a key.
            vec![
                ("TLS_CERT_FILE", pki.file("server.pem")),
                ("TLS_KEY_FILE", pki.file("server.pem")),
            ],
            "TLS_KEY_FILE",
        ),
    ];
    for program in ["resource_server", "auth_server", "grpc_service"] {
        for (tls_env, variable) in &cases {
            let mut env = jwt_env("https://issuer.test");
            env.retain(|(name, _)| !name.starts_with("TLS_"));
            env.extend(tls_env.iter().cloned());
            let output = run_to_exit(program, &env);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "{program}: {stderr}");
            assert!(
                stderr.contains(&format!("configuration error: {variable}")),
                "{program} {tls_env:?}: {stderr}"
            );
        }
    }
}
