//! The HTTP layer: routes, extractors, errors as RFC 9457 problems,
//! permissions, metrics and the OpenAPI document.
//!
//! Handlers are thin: parse (the extractors refuse bad input with a
//! `validation_failed` problem naming the field), check the caller's role
//! (`policy`), call the store, map the answer (`map`). Every error leaves
//! as an [`ApiError`].
//!
//! Public routes: `/healthz`, `/openapi.json`, `/metrics` (a load balancer
//! and a Prometheus scraper carry no user token). Everything else needs
//! `Authorization: Bearer <token>`.

mod admin;
mod admission;
mod approvals;
mod audit;
mod bulk;
mod customers;
mod disputes;
mod error;
mod extend;
mod extract;
mod forecast;
mod grants;
mod idempotency;
mod limits;
mod map;
mod meta;
mod middleware;
mod policy;
mod reports;
mod usage;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use creditdesk_api::routes;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;

pub use admission::Admission;
pub use error::{ApiError, ApiResult};
pub use extract::MAX_BODY_BYTES;
pub use policy::{Action, Caller};

use crate::state::AppState;

/// `listener` with `TCP_NODELAY` on every connection it accepts, which
/// `axum::serve` leaves off: with Nagle's algorithm the last small segment
/// of an answer can wait for the client's acknowledgement of the one
/// before it, which a client may delay by up to 40 ms.
pub fn without_nagle(
    listener: tokio::net::TcpListener,
) -> impl axum::serve::Listener<Io = tokio::net::TcpStream, Addr = std::net::SocketAddr> {
    use axum::serve::ListenerExt;
    listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set on a connection");
        }
    })
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    let protected = Router::new()
        .route(routes::VERSION, get(meta::version))
        .route(routes::ME, get(meta::me))
        .route(routes::CUSTOMERS, get(customers::list))
        .route(routes::CUSTOMER, get(customers::get))
        .route(routes::CUSTOMER_BALANCES, get(customers::balances))
        .route(routes::CUSTOMER_GRANTS, get(customers::grants))
        .route(routes::CUSTOMER_LEDGER, get(customers::ledger))
        .route(routes::CUSTOMER_BURN, get(customers::burn))
        .route(routes::CUSTOMER_FORECAST, get(customers::forecast))
        .route(routes::CUSTOMER_EXPIRATIONS, get(customers::expirations))
        .route(routes::REPORT_EXPIRATIONS, get(reports::expirations))
        .route(routes::REPORT_BREAKAGE, get(reports::breakage))
        .route(routes::REPORT_RECONCILIATION, get(reports::reconciliation))
        .route(routes::EVENTS, post(usage::ingest))
        .route(routes::EVENTS_REJECTED, get(usage::rejected))
        .route(routes::EVENT, get(disputes::event))
        .route(routes::AUTHORIZE, post(usage::authorize))
        .route(routes::GRANTS, post(grants::create))
        .route(routes::GRANT_VOID, post(grants::void))
        .route(routes::ADMIN_CREDIT_TYPES, get(admin::list_credit_types).post(admin::create_credit_type))
        .route(routes::ADMIN_CREDIT_TYPE, get(admin::get_credit_type))
        .route(routes::ADMIN_PRODUCTS, get(admin::list_products).post(admin::create_product))
        .route(routes::ADMIN_PRODUCT, get(admin::get_product))
        .route(routes::ADMIN_PRODUCT_RATES, post(admin::add_rate))
        .route(routes::ADMIN_OVERRIDES, get(admin::list_overrides).post(admin::set_override))
        .route(routes::ADMIN_CUSTOMERS, post(admin::create_customer))
        .route(routes::ADMIN_USERS, get(admin::list_users).post(admin::create_user))
        .route(routes::ADMIN_USER_REVOKE, post(admin::revoke_user))
        // Any role: the spec keeps `/healthz` the only route without a
        // token (Prometheus scrapes with `authorization: credentials_file`).
        .route(routes::OPENAPI, get(meta::openapi))
        .route(routes::METRICS, get(meta::metrics))
        .route(routes::ADMIN_ROLES, get(limits::list))
        .route(routes::ADMIN_ROLE_LIMITS, post(limits::set))
        .route(routes::GRANT_PREVIEW, post(approvals::preview))
        .route(routes::GRANT_EXTEND, post(extend::extend))
        .route(routes::APPROVALS, get(approvals::list))
        .route(routes::APPROVAL, get(approvals::get))
        .route(routes::APPROVAL_APPROVE, post(approvals::approve))
        .route(routes::APPROVAL_REJECT, post(approvals::reject))
        .route(routes::APPROVAL_CANCEL, post(approvals::cancel))
        .route(routes::DISPUTES, get(disputes::list).post(disputes::open))
        .route(routes::DISPUTE, get(disputes::get))
        .route(routes::DISPUTE_EVIDENCE, get(disputes::evidence))
        .route(routes::DISPUTE_ASSIGN, post(disputes::assign))
        .route(routes::DISPUTE_COMMENTS, post(disputes::comment))
        .route(routes::DISPUTE_RESOLVE, post(disputes::resolve))
        .route(routes::AUDIT, get(audit::list))
        // Inside authentication (it needs the caller), around every handler.
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), audit::record))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), middleware::authenticate));
    Router::new()
        .route(routes::HEALTHZ, get(meta::healthz))
        .merge(protected)
        .fallback(middleware::not_found)
        // Innermost first: a panic becomes a problem the observer finishes.
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(middleware::observe))
        .with_state(state)
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Creditdesk billing API",
        description = "Prepaid credits: an append-only ledger of grants, usage and corrections. \
            Errors are RFC 9457 problem documents (application/problem+json) with a stable `code`."
    ),
    paths(
        meta::healthz,
        meta::openapi,
        meta::metrics,
        meta::version,
        meta::me,
        customers::list,
        customers::get,
        customers::balances,
        customers::grants,
        customers::ledger,
        customers::burn,
        customers::forecast,
        customers::expirations,
        reports::expirations,
        reports::breakage,
        reports::reconciliation,
        usage::ingest,
        usage::rejected,
        disputes::event,
        usage::authorize,
        grants::create,
        grants::void,
        admin::list_credit_types,
        admin::create_credit_type,
        admin::get_credit_type,
        admin::list_products,
        admin::create_product,
        admin::get_product,
        admin::add_rate,
        admin::list_overrides,
        admin::set_override,
        admin::create_customer,
        admin::list_users,
        admin::create_user,
        admin::revoke_user,
        limits::list,
        limits::set,
        approvals::preview,
        extend::extend,
        approvals::list,
        approvals::get,
        approvals::approve,
        approvals::reject,
        approvals::cancel,
        disputes::list,
        disputes::open,
        disputes::get,
        disputes::evidence,
        disputes::assign,
        disputes::comment,
        disputes::resolve,
        audit::list,
    ),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("cdk_<hex>").build()),
        );
    }
}

