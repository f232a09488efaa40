//! From happenings to the events Mist sends about them.

use std::collections::HashMap;
use std::time::Duration;

use mist::Topic;

use super::{Happening, Scenario, Selector, Unfit};
use crate::org::{Device, DeviceKind, Org};
use crate::rng::Rng;
use crate::topics::{
    self, Gen, MarvisAction, SimEvent, alarm, asset_fix, device_event, device_updown,
    marvis_action, mxedge_event, occupancy_alert, zone_event,
};

/// Between the events of devices that go down or come back together: the cloud notices
/// each on its own heartbeat.
const STAGGER: Duration = Duration::from_secs(2);
/// Mist raises the aggregated alarm after the device events.
const ALARM_DELAY: Duration = Duration::from_secs(30);
/// A rebooted device reports why a few seconds after it is connected again.
const RESTART_DELAY: Duration = Duration::from_secs(5);
/// Between the reports of APs that hear the same rogue.
const ROGUE_STAGGER: Duration = Duration::from_secs(20);
/// Between a client leaving one AP and joining the next.
const ROAM_GAP: Duration = Duration::from_secs(1);
/// The location engine reports no more often than this, whatever a walk asks.
const MIN_FIX_INTERVAL: Duration = Duration::from_millis(100);

/// How many positions a walk of `duration` reporting every `every` gives after its
/// start (the start itself is one more).
pub(super) fn walk_fixes(duration: Duration, every: Duration) -> u128 {
    (duration.as_micros() / every.max(MIN_FIX_INTERVAL).as_micros()).max(1)
}

/// The longest a step's events trail behind it (alarms, restarts, staggers).
pub(super) const TAIL: Duration = Duration::from_secs(60);

/// What the expansion remembers from step to step.
#[derive(Default)]
struct State {
    /// Open Marvis actions by (symptom, device MAC): their id, kept until validated.
    marvis: HashMap<(String, String), String>,
    /// Where each client is associated now (site index, AP index), after roams.
    client_ap: HashMap<String, usize>,
}

struct Clock {
    start_us: i64,
    speed: f64,
}

impl Clock {
    /// The simulated time of an offset from the scenario's start, compressed by `speed`.
    fn at(&self, offset: Duration) -> i64 {
        // `as` saturates, and so does the sum: a speed near zero cannot overflow.
        self.start_us
            .saturating_add((offset.as_micros() as f64 / self.speed).round() as i64)
    }
}

impl Scenario {
    /// The events this scenario produces on `org` when it starts at `start_us` (unix µs)
    /// and runs `speed` times faster than real time, in time order. The same org, seed,
    /// start and speed always give the same events.
    ///
    /// ```
    /// let org = sim::Org::generate(&sim::OrgSpec::default(), 1);
    /// let s = sim::Scenario::load("flapping-ap").unwrap();
    /// let events = s.expand(&org, &sim::Rng::new(1), 1_750_000_000_000_000, 1.0).unwrap();
    /// assert!(events.windows(2).all(|w| w[0].at_us <= w[1].at_us));
    /// ```
    pub fn expand(
        &self,
        org: &Org,
        rng: &Rng,
        start_us: i64,
        speed: f64,
    ) -> Result<Vec<SimEvent>, Unfit> {
        // Parsed scenarios pass this already; one built by hand may not.
        self.check()?;
        let speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            1.0
        };
        let clock = Clock { start_us, speed };
        let mut r = rng.derive(&format!("scenario:{}", self.name));
        let mut state = State::default();
        let mut out = Vec::new();
        for (i, step) in self.steps.iter().enumerate() {
            step_events(
                org, &mut r, &clock, step.at, &step.what, &mut state, &mut out,
            )
            .map_err(|e| {
                format!(
                    "scenario {}, step {} (at {:?}): {e}",
                    self.name,
                    i + 1,
                    step.at
                )
            })?;
        }
        out.sort_by_key(|e| e.at_us);
        Ok(out)
    }
}

fn at_site<'a>(org: &'a Org, site: usize, at: i64) -> Gen<'a> {
    Gen {
        org,
        site: &org.sites[site.min(org.sites.len() - 1)],
        at,
    }
}

fn resolve<'a>(org: &'a Org, selectors: &[Selector]) -> Result<Vec<&'a Device>, Unfit> {
    let mut out: Vec<&Device> = Vec::new();
    for s in selectors {
        for d in s.devices(org)? {
            if !out.iter().any(|o| o.mac == d.mac) {
                out.push(d);
            }
        }
    }
    Ok(out)
}

