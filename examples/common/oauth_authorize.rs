//! `GET /authorize` and `POST /authorize`: the authorization-code grant with PKCE
//! (RFC 6749 §4.1, RFC 7636, RFC 9207). `GET` checks the request and shows the login
//! form; the form posts the same query string with `username` and `password`, which go
//! through the login routes' one password check (limits, hashing threads, padding). On
//! success, a 303 to the client's redirect URI with `code`, `state` and `iss`.
//!
//! An unknown client or a redirect URI that is not exactly one of the client's gets an
//! error page, never a redirect (RFC 6749 §4.1.2.1: the server would otherwise redirect
//! wherever an attacker asks). Every later error is a redirect with `error`, `state` and
//! `iss`.
#![allow(dead_code)]

use std::net::SocketAddr;

use axum::Form;
use axum::extract::{ConnectInfo, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use jwt_tower::oauth::{
    AUTHORIZATION_CODE, AuthorizationCode, Client, OAuthError, OAuthErrorCode,
    authorization_response_url, pkce, scope,
};
use serde::Deserialize;

use super::auth_requests::{MAX_PASSWORD_BYTES, MAX_USERNAME_BYTES};
use super::auth_routes::check_password;
use super::oauth_dpop;
use super::oauth_pages::{error_page, login_form};
use super::oauth_params::Params;
use super::oauth_routes::OAuthState;

/// A request that may be redirected back to its client.
struct Authorization {
    client: Client,
    redirect_uri: String,
    state: Option<String>,
    scope: Option<String>,
    code_challenge: String,
    resource: Option<String>,
    /// The DPoP key the code is bound to (RFC 9449 §10), if the client named one.
    dpop_jkt: Option<String>,
}

/// Why a request is refused: a page when the client or its redirect URI is unknown, else a
/// redirect carrying the error.
enum Refusal {
    Page(StatusCode, String),
    Redirect(Response),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::Page(status, description) => error_page(status, &description),
            Self::Redirect(response) => response,
        }
    }
}

/// The redirect to the client with `params`, its `state` and our `iss`.
fn redirect(
    state: &OAuthState,
    redirect_uri: &str,
    client_state: Option<&str>,
    params: &[(&str, Option<&str>)],
) -> Response {
    let mut all = params.to_vec();
    all.push(("state", client_state));
    all.push(("iss", Some(state.issuer_url.as_str())));
    Redirect::to(&authorization_response_url(redirect_uri, &all)).into_response()
}

fn error_redirect(
    state: &OAuthState,
    authorization: &Authorization,
    error: &OAuthError,
) -> Refusal {
    Refusal::Redirect(redirect(
        state,
        &authorization.redirect_uri,
        authorization.state.as_deref(),
        &[
            ("error", Some(error.code().as_str())),
            ("error_description", Some(error.description())),
        ],
    ))
}

/// Checks the query: first what decides whether redirecting is safe, then the rest.
async fn check(state: &OAuthState, pairs: Vec<(String, String)>) -> Result<Authorization, Refusal> {
    let params = Params::from_pairs(pairs)
        .map_err(|e| Refusal::Page(StatusCode::BAD_REQUEST, e.description().to_owned()))?;
    let page = |text: &str| Refusal::Page(StatusCode::BAD_REQUEST, text.to_owned());
    let client_id = params
        .get("client_id")
        .ok_or_else(|| page("client_id is required"))?;
    let client = match state.client(client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => return Err(page("unknown client_id")),
        Err(error) => {
            tracing::warn!(%error, "authorize: store unavailable");
            return Err(Refusal::Page(
                StatusCode::SERVICE_UNAVAILABLE,
                "the store is unavailable; try again shortly".to_owned(),
            ));
        }
    };
    let redirect_uri = params
        .get("redirect_uri")
        .ok_or_else(|| page("redirect_uri is required"))?;
    if !client.has_redirect_uri(redirect_uri) {
        return Err(page("redirect_uri is not one registered for this client"));
    }
    let authorization = Authorization {
        redirect_uri: redirect_uri.to_owned(),
        state: params.get("state").map(str::to_owned),
        scope: params.get("scope").map(str::to_owned),
        code_challenge: params.get("code_challenge").unwrap_or_default().to_owned(),
        resource: params.get("resource").map(str::to_owned),
        dpop_jkt: params.get("dpop_jkt").map(str::to_owned),
        client,
    };
    // From here on, errors go back to the client.
    let refuse = |error: OAuthError| error_redirect(state, &authorization, &error);
    if params.get("response_type") != Some("code") {
        return Err(refuse(OAuthError::new(
            OAuthErrorCode::UnsupportedResponseType,
            "response_type must be code",
        )));
    }
    if !authorization.client.allows_grant(AUTHORIZATION_CODE) {
        return Err(refuse(OAuthError::new(
            OAuthErrorCode::UnauthorizedClient,
            "this client may not use the authorization-code grant",
        )));
    }
    pkce::check_challenge(
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    )
    .map_err(refuse)?;
    state
        .audience(authorization.resource.as_deref())
        .map_err(refuse)?;
    if let Some(jkt) = &authorization.dpop_jkt
        && !oauth_dpop::is_thumbprint(jkt)
    {
        return Err(refuse(OAuthError::invalid_request(
            "dpop_jkt is not a JWK SHA-256 thumbprint",
        )));
    }
    // The user's bound is known only after login; the client's is checked now.
    if let Some(client_scope) = &authorization.client.scope {
        scope::narrow(authorization.scope.as_deref(), &[client_scope]).map_err(refuse)?;
    } else if let Some(requested) = &authorization.scope
        && !scope::is_valid_scope(requested)
    {
        return Err(refuse(OAuthError::invalid_scope("scope is malformed")));
    }
    Ok(authorization)
}

