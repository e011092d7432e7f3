//! Shared parts of the HTTP side: errors, request bodies, conditional requests, the client's
//! address and the layers around every route. Areas build their routes on these.

pub mod access;
pub mod auth;
pub mod body;
pub mod client;
pub mod conditional;
mod error;
pub mod layers;
pub mod openapi;
mod path;
pub mod reference;

pub use access::{RouteRule, Routes, Rule};
pub use auth::Caller;
pub use body::{JsonBody, JsonValue, SETTINGS_BODY_LIMIT};
pub use client::ClientAddr;
pub use error::ApiError;
pub use path::PathParam;
