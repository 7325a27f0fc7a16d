//! Sender-constrained tokens at the authenticator: a DPoP request (`Authorization: DPoP`
//! with its proof), a DPoP-bound token presented as Bearer, and a certificate-bound
//! token (`cnf["x5t#S256"]`) checked against the request's [`ClientCertificate`].

use std::fmt;

use subtle::ConstantTimeEq as _;

use super::{Authenticator, RequestView};
use crate::confirmation::ClientCertificate;
use crate::dpop::{CheckedProof, DpopChallenge, DpopMode};
use crate::token::{dpop_proof, dpop_token};
use crate::verify::Confirmation;
use crate::{AuthError, ErrorCategory, RejectionKind, VerifiedToken};

/// What [`Authenticator::authenticate`] decided for a request it did not refuse.
#[must_use]
pub enum Admission<C> {
    /// Admitted now, with its verified token (`None`: optional mode and no token).
    Admitted(Option<VerifiedToken<C>>),
    /// A DPoP request that passed every synchronous check: admitted once
    /// [`Authenticator::reserve`] has reserved its proof against replay.
    Pending(PendingProof<C>),
}

impl<C> fmt::Debug for Admission<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Admitted(token) => write!(f, "Admitted({})", token.is_some()),
            Self::Pending(pending) => write!(f, "Pending({:?})", pending.proof),
        }
    }
}

/// A DPoP request's verified token and checked proof, waiting for the proof's
/// reservation.
pub struct PendingProof<C> {
    token: VerifiedToken<C>,
    proof: CheckedProof,
    fresh_nonce: Option<String>,
}

impl<C> PendingProof<C> {
    /// The verified token (not admitted yet).
    #[must_use]
    pub fn token(&self) -> &VerifiedToken<C> {
        &self.token
    }

    /// The checked proof.
    #[must_use]
    pub fn proof(&self) -> &CheckedProof {
        &self.proof
    }

    /// The `DPoP-Nonce` the answer should carry, when the proof's nonce is about to
    /// stop being accepted.
    #[must_use]
    pub fn fresh_nonce(&self) -> Option<&str> {
        self.fresh_nonce.as_deref()
    }
}

impl<C> Authenticator<C> {
    /// The refusal with this authenticator's DPoP challenge, when DPoP is on: whether
    /// the request used the `DPoP` scheme, and a fresh nonce for `use_dpop_nonce`.
    pub(super) fn challenged(&self, error: AuthError, request: RequestView<'_>) -> AuthError {
        let Some(checker) = self.dpop.as_ref().filter(|c| c.mode() != DpopMode::Off) else {
            return error;
        };
        let mut challenge = DpopChallenge::new(checker.mode(), checker.algs_shared());
        if matches!(dpop_token(request.headers()), Ok(Some(_))) {
            challenge = challenge.for_dpop_request();
        }
        if error.category() == ErrorCategory::UseDpopNonce
            && let Some(nonce) = checker.fresh_nonce(crate::clock::now())
        {
            challenge = challenge.with_nonce(nonce);
        }
        error.with_dpop(challenge)
    }

    /// `error`, decided behind the layer (a guard's or an extractor's), with the DPoP
    /// challenge the layer's own refusals carry, so that a 403 `insufficient_scope` to a
    /// DPoP client names the `DPoP` scheme (RFC 9449 §7.1). The request is not known
    /// here: in required mode it was a DPoP request; in allowed mode both challenges go.
    pub(crate) fn challenged_behind(&self, error: &AuthError) -> Option<AuthError> {
        let checker = self.dpop.as_ref().filter(|c| c.mode() != DpopMode::Off)?;
        if error.dpop().is_some() {
            return None;
        }
        let mut challenge = DpopChallenge::new(checker.mode(), checker.algs_shared());
        if checker.mode() == DpopMode::Required {
            challenge = challenge.for_dpop_request();
        }
        Some(error.clone().with_dpop(challenge))
    }

    /// The checks of a token presented as Bearer that names a confirmation: a DPoP-bound
    /// one is refused (in every mode), a certificate-bound one needs its certificate.
    pub(super) fn check_bearer_binding(
        &self,
        cnf: &Confirmation,
        request: RequestView<'_>,
    ) -> Result<(), AuthError> {
        if cnf.jkt().is_some() {
            return Err(self.counted(AuthError::new(RejectionKind::DpopBoundTokenAsBearer)));
        }
        self.check_certificate(cnf, request)
    }

