//! Components the pages are built from.

mod dialog;
mod draft;
mod fields;
mod notice;
mod page_data;

pub use dialog::Dialog;
pub use draft::Draft;
pub use fields::{
    Checkbox, DialogField, FieldError, NumberField, ReplyPortField, TextField, focus, parse_number,
};
pub use notice::{Notice, NoticeArea};
pub use page_data::{Loadable, WithPageData};
