//! Servers sharing one database: who they are, their heartbeats, and the change bus through which
//! they (and this server's pages) learn about each other's changes.

pub mod bus;
pub mod events;
pub mod identity;
pub mod messages;
pub mod registry;

pub use bus::{Bus, Remote, Topic};
pub use identity::{DataDirLock, Identity, lock_data_dir};
pub use registry::Registry;
