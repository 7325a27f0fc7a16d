//! A token that passed verification: the caller's claims, and the [`Identity`] facts
//! every adapter needs without knowing the claims type.

use std::sync::{Arc, OnceLock};

use super::claims::{ClaimsView, StrOrList};
use super::header::{CheckedHeader, TokenHeader};
use crate::{Algorithm, Audience, RegisteredClaims};

/// Where a string fact sits inside [`Facts::text`].
#[derive(Clone, Copy, Default)]
pub(crate) struct Span {
    start: usize,
    end: usize,
}

/// A list of spans (the roles, an `aud` array): up to three inline (no allocation), more
/// on the heap.
enum SpanList {
    Inline { len: u8, spans: [Span; 3] },
    Heap(Box<[Span]>),
}

impl SpanList {
    /// Pushes every string of `items` into `text`: inline when there are at most three.
    fn push<'s>(text: &mut TextBuilder, items: impl Iterator<Item = &'s str> + Clone) -> Self {
        let count = items.clone().count();
        if count <= 3 {
            let mut spans = [Span::default(); 3];
            for (slot, item) in spans.iter_mut().zip(items) {
                *slot = text.push(item);
            }
            Self::Inline {
                len: count as u8,
                spans,
            }
        } else {
            Self::Heap(items.map(|item| text.push(item)).collect())
        }
    }

    fn as_slice(&self) -> &[Span] {
        match self {
            Self::Inline { len, spans } => &spans[..usize::from(*len)],
            Self::Heap(spans) => spans,
        }
    }
}

/// The facts of a verified token that do not depend on the claims type: header, raw
/// token, `sub`, `iss`, `jti`, times, scopes and roles, and `aud`, so that
/// [`RegisteredClaims`] can be built from them alone.
///
/// Built on every verification that gets past the claims checks (before any custom
/// check), so it is laid out to cost one allocation (three at most: more than three
/// roles, or an `aud` array of more than three, put their spans on the heap): every
/// string — the raw token first, then the header's `kid`/`typ`/`cty`, `sub`, `iss`,
/// `jti`, the scopes, the roles and the audiences — is copied once into `text`, and the
/// facts are spans into it. The public shapes ([`TokenHeader`], the scope
/// and role lists, `RegisteredClaims`) are built on first use only: most requests only
/// ask `subject`/`has_scope`/`has_role`, which read `text` directly.
///
/// Measured to pay: owned strings instead (a `Box<str>` per string fact, a boxed slice
/// per list) cost 2,400 more instructions of an HS256 `GET /me` of 50,600 (4.8%;
/// `benches/load/instructions.sh HS256`, both builds counted in one run); a cache hit builds no facts.
pub(crate) struct Facts {
    text: Box<str>,
    token_len: usize,
    /// The header's `alg`; `None` for a token with no header (an introspected one).
    alg: Option<Algorithm>,
    kid: Option<Span>,
    typ: Option<Span>,
    cty: Option<Span>,
    subject: Option<Span>,
    issuer: Option<Span>,
    token_id: Option<Span>,
    expires_at: Option<i64>,
    issued_at: Option<i64>,
    not_before: Option<i64>,
    /// Every scope, space-separated: `scope` as is, then each `scp` item. Splitting it on
    /// spaces (skipping empty pieces) gives exactly the scopes granted.
    scopes: Span,
    /// The `scope` claim itself: the start of `scopes`, when the claim is present.
    scope_claim: Option<Span>,
    roles: SpanList,
    audience: Option<AudienceSpans>,
    confirmation: Option<Box<super::Confirmation>>,
    actor: Option<Box<super::Actor>>,
    header: OnceLock<TokenHeader>,
    scope_list: OnceLock<Box<[Box<str>]>>,
    role_list: OnceLock<Box<[Box<str>]>>,
}

/// `aud` as the token wrote it: one string or an array.
enum AudienceSpans {
    One(Span),
    Many(SpanList),
}

