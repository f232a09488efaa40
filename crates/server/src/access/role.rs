//! Roles, and which one each API route needs: a pure table, tested route by route.

use std::fmt;
use std::str::FromStr;

use http::Method;

/// What a token may do. Each role can do everything the one before it can.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Every GET of the API and every console page.
    Read,
    /// Read, and act on what is running: acknowledge and resolve incidents, silences,
    /// replays, resends and pings.
    Operate,
    /// Everything: webhooks and their secrets, tokens, the audit log.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Read, Role::Operate, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Operate => "operate",
            Role::Admin => "admin",
        }
    }

    /// Whether a token of this role may do what `needed` allows.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "read" => Ok(Role::Read),
            "operate" => Ok(Role::Operate),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role `{other}`: the roles are read, operate and admin"
            )),
        }
    }
}

/// The role a request to `route` (the matched route template under `/api/v1`, such as
/// `/incidents/{id}/ack`) with `method` needs. A route nobody listed needs `admin`, so a
/// new state-changing route is closed until it is placed.
pub fn required(method: &Method, route: &str) -> Role {
    if route.starts_with("/tokens") || route.starts_with("/audit") {
        return Role::Admin;
    }
    if matches!(*method, Method::GET | Method::HEAD) {
        return Role::Read;
    }
    let operate = route.ends_with("/ack")
        || route.ends_with("/resolve")
        || route.ends_with("/ping")
        || route.ends_with("/replay")
        || route.ends_with("/resend")
        || route == "/silences"
        || route == "/silences/{id}";
    if operate { Role::Operate } else { Role::Admin }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_parse_back() {
        assert!(Role::Admin.allows(Role::Operate));
        assert!(Role::Operate.allows(Role::Read));
        assert!(!Role::Read.allows(Role::Operate));
        assert!(!Role::Operate.allows(Role::Admin));
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!(
            "root"
                .parse::<Role>()
                .unwrap_err()
                .contains("read, operate and admin")
        );
    }

    #[test]
    fn reads_need_read_actions_operate_and_configuration_admin() {
        assert_eq!(required(&Method::GET, "/incidents"), Role::Read);
        assert_eq!(required(&Method::GET, "/tokens"), Role::Admin);
        assert_eq!(required(&Method::GET, "/audit"), Role::Admin);
        assert_eq!(
            required(&Method::POST, "/incidents/{id}/ack"),
            Role::Operate
        );
        assert_eq!(required(&Method::PUT, "/silences/{id}"), Role::Operate);
        assert_eq!(
            required(
                &Method::POST,
                "/orgs/{org_id}/webhooks/{id}/deliveries/replay"
            ),
            Role::Operate
        );
        assert_eq!(
            required(&Method::POST, "/orgs/{org_id}/webhooks"),
            Role::Admin
        );
        assert_eq!(
            required(&Method::DELETE, "/sites/{site_id}/webhooks/{id}"),
            Role::Admin
        );
        assert_eq!(required(&Method::POST, "/something/new"), Role::Admin);
    }
}
