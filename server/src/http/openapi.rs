//! The OpenAPI 3.1 document of the REST API. Each area documents its handlers
//! (`#[utoipa::path]`) beside its routes; what every route shares is added here from the table of
//! rules the guard enforces, so the document says who may call exactly as the server decides it:
//! the credentials, the anti-forgery header, the refusals of the shared extractors.

use super::ApiError;
use super::access::{RouteRule, Routes, Rule};
use super::reference::{self, REFERENCE_URL, STYLE};
use app::api::{CSRF_HEADER, ErrorBody, SESSION_COOKIE};
use axum::extract::State;
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha256};
use std::sync::{Arc, OnceLock};
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, Required, SecurityRequirement, ServerBuilder};
use utoipa::{PartialSchema, ToSchema};

/// Where the document is served.
pub const OPENAPI_URL: &str = "/api/v1/openapi.json";

const SESSION: &str = "session";
const TOKEN: &str = "token";
const BASIC: &str = "basic";

/// The areas' documents completed from the route table: security, tags, the shared refusals and
/// the server below the path prefix `base`.
pub fn complete(mut doc: OpenApi, table: &[RouteRule], base: &str) -> OpenApi {
    doc.info.title = "Pharos REST API".into();
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    doc.info.description = Some(DESCRIPTION.replace("{csrf}", CSRF_HEADER));
    doc.servers = Some(vec![
        ServerBuilder::new()
            .url(if base.is_empty() { "/" } else { base })
            .description(Some("this server"))
            .build(),
    ]);
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        SESSION,
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            SESSION_COOKIE,
            "the session cookie set at sign-in (`POST /api/v1/auth/login`); state-changing \
             requests also send the anti-forgery header",
        ))),
    );
    components.add_security_scheme(
        TOKEN,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("pharos_…")
                .description(Some("an API token made with `POST /api/v1/auth/tokens`"))
                .build(),
        ),
    );
    components.add_security_scheme(
        BASIC,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Basic)
                .description(Some("an administrator's username and password"))
                .build(),
        ),
    );
    components
        .schemas
        .insert(ErrorBody::name().into_owned(), ErrorBody::schema());
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, operation) in operations(item) {
            let rule = table
                .iter()
                .find(|r| r.method == method && r.path == *path)
                .map(|r| r.rule);
            if let Some(rule) = rule {
                shared(operation, &method, rule);
            }
        }
    }
    doc
}

const DESCRIPTION: &str = "The REST API of Pharos. Every refusal answers \
`{\"errors\": [{\"field\", \"message\"}]}` with its status: a 422 lists every invalid field at \
once, and a refused request changes nothing.\n\n\
**Credentials.** Scripts send an API token as `Authorization: Bearer pharos_…` (make one with \
`POST /api/v1/auth/tokens` under HTTP Basic). The pages use the session cookie set at sign-in; \
with it, every request but GET and HEAD also sends the value of the `pharos_csrf` cookie in \
`{csrf}` (without it: 403). Each operation says which right it needs: an area's Read right for \
GET, its Write right for anything else.";