/// Appends strings to the one buffer, handing back where each went.
struct TextBuilder(String);

impl TextBuilder {
    fn push(&mut self, s: &str) -> Span {
        let start = self.0.len();
        self.0.push_str(s);
        Span {
            start,
            end: self.0.len(),
        }
    }

    fn push_opt(&mut self, s: Option<&str>) -> Option<Span> {
        s.map(|s| self.push(s))
    }
}

impl Facts {
    /// Copies what a verified token keeps out of the (borrowed, soon gone) header and
    /// claims view. An introspected token has no header.
    pub(crate) fn new(token: &str, header: Option<&CheckedHeader>, view: &ClaimsView<'_>) -> Self {
        fn len(s: Option<&str>) -> usize {
            s.map_or(0, str::len)
        }
        let kid = header.and_then(|h| h.kid.as_deref());
        let typ = header.and_then(|h| h.typ.as_deref());
        let cty = header.and_then(|h| h.cty.as_deref());
        let scp = view.scp.iter().flat_map(|list| list.iter());
        let roles = view.roles.iter().flat_map(|list| list.iter());
        let audiences = view.aud.iter().flat_map(|list| list.iter());

        // The exact size up front: one allocation, and `into_boxed_str` need not shrink.
        let size = token.len()
            + len(kid)
            + len(typ)
            + len(cty)
            + len(view.sub.as_deref())
            + len(view.iss.as_deref())
            + len(view.jti.as_deref())
            + len(view.scope.as_deref())
            + scp.clone().map(|s| s.len() + 1).sum::<usize>()
            + roles.clone().map(str::len).sum::<usize>()
            + audiences.map(str::len).sum::<usize>();
        let mut text = TextBuilder(String::with_capacity(size));
        text.push(token);
        let kid = text.push_opt(kid);
        let typ = text.push_opt(typ);
        let cty = text.push_opt(cty);
        let subject = text.push_opt(view.sub.as_deref());
        let issuer = text.push_opt(view.iss.as_deref());
        let token_id = text.push_opt(view.jti.as_deref());
        let scopes_start = text.0.len();
        let scope_claim = text.push_opt(view.scope.as_deref());
        for item in scp {
            // A separator before each item keeps it apart from what precedes it; the
            // empty pieces this can make are skipped when splitting, as they always were.
            text.0.push(' ');
            text.0.push_str(item);
        }
        let scopes = Span {
            start: scopes_start,
            end: text.0.len(),
        };
        let roles = SpanList::push(&mut text, roles);
        let audience = view.aud.as_ref().map(|aud| match aud {
            StrOrList::One(one) => AudienceSpans::One(text.push(one)),
            StrOrList::Many(many) => {
                AudienceSpans::Many(SpanList::push(&mut text, many.iter().map(|a| &**a)))
            }
        });
        debug_assert_eq!(text.0.len(), size);

        Self {
            text: text.0.into_boxed_str(),
            token_len: token.len(),
            alg: header.map(|h| h.alg),
            kid,
            typ,
            cty,
            subject,
            issuer,
            token_id,
            expires_at: view.exp,
            issued_at: view.iat,
            not_before: view.nbf,
            scopes,
            scope_claim,
            roles,
            audience,
            confirmation: view.cnf.clone(),
            actor: view.act.clone(),
            header: OnceLock::new(),
            scope_list: OnceLock::new(),
            role_list: OnceLock::new(),
        }
    }

    fn str(&self, span: Span) -> &str {
        &self.text[span.start..span.end]
    }

    fn opt(&self, span: Option<Span>) -> Option<&str> {
        span.map(|span| self.str(span))
    }

    fn token(&self) -> &str {
        &self.text[..self.token_len]
    }

    fn subject(&self) -> Option<&str> {
        self.opt(self.subject)
    }

    fn issuer(&self) -> Option<&str> {
        self.opt(self.issuer)
    }

