//! What the page says about the outcome of the last action.

use crate::model::Area;
use leptos::prelude::*;

#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    Success(String),
    Error(String),
}

/// The live region that announces the current notice.
#[component]
pub fn NoticeArea(
    #[prop(into)] notice: Signal<Option<Notice>>,
    /// Its class, when it is not the page's main notice area (`notice-area`).
    #[prop(optional)]
    class: Option<&'static str>,
) -> impl IntoView {
    view! {
        <p class=class.unwrap_or("notice-area") role="status" aria-live="polite">
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

/// Says, at the top of a page whose controls are disabled, that the administrator may read the
/// area but not change it ("You can read these settings but not change them.").
#[component]
pub fn ReadOnlyNotice(area: Area, text: &'static str) -> impl IntoView {
    (!super::may_write(area)).then(|| {
        view! {
            <p class="notice info read-only" role="status">
                {text}
            </p>
        }
    })
}
