//! `/api/v1/enrollment/…`: the enrollment keys and the devices' certificates (Certificates area:
//! they let devices get certificates of the device CA). `/.well-known/est/…`: the EST operations
//! devices call, whose answers and refusals are what EST clients expect (base64 PKCS#7,
//! plain-text reasons). `/device-ca.crl` for proxies, `/device/v1/whoami` for devices.

use super::Est;
use super::{DeviceRefusal, EnrollError, Refusal};
use crate::audit::Actor;
use crate::http::{ApiError, Caller, JsonBody, PathParam, Routes, Rule};
use crate::http::{ClientAddr, body::is_length_limit};
use app::api::{
    CreatedEnrollmentKey, DEVICE_CERTIFICATES_URL, DEVICE_CRL_URL, DeviceCertificate,
    DeviceCertificateList, DeviceIdentity, ENROLLMENT_KEYS_URL, EnrollmentKeyList, ErrorBody,
    NewEnrollmentKey, WHOAMI_URL,
};
use app::model::Area;
use axum::{
    Extension, Json,
    body::Bytes,
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use axum_extra::{TypedHeader, typed_header::TypedHeaderRejection};
use headers::{Authorization, authorization::Basic};
use std::sync::Arc;

const SMALL: usize = 16 * 1024;
/// The largest certificate request accepted (an RSA 8192 request in base64 is about 2 KiB).
const CSR_LIMIT: usize = 32 * 1024;
type Shared = State<Arc<Est>>;

/// Where EST lives: stock clients hard-code it.
pub const EST: &str = "/.well-known/est";

pub fn routes() -> Routes<Arc<Est>> {
    Routes::new(Rule::Area(Area::Certificates))
        .with_rule(
            Method::GET,
            &format!("{EST}/cacerts"),
            Rule::Public,
            cacerts,
        )
        .with_rule(
            Method::GET,
            &format!("{EST}/csrattrs"),
            Rule::Public,
            csrattrs,
        )
        .with_rule(
            Method::POST,
            &format!("{EST}/simpleenroll"),
            Rule::OwnCredentials,
            simpleenroll,
        )
        .with_rule(
            Method::POST,
            &format!("{EST}/simplereenroll"),
            Rule::Device,
            simplereenroll,
        )
        .with_rule(Method::GET, DEVICE_CRL_URL, Rule::Public, crl)
        .with_rule(Method::GET, WHOAMI_URL, Rule::Device, whoami)
        .get(ENROLLMENT_KEYS_URL, list_keys)
        .post(ENROLLMENT_KEYS_URL, create_key)
        .delete(&format!("{ENROLLMENT_KEYS_URL}/{{id}}"), revoke_key)
        .get(DEVICE_CERTIFICATES_URL, list_certificates)
        .post(
            &format!("{DEVICE_CERTIFICATES_URL}/{{serial}}/revoke"),
            revoke_certificate,
        )
}

/// The device certificates issued.
#[utoipa::path(get, path = DEVICE_CERTIFICATES_URL, responses((status = 200, description = "The certificates", body = DeviceCertificateList)))]
async fn list_certificates(State(est): Shared) -> Result<Json<DeviceCertificateList>, ApiError> {
    Ok(Json(est.device_certificates().await?))
}

/// Revokes a device certificate and every certificate that renewed it.
#[utoipa::path(post, path = "/api/v1/enrollment/certificates/{serial}/revoke",
    params(("serial" = String, Path, description = "The serial number, hex")),
    responses(
        (status = 200, description = "The revoked certificate", body = DeviceCertificate),
        (status = 404, description = "No such certificate", body = ErrorBody),
        (status = 409, description = "It is revoked already", body = ErrorBody),
    ))]
async fn revoke_certificate(
    State(est): Shared,
    actor: Actor,
    PathParam(serial): PathParam<String>,
) -> Result<Json<DeviceCertificate>, ApiError> {
    Ok(Json(est.revoke_certificate(&actor, &serial).await?))
}

