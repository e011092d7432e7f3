//! `/api/v1/enrollment/…`: the enrollment keys (Certificates area: they let devices get
//! certificates of the device CA). `/.well-known/est/…`: the EST operations devices call, whose
//! answers and refusals are what EST clients expect (base64 PKCS#7, plain-text reasons).

use super::Est;
use super::{EnrollError, Refusal};
use crate::audit::Actor;
use crate::http::ClientAddr;
use crate::http::{ApiError, JsonBody, PathParam, Routes, Rule};
use app::api::{CreatedEnrollmentKey, ENROLLMENT_KEYS_URL, EnrollmentKeyList, NewEnrollmentKey};
use app::model::Area;
use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use axum_extra::{TypedHeader, typed_header::TypedHeaderRejection};
use headers::{Authorization, authorization::Basic};
use std::sync::Arc;

const SMALL: usize = 16 * 1024;
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
        .get(ENROLLMENT_KEYS_URL, list_keys)
        .post(ENROLLMENT_KEYS_URL, create_key)
        .delete(&format!("{ENROLLMENT_KEYS_URL}/{{id}}"), revoke_key)
}

async fn list_keys(State(est): Shared) -> Result<Json<EnrollmentKeyList>, ApiError> {
    Ok(Json(est.keys().await?))
}

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
fn certs_only(der: &[u8]) -> Response {
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
    Ok(certs_only(&der))
}

/// No attributes are asked of requests (RFC 7030 §4.5.2: 204).
async fn csrattrs() -> StatusCode {
    StatusCode::NO_CONTENT
}

async fn simpleenroll(
    State(est): Shared,
    ClientAddr(client): ClientAddr,
    credentials: Result<TypedHeader<Authorization<Basic>>, TypedHeaderRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, EstRefusal> {
    // none, or not Basic (a bearer token is no enrollment key)
    let Ok(TypedHeader(Authorization(basic))) = credentials else {
        return Err(EstRefusal(
            StatusCode::UNAUTHORIZED,
            "an enrollment key is needed: its id and secret as HTTP Basic user name and password"
                .into(),
        ));
    };
    let pkcs10 = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| m.type_() == mime::APPLICATION && m.subtype() == "pkcs10");
    if !pkcs10 {
        return Err(EstRefusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the certificate request as application/pkcs10 (base64 DER)".into(),
        ));
    }
    let source = client.map(|ip| ip.to_string());
    match est
        .simple_enroll(basic.username(), basic.password(), &body, source)
        .await
    {
        Ok(issued) => {
            let pkcs7 = super::csr::certs_only(&[issued.der]).map_err(internal)?;
            Ok(certs_only(&pkcs7))
        }
        Err(EnrollError::BadRequest(reason)) => Err(EstRefusal(StatusCode::BAD_REQUEST, reason)),
        Err(EnrollError::Key(Refusal::Unavailable)) => Err(internal("enrollment keys unreadable")),
        Err(EnrollError::Key(refusal @ Refusal::Unknown)) => {
            Err(EstRefusal(StatusCode::UNAUTHORIZED, refusal.to_string()))
        }
        Err(EnrollError::Key(refusal)) => {
            Err(EstRefusal(StatusCode::FORBIDDEN, refusal.to_string()))
        }
        Err(EnrollError::Internal(e)) => Err(internal(format!("{e:#}"))),
    }
}
