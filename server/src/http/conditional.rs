//! Entity tags and conditional requests (RFC 9110).
//!
//! A resource has one tag per version. Pharos compresses some responses itself; a compressed
//! response is another representation and gets its own strong tag, the version's tag with
//! `-<encoding>` appended (see [`tag_encoded`]). Preconditions accept either form, since both name
//! the same stored version. `If-None-Match` compares weakly, so a tag a proxy weakened (`W/"…"`)
//! still gets a 304; `If-Match` compares strongly, as a write needs the exact version.

use axum::http::{HeaderValue, header};
use axum::response::Response;
use headers::{ETag, IfMatch, IfNoneMatch};

/// The encodings Pharos's own compression produces (see `http::layers::compression`).
pub const ENCODINGS: [&str; 1] = ["gzip"];

/// The header value of a version's tag (an opaque token of ASCII letters, digits, `.` and `-`).
pub fn etag_value(tag: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{tag}\"")).expect("entity tags are ASCII")
}

/// The tag of each representation of one version.
fn representations(tag: &str) -> impl Iterator<Item = ETag> + '_ {
    std::iter::once(tag.to_owned())
        .chain(ENCODINGS.iter().map(move |e| format!("{tag}-{e}")))
        .filter_map(|t| format!("\"{t}\"").parse().ok())
}

/// Whether the client already has this version (answer 304).
pub fn not_modified(if_none_match: &IfNoneMatch, tag: &str) -> bool {
    representations(tag).any(|etag| !if_none_match.precondition_passes(&etag))
}

/// Whether `If-Match` names this version (or is `*`).
pub fn matches(if_match: &IfMatch, tag: &str) -> bool {
    representations(tag).any(|etag| if_match.precondition_passes(&etag))
}

/// Gives a response that Pharos compressed a tag of its own (`"3.7"` → `"3.7-gzip"`).
pub fn tag_encoded(mut response: Response) -> Response {
    let Some(encoding) = response
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return response;
    };
    let retagged = response
        .headers()
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix('"')?.strip_suffix('"'))
        .map(|tag| etag_value(&format!("{tag}-{encoding}")));
    if let Some(value) = retagged {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use headers::HeaderMapExt;

    fn typed<H: headers::Header>(value: &str) -> H {
        let mut map = axum::http::HeaderMap::new();
        map.insert(H::name(), HeaderValue::from_str(value).unwrap());
        map.typed_get().expect("parses")
    }

    #[test]
    fn if_none_match_is_weak_and_knows_the_encoded_tag() {
        for header in [
            "\"a.3\"",
            "W/\"a.3\"",
            "\"a.3-gzip\"",
            "W/\"a.3-gzip\"",
            "\"x\", \"a.3\"",
            "*",
        ] {
            assert!(not_modified(&typed(header), "a.3"), "{header}");
        }
        for header in ["\"a.4\"", "W/\"a.4\"", "\"b.3\"", "\"a.3-br\""] {
            assert!(!not_modified(&typed(header), "a.3"), "{header}");
        }
    }

    #[test]
    fn if_match_is_strong_and_knows_the_encoded_tag() {
        for header in ["\"a.3\"", "\"a.3-gzip\"", "\"x\", \"a.3\"", "*"] {
            assert!(matches(&typed(header), "a.3"), "{header}");
        }
        for header in ["W/\"a.3\"", "\"a.4\"", "\"a.3x\""] {
            assert!(!matches(&typed(header), "a.3"), "{header}");
        }
    }
}
