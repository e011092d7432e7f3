//! Who sent a request. In front of every route, [`identify`] works out the client's address
//! (through trusted proxies only), the signed-in administrator (a session cookie or a bearer
//! token) and, for a browser session's state-changing requests, checks the anti-forgery token.
//! The areas' guard ([`super::access`]) then decides with what it found.

use super::ApiError;
use app::api::{CSRF_HEADER, LOGIN_PAGE, Me, PresentedVia, SESSION_COOKIE};
use app::model::Access;
use axum::{
    extract::{ConnectInfo, OriginalUri, Request, State},
    http::{HeaderMap, Method, StatusCode, header},
    middleware::Next,
    response::{Html, IntoResponse, Redirect, Response},
};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// How a signed-in administrator proved who they are. (`Debug` shows neither digest nor token.)
#[derive(Clone)]
pub enum Via {
    /// A browser session: its id's digest, and the token its state-changing requests must send.
    Session { digest: String, csrf: String },
    /// An API token: its id and digest.
    Token { id: i64, digest: String },
}

impl std::fmt::Debug for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Via::Session { .. } => f.write_str("Session"),
            Via::Token { id, .. } => write!(f, "Token({id})"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct SignedIn {
    pub me: Me,
    pub via: Via,
}

/// The client as Pharos sees it: through trusted proxies, as they reported it.
#[derive(Clone, Debug, Default)]
pub struct Client {
    pub addr: Option<IpAddr>,
    /// The client spoke HTTPS (to Pharos, or to a trusted proxy in front).
    pub https: bool,
}

/// A client certificate (DER), not yet checked against anything but the listener's trust.
#[derive(Clone, Debug)]
pub struct Presented {
    pub der: Arc<[u8]>,
    pub via: PresentedVia,
}

/// Who sent a request; set on every request by [`identify`].
#[derive(Clone, Debug, Default)]
pub struct Caller {
    pub client: Client,
    pub signed_in: Option<Arc<SignedIn>>,
    /// The certificate a device presented: in the handshake with this server (which verified
    /// the chain), or to a trusted proxy that forwarded it in [`CLIENT_CERT_HEADER`].
    pub device: Option<Presented>,
    /// [`CLIENT_CERT_HEADER`] came from a peer that is no trusted proxy, and was ignored.
    pub forged_device: bool,
}

/// Where a TLS-terminating proxy forwards the client's certificate (nginx:
/// `proxy_set_header X-SSL-CERT $ssl_client_escaped_cert;`): URL-escaped PEM.
pub const CLIENT_CERT_HEADER: &str = "x-ssl-cert";

impl Caller {
    pub fn me(&self) -> Option<&Me> {
        self.signed_in.as_deref().map(|s| &s.me)
    }
}

/// The database could not be read: whether a sign-in is valid is not known (503, not 401, so
/// a browser is not sent to sign in again and a balancer tries another server).
#[derive(Debug, Clone, Copy)]
pub struct Unknown;

/// A sign-in looked up: `Ok(None)` when there is none.
pub type Lookup = Result<Option<Arc<SignedIn>>, Unknown>;

/// What [`identify`] asks the accounts area.
pub trait Authenticate: Send + Sync + 'static {
    /// The administrator of a token (`token`) or session secret if a valid sign-in is at hand
    /// without waiting (the common case); `None` says: ask [`Self::token`] or [`Self::session`].
    fn cached(&self, token: bool, secret: &str) -> Option<Arc<SignedIn>>;
    /// The administrator of a session cookie's secret, if it is a live session.
    fn session(&self, secret: &str) -> crate::BoxFuture<'_, Lookup>;
    /// The administrator of an API token, if it is valid.
    fn token(&self, token: &str) -> crate::BoxFuture<'_, Lookup>;
    /// The same session or token read again (after accounts changed): `None` if it ended.
    fn again(&self, via: &Via) -> crate::BoxFuture<'_, Lookup>;
}

#[derive(Clone)]
pub struct Identify {
    pub accounts: Arc<dyn Authenticate>,
    pub trusted_proxies: Arc<Vec<IpNet>>,
}

