//! The API reference page: the OpenAPI document rendered on the server as one plain HTML page,
//! with nothing fetched from elsewhere and no script, so it works under a strict
//! Content-Security-Policy.

use serde_json::Value;
use std::fmt::Write;

/// Where the page is served (beside the pages, not under `/api/`).
pub const REFERENCE_URL: &str = "/api-reference";

/// The page's one style sheet, allowed by its hash in the page's policy.
pub const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;max-width:72rem;margin:0 auto;\
padding:1rem 2rem;color:#1d2430}h2{border-bottom:1px solid #ccd;margin-top:2.5rem}\
section{border:1px solid #dde;border-radius:6px;padding:.2rem 1rem;margin:1rem 0}\
.method{display:inline-block;min-width:4.5rem;font-weight:700}\
table{border-collapse:collapse}td,th{border:1px solid #dde;padding:.2rem .5rem;text-align:left;\
vertical-align:top}pre{background:#f4f5f8;padding:.5rem;overflow:auto}\
p.text{white-space:pre-wrap}";

const METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

/// The page of `doc` (an OpenAPI document as JSON); `json_url` links the document itself.
pub fn page(doc: &Value, json_url: &str) -> String {
    let title = text(&doc["info"]["title"]);
    let mut html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head><body><h1>{title} {version}</h1>\
         <p class=\"text\">{description}</p><p>The document: <a href=\"{json}\">{json}</a> \
         (OpenAPI {openapi}).</p>",
        version = text(&doc["info"]["version"]),
        description = text(&doc["info"]["description"]),
        json = escape(json_url),
        openapi = text(&doc["openapi"]),
    );
    let mut tags: Vec<String> = Vec::new();
    let mut by_tag: Vec<Vec<String>> = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let tag = operation["tags"][0].as_str().unwrap_or("Other").to_owned();
            let index = tags.iter().position(|t| *t == tag).unwrap_or_else(|| {
                tags.push(tag);
                by_tag.push(Vec::new());
                tags.len() - 1
            });
            by_tag[index].push(section(method, path, operation));
        }
    }
    html.push_str("<nav><ul>");
    for tag in &tags {
        let _ = write!(html, "<li><a href=\"#{0}\">{0}</a></li>", anchor(tag));
    }
    html.push_str("<li><a href=\"#schemas\">Schemas</a></li></ul></nav>");
    for (tag, sections) in tags.iter().zip(by_tag) {
        let _ = write!(html, "<h2 id=\"{}\">{}</h2>", anchor(tag), escape(tag));
        html.extend(sections);
    }
    html.push_str("<h2 id=\"schemas\">Schemas</h2>");
    for (name, schema) in doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
    {
        let pretty = serde_json::to_string_pretty(schema).unwrap_or_default();
        let _ = write!(
            html,
            "<h3 id=\"schema-{0}\">{0}</h3><pre>{1}</pre>",
            escape(name),
            escape(&pretty)
        );
    }
    html.push_str("</body></html>");
    html
}

fn section(method: &str, path: &str, operation: &Value) -> String {
    let mut html = format!(
        "<section><h3><span class=\"method\">{}</span> <code>{}</code></h3><p>{}</p>\
         <p class=\"text\">{}</p>",
        method.to_uppercase(),
        escape(path),
        text(&operation["summary"]),
        text(&operation["description"]),
    );
    if let Some(parameters) = operation["parameters"].as_array() {
        html.push_str("<table><tr><th>Parameter</th><th>In</th><th>Type</th><th></th></tr>");
        for p in parameters {
            let _ = write!(
                html,
                "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                text(&p["name"]),
                if p["required"] == true {
                    " (required)"
                } else {
                    ""
                },
                text(&p["in"]),
                schema(&p["schema"]),
                text(&p["description"]),
            );
        }
        html.push_str("</table>");
    }
    if let Some(content) = operation["requestBody"]["content"].as_object() {
        for (media, body) in content {
            let _ = write!(
                html,
                "<p>Body (<code>{}</code>): {}</p>",
                escape(media),
                schema(&body["schema"])
            );
        }
    }
    html.push_str("<table><tr><th>Status</th><th>Answer</th><th>Body</th></tr>");
    for (status, response) in operation["responses"].as_object().into_iter().flatten() {
        let bodies: Vec<String> = response["content"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(media, body)| {
                format!("<code>{}</code> {}", escape(media), schema(&body["schema"]))
            })
            .collect();
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(status),
            text(&response["description"]),
            bodies.join("<br>")
        );
    }
    html.push_str("</table></section>");
    html
}

/// A schema in a few words, a link where it names a component.
fn schema(schema: &Value) -> String {
    if let Some(name) = schema["$ref"].as_str().and_then(|r| r.rsplit('/').next()) {
        return format!("<a href=\"#schema-{0}\">{0}</a>", escape(name));
    }
    if let Some(options) = schema["oneOf"].as_array() {
        let options: Vec<String> = options.iter().map(self::schema).collect();
        return options.join(" or ");
    }
    match &schema["type"] {
        Value::String(t) if t == "array" => format!("array of {}", self::schema(&schema["items"])),
        Value::String(t) => escape(t),
        Value::Array(types) => escape(
            &types
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" or "),
        ),
        _ => format!("<code>{}</code>", escape(&schema.to_string())),
    }
}

fn text(value: &Value) -> String {
    escape(value.as_str().unwrap_or(""))
}

fn anchor(tag: &str) -> String {
    tag.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
