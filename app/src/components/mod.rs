//! Components the pages are built from.

#[cfg(feature = "hydrate")]
mod clipboard;
mod confirm;
mod dialog;
mod draft;
mod fields;
mod form;
mod heading;
mod me;
mod notice;
mod page_data;
mod page_source;
#[cfg(feature = "hydrate")]
mod rereads;
mod table;

#[cfg(feature = "hydrate")]
pub use clipboard::copy_to_clipboard;
pub use confirm::{ConfirmRemoval, RemoveButton};
pub use dialog::{Dialog, focus_on_open};
pub use draft::Draft;
pub use fields::{
    Checkbox, DialogField, FieldError, NumberField, ReplyPortField, TextField, focus, parse_number,
};
pub use form::{
    FieldMessage, FormErrors, FormText, RANGES_HINT, RangesField, SendActions, Sending,
};
pub use heading::DiscoveryHeading;
pub use me::{may_read, may_write, provide_me, use_me};
pub use notice::{Notice, NoticeArea, ReadOnlyNotice};
pub use page_data::{Loadable, WithPageData};
pub use page_source::{PageSource, page_resource, with_data};
#[cfg(feature = "hydrate")]
pub use rereads::Rereads;
pub use table::ColumnHeads;