/// The device CA's CRL, DER (`ssl_crl` wants PEM: `openssl crl -inform DER` converts).
async fn crl(State(est): Shared) -> Result<Response, EstRefusal> {
    let der = est.crl().await.map_err(internal)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pkix-crl"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        der,
    )
        .into_response())
}

/// A device certificate refusal as devices see it.
fn device_refusal(refusal: DeviceRefusal) -> EstRefusal {
    match refusal {
        DeviceRefusal::Unavailable => internal("device certificates unreadable"),
        refusal @ DeviceRefusal::None => EstRefusal(StatusCode::UNAUTHORIZED, refusal.to_string()),
        refusal => EstRefusal(StatusCode::FORBIDDEN, refusal.to_string()),
    }
}

async fn whoami(
    State(est): Shared,
    Extension(caller): Extension<Caller>,
) -> Result<Json<DeviceIdentity>, EstRefusal> {
    let device = est.device(&caller).await.map_err(device_refusal)?;
    Ok(Json(DeviceIdentity {
        subject: device.subject,
        serial: device.serial,
        not_after: crate::db::rfc3339(device.not_after),
        device_id: device.device_id,
        via: device.via,
    }))
}

/// The body of `simpleenroll` and `simplereenroll`, read (at most [`CSR_LIMIT`] bytes) before
/// anything is refused: an HTTP/2 client whose request body was left unread sees a broken
/// stream, not the refusal. `Err` when it is not `application/pkcs10`.
struct Pkcs10(Result<Bytes, EstRefusal>);

async fn pkcs10(request: Request) -> Result<Pkcs10, EstRefusal> {
    let pkcs10 = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| m.type_() == mime::APPLICATION && m.subtype() == "pkcs10");
    let body = axum::body::to_bytes(request.into_body(), CSR_LIMIT)
        .await
        .map_err(|e| {
            if is_length_limit(&e) {
                EstRefusal(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("a certificate request is at most {CSR_LIMIT} bytes"),
                )
            } else {
                EstRefusal(
                    StatusCode::BAD_REQUEST,
                    format!("the request could not be read: {e}"),
                )
            }
        })?;
    Ok(Pkcs10(if pkcs10 {
        Ok(body)
    } else {
        Err(EstRefusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the certificate request as application/pkcs10 (base64 DER)".into(),
        ))
    }))
}

fn issued(result: Result<super::Issued, EnrollError>) -> Result<Response, EstRefusal> {
    match result {
        Ok(issued) => {
            let pkcs7 = super::csr::certs_only(&[issued.der]).map_err(internal)?;
            Ok(pkcs7_answer(&pkcs7))
        }
        Err(EnrollError::BadRequest(reason)) => Err(EstRefusal(StatusCode::BAD_REQUEST, reason)),
        Err(EnrollError::Key(Refusal::Unavailable)) => Err(internal("enrollment keys unreadable")),
        Err(EnrollError::Key(refusal @ Refusal::Unknown)) => {
            Err(EstRefusal(StatusCode::UNAUTHORIZED, refusal.to_string()))
        }
        Err(EnrollError::Key(refusal)) => {
            Err(EstRefusal(StatusCode::FORBIDDEN, refusal.to_string()))
        }
        Err(EnrollError::Device(refusal)) => Err(device_refusal(refusal)),
        Err(EnrollError::Internal(e)) => Err(internal(format!("{e:#}"))),
    }
}

/// Re-enrollment, by the device's current certificate (RFC 7030 §4.2.2).
async fn simplereenroll(
    State(est): Shared,
    ClientAddr(client): ClientAddr,
    Extension(caller): Extension<Caller>,
    request: Request,
) -> Result<Response, EstRefusal> {
    let source = client.map(|ip| ip.to_string());
    let read = pkcs10(request).await;
    let device = est.device(&caller).await.map_err(device_refusal)?;
    let body = match read.and_then(|Pkcs10(body)| body) {
        Ok(body) => body,
        Err(refusal) => {
            let who = Some(device.subject.as_str());
            est.refused("re-enrollment refused", who, &source, &refusal.1)
                .await;
            return Err(refusal);
        }
    };
    issued(est.simple_reenroll(&device, &body, source).await)
}

