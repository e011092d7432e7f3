//! The enrollment address's path prefix: stock EST clients ask `/.well-known/est/…` below
//! whatever base they are given, so when a prefix is set the same service answers under it too.
//! The prefix is read from the settings at every request: changing it needs no restart.

use crate::settings::Settings;
use app::model::{EST_PATH, est_path};
use axum::{Router, extract::Request, http::Uri};
use std::sync::Arc;
use tower::ServiceExt;

/// `router`, answering EST requests under the enrollment path prefix as if they came to `base`
/// (the server's own path prefix, if any) followed by `/.well-known/est`.
pub fn alias(router: Router, settings: Arc<Settings>, base: String) -> Router {
    let target = format!("{base}{EST_PATH}");
    Router::new().fallback_service(router.map_request(move |mut request: Request| {
        let snapshot = settings.snapshot();
        let enrollment = &snapshot.view.enrollment_address;
        if enrollment.enabled
            && !enrollment.path_prefix.trim_matches('/').is_empty()
            && let Some(uri) = rewritten(request.uri(), &est_path(&enrollment.path_prefix), &target)
        {
            *request.uri_mut() = uri;
        }
        request
    }))
}

/// `uri` with `from` at the start of its path (a whole segment) replaced by `to`.
fn rewritten(uri: &Uri, from: &str, to: &str) -> Option<Uri> {
    if from == to {
        return None;
    }
    let rest = uri.path().strip_prefix(from)?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    let mut path_and_query = format!("{to}{rest}");
    if let Some(query) = uri.query() {
        path_and_query.push('?');
        path_and_query.push_str(query);
    }
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query.parse().ok()?);
    Uri::from_parts(parts).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_prefix_as_whole_segments_is_rewritten() {
        let to = "/.well-known/est";
        let from = "/device-connector/device/.well-known/est";
        let uri = |s: &str| s.parse::<Uri>().unwrap();
        assert_eq!(
            rewritten(
                &uri("/device-connector/device/.well-known/est/cacerts"),
                from,
                to
            ),
            Some(uri("/.well-known/est/cacerts"))
        );
        assert_eq!(
            rewritten(
                &uri("/device-connector/device/.well-known/est/x?a=1"),
                from,
                to
            ),
            Some(uri("/.well-known/est/x?a=1"))
        );
        assert_eq!(
            rewritten(
                &uri("/device-connector/device/.well-known/estx/cacerts"),
                from,
                to
            ),
            None
        );
        assert_eq!(rewritten(&uri("/api/v1/settings"), from, to), None);
        assert_eq!(rewritten(&uri("/.well-known/est/cacerts"), to, to), None);
    }
}