fn safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Sets [`Caller`] on the request; refuses a bad bearer token (401) and a browser's
/// state-changing request without its anti-forgery token (403).
pub async fn identify(
    State(identify): State<Identify>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let mut client = client(peer, request.headers(), &identify.trusted_proxies);
    client.https |= request.extensions().get::<Tls>().is_some();
    let (device, forged_device) = device(&request, peer, &identify.trusted_proxies);
    let headers = request.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        });
    let accounts = &identify.accounts;
    let signed_in = if let Some(token) = bearer {
        match accounts.cached(true, token) {
            Some(signed_in) => Some(signed_in),
            None => match accounts.token(token).await {
                Ok(Some(signed_in)) => Some(signed_in),
                Ok(None) => return ApiError::BadToken.into_response(),
                Err(Unknown) => return ApiError::Unavailable.into_response(),
            },
        }
    } else {
        match session_cookie(headers) {
            Some(secret) => match accounts.cached(false, secret) {
                Some(signed_in) => Some(signed_in),
                None => match accounts.session(secret).await {
                    Ok(signed_in) => signed_in,
                    Err(Unknown) => return ApiError::Unavailable.into_response(),
                },
            },
            None => None,
        }
    };
    if let Some(signed_in) = &signed_in
        && let Via::Session { csrf, .. } = &signed_in.via
        && !safe(request.method())
    {
        let sent = request
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !crate::accounts::same_secret(sent, csrf) {
            return ApiError::Forbidden(format!(
                "this request lacks the page's anti-forgery token ({CSRF_HEADER}); reload the page and try again"
            ))
            .into_response();
        }
    }
    let https = client.https;
    let api = request.uri().path().starts_with("/api/");
    if let Some(signed_in) = &signed_in
        && !api
    {
        // the pages read the signed-in administrator from the request (app's `provide_me`)
        request.extensions_mut().insert(signed_in.me.clone());
    }
    request.extensions_mut().insert(Caller {
        client,
        signed_in,
        device,
        forged_device,
    });
    let mut response = next.run(request).await;
    let guarded = response
        .headers_mut()
        .remove(super::access::GUARDED)
        .is_some();
    if api
        && !guarded
        && !matches!(
            response.status(),
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
        )
    {
        tracing::error!("an API route outside the rights guard answered; refused");
        return ApiError::Forbidden("this route has no rights rule".into()).into_response();
    }
    if https {
        response.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            header::HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

/// The session cookie's value, found without collecting every cookie.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == SESSION_COOKIE).then_some(value)
        })
}

/// The device certificate of a request: the one presented to this server's listener first,
/// else the one a trusted proxy forwarded. A forwarded one from anyone else is ignored, and
/// logged (`true`).
fn device(request: &Request, peer: Option<IpAddr>, trusted: &[IpNet]) -> (Option<Presented>, bool) {
    if let Some(info) = request.extensions().get::<Arc<axum_server::tls::TlsInfo>>()
        && let Some(der) = info.peer_certificates.first()
    {
        let der = Arc::from(der.as_slice());
        let via = PresentedVia::Tls;
        return (Some(Presented { der, via }), false);
    }
    let Some(forwarded) = request
        .headers()
        .get(CLIENT_CERT_HEADER)
        .filter(|v| !v.is_empty())
    else {
        return (None, false);
    };
    let peer = peer.map(|ip| ip.to_canonical());
    if !peer.is_some_and(|ip| trusted.iter().any(|net| net.contains(&ip))) {
        // the device routes write it to the security log; elsewhere it is only noise
        tracing::debug!(
            ?peer,
            "a forwarded client certificate from a peer that is no trusted proxy was ignored"
        );
        return (None, true);
    }
    let pem = percent_encoding::percent_decode(forwarded.as_bytes()).collect::<Vec<u8>>();
    use rustls_pki_types::pem::PemObject;
    match rustls_pki_types::CertificateDer::from_pem_slice(&pem) {
        Ok(der) => {
            let der = Arc::from(der.as_ref());
            let via = PresentedVia::Proxy;
            (Some(Presented { der, via }), false)
        }
        Err(e) => {
            tracing::warn!(error = %e, "a trusted proxy forwarded an unreadable client certificate");
            (None, false)
        }
    }
}

/// Marks requests that came over this server's own HTTPS listener.
#[derive(Clone, Copy, Debug)]
pub struct Tls;

