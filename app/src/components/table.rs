//! Pieces of the pages' tables.

use leptos::prelude::*;

/// The column headings of a table. A column of controls (check boxes, buttons) has a heading
/// that only screen readers read: `first` before the others, `last` after them.
#[component]
pub fn ColumnHeads(
    names: &'static [&'static str],
    #[prop(optional)] first: Option<&'static str>,
    #[prop(optional)] last: Option<&'static str>,
) -> impl IntoView {
    let unseen = |name: Option<&'static str>| {
        name.map(|name| {
            view! {
                <th scope="col">
                    <span class="visually-hidden">{name}</span>
                </th>
            }
        })
    };
    view! {
        <thead>
            <tr>
                {unseen(first)}
                {names.iter().map(|name| view! { <th scope="col">{*name}</th> }).collect_view()}
                {unseen(last)}
            </tr>
        </thead>
    }
}