/// The operations of a path with their methods.
fn operations(item: &mut PathItem) -> Vec<(Method, &mut Operation)> {
    [
        (Method::GET, item.get.as_mut()),
        (Method::PUT, item.put.as_mut()),
        (Method::POST, item.post.as_mut()),
        (Method::DELETE, item.delete.as_mut()),
        (Method::PATCH, item.patch.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.map(|o| (method, o)))
    .collect()
}

/// Whatever the rule and the shared extractors add to one operation.
fn shared(operation: &mut Operation, method: &Method, rule: Rule) {
    let requirement = |name: &str| SecurityRequirement::new::<_, [&str; 0], &str>(name, []);
    let (security, who) = match rule {
        Rule::Public | Rule::Device => (None, "Anyone.".to_owned()),
        Rule::OwnCredentials => (
            Some(vec![
                requirement(BASIC),
                requirement(TOKEN),
                requirement(SESSION),
            ]),
            "An administrator, by HTTP Basic, a token or a session.".to_owned(),
        ),
        Rule::SignedIn => (
            Some(vec![requirement(TOKEN), requirement(SESSION)]),
            "Any signed-in administrator.".to_owned(),
        ),
        Rule::Area(area) => {
            let access = match rule.needs(method) {
                Some((_, app::model::Access::Read)) => "Read",
                _ => "Write",
            };
            (
                Some(vec![requirement(TOKEN), requirement(SESSION)]),
                format!("Needs the {access} right of {}.", area.label()),
            )
        }
    };
    if operation.tags.as_ref().is_none_or(Vec::is_empty) {
        let tag = match rule {
            Rule::Area(area) => area.label(),
            _ => "Sign-in and your account",
        };
        operation.tags = Some(vec![tag.to_owned()]);
    }
    operation.description = Some(match operation.description.take() {
        Some(text) if !text.is_empty() => format!("{text}\n\n{who}"),
        _ => who,
    });
    let has_body = operation.request_body.is_some();
    let has_parameters = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
    // credentials are checked wherever they are sent, on public operations too
    refusal(
        operation,
        401,
        if security.is_some() {
            "Not signed in, or the API token is unknown, revoked or expired."
        } else {
            "An API token was sent that is unknown, revoked or expired (this operation needs none)."
        },
    );
    if security.is_some() {
        refusal(
            operation,
            403,
            "The right this operation needs is missing (or, with a session, the anti-forgery header).",
        );
        refusal(
            operation,
            503,
            "The database cannot be reached at the moment; try again in a few seconds.",
        );
        if *method != Method::GET {
            operation.parameters.get_or_insert_with(Vec::new).push(
                ParameterBuilder::new()
                    .name(CSRF_HEADER)
                    .parameter_in(ParameterIn::Header)
                    .required(Required::False)
                    .description(Some(
                        "With the session cookie only: the value of the `pharos_csrf` cookie.",
                    ))
                    .schema(Some(String::schema()))
                    .build(),
            );
        }
    }
    operation.security = security;
    if has_body {
        refusal(
            operation,
            400,
            "The body is not JSON, or not of the expected shape.",
        );
        refusal(
            operation,
            413,
            "The body is larger than this operation accepts.",
        );
        refusal(
            operation,
            415,
            "The body was not sent as `application/json`.",
        );
    }
    if has_parameters {
        refusal(operation, 400, "A parameter does not parse.");
    }
}

/// Documents a refusal with the error body, unless the operation documents that status itself.
fn refusal(operation: &mut Operation, status: u16, description: &str) {
    operation
        .responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                        .build(),
                )
                .build()
                .into()
        });
}

/// The document and its reference page, made once the route table is known.
pub struct Published {
    json: String,
    page: String,
    policy: HeaderValue,
}

/// Filled in by [`publish`] right after the routes are put together.
pub type Publication = Arc<OnceLock<Published>>;

/// The document's route and the reference page's, both public: neither holds anything a
/// visitor could not read in the source.
pub fn routes(publication: Publication) -> Routes<()> {
    Routes::new(Rule::Public)
        .get(OPENAPI_URL, document)
        .get(REFERENCE_URL, reference_page)
        .with_state(publication)
}

/// Completes `doc` (see [`complete`]) and serves it from now on.
pub fn publish(publication: &Publication, doc: OpenApi, table: &[RouteRule], base: &str) {
    let doc = complete(doc, table, base);
    let value = serde_json::to_value(&doc).expect("a document serialises");
    // relative: the page is `<base>/api-reference`, the document `<base>/api/v1/openapi.json`
    let page = reference::page(&value, OPENAPI_URL.trim_start_matches('/'));
    let digest = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE));
    let policy = format!(
        "default-src 'none'; style-src 'sha256-{digest}'; frame-ancestors 'none'; \
         base-uri 'none'; form-action 'none'"
    );
    let _ = publication.set(Published {
        json: value.to_string(),
        page,
        policy: HeaderValue::from_str(&policy).expect("a header value"),
    });
}

/// This document.
#[utoipa::path(
    get,
    path = OPENAPI_URL,
    tag = "Reference",
    responses((status = 200, description = "The OpenAPI 3.1 document of the REST API", body = serde_json::Value))
)]
async fn document(State(publication): State<Publication>) -> Response {
    match publication.get() {
        Some(published) => (
            [(header::CONTENT_TYPE, "application/json")],
            published.json.clone(),
        )
            .into_response(),
        None => ApiError::Unavailable.into_response(),
    }
}

async fn reference_page(State(publication): State<Publication>) -> Response {
    match publication.get() {
        Some(published) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                ),
                (header::CONTENT_SECURITY_POLICY, published.policy.clone()),
            ],
            published.page.clone(),
        )
            .into_response(),
        None => ApiError::Unavailable.into_response(),
    }
}

/// The document of what is served here.
#[derive(utoipa::OpenApi)]
#[openapi(paths(document))]
pub struct Api;
