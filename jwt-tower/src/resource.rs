//! [`ProtectedResourceMetadata`]: what a resource server publishes about itself (RFC 9728),
//! so that a client holding only its URL can find the authorization servers to get a
//! token from, and the scopes to ask for. MCP clients start here.
//!
//! The metadata names the resource by its identifier (`resource`), and lives at a URL
//! derived from it: `/.well-known/oauth-protected-resource` inserted between the host
//! and the path (RFC 9728 §3.1). The same URL goes into every challenge as
//! `resource_metadata` (RFC 9728 §5.1), once given to
//! [`Authenticator::resource_metadata`](crate::Authenticator::resource_metadata).

use http::HeaderMap;
use serde::Serialize;
use url::{Position, Url};

use crate::ConfigError;

mod forwarded;

pub use forwarded::{ForwardedOrigin, TrustForwarded};

/// The well-known path of protected resource metadata (RFC 9728 §3), alone for a
/// resource without a path, followed by the resource's path otherwise.
pub const WELL_KNOWN_PATH: &str = "/.well-known/oauth-protected-resource";

/// Protected resource metadata (RFC 9728 §2), serialised with the RFC's member names;
/// unset optional members are left out.
///
/// Built by [`ProtectedResourceMetadata::builder`], which checks every URL, and knows the
/// URL it is published at ([`metadata_url`](Self::metadata_url)).
///
/// ```
/// use jwt_tower::resource::ProtectedResourceMetadata;
///
/// let metadata = ProtectedResourceMetadata::builder("https://api.example.com/mcp")
///     .authorization_servers(["https://auth.example.com"])
///     .scopes_supported(["orders.read", "orders.write"])
///     .bearer_methods_supported(["header"])
///     .build()?;
/// assert_eq!(
///     metadata.metadata_url(),
///     "https://api.example.com/.well-known/oauth-protected-resource/mcp"
/// );
/// assert_eq!(
///     serde_json::to_string(&metadata).unwrap(),
///     r#"{"resource":"https://api.example.com/mcp","authorization_servers":["https://auth.example.com"],"scopes_supported":["orders.read","orders.write"],"bearer_methods_supported":["header"]}"#
/// );
/// # Ok::<(), jwt_tower::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProtectedResourceMetadata {
    resource: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorization_servers: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jwks_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scopes_supported: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bearer_methods_supported: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dpop_signing_alg_values_supported: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dpop_bound_access_tokens_required: Option<bool>,
    #[serde(skip)]
    metadata_url: String,
    #[serde(skip)]
    well_known_path: String,
}

impl ProtectedResourceMetadata {
    /// Starts metadata for the resource identified by `resource`: an absolute `http` or
    /// `https` URI without query, fragment or credentials (RFC 9728 §1.2, RFC 8707 §2),
    /// kept exactly as given, since clients compare it with the URL they started from.
    ///
    /// ```
    /// use jwt_tower::resource::ProtectedResourceMetadata;
    ///
    /// let metadata = ProtectedResourceMetadata::builder("https://api.example.com").build()?;
    /// assert_eq!(metadata.resource(), "https://api.example.com");
    /// assert!(ProtectedResourceMetadata::builder("https://api.example.com/mcp?v=1").build().is_err());
    /// # Ok::<(), jwt_tower::ConfigError>(())
    /// ```
    pub fn builder(resource: impl Into<String>) -> ProtectedResourceMetadataBuilder {
        ProtectedResourceMetadataBuilder {
            resource: resource.into(),
            authorization_servers: None,
            jwks_uri: None,
            scopes_supported: None,
            bearer_methods_supported: None,
            resource_name: None,
            dpop_signing_alg_values_supported: None,
            dpop_bound_access_tokens_required: None,
        }
    }

    /// The resource identifier (`resource`).
    #[must_use]
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The URL this metadata is published at: [`WELL_KNOWN_PATH`] inserted between the
    /// resource's host and its path (RFC 9728 §3.1). It is the `resource_metadata` of
    /// challenges.
    ///
    /// ```
    /// use jwt_tower::resource::ProtectedResourceMetadata;
    ///
    /// let root = ProtectedResourceMetadata::builder("https://api.example.com/").build()?;
    /// assert_eq!(root.metadata_url(), "https://api.example.com/.well-known/oauth-protected-resource");
    /// # Ok::<(), jwt_tower::ConfigError>(())
    /// ```
    #[must_use]
    pub fn metadata_url(&self) -> &str {
        &self.metadata_url
    }

