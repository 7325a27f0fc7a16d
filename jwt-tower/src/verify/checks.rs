//! The claim checks made once the signature has verified: time, issuer, audience,
//! identity strings, subject, revocation, required claims.

use std::borrow::Cow;

use serde::de::DeserializeOwned;

use super::claims::{ClaimsView, StrOrList};
use super::decode::{described, reject};
use super::verifier::Verifier;
use crate::clock::now;
use crate::{AuthError, RejectionKind};

impl<C: DeserializeOwned + 'static> Verifier<C> {
    pub(super) fn check_revocations(
        &self,
        jti: Option<&str>,
        sub: Option<&str>,
        iat: Option<i64>,
    ) -> Result<(), AuthError> {
        let Some(revocations) = &self.inner.revocations else {
            return Ok(());
        };
        if revocations.refusing() {
            return Err(reject(RejectionKind::RevocationsOutOfStep));
        }
        if revocations.is_revoked(jti, sub, iat) {
            return Err(reject(RejectionKind::Revoked));
        }
        Ok(())
    }

    pub(super) fn check_claims(&self, view: &ClaimsView<'_>) -> Result<(), AuthError> {
        let c = &*self.inner;
        let now = now();
        match view.exp {
            Some(exp) if now >= exp.saturating_add(c.leeway) => {
                return Err(reject(RejectionKind::Expired));
            }
            None if c.require_exp => {
                return Err(described(
                    RejectionKind::MissingClaim,
                    "the token has no `exp` claim",
                ));
            }
            _ => {}
        }
        if let Some(nbf) = view.nbf
            && c.validate_nbf
            && now.saturating_add(c.leeway) < nbf
        {
            return Err(reject(RejectionKind::NotYetValid));
        }
        // A token issued in the future is not valid yet, whether or not its age is
        // bounded: its `iat` would also place it after any revocation of its subject.
        if let Some(iat) = view.iat
            && iat > now.saturating_add(c.leeway)
        {
            return Err(described(
                RejectionKind::NotYetValid,
                "the token's `iat` is in the future",
            ));
        }
        if let Some(max_age) = c.max_age {
            let Some(iat) = view.iat else {
                return Err(described(
                    RejectionKind::MissingClaim,
                    "the token has no `iat` claim",
                ));
            };
            if now.saturating_sub(iat) > max_age.saturating_add(c.leeway) {
                return Err(reject(RejectionKind::TooOld));
            }
        }
        if !c.issuers.is_empty() {
            let Some(iss) = &view.iss else {
                return Err(described(
                    RejectionKind::MissingClaim,
                    "the token has no `iss` claim",
                ));
            };
            if !c.issuers.iter().any(|i| **i == **iss) {
                return Err(reject(RejectionKind::InvalidIssuer));
            }
        }
        if c.audiences.is_empty() {
            if view.aud.is_some() && !c.any_audience {
                return Err(described(
                    RejectionKind::InvalidAudience,
                    "the token names an audience and this verifier is configured for none",
                ));
            }
        } else {
            let Some(aud) = &view.aud else {
                return Err(described(
                    RejectionKind::MissingClaim,
                    "the token has no `aud` claim",
                ));
            };
            if !aud
                .iter()
                .any(|a| c.audiences.iter().any(|ours| **ours == *a))
            {
                return Err(reject(RejectionKind::InvalidAudience));
            }
        }
        if !view.no_controls {
            check_identity_strings(view, &c.roles_claim)?;
        }
        if let Some(subject) = &c.subject
            && view.sub.as_deref() != Some(&**subject)
        {
            return Err(reject(RejectionKind::InvalidSubject));
        }
        self.check_revocations(view.jti.as_deref(), view.sub.as_deref(), view.iat)?;
        let all_required = if c.required_claims.len() >= 64 {
            u64::MAX
        } else {
            (1u64 << c.required_claims.len()) - 1
        };
        if view.required_seen & all_required != all_required {
            let missing = c
                .required_claims
                .iter()
                .enumerate()
                .find(|(i, _)| view.required_seen & (1 << i) == 0)
                .map(|(_, name)| name.to_string())
                .unwrap_or_default();
            return Err(AuthError::with_description(
                RejectionKind::MissingClaim,
                format!("the token lacks the required claim `{missing}`"),
            ));
        }
        Ok(())
    }
}

/// Refuses control characters (see [`has_control`]) in the claims handed out as the
/// caller's identity: `iss`, `sub`, `jti`, and every entry of `aud`, `scope`, `scp` and
/// the roles claim (named `roles_claim`).
fn check_identity_strings(view: &ClaimsView<'_>, roles_claim: &str) -> Result<(), AuthError> {
    let one = |s: &Option<Cow<'_, str>>| s.as_deref().is_some_and(has_control);
    let list = |l: &Option<StrOrList<'_>>| l.as_ref().is_some_and(|l| l.iter().any(has_control));
    let bad = if one(&view.iss) {
        "iss"
    } else if one(&view.sub) {
        "sub"
    } else if one(&view.jti) {
        "jti"
    } else if one(&view.scope) {
        "scope"
    } else if list(&view.aud) {
        "aud"
    } else if list(&view.scp) {
        "scp"
    } else if list(&view.roles) {
        roles_claim
    } else {
        return Ok(());
    };
    Err(AuthError::with_description(
        RejectionKind::InvalidClaim,
        format!("the `{bad}` claim holds a control character"),
    ))
}

/// Whether `s` holds a control character (Unicode `Cc`: U+0000-U+001F, U+007F-U+009F).
/// In a string handed out as identity, one would be cut or reinterpreted by whatever
/// prints, logs or passes it on as a C string (`alice\0admin` reads `alice`): such a
/// string is refused, not cleaned.
fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}
