//! Your account (being written).

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AccountPage() -> impl IntoView {
    view! {
        <Title text="Your account" />
        <h1>"Your account"</h1>
    }
}
