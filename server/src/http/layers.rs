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
        .layer(axum::middleware::map_response(
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