    /// A token bound to a certificate (`cnf["x5t#S256"]`) passes only with that
    /// certificate in the request's extensions (the TLS server put it there), or in the
    /// trusted proxy's header when one is configured.
    pub(super) fn check_certificate(
        &self,
        cnf: &Confirmation,
        request: RequestView<'_>,
    ) -> Result<(), AuthError> {
        let Some(expected) = cnf.x5t_s256() else {
            return Ok(());
        };
        let matches = |cert: &ClientCertificate| {
            bool::from(cert.thumbprint().as_bytes().ct_eq(expected.as_bytes()))
        };
        let presented = match request.extensions().get::<ClientCertificate>() {
            Some(cert) => matches(cert),
            None => self
                .certificate_header
                .as_ref()
                .and_then(|name| request.headers().get(name))
                .and_then(|value| ClientCertificate::from_forwarded_pem(value.as_bytes()).ok())
                .is_some_and(|cert| matches(&cert)),
        };
        if presented {
            Ok(())
        } else {
            Err(self.counted(AuthError::new(RejectionKind::CertificateMismatch)))
        }
    }
}

impl<C: serde::de::DeserializeOwned + Send + Sync + 'static> Authenticator<C> {
    /// The `DPoP` scheme's token, when DPoP is on and the request uses that scheme.
    pub(super) fn dpop_request_token<'r>(
        &self,
        request: RequestView<'r>,
    ) -> Result<Option<&'r str>, AuthError> {
        if self.dpop_mode == DpopMode::Off {
            return Ok(None);
        }
        dpop_token(request.headers()).map_err(|e| self.counted(e))
    }

    /// A request in the `DPoP` scheme: its one proof passes every check for this method,
    /// URI and token, the token verifies and is bound (`cnf.jkt`) to the proof's key,
    /// any certificate binding holds, and the policy is met. Pending the reservation.
    pub(super) fn authenticate_dpop(
        &self,
        token: &str,
        request: RequestView<'_>,
    ) -> Result<Admission<C>, AuthError> {
        let Some(checker) = &self.dpop else {
            return Err(self.counted(AuthError::new(RejectionKind::InvalidAuthorizationHeader)));
        };
        let proof = dpop_proof(request.headers()).map_err(|e| self.counted(e))?;
        let now = crate::clock::now();
        let checked = checker
            .check(
                proof,
                request.method(),
                request.uri().path(),
                request.headers(),
                Some(token),
                now,
            )
            .map_err(|e| self.counted(e))?;
        let verified = self.verifier.verify(token)?;
        let cnf = verified.confirmation();
        if cnf.and_then(Confirmation::jkt) != Some(checked.jkt()) {
            return Err(self.counted(AuthError::new(RejectionKind::DpopKeyMismatch)));
        }
        if let Some(cnf) = cnf {
            self.check_certificate(cnf, request)?;
        }
        self.policy.check(&verified).map_err(|e| self.counted(e))?;
        let fresh_nonce = if checked.fresh_nonce_due() {
            checker.fresh_nonce(now)
        } else {
            None
        };
        Ok(Admission::Pending(PendingProof {
            token: verified,
            proof: checked,
            fresh_nonce,
        }))
    }

    /// Reserves a pending DPoP request's proof (its `jti`) in the replay store: the
    /// first presentation on any instance sharing the store is admitted, a replay is
    /// refused, and so is every request while the store cannot answer.
    ///
    /// # Errors
    /// [`DpopReplay`](RejectionKind::DpopReplay) or
    /// [`ReplayStoreUnavailable`](RejectionKind::ReplayStoreUnavailable), counted and
    /// with the DPoP challenge.
    pub async fn reserve(&self, pending: PendingProof<C>) -> Result<VerifiedToken<C>, AuthError> {
        let Some(checker) = &self.dpop else {
            return Ok(pending.token);
        };
        match checker.reserve(&pending.proof, crate::clock::now()).await {
            Ok(()) => Ok(pending.token),
            Err(error) => {
                let challenge =
                    DpopChallenge::new(checker.mode(), checker.algs_shared()).for_dpop_request();
                Err(self.counted(error).with_dpop(challenge))
            }
        }
    }

    /// The admitted token of `admission`, reserving a DPoP proof first.
    ///
    /// # Errors
    /// As [`reserve`](Self::reserve).
    pub async fn admit(
        &self,
        admission: Admission<C>,
    ) -> Result<Option<VerifiedToken<C>>, AuthError> {
        match admission {
            Admission::Admitted(token) => Ok(token),
            Admission::Pending(pending) => self.reserve(pending).await.map(Some),
        }
    }
}