/// Devices grouped by site and kind, in the order first named: Mist sends one alarm per
/// site and type listing every device in it.
fn groups<'a>(devices: &[&'a Device]) -> Vec<Vec<&'a Device>> {
    let mut out: Vec<Vec<&Device>> = Vec::new();
    for d in devices {
        match out
            .iter_mut()
            .find(|g| g[0].site == d.site && g[0].kind == d.kind)
        {
            Some(g) => g.push(d),
            None => out.push(vec![d]),
        }
    }
    out
}

fn step_events(
    org: &Org,
    r: &mut Rng,
    clock: &Clock,
    at: Duration,
    what: &Happening,
    state: &mut State,
    out: &mut Vec<SimEvent>,
) -> Result<(), Unfit> {
    let emit = |out: &mut Vec<SimEvent>, topic: Topic, t: i64, built| {
        out.push(topics::finish(topic, t, built));
    };
    match what {
        Happening::Down { devices } | Happening::Up { devices, .. } => {
            let up = matches!(what, Happening::Up { .. });
            let restarted = match what {
                Happening::Up { restarted, .. } => restarted.as_deref(),
                _ => None,
            };
            let devices = resolve(org, devices)?;
            for group in groups(&devices) {
                for (i, d) in group.iter().enumerate() {
                    let offset = at + STAGGER * i as u32;
                    connection(org, r, clock.at(offset), d, up, out);
                    if let Some(reason) = restarted {
                        restart(org, r, clock.at(offset + RESTART_DELAY), d, reason, out);
                    }
                }
                let kind = group[0].kind;
                if kind == DeviceKind::Mxedge {
                    continue;
                }
                let last = at + STAGGER * (group.len() as u32 - 1);
                let t = clock.at(last + ALARM_DELAY);
                let g = at_site(org, group[0].site, t);
                let (name, severity) = match (kind, up) {
                    (DeviceKind::Ap, false) => ("device_down", "warn"),
                    (DeviceKind::Ap, true) => ("device_reconnected", "info"),
                    (DeviceKind::Switch, false) => ("switch_down", "warn"),
                    (DeviceKind::Switch, true) => ("switch_reconnected", "info"),
                    (_, false) => ("gateway_down", "warn"),
                    (_, true) => ("gateway_reconnected", "info"),
                };
                emit(
                    out,
                    Topic::Alarms,
                    t,
                    alarm(&g, r, name, "infrastructure", severity, &group),
                );
                // Mist's catalogue has restart alarms for APs and switches only.
                let restart_alarm = match kind {
                    DeviceKind::Ap => Some("device_restarted"),
                    DeviceKind::Switch => Some("switch_restarted"),
                    _ => None,
                };
                if let (Some(reason), Some(name)) = (restarted, restart_alarm) {
                    let t = clock.at(last + ALARM_DELAY + Duration::from_secs(1));
                    let g = at_site(org, group[0].site, t);
                    let mut b = alarm(&g, r, name, "infrastructure", "info", &group);
                    b.set("reasons", vec![reason.to_string()]);
                    emit(out, Topic::Alarms, t, b);
                }
            }
        }
        Happening::RogueAp { seen_by, ssid } => {
            let aps = resolve(org, seen_by)?;
            if let Some(not_ap) = aps.iter().find(|d| d.kind != DeviceKind::Ap) {
                return Err(Unfit(format!("{} is not an AP", not_ap.name)));
            }
            // The rogue's BSSIDs depend on its SSID only: every AP reports the same rogue.
            let mut rogue = Rng::new(
                ssid.bytes()
                    .fold(17, |h: u64, b| h.wrapping_mul(131) ^ u64::from(b)),
            );
            let base = format!("{:02x}{}", 0x02 | (rogue.next_u64() & 0xfc), rogue.hex(4));
            for (i, ap) in aps.iter().enumerate() {
                let t = clock.at(at + ROGUE_STAGGER * i as u32);
                let g = at_site(org, ap.site, t);
                let mut b = alarm(&g, r, "rogue_ap", "security", "critical", &[ap]);
                b.set("ssids", vec![ssid.clone()])
                    .set(
                        "bssids",
                        vec![
                            format!("{base}{:02x}", 0x10 + i),
                            format!("{base}{:02x}", 0x11 + i),
                        ],
                    )
                    .set("count", r.int(1, 6))
                    .set("update", i > 0);
                emit(out, Topic::Alarms, t, b);
            }
        }
        Happening::Marvis {
            symptom,
            action,
            category,
            device,
            port,
            state: marvis_state,
        } => {
            let device = device.device(org)?;
            let key = (symptom.clone(), device.mac.clone());
            let id = match marvis_state.as_str() {
                "open" => {
                    let id = r.uuid();
                    state.marvis.insert(key, id.clone());
                    id
                }
                "validated" => state.marvis.remove(&key).unwrap_or_else(|| r.uuid()),
                other => {
                    return Err(Unfit(format!(
                        "Marvis state `{other}`: use open or validated"
                    )));
                }
            };
            let t = clock.at(at);
            let m = MarvisAction {
                id: &id,
                symptom,
                action,
                category,
                device,
                port: port.as_deref(),
            };
            emit(
                out,
                Topic::Alarms,
                t,
                marvis_action(&at_site(org, device.site, t), &m, marvis_state),
            );
        }
        Happening::Occupancy { zone, occupancy } => {
            let (m, z) = zone.zone(org)?;
            let t = clock.at(at);
            emit(
                out,
                Topic::OccupancyAlerts,
                t,
                occupancy_alert(&at_site(org, zone.site(), t), m, z, *occupancy),
            );
        }
        Happening::Roam { client, to } => {
            let c = client.client(org)?;
            let target = to.device(org)?;
            if target.kind != DeviceKind::Ap || target.site != client.site() {
                return Err(Unfit(format!("`{to}` is not an AP of the client's site")));
            }
            let site = &org.sites[client.site()];
            let from_index = *state
                .client_ap
                .get(&c.mac)
                .unwrap_or(&(c.ap % site.aps.len()));
            let from = &site.aps[from_index];
            let to_index = site
                .aps
                .iter()
                .position(|a| a.mac == target.mac)
                .unwrap_or(0);
            let band = *r.pick(&["5", "6"]);
            let t = clock.at(at);
            let leaving = topics::clients_association(c, from, band, r.int(-82, -74));
            let b =
                topics::client_session_roam(&at_site(org, client.site(), t), r, leaving, target);
            emit(out, Topic::ClientSessions, t, b);
            let t = clock.at(at + ROAM_GAP);
            let joining = topics::clients_association(c, target, band, r.int(-62, -45));
            emit(
                out,
                Topic::ClientJoin,
                t,
                topics::client_join_at(&at_site(org, client.site(), t), r, joining),
            );
            state.client_ap.insert(c.mac.clone(), to_index);
        }
        Happening::Walk {
            asset,
            path,
            duration,
            every,
        } => {
            let a = asset.asset(org)?;
            if path.is_empty() {
                return Err(Unfit("a walk needs at least one point".to_string()));
            }
            let site = &org.sites[asset.site()];
            let m = &site.maps[a.map % site.maps.len()];
            let every = (*every).max(MIN_FIX_INTERVAL);
            let fixes = u32::try_from(walk_fixes(*duration, every))
                .map_err(|_| "a walk reports too many positions".to_string())?;
            let mut inside: Vec<bool> = vec![false; m.zones.len()];
            for k in 0..=fixes {
                let (x, y) = along(path, f64::from(k) / f64::from(fixes));
                let (x, y) = (
                    topics_round(x.clamp(0.5, m.width - 0.5)),
                    topics_round(y.clamp(0.5, m.height - 0.5)),
                );
                let t = clock.at(at + every * k);
                let g = at_site(org, asset.site(), t);
                emit(out, Topic::LocationAsset, t, asset_fix(&g, r, a, x, y));
                for (z, zone) in m.zones.iter().enumerate() {
                    let now_inside = zone.contains(x, y);
                    if now_inside != inside[z] {
                        let trigger = if now_inside { "enter" } else { "exit" };
                        emit(
                            out,
                            Topic::Zone,
                            t,
                            zone_event(&g, m, zone, topics::ZoneVisitor::Asset(a), trigger),
                        );
                        inside[z] = now_inside;
                    }
                }
            }
        }
    }
    Ok(())
}

