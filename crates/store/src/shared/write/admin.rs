//! Admin changes inside the write path's transaction: credit types,
//! products and their rate cards, customers and users. Each refuses an id
//! that exists already; a catalog change reloads the catalog the group's
//! later requests see.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use creditdesk_ledger::catalog::RateVersion;
use creditdesk_ledger::error::LedgerError;
use creditdesk_ledger::ids::{ActorId, CustomerId, ProductId};

use super::{AdminOp, Group, Writer, CUSTOMER_EXISTS};
use crate::codec::*;
use crate::db::{params, query_opt, Db, Sql};
use crate::error::{Result, StoreError};
use crate::shared::load::load_catalog;

const CREDIT_TYPE_EXISTS: Sql = Sql::same("SELECT 1 FROM credit_types WHERE id = ?1");
const PRODUCT_EXISTS: Sql = Sql::same("SELECT 1 FROM products WHERE id = ?1");
const USER_EXISTS: Sql = Sql::same("SELECT 1 FROM users WHERE name = ?1");
const INSERT_CREDIT_TYPE: Sql = Sql::same(
    "INSERT INTO credit_types (id, name, unit_label, unit_price, currency, burn_order, overage_mode, created_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
);
const INSERT_PRODUCT: Sql =
    Sql::same("INSERT INTO products (id, name, credit_type_id, created_at) VALUES (?1, ?2, ?3, ?4)");
const INSERT_CUSTOMER: Sql =
    Sql::same("INSERT INTO customers (id, name, external_ref, created_at) VALUES (?1, ?2, ?3, ?4)");
const INSERT_USER: Sql =
    Sql::same("INSERT INTO users (id, name, role, token_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)");
const REVOKE_USER: Sql = Sql::same("UPDATE users SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL");
const INSERT_RATE: Sql = Sql::same(
    "INSERT INTO rate_versions (product_id, customer_id, effective_from, credits_per_unit, created_at, created_by) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
);

fn exists<D: Db + ?Sized>(db: &mut D, sql: &Sql, id: &str) -> Result<bool> {
    Ok(query_opt(db, sql, &params![id], |_| Ok(()))?.is_some())
}

fn insert_rate<D: Db + ?Sized>(
    db: &mut D,
    product: &ProductId,
    customer: Option<&CustomerId>,
    v: &RateVersion,
    by: &ActorId,
    now: DateTime<Utc>,
) -> Result<()> {
    let cpu = v.credits_per_unit.to_string();
    db.execute(
        &INSERT_RATE,
        &params![
            product.as_str(),
            customer.map_or("", CustomerId::as_str),
            ts(v.effective_from),
            &cpu,
            ts(now),
            by.as_str(),
        ],
    )?;
    Ok(())
}

impl Writer {
    pub(super) fn admin<D: Db + ?Sized>(&mut self, db: &mut D, g: &mut Group, op: &AdminOp) -> Result<()> {
        let now = g.now;
        let already =
            |what: &'static str, id: &str| StoreError::Ledger(LedgerError::AlreadyExists { what, id: id.into() });
        match op {
            AdminOp::CreditType(ct) => {
                if exists(db, &CREDIT_TYPE_EXISTS, ct.id.as_str())? {
                    return Err(already("credit type", ct.id.as_str()));
                }
                let order: Vec<&str> = ct.burn_order.keys().iter().map(|k| burn_key_str(*k)).collect();
                let order = serde_json::to_string(&order).map_err(StoreError::corrupt)?;
                let price = ct.unit_price.amount.to_string();
                db.execute(
                    &INSERT_CREDIT_TYPE,
                    &params![
                        ct.id.as_str(),
                        ct.name.as_str(),
                        ct.unit_label.as_str(),
                        &price,
                        ct.unit_price.currency.code(),
                        &order,
                        overage_str(ct.overage_mode),
                        ts(now),
                    ],
                )?;
                self.catalog_changed(db, g)?;
            }
            AdminOp::Product { product, by } => {
                g.catalog.credit_type(&product.credit_type)?;
                if exists(db, &PRODUCT_EXISTS, product.id.as_str())? {
                    return Err(already("product", product.id.as_str()));
                }
                db.execute(
                    &INSERT_PRODUCT,
                    &params![product.id.as_str(), product.name.as_str(), product.credit_type.as_str(), ts(now)],
                )?;
                for v in product.rate_card.versions() {
                    insert_rate(db, &product.id, None, v, by, now)?;
                }
                self.catalog_changed(db, g)?;
            }
            AdminOp::RateVersion { product, customer, version, by } => {
                let catalog = g.catalog.clone();
                let p = catalog.product(product)?;
                if let Some(c) = customer {
                    if !self.known_customer(db, g, c)? {
                        return Err(LedgerError::invalid("customer_id", "is not a known customer").into());
                    }
                }
                // Validate the card as it will be with the new version.
                let mut versions: Vec<RateVersion> = match customer {
                    None => p.rate_card.versions().to_vec(),
                    Some(c) => {
                        catalog.override_for(c, product).map(|card| card.versions().to_vec()).unwrap_or_default()
                    }
                };
                versions.push(*version);
                creditdesk_ledger::catalog::RateCard::new(versions)?;
                insert_rate(db, product, customer.as_ref(), version, by, now)?;
                self.catalog_changed(db, g)?;
            }
            AdminOp::Customer(c) => {
                if exists(db, &CUSTOMER_EXISTS, c.id.as_str())? {
                    return Err(already("customer", c.id.as_str()));
                }
                db.execute(
                    &INSERT_CUSTOMER,
                    &params![c.id.as_str(), c.name.as_str(), c.external_ref.as_ref(), ts(c.created_at)],
                )?;
                g.new_customers.insert(c.id.clone());
            }
            AdminOp::User { user, token_hash } => {
                if exists(db, &USER_EXISTS, &user.name)? {
                    return Err(already("user", &user.name));
                }
                db.execute(
                    &INSERT_USER,
                    &params![user.id.as_str(), user.name.as_str(), user.role.as_str(), token_hash, ts(user.created_at)],
                )?;
            }
            AdminOp::RevokeUser { name } => {
                if db.execute(&REVOKE_USER, &params![name, ts(now)])? == 0 {
                    return Err(LedgerError::NotFound { what: "active user", id: name.clone() }.into());
                }
            }
        }
        Ok(())
    }

    /// Reloads the catalog inside the transaction (later requests of the
    /// group see the change) and tells other processes about it.
    fn catalog_changed<D: Db + ?Sized>(&self, db: &mut D, g: &mut Group) -> Result<()> {
        db.bump_catalog_version()?;
        g.catalog = Arc::new(load_catalog(db)?);
        g.catalog_changed = true;
        Ok(())
    }
}
