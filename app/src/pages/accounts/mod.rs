//! Accounts (being written).

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AccountsPage() -> impl IntoView {
    view! {
        <Title text="Accounts" />
        <h1>"Accounts"</h1>
    }
}
