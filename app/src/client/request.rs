//! Requests to this Pharos server. The API's paths are declared from the site's root; here, the
//! one place the browser's requests are built, they get the path prefix Pharos is served under.

use gloo_net::http::{Method, RequestBuilder};

fn to(method: Method, path: &str) -> RequestBuilder {
    RequestBuilder::new(&crate::url(path)).method(method)
}

pub fn get(path: &str) -> RequestBuilder {
    to(Method::GET, path)
}

pub fn post(path: &str) -> RequestBuilder {
    to(Method::POST, path)
}

pub fn put(path: &str) -> RequestBuilder {
    to(Method::PUT, path)
}

pub fn patch(path: &str) -> RequestBuilder {
    to(Method::PATCH, path)
}

pub fn delete(path: &str) -> RequestBuilder {
    to(Method::DELETE, path)
}
