//! `/api/v1/certificates/…` and the anonymous `/ca.pem`.

use super::Tls;
use crate::audit::Actor;
use crate::http::{ApiError, JsonBody, PathParam, Routes, Rule};
use app::api::{
    Assign, CA_PEM_URL, CLIENT_CHAIN_URL, ClusterCheck, Created, ErrorBody, ExportFormat,
    ExportKey, NewRoot, NewSigned, WEB_CERTIFICATES_URL, WEB_CHECK_URL, WEB_ROOTS_URL,
    WEB_SIGNED_URL, WebCertificates,
};
use app::model::Area;
use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
    http::{HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use std::sync::Arc;

/// A PKCS#12 upload in base64 is the largest body: a chain of a few RSA 4096 certificates.
const IMPORT_LIMIT: usize = 256 * 1024;
const SMALL: usize = 16 * 1024;
type Shared = State<Arc<Tls>>;

pub fn routes() -> Routes<Arc<Tls>> {
    let one = format!("{WEB_CERTIFICATES_URL}/{{fp}}");
    Routes::new(Rule::Area(Area::Certificates))
        .with_rule(Method::GET, CA_PEM_URL, Rule::Public, ca_pem)
        // both belong to the Server Network Settings page
        .with_rule(
            Method::GET,
            WEB_CHECK_URL,
            Rule::Area(Area::NetworkSettings),
            check,
        )
        .with_rule(
            Method::GET,
            CLIENT_CHAIN_URL,
            Rule::Area(Area::NetworkSettings),
            client_chain,
        )
        .get(WEB_CERTIFICATES_URL, list)
        .post(WEB_ROOTS_URL, create_root)
        .post(WEB_SIGNED_URL, create_signed)
        .delete(&one, delete)
        .post(&format!("{one}/assign"), assign)
        .post(&format!("{one}/renew"), renew)
        .get(&format!("{one}/export"), export)
        .post(&format!("{one}/export"), export_key)
}

fn download(body: Vec<u8>, media_type: &'static str, file_name: &str) -> Response {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(media_type)),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

/// The web root of what this server presents, for a browser or proxy to trust.
#[utoipa::path(get, path = CA_PEM_URL,
    responses((status = 200, description = "The root, PEM", content_type = "application/x-pem-file", body = String)))]
async fn ca_pem(State(tls): Shared) -> Response {
    download(
        tls.ca_pem().into_bytes(),
        "application/x-pem-file",
        "pharos-root-ca.pem",
    )
}

/// Whether every server presents one certificate naming the cluster address and all of them.
#[utoipa::path(get, path = WEB_CHECK_URL, responses((status = 200, description = "The findings", body = ClusterCheck)))]
async fn check(State(tls): Shared) -> Result<Json<ClusterCheck>, ApiError> {
    Ok(Json(tls.check().await?))
}

/// The device CA's chain, for a proxy that checks device certificates.
#[utoipa::path(get, path = CLIENT_CHAIN_URL,
    responses((status = 200, description = "The chain, PEM", content_type = "application/x-pem-file", body = String)))]
async fn client_chain(State(tls): Shared) -> Result<Response, ApiError> {
    let pem = tls.client_chain().await?;
    Ok(download(
        pem.into_bytes(),
        "application/x-pem-file",
        "pharos-client-ca-chain.pem",
    ))
}

/// The web certificates.
#[utoipa::path(get, path = WEB_CERTIFICATES_URL, responses((status = 200, description = "The certificates", body = WebCertificates)))]
async fn list(State(tls): Shared) -> Result<Json<WebCertificates>, ApiError> {
    Ok(Json(tls.list().await?))
}

fn created(fingerprint: String) -> (StatusCode, Json<Created>) {
    (
        StatusCode::CREATED,
        Json(Created {
            fingerprint_sha256: fingerprint,
        }),
    )
}

/// Generates a root or intermediate CA, or imports a certificate with its key.
#[utoipa::path(post, path = WEB_ROOTS_URL, request_body = NewRoot,
    responses((status = 201, description = "The new certificate", body = Created), (status = 409, description = "The request clashes with the stored certificates", body = ErrorBody), (status = 422, description = "Invalid fields, or a request the certificates do not allow", body = ErrorBody),))]
async fn create_root(
    State(tls): Shared,
    actor: Actor,
    JsonBody(request): JsonBody<NewRoot, IMPORT_LIMIT>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    Ok(created(tls.create_root(&actor, request).await?))
}

/// Issues a server certificate from a CA of the list.
#[utoipa::path(post, path = WEB_SIGNED_URL, request_body = NewSigned,
    responses((status = 201, description = "The new certificate", body = Created), (status = 404, description = "No such certificate", body = ErrorBody), (status = 422, description = "Invalid fields, or a request the certificates do not allow", body = ErrorBody),))]
