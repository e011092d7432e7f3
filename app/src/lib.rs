//! Pharos UI and the typed models it shares with the server.
#![forbid(unsafe_code)]
#![recursion_limit = "256"]

pub mod api;
mod base;
#[cfg(feature = "hydrate")]
mod client;
mod components;
mod layout;
pub use layout::page_area;
pub mod model;
mod pages;

pub use base::{BASE_META, BasePath, base_path, url};
use leptos::prelude::*;
use leptos_meta::{HashedStylesheet, Link, MetaTags, Title, provide_meta_context};
use leptos_router::{
    SsrMode, StaticSegment,
    components::{Route, Router, Routes},
};
use pages::{
    AccountPage, AccountsPage, AuditPage, CertificatesPage, DashboardPage, DevicesPage,
    EnrollmentPage, JobsPage, LoginPage, NetworkSettingsPage, NotFound, ScansPage,
};

/// Where the server renders page data from (memory, never a query); provided as context.
#[cfg(feature = "ssr")]
pub trait PageBackend: Send + Sync {
    fn page_data(&self) -> api::PageData;
}

/// A future the server's page data sources return.
#[cfg(feature = "ssr")]
pub type BoxFuture<T> = std::pin::Pin<Box<dyn Future<Output = T> + Send>>;

/// Where the server renders the discovery pages from (the database and the running scans);
/// provided as context.
#[cfg(feature = "ssr")]
pub trait DiscoveryBackend: Send + Sync {
    fn devices(&self, query: api::DeviceQuery) -> BoxFuture<Result<api::DevicePage, String>>;
    fn scans(&self) -> BoxFuture<Result<api::ScanList, String>>;
    /// One scan with its results; `None` if this server has no such scan.
    fn scan(&self, id: String) -> BoxFuture<Result<Option<api::Scan>, String>>;
    fn jobs(&self) -> BoxFuture<Result<api::JobList, String>>;
}

/// Where the server renders the accounts, own-account and audit pages from (the database);
/// provided as context. Rights are checked before a page renders.
#[cfg(feature = "ssr")]
pub trait AccountsBackend: Send + Sync {
    fn accounts(&self) -> BoxFuture<Result<api::AccountList, String>>;
    fn lockouts(&self) -> BoxFuture<Result<api::LockoutList, String>>;
    /// The API tokens of one administrator.
    fn tokens(&self, user: i64) -> BoxFuture<Result<api::TokenList, String>>;
    fn audit(&self, query: api::AuditQuery) -> BoxFuture<Result<api::AuditPage, String>>;
    fn security_log(&self, query: api::AuditQuery) -> BoxFuture<Result<api::SecurityPage, String>>;
}

/// Where the server renders the certificates page and the cluster check of the Server Network
/// Settings page from; provided as context. Rights are checked before a page renders.
#[cfg(feature = "ssr")]
pub trait CertificatesBackend: Send + Sync {
    fn certificates(&self) -> BoxFuture<Result<api::WebCertificates, String>>;
    fn cluster_check(&self) -> BoxFuture<Result<api::ClusterCheck, String>>;
}

/// Where the server renders the dashboard (the start page) from; provided as context. Only the
/// sections `rights` may read are filled in.
#[cfg(feature = "ssr")]
pub trait DashboardBackend: Send + Sync {
    fn dashboard(
        &self,
        range: api::HistoryRange,
        rights: model::Rights,
    ) -> BoxFuture<Result<api::Dashboard, String>>;
}

/// Where the server renders the device enrollment page from (the database); provided as
/// context. Rights are checked before a page renders.
#[cfg(feature = "ssr")]
pub trait EnrollmentBackend: Send + Sync {
    fn keys(&self) -> BoxFuture<Result<api::EnrollmentKeyList, String>>;
    fn device_certificates(&self) -> BoxFuture<Result<api::DeviceCertificateList, String>>;
}

/// The policy of a page: scripts only from this site or inline with this response's nonce (the
/// hydration script and the data handed to the browser), WebAssembly compiled from this site,
/// nothing framed, nothing sent elsewhere.
#[cfg(feature = "ssr")]
fn content_security_policy() {
    let Some(nonce) = leptos::nonce::use_nonce() else {
        return;
    };
    let Some(response) = use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(value) = http::HeaderValue::from_str(&policy) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    content_security_policy();
    let base = base_path();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name=BASE_META content=base.clone() />
                <AutoReload options=options.clone() />
                <HashedStylesheet options=options.clone() id="leptos" root=base.clone() />
                <HydrationScripts options root=base />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    components::provide_me();
    // Effects run only in the browser: the marker tells tests and scripts the page is live.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <Link rel="icon" type_="image/svg+xml" href=url("/favicon.svg") />
        <Title formatter=|page: String| format!("{page} · Pharos") />
        <Router base=base_path()>
            <layout::TopBar />
            <main id="main" data-hydrated=move || hydrated.get().to_string()>
                <Routes fallback=|| view! { <NotFound /> }>
                    <Route path=StaticSegment("") view=DashboardPage ssr=SsrMode::Async />
                    <Route
                        path=(StaticSegment("settings"), StaticSegment("network"))
                        view=NetworkSettingsPage
                    />
                    // the discovery pages wait for their data (from the database), so that they
                    // arrive complete
                    <Route path=StaticSegment("devices") view=DevicesPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("scans") view=ScansPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("jobs") view=JobsPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("login") view=LoginPage />
                    <Route path=StaticSegment("account") view=AccountPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("accounts") view=AccountsPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("audit") view=AuditPage ssr=SsrMode::Async />
                    <Route
                        path=StaticSegment("certificates")
                        view=CertificatesPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=StaticSegment("enrollment")
                        view=EnrollmentPage
                        ssr=SsrMode::Async
                    />
                </Routes>
            </main>
        </Router>
    }
}
