use crate::api::ServerStatus;
use crate::components::Draft;
use crate::model::{RequestKind, device_endpoint};
use leptos::prelude::*;

/// Where devices will send each kind of request, following the form as it is edited.
#[component]
pub(super) fn Preview(draft: Draft, status: RwSignal<ServerStatus>) -> impl IntoView {
    let rows = move || {
        let own = status.with(|s| s.device_address.clone());
        draft.settings.with(|d| {
            RequestKind::ALL
                .into_iter()
                .map(|kind| {
                    let e = device_endpoint(d, &own, kind);
                    view! {
                        <tr>
                            <th scope="row">{kind.label()}</th>
                            <td>
                                <code>{e.target}</code>
                            </td>
                            <td>{e.source.label()}</td>
                        </tr>
                    }
                })
                .collect_view()
        })
    };
    view! {
        <section aria-labelledby="preview-title" class="preview">
            <h2 id="preview-title">"Addresses devices will use"</h2>
            <p class="help">"Follows the form as you edit it, before saving."</p>
            <table>
                <thead>
                    <tr>
                        <th scope="col">"Request"</th>
                        <th scope="col">"Address"</th>
                        <th scope="col">"From"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    }
}
