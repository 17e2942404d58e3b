//! Who may do what: the one place the HTTP layer decides permissions.
//!
//! Issue 3 separates reads from writes by role; issue 4 replaces the
//! money-moving rules ([`Action::Grant`]) with approval limits. Handlers
//! only ever call [`Caller::require`], so that change stays in this file.
//!
//! | action | roles | why |
//! |---|---|---|
//! | read (every GET, `POST /v1/authorize`) | every role | authorize reserves nothing; it answers what the balances already show |
//! | ingest usage (`POST /v1/events`) | admin | a machine capability: the metering pipeline runs with an admin token (no `service` role exists yet) |
//! | backfill (`mode=backfill` on events or grants) | admin | imports and migrations lift the late window |
//! | grant credits (`POST /v1/grants`) | finance, admin | until approval limits land (issue 4) |
//! | void a grant | finance, admin | the brief: voids need `finance` or `admin` |
//! | admin (`POST /v1/admin/...`, listing users) | admin | catalog, customers and users |
//!
//! Reading the catalog (credit types, products, overrides) is open to every
//! role: the desktop app needs names, units and prices to show anything.

use creditdesk_api::Role;
use creditdesk_store::User;

use super::error::ApiError;

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
            Action::Grant | Action::Void => &[Finance, Admin],
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

    /// The actor id stamped on entries and grants.
    pub fn actor(&self) -> &str {
        &self.user.id
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
            assert_eq!(caller(*role).require(Action::Grant).is_ok(), matches!(role, Role::Admin | Role::Finance));
        }
        let e = caller(Role::Viewer).require(Action::Grant).unwrap_err();
        assert_eq!(e.problem().status, 403);
        assert_eq!(e.problem().detail, "role viewer may not grant credits; allowed roles: finance, admin");
    }
}
