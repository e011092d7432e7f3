//! Audit log (being written).

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AuditPage() -> impl IntoView {
    view! {
        <Title text="Audit log" />
        <h1>"Audit log"</h1>
    }
}
