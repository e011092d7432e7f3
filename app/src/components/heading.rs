//! The heading of a page of the Administration's discovery area.

use leptos::prelude::*;
use leptos_meta::Title;

/// The title, breadcrumb and heading of a discovery page.
#[component]
pub fn DiscoveryHeading(title: &'static str) -> impl IntoView {
    view! {
        <Title text=title />
        <nav aria-label="Breadcrumb" class="breadcrumb">
            <ol>
                <li>"Administration"</li>
                <li>"Discovery"</li>
                <li aria-current="page">{title}</li>
            </ol>
        </nav>
        <h1>{title}</h1>
    }
}
