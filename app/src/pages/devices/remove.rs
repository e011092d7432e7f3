//! Removing a device, once the administrator confirmed it.

use super::Devices;
use crate::pages::Confirm;
use leptos::prelude::*;

#[component]
pub(super) fn ConfirmRemove(state: Devices) -> impl IntoView {
    move || {
        state.removing.get().map(|device| {
            let name = device.hostname.clone().map_or_else(
                || device.ip.clone(),
                |hostname| format!("{hostname} ({})", device.ip),
            );
            let remove = move |()| {
                state.removing.set(None);
                #[cfg(feature = "hydrate")]
                leptos::task::spawn_local(remove_device(state, device.clone()));
            };
            view! {
                <Confirm
                    id="remove-device"
                    title=format!("Remove {name}?")
                    text="Pharos stops managing it: no more online checks or jobs. A scan finds it again if it answers."
                    action="Remove"
                    on_confirm=Callback::new(remove)
                    on_cancel=Callback::new(move |()| state.removing.set(None))
                />
            }
        })
    }
}

#[cfg(feature = "hydrate")]
async fn remove_device(state: Devices, device: crate::api::Device) {
    use crate::components::Notice;
    let notice = match crate::client::discovery::remove_device(device.id).await {
        Ok(()) => Notice::Success(format!("{} was removed.", device.ip)),
        Err(refusal) => Notice::Error(format!("{} was not removed: {}", device.ip, refusal.text())),
    };
    state.notice.set(Some(notice));
    super::live::reread(state);
}
