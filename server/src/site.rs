//! The server-rendered pages and the built site's static files.

use crate::config::Config;
use app::{
    AccountsBackend, App, BasePath, CertificatesBackend, DashboardBackend, DiscoveryBackend,
    EnrollmentBackend, PageBackend, shell,
};
use axum::{
    Router,
    extract::OriginalUri,
    http::{HeaderValue, StatusCode, header},
    response::IntoResponse,
};
use leptos::prelude::{LeptosOptions, provide_context};
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::path::PathBuf;
use std::sync::Arc;
use tower_http::services::ServeDir;

/// Where each area's pages read their data while the server renders them.
#[derive(Clone)]
pub struct Backends {
    pub page: Arc<dyn PageBackend>,
    pub discovery: Arc<dyn DiscoveryBackend>,
    pub accounts: Arc<dyn AccountsBackend>,
    pub certificates: Arc<dyn CertificatesBackend>,
    pub enrollment: Arc<dyn EnrollmentBackend>,
    pub dashboard: Arc<dyn DashboardBackend>,
}

pub fn routes(backends: Backends, options: LeptosOptions, base: &str) -> Router {
    let base = BasePath(base.to_owned());
    let context = move || {
        provide_context(backends.page.clone());
        provide_context(backends.discovery.clone());
        provide_context(backends.accounts.clone());
        provide_context(backends.certificates.clone());
        provide_context(backends.enrollment.clone());
        provide_context(backends.dashboard.clone());
        provide_context(base.clone());
        // the page's inline scripts (hydration, handed-over data) carry it; the
        // shell puts it in the page's Content-Security-Policy
        leptos::nonce::provide_nonce();
    };
    let pages = Router::new()
        .leptos_routes_with_context(&options, generate_route_list(App), context.clone(), {
            let options = options.clone();
            move || shell(options.clone())
        })
        // Pages are rendered whole (async SSR) but leave the renderer in many small chunks;
        // sending them as one body saves a write and a TCP segment per chunk.
        .layer(axum::middleware::map_response(whole_body))
        .layer(axum::middleware::map_request(full_path));
    Router::new()
        .nest("/pkg", package_files(&options))
        .merge(pages)
        .fallback(leptos_axum::file_and_error_handler_with_context(
            context, shell,
        ))
        .with_state(options)
}

/// Under a path prefix, the router hands a page's request on without the prefix; the page's
/// router matches the full path (as the browser's router does when it hydrates the page), so it
/// gets the full one back.
async fn full_path(mut request: axum::extract::Request) -> axum::extract::Request {
    if let Some(OriginalUri(uri)) = request.extensions().get::<OriginalUri>().cloned() {
        *request.uri_mut() = uri;
    }
    request
}

/// The wasm, JavaScript and CSS of the front end. Built with content-hashed names they never
/// change under a name, so browsers keep them for a year without asking again; a release build
/// also brings brotli and gzip copies made at build time, sent instead of compressing per request.
fn package_files<S: Clone + Send + Sync + 'static>(options: &LeptosOptions) -> Router<S> {
    let dir = PathBuf::from(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref());
    let cache = HeaderValue::from_static(if options.hash_files {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    });
    Router::new()
        .fallback_service(ServeDir::new(dir).precompressed_br().precompressed_gzip())
        // only what was found: a file missing now (an older server behind the same balancer)
        // may exist on the next try
        .layer(axum::middleware::map_response(
            move |mut response: axum::response::Response| {
                let cache = cache.clone();
                async move {
                    if response.status().is_success() {
                        response.headers_mut().insert(header::CACHE_CONTROL, cache);
                    }
                    response
                }
            },
        ))
}

/// Whether the build gave the files content-hashed names: cargo-leptos then writes their hashes
/// to `hash.txt` next to the server binary, where Leptos reads them.
fn hashed_names() -> bool {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join(HASH_FILE)))
        .is_some_and(|file| file.is_file())
}

const HASH_FILE: &str = "hash.txt";

async fn whole_body(response: axum::response::Response) -> axum::response::Response {
    let (parts, body) = response.into_parts();
    match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => axum::response::Response::from_parts(parts, axum::body::Body::from(bytes)),
        Err(e) => {
            tracing::error!(error = %e, "rendering a page failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Where the built site is: configured, else `target/site` here, else beside the executable
/// (`target/release/pharos` → `target/site`).
fn site_root(config: &Config) -> PathBuf {
    if let Some(root) = &config.site_root {
        return root.clone();
    }
    if let Ok(root) = std::env::var("LEPTOS_SITE_ROOT") {
        return PathBuf::from(root);
    }
    let here = PathBuf::from("target/site");
    if here.join("pkg").is_dir() {
        return here;
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("site")))
        .filter(|p| p.join("pkg").is_dir())
        .unwrap_or(here)
}

pub fn leptos_options(config: &Config) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("pharos")
        .site_root(site_root(config).to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(config.listen)
        .hash_files(hashed_names())
        .hash_file(HASH_FILE.into())
        .build()
}
