//! The OAuth configuration of `auth_server`: the pre-registered clients of
//! `OAUTH_CLIENTS_FILE` and the resources of `OAUTH_RESOURCES`.
#![allow(dead_code)]

use jwt_tower::oauth::{Client, ClientConfig};

/// The shortest client secret accepted, in bytes: a secret is kept as one SHA-256 hash,
/// which only protects a high-entropy secret (a short one is found by trying).
pub const MIN_SECRET_BYTES: usize = 32;

/// The clients of the file at `path`: a JSON array of `{"client_id", "client_secret"
/// (absent for public clients; at least [`MIN_SECRET_BYTES`]), "scope"
/// (space-separated), "redirect_uris", "grant_types", "exchange_audiences" (the
/// audiences a confidential client may exchange tokens for, RFC 8693)}`, only
/// `client_id` required. A
/// client may not be named like a user (`is_user`): a client-credentials token has the
/// client id as its subject. The message of an error names the problem; the caller
/// names the variable.
pub fn clients_from_file(
    path: &str,
    now: i64,
    is_user: impl Fn(&str) -> bool,
) -> Result<Vec<Client>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path:?}: {e}"))?;
    let configs: Vec<ClientConfig> = serde_json::from_str(&text)
        .map_err(|e| format!("{path:?} is not the expected JSON: {e}"))?;
    let mut clients: Vec<Client> = Vec::with_capacity(configs.len());
    for config in configs {
        if config
            .client_secret
            .as_ref()
            .is_some_and(|secret| secret.len() < MIN_SECRET_BYTES)
        {
            return Err(format!(
                "the secret of client {:?} is shorter than {MIN_SECRET_BYTES} bytes; \
                 use a random one (e.g. `openssl rand -base64 32`)",
                config.client_id
            ));
        }
        if is_user(&config.client_id) {
            return Err(format!(
                "client {:?} is also a DEMO_USERS user: its client-credentials tokens \
                 would carry that user's subject",
                config.client_id
            ));
        }
        let client = config.into_client(now)?;
        if clients.iter().any(|c| c.client_id == client.client_id) {
            return Err(format!("client {:?} is listed twice", client.client_id));
        }
        clients.push(client);
    }
    Ok(clients)
}

/// The comma-separated resource URIs of `value`, or `default` (the `JWT_AUDIENCE`
/// values) when unset.
pub fn resources(value: Option<String>, default: &[String]) -> Vec<String> {
    match value {
        Some(list) => list
            .split(',')
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty())
            .collect(),
        None => default.to_vec(),
    }
}

/// Every audience this server issues tokens for: the `OAUTH_RESOURCES` values, then the
/// `JWT_AUDIENCE` ones not among them.
pub fn served_audiences(resources: &[String], audiences: &[String]) -> Vec<String> {
    let mut served = resources.to_vec();
    for audience in audiences {
        if !served.contains(audience) {
            served.push(audience.clone());
        }
    }
    served
}

/// Refuses a client whose `exchange_audiences` name an audience this server does not
/// serve (`served`): no exchange for it could succeed.
pub fn check_exchange_audiences(clients: &[Client], served: &[String]) -> Result<(), String> {
    for client in clients {
        if let Some(audience) = client
            .exchange_audiences
            .iter()
            .find(|a| !served.contains(a))
        {
            return Err(format!(
                "client {:?}: exchange audience {audience:?} is neither an OAUTH_RESOURCES \
                 nor a JWT_AUDIENCE value",
                client.client_id
            ));
        }
    }
    Ok(())
}