    /// The path of [`metadata_url`](Self::metadata_url), where a router serves this
    /// metadata: `/.well-known/oauth-protected-resource/mcp` for `https://host/mcp`.
    ///
    /// ```
    /// use jwt_tower::resource::ProtectedResourceMetadata;
    ///
    /// let metadata = ProtectedResourceMetadata::builder("http://127.0.0.1:3100/mcp").build()?;
    /// assert_eq!(metadata.well_known_path(), "/.well-known/oauth-protected-resource/mcp");
    /// # Ok::<(), jwt_tower::ConfigError>(())
    /// ```
    #[must_use]
    pub fn well_known_path(&self) -> &str {
        &self.well_known_path
    }

    /// This metadata as a client reached it: with [`TrustForwarded::On`], `resource`
    /// (and so [`metadata_url`](Self::metadata_url)) takes the scheme and host the
    /// trusted proxy reports ([`ForwardedOrigin`]), keeping the configured path; what the
    /// proxy does not report, or reports malformed, stays as configured. With
    /// [`TrustForwarded::Off`] (the default) it is this metadata, whatever the headers.
    ///
    /// Only the published document follows the proxy: a verifier built with
    /// [`VerifierBuilder::resource`](crate::VerifierBuilder::resource) accepts the
    /// configured resource URI alone, since an audience taken from request headers would
    /// let whoever sets them choose which tokens are accepted.
    ///
    /// ```
    /// use http::HeaderMap;
    /// use jwt_tower::resource::{ProtectedResourceMetadata, TrustForwarded};
    ///
    /// let metadata = ProtectedResourceMetadata::builder("http://127.0.0.1:3100/mcp").build()?;
    /// let mut headers = HeaderMap::new();
    /// headers.insert("x-forwarded-proto", "https".parse().unwrap());
    /// headers.insert("x-forwarded-host", "api.example.com".parse().unwrap());
    ///
    /// let public = metadata.for_request(&headers, TrustForwarded::On);
    /// assert_eq!(public.resource(), "https://api.example.com/mcp");
    /// assert_eq!(
    ///     public.metadata_url(),
    ///     "https://api.example.com/.well-known/oauth-protected-resource/mcp"
    /// );
    /// assert_eq!(metadata.for_request(&headers, TrustForwarded::Off), metadata);
    /// # Ok::<(), jwt_tower::ConfigError>(())
    /// ```
    #[must_use]
    pub fn for_request(&self, headers: &HeaderMap, trust: TrustForwarded) -> Self {
        let Some(origin) = ForwardedOrigin::from_headers(headers, trust) else {
            return self.clone();
        };
        // The configured resource was checked by `build`: `scheme://authority` then the
        // path, with no userinfo, query or fragment, so the authority ends at the first
        // `/` after `://` (an IPv6 literal holds none).
        let Some((scheme, rest)) = self.resource.split_once("://") else {
            return self.clone();
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let resource = format!(
            "{}://{}{path}",
            origin.scheme().unwrap_or(scheme),
            origin.authority().unwrap_or(authority),
        );
        ProtectedResourceMetadataBuilder {
            resource,
            authorization_servers: self.authorization_servers.clone(),
            jwks_uri: self.jwks_uri.clone(),
            scopes_supported: self.scopes_supported.clone(),
            bearer_methods_supported: self.bearer_methods_supported.clone(),
            resource_name: self.resource_name.clone(),
            dpop_signing_alg_values_supported: self.dpop_signing_alg_values_supported.clone(),
            dpop_bound_access_tokens_required: self.dpop_bound_access_tokens_required,
        }
        .build()
        .unwrap_or_else(|_| self.clone())
    }

    /// The issuer identifiers of the authorization servers that issue tokens for this
    /// resource (`authorization_servers`), if set.
    #[must_use]
    pub fn authorization_servers(&self) -> Option<&[String]> {
        self.authorization_servers.as_deref()
    }

    /// The scopes this resource understands (`scopes_supported`), if set.
    #[must_use]
    pub fn scopes_supported(&self) -> Option<&[String]> {
        self.scopes_supported.as_deref()
    }
}

/// Builds [`ProtectedResourceMetadata`]; from
/// [`ProtectedResourceMetadata::builder`]. Every member but `resource` is optional and
/// left out of the JSON unless set.
#[derive(Debug, Clone)]
#[must_use]
pub struct ProtectedResourceMetadataBuilder {
    resource: String,
    authorization_servers: Option<Vec<String>>,
    jwks_uri: Option<String>,
    scopes_supported: Option<Vec<String>>,
    bearer_methods_supported: Option<Vec<String>>,
    resource_name: Option<String>,
    dpop_signing_alg_values_supported: Option<Vec<String>>,
    dpop_bound_access_tokens_required: Option<bool>,
}

fn strings<S: Into<String>>(items: impl IntoIterator<Item = S>) -> Vec<String> {
    items.into_iter().map(Into::into).collect()
}

impl ProtectedResourceMetadataBuilder {
    /// The issuer identifiers of the authorization servers that issue tokens for this
    /// resource (`authorization_servers`): `http(s)` URLs without query or fragment.
    pub fn authorization_servers<S: Into<String>>(
        mut self,
        issuers: impl IntoIterator<Item = S>,
    ) -> Self {
        self.authorization_servers = Some(strings(issuers));
        self
    }

