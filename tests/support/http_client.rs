//! reqwest as a tower `http` client service, for the client-side layers under test.

use tower::Service;

/// reqwest as a tower `http` client service, answering the `http::Response` (status
/// and headers) a hyper client would.
#[derive(Clone)]
pub struct Reqwest(pub reqwest::Client);

pub type Answer = http::Response<String>;

impl<B: Into<reqwest::Body> + Send + 'static> Service<http::Request<B>> for Reqwest {
    type Response = Answer;
    type Error = reqwest::Error;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<Answer, reqwest::Error>> + Send>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let client = self.0.clone();
        Box::pin(async move {
            let request = reqwest::Request::try_from(request)?;
            let response = client.execute(request).await?;
            let mut answer = http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                answer = answer.header(name, value);
            }
            Ok(answer.body(response.text().await?).unwrap())
        })
    }
}

pub fn reqwest_client() -> Reqwest {
    Reqwest(
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    )
}
