//! The signed-in administrator, known to every page: the server puts them on the request, the
//! page hands them to the browser.

use crate::api::Me;
use crate::model::Area;
use leptos::prelude::*;

/// Provides the signed-in administrator (none on the sign-in page) as context.
pub fn provide_me() {
    let me = SharedValue::new(me_on_server).into_inner();
    provide_context(SignedIn(me));
}

#[derive(Clone, Debug)]
struct SignedIn(Option<Me>);

#[cfg(feature = "ssr")]
fn me_on_server() -> Option<Me> {
    use_context::<http::request::Parts>()?
        .extensions
        .get::<Me>()
        .cloned()
}

#[cfg(not(feature = "ssr"))]
fn me_on_server() -> Option<Me> {
    None
}

/// The signed-in administrator, if any.
pub fn use_me() -> Option<Me> {
    use_context::<SignedIn>().and_then(|s| s.0)
}

/// Whether the signed-in administrator may change `area` (pages disable their controls if not).
pub fn may_write(area: Area) -> bool {
    use_me().is_some_and(|me| me.can_write(area))
}

/// Whether the signed-in administrator may read `area`.
pub fn may_read(area: Area) -> bool {
    use_me().is_some_and(|me| me.can_read(area))
}
