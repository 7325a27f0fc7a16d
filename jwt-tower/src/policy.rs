//! Deciding, once a token is verified, whether it may do this: scopes, roles, actors,
//! predicates. Failing a policy is `insufficient_scope` (403), never `invalid_token`.

use std::sync::Arc;

use crate::{AuthError, RejectionKind, VerifiedToken};

type Predicate<C> = Arc<dyn Fn(&VerifiedToken<C>) -> bool + Send + Sync>;

enum Requirement<C> {
    AllScopes(Box<[Box<str>]>),
    AnyScope(Box<[Box<str>]>),
    AllRoles(Box<[Box<str>]>),
    Actor,
    AllowedActors(Box<[Box<str>]>),
    MaxActorDepth(usize),
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

    /// The token must be delegated: it must carry an `act` claim (RFC 8693 §4.1), so
    /// that a call made by a user directly, with no service acting for them, is refused.
    ///
    /// ```
    /// # use jwt_tower::{Policy, RegisteredClaims};
    /// // Only the gateway may call here, and only on a user's behalf.
    /// let policy: Policy<RegisteredClaims> = Policy::new().require_actor().allow_actors(["gateway"]);
    /// # let _ = policy;
    /// ```
    #[must_use]
    pub fn require_actor(self) -> Self {
        self.with(Requirement::Actor)
    }

    /// A delegated token's current actor (the outermost `act`'s `sub`) must be one of
    /// `actors`: "only the gateway may act for users here". Earlier actors in the chain
    /// are not checked (cap the chain with [`max_actor_depth`](Self::max_actor_depth)).
    ///
    /// A token with no `act` passes this rule: it names nobody acting for anyone. To
    /// refuse those too, add [`require_actor`](Self::require_actor).
    #[must_use]
    pub fn allow_actors<S: Into<Box<str>>>(self, actors: impl IntoIterator<Item = S>) -> Self {
        self.with(Requirement::AllowedActors(names(actors)))
    }

    /// A delegated token's chain of actors may hold at most `depth` actors: 1 admits a
    /// token exchanged once (one service acting for the user), 0 refuses every delegated
    /// token. A token with no `act` passes. The verifier itself refuses chains deeper
    /// than [`MAX_ACTOR_DEPTH`](crate::verify::MAX_ACTOR_DEPTH).
    ///
    /// ```
    /// # use jwt_tower::{Policy, RegisteredClaims};
    /// // The user's token, or one exchanged by at most two services in turn.
    /// let policy: Policy<RegisteredClaims> = Policy::new().max_actor_depth(2);
    /// # let _ = policy;
    /// ```
    #[must_use]
    pub fn max_actor_depth(self, depth: usize) -> Self {
        self.with(Requirement::MaxActorDepth(depth))
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
    /// requirements it names the scope required (RFC 6750 §3 `scope=`). An actor
    /// requirement fails with [`ActorNotAllowed`](RejectionKind::ActorNotAllowed), in the
    /// same category (403 `insufficient_scope`).
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
                Requirement::Actor => {
                    if token.actor().is_none() {
                        return Err(AuthError::with_description(
                            RejectionKind::ActorNotAllowed,
                            "the token is not delegated (no act claim) and this resource requires an actor",
                        ));
                    }
                }
                Requirement::AllowedActors(actors) => {
                    if let Some(actor) = token.actor()
                        && !actors.iter().any(|a| **a == *actor.sub())
                    {
                        return Err(AuthError::new(RejectionKind::ActorNotAllowed));
                    }
                }
                Requirement::MaxActorDepth(depth) => {
                    if token.actor().is_some_and(|a| a.depth() > *depth) {
                        return Err(AuthError::with_description(
                            RejectionKind::ActorNotAllowed,
                            "the token's chain of actors is longer than this resource allows",
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
            Self::Actor => Self::Actor,
            Self::AllowedActors(a) => Self::AllowedActors(a.clone()),
            Self::MaxActorDepth(d) => Self::MaxActorDepth(*d),
            Self::Predicate(p) => Self::Predicate(Arc::clone(p)),
        }
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::{Hmac, KeyInit as _, Mac as _};

    use super::Policy;
    use crate::{Algorithm, RegisteredClaims, RejectionKind, VerificationKey, Verifier};

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    /// What `policy` answers for a token over exactly `claims`.
    fn check(policy: &Policy<RegisteredClaims>, claims: &str) -> Result<(), RejectionKind> {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
        mac.update(input.as_bytes());
        let token = format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        );
        let verifier = Verifier::<RegisteredClaims>::builder(
            VerificationKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        )
        .algorithms([Algorithm::HS256])
        .require_exp(false)
        .build()
        .unwrap();
        policy
            .check(&verifier.verify(&token).unwrap())
            .map_err(|e| e.kind())
    }

    const USER: &str = r#"{"sub":"alice"}"#;
    const BY_GATEWAY: &str = r#"{"sub":"alice","act":{"sub":"gateway"}}"#;
    const BY_ORDERS: &str = r#"{"sub":"alice","act":{"sub":"orders","act":{"sub":"gateway"}}}"#;
    const REFUSED: Result<(), RejectionKind> = Err(RejectionKind::ActorNotAllowed);

    #[test]
    fn an_actor_can_be_required() {
        let policy = Policy::new().require_actor();
        assert_eq!(check(&policy, USER), REFUSED);
        assert_eq!(check(&policy, BY_GATEWAY), Ok(()));
    }

    #[test]
    fn only_listed_actors_act_and_undelegated_tokens_pass() {
        let policy = Policy::new().allow_actors(["gateway"]);
        assert_eq!(check(&policy, BY_GATEWAY), Ok(()));
        // The current actor is the outermost: the gateway acted before orders.
        assert_eq!(check(&policy, BY_ORDERS), REFUSED);
        assert_eq!(check(&policy, USER), Ok(()));
        let both = policy.require_actor();
        assert_eq!(check(&both, USER), REFUSED);
        assert_eq!(check(&both, BY_GATEWAY), Ok(()));
    }

    #[test]
    fn the_chain_can_be_capped() {
        let one = Policy::new().max_actor_depth(1);
        assert_eq!(check(&one, USER), Ok(()));
        assert_eq!(check(&one, BY_GATEWAY), Ok(()));
        assert_eq!(check(&one, BY_ORDERS), REFUSED);
        let none = Policy::new().max_actor_depth(0);
        assert_eq!(check(&none, BY_GATEWAY), REFUSED);
        assert_eq!(check(&Policy::new().max_actor_depth(2), BY_ORDERS), Ok(()));
    }

    #[test]
    fn an_actor_refusal_is_a_403_insufficient_scope() {
        let error = crate::AuthError::new(RejectionKind::ActorNotAllowed);
        assert_eq!(error.category(), crate::ErrorCategory::InsufficientScope);
        assert_eq!(error.required_scope(), None);
    }
}
