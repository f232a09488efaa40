//! Client addresses: who is asking (behind trusted proxies, the forwarded client), and
//! source allow-lists with the `mist:<cloud>` presets of `data/mist-webhook-sources.toml`.
//! Pure: no IO.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::LazyLock;

use http::HeaderMap;
use ipnet::IpNet;
use serde::Deserialize;

/// The presets file, compiled in: updating it needs a rebuild, not a code change.
const PRESETS: &str = include_str!("../../../data/mist-webhook-sources.toml");

#[derive(Deserialize)]
struct PresetsFile {
    clouds: BTreeMap<String, Cloud>,
}

#[derive(Deserialize)]
struct Cloud {
    #[allow(dead_code)]
    name: String,
    addresses: Vec<String>,
}

static CLOUDS: LazyLock<BTreeMap<String, Vec<IpNet>>> = LazyLock::new(|| {
    let file: PresetsFile =
        toml::from_str(PRESETS).expect("data/mist-webhook-sources.toml parses (a test checks it)");
    file.clouds
        .into_iter()
        .map(|(cloud, c)| {
            let nets = c
                .addresses
                .iter()
                .map(|a| net(a).expect("every preset address parses (a test checks it)"))
                .collect();
            (cloud, nets)
        })
        .collect()
});

/// The Mist clouds that have a preset (`global01`, ..., `apac03`).
pub fn mist_clouds() -> impl Iterator<Item = &'static str> {
    CLOUDS.keys().map(String::as_str)
}

/// An address or a CIDR block.
fn net(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    if let Ok(n) = text.parse::<IpNet>() {
        return Ok(n.trunc());
    }
    text.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("`{text}` is not an IP address or a CIDR block"))
}

/// A set of addresses and blocks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IpList(Vec<IpNet>);

impl IpList {
    /// Parses `entries`: addresses, CIDR blocks, and (when `presets` is true) `mist:<cloud>`.
    pub fn parse(entries: &[String], presets: bool) -> Result<IpList, String> {
        let mut nets = Vec::new();
        for entry in entries {
            match entry.trim().strip_prefix("mist:") {
                Some(cloud) if presets => {
                    let found = CLOUDS.get(cloud).ok_or_else(|| {
                        let known: Vec<&str> = mist_clouds().collect();
                        format!(
                            "unknown Mist cloud `{cloud}` in `{entry}`: the presets are mist:{}",
                            known.join(", mist:")
                        )
                    })?;
                    nets.extend(found.iter().copied());
                }
                _ => nets.push(net(entry)?),
            }
        }
        Ok(IpList(nets))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|n| n.contains(&ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The blocks, as written in a config (for `check-config`).
    pub fn blocks(&self) -> impl Iterator<Item = String> + '_ {
        self.0.iter().map(|n| {
            if n.prefix_len() == n.max_prefix_len() {
                n.addr().to_string()
            } else {
                n.to_string()
            }
        })
    }
}

/// An IPv4 address that a dual-stack socket shows as `::ffff:a.b.c.d`, as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client's address. From a peer that is not a trusted proxy, the peer itself
/// (whatever it forwards is ignored). From a trusted proxy, the rightmost hop of
/// `Forwarded` (or, without it, `X-Forwarded-For`) that is not itself trusted; if every
/// hop is trusted, the leftmost. A hop that does not parse ends the walk at the hop to
/// its right (which the proxies vouch for): a forged value never names another client.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &IpList) -> IpAddr {
    let peer = canonical(peer);
    if !trusted.contains(peer) {
        return peer;
    }
    let hops = forwarded_hops(headers);
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop {
            Some(ip) => {
                client = canonical(*ip);
                if !trusted.contains(client) {
                    return client;
                }
            }
            None => return client,
        }
    }
    client
}