fn topics_round(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// The point a fraction `f` of the way along a path of straight segments.
fn along(path: &[[f64; 2]], f: f64) -> (f64, f64) {
    let lengths: Vec<f64> = path
        .windows(2)
        .map(|w| ((w[1][0] - w[0][0]).powi(2) + (w[1][1] - w[0][1]).powi(2)).sqrt())
        .collect();
    let total: f64 = lengths.iter().sum();
    if total == 0.0 {
        return (path[0][0], path[0][1]);
    }
    let mut left = f.clamp(0.0, 1.0) * total;
    for (w, len) in path.windows(2).zip(&lengths) {
        if left <= *len && *len > 0.0 {
            let k = left / len;
            return (
                w[0][0] + k * (w[1][0] - w[0][0]),
                w[0][1] + k * (w[1][1] - w[0][1]),
            );
        }
        left -= len;
    }
    let last = path[path.len() - 1];
    (last[0], last[1])
}

/// A device's connection events: `{AP,SW,GW}_DISCONNECTED`/`_CONNECTED` on
/// `device-events` (and `device-updowns` for APs), `ME_*` on `mxedge-events`.
fn connection(org: &Org, r: &mut Rng, t: i64, d: &Device, up: bool, out: &mut Vec<SimEvent>) {
    let g = at_site(org, d.site, t);
    let what = if up { "CONNECTED" } else { "DISCONNECTED" };
    let name = format!("{}_{what}", d.kind.event_prefix());
    let ev_type = if up { "NOTICE" } else { "WARN" };
    match d.kind {
        DeviceKind::Mxedge => out.push(topics::finish(
            Topic::MxedgeEvents,
            t,
            mxedge_event(&g, r, d, &name),
        )),
        DeviceKind::Ap => {
            out.push(topics::finish(
                Topic::DeviceUpdowns,
                t,
                device_updown(&g, d, &name),
            ));
            out.push(topics::finish(
                Topic::DeviceEvents,
                t,
                device_event(&g, d, &name, ev_type),
            ));
        }
        _ => out.push(topics::finish(
            Topic::DeviceEvents,
            t,
            device_event(&g, d, &name, ev_type),
        )),
    }
}

/// A device's restart report, with its reason.
fn restart(org: &Org, r: &mut Rng, t: i64, d: &Device, reason: &str, out: &mut Vec<SimEvent>) {
    let g = at_site(org, d.site, t);
    let name = format!("{}_RESTARTED", d.kind.event_prefix());
    match d.kind {
        DeviceKind::Mxedge => {
            let mut b = mxedge_event(&g, r, d, &name);
            b.set("reason", reason);
            out.push(topics::finish(Topic::MxedgeEvents, t, b));
        }
        kind => {
            if kind == DeviceKind::Ap {
                let mut b = device_updown(&g, d, &name);
                b.set("reason", reason);
                out.push(topics::finish(Topic::DeviceUpdowns, t, b));
            }
            let mut b = device_event(&g, d, &name, "NOTICE");
            b.set("reason", reason);
            out.push(topics::finish(Topic::DeviceEvents, t, b));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::org::OrgSpec;

    const T0: i64 = 1_750_000_000_000_000;

    /// (seconds after the start, topic, type) of each event.
    fn story(name: &str, speed: f64) -> (Org, Vec<(f64, String, String, serde_json::Value)>) {
        let scenario = Scenario::load(name).unwrap();
        let mut spec = OrgSpec {
            sites: 1,
            aps_per_site: 2,
            ..OrgSpec::default()
        };
        scenario.fit(&mut spec);
        let org = Org::generate(&spec, 1);
        let events = scenario.expand(&org, &Rng::new(1), T0, speed).unwrap();
        let told = events
            .into_iter()
            .map(|e| {
                let t = e.value["type"].as_str().unwrap_or_default().to_string();
                ((e.at_us - T0) as f64 / 1e6, e.topic.to_string(), t, e.value)
            })
            .collect();
        (org, told)
    }

    #[test]
    fn a_power_outage_is_told_in_the_order_mist_tells_it() {
        let (org, told) = story("site-power-outage", 1.0);
        let hq = &org.sites[0];
        let brief: Vec<(f64, &str, &str)> = told
            .iter()
            .map(|(t, topic, ty, _)| (*t, topic.as_str(), ty.as_str()))
            .collect();
        assert_eq!(
            brief,
            [
                (0.0, "device-events", "SW_DISCONNECTED"),
                (10.0, "device-updowns", "AP_DISCONNECTED"),
                (10.0, "device-events", "AP_DISCONNECTED"),
                (12.0, "device-updowns", "AP_DISCONNECTED"),
                (12.0, "device-events", "AP_DISCONNECTED"),
                (30.0, "alarms", "switch_down"),
                (42.0, "alarms", "device_down"),
                (480.0, "device-events", "SW_CONNECTED"),
                (485.0, "device-events", "SW_RESTARTED"),
                (510.0, "alarms", "switch_reconnected"),
                (511.0, "alarms", "switch_restarted"),
                (600.0, "device-updowns", "AP_CONNECTED"),
                (600.0, "device-events", "AP_CONNECTED"),
                (602.0, "device-updowns", "AP_CONNECTED"),
                (602.0, "device-events", "AP_CONNECTED"),
                (605.0, "device-updowns", "AP_RESTARTED"),
                (605.0, "device-events", "AP_RESTARTED"),
                (607.0, "device-updowns", "AP_RESTARTED"),
                (607.0, "device-events", "AP_RESTARTED"),
                (632.0, "alarms", "device_reconnected"),
                (633.0, "alarms", "device_restarted"),
            ]
        );
        let down = &told[6].3;
        assert_eq!(
            down["aps"],
            serde_json::json!([hq.aps[0].mac, hq.aps[1].mac])
        );
        assert_eq!(
            down["hostnames"],
            serde_json::json!([hq.aps[0].name, hq.aps[1].name])
        );
        assert_eq!(told[8].3["reason"], "power_cycle");
        assert_eq!(told[20].3["reasons"], serde_json::json!(["power_cycle"]));
        // At real speed, topics Mist sends in integer seconds get integers.
        assert!(told[0].3["timestamp"].is_i64());
        // Compressed 60 times, the same story takes ten seconds.
        let (_, fast) = story("site-power-outage", 60.0);
        assert_eq!(fast.len(), told.len());
        assert!((fast.last().unwrap().0 - 633.0 / 60.0).abs() < 1e-6);
        assert!(fast[1].3["timestamp"].is_f64());
    }

    #[test]
    fn marvis_keeps_its_action_id_until_validated_and_roams_follow_the_client() {
        let (_, told) = story("marvis-bad-cable", 1.0);
        assert_eq!(told.len(), 2);
        assert_eq!(told[0].3["id"], told[1].3["id"]);
        assert_eq!(told[0].3["details"]["state"], "open");
        assert_eq!(told[1].3["details"]["state"], "validated");
        assert_eq!(told[1].3["status"], "resolved");
        let (org, told) = story("client-roaming", 1.0);
        let aps = &org.sites[0].aps;
        let c0 = &org.sites[0].clients[0].mac;
        let joins: Vec<&str> = told
            .iter()
            .filter(|(_, topic, _, v)| topic == "client-join" && v["mac"] == c0.as_str())
            .map(|(_, _, _, v)| v["ap"].as_str().unwrap())
            .collect();
        assert_eq!(joins, [&aps[2].mac, &aps[3].mac, &aps[1].mac]);
        // Each roam leaves from where the previous one arrived.
        let left: Vec<&str> = told
            .iter()
            .filter(|(_, topic, _, v)| topic == "client-sessions" && v["mac"] == c0.as_str())
            .map(|(_, _, _, v)| v["ap"].as_str().unwrap())
            .collect();
        assert_eq!(&left[1..], &joins[..2]);
        // Without fitting, a scenario naming more APs than the org has is refused.
        let small = Org::generate(
            &OrgSpec {
                sites: 1,
                aps_per_site: 2,
                ..OrgSpec::default()
            },
            1,
        );
        let err = Scenario::load("client-roaming")
            .unwrap()
            .expand(&small, &Rng::new(1), T0, 1.0)
            .unwrap_err();
        assert!(err.0.contains("site0.ap2"), "{err}");
    }

    #[test]
    fn along_a_path() {
        let path = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0]];
        assert_eq!(along(&path, 0.0), (0.0, 0.0));
        assert_eq!(along(&path, 0.25), (5.0, 0.0));
        assert_eq!(along(&path, 0.75), (10.0, 5.0));
        assert_eq!(along(&path, 1.0), (10.0, 10.0));
        assert_eq!(along(&[[3.0, 4.0]], 0.5), (3.0, 4.0));
    }
}