/// The enrollment keys (never their secrets) and their states.
#[utoipa::path(get, path = ENROLLMENT_KEYS_URL, responses((status = 200, description = "The keys", body = EnrollmentKeyList)))]
async fn list_keys(State(est): Shared) -> Result<Json<EnrollmentKeyList>, ApiError> {
    Ok(Json(est.keys().await?))
}

/// A key devices enroll with; its secret is shown this once.
#[utoipa::path(post, path = ENROLLMENT_KEYS_URL, request_body = NewEnrollmentKey,
    responses(
        (status = 201, description = "The key with its secret", body = CreatedEnrollmentKey),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    ))]
async fn create_key(
    State(est): Shared,
    actor: Actor,
    JsonBody(request): JsonBody<NewEnrollmentKey, SMALL>,
) -> Result<(StatusCode, Json<CreatedEnrollmentKey>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(est.create_key(&actor, request).await?),
    ))
}

/// Revokes an enrollment key.
#[utoipa::path(delete, path = "/api/v1/enrollment/keys/{id}", params(("id" = String, Path, description = "The key's id")),
    responses((status = 204, description = "Revoked"), (status = 404, description = "No such key", body = ErrorBody)))]
async fn revoke_key(
    State(est): Shared,
    actor: Actor,
    PathParam(id): PathParam<String>,
) -> Result<StatusCode, ApiError> {
    est.revoke_key(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A refusal as EST clients show it: a status and a sentence.
struct EstRefusal(StatusCode, String);

impl IntoResponse for EstRefusal {
    fn into_response(self) -> Response {
        let mut response = (self.0, format!("{}\n", self.1)).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Pharos EST\""),
            );
        }
        response
    }
}

/// Certificates as EST carries them: certs-only PKCS#7 in base64.
fn pkcs7_answer(der: &[u8]) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pkcs7-mime; smime-type=certs-only"),
            ),
            (
                header::HeaderName::from_static("content-transfer-encoding"),
                HeaderValue::from_static("base64"),
            ),
        ],
        super::csr::base64_lines(der),
    )
        .into_response()
}

fn internal(e: impl std::fmt::Display) -> EstRefusal {
    tracing::error!(error = %e, "EST request failed");
    EstRefusal(StatusCode::INTERNAL_SERVER_ERROR, "internal error".into())
}

async fn cacerts(State(est): Shared) -> Result<Response, EstRefusal> {
    let der = est.ca_certs().await.map_err(internal)?;
    Ok(pkcs7_answer(&der))
}

/// No attributes are asked of requests (RFC 7030 §4.5.2: 204).
async fn csrattrs() -> StatusCode {
    StatusCode::NO_CONTENT
}

async fn simpleenroll(
    State(est): Shared,
    ClientAddr(client): ClientAddr,
    credentials: Result<TypedHeader<Authorization<Basic>>, TypedHeaderRejection>,
    request: Request,
) -> Result<Response, EstRefusal> {
    let source = client.map(|ip| ip.to_string());
    let read = async {
        let Pkcs10(body) = pkcs10(request).await?;
        // none, or not Basic (a bearer token is no enrollment key)
        let Ok(TypedHeader(Authorization(basic))) = credentials else {
            return Err(EstRefusal(
                StatusCode::UNAUTHORIZED,
                "an enrollment key is needed: its id and secret as HTTP Basic user name and \
                 password"
                    .into(),
            ));
        };
        Ok((basic, body?))
    };
    let (basic, body) = match read.await {
        Ok(read) => read,
        Err(refusal) => {
            est.refused("enrollment refused", None, &source, &refusal.1)
                .await;
            return Err(refusal);
        }
    };
    issued(
        est.simple_enroll(basic.username(), basic.password(), &body, source)
            .await,
    )
}

/// The document of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list_certificates,
    revoke_certificate,
    list_keys,
    create_key,
    revoke_key
))]
pub struct Api;
