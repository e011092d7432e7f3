//! Who may call which route. Every API route is declared with a [`Rule`]; one guard, in front of
//! all of them, checks the rule of the route a request matched, so a route without a rule is
//! refused rather than open. The declared table is also what the tests walk.

use super::auth::Caller;
use app::model::{Access, Area};
use axum::{
    Router,
    extract::{MatchedPath, Request, State},
    handler::Handler,
    http::{HeaderName, HeaderValue, Method},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{MethodFilter, on},
};
use std::collections::HashMap;
use std::sync::Arc;

use super::ApiError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Anyone: sign-in, health, device-facing endpoints.
    Public,
    /// The handler checks credentials itself (HTTP Basic, to get an API token).
    OwnCredentials,
    /// A device, by the certificate it presented ([`super::auth::Caller::device`]); the handler
    /// checks it against the device CA and the revocations.
    Device,
    /// Any signed-in administrator.
    SignedIn,
    /// Reading (GET, HEAD) needs the area's Read right; anything else its Write right.
    Area(Area),
}

impl Rule {
    /// The access a request of `method` needs under this rule, if it names an area.
    pub fn needs(self, method: &Method) -> Option<(Area, Access)> {
        match self {
            Rule::Area(area) if method == Method::GET || method == Method::HEAD => {
                Some((area, Access::Read))
            }
            Rule::Area(area) => Some((area, Access::Write)),
            _ => None,
        }
    }
}

/// One declared route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteRule {
    pub method: Method,
    pub path: String,
    pub rule: Rule,
}

/// An area's routes with their rules, built like an axum router.
pub struct Routes<S> {
    router: Router<S>,
    rule: Rule,
    table: Vec<RouteRule>,
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    /// Routes that all follow `rule` unless one says otherwise.
    pub fn new(rule: Rule) -> Self {
        Routes {
            router: Router::new(),
            rule,
            table: Vec::new(),
        }
    }

    fn add<H, T>(mut self, method: Method, path: &str, rule: Rule, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a routable method");
        self.router = self.router.route(path, on(filter, handler));
        self.table.push(RouteRule {
            method,
            path: path.to_owned(),
            rule,
        });
        self
    }

    pub fn get<H: Handler<T, S>, T: 'static>(self, path: &str, handler: H) -> Self {
        let rule = self.rule;
        self.add(Method::GET, path, rule, handler)
    }

    pub fn post<H: Handler<T, S>, T: 'static>(self, path: &str, handler: H) -> Self {
        let rule = self.rule;
        self.add(Method::POST, path, rule, handler)
    }

    pub fn put<H: Handler<T, S>, T: 'static>(self, path: &str, handler: H) -> Self {
        let rule = self.rule;
        self.add(Method::PUT, path, rule, handler)
    }

    pub fn patch<H: Handler<T, S>, T: 'static>(self, path: &str, handler: H) -> Self {
        let rule = self.rule;
        self.add(Method::PATCH, path, rule, handler)
    }

    pub fn delete<H: Handler<T, S>, T: 'static>(self, path: &str, handler: H) -> Self {
        let rule = self.rule;
        self.add(Method::DELETE, path, rule, handler)
    }

    /// A route with a rule of its own.
    pub fn with_rule<H: Handler<T, S>, T: 'static>(
        self,
        method: Method,
        path: &str,
        rule: Rule,
        handler: H,
    ) -> Self {
        self.add(method, path, rule, handler)
    }

    pub fn merge(mut self, other: Routes<S>) -> Self {
        self.router = self.router.merge(other.router);
        self.table.extend(other.table);
        self
    }

    pub fn with_state<S2>(self, state: S) -> Routes<S2> {
        Routes {
            router: self.router.with_state(state),
            rule: self.rule,
            table: self.table,
        }
    }
}

impl Routes<()> {
    /// The router without any rights check: only for measuring what the check costs.
    #[cfg(feature = "unguarded")]
    pub fn unguarded(self) -> (Router, Arc<Vec<RouteRule>>) {
        (self.router, Arc::new(self.table))
    }

    /// The router with the guard in front of every route, and the table of rules. `base`: the
    /// path prefix the router is nested under, which the paths the guard sees matched begin with
    /// (the table keeps the paths as declared).
    pub fn guarded(self, base: &str) -> (Router, Arc<Vec<RouteRule>>) {
        let mut lookup: HashMap<String, Vec<(Method, Rule)>> = HashMap::new();
        for r in &self.table {
            lookup
                .entry(format!("{base}{}", r.path))
                .or_default()
                .push((r.method.clone(), r.rule));
        }
        let router = self
            .router
            .route_layer(middleware::from_fn_with_state(Arc::new(lookup), guard));
        (router, Arc::new(self.table))
    }
}

/// The rules by path, then method (looked up without allocating).
type Lookup = Arc<HashMap<String, Vec<(Method, Rule)>>>;

