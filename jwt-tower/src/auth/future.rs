//! The one response future of the layer and the guards behind it: the inner service's, a
//! ready rejection, or (the layer, rarely) a wait for keys followed by either.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

/// The slow path: a request waiting for keys, then answered. Boxed, as it is rare.
pub(crate) type Waiting<B, E> = Pin<Box<dyn Future<Output = Result<Response<B>, E>> + Send>>;

pin_project! {
    /// Response future of [`JwtService`](super::JwtService), and of any guard that either
    /// calls its inner service or refuses at once (`jwt-axum`'s `RequireScopes`,
    /// `jwt-tonic`'s method policies).
    ///
    /// ```
    /// use http::Response;
    /// use jwt_tower::auth::ResponseFuture;
    ///
    /// type Inner = std::future::Ready<Result<Response<()>, std::convert::Infallible>>;
    /// let refused = ResponseFuture::<Inner, (), std::convert::Infallible>::rejected(
    ///     Response::builder().status(403).body(()).unwrap(),
    /// );
    /// let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let response = runtime.block_on(refused).unwrap();
    /// assert_eq!(response.status(), 403);
    /// ```
    pub struct ResponseFuture<F, B, E> {
        #[pin]
        kind: Kind<F, B, E>,
    }
}

/// The inner future with the caller's identity in scope.
#[cfg(feature = "propagate")]
type Scoped<F> = crate::propagate::Scoped<F>;
/// Without the `propagate` feature there is no scope (and the variant is never built).
#[cfg(not(feature = "propagate"))]
type Scoped<F> = F;

pin_project! {
    #[project = KindProj]
    #[cfg_attr(not(feature = "propagate"), allow(dead_code))]
    enum Kind<F, B, E> {
        Inner {
            #[pin]
            future: F,
        },
        // The inner future with the caller's identity in scope (feature `propagate`).
        Scoped {
            #[pin]
            future: Scoped<F>,
        },
        Rejected {
            response: Option<Response<B>>,
        },
        WaitingForKeys {
            future: Waiting<B, E>,
        },
    }
}

impl<F, B, E> ResponseFuture<F, B, E> {
    /// The inner service's future: the request was admitted.
    pub fn inner(future: F) -> Self {
        Self {
            kind: Kind::Inner { future },
        }
    }

    #[cfg(feature = "propagate")]
    pub(crate) fn scoped(future: crate::propagate::Scoped<F>) -> Self {
        Self {
            kind: Kind::Scoped { future },
        }
    }

    /// A refusal, ready.
    pub fn rejected(response: Response<B>) -> Self {
        Self {
            kind: Kind::Rejected {
                response: Some(response),
            },
        }
    }

    pub(crate) fn waiting(future: Waiting<B, E>) -> Self {
        Self {
            kind: Kind::WaitingForKeys { future },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => future.poll(cx),
            KindProj::Scoped { future } => future.poll(cx),
            KindProj::Rejected { response } => Poll::Ready(Ok(response
                .take()
                .expect("ResponseFuture polled after completion"))),
            KindProj::WaitingForKeys { future } => future.as_mut().poll(cx),
        }
    }
}
