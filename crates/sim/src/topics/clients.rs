//! Client topics: `client-join`, `client-sessions`, `client-info`, `client-latency`,
//! `nac-events`, `nac-accounting`, `guest-authorizations`.

use serde_json::json;

use super::{Built, Gen, TimeForm, bssid, round};
use crate::org::{Client, Device};
use crate::rng::Rng;

/// The bands clients use, as `client-join` writes them (`24` is 2.4 GHz).
const BANDS: [&str; 4] = ["24", "5", "5", "6"];

/// Where a client is associated: AP, band, channel and signal.
pub(crate) struct Association<'a> {
    pub client: &'a Client,
    pub ap: &'a Device,
    pub band: &'static str,
    pub rssi: i64,
}

impl<'a> Association<'a> {
    fn random(g: &Gen<'a>, r: &mut Rng) -> Association<'a> {
        let client = r.pick(&g.site.clients);
        Association {
            client,
            ap: &g.site.aps[client.ap % g.site.aps.len()],
            band: BANDS[r.index(BANDS.len())],
            rssi: r.int(-85, -35),
        }
    }
}

/// A fallback client for sites configured with none (the topic still has its shape).
fn any_client(g: &Gen) -> Option<()> {
    g.site.clients.first().map(|_| ())
}

fn placeholder_client() -> Client {
    Client {
        mac: "f0d4e2000001".into(),
        random_mac: false,
        hostname: "guest-phone".into(),
        ip: "10.10.1.2".into(),
        username: "guest@corp.example.com".into(),
        family: "iPhone",
        manufacture: "Apple",
        model: "iPhone 15",
        os: "iOS 18.5",
        wlan: 1,
        ap: 0,
        map: 0,
    }
}

fn with_client<T>(g: &Gen, r: &mut Rng, f: impl FnOnce(&Gen, &mut Rng, Association) -> T) -> T {
    if any_client(g).is_some() {
        let a = Association::random(g, r);
        f(g, r, a)
    } else {
        let client = placeholder_client();
        let a = Association {
            client: &client,
            ap: &g.site.aps[0],
            band: "5",
            rssi: -60,
        };
        f(g, r, a)
    }
}

fn session_fields(g: &Gen, b: &mut Built, a: &Association) {
    let wlan = &g.org.wlans[a.client.wlan % g.org.wlans.len()];
    b.set("org_id", g.org.id.clone())
        .set("site_id", g.site.id.clone())
        .set("site_name", g.site.name.clone())
        .set("mac", a.client.mac.clone())
        .set("random_mac", a.client.random_mac)
        .set("ap", a.ap.mac.clone())
        .set("ap_name", a.ap.name.clone())
        .set("band", a.band)
        .set("bssid", bssid(&a.ap.mac, a.client.wlan, a.band))
        .set("ssid", wlan.ssid.clone())
        .set("wlan_id", wlan.id.clone())
        .set("rssi", a.rssi)
        .set("version", 2);
}

/// A client associated (`client-join`): integer `timestamp` and `connect`, and
/// `connect_float` with milliseconds.
pub(crate) fn client_join(g: &Gen, r: &mut Rng, at: Option<Association>) -> Built {
    let go = |g: &Gen, _r: &mut Rng, a: Association| {
        let mut b = Built::new(None);
        session_fields(g, &mut b, &a);
        let whole = g.at - g.at.rem_euclid(1_000_000);
        b.time("timestamp", TimeForm::Int, whole)
            .set("connect", whole / 1_000_000)
            .set("connect_float", round(g.at as f64 / 1e6, 3));
        b
    };
    match at {
        Some(a) => go(g, r, a),
        None => with_client(g, r, go),
    }
}

/// A client roamed away or disconnected (`client-sessions`). `next_ap` is the AP it
/// roamed to (termination reason 3), or `000000000000` after a disconnect (reason 1).
/// `duration` is a float, as Mist sends it (the schema says integer).
pub(crate) fn client_session(g: &Gen, r: &mut Rng, roam: Option<(Association, &Device)>) -> Built {
    let go = |g: &Gen, r: &mut Rng, a: Association, next: Option<&Device>| {
        let mut b = Built::new(None);
        session_fields(g, &mut b, &a);
        let duration = round(r.float(12.0, 20_000.0), 6);
        let connect = g.at as f64 / 1e6 - duration;
        let whole = g.at - g.at.rem_euclid(1_000_000);
        b.time("timestamp", TimeForm::Int, whole)
            .set("connect", connect.floor() as i64)
            .set("connect_float", round(connect, 3))
            .set("disconnect", whole / 1_000_000)
            .set("disconnect_float", round(g.at as f64 / 1e6, 3))
            .set("duration", duration)
            .set("client_family", a.client.family)
            .set("client_manufacture", a.client.manufacture)
            .set("client_model", a.client.model)
            .set("client_os", a.client.os)
            .set(
                "next_ap",
                next.map_or_else(|| "000000000000".to_string(), |d| d.mac.clone()),
            )
            .set("termination_reason", if next.is_some() { 3 } else { 1 });
        b
    };
    match roam {
        Some((a, next)) => go(g, r, a, Some(next)),
        None => with_client(g, r, |g, r, a| go(g, r, a, None)),
    }
}

/// The network learned a client's address and name (`client-info`).
pub(crate) fn client_info(g: &Gen, r: &mut Rng) -> Built {
    with_client(g, r, |g, _r, a| {
        let mut b = Built::new(None);
        b.set("org_id", g.org.id.clone())
            .set("site_id", g.site.id.clone())
            .set("mac", a.client.mac.clone())
            .set("ip", a.client.ip.clone())
            .set("hostname", a.client.hostname.clone())
            .time(
                "timestamp",
                TimeForm::Int,
                g.at - g.at.rem_euclid(1_000_000),
            );
        b
    })
}

/// The site's authentication, DHCP and DNS latency over the last period, seconds.
pub(crate) fn client_latency(g: &Gen, r: &mut Rng) -> Built {
    let mut b = Built::new(None);
    b.set("org_id", g.org.id.clone())
        .set("site_id", g.site.id.clone());
    for (name, typical) in [("auth", 0.17), ("dhcp", 0.018), ("dns", 0.025)] {
        let avg = typical * r.float(0.6, 1.6);
        b.set(&format!("avg_{name}"), round(avg, 9))
            .set(&format!("min_{name}"), round(avg * r.float(0.5, 0.95), 9))
            .set(&format!("max_{name}"), round(avg * r.float(1.05, 3.0), 9));
    }
    // Mist reports on period boundaries.
    let minute = g.at - g.at.rem_euclid(60_000_000);
    b.time("timestamp", TimeForm::Int, minute);
    b
}

const NAC_TYPES: &[&str] = &[
    "NAC_CLIENT_PERMIT",
    "NAC_CLIENT_PERMIT",
    "NAC_SESSION_STARTED",
    "NAC_SESSION_ENDED",
    "NAC_CLIENT_IP_ASSIGNED",
    "NAC_IDP_AUTHC_SUCCESS",
    "NAC_CLIENT_CERT_CHECK_SUCCESS",
    "NAC_CLIENT_DENY",
];

fn nac_common(g: &Gen, b: &mut Built, a: &Association) {
    let wlan = &g.org.wlans[a.client.wlan % g.org.wlans.len()];
    b.set("org_id", g.org.id.clone())
        .set("site_id", g.site.id.clone())
        .set("mac", a.client.mac.clone())
        .set("ap", a.ap.mac.clone())
        .set("bssid", bssid(&a.ap.mac, a.client.wlan, a.band))
        .set("ssid", wlan.ssid.clone())
        .set("username", a.client.username.clone())
        .set("nas_vendor", "juniper-mist")
        .set(
            "nas_ip",
            format!("10.{}.0.{}", 10 + a.ap.site, 20 + a.client.ap),
        )
        .set("client_type", "wireless")
        .time("timestamp", TimeForm::Millis, g.at);
}

/// A Mist Access Assurance event (`nac-events`): time in milliseconds, and the booleans
/// `random_mac` and `nacrule_matched` as the strings `"true"`/`"false"`, as captured.
pub(crate) fn nac_event(g: &Gen, r: &mut Rng) -> Built {
    with_client(g, r, |g, r, a| {
        let mut b = Built::new(None);
        nac_common(g, &mut b, &a);
        let t = *r.pick(NAC_TYPES);
        let vlan = if a.client.wlan == 1 { "750" } else { "15" };
        b.set("type", t)
            .set(
                "auth_type",
                *r.pick(&["eap-tls", "eap-tls", "eap-peap", "mab"]),
            )
            .set("random_mac", a.client.random_mac.to_string())
            .set("idp_id", r.uuid())
            .set("idp_role", json!(["Employees", "Wi-Fi Users"]))
            .set("idp_username", a.client.username.clone())
            .set(
                "crc",
                json!([r.int(1, 4_000_000_000), r.int(1, 4_000_000_000)]),
            );
        if t == "NAC_CLIENT_DENY" {
            b.set("nacrule_matched", "false")
                .set("text", "No matching rule, denied by default");
        } else {
            b.set("nacrule_id", r.uuid())
                .set("nacrule_matched", "true")
                .set("nacrule_name", "Corp EAP-TLS")
                .set("vlan", vlan)
                .set("vlan_source", "nactag")
                .set(
                    "resp_attrs",
                    json!([
                        "Tunnel-Type=VLAN",
                        "Tunnel-Medium-Type=IEEE-802",
                        format!("Tunnel-Private-Group-Id={vlan}"),
                        format!("User-Name={}", a.client.username),
                    ]),
                );
        }
        b
    })
}

/// RADIUS accounting from Mist Access Assurance (`nac-accounting`), milliseconds.
pub(crate) fn nac_accounting(g: &Gen, r: &mut Rng) -> Built {
    with_client(g, r, |g, r, a| {
        let mut b = Built::new(None);
        nac_common(g, &mut b, &a);
        let t = *r.pick(&[
            "NAC_ACCOUNTING_START",
            "NAC_ACCOUNTING_UPDATE",
            "NAC_ACCOUNTING_STOP",
        ]);
        b.set("type", t)
            .set("auth_type", "eap-tls")
            .set("client_ip", a.client.ip.clone());
        if t != "NAC_ACCOUNTING_START" {
            b.set("rx_pkts", r.int(100, 2_000_000))
                .set("tx_pkts", r.int(100, 2_000_000));
        }
        b
    })
}

/// A guest authorised on the captive portal. The topic has no `timestamp`: the time is
/// `authorized_time` (integer seconds).
pub(crate) fn guest_authorization(g: &Gen, r: &mut Rng) -> Built {
    with_client(g, r, |g, r, a| {
        let mut b = Built::new(None);
        let wlan = &g.org.wlans[1 % g.org.wlans.len()];
        let whole = g.at - g.at.rem_euclid(1_000_000);
        let method = *r.pick(&["passphrase", "email", "sms", "sponsor"]);
        b.set("org_id", g.org.id.clone())
            .set("site_id", g.site.id.clone())
            .set("ap", a.ap.mac.clone())
            .set("client", a.client.mac.clone())
            .set("ssid", wlan.ssid.clone())
            .set("wlan_id", wlan.id.clone())
            .set("auth_method", method)
            .set("name", format!("Guest {}", r.int(1, 999)))
            .set("email", format!("visitor{}@example.net", r.int(1, 9999)))
            .set("company", *r.pick(&["Acme", "Globex", "Initech"]))
            .set("field1", "badge printed")
            .set("authorized_expiring_time", whole / 1_000_000 + 8 * 3600)
            .time("authorized_time", TimeForm::Int, whole);
        match method {
            "sms" => {
                b.set("mobile", format!("+1555{:07}", r.int(0, 9_999_999)))
                    .set("carrier", "att")
                    .set("sms_gateway", "Twilio");
            }
            "sponsor" => {
                b.set("sponsor_email", "host@corp.example.com");
            }
            _ => {}
        }
        b
    })
}