    /// The URL of this resource's own JWKS (`jwks_uri`), for resources that sign their
    /// responses; not the authorization server's keys.
    pub fn jwks_uri(mut self, uri: impl Into<String>) -> Self {
        self.jwks_uri = Some(uri.into());
        self
    }

    /// The scopes a client may ask for to use this resource (`scopes_supported`).
    pub fn scopes_supported<S: Into<String>>(
        mut self,
        scopes: impl IntoIterator<Item = S>,
    ) -> Self {
        self.scopes_supported = Some(strings(scopes));
        self
    }

    /// How this resource accepts a bearer token (`bearer_methods_supported`): `"header"`,
    /// `"body"` or `"query"` (RFC 6750 §2). An empty list says none is.
    pub fn bearer_methods_supported<S: Into<String>>(
        mut self,
        methods: impl IntoIterator<Item = S>,
    ) -> Self {
        self.bearer_methods_supported = Some(strings(methods));
        self
    }

    /// A name for this resource, for people (`resource_name`).
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// The DPoP side (RFC 9728 §2): the algorithms proofs may be signed with
    /// (`dpop_signing_alg_values_supported`) and whether every token must be DPoP-bound
    /// (`dpop_bound_access_tokens_required`), from the resource's checker. A checker in
    /// mode off sets neither.
    ///
    /// ```
    /// use jwt_tower::ProtectedResourceMetadata;
    /// use jwt_tower::dpop::{DpopChecker, DpopMode};
    ///
    /// let checker = DpopChecker::builder("https://api.example.com").mode(DpopMode::Required).build()?;
    /// let metadata = ProtectedResourceMetadata::builder("https://api.example.com")
    ///     .dpop(&checker)
    ///     .build()?;
    /// let json = serde_json::to_value(&metadata).unwrap();
    /// assert_eq!(json["dpop_signing_alg_values_supported"], serde_json::json!(["ES256", "Ed25519", "EdDSA"]));
    /// assert_eq!(json["dpop_bound_access_tokens_required"], true);
    /// # Ok::<(), jwt_tower::ConfigError>(())
    /// ```
    pub fn dpop(mut self, checker: &crate::dpop::DpopChecker) -> Self {
        use crate::dpop::DpopMode;
        if checker.mode() == DpopMode::Off {
            return self;
        }
        self.dpop_signing_alg_values_supported =
            Some(checker.algs().split(' ').map(str::to_owned).collect());
        self.dpop_bound_access_tokens_required = Some(checker.mode() == DpopMode::Required);
        self
    }

