//! `/v1/admin/...`: credit types, products and rate cards, customer rate
//! overrides, customers and users. Writes are admin-only; reading the
//! catalog is open to every role (the desktop app needs names and prices).
//!
//! Admin POSTs accept an `Idempotency-Key` but do not record responses:
//! their resources have client-chosen ids, so a retried create answers
//! `409 already_exists` instead of creating twice. Creating a user is never
//! replayable (its token is shown once and not kept).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json as AxumJson;
use chrono::{DateTime, Utc};
use creditdesk_api::admin::{
    AddRateVersionRequest, CreateCreditTypeRequest, CreateCustomerRequest, CreateProductRequest, CreateUserRequest,
    CreatedUser, CreditType as ApiCreditType, Customer as ApiCustomer, OverrideListQuery, Product as ApiProduct,
    RateOverride, SetOverrideRequest, User as ApiUser, UserListQuery,
};
use creditdesk_api::{Page, PageParams, Paged, Problem};
use creditdesk_ledger::amount::{Currency, Money};
use creditdesk_ledger::catalog::{BurnOrder, CreditType, Product, RateCard};
use creditdesk_ledger::ids::{ActorId, CreditTypeId, CustomerId, ProductId};
use creditdesk_ledger::LedgerError;
use creditdesk_store::{AdminOp, Customer, User};

use super::error::{ApiError, ApiResult};
use super::extract::{Json, PathId, PlainQuery, Query};
use super::map;
use super::meta::deployment_currency;
use super::policy::{Action, Caller};
use crate::auth;
use crate::state::AppState;

/// Pages an in-memory list sorted by `key`: items after `cursor`.
fn page_by<T>(mut items: Vec<T>, key: impl Fn(&T) -> String, cursor: Option<&str>, limit: u32) -> Page<T> {
    items.sort_by_key(|t| key(t));
    if let Some(c) = cursor {
        items.retain(|t| key(t).as_str() > c);
    }
    let limit = limit as usize;
    if items.len() > limit {
        items.truncate(limit);
        let next = items.last().map(&key);
        Page::new(items, next)
    } else {
        Page::new(items, None)
    }
}

fn paging<P: Paged>(p: &P) -> ApiResult<()> {
    let errors = p.paging_errors();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
    }
}

/// When a catalog item was created (every stored one has a time; the epoch
/// stands in only for one created after the times were read).
fn created<K: std::hash::Hash + Eq>(times: &HashMap<K, DateTime<Utc>>, id: &K) -> DateTime<Utc> {
    times.get(id).copied().unwrap_or(DateTime::UNIX_EPOCH)
}

async fn credit_type_view(state: &AppState, ct: &CreditType) -> ApiResult<ApiCreditType> {
    let times = state.store.catalog_times().await?;
    Ok(map::credit_type(ct, created(&times.credit_types, &ct.id)))
}

async fn product_view(state: &AppState, p: &Product) -> ApiResult<ApiProduct> {
    let times = state.store.catalog_times().await?;
    Ok(map::product(p, created(&times.products, &p.id)))
}