    fn token_id(&self) -> Option<&str> {
        self.opt(self.token_id)
    }

    fn header(&self) -> Option<&TokenHeader> {
        let alg = self.alg?;
        Some(self.header.get_or_init(|| TokenHeader {
            alg,
            kid: self.opt(self.kid).map(str::to_owned),
            typ: self.opt(self.typ).map(str::to_owned),
            cty: self.opt(self.cty).map(str::to_owned),
        }))
    }

    fn scopes(&self) -> impl Iterator<Item = &str> {
        self.str(self.scopes).split(' ').filter(|s| !s.is_empty())
    }

    fn strs<'s>(&'s self, spans: &'s SpanList) -> impl Iterator<Item = &'s str> {
        spans.as_slice().iter().map(|span| self.str(*span))
    }

    fn roles(&self) -> impl Iterator<Item = &str> {
        self.strs(&self.roles)
    }

    fn scope_list(&self) -> &[Box<str>] {
        self.scope_list
            .get_or_init(|| self.scopes().map(Into::into).collect())
    }

    fn role_list(&self) -> &[Box<str>] {
        self.role_list
            .get_or_init(|| self.roles().map(Into::into).collect())
    }

    /// The claims as [`RegisteredClaims`]: every field of it is here, copied from the
    /// claims view (read from the whole payload), so this is what parsing the payload
    /// as `RegisteredClaims` gives (a test in `verifier` compares the two).
    pub(crate) fn registered_claims(&self) -> RegisteredClaims {
        let owned = |span: Option<Span>| self.opt(span).map(str::to_owned);
        RegisteredClaims {
            iss: owned(self.issuer),
            sub: owned(self.subject),
            aud: self.audience.as_ref().map(|aud| match aud {
                AudienceSpans::One(one) => Audience::One(self.str(*one).to_owned()),
                AudienceSpans::Many(many) => {
                    Audience::Many(self.strs(many).map(str::to_owned).collect())
                }
            }),
            exp: self.expires_at,
            nbf: self.not_before,
            iat: self.issued_at,
            jti: owned(self.token_id),
            scope: owned(self.scope_claim),
        }
    }

    fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }

    fn has_role(&self, role: &str) -> bool {
        self.roles().any(|r| r == role)
    }
}

pub(crate) struct Inner<C> {
    pub(crate) facts: Facts,
    claims: ClaimsSlot<C>,
}

/// A token's claims: deserialized at verification, or built from the facts on first use
/// (see [`VerifiedToken::lazy`]).
///
/// Two variants rather than a `OnceLock` set at once: setting a `OnceLock` goes through
/// std's `Once` slow path (a call and an atomic exchange), on every verification of a
/// token with typed claims.
enum ClaimsSlot<C> {
    Ready(C),
    Lazy {
        built: OnceLock<C>,
        build: fn(&Facts) -> C,
    },
}

impl<C> Inner<C> {
    fn claims(&self) -> &C {
        match &self.claims {
            ClaimsSlot::Ready(claims) => claims,
            ClaimsSlot::Lazy { built, build } => built.get_or_init(|| build(&self.facts)),
        }
    }

    fn into_claims(self) -> C {
        match self.claims {
            ClaimsSlot::Ready(claims) => claims,
            ClaimsSlot::Lazy { built, build } => {
                built.into_inner().unwrap_or_else(|| build(&self.facts))
            }
        }
    }
}

trait HasFacts: Send + Sync {
    fn facts(&self) -> &Facts;
}

impl<C: Send + Sync> HasFacts for Inner<C> {
    fn facts(&self) -> &Facts {
        &self.facts
    }
}

