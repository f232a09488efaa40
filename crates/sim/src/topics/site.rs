//! Site-wide topics: `occupancy-alerts`, `site-sle`, the Marvis Minis probes, `ping`.

use serde_json::json;

use super::{Built, Gen, TimeForm, round};
use crate::org::{FloorMap, Zone};
use crate::rng::Rng;

/// An occupancy alert for one zone: `COMPLIANCE-VIOLATION` when `occupancy` is over the
/// zone's limit, `COMPLIANCE-OK` when it is back under. The site-level event carries no
/// org, type or time of its own: they are inside `alert_events`.
pub(crate) fn occupancy_alert(g: &Gen, m: &FloorMap, zone: &Zone, occupancy: i64) -> Built {
    let kind = if occupancy > zone.occupancy_limit {
        "COMPLIANCE-VIOLATION"
    } else {
        "COMPLIANCE-OK"
    };
    let (ts, back) = TimeForm::Int.write(g.at);
    let mut b = Built::new(Some(back));
    b.event_type = Some(kind.to_string());
    b.org_id = Some(g.org.id.clone());
    b.set("site_id", g.site.id.clone())
        .set("site_name", g.site.name.clone())
        .set("for_site", false)
        .set(
            "alert_events",
            json!([{
                "current_occupancy": occupancy,
                "map_id": m.id,
                "occupancy_limit": zone.occupancy_limit,
                "org_id": g.org.id,
                "timestamp": ts,
                "type": kind,
                "zone_id": zone.id,
                "zone_name": zone.name,
            }]),
        );
    b
}

/// Everyday occupancy alerts: a zone goes just over its limit or back under.
pub(crate) fn background_occupancy(g: &Gen, r: &mut Rng) -> Built {
    let m = r.pick(&g.site.maps);
    let zone = r.pick(&m.zones);
    let occupancy = zone.occupancy_limit + r.int(-3, 3);
    occupancy_alert(g, m, zone, occupancy)
}

/// Site SLE metrics (`site-sle`), on a minute boundary.
pub(crate) fn site_sle(g: &Gen, r: &mut Rng) -> Built {
    let mut b = Built::new(None);
    b.set("org_id", g.org.id.clone())
        .set("site_id", g.site.id.clone())
        .set(
            "sle",
            json!({
                "ap-availability": round(r.float(0.95, 1.0), 4),
                "successful-connect": round(r.float(0.85, 1.0), 4),
                "time-to-connect": round(r.float(0.7, 1.0), 4),
            }),
        )
        .time(
            "timestamp",
            TimeForm::Float,
            g.at - g.at.rem_euclid(60_000_000),
        );
    b
}

/// A Marvis Minis application probe, run from an AP.
pub(crate) fn minis_application(g: &Gen, r: &mut Rng) -> Built {
    let mut b = Built::new(None);
    let ap = r.pick(&g.site.aps);
    let (name, ip) = *r.pick(&[
        ("connectivitycheck.gstatic.com", "142.250.74.3"),
        ("login.microsoftonline.com", "20.190.160.20"),
        ("corp.example.com", "198.51.100.10"),
    ]);
    let success = r.chance(0.95);
    b.set("org_id", g.org.id.clone())
        .set("site_id", g.site.id.clone())
        .set("device_mac", ap.mac.clone())
        .set("probe_name", name)
        .set("probe_type", "application")
        .set("test_type", "curl")
        .set("ip", ip)
        .set("src_ip", format!("10.{}.1.{}", 10 + ap.site, r.int(2, 250)))
        .set("vlan", *r.pick(&[1, 15, 750]))
        .set("success", success)
        .set("latency", if success { r.int(8, 120) } else { 0 })
        .time(
            "timestamp",
            TimeForm::Int,
            g.at - g.at.rem_euclid(1_000_000),
        );
    b
}

/// A Marvis Minis reachability probe (ping), run from an AP.
pub(crate) fn minis_reachability(g: &Gen, r: &mut Rng) -> Built {
    let mut b = Built::new(None);
    let ap = r.pick(&g.site.aps);
    let min = round(r.float(2.0, 20.0), 1);
    let max = round(min + r.float(0.5, 15.0), 1);
    b.set("org_id", g.org.id.clone())
        .set("site_id", g.site.id.clone())
        .set("device_mac", ap.mac.clone())
        .set("probe_name", "gateway ping")
        .set("probe_target", format!("10.{}.0.1", 10 + ap.site))
        .set("probe_type", "reachability")
        .set("protocol", "icmp")
        .set("test_type", "ping")
        .set("vlan", *r.pick(&[1, 15, 750]))
        .set("min_latency", min)
        .set("max_latency", max)
        .set("avg_latency", round((min + max) / 2.0, 1))
        .set("loss_percentage", if r.chance(0.9) { 0.0 } else { 20.0 })
        .time("timestamp", TimeForm::Float, g.at - g.at.rem_euclid(10_000));
    b
}

/// The test event Mist sends when a webhook is pinged (`id` is the webhook's).
pub(crate) fn ping(g: &Gen, r: &mut Rng) -> Built {
    let mut b = Built::new(None);
    b.set("id", r.uuid())
        .set("name", "webhook event delivery test")
        .set("site_id", g.site.id.clone())
        .time("timestamp", TimeForm::Float, g.at);
    b
}
