//! Removing a device, once the administrator confirmed it.

use super::Devices;
use crate::api::Device;

pub(super) fn remove(state: Devices, device: Device) {
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(async move {
        use crate::components::Notice;
        use leptos::prelude::Set as _;
        let notice = match crate::client::discovery::remove_device(device.id).await {
            Ok(()) => Notice::Success(format!("{} was removed.", device.ip)),
            Err(refusal) => {
                Notice::Error(format!("{} was not removed: {}", device.ip, refusal.text()))
            }
        };
        state.notice.try_set(Some(notice));
        super::live::reread(state);
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (state, device);
}
