//! [`ToolScopesService`]: read a POST body, check the tools it calls, hand it on.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{Extensions, HeaderValue, Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Either, Full, LengthLimitError, Limited};
use tower_service::Service;

use super::ToolScopesLayer;
use super::jsonrpc::{self, Unreadable};
use crate::auth::Refusal;
use crate::reject::DefaultRejection;
use crate::{AuthError, Identity, RejectionKind};

/// The request body the inner service gets: the bytes read and checked (`Left`, the same
/// bytes), or the untouched body of a request that is not a POST (`Right`).
pub type ToolScopesBody<B> = Either<Full<Bytes>, B>;

/// The errors a request body may fail with.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The response future of [`ToolScopesService`]: boxed, as a POST waits for its body.
pub type ToolScopesFuture<ResBody, E> =
    Pin<Box<dyn Future<Output = Result<Response<ResBody>, E>> + Send>>;

/// The service made by [`ToolScopesLayer`].
#[derive(Debug, Clone)]
pub struct ToolScopesService<S> {
    pub(crate) inner: S,
    pub(crate) layer: ToolScopesLayer,
}

impl<S, B, ResBody> Service<Request<B>> for ToolScopesService<S>
where
    S: Service<Request<ToolScopesBody<B>>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    ResBody: From<Bytes> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ToolScopesFuture<ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if req.method() != Method::POST {
            return Box::pin(self.inner.call(req.map(Either::Right)));
        }
        // The service polled ready moves into the future; a clone takes its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let bytes = match read(&parts.headers, body, layer.max_body_bytes).await {
                Ok(bytes) => bytes,
                Err(response) => return Ok(response),
            };
            let refused = match jsonrpc::tools_called(&bytes) {
                Ok(tools) => layer
                    .check(&parts.extensions, &tools)
                    .err()
                    .map(|error| refuse(&parts.extensions, &error, parts.uri.path())),
                Err(unreadable) => Some(unreadable_response(unreadable)),
            };
            if let Some(response) = refused {
                return Ok(response);
            }
            inner
                .call(Request::from_parts(parts, Either::Left(Full::new(bytes))))
                .await
        })
    }
}

impl ToolScopesLayer {
    /// Every configured tool among `tools` needs a token with all of its scopes. The
    /// refusal names the scopes of every tool refused (a batch may call several), so that
    /// a client steps up once.
    fn check(&self, extensions: &Extensions, tools: &[Cow<'_, str>]) -> Result<(), AuthError> {
        let identity = extensions.get::<Identity>();
        let mut needed: Vec<&str> = Vec::new();
        for scopes in tools.iter().filter_map(|tool| self.tools.get(&**tool)) {
            let Some(identity) = identity else {
                return Err(AuthError::new(RejectionKind::MissingToken));
            };
            if !scopes.iter().all(|scope| identity.has_scope(scope)) {
                for scope in scopes {
                    if !needed.contains(&&**scope) {
                        needed.push(scope);
                    }
                }
            }
        }
        if needed.is_empty() {
            Ok(())
        } else {
            Err(AuthError::insufficient_scope(needed.join(" ")))
        }
    }
}

/// The refusal of the `JwtLayer` in front, so it carries that layer's challenge; with
/// none (the layer misplaced), the default RFC 6750 refusal, logged as an error.
fn refuse<ResBody: From<Bytes> + 'static>(
    extensions: &Extensions,
    error: &AuthError,
    path: &str,
) -> Response<ResBody> {
    if let Some(refusal) = extensions.get::<Refusal<ResBody>>() {
        return refusal.refuse(error);
    }
    tracing::error!(
        path,
        "ToolScopesLayer has no JwtLayer in front of it: calls of configured tools are refused"
    );
    DefaultRejection::default().response(error)
}

/// The body, read whole if it is at most `max` bytes.
async fn read<B, ResBody>(
    headers: &http::HeaderMap,
    body: B,
    max: usize,
) -> Result<Bytes, Response<ResBody>>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
    ResBody: From<Bytes>,
{
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max as u64) {
        return Err(too_large(max));
    }
    match Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(too_large(max)),
        Err(_) => Err(json_rpc_error(
            StatusCode::BAD_REQUEST,
            Unreadable::InvalidRequest.code(),
            "Invalid Request: the request body could not be read",
        )),
    }
}

fn too_large<ResBody: From<Bytes>>(max: usize) -> Response<ResBody> {
    json_rpc_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        Unreadable::InvalidRequest.code(),
        &format!("Invalid Request: the request body is larger than {max} bytes"),
    )
}

fn unreadable_response<ResBody: From<Bytes>>(unreadable: Unreadable) -> Response<ResBody> {
    json_rpc_error(
        StatusCode::BAD_REQUEST,
        unreadable.code(),
        unreadable.message(),
    )
}

/// A JSON-RPC error response with no `id` (`null`: the body was not read far enough to
/// know it), as the MCP transport allows with an HTTP error status.
pub(super) fn json_rpc_error<ResBody: From<Bytes>>(
    status: StatusCode,
    code: i32,
    message: &str,
) -> Response<ResBody> {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": code, "message": message },
    });
    let mut response = Response::new(ResBody::from(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http_body::Frame;
    use tower::ServiceExt;

    use super::*;

    /// A body whose transport fails (a client gone mid-body).
    struct Broken;

    impl Body for Broken {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Ready(Some(Err(std::io::ErrorKind::ConnectionReset.into())))
        }
    }

    fn service() -> ToolScopesService<
        impl Service<
            Request<ToolScopesBody<Broken>>,
            Response = Response<Bytes>,
            Error = Infallible,
            Future: Send,
        > + Clone
        + Send,
    > {
        let endpoint = tower::service_fn(|_: Request<ToolScopesBody<Broken>>| async {
            Ok::<_, Infallible>(Response::new(Bytes::from_static(b"reached")))
        });
        tower_layer::Layer::layer(&ToolScopesLayer::new(), endpoint)
    }

    #[tokio::test]
    async fn a_body_that_fails_to_arrive_is_400() {
        let request = Request::post("/mcp").body(Broken).unwrap();
        let response = service().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(body["error"]["code"], -32600);
        assert_eq!(body["id"], serde_json::Value::Null);
        // Not read, not refused: a GET's body is the server's.
        let request = Request::get("/mcp").body(Broken).unwrap();
        let response = service().oneshot(request).await.unwrap();
        assert_eq!(response.body(), "reached");
    }
}
