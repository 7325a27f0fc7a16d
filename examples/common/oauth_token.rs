//! `POST /token` (RFC 6749 §3.2): the `authorization_code`, `refresh_token` and
//! `client_credentials` grants, and token exchange (RFC 8693, `oauth_exchange.rs`), for
//! clients authenticated by `client_secret_basic`,
//! `client_secret_post` or, for public clients, `none`. The answer is always a JSON body
//! with `Cache-Control: no-store`, whatever `REFRESH_COOKIE` says (that is for the
//! browser login routes).
//!
//! Over TLS with client certificates (`TLS_CLIENT_CA_FILE`), the access token is bound
//! to the certificate the client presented (RFC 8705 §3): `cnf: {"x5t#S256": …}`,
//! whatever the client authentication, and a resource server then accepts it only from
//! a client presenting that certificate.
//!
//! With a DPoP proof (`oauth_dpop.rs`), the access token is bound to the proof's key
//! (`cnf.jkt`, `token_type: DPoP`), and so is a public client's refresh family: each
//! refresh must then prove the same key.
#![allow(dead_code)]

use axum::Form;
use axum::Json;
use axum::extract::Extension;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::HeaderMap;
use axum::http::header::{CACHE_CONTROL, PRAGMA};
use axum::response::{IntoResponse, Response};
use jwt_tower::confirmation::ClientCertificate;
use jwt_tower::oauth::{
    ACCESS_TOKEN_TYPE, AUTHORIZATION_CODE, CLIENT_CREDENTIALS, Client, ExchangeGrant, OAuthError,
    OAuthErrorCode, REFRESH_TOKEN, TOKEN_EXCHANGE, scope,
};
use jwt_tower::refresh::RefreshError;
use jwt_tower::store::Family;
use serde_json::{Map, Value};

use super::auth_routes::Tokens;
use super::oauth_dpop::{self, ProvedKey};
use super::oauth_error::OAuthErrorResponse;
use super::oauth_exchange;
use super::oauth_lookup;
use super::oauth_params::Params;
use super::oauth_routes::OAuthState;

/// What a grant gives: the access token's subject, scope and audience, and a refresh
/// token when one comes with it; for an exchange, its `act` claim and latest `exp`.
struct Granted {
    subject: String,
    scope: String,
    audience: Option<String>,
    refresh_token: Option<String>,
    exchanged: Option<Exchanged>,
}

/// What an exchanged token carries beyond the other grants' (RFC 8693 §2.2.1, §4.1).
struct Exchanged {
    act: Value,
    not_after: i64,
}

impl From<ExchangeGrant> for Granted {
    fn from(grant: ExchangeGrant) -> Self {
        Self {
            subject: grant.subject,
            scope: grant.scope,
            audience: Some(grant.audience),
            refresh_token: None,
            exchanged: Some(Exchanged {
                act: grant.act,
                not_after: grant.expires_at,
            }),
        }
    }
}

fn refresh_error(error: RefreshError) -> OAuthError {
    match error {
        RefreshError::Unavailable(error) => error.into(),
        RefreshError::KeyMismatch => key_mismatch(),
        other => OAuthError::invalid_grant(other.to_string()),
    }
}

fn key_mismatch() -> OAuthError {
    OAuthError::new(
        OAuthErrorCode::InvalidDpopProof,
        "the refresh token is bound to a DPoP key: send a proof signed by that key",
    )
}

/// Refuses a refresh of a family bound to a key the request did not prove (RFC 9449 §5),
/// before the rotation spends its token: the grant stays usable.
fn check_proved_key(family: &Family, proof: Option<&ProvedKey>) -> Result<(), OAuthError> {
    match &family.jkt {
        Some(bound) if proof.map(ProvedKey::jkt) != Some(bound.as_str()) => Err(key_mismatch()),
        _ => Ok(()),
    }
}

fn may_use(client: &Client, grant_type: &str) -> Result<(), OAuthError> {
    if client.allows_grant(grant_type) {
        Ok(())
    } else {
        Err(OAuthError::new(
            OAuthErrorCode::UnauthorizedClient,
            format!("this client may not use the {grant_type} grant"),
        ))
    }
}