/// The OpenAPI 3.1 document: the handlers' paths and every schema of the
/// wire contract.
pub fn api_doc() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(creditdesk_api::ApiComponents::openapi());
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every route of the contract's table is documented (and nothing else).
    #[test]
    fn openapi_lists_every_route() {
        let doc = serde_json::to_value(api_doc()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().unwrap();
        for r in routes::ROUTES {
            let op =
                &paths.get(r.path).unwrap_or_else(|| panic!("{} missing", r.path))[r.method.as_str().to_lowercase()];
            assert!(op.is_object(), "{} {} missing", r.method.as_str(), r.path);
        }
        let documented: usize = paths.values().map(|p| p.as_object().map_or(0, |o| o.len())).sum();
        assert_eq!(documented, routes::ROUTES.len());
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
        assert!(doc["components"]["schemas"]["Problem"].is_object());
    }

    /// Every `$ref` points at a schema the document defines.
    #[test]
    fn openapi_refs_resolve() {
        fn refs(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, x) in m {
                        match (k.as_str(), x.as_str()) {
                            ("$ref", Some(r)) => out.push(r.to_owned()),
                            _ => refs(x, out),
                        }
                    }
                }
                serde_json::Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
                _ => {}
            }
        }
        let doc = serde_json::to_value(api_doc()).unwrap();
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(!all.is_empty());
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for r in all {
            let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("odd ref {r}"));
            assert!(schemas.contains_key(name), "dangling $ref {r}");
        }
    }
}
