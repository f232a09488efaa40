//! The SSRF-guarded DNS resolver and the check of address-literal hosts.

use std::error::Error as StdError;
use std::net::{IpAddr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::ssrf::{TargetError, address_kind, check_target};

use super::Client;

/// A target refused by the SSRF guard: reported by the resolver, found again in the
/// error chain so that the attempt fails for good instead of being retried.
#[derive(Debug)]
pub(super) struct Refused(pub(super) TargetError);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refused by the SSRF guard: {}", self.0)
    }
}

impl StdError for Refused {}

/// A name lookup that failed.
#[derive(Debug)]
pub(super) struct LookupFailed(String);

impl std::fmt::Display for LookupFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DNS lookup failed: {}", self.0)
    }
}

impl StdError for LookupFailed {}

/// Resolves with the system resolver, then refuses the whole answer if any address is
/// one deliveries may not reach. The connection uses exactly the addresses checked, so a
/// DNS answer that changes between check and connect (rebinding) cannot slip past.
pub(super) struct GuardedResolver {
    pub(super) allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| -> Box<dyn StdError + Send + Sync> {
                    Box::new(LookupFailed(format!("{host}: {e}")))
                })?
                .collect();
            if addrs.is_empty() {
                let failed = LookupFailed(format!("{host}: no addresses"));
                return Err(Box::new(failed) as Box<dyn StdError + Send + Sync>);
            }
            for a in &addrs {
                if let Some(kind) = address_kind(a.ip())
                    && !(allow_private && kind.allowed_when_private_allowed())
                {
                    let refused = Refused(TargetError::Forbidden { addr: a.ip(), kind });
                    return Err(Box::new(refused) as Box<dyn StdError + Send + Sync>);
                }
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

impl Client {
    /// Refuses URLs whose host is an address literal the guard forbids (host names are
    /// checked by the resolver when they are looked up).
    pub(super) fn check_literal(&self, url: &str) -> Result<(), TargetError> {
        match check_target(url, &[], self.settings.allow_private_targets) {
            Err(TargetError::NoAddresses) => Ok(()),
            other => other,
        }
    }
}

/// Whether `ip` may be reached under these settings (for callers checking literals).
pub fn reachable(ip: IpAddr, allow_private: bool) -> bool {
    address_kind(ip).is_none_or(|k| allow_private && k.allowed_when_private_allowed())
}