async fn authorization_code(
    state: &OAuthState,
    client: &Client,
    params: &Params,
    proof: Option<&ProvedKey>,
) -> Result<Granted, OAuthError> {
    may_use(client, AUTHORIZATION_CODE)?;
    let resource = params.get("resource");
    state.audience(resource)?;
    let presented = params.required("code")?;
    let code = state
        .codes
        .redeem(
            presented,
            &client.client_id,
            params.get("redirect_uri"),
            params.get("code_verifier"),
            resource,
        )
        .await?;
    code.check_dpop_key(proof.map(ProvedKey::jkt))?;
    let audience = state.audience(code.resource.as_deref().or(resource))?;
    // Public clients too: they have no other way to keep a session (OAuth 2.1 §4.3.1;
    // refresh tokens rotate, and a replay revokes the family).
    let refresh_token = if client.allows_grant(REFRESH_TOKEN) {
        let grant = state
            .auth
            .refresh
            .start_for_client_with_key(
                &code.subject,
                &code.scope,
                &client.client_id,
                audience.as_deref(),
                oauth_dpop::refresh_binding(client, proof),
            )
            .await
            .map_err(refresh_error)?;
        // A second redemption of this code revokes the family.
        state.codes.spent(presented, &code, &grant.token).await?;
        Some(grant.token)
    } else {
        None
    };
    Ok(Granted {
        subject: code.subject,
        scope: code.scope,
        audience,
        refresh_token,
        exchanged: None,
    })
}

/// What a refresh request asks of `family`: the same resource (a refresh does not move a
/// grant to another resource) and the same or a narrower scope (RFC 6749 §6). Returns
/// the scope.
fn refresh_scope(
    params: &Params,
    requested_audience: Option<&String>,
    family: &Family,
) -> Result<String, OAuthError> {
    if params.get("resource").is_some() && requested_audience != family.audience.as_ref() {
        return Err(OAuthError::invalid_target(
            "resource differs from the one the grant was made for",
        ));
    }
    scope::narrow(params.get("scope"), &[&family.scope])
}

async fn refresh_token(
    state: &OAuthState,
    client: &Client,
    params: &Params,
    proof: Option<&ProvedKey>,
) -> Result<Granted, OAuthError> {
    may_use(client, REFRESH_TOKEN)?;
    let requested_audience = state.audience(params.get("resource"))?;
    if let Some(requested) = params.get("scope")
        && !scope::is_valid_scope(requested)
    {
        return Err(OAuthError::invalid_scope("scope is malformed"));
    }
    let presented = params.required("refresh_token")?;
    let refresh = &state.auth.refresh;
    // Checked before the rotation spends the token: a refused request leaves the grant
    // usable, so the client's retry is not taken for a replay.
    if let Some(family) = refresh
        .current_family(presented)
        .await
        .map_err(refresh_error)?
        && family.client_id.as_deref() == Some(client.client_id.as_str())
    {
        refresh_scope(params, requested_audience.as_ref(), &family)?;
        check_proved_key(&family, proof)?;
    }
    let grant = refresh
        .rotate_for_client_with_key(presented, &client.client_id, proof.map(ProvedKey::jkt))
        .await
        .map_err(refresh_error)?;
    let scope = refresh_scope(params, requested_audience.as_ref(), &grant.family)?;
    let family = grant.family;
    Ok(Granted {
        subject: family.subject,
        scope,
        audience: family.audience,
        refresh_token: Some(grant.token),
        exchanged: None,
    })
}

fn client_credentials(
    state: &OAuthState,
    client: &Client,
    params: &Params,
) -> Result<Granted, OAuthError> {
    may_use(client, CLIENT_CREDENTIALS)?;
    let audience = state.audience(params.get("resource"))?;
    let scope = scope::narrow(
        params.get("scope"),
        &[client.scope.as_deref().unwrap_or("")],
    )?;
    Ok(Granted {
        subject: client.client_id.clone(),
        scope,
        audience,
        refresh_token: None,
        exchanged: None,
    })
}

