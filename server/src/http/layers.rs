//! The layers around every route: a span per request, who is calling, security headers, a time
//! limit, compression, and tags for compressed representations.

use super::auth::{Identify, identify};
use axum::{
    Router,
    extract::MatchedPath,
    http::{HeaderName, HeaderValue, Request, StatusCode, header},
    middleware,
    response::Response,
};
use std::time::Duration;
use tower_http::compression::{
    CompressionLayer, CompressionLevel,
    predicate::{NotForContentType, Predicate, SizeAbove},
};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

/// Bodies smaller than this are sent as they are: compressing them costs more time than the
/// bytes it saves (an API document is a few hundred bytes).
const COMPRESS_FROM_BYTES: u16 = 1024;

/// What every answer carries unless it says otherwise: no framing, no type sniffing, no referrer
/// beyond this site, and a policy that lets an API answer load nothing (pages set their own,
/// with the nonce of their hydration scripts).
fn security_headers(router: Router) -> Router {
    let headers: [(HeaderName, &'static str); 5] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    headers.into_iter().fold(router, |router, (name, value)| {
        router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ))
    })
}

/// `caller`: who is calling is worked out with it (always, but in the benchmark of its cost).
pub fn around(router: Router, caller: Option<Identify>, timeout: Duration) -> Router {
    let router = match caller {
        Some(caller) => router.layer(middleware::from_fn_with_state(caller, identify)),
        None => router,
    };
    let router = router.layer(TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        timeout,
    ));
    let router = security_headers(router);
    compressed(router)
}

fn compressed(router: Router) -> Router {
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
        let router = compressed(Router::new().route(
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
