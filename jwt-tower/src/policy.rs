//! Deciding, once a token is verified, whether it may do this: scopes, roles, predicates.
//! Failing a policy is `insufficient_scope` (403), never `invalid_token`.

use std::sync::Arc;

use crate::{AuthError, RejectionKind, VerifiedToken};

type Predicate<C> = Arc<dyn Fn(&VerifiedToken<C>) -> bool + Send + Sync>;

enum Requirement<C> {
    AllScopes(Box<[Box<str>]>),
    AnyScope(Box<[Box<str>]>),
    AllRoles(Box<[Box<str>]>),
    Predicate(Predicate<C>),
}

/// Requirements a verified token must meet; all of them must hold.
///
/// ```
/// use jwt_tower::Policy;
/// # use jwt_tower::RegisteredClaims;
/// let admin: Policy<RegisteredClaims> = Policy::new()
///     .require_scopes(["admin"])
///     .require(|token| token.subject().is_some_and(|s| s.starts_with("user:")));
/// # let _ = admin;
/// ```
pub struct Policy<C> {
    requirements: Arc<[Requirement<C>]>,
}

impl<C> Clone for Policy<C> {
    fn clone(&self) -> Self {
        Self {
            requirements: Arc::clone(&self.requirements),
        }
    }
}

impl<C> Default for Policy<C> {
    fn default() -> Self {
        Self {
            requirements: Arc::new([]),
        }
    }
}

impl<C> std::fmt::Debug for Policy<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("requirements", &self.requirements.len())
            .finish()
    }
}

fn names<S: Into<Box<str>>>(items: impl IntoIterator<Item = S>) -> Box<[Box<str>]> {
    items.into_iter().map(Into::into).collect()
}

impl<C> Policy<C> {
    /// A policy with no requirement (every verified token passes).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    #[must_use]
    fn with(self, requirement: Requirement<C>) -> Self {
        let mut list: Vec<Requirement<C>> = self
            .requirements
            .iter()
            .map(Requirement::clone_shallow)
            .collect();
        list.push(requirement);
        Self {
            requirements: list.into(),
        }
    }

    /// Every one of `scopes` must be granted (`scope` or `scp`).
    #[must_use]
    pub fn require_scopes<S: Into<Box<str>>>(self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.with(Requirement::AllScopes(names(scopes)))
    }

    /// At least one of `scopes` must be granted.
    #[must_use]
    pub fn require_any_scope<S: Into<Box<str>>>(self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.with(Requirement::AnyScope(names(scopes)))
    }

    /// Every one of `roles` must be granted (the roles claim).
    #[must_use]
    pub fn require_roles<S: Into<Box<str>>>(self, roles: impl IntoIterator<Item = S>) -> Self {
        self.with(Requirement::AllRoles(names(roles)))
    }

    /// Any predicate over the verified token and its claims.
    #[must_use]
    pub fn require(
        self,
        predicate: impl Fn(&VerifiedToken<C>) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.with(Requirement::Predicate(Arc::new(predicate)))
    }

    /// Whether the policy has no requirement.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Checks `token` against every requirement.
    ///
    /// # Errors
    /// An [`InsufficientScope`](RejectionKind::InsufficientScope) error; for scope
    /// requirements it names the scope required (RFC 6750 §3 `scope=`).
    pub fn check(&self, token: &VerifiedToken<C>) -> Result<(), AuthError> {
        for requirement in self.requirements.iter() {
            match requirement {
                Requirement::AllScopes(scopes) => {
                    if !scopes.iter().all(|s| token.has_scope(s)) {
                        return Err(AuthError::insufficient_scope(scopes.join(" ")));
                    }
                }
                Requirement::AnyScope(scopes) => {
                    if !scopes.iter().any(|s| token.has_scope(s)) {
                        return Err(AuthError::insufficient_scope(scopes.join(" ")));
                    }
                }
                Requirement::AllRoles(roles) => {
                    if !roles.iter().all(|r| token.has_role(r)) {
                        return Err(AuthError::with_description(
                            RejectionKind::InsufficientScope,
                            "the token lacks a required role",
                        ));
                    }
                }
                Requirement::Predicate(predicate) => {
                    if !predicate(token) {
                        return Err(AuthError::new(RejectionKind::InsufficientScope));
                    }
                }
            }
        }
        Ok(())
    }
}

impl<C> Requirement<C> {
    fn clone_shallow(&self) -> Self {
        match self {
            Self::AllScopes(s) => Self::AllScopes(s.clone()),
            Self::AnyScope(s) => Self::AnyScope(s.clone()),
            Self::AllRoles(r) => Self::AllRoles(r.clone()),
            Self::Predicate(p) => Self::Predicate(Arc::clone(p)),
        }
    }
}
