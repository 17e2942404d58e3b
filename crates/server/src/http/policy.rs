//! Who may do what: the one place the HTTP layer decides permissions.
//!
//! Roles decide which kinds of call a user may make at all; for the
//! money-moving ones ([`Action::Grant`], dispute resolutions) the role's
//! money limits then decide, inside the store's transaction, whether the
//! action executes at once or becomes an approval request
//! (`docs/workflows.md`). Handlers only ever call [`Caller::require`];
//! `crates/server/tests/every_route.rs` calls every route as every role and
//! holds each answer to this table.
//!
//! | action | roles | why |
//! |---|---|---|
//! | read (every GET, `POST /v1/authorize`) | every role | authorize reserves nothing; it answers what the balances already show |
//! | ingest usage (`POST /v1/events`) | admin | a machine capability: the metering pipeline runs with an admin token (no `service` role exists yet) |
//! | backfill (`mode=backfill` on events or grants) | admin | imports and migrations lift the late window |
//! | grant credits (`POST /v1/grants`), resolve disputes | every role but viewer | the limits decide: an account manager's every grant becomes an approval request |
//! | decide approvals (approve, reject, cancel) | every role but viewer | the approve limit and "not your own" are checked in the transaction |
//! | disputes: open, assign, comment | every role but viewer | |
//! | read the audit log | support_lead, finance, admin | who did what is for those who supervise it |
//! | void a grant | finance, admin | the brief: voids need `finance` or `admin` |
//! | admin (`POST /v1/admin/...`, listing users) | admin | catalog, customers and users |
//!
//! Reading the catalog (credit types, products, overrides) is open to every
//! role: the desktop app needs names, units and prices to show anything.

use creditdesk_api::me::Policy;
use creditdesk_api::Role;
use creditdesk_store::User;

use super::error::ApiError;

/// The table above, for `GET /v1/me`: the desktop app offers each action
/// only to the roles that may take it, from this and no copy of its own.
pub fn wire_policy() -> Policy {
    let roles = |a: Action| a.roles().to_vec();
    Policy {
        grant: roles(Action::Grant),
        decide: roles(Action::Decide),
        dispute: roles(Action::Dispute),
        void: roles(Action::Void),
        audit: roles(Action::Audit),
        admin: roles(Action::Admin),
        ingest: roles(Action::Ingest),
    }
}

/// The authenticated user behind a request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user: User,
    pub role: Role,
}

/// Something a caller may or may not do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Read,
    Ingest,
    Backfill,
    Grant,
    Decide,
    Dispute,
    Audit,
    Void,
    Admin,
}

impl Action {
    /// What the refusal says the caller tried ("role viewer may not ...").
    fn phrase(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Ingest => "ingest usage events",
            Action::Backfill => "write in backfill mode",
            Action::Grant => "grant credits",
            Action::Decide => "decide approval requests",
            Action::Dispute => "work on disputes",
            Action::Audit => "read the audit log",
            Action::Void => "void grants",
            Action::Admin => "administer the catalog, customers or users",
        }
    }

    /// The roles allowed to do it.
    pub fn roles(self) -> &'static [Role] {
        use Role::*;
        match self {
            Action::Read => &[Viewer, AccountManager, SupportAgent, SupportLead, Finance, Admin],
            Action::Ingest | Action::Backfill | Action::Admin => &[Admin],
            Action::Grant | Action::Decide | Action::Dispute => {
                &[AccountManager, SupportAgent, SupportLead, Finance, Admin]
            }
            Action::Audit => &[SupportLead, Finance, Admin],
            Action::Void => &[Finance, Admin],
        }
    }
}

impl Caller {
    /// Refuses with `insufficient_permission`, naming the rule.
    pub fn require(&self, action: Action) -> Result<(), ApiError> {
        let allowed = action.roles();
        if allowed.contains(&self.role) {
            return Ok(());
        }
        let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
        Err(ApiError::forbidden(format!(
            "role {} may not {}; allowed roles: {}",
            self.role.as_str(),
            action.phrase(),
            names.join(", ")
        ))
        .with_extension("required_roles", names))
    }

    /// Viewers are read-only: any call that writes (`mutating`) is refused
    /// before its body is even read, whatever the route.
    pub fn read_only_gate(&self, mutating: bool, call: &str) -> Result<(), ApiError> {
        if self.role != Role::Viewer || !mutating {
            return Ok(());
        }
        Err(ApiError::forbidden(format!("role viewer is read-only and may not call {call}"))
            .with_extension("required_roles", Action::Grant.roles().iter().map(|r| r.as_str()).collect::<Vec<_>>()))
    }

    /// The actor id stamped on entries and grants.
    pub fn actor(&self) -> &str {
        &self.user.id
    }

    /// The caller as the store's workflow decisions see it.
    pub fn workflow_actor(&self) -> creditdesk_store::workflow::Actor {
        creditdesk_store::workflow::Actor { id: self.user.id.clone(), role: self.role.as_str().to_owned() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role) -> Caller {
        Caller {
            user: User {
                id: "u".into(),
                name: "n".into(),
                role: role.as_str().into(),
                created_at: chrono::DateTime::UNIX_EPOCH,
                revoked_at: None,
            },
            role,
        }
    }

    #[test]
    fn the_table() {
        for role in Role::ALL {
            assert!(caller(*role).require(Action::Read).is_ok());
            assert_eq!(caller(*role).require(Action::Admin).is_ok(), *role == Role::Admin);
            assert_eq!(caller(*role).require(Action::Ingest).is_ok(), *role == Role::Admin);
            assert_eq!(caller(*role).require(Action::Void).is_ok(), matches!(role, Role::Admin | Role::Finance));
            assert_eq!(caller(*role).require(Action::Grant).is_ok(), *role != Role::Viewer);
            assert_eq!(caller(*role).require(Action::Decide).is_ok(), *role != Role::Viewer);
            assert_eq!(
                caller(*role).require(Action::Audit).is_ok(),
                matches!(role, Role::Admin | Role::Finance | Role::SupportLead)
            );
        }
        let e = caller(Role::Viewer).require(Action::Void).unwrap_err();
        assert_eq!(e.problem().status, 403);
        assert_eq!(e.problem().detail, "role viewer may not void grants; allowed roles: finance, admin");
    }
}
