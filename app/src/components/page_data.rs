//! The data a page renders from. The server reads it from memory while it renders and hands it to
//! the browser inside the page, so neither side waits; after a client-side navigation nothing was
//! handed over, and the browser loads it itself.

use leptos::prelude::*;
use serde::{Serialize, de::DeserializeOwned};

/// Data a page renders from, and where each side gets it.
pub trait Loadable: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// Reads the data while the server renders the page.
    #[cfg(feature = "ssr")]
    fn read_on_server() -> Result<Self, String>;

    /// Loads the data from the browser.
    #[cfg(feature = "hydrate")]
    fn load_in_browser() -> impl Future<Output = Result<Self, String>>;
}

/// Shows the page's data, or why it could not be had.
#[component]
pub fn WithPageData<T: Loadable>(
    /// Shown while the browser loads the data.
    loading: &'static str,
    show: fn(Result<T, String>) -> AnyView,
) -> impl IntoView {
    match SharedValue::new(read_on_server::<T>).into_inner() {
        Some(data) => show(data),
        None => load_in_browser(loading, show),
    }
}

#[cfg(feature = "ssr")]
fn read_on_server<T: Loadable>() -> Option<Result<T, String>> {
    Some(T::read_on_server())
}

/// In the browser the data is what the server handed over, or nothing.
#[cfg(not(feature = "ssr"))]
fn read_on_server<T: Loadable>() -> Option<Result<T, String>> {
    None
}

#[cfg(feature = "hydrate")]
fn load_in_browser<T: Loadable>(
    loading: &'static str,
    show: fn(Result<T, String>) -> AnyView,
) -> AnyView {
    let data = LocalResource::new(T::load_in_browser);
    view! {
        <Suspense fallback=move || view! { <p>{loading}</p> }>
            {move || Suspend::new(async move { show(data.await) })}
        </Suspense>
    }
    .into_any()
}

#[cfg(not(feature = "hydrate"))]
fn load_in_browser<T>(_: &'static str, _: fn(Result<T, String>) -> AnyView) -> AnyView {
    unreachable!("the server reads the data itself")
}
