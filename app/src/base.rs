//! The path prefix Pharos is served under behind a reverse proxy (`/pharos`), or `""` at the
//! root of the site. Routes and API paths are declared without it; links, assets, navigations
//! and the browser's requests get it here.

/// The prefix, as the server provides it to the pages it renders (context).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BasePath(pub String);

/// The page's `<meta name=…>` that hands the prefix to the browser.
pub const BASE_META: &str = "pharos-base";

/// The prefix: from the server while it renders a page, from the page in the browser.
pub fn base_path() -> String {
    #[cfg(feature = "hydrate")]
    {
        thread_local! {
            static BASE: String = from_page();
        }
        BASE.with(Clone::clone)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        leptos::prelude::use_context::<BasePath>()
            .map(|BasePath(base)| base)
            .unwrap_or_default()
    }
}

#[cfg(feature = "hydrate")]
fn from_page() -> String {
    leptos::prelude::document()
        .query_selector(&format!("meta[name=\"{BASE_META}\"]"))
        .ok()
        .flatten()
        .and_then(|meta| meta.get_attribute("content"))
        .unwrap_or_default()
}

/// `path` (absolute, of this site) as the browser asks for it.
pub fn url(path: &str) -> String {
    format!("{}{path}", base_path())
}