fn client_label(client: &Client) -> &str {
    client.client_name.as_deref().unwrap_or(&client.client_id)
}

/// `GET /authorize`: the login form, or the refusal.
pub async fn show(
    State(state): State<OAuthState>,
    RawQuery(raw): RawQuery,
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(pairs)) = query else {
        return error_page(StatusCode::BAD_REQUEST, "the query string is malformed");
    };
    match check(&state, pairs).await {
        Ok(authorization) => login_form(
            StatusCode::OK,
            raw.as_deref().unwrap_or_default(),
            client_label(&authorization.client),
            authorization.scope.as_deref().unwrap_or_default(),
            None,
        ),
        Err(refusal) => refusal.into_response(),
    }
}

/// The login form's fields.
#[derive(Deserialize)]
pub struct Credentials {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// `POST /authorize`: the query checked again (nothing is kept between the form and its
/// post), the password checked, then the code.
pub async fn submit(
    State(state): State<OAuthState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
    form: Result<Form<Credentials>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Query(pairs)) = query else {
        return error_page(StatusCode::BAD_REQUEST, "the query string is malformed");
    };
    let authorization = match check(&state, pairs).await {
        Ok(authorization) => authorization,
        Err(refusal) => return refusal.into_response(),
    };
    let raw = raw.unwrap_or_default();
    let form_again = |status, error: &str| {
        login_form(
            status,
            &raw,
            client_label(&authorization.client),
            authorization.scope.as_deref().unwrap_or_default(),
            Some(error),
        )
    };
    let Ok(Form(credentials)) = form else {
        return form_again(
            StatusCode::BAD_REQUEST,
            "send the form's username and password",
        );
    };
    if credentials.username.is_empty()
        || credentials.username.len() > MAX_USERNAME_BYTES
        || credentials.password.len() > MAX_PASSWORD_BYTES
    {
        return form_again(StatusCode::BAD_REQUEST, "invalid username or password");
    }
    let subject = credentials.username.clone();
    let user_scope = match check_password(
        &state.auth,
        peer,
        &headers,
        credentials.username,
        credentials.password,
    )
    .await
    {
        Ok(Some(scope)) => scope,
        Ok(None) => return form_again(StatusCode::UNAUTHORIZED, "invalid username or password"),
        // Too many attempts, or hashing busy: the login routes' answer (429/503).
        Err(error) => return error.into_response(),
    };
    let mut bounds = vec![user_scope.as_str()];
    if let Some(client_scope) = &authorization.client.scope {
        bounds.push(client_scope);
    }
    let granted = match scope::narrow(authorization.scope.as_deref(), &bounds) {
        Ok(granted) => granted,
        Err(error) => return error_redirect(&state, &authorization, &error).into_response(),
    };
    let code = AuthorizationCode {
        client_id: authorization.client.client_id.clone(),
        redirect_uri: authorization.redirect_uri.clone(),
        code_challenge: authorization.code_challenge.clone(),
        resource: authorization.resource.clone(),
        dpop_jkt: authorization.dpop_jkt.clone(),
        scope: granted,
        subject,
        expires_at: 0,
    };
    match state.codes.issue(code).await {
        Ok(code) => redirect(
            &state,
            &authorization.redirect_uri,
            authorization.state.as_deref(),
            &[("code", Some(&code))],
        ),
        Err(error) => {
            let error = OAuthError::from(error);
            error_redirect(&state, &authorization, &error).into_response()
        }
    }
}