/// A verified token: the caller's claims type `C` plus its [`Identity`].
///
/// It is cheap to clone (an `Arc`) whatever `C` is, so it can sit in request extensions.
///
/// ```
/// # use jwt_tower::{Algorithm, RegisteredClaims, Verifier, VerificationKey};
/// # let secret = [7u8; 32];
/// # let verifier = Verifier::<RegisteredClaims>::builder(VerificationKey::hmac(Algorithm::HS256, secret)?)
/// #     .algorithms([Algorithm::HS256]).build()?;
/// # #[cfg(feature = "rust_crypto")] // jsonwebtoken then has both backends: pick one
/// # let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
/// # let token = jsonwebtoken::encode(&jsonwebtoken::Header::default(),
/// #     &serde_json::json!({"sub": "alice", "scope": "read write", "exp": 4_000_000_000u64}),
/// #     &jsonwebtoken::EncodingKey::from_secret(&secret).unwrap()).unwrap();
/// let verified = verifier.verify(&token).unwrap();
/// assert_eq!(verified.claims().sub.as_deref(), Some("alice"));
/// assert_eq!(verified.identity().subject(), Some("alice"));
/// assert!(verified.identity().has_scope("write"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct VerifiedToken<C> {
    inner: Arc<Inner<C>>,
}

impl<C> Clone for VerifiedToken<C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C: std::fmt::Debug> std::fmt::Debug for VerifiedToken<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The raw token is a credential: never in logs.
        f.debug_struct("VerifiedToken")
            .field("header", &self.inner.facts.header())
            .field("claims", self.claims())
            .finish_non_exhaustive()
    }
}

impl<C> VerifiedToken<C> {
    pub(crate) fn new(facts: Facts, claims: C) -> Self {
        Self {
            inner: Arc::new(Inner {
                facts,
                claims: ClaimsSlot::Ready(claims),
            }),
        }
    }

    /// A token whose claims `build` makes from its facts on first use: for
    /// [`RegisteredClaims`], whose every field the facts hold. Most requests never ask
    /// (an identity, a scope check), and those spare the claims' five allocations.
    pub(crate) fn lazy(facts: Facts, build: fn(&Facts) -> C) -> Self {
        Self {
            inner: Arc::new(Inner {
                facts,
                claims: ClaimsSlot::Lazy {
                    built: OnceLock::new(),
                    build,
                },
            }),
        }
    }

    /// The claims, deserialized once into `C`.
    #[must_use]
    pub fn claims(&self) -> &C {
        self.inner.claims()
    }

    /// The claims by value, without a clone when this is the only handle on the token;
    /// the token back otherwise.
    ///
    /// # Errors
    /// `Err(self)` when the token is shared (cloned, or its [`Identity`] is alive).
    pub fn try_into_claims(self) -> Result<C, Self> {
        Arc::try_unwrap(self.inner)
            .map(Inner::into_claims)
            .map_err(|inner| Self { inner })
    }

    /// The token's header; `None` for a token accepted through introspection, which
    /// has none.
    #[must_use]
    pub fn header(&self) -> Option<&TokenHeader> {
        self.inner.facts.header()
    }

    /// The raw token, for forwarding it to the next service. Treat it as a secret.
    #[must_use]
    pub fn token(&self) -> &str {
        self.inner.facts.token()
    }

    /// `sub`, if present.
    #[must_use]
    pub fn subject(&self) -> Option<&str> {
        self.inner.facts.subject()
    }

    /// `cnf`, if present: the DPoP key (`jkt`) or client certificate (`x5t#S256`) the
    /// token is bound to. The authenticator checks both before admitting a request.
    #[must_use]
    pub fn confirmation(&self) -> Option<&super::Confirmation> {
        self.inner.facts.confirmation.as_deref()
    }

    /// `act`, if present: the current actor of a delegated token (RFC 8693 §4.1), the
    /// earlier ones nested in it (see [`Actor`](super::Actor)).
    #[must_use]
    pub fn actor(&self) -> Option<&super::Actor> {
        self.inner.facts.actor.as_deref()
    }

    /// Whether `scope` was granted.
    #[must_use]
    pub fn has_scope(&self, scope: &str) -> bool {
        self.inner.facts.has_scope(scope)
    }