    /// The metadata, its URLs checked.
    ///
    /// # Errors
    /// [`ConfigError::ResourceMetadata`] when `resource` is not an absolute `http(s)` URI
    /// without query, fragment or credentials, or when an authorization server or the
    /// `jwks_uri` is not an absolute `http(s)` URL (issuers also without query or
    /// fragment).
    pub fn build(self) -> Result<ProtectedResourceMetadata, ConfigError> {
        let resource = parse("resource", &self.resource)?;
        exclude_query_and_fragment("resource", &resource)?;
        if !resource.username().is_empty() || resource.password().is_some() {
            return Err(refused("resource", &self.resource, "has credentials"));
        }
        for issuer in self.authorization_servers.iter().flatten() {
            exclude_query_and_fragment(
                "authorization server",
                &parse("authorization server", issuer)?,
            )?;
        }
        if let Some(uri) = &self.jwks_uri {
            parse("jwks_uri", uri)?;
        }
        // RFC 9728 §3.1: a terminating slash after the host is removed before the
        // insertion, so `https://host/` and `https://host` share the root form.
        let path = match resource.path() {
            "/" => "",
            path => path,
        };
        let well_known_path = format!("{WELL_KNOWN_PATH}{path}");
        let metadata_url = format!("{}{well_known_path}", &resource[..Position::BeforePath]);
        Ok(ProtectedResourceMetadata {
            resource: self.resource,
            authorization_servers: self.authorization_servers,
            jwks_uri: self.jwks_uri,
            scopes_supported: self.scopes_supported,
            bearer_methods_supported: self.bearer_methods_supported,
            resource_name: self.resource_name,
            dpop_signing_alg_values_supported: self.dpop_signing_alg_values_supported,
            dpop_bound_access_tokens_required: self.dpop_bound_access_tokens_required,
            metadata_url,
            well_known_path,
        })
    }
}

fn refused(what: &str, value: &str, why: &str) -> ConfigError {
    ConfigError::ResourceMetadata(format!("{what} {value:?} {why}"))
}

/// Parses an absolute `http(s)` URL. Characters a URI cannot hold (RFC 3986 §2: spaces,
/// controls, `"`, `\`, non-ASCII…) are refused rather than left to the URL parser, which
/// would drop or re-encode them: the string published is then the string parsed, and it
/// stays a valid quoted-string in a challenge.
fn parse(what: &str, value: &str) -> Result<Url, ConfigError> {
    let uri_char = |c: char| c.is_ascii_graphic() && !"\"<>\\^`{|}".contains(c);
    if !value.chars().all(uri_char) {
        return Err(refused(what, value, "has characters a URI cannot hold"));
    }
    let url = Url::parse(value)
        .map_err(|e| refused(what, value, &format!("is not an absolute URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refused(what, value, "is not an http or https URL"));
    }
    Ok(url)
}

fn exclude_query_and_fragment(what: &str, url: &Url) -> Result<(), ConfigError> {
    if url.query().is_some() || url.fragment().is_some() {
        return Err(refused(what, url.as_str(), "has a query or fragment"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata_url(resource: &str) -> Result<String, ConfigError> {
        ProtectedResourceMetadata::builder(resource)
            .build()
            .map(|m| m.metadata_url().to_owned())
    }

    #[test]
    fn the_well_known_path_goes_between_host_and_path() {
        let cases = [
            (
                "https://api.example.com/mcp",
                "https://api.example.com/.well-known/oauth-protected-resource/mcp",
            ),
            (
                "https://api.example.com",
                "https://api.example.com/.well-known/oauth-protected-resource",
            ),
            (
                "https://api.example.com/",
                "https://api.example.com/.well-known/oauth-protected-resource",
            ),
            (
                "http://127.0.0.1:3100/tenants/a/mcp/",
                "http://127.0.0.1:3100/.well-known/oauth-protected-resource/tenants/a/mcp/",
            ),
            (
                "https://API.Example.com:443/mcp",
                "https://api.example.com/.well-known/oauth-protected-resource/mcp",
            ),
            (
                "https://[::1]:8443/mcp",
                "https://[::1]:8443/.well-known/oauth-protected-resource/mcp",
            ),
        ];
        for (resource, expected) in cases {
            assert_eq!(metadata_url(resource).unwrap(), expected, "{resource}");
        }
    }

    #[test]
    fn the_resource_is_published_as_given() {
        let m = ProtectedResourceMetadata::builder("https://API.example.com")
            .build()
            .unwrap();
        assert_eq!(m.resource(), "https://API.example.com");
        assert_eq!(m.well_known_path(), WELL_KNOWN_PATH);
    }

    #[test]
    fn resources_that_are_not_absolute_http_uris_are_refused() {
        for resource in [
            "",
            "/mcp",
            "api.example.com/mcp",
            "ftp://api.example.com/mcp",
            "urn:example:mcp",
            "https://api.example.com/mcp?tenant=a",
            "https://api.example.com/mcp?",
            "https://api.example.com/mcp#top",
            "https://user:pw@api.example.com/mcp",
            "https://api.example.com/m\"cp",
            "https://api.example.com/m\\cp",
            "https://api.example.com/m\ncp",
            "https://api.example.com/m\tcp",
            "https://api.example.com/m cp",
            "https://api.example.com/mcp\u{7f}",
            "https://api.example.com/é",
        ] {
            let error = metadata_url(resource).unwrap_err();
            assert!(
                matches!(error, ConfigError::ResourceMetadata(_)),
                "{resource:?}: {error}"
            );
        }
    }

    #[test]
    fn issuers_and_jwks_uri_are_checked() {
        let base = || ProtectedResourceMetadata::builder("https://api.example.com/mcp");
        assert!(
            base()
                .authorization_servers(["https://auth.example.com/tenant"])
                .build()
                .is_ok()
        );
        assert!(
            base()
                .authorization_servers(["auth.example.com"])
                .build()
                .is_err()
        );
        assert!(
            base()
                .authorization_servers(["https://auth.example.com?x=1"])
                .build()
                .is_err()
        );
        assert!(
            base()
                .jwks_uri("https://api.example.com/jwks.json")
                .build()
                .is_ok()
        );
        assert!(base().jwks_uri("jwks.json").build().is_err());
    }

    fn forwarded(resource: &str, pairs: &[(&str, &str)], trust: TrustForwarded) -> String {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        let metadata = ProtectedResourceMetadata::builder(resource)
            .scopes_supported(["orders.read"])
            .build()
            .unwrap();
        let public = metadata.for_request(&headers, trust);
        assert_eq!(public.scopes_supported(), metadata.scopes_supported());
        assert_eq!(public.well_known_path(), metadata.well_known_path());
        format!("{} {}", public.resource(), public.metadata_url())
    }

    #[test]
    fn for_request_takes_the_proxys_origin_and_keeps_the_path() {
        let xf = [
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "API.example.com"),
        ];
        let on = TrustForwarded::On;
        assert_eq!(
            forwarded("http://127.0.0.1:3100/tenants/a/mcp", &xf, on),
            "https://api.example.com/tenants/a/mcp https://api.example.com/.well-known/oauth-protected-resource/tenants/a/mcp"
        );
        assert_eq!(
            forwarded("http://127.0.0.1:3100", &xf, on),
            "https://api.example.com https://api.example.com/.well-known/oauth-protected-resource"
        );
        // What the proxy does not say stays as configured.
        assert_eq!(
            forwarded("http://127.0.0.1:3100/mcp", &xf[..1], on),
            "https://127.0.0.1:3100/mcp https://127.0.0.1:3100/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            forwarded(
                "http://[::1]:3100/mcp",
                &[("forwarded", "host=\"[::1]:8443\"")],
                on
            ),
            "http://[::1]:8443/mcp http://[::1]:8443/.well-known/oauth-protected-resource/mcp"
        );
    }

    #[test]
    fn for_request_keeps_the_configured_metadata_unless_trusted_and_well_formed() {
        let configured = "http://127.0.0.1:3100/mcp http://127.0.0.1:3100/.well-known/oauth-protected-resource/mcp";
        let xf = [
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "api.example.com"),
        ];
        assert_eq!(
            forwarded("http://127.0.0.1:3100/mcp", &xf, TrustForwarded::Off),
            configured
        );
        for bad in [
            &[("x-forwarded-proto", "gopher")][..],
            &[("x-forwarded-host", "user@api.example.com")],
            &[("forwarded", "proto=https;host=\"api.example.com")],
            &[],
        ] {
            assert_eq!(
                forwarded("http://127.0.0.1:3100/mcp", bad, TrustForwarded::On),
                configured,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn optional_members_are_left_out_unless_set() {
        let bare = ProtectedResourceMetadata::builder("https://api.example.com/mcp")
            .build()
            .unwrap();
        assert_eq!(
            serde_json::to_value(&bare).unwrap(),
            serde_json::json!({ "resource": "https://api.example.com/mcp" })
        );
        let full = ProtectedResourceMetadata::builder("https://api.example.com/mcp")
            .authorization_servers(["https://auth.example.com"])
            .jwks_uri("https://api.example.com/jwks.json")
            .scopes_supported(["a", "b"])
            .bearer_methods_supported(Vec::<String>::new())
            .resource_name("Orders")
            .build()
            .unwrap();
        assert_eq!(
            serde_json::to_value(&full).unwrap(),
            serde_json::json!({
                "resource": "https://api.example.com/mcp",
                "authorization_servers": ["https://auth.example.com"],
                "jwks_uri": "https://api.example.com/jwks.json",
                "scopes_supported": ["a", "b"],
                "bearer_methods_supported": [],
                "resource_name": "Orders",
            })
        );
    }
}