async fn create_signed(
    State(tls): Shared,
    actor: Actor,
    JsonBody(request): JsonBody<NewSigned, SMALL>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    Ok(created(tls.create_signed(&actor, request).await?))
}

/// Makes servers present a certificate.
#[utoipa::path(post, path = "/api/v1/certificates/web/{fp}/assign", params(("fp" = String, Path, description = "The certificate's SHA-256 fingerprint, hex")), request_body = Assign,
    responses((status = 204, description = "Assigned"), (status = 404, description = "No such certificate", body = ErrorBody), (status = 409, description = "The request clashes with the stored certificates", body = ErrorBody), (status = 422, description = "Invalid fields, or a request the certificates do not allow", body = ErrorBody),))]
async fn assign(
    State(tls): Shared,
    actor: Actor,
    PathParam(fp): PathParam<String>,
    JsonBody(request): JsonBody<Assign, SMALL>,
) -> Result<StatusCode, ApiError> {
    tls.assign(&actor, &fp, &request.servers).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The same subject and names, valid from now for as long as before.
#[utoipa::path(post, path = "/api/v1/certificates/web/{fp}/renew", params(("fp" = String, Path, description = "The certificate's SHA-256 fingerprint, hex")),
    responses((status = 201, description = "The new certificate", body = Created), (status = 404, description = "No such certificate", body = ErrorBody), (status = 422, description = "Invalid fields, or a request the certificates do not allow", body = ErrorBody),))]
async fn renew(
    State(tls): Shared,
    actor: Actor,
    PathParam(fp): PathParam<String>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    Ok(created(tls.renew(&actor, &fp).await?))
}

/// Deletes a certificate that is neither assigned nor issued others of the list.
#[utoipa::path(delete, path = "/api/v1/certificates/web/{fp}", params(("fp" = String, Path, description = "The certificate's SHA-256 fingerprint, hex")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such certificate", body = ErrorBody), (status = 409, description = "The request clashes with the stored certificates", body = ErrorBody),))]
async fn delete(
    State(tls): Shared,
    actor: Actor,
    PathParam(fp): PathParam<String>,
) -> Result<StatusCode, ApiError> {
    tls.delete(&actor, &fp).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Deserialize)]
struct FormatQuery {
    format: ExportFormat,
}

/// The certificate (`pem`, `der`) or its chain (`chain`), as a download.
#[utoipa::path(get, path = "/api/v1/certificates/web/{fp}/export",
    params(("fp" = String, Path, description = "The certificate's SHA-256 fingerprint, hex"),
        ("format" = ExportFormat, Query, description = "pem, der or chain")),
    responses(
        (status = 200, description = "The download",
            content((String = "application/x-pem-file"), (Vec<u8> = "application/pkix-cert"))), (status = 404, description = "No such certificate", body = ErrorBody),
    ))]
async fn export(
    State(tls): Shared,
    PathParam(fp): PathParam<String>,
    query: Result<Query<FormatQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|_| {
        ApiError::BadRequest(
            "say which format: ?format=pem, der or chain (PKCS#12 with its key: POST with a \
             password)"
                .into(),
        )
    })?;
    let (body, media_type, name) = tls.export(&fp, query.format).await?;
    Ok(download(body, media_type, &name))
}

/// The certificate, its chain and its key as PKCS#12 under a password (audited).
#[utoipa::path(post, path = "/api/v1/certificates/web/{fp}/export", params(("fp" = String, Path, description = "The certificate's SHA-256 fingerprint, hex")), request_body = ExportKey,
    responses(
        (status = 200, description = "The PKCS#12 file", content_type = "application/x-pkcs12", body = Vec<u8>), (status = 404, description = "No such certificate", body = ErrorBody), (status = 422, description = "Invalid fields, or a request the certificates do not allow", body = ErrorBody),
    ))]
async fn export_key(
    State(tls): Shared,
    actor: Actor,
    PathParam(fp): PathParam<String>,
    JsonBody(request): JsonBody<ExportKey, SMALL>,
) -> Result<Response, ApiError> {
    if request.format != "p12" {
        return Err(ApiError::Invalid(vec![app::model::FieldError::new(
            "format",
            "only \"p12\" exports the key; GET …/export?format=pem|der|chain exports certificates",
        )]));
    }
    let (body, name) = tls.export_p12(&actor, &fp, request.password).await?;
    Ok(download(body, "application/x-pkcs12", &name))
}

/// The document of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    components(schemas(ExportFormat)),
    paths(
        ca_pem,
        check,
        client_chain,
        list,
        create_root,
        create_signed,
        assign,
        renew,
        delete,
        export,
        export_key
    )
)]
pub struct Api;
