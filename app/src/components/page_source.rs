//! Where a page's data comes from: read by the server while it renders the page, loaded by the
//! browser after a client-side navigation or when the page asks for other data.

use leptos::prelude::*;
use serde::{Serialize, de::DeserializeOwned};

/// Data a page renders from. Its route renders with `SsrMode::Async`: the server reads
/// the data (from the database) before it sends the page, so the page reads complete without
/// JavaScript, and hands it to the browser inside the page. After a client-side navigation, or
/// when the query changes, the browser loads it itself.
pub trait PageSource: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// What the page asks for (a filter and a page of devices, say).
    type Query: Clone + PartialEq + Send + Sync + 'static;

    /// What the server reads it from, provided as context (`Arc<dyn DiscoveryBackend>`, say).
    #[cfg(feature = "ssr")]
    type Backend: ?Sized + Send + Sync + 'static;

    #[cfg(feature = "ssr")]
    fn read(
        backend: std::sync::Arc<Self::Backend>,
        query: Self::Query,
    ) -> crate::BoxFuture<Result<Self, String>>;

    #[cfg(feature = "hydrate")]
    fn load(query: Self::Query) -> impl Future<Output = Result<Self, String>> + 'static;
}

pub fn page_resource<T: PageSource>(
    query: impl Fn() -> T::Query + Send + Sync + 'static,
) -> Resource<Result<T, String>> {
    #[cfg(feature = "ssr")]
    let backend = use_context::<std::sync::Arc<T::Backend>>();
    Resource::new(query, move |query| {
        #[cfg(feature = "ssr")]
        let read = {
            let backend = backend.clone();
            async move {
                match backend {
                    Some(backend) => T::read(backend, query).await,
                    None => Err("the page has no data source".to_owned()),
                }
            }
        };
        #[cfg(feature = "hydrate")]
        let read = crate::client::discovery::handed_over(move || T::load(query));
        #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
        let read = {
            let _ = query;
            std::future::pending()
        };
        read
    })
}

/// Shows the page's data, or why it could not be had. While other data loads (another filter,
/// say) the current data stays on the page.
pub fn with_data<T: PageSource>(
    data: Resource<Result<T, String>>,
    what: &'static str,
    show: impl Fn(T) -> AnyView + Clone + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <Transition fallback=move || view! { <p>{format!("Loading the {what}…")}</p> }>
            {move || {
                let show = show.clone();
                Suspend::new(async move {
                    match data.await {
                        Ok(value) => show(value),
                        Err(e) => {
                            view! {
                                <p class="notice error" role="alert">
                                    {format!("The {what} could not be loaded: {e}")}
                                </p>
                            }
                                .into_any()
                        }
                    }
                })
            }}
        </Transition>
    }
}
