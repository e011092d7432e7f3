//! Copying a secret shown once (an API token, an enrollment key) to the clipboard.

use leptos::prelude::*;

/// Copies `text`, and says in `copied` what came of it.
pub async fn copy_to_clipboard(text: String, copied: RwSignal<Option<&'static str>>) {
    let clipboard = window().navigator().clipboard();
    // pages served over plain HTTP (but for localhost) have no clipboard
    let written = if AsRef::<leptos::wasm_bindgen::JsValue>::as_ref(&clipboard).is_undefined() {
        false
    } else {
        wasm_bindgen_futures::JsFuture::from(clipboard.write_text(&text))
            .await
            .is_ok()
    };
    copied.try_set(Some(if written {
        "Copied."
    } else {
        "The browser did not allow copying: select the text and copy it with the keyboard."
    }));
}
