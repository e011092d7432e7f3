//! Sign in (being written).

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn LoginPage() -> impl IntoView {
    view! {
        <Title text="Sign in" />
        <h1>"Sign in"</h1>
    }
}
