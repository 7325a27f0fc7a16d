//! The OAuth configuration of `auth_server`: the pre-registered clients of
//! `OAUTH_CLIENTS_FILE` and the resources of `OAUTH_RESOURCES`.
#![allow(dead_code)]

use jwt_tower::oauth::{Client, ClientConfig};

/// The clients of the file at `path`: a JSON array of `{"client_id", "client_secret"
/// (absent for public clients), "scope" (space-separated), "redirect_uris",
/// "grant_types"}`, only `client_id` required. The message of an error names the
/// problem; the caller names the variable.
pub fn clients_from_file(path: &str, now: i64) -> Result<Vec<Client>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path:?}: {e}"))?;
    let configs: Vec<ClientConfig> = serde_json::from_str(&text)
        .map_err(|e| format!("{path:?} is not the expected JSON: {e}"))?;
    let mut clients: Vec<Client> = Vec::with_capacity(configs.len());
    for config in configs {
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