#[utoipa::path(get, path = "/v1/admin/credit-types", tag = "admin", params(PageParams),
    responses((status = 200, body = Page<creditdesk_api::admin::CreditType>), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list_credit_types(
    State(state): State<AppState>,
    caller: Caller,
    PlainQuery(q): PlainQuery<PageParams>,
) -> ApiResult<AxumJson<Page<ApiCreditType>>> {
    caller.require(Action::Read)?;
    paging(&q)?;
    let times = state.store.catalog_times().await?;
    let catalog = state.store.catalog();
    let items = catalog.credit_types().map(|ct| map::credit_type(ct, created(&times.credit_types, &ct.id))).collect();
    Ok(AxumJson(page_by(items, |c: &ApiCreditType| c.id.clone(), q.cursor.as_deref(), q.effective_limit())))
}

#[utoipa::path(get, path = "/v1/admin/credit-types/{id}", tag = "admin",
    params(("id" = String, Path, description = "Credit type id")),
    responses((status = 200, body = creditdesk_api::admin::CreditType), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn get_credit_type(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<AxumJson<ApiCreditType>> {
    caller.require(Action::Read)?;
    let catalog = state.store.catalog();
    let ct = catalog.credit_type(&CreditTypeId::new(&id)?)?;
    Ok(AxumJson(credit_type_view(&state, ct).await?))
}

/// Creates a credit type. Every credit type is priced in the deployment's
/// one currency, so limits and finance figures add up across them.
#[utoipa::path(post, path = "/v1/admin/credit-types", tag = "admin", request_body = CreateCreditTypeRequest,
    responses((status = 201, body = creditdesk_api::admin::CreditType), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn create_credit_type(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateCreditTypeRequest>,
) -> ApiResult<(StatusCode, AxumJson<ApiCreditType>)> {
    caller.require(Action::Admin)?;
    if state.store.catalog().credit_types().next().is_some() {
        let currency = deployment_currency(&state);
        if req.unit_price.currency != currency {
            return Err(ApiError::field(
                "unit_price.currency",
                format!("must be the deployment's currency {currency}"),
            ));
        }
    }
    let currency = Currency::new(&req.unit_price.currency)
        .map_err(|_| ApiError::field("unit_price.currency", "is not an ISO 4217 code"))?;
    let burn_order = match &req.burn_order {
        Some(keys) => BurnOrder::new(keys.iter().copied().map(map::burn_key_in).collect())?,
        None => BurnOrder::standard(),
    };
    let ct = CreditType::new(
        CreditTypeId::new(&req.id).map_err(|e| ApiError::from(e).rename_field("credit_type_id", "id"))?,
        req.name.clone(),
        req.unit_label.clone(),
        Money { amount: req.unit_price.amount, currency },
        burn_order,
        req.overage_mode.map(map::overage_mode_in).unwrap_or_default(),
    )
    .map_err(|e| ApiError::from(e).rename_field("unit_price", "unit_price.amount"))?;
    state.store.admin(AdminOp::CreditType(ct.clone())).await?;
    Ok((StatusCode::CREATED, AxumJson(credit_type_view(&state, &ct).await?)))
}

#[utoipa::path(get, path = "/v1/admin/products", tag = "admin", params(PageParams),
    responses((status = 200, body = Page<creditdesk_api::admin::Product>), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list_products(
    State(state): State<AppState>,
    caller: Caller,
    PlainQuery(q): PlainQuery<PageParams>,
) -> ApiResult<AxumJson<Page<ApiProduct>>> {
    caller.require(Action::Read)?;
    paging(&q)?;
    let times = state.store.catalog_times().await?;
    let catalog = state.store.catalog();
    let items = catalog.products().map(|p| map::product(p, created(&times.products, &p.id))).collect();
    Ok(AxumJson(page_by(items, |p: &ApiProduct| p.id.clone(), q.cursor.as_deref(), q.effective_limit())))
}

#[utoipa::path(get, path = "/v1/admin/products/{id}", tag = "admin",
    params(("id" = String, Path, description = "Product id")),
    responses((status = 200, body = creditdesk_api::admin::Product), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn get_product(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<AxumJson<ApiProduct>> {
    caller.require(Action::Read)?;
    let catalog = state.store.catalog();
    let p = catalog.product(&ProductId::new(&id)?)?;
    Ok(AxumJson(product_view(&state, p).await?))
}

#[utoipa::path(post, path = "/v1/admin/products", tag = "admin", request_body = CreateProductRequest,
    responses((status = 201, body = creditdesk_api::admin::Product), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn create_product(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateProductRequest>,
) -> ApiResult<(StatusCode, AxumJson<ApiProduct>)> {
    caller.require(Action::Admin)?;
    let credit_type = CreditTypeId::new(&req.credit_type_id)?;
    if state.store.catalog().credit_type(&credit_type).is_err() {
        return Err(ApiError::field("credit_type_id", "is not a known credit type"));
    }
    let rate_card = RateCard::new(req.rate_card.iter().map(map::rate_version_in).collect()).map_err(|e| {
        ApiError::from(e).rename_field("credits_per_unit", "rate_card").rename_field("rate_card", "rate_card")
    })?;
    let product = Product {
        id: ProductId::new(&req.id).map_err(|e| ApiError::from(e).rename_field("product_id", "id"))?,
        name: req.name.clone(),
        credit_type,
        rate_card,
    };
    state.store.admin(AdminOp::Product { product: product.clone(), by: ActorId::new(caller.actor())? }).await.map_err(
        |e| match e.as_ledger() {
            Some(LedgerError::NotFound { what: "credit type", .. }) => {
                ApiError::field("credit_type_id", "is not a known credit type")
            }
            _ => ApiError::from(e),
        },
    )?;
    let stored = state.store.catalog().product(&product.id).cloned().unwrap_or_else(|_| Arc::new(product));
    Ok((StatusCode::CREATED, AxumJson(product_view(&state, &stored).await?)))
}

/// Appends a version to a product's rate card; it applies to events timed
/// at or after its `effective_from` (events already rated stay as rated).
#[utoipa::path(post, path = "/v1/admin/products/{id}/rates", tag = "admin", request_body = AddRateVersionRequest,
    params(("id" = String, Path, description = "Product id")),
    responses((status = 201, body = creditdesk_api::admin::Product), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn add_rate(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    Json(req): Json<AddRateVersionRequest>,
) -> ApiResult<(StatusCode, AxumJson<ApiProduct>)> {
    caller.require(Action::Admin)?;
    let product = ProductId::new(&id)?;
    state.store.catalog().product(&product)?;
    let op = AdminOp::RateVersion {
        product: product.clone(),
        customer: None,
        version: map::rate_version_in(&req),
        by: ActorId::new(caller.actor())?,
    };
    state.store.admin(op).await.map_err(|e| ApiError::from(e).rename_field("rate_card", "effective_from"))?;
    let catalog = state.store.catalog();
    Ok((StatusCode::CREATED, AxumJson(product_view(&state, catalog.product(&product)?).await?)))
}

/// Sets a customer's own rate card for a product. The store appends
/// versions (it cannot yet replace a card): versions identical to the
/// current card's are kept, new ones appended; changing an existing
/// version is refused, and every version is checked before any is written.
#[utoipa::path(post, path = "/v1/admin/overrides", tag = "admin", request_body = SetOverrideRequest,
    responses((status = 201, body = RateOverride), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn set_override(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<SetOverrideRequest>,
) -> ApiResult<(StatusCode, AxumJson<RateOverride>)> {
    caller.require(Action::Admin)?;
    let catalog = state.store.catalog();
    let product = ProductId::new(&req.product_id)?;
    if catalog.product(&product).is_err() {
        return Err(ApiError::field("product_id", "is not a known product"));
    }
    let customer = CustomerId::new(&req.customer_id)?;
    if state.store.customer(customer.clone()).await.is_err() {
        return Err(ApiError::field("customer_id", "is not a known customer"));
    }
    let existing = catalog.override_for(&customer, &product).map(|c| c.versions().to_vec()).unwrap_or_default();
    let mut fresh = Vec::new();
    for (i, v) in req.rate_card.iter().enumerate() {
        let v = map::rate_version_in(v);
        match existing.iter().find(|e| e.effective_from == v.effective_from) {
            Some(e) if e.credits_per_unit == v.credits_per_unit.normalize() => {}
            Some(_) => {
                return Err(ApiError::field(
                    format!("rate_card[{i}].effective_from"),
                    "a version from this instant exists with another rate; versions cannot be changed",
                ))
            }
            None => fresh.push(v),
        }
    }
    let mut all = existing.clone();
    all.extend(fresh.iter().copied());
    RateCard::new(all).map_err(|e| ApiError::from(e).rename_field("credits_per_unit", "rate_card"))?;
    let by = ActorId::new(caller.actor())?;
    for version in fresh {
        let op = AdminOp::RateVersion {
            product: product.clone(),
            customer: Some(customer.clone()),
            version,
            by: by.clone(),
        };
        state.store.admin(op).await?;
    }
    let catalog = state.store.catalog();
    let card = catalog.override_for(&customer, &product).map(|c| c.versions().to_vec()).unwrap_or_default();
    Ok((
        StatusCode::CREATED,
        AxumJson(RateOverride {
            customer_id: customer.to_string(),
            product_id: product.to_string(),
            rate_card: card.iter().map(map::rate_version).collect(),
            updated_at: state.store.now(),
            updated_by: caller.actor().to_owned(),
        }),
    ))
}

/// Customer rate overrides. Order: customer id, then product id.
#[utoipa::path(get, path = "/v1/admin/overrides", tag = "admin", params(OverrideListQuery),
    responses((status = 200, body = Page<RateOverride>), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list_overrides(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<OverrideListQuery>,
) -> ApiResult<AxumJson<Page<RateOverride>>> {
    caller.require(Action::Read)?;
    let catalog = state.store.catalog();
    let mut items = Vec::new();
    // The query's ids are validated by the extractor.
    let customer = q.customer.as_deref().map(CustomerId::new).transpose()?;
    let product = q.product.as_deref().map(ProductId::new).transpose()?;
    for o in state.store.overrides(customer, product).await? {
        let card = catalog.override_for(&o.customer, &o.product).map(|c| c.versions().to_vec()).unwrap_or_default();
        items.push(RateOverride {
            customer_id: o.customer.to_string(),
            product_id: o.product.to_string(),
            rate_card: card.iter().map(map::rate_version).collect(),
            updated_at: o.updated_at,
            updated_by: o.updated_by.to_string(),
        });
    }
    // Ids hold no whitespace, so a space separates the two parts of the key.
    let key = |o: &RateOverride| format!("{} {}", o.customer_id, o.product_id);
    Ok(AxumJson(page_by(items, key, q.cursor.as_deref(), q.effective_limit())))
}

#[utoipa::path(post, path = "/v1/admin/customers", tag = "admin", request_body = CreateCustomerRequest,
    responses((status = 201, body = creditdesk_api::admin::Customer), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn create_customer(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateCustomerRequest>,
) -> ApiResult<(StatusCode, AxumJson<ApiCustomer>)> {
    caller.require(Action::Admin)?;
    let c = Customer {
        id: CustomerId::new(&req.id).map_err(|e| ApiError::from(e).rename_field("customer_id", "id"))?,
        name: req.name.trim().to_owned(),
        external_ref: req.external_ref.clone(),
        created_at: state.store.now(),
    };
    state.store.admin(AdminOp::Customer(c.clone())).await?;
    Ok((StatusCode::CREATED, AxumJson(map::customer(&c))))
}

fn user_view(u: &User) -> ApiResult<ApiUser> {
    map::user(u).ok_or_else(|| ApiError::internal(format!("user {} has an unknown role `{}`", u.id, u.role)))
}

/// Users (never tokens). Order: user id.
#[utoipa::path(get, path = "/v1/admin/users", tag = "admin", params(UserListQuery),
    responses((status = 200, body = Page<creditdesk_api::admin::User>), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<UserListQuery>,
) -> ApiResult<AxumJson<Page<ApiUser>>> {
    caller.require(Action::Admin)?;
    let include_revoked = q.include_revoked.unwrap_or(false);
    let items = state
        .store
        .users()
        .await?
        .iter()
        .filter(|u| include_revoked || u.revoked_at.is_none())
        .map(user_view)
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(AxumJson(page_by(items, |u: &ApiUser| u.id.clone(), q.cursor.as_deref(), q.effective_limit())))
}

/// Creates a user and returns its bearer token: the only time it is shown
/// (the server keeps a SHA-256 hash).
#[utoipa::path(post, path = "/v1/admin/users", tag = "admin", request_body = CreateUserRequest,
    responses((status = 201, body = CreatedUser), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateUserRequest>,
) -> ApiResult<(StatusCode, AxumJson<CreatedUser>)> {
    caller.require(Action::Admin)?;
    let token = auth::new_token();
    let user = User {
        id: format!("u_{}", uuid::Uuid::new_v4().simple()),
        name: req.name.trim().to_owned(),
        role: req.role.as_str().to_owned(),
        created_at: state.store.now(),
        revoked_at: None,
    };
    state
        .store
        .admin(AdminOp::User { user: user.clone(), token_hash: auth::hash_token(&token) })
        .await
        .map_err(|e| ApiError::from(e).rename_field("user", "name"))?;
    Ok((StatusCode::CREATED, AxumJson(CreatedUser { user: user_view(&user)?, token })))
}

/// Revokes a user's token (by user id, or by name); the next request with
/// it answers `unauthorized`. Revoking a revoked user returns it unchanged.
#[utoipa::path(post, path = "/v1/admin/users/{id}/revoke", tag = "admin",
    params(("id" = String, Path, description = "User id (or name)")),
    responses((status = 200, body = creditdesk_api::admin::User), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn revoke_user(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<AxumJson<ApiUser>> {
    caller.require(Action::Admin)?;
    let users = state.store.users().await?;
    let by_id: HashMap<&str, &User> = users.iter().map(|u| (u.id.as_str(), u)).collect();
    let user = by_id
        .get(id.as_str())
        .copied()
        .or_else(|| users.iter().find(|u| u.name == id))
        .ok_or_else(|| ApiError::not_found("user", &id))?;
    if user.revoked_at.is_none() {
        state.store.admin(AdminOp::RevokeUser { name: user.name.clone() }).await?;
    }
    state.tokens.forget_user(&user.id);
    let users = state.store.users().await?;
    let after = users.iter().find(|u| u.id == user.id).ok_or_else(|| ApiError::not_found("user", &id))?;
    Ok(AxumJson(user_view(after)?))
}
