//! The SSRF guard: which delivery targets mistgate may connect to.
//!
//! Subscriptions are configured by people who may not be trusted with the gateway's own
//! network position, so by default a target that resolves to loopback, a private range,
//! link-local (including the 169.254.169.254 cloud metadata address) or carrier-grade NAT
//! is refused. `[delivery] allow_private_targets = true` lifts that for lab setups.
//!
//! The check is pure: the caller resolves the host name and passes every address it would
//! connect to, so the decision and the connection use the same addresses (no second lookup
//! that DNS rebinding could answer differently).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a delivery target was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The URL has no `scheme://` prefix.
    #[error("target URL has no scheme")]
    NoScheme,
    /// The scheme is neither `http` nor `https`.
    #[error("target URL scheme {0:?} is not http or https")]
    UnsupportedScheme(String),
    /// The URL names no host.
    #[error("target URL has no host")]
    NoHost,
    /// The host resolved to no address, so there is nothing that could be checked.
    #[error("target host resolved to no address")]
    NoAddresses,
    /// One of the addresses is in a range deliveries may not reach.
    #[error("target address {addr} is {kind}")]
    Forbidden {
        /// The offending address, as given (before unmapping IPv4-mapped IPv6).
        addr: IpAddr,
        /// Which forbidden range it falls in.
        kind: AddressKind,
    },
}

/// The kinds of address the guard knows about, other than ordinary public unicast.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressKind {
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// `10/8`, `172.16/12`, `192.168/16`, `fc00::/7`.
    Private,
    /// `169.254/16`, `fe80::/10`.
    LinkLocal,
    /// `100.64.0.0/10`, shared address space for carrier-grade NAT.
    SharedCgnat,
    /// `0.0.0.0/8`, `::`. Connecting to these reaches the local host on common stacks.
    Unspecified,
    /// `224/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
}

impl AddressKind {
    /// Whether `allow_private_targets = true` permits this kind.
    ///
    /// Unspecified, multicast and broadcast addresses are never valid HTTP peers, so
    /// they stay refused even then.
    pub fn allowed_when_private_allowed(self) -> bool {
        matches!(
            self,
            AddressKind::Loopback
                | AddressKind::Private
                | AddressKind::LinkLocal
                | AddressKind::SharedCgnat
        )
    }
}

impl std::fmt::Display for AddressKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AddressKind::Loopback => "a loopback address",
            AddressKind::Private => "a private address",
            AddressKind::LinkLocal => "a link-local address",
            AddressKind::SharedCgnat => "a carrier-grade NAT address",
            AddressKind::Unspecified => "an unspecified address",
            AddressKind::Multicast => "a multicast address",
            AddressKind::Broadcast => "the broadcast address",
        })
    }
}

/// Classifies `ip`; `None` means an ordinary address deliveries may reach.
///
/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are judged as the IPv4 address they carry,
/// since that is where a dual-stack socket would connect.
///
/// ```
/// use deliver::ssrf::{AddressKind, address_kind};
/// assert_eq!(address_kind("::ffff:127.0.0.1".parse().unwrap()), Some(AddressKind::Loopback));
/// assert_eq!(address_kind("93.184.216.34".parse().unwrap()), None);
/// ```
pub fn address_kind(ip: IpAddr) -> Option<AddressKind> {
    match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4_kind(v4),
            None => v6_kind(v6),
        },
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<AddressKind> {
    let [a, b, ..] = ip.octets();
    if ip.is_broadcast() {
        Some(AddressKind::Broadcast)
    } else if a == 0 {
        Some(AddressKind::Unspecified)
    } else if ip.is_loopback() {
        Some(AddressKind::Loopback)
    } else if ip.is_private() {
        Some(AddressKind::Private)
    } else if ip.is_link_local() {
        Some(AddressKind::LinkLocal)
    } else if a == 100 && (b & 0xc0) == 64 {
        Some(AddressKind::SharedCgnat)
    } else if ip.is_multicast() {
        Some(AddressKind::Multicast)
    } else {
        None
    }
}

fn v6_kind(ip: Ipv6Addr) -> Option<AddressKind> {
    let first = ip.segments()[0];
    if ip.is_unspecified() {
        Some(AddressKind::Unspecified)
    } else if ip.is_loopback() {
        Some(AddressKind::Loopback)
    } else if (first & 0xfe00) == 0xfc00 {
        Some(AddressKind::Private)
    } else if (first & 0xffc0) == 0xfe80 {
        Some(AddressKind::LinkLocal)
    } else if ip.is_multicast() {
        Some(AddressKind::Multicast)
    } else {
        None
    }
}