    /// Whether `role` was granted.
    #[must_use]
    pub fn has_role(&self, role: &str) -> bool {
        self.inner.facts.has_role(role)
    }

    /// `exp`, if present.
    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    pub(crate) fn expires_at(&self) -> Option<i64> {
        self.inner.facts.expires_at
    }

    /// What a revocation can name: `jti`, `sub` and `iat`.
    pub(crate) fn revocation_facts(&self) -> (Option<&str>, Option<&str>, Option<i64>) {
        let facts = &self.inner.facts;
        (facts.token_id(), facts.subject(), facts.issued_at)
    }
}

impl<C: Send + Sync + 'static> VerifiedToken<C> {
    /// The claims-type-free view of this token (shares the same allocation).
    #[must_use]
    pub fn identity(&self) -> Identity {
        Identity {
            inner: Arc::clone(&self.inner) as Arc<dyn HasFacts>,
        }
    }
}

/// Who the caller is, whatever the claims type: the layer puts one in every
/// authenticated request's extensions, beside the typed [`VerifiedToken`]. Route guards
/// and identity propagation read this one.
#[derive(Clone)]
pub struct Identity {
    inner: Arc<dyn HasFacts>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("subject", &self.subject())
            .field("issuer", &self.issuer())
            .field("scopes", &self.scopes())
            .field("actor", &self.actor())
            .finish_non_exhaustive()
    }
}

impl Identity {
    fn facts(&self) -> &Facts {
        self.inner.facts()
    }

    /// The token's header; `None` for a token accepted through introspection, which
    /// has none.
    #[must_use]
    pub fn header(&self) -> Option<&TokenHeader> {
        self.facts().header()
    }

    /// The raw token, for forwarding it to the next service. Treat it as a secret.
    #[must_use]
    pub fn token(&self) -> &str {
        self.facts().token()
    }

    /// `sub`, if present.
    #[must_use]
    pub fn subject(&self) -> Option<&str> {
        self.facts().subject()
    }

    /// `iss`, if present.
    #[must_use]
    pub fn issuer(&self) -> Option<&str> {
        self.facts().issuer()
    }

    /// `jti`, if present.
    #[must_use]
    pub fn token_id(&self) -> Option<&str> {
        self.facts().token_id()
    }

    /// `exp`, seconds since the epoch, if present.
    #[must_use]
    pub fn expires_at(&self) -> Option<i64> {
        self.facts().expires_at
    }

    /// `iat`, seconds since the epoch, if present.
    #[must_use]
    pub fn issued_at(&self) -> Option<i64> {
        self.facts().issued_at
    }

    /// `act`, if present: the current actor of a delegated token (RFC 8693 §4.1), the
    /// earlier ones nested in it (see [`Actor`](super::Actor)).
    #[must_use]
    pub fn actor(&self) -> Option<&super::Actor> {
        self.facts().actor.as_deref()
    }

    /// The scopes granted: `scope` split on spaces, plus `scp` (string or array).
    /// The list is built on the first call; [`has_scope`](Self::has_scope) needs none.
    #[must_use]
    pub fn scopes(&self) -> &[Box<str>] {
        self.facts().scope_list()
    }

    /// Whether `scope` was granted.
    #[must_use]
    pub fn has_scope(&self, scope: &str) -> bool {
        self.facts().has_scope(scope)
    }

    /// The roles granted (the `roles` claim by default; see
    /// [`VerifierBuilder::roles_claim`](crate::VerifierBuilder::roles_claim)).
    /// The list is built on the first call; [`has_role`](Self::has_role) needs none.
    #[must_use]
    pub fn roles(&self) -> &[Box<str>] {
        self.facts().role_list()
    }

    /// Whether `role` was granted.
    #[must_use]
    pub fn has_role(&self, role: &str) -> bool {
        self.facts().has_role(role)
    }
}