/// The client's address and scheme. Forwarding headers count only when the peer is a trusted
/// proxy; then `X-Forwarded-For` is read from the right, past every trusted proxy, to the first
/// address that is not one: the client as the outermost trusted proxy saw it.
pub fn client(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Client {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let Some(peer) = peer.map(|ip| ip.to_canonical()) else {
        return Client::default();
    };
    if !is_trusted(&peer) {
        return Client {
            addr: Some(peer),
            https: false,
        };
    }
    // Each proxy appends the address it was reached from; what the client sent itself stands
    // to the left. From the right: past every trusted proxy, the first address is the client;
    // an item that is no address ends the walk at the last trusted hop.
    let items: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut addr = peer;
    for item in items.iter().rev() {
        match item.trim().parse::<IpAddr>() {
            Ok(ip) => {
                addr = ip.to_canonical();
                if !is_trusted(&addr) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
    Client {
        addr: Some(addr),
        https,
    }
}

/// Which pages need which right (one table, the top bar's); any other page needs a signed-in
/// administrator, and the sign-in page nobody.
pub use app::page_area;

/// In front of the pages: anonymous visitors go to the sign-in page (and come back after it),
/// administrators without the right to read a page's area get a 403 page. The state is the path
/// prefix the pages are nested under: they see their paths without it, browsers need it.
pub async fn pages(State(base): State<Arc<str>>, request: Request, next: Next) -> Response {
    let local = request.uri().path();
    // a file of the site's root (`/favicon.svg`): one segment with a dot, which no page has
    let root_file = local.rfind('/') == Some(0) && local.contains('.');
    if local == LOGIN_PAGE || local.starts_with("/pkg/") || local.starts_with("/api/") || root_file
    {
        // the sign-in page, static files, and API paths that no route took (a 404 of its own)
        return next.run(request).await;
    }
    let me = request.extensions().get::<Caller>().and_then(Caller::me);
    let Some(me) = me else {
        // the sign-in page leads to `next` as it is: the page as the browser asked for it
        let asked = request
            .extensions()
            .get::<OriginalUri>()
            .map_or(request.uri(), |OriginalUri(uri)| uri);
        let back = asked
            .path_and_query()
            .map_or_else(|| format!("{base}/"), |p| p.as_str().to_owned());
        let next_param: String = url::form_urlencoded::byte_serialize(back.as_bytes()).collect();
        return Redirect::to(&format!("{base}{LOGIN_PAGE}?next={next_param}")).into_response();
    };
    if let Some(area) = page_area(local)
        && !me.rights.can(area, Access::Read)
    {
        let page = format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not allowed · Pharos</title></head>\
             <body><h1>Not allowed</h1><p>You may not read {}. An administrator with the right to manage accounts can grant it.</p>\
             <p><a href=\"{base}/\">Back to the start page</a></p></body></html>",
            area.label()
        );
        return (StatusCode::FORBIDDEN, Html(page)).into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_read_from_the_right_through_trusted_proxies_only() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let client_of = |peer: &str, forwarded: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("x-forwarded-for", forwarded.parse().unwrap());
            client(Some(peer.parse().unwrap()), &headers, &trusted)
                .addr
                .unwrap()
                .to_string()
        };
        // an untrusted peer's header counts for nothing
        assert_eq!(client_of("192.0.2.9", "198.51.100.1"), "192.0.2.9");
        // the client as the trusted proxy saw it; what the client wrote itself is ignored
        assert_eq!(
            client_of("10.0.0.1", "1.2.3.4, 198.51.100.1"),
            "198.51.100.1"
        );
        assert_eq!(
            client_of("10.0.0.1", "1.2.3.4, 198.51.100.1, 10.0.0.2"),
            "198.51.100.1"
        );
        // a forged item that is no address stops the walk at the last trusted hop
        assert_eq!(
            client_of("10.0.0.1", "1.2.3.4, x, 198.51.100.1"),
            "198.51.100.1"
        );
        assert_eq!(client_of("10.0.0.1", "1.2.3.4, x"), "10.0.0.1");
        // IPv4 peers of a dual-stack listener are trusted as what they are
        assert_eq!(client_of("::ffff:10.0.0.1", "198.51.100.7"), "198.51.100.7");
    }
}
