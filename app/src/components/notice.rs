//! What the page says about the outcome of the last action.

use leptos::prelude::*;

#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    Success(String),
    Error(String),
}

/// The live region that announces the current notice.
#[component]
pub fn NoticeArea(#[prop(into)] notice: Signal<Option<Notice>>) -> impl IntoView {
    view! {
        <p class="notice-area" role="status" aria-live="polite">
            {move || {
                notice
                    .get()
                    .map(|n| match n {
                        Notice::Success(t) => view! { <span class="notice success">{t}</span> }.into_any(),
                        Notice::Error(t) => view! { <span class="notice error">{t}</span> }.into_any(),
                    })
            }}
        </p>
    }
}
