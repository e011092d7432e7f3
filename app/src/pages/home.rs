use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn Home() -> impl IntoView {
    view! {
        <Title text="Home" />
        <h1>"Pharos"</h1>
        <p>"Self-hosted management of a fleet of thin-client devices."</p>
        <ul>
            <li>
                <a href=crate::url("/settings/network")>"Administration › Global Configuration › Server Network Settings"</a>
            </li>
        </ul>
    }
}