/// Marks an answer that went through the guard: [`super::auth::identify`] takes the mark off and
/// refuses to send an API answer without it, so a route added around the guard cannot answer at
/// all. (A header, not an extension: it costs no allocation per request.)
pub const GUARDED: HeaderName = HeaderName::from_static("x-pharos-guarded");

async fn guard(State(lookup): State<Lookup>, request: Request, next: Next) -> Response {
    let mut response = checked(lookup, request, next).await;
    response
        .headers_mut()
        .insert(GUARDED, HeaderValue::from_static("1"));
    response
}

async fn checked(lookup: Lookup, request: Request, next: Next) -> Response {
    let Some(path) = request.extensions().get::<MatchedPath>() else {
        tracing::error!("a route without a matched path was refused");
        return ApiError::Forbidden("this route has no rights rule".into()).into_response();
    };
    let method = if request.method() == Method::HEAD {
        Method::GET
    } else {
        request.method().clone()
    };
    let rules = lookup.get(path.as_str());
    let rule = rules
        .and_then(|rules| rules.iter().find(|(m, _)| *m == method))
        .map(|(_, rule)| *rule);
    if let (None, Some(rules)) = (rule, rules) {
        // a declared path, another method: what it is, not a missing rule
        let mut allowed: Vec<&str> = rules.iter().map(|(m, _)| m.as_str()).collect();
        if allowed.contains(&"GET") {
            allowed.push("HEAD");
        }
        return ApiError::MethodNotAllowed {
            method: request.method().to_string(),
            allowed: allowed.join(", "),
        }
        .into_response();
    }
    let Some(rule) = rule else {
        tracing::error!(
            route = path.as_str(),
            "a route without a rights rule was refused"
        );
        return ApiError::Forbidden("this route has no rights rule".into()).into_response();
    };
    let caller = request.extensions().get::<Caller>();
    if let Err(refusal) = check(rule, request.method(), caller) {
        return refusal.into_response();
    }
    next.run(request).await
}

/// Whether `caller` may send `method` to a route under `rule`.
pub fn check(rule: Rule, method: &Method, caller: Option<&Caller>) -> Result<(), ApiError> {
    if matches!(rule, Rule::Public | Rule::OwnCredentials | Rule::Device) {
        return Ok(());
    }
    let Some(me) = caller.and_then(Caller::me) else {
        return Err(ApiError::Unauthorized);
    };
    match rule.needs(method) {
        Some((area, access)) if !me.rights.can(area, access) => Err(ApiError::Forbidden(format!(
            "you may not {} {}",
            match access {
                Access::Read => "read",
                Access::Write => "change",
            },
            area.label()
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::auth::{Authenticate, Identify, SignedIn};
    use axum::{body::Body, http::StatusCode, routing::get};
    use tower::ServiceExt;

    struct Nobody;

    impl Authenticate for Nobody {
        fn cached(&self, _: bool, _: &str) -> Option<Arc<SignedIn>> {
            None
        }
        fn session(&self, _: &str) -> crate::BoxFuture<'_, crate::http::auth::Lookup> {
            Box::pin(async { Ok(None) })
        }
        fn token(&self, _: &str) -> crate::BoxFuture<'_, crate::http::auth::Lookup> {
            Box::pin(async { Ok(None) })
        }
        fn again(
            &self,
            _: &crate::http::auth::Via,
        ) -> crate::BoxFuture<'_, crate::http::auth::Lookup> {
            Box::pin(async { Ok(None) })
        }
    }

    /// A route added beside the declared ones, without a rule, answers nobody; declared public
    /// routes answer, declared area routes want a signed-in caller.
    #[tokio::test]
    async fn a_route_without_a_rule_is_refused() {
        let (declared, _) = Routes::new(Rule::Public)
            .get("/api/v1/open", || async { "open" })
            .merge(Routes::new(Rule::Area(Area::Jobs)).get("/api/v1/jobs-ish", || async { "x" }))
            .guarded("");
        let router = crate::http::layers::around(
            declared.route("/api/v1/sneaky", get(|| async { "secret" })),
            Some(Identify {
                accounts: Arc::new(Nobody),
                trusted_proxies: Arc::new(Vec::new()),
            }),
            std::time::Duration::from_secs(5),
        );
        let status = |path: &'static str| {
            let router = router.clone();
            async move {
                let request = Request::get(path).body(Body::empty()).unwrap();
                router.oneshot(request).await.unwrap().status()
            }
        };
        assert_eq!(status("/api/v1/open").await, StatusCode::OK);
        assert_eq!(status("/api/v1/jobs-ish").await, StatusCode::UNAUTHORIZED);
        assert_eq!(status("/api/v1/sneaky").await, StatusCode::FORBIDDEN);
        assert_eq!(status("/api/v1/nothing").await, StatusCode::NOT_FOUND);
        let request = Request::delete("/api/v1/open").body(Body::empty()).unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()["allow"], "GET, HEAD");
    }
}