/// The hops a request went through, client first; `None` for a hop that does not parse
/// (`unknown`, an obfuscated id, garbage).
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let forwarded: Vec<&str> = headers
        .get_all(http::header::FORWARDED)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                    .and_then(|(_, v)| node_ip(v.trim().trim_matches('"')))
            })
            .collect();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| match v.to_str() {
            Ok(s) => s.split(',').map(|h| h.trim().parse().ok()).collect(),
            Err(_) => vec![None],
        })
        .collect()
}

/// A `Forwarded` node: `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]` or
/// `[2001:db8::1]:4711`.
fn node_ip(node: &str) -> Option<IpAddr> {
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    node.parse()
        .ok()
        .or_else(|| node.rsplit_once(':')?.0.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> IpList {
        IpList::parse(
            &entries.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            true,
        )
        .unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn every_preset_parses_and_each_named_cloud_is_there() {
        let clouds: Vec<&str> = mist_clouds().collect();
        for c in [
            "global01", "global02", "global03", "global04", "global05", "emea01", "emea02",
            "emea03", "emea04", "apac01", "apac02", "apac03",
        ] {
            assert!(clouds.contains(&c), "{c} missing");
            assert!(!list(&[&format!("mist:{c}")]).is_empty());
        }
    }

    #[test]
    fn presets_expand_to_their_addresses_and_blocks() {
        let global = list(&["mist:global01", "203.0.113.0/24"]);
        assert!(global.contains(ip("54.193.71.17")));
        assert!(global.contains(ip("54.215.237.20")));
        assert!(global.contains(ip("203.0.113.77")));
        assert!(!global.contains(ip("54.193.71.18")));
        let g2 = list(&["mist:global02"]);
        assert!(g2.contains(ip("34.94.226.48")) && g2.contains(ip("34.94.226.63")));
        assert!(!g2.contains(ip("34.94.226.64")));
        assert!(global.contains(ip("::ffff:54.193.71.17")), "IPv4-mapped");
        let err = IpList::parse(&["mist:mars01".into()], true).unwrap_err();
        assert!(err.contains("mist:global01"), "{err}");
        assert!(IpList::parse(&["mist:global01".into()], false).is_err());
        assert!(IpList::parse(&["300.1.1.1".into()], true).is_err());
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let trusted = list(&["10.0.0.0/8"]);
        let spoof = headers(&[("x-forwarded-for", "54.193.71.17")]);
        // From an untrusted peer, what it forwards is ignored.
        assert_eq!(
            client_ip(ip("198.51.100.9"), &spoof, &trusted),
            ip("198.51.100.9")
        );
        // From a trusted proxy, the rightmost untrusted hop.
        let chain = headers(&[("x-forwarded-for", "1.2.3.4, 54.193.71.17, 10.0.0.7")]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), &chain, &trusted),
            ip("54.193.71.17")
        );
        // Several headers are one list.
        let split = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-for", "54.193.71.17"),
        ]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), &split, &trusted),
            ip("54.193.71.17")
        );
        // Forwarded wins over X-Forwarded-For; ports and brackets are read.
        let fwd = headers(&[
            (
                "forwarded",
                "for=1.2.3.4, for=\"[2001:db8::1]:4711\";proto=https",
            ),
            ("x-forwarded-for", "9.9.9.9"),
        ]);
        assert_eq!(client_ip(ip("10.0.0.2"), &fwd, &trusted), ip("2001:db8::1"));
        let port = headers(&[("forwarded", "for=192.0.2.60:8080")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &port, &trusted), ip("192.0.2.60"));
        // Garbage stops the walk at the proxy that vouched for it.
        let junk = headers(&[("x-forwarded-for", "54.193.71.17, junk")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &junk, &trusted), ip("10.0.0.2"));
        // No header: the proxy itself.
        assert_eq!(
            client_ip(ip("10.0.0.2"), &HeaderMap::new(), &trusted),
            ip("10.0.0.2")
        );
        // Every hop trusted: the leftmost.
        let inner = headers(&[("x-forwarded-for", "10.1.1.1, 10.2.2.2")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &inner, &trusted), ip("10.1.1.1"));
    }
}
