//! The layers around every route: a span per request, compression, and tags for compressed
//! representations.

use axum::{Router, extract::MatchedPath, http::Request, response::Response};
use std::time::Duration;
use tower_http::compression::{
    CompressionLayer, CompressionLevel,
    predicate::{NotForContentType, Predicate, SizeAbove},
};
use tower_http::trace::TraceLayer;
use tracing::Span;

/// Bodies smaller than this are sent as they are: compressing them costs more time than the
/// bytes it saves (an API document is a few hundred bytes).
const COMPRESS_FROM_BYTES: u16 = 1024;

pub fn around(router: Router) -> Router {
    let compression = CompressionLayer::new()
        .quality(CompressionLevel::Fastest)
        .compress_when(
            SizeAbove::new(COMPRESS_FROM_BYTES)
                .and(NotForContentType::GRPC)
                .and(NotForContentType::IMAGES)
                .and(NotForContentType::SSE),
        );
    router
        .layer(compression)
        // synchronous: no future to allocate per request
        .layer(tower::util::MapResponseLayer::new(
            super::conditional::tag_encoded,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    let route = request
                        .extensions()
                        .get::<MatchedPath>()
                        .map(MatchedPath::as_str)
                        .unwrap_or("");
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        route,
                        status = tracing::field::Empty,
                    )
                })
                .on_response(|response: &Response, latency: Duration, span: &Span| {
                    span.record("status", response.status().as_u16());
                    tracing::debug!(latency_us = latency.as_micros() as u64, "answered");
                }),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{body::Body, http::header, routing::get};
    use tower::ServiceExt;

    /// A compressed answer is another representation: it gets a tag of its own.
    #[tokio::test]
    async fn compressed_answers_carry_their_own_tag() {
        let big = "x".repeat(4096);
        let router = around(Router::new().route(
            "/doc",
            get(move || async move { ([(header::ETAG, "\"db.7\"")], big) }),
        ));
        let fetch = |encoding: &'static str| {
            let router = router.clone();
            async move {
                let request = Request::get("/doc")
                    .header(header::ACCEPT_ENCODING, encoding)
                    .body(Body::empty())
                    .unwrap();
                router.oneshot(request).await.unwrap()
            }
        };
        let gzip = fetch("gzip").await;
        assert_eq!(gzip.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(gzip.headers()[header::ETAG], "\"db.7-gzip\"");
        let plain = fetch("identity").await;
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(plain.headers()[header::ETAG], "\"db.7\"");
    }
}
