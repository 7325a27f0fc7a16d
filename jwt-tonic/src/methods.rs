//! What each method requires, by full method path (`/package.Service/Method`), and the
//! checks that keep a misspelt path from silently dropping a requirement.

use std::collections::{HashMap, HashSet};

use jwt_tower::{AuthError, Policy, RejectionKind, VerifiedToken};

/// The per-method table of a [`GrpcAuthLayer`](crate::GrpcAuthLayer).
pub(crate) struct Methods<C> {
    pub(crate) open_methods: HashSet<Box<str>>,
    pub(crate) open_services: HashSet<Box<str>>,
    pub(crate) method_policies: HashMap<Box<str>, Vec<Policy<C>>>,
    pub(crate) service_policies: HashMap<Box<str>, Vec<Policy<C>>>,
    /// The services the server has, when the layer was told: every name configured must
    /// be one of them.
    pub(crate) known_services: Option<HashSet<Box<str>>>,
    /// Refuse a method with no policy of its own (nor of its service) and not open.
    pub(crate) refuse_unlisted: bool,
}

impl<C> Default for Methods<C> {
    fn default() -> Self {
        Self {
            open_methods: HashSet::new(),
            open_services: HashSet::new(),
            method_policies: HashMap::new(),
            service_policies: HashMap::new(),
            known_services: None,
            refuse_unlisted: false,
        }
    }
}

impl<C> Clone for Methods<C> {
    fn clone(&self) -> Self {
        Self {
            open_methods: self.open_methods.clone(),
            open_services: self.open_services.clone(),
            method_policies: self.method_policies.clone(),
            service_policies: self.service_policies.clone(),
            known_services: self.known_services.clone(),
            refuse_unlisted: self.refuse_unlisted,
        }
    }
}

/// A protobuf identifier: a letter or `_`, then letters, digits or `_`.
fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `package.Service`: identifiers joined by dots.
fn is_service_name(s: &str) -> bool {
    s.split('.').all(is_identifier)
}

/// `package.Service` of `/package.Service/Method`.
pub(crate) fn service_of(path: &str) -> &str {
    let path = path.strip_prefix('/').unwrap_or(path);
    path.split_once('/').map_or(path, |(service, _)| service)
}

/// `package.Service` from `package.Service` or `/package.Service/`.
///
/// # Panics
/// When `service` is not a service name: a typo must not drop a requirement silently.
pub(crate) fn service_name(service: &str) -> Box<str> {
    let name = service.trim_matches('/');
    assert!(
        is_service_name(name),
        "{service:?} is not a gRPC service name (package.Service)"
    );
    name.into()
}

/// `/package.Service/Method`, with its leading slash.
///
/// # Panics
/// When `path` is not a method path: a typo must not drop a requirement silently.
pub(crate) fn method_path(path: &str) -> Box<str> {
    let bare = path.strip_prefix('/').unwrap_or(path);
    let valid = bare
        .split_once('/')
        .is_some_and(|(service, method)| is_service_name(service) && is_identifier(method));
    assert!(
        valid,
        "{path:?} is not a gRPC method path (/package.Service/Method)"
    );
    format!("/{bare}").into()
}

impl<C> Methods<C> {
    pub(crate) fn is_open(&self, path: &str) -> bool {
        (!self.open_methods.is_empty() && self.open_methods.contains(path))
            || (!self.open_services.is_empty() && self.open_services.contains(service_of(path)))
    }

    /// Whether requests need checking here at all.
    pub(crate) fn has_policies(&self) -> bool {
        self.refuse_unlisted
            || !self.method_policies.is_empty()
            || !self.service_policies.is_empty()
    }

    /// Every service named so far, each with what named it.
    fn named_services(&self) -> impl Iterator<Item = &str> {
        let methods = self.open_methods.iter().chain(self.method_policies.keys());
        let services = self
            .open_services
            .iter()
            .chain(self.service_policies.keys());
        methods
            .map(|path| service_of(path))
            .chain(services.map(|s| &**s))
    }

    /// # Panics
    /// When the server's services are known and one name configured is not among them.
    pub(crate) fn check_known(&self) {
        let Some(known) = &self.known_services else {
            return;
        };
        for service in self.named_services() {
            assert!(
                known.contains(service),
                "the gRPC service {service:?} is not one of the server's: {known:?}"
            );
        }
    }

    pub(crate) fn check(
        &self,
        path: &str,
        token: Option<&VerifiedToken<C>>,
    ) -> Result<(), AuthError> {
        let service = self.service_policies.get(service_of(path));
        let method = self.method_policies.get(path);
        if self.refuse_unlisted && service.is_none() && method.is_none() {
            return Err(AuthError::with_description(
                RejectionKind::InsufficientScope,
                "no policy is configured for this method",
            ));
        }
        for policy in [service, method].into_iter().flatten().flatten() {
            // Optional mode and no token: a method with a policy needs one.
            let token = token.ok_or_else(|| AuthError::new(RejectionKind::MissingToken))?;
            policy.check(token)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_services() {
        assert_eq!(
            service_of("/identity.v1.Identity/Admin"),
            "identity.v1.Identity"
        );
        assert_eq!(
            &*service_name("/grpc.health.v1.Health/"),
            "grpc.health.v1.Health"
        );
        assert_eq!(&*method_path("a.B/C"), "/a.B/C");
        assert_eq!(&*method_path("/a.B/C"), "/a.B/C");
    }

    #[test]
    fn misspelt_paths_are_refused() {
        for path in [
            "/identity.v1.Identity",
            "identity.v1.Identity.Admin",
            "/identity.v1.Identity/Admin/",
            "/identity..Identity/Admin",
            "/identity.v1.Identity/ Admin",
            "//Admin",
            "",
        ] {
            let refused = std::panic::catch_unwind(|| method_path(path));
            assert!(refused.is_err(), "{path:?}");
        }
        for service in ["", "a b", "a/b", "a..b"] {
            let refused = std::panic::catch_unwind(|| service_name(service));
            assert!(refused.is_err(), "{service:?}");
        }
    }
}
