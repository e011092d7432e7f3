//! One module per page.

mod home;
mod network_settings;
mod not_found;

pub use home::Home;
pub use network_settings::NetworkSettingsPage;
pub use not_found::NotFound;