/// Checks that mistgate may deliver to `url` at the `resolved` addresses.
///
/// The scheme must be `http` or `https` (case-insensitive). Every address must be
/// allowed: one bad address refuses the target, because the client may pick any of them.
/// When the URL's host is an IP literal it is checked too, so a caller that skips
/// resolution for literals cannot slip past. An empty `resolved` list for a host name is
/// refused (fail closed).
///
/// ```
/// use deliver::ssrf::check_target;
/// let public = ["93.184.216.34".parse().unwrap()];
/// assert!(check_target("https://example.com/hook", &public, false).is_ok());
/// let local = ["127.0.0.1".parse().unwrap()];
/// assert!(check_target("http://localhost/hook", &local, false).is_err());
/// assert!(check_target("http://localhost/hook", &local, true).is_ok());
/// ```
pub fn check_target(
    url: &str,
    resolved: &[IpAddr],
    allow_private: bool,
) -> Result<(), TargetError> {
    let (scheme, rest) = url.split_once("://").ok_or(TargetError::NoScheme)?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(TargetError::UnsupportedScheme(scheme.to_owned()));
    }
    let host = host_of(rest).ok_or(TargetError::NoHost)?;
    let literal = host.parse::<IpAddr>().ok();
    if literal.is_none() && resolved.is_empty() {
        return Err(TargetError::NoAddresses);
    }
    for &addr in literal.iter().chain(resolved) {
        if let Some(kind) = address_kind(addr)
            && !(allow_private && kind.allowed_when_private_allowed())
        {
            return Err(TargetError::Forbidden { addr, kind });
        }
    }
    Ok(())
}

/// The host part of everything after `scheme://`, without brackets, port or user info.
fn host_of(rest: &str) -> Option<&str> {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        bracketed.split_once(']')?.0
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn address_table() {
        use AddressKind::*;
        let table: &[(&str, Option<AddressKind>)] = &[
            ("127.0.0.1", Some(Loopback)),
            ("127.255.255.254", Some(Loopback)),
            ("::1", Some(Loopback)),
            ("10.0.0.1", Some(Private)),
            ("172.16.0.1", Some(Private)),
            ("172.31.255.255", Some(Private)),
            ("172.32.0.1", None),
            ("192.168.1.1", Some(Private)),
            ("fc00::1", Some(Private)),
            ("fd12:3456::1", Some(Private)),
            ("169.254.169.254", Some(LinkLocal)),
            ("fe80::1", Some(LinkLocal)),
            ("febf::1", Some(LinkLocal)),
            ("fec0::1", None),
            ("100.64.0.1", Some(SharedCgnat)),
            ("100.127.255.255", Some(SharedCgnat)),
            ("100.128.0.1", None),
            ("100.63.255.255", None),
            ("0.0.0.0", Some(Unspecified)),
            ("0.1.2.3", Some(Unspecified)),
            ("::", Some(Unspecified)),
            ("224.0.0.1", Some(Multicast)),
            ("239.255.255.250", Some(Multicast)),
            ("ff02::1", Some(Multicast)),
            ("255.255.255.255", Some(Broadcast)),
            ("::ffff:127.0.0.1", Some(Loopback)),
            ("::ffff:10.1.2.3", Some(Private)),
            ("::ffff:169.254.169.254", Some(LinkLocal)),
            ("::ffff:93.184.216.34", None),
            ("93.184.216.34", None),
            ("8.8.8.8", None),
            ("2606:4700::1111", None),
        ];
        for (addr, want) in table {
            assert_eq!(address_kind(ip(addr)), *want, "{addr}");
        }
    }

    #[test]
    fn target_table() {
        let public = [ip("93.184.216.34")];
        let loopback = [ip("127.0.0.1")];
        let mixed = [ip("93.184.216.34"), ip("10.0.0.5")];
        let multicast = [ip("224.0.0.1")];
        // (url, resolved, allow_private, ok?)
        let table: &[(&str, &[IpAddr], bool, bool)] = &[
            ("https://example.com/hook", &public, false, true),
            ("HTTP://example.com", &public, false, true),
            ("ftp://example.com", &public, false, false),
            ("example.com/hook", &public, false, false),
            ("https:///hook", &public, false, false),
            ("https://example.com", &[], false, false),
            ("https://localhost/", &loopback, false, false),
            ("https://localhost/", &loopback, true, true),
            ("https://both.example/", &mixed, false, false),
            ("https://both.example/", &mixed, true, true),
            ("https://group.example/", &multicast, true, false),
            // IP literals are checked even when the caller passes nothing.
            ("http://127.0.0.1:8080/x", &[], false, false),
            ("http://[::1]:8080/x", &[], false, false),
            ("http://[::ffff:192.168.0.1]/", &[], false, false),
            ("http://user:pw@10.0.0.1/", &[], false, false),
            ("http://93.184.216.34/", &[], false, true),
            ("http://[2606:4700::1111]/", &[], false, true),
            // The literal wins over whatever the caller claims it resolved to.
            ("http://169.254.169.254/latest", &public, false, false),
        ];
        for (url, resolved, allow, ok) in table {
            let got = check_target(url, resolved, *allow);
            assert_eq!(
                got.is_ok(),
                *ok,
                "{url} {resolved:?} allow={allow}: {got:?}"
            );
        }
    }

    #[test]
    fn errors_name_the_reason() {
        assert_eq!(
            check_target("gopher://x", &[], false),
            Err(TargetError::UnsupportedScheme("gopher".into()))
        );
        assert_eq!(
            check_target("https://x", &[ip("::ffff:127.0.0.1")], false),
            Err(TargetError::Forbidden {
                addr: ip("::ffff:127.0.0.1"),
                kind: AddressKind::Loopback
            })
        );
        assert_eq!(
            check_target("https://x", &[], false),
            Err(TargetError::NoAddresses)
        );
    }
}