/// The token's `cnf` (confirmation) claim: what it is bound to, if anything. The proof's
/// key (RFC 9449 §6: `jkt`, its thumbprint) and the request's client certificate
/// (RFC 8705 §3.1: `x5t#S256`) can both be there.
fn confirmation(
    proof: Option<&oauth_dpop::ProvedKey>,
    certificate: Option<&ClientCertificate>,
) -> Option<Value> {
    let mut cnf = Map::new();
    if let Some(proof) = proof {
        cnf.insert("jkt".to_owned(), proof.jkt().into());
    }
    if let Some(certificate) = certificate {
        cnf.insert("x5t#S256".to_owned(), certificate.thumbprint().into());
    }
    (!cnf.is_empty()).then_some(Value::Object(cnf))
}

async fn grant(
    state: &OAuthState,
    headers: &HeaderMap,
    certificate: Option<&ClientCertificate>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, OAuthError> {
    let Form(mut pairs) = form.map_err(|_| {
        OAuthError::invalid_request("the body must be application/x-www-form-urlencoded")
    })?;
    let targets = oauth_exchange::take_targets(&mut pairs);
    let params = Params::from_pairs(pairs)?;
    let client = oauth_lookup::client(state, headers, &params).await?;
    let proof = state.dpop.prove(headers).await?;
    let proof = proof.as_ref();
    let granted = match params.required("grant_type")? {
        AUTHORIZATION_CODE => authorization_code(state, &client, &params, proof).await?,
        REFRESH_TOKEN => refresh_token(state, &client, &params, proof).await?,
        CLIENT_CREDENTIALS => client_credentials(state, &client, &params)?,
        TOKEN_EXCHANGE => {
            let targets = targets.unwrap_or_default();
            oauth_exchange::exchange(state, &client, &params, &targets)
                .await?
                .into()
        }
        _ => {
            return Err(OAuthError::new(
                OAuthErrorCode::UnsupportedGrantType,
                "grant_type must be authorization_code, refresh_token, client_credentials \
                 or urn:ietf:params:oauth:grant-type:token-exchange",
            ));
        }
    };
    // RFC 9068: `client_id` and `scope` beside the registered claims; `typ: at+jwt`.
    let mut claims = Map::new();
    claims.insert("scope".to_owned(), granted.scope.clone().into());
    claims.insert("client_id".to_owned(), client.client_id.clone().into());
    if let Some(cnf) = confirmation(proof, certificate) {
        claims.insert("cnf".to_owned(), cnf);
    }
    if let Some(exchanged) = &granted.exchanged {
        claims.insert("act".to_owned(), exchanged.act.clone());
    }
    // An exchanged token never outlives its subject token.
    let not_after = granted.exchanged.as_ref().map(|e| e.not_after);
    let access = state
        .auth
        .access
        .issue(
            &granted.subject,
            granted.audience.as_deref(),
            claims,
            not_after,
        )
        .await?;
    let body = Tokens {
        access_token: access.token,
        // RFC 9449 §5: a token bound to a proof's key is of type DPoP.
        token_type: if proof.is_some() { "DPoP" } else { "Bearer" },
        expires_in: access.expires_in,
        scope: granted.scope,
        refresh_token: granted.refresh_token,
    };
    let mut body = serde_json::to_value(body)
        .map_err(|e| OAuthError::new(OAuthErrorCode::ServerError, e.to_string()))?;
    if granted.exchanged.is_some() {
        // RFC 8693 §2.2.1.
        body["issued_token_type"] = Value::from(ACCESS_TOKEN_TYPE);
    }
    let mut response = (
        [(CACHE_CONTROL, "no-store"), (PRAGMA, "no-cache")],
        Json(body),
    )
        .into_response();
    if let Some(nonce) = state.dpop.nonce_header(proof, None) {
        response.headers_mut().insert(oauth_dpop::DPOP_NONCE, nonce);
    }
    Ok(response)
}

/// `POST /token`.
pub async fn token(
    State(state): State<OAuthState>,
    certificate: Option<Extension<ClientCertificate>>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let certificate = certificate
        .as_ref()
        .map(|Extension(certificate)| certificate);
    match grant(&state, &headers, certificate, form).await {
        Ok(response) => response,
        Err(error) => {
            let nonce = state.dpop.nonce_header(None, Some(&error));
            let mut response = OAuthErrorResponse(error).into_response();
            if let Some(nonce) = nonce {
                response.headers_mut().insert(oauth_dpop::DPOP_NONCE, nonce);
            }
            response
        }
    }
}
