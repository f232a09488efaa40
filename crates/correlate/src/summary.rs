//! The one-line summaries people read, built from facts the rules already hold.

use crate::device::{Device, DeviceState};

/// A device's name: what its events said, else what the shell's names say.
pub(crate) fn device_name<'a>(device: &'a Device, names: &'a mist::Names) -> Option<&'a str> {
    device.name.as_deref().or_else(|| names.device(&device.mac))
}

/// A device as a person reads it: `AP "lobby" (5c5b350e1d1f)`, or `AP 5c5b350e1d1f` when
/// nothing names it. The MAC stays, so that no information is lost to the name.
pub(crate) fn label(device: &Device, names: &mist::Names) -> String {
    match device_name(device, names) {
        Some(name) => format!("{} \"{name}\" ({})", device.kind.label(), device.mac),
        None => format!("{} {}", device.kind.label(), device.mac),
    }
}

/// A duration in the largest two units that matter: `2d 3h`, `5m 10s`, `0s`.
pub(crate) fn duration(us: i64) -> String {
    let secs = us.max(0) / 1_000_000;
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// `1 AP`, `3 APs`.
pub(crate) fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// A device-down summary: who is down, since-restarts, and for how long once resolved.
///
/// `devices` are the incident's devices as the inventory knows them, `names` what the
/// shell names them when their events did not; `restarts` the
/// restart reasons seen while it was open; `resolved_after` the outage length.
pub(crate) fn device_down(
    devices: &[&Device],
    names: &mist::Names,
    restarts: &[String],
    resolved_after: Option<i64>,
) -> String {
    let name = |d: &&Device| device_name(d, names).unwrap_or(&d.mac).to_owned();
    let mut text = match devices {
        [one] => format!("{} offline", label(one, names)),
        _ => {
            let kind = devices.first().map_or("device", |d| d.kind.label());
            let down: Vec<String> = devices
                .iter()
                .filter(|d| d.state == DeviceState::Down)
                .map(name)
                .collect();
            if resolved_after.is_none() && down.len() < devices.len() {
                let total = count(devices.len(), kind);
                format!(
                    "{} of {total} still offline: {}",
                    down.len(),
                    down.join(", ")
                )
            } else {
                let names: Vec<String> = devices.iter().map(name).collect();
                format!(
                    "{} offline: {}",
                    count(devices.len(), kind),
                    names.join(", ")
                )
            }
        }
    };
    if !restarts.is_empty() {
        text.push_str(&format!("; restarted ({})", restarts.join("; ")));
    }
    if let Some(after) = resolved_after {
        text.push_str(&format!("; back online after {}", duration(after)));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(65_000_000), "1m 5s");
        assert_eq!(duration(86_400_000_000), "1d 0h");
        assert_eq!(duration(3_723_000_000), "1h 2m");
        assert_eq!(count(1, "AP"), "1 AP");
        assert_eq!(count(2, "AP"), "2 APs");
    }
}
