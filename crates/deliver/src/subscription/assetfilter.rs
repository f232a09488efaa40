//! Asset filters: Mist's `assetfilter` object, which a webhook names in `assetfilter_ids`
//! to receive only some BLE assets of the asset topics.
//!
//! Field names follow Mist's object (`name`, `disabled`, `ibeacon_uuid`, `ibeacon_major`,
//! `eddystone_uid_namespace`, `eddystone_url`, `mfg_company_id`, `service_uuid`,
//! `ap_mac`, `beam`, `rssi`). Mist documents the fields, not how they combine; mistgate
//! reads them as:
//! - a filter matches an asset event when every criterion it sets holds: the identifiers
//!   are equal (UUIDs, hex and MACs in any case or notation), `service_uuid` is one of the
//!   event's `service_packets`, `ap_mac` is the AP that heard it (its `ap_mac`, or the MAC
//!   in its `device_id`), `beam` is equal, and `rssi` is a floor (the event's RSSI at or
//!   above it); a filter that sets none matches every asset; a `disabled` one matches none;
//! - a webhook with `assetfilter_ids` gets an event of an asset topic (`asset-raw`,
//!   `asset-raw-rssi`, `location-asset`) when one of those filters matches it, and none
//!   when none of them exists any more (it asked for a selection); its other topics are
//!   not filtered.

use mist::Topic;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::fields::{take_bool, take_int, take_string};
use super::{Invalid, Scope};

/// The store keeps asset filters beside the webhooks, in its subscriptions, under these
/// scope kinds (the webhooks' are `org` and `site`), so they need no table of their own.
pub const ORG_SCOPE: &str = "org-assetfilter";
/// See [`ORG_SCOPE`].
pub const SITE_SCOPE: &str = "site-assetfilter";

/// The topics asset filters apply to: those whose events are BLE assets.
pub const ASSET_TOPICS: [Topic; 3] = [Topic::AssetRaw, Topic::AssetRawRssi, Topic::LocationAsset];

/// Fields the server decides; a body may carry them back and they are ignored.
const READ_ONLY: [&str; 6] = [
    "id",
    "org_id",
    "site_id",
    "for_site",
    "created_time",
    "modified_time",
];

/// The fields a body may set.
const FIELDS: [&str; 11] = [
    "name",
    "disabled",
    "ibeacon_uuid",
    "ibeacon_major",
    "eddystone_uid_namespace",
    "eddystone_url",
    "mfg_company_id",
    "service_uuid",
    "ap_mac",
    "beam",
    "rssi",
];

/// A checked asset filter, as stored and shown. Identifiers are kept lowercase, the MAC as
/// 12 hex digits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct AssetFilter {
    /// Server-assigned id (a UUID).
    pub id: String,
    /// The org, for org-level filters.
    pub org_id: Option<String>,
    /// The site, for site-level filters.
    pub site_id: Option<String>,
    /// Whether this is a site-level filter.
    pub for_site: bool,
    /// Display name.
    pub name: String,
    /// A disabled filter matches nothing.
    pub disabled: bool,
    /// iBeacon UUID, lowercase.
    pub ibeacon_uuid: Option<String>,
    /// iBeacon major.
    pub ibeacon_major: Option<u16>,
    /// Eddystone UID namespace (20 hex digits), lowercase.
    pub eddystone_uid_namespace: Option<String>,
    /// Eddystone URL.
    pub eddystone_url: Option<String>,
    /// BLE manufacturer (company) id.
    pub mfg_company_id: Option<u16>,
    /// A BLE service data UUID, lowercase.
    pub service_uuid: Option<String>,
    /// The AP that heard the asset: 12 lowercase hex digits.
    pub ap_mac: Option<String>,
    /// The AP's antenna beam that heard the asset.
    pub beam: Option<u16>,
    /// The lowest RSSI (dBm) an event may have.
    pub rssi: Option<i16>,
    /// Creation time, unix seconds.
    pub created_time: f64,
    /// Last modification time, unix seconds.
    pub modified_time: f64,
}

/// Parses and checks a POST/PUT body for asset filter `id` in `scope`; on PUT
/// (`previous`), a partial update: what the body leaves out keeps its value, `null`
/// resets a field.
pub fn parse_assetfilter(
    body: &[u8],
    scope: &Scope,
    id: &str,
    now_s: f64,
    previous: Option<&AssetFilter>,
) -> Result<AssetFilter, Invalid> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Invalid::malformed(format!("body is not valid JSON: {e}")))?;
    let Value::Object(mut obj) = value else {
        return Err(Invalid::malformed("body must be a JSON object"));
    };
    if let Some(key) = obj
        .keys()
        .find(|k| !READ_ONLY.contains(&k.as_str()) && !FIELDS.contains(&k.as_str()))
    {
        return Err(Invalid::field(key, "unknown field"));
    }
    for key in READ_ONLY {
        obj.remove(key);
    }
    if let Some(previous) = previous {
        let Value::Object(mut stored) =
            serde_json::to_value(previous).expect("a filter serialises")
        else {
            unreachable!("a filter serialises to an object")
        };
        for key in READ_ONLY {
            stored.remove(key);
        }
        stored.extend(obj);
        obj = stored;
    }

    let name = take_string(&mut obj, "name")?
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Invalid::field("name", "required, not empty"))?;
    let hex = |field: &str, v: String, digits: usize| {
        let ok = v.len() == digits && v.bytes().all(|b| b.is_ascii_hexdigit());
        ok.then(|| v.to_ascii_lowercase())
            .ok_or_else(|| Invalid::field(field, format!("must be {digits} hex digits")))
    };
    let ibeacon_uuid = take_string(&mut obj, "ibeacon_uuid")?
        .map(|v| {
            // Hyphenated or 32 hex digits; not the braced or URN forms.
            Some(v)
                .filter(|v| matches!(v.len(), 32 | 36))
                .and_then(|v| uuid::Uuid::parse_str(&v).ok())
                .map(|u| u.to_string())
                .ok_or_else(|| Invalid::field("ibeacon_uuid", "must be a UUID"))
        })
        .transpose()?;
    let eddystone_uid_namespace = take_string(&mut obj, "eddystone_uid_namespace")?
        .map(|v| hex("eddystone_uid_namespace", v, 20))
        .transpose()?;
    let ap_mac = take_string(&mut obj, "ap_mac")?
        .map(|v| {
            mac_hex(&v).ok_or_else(|| {
                Invalid::field(
                    "ap_mac",
                    "must be a MAC address: 12 hex digits, `:` or `-` between pairs",
                )
            })
        })
        .transpose()?;
    let short = |field: &str, v: Option<String>| match v {
        Some(s) if s.is_empty() || s.chars().count() > 256 => {
            Err(Invalid::field(field, "must be 1 to 256 characters"))
        }
        other => Ok(other),
    };
    let filter = AssetFilter {
        id: id.to_string(),
        org_id: match scope {
            Scope::Org(org) => Some(org.clone()),
            Scope::Site(_) => previous.and_then(|p| p.org_id.clone()),
        },
        site_id: match scope {
            Scope::Site(site) => Some(site.clone()),
            Scope::Org(_) => None,
        },
        for_site: matches!(scope, Scope::Site(_)),
        name,
        disabled: take_bool(&mut obj, "disabled")?.unwrap_or(false),
        ibeacon_uuid,
        ibeacon_major: take_int(&mut obj, "ibeacon_major", 0..=65_535)?.map(|n| n as u16),
        eddystone_uid_namespace,
        eddystone_url: short("eddystone_url", take_string(&mut obj, "eddystone_url")?)?,
        mfg_company_id: take_int(&mut obj, "mfg_company_id", 0..=65_535)?.map(|n| n as u16),
        service_uuid: short("service_uuid", take_string(&mut obj, "service_uuid")?)?
            .map(|s| s.to_ascii_lowercase()),
        ap_mac,
        beam: take_int(&mut obj, "beam", 0..=65_535)?.map(|n| n as u16),
        rssi: take_int(&mut obj, "rssi", -128..=20)?.map(|n| n as i16),
        created_time: previous.map_or(now_s, |p| p.created_time),
        modified_time: now_s,
    };
    debug_assert!(obj.is_empty(), "every field is taken: {obj:?}");
    Ok(filter)
}

/// A MAC as `^[0-9A-Fa-f]{2}([:-]?[0-9A-Fa-f]{2}){5}$` writes it, as 12 lowercase hex
/// digits.
fn mac_hex(v: &str) -> Option<String> {
    let mut out = String::with_capacity(12);
    let mut rest = v.as_bytes();
    for pair in 0..6 {
        if pair > 0 && matches!(rest.first(), Some(b':' | b'-')) {
            rest = &rest[1..];
        }
        let (&[a, b], tail) = rest.split_first_chunk::<2>()?;
        if !a.is_ascii_hexdigit() || !b.is_ascii_hexdigit() {
            return None;
        }
        out.push(char::from(a.to_ascii_lowercase()));
        out.push(char::from(b.to_ascii_lowercase()));
        rest = tail;
    }
    rest.is_empty().then_some(out)
}

fn text<'a>(event: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    event.get(field).and_then(Value::as_str)
}

fn number(event: &Map<String, Value>, field: &str) -> Option<f64> {
    event.get(field).and_then(Value::as_f64)
}

impl AssetFilter {
    /// Whether this filter lets an asset event (one event of an asset topic) through.
    pub fn matches(&self, event: &Value) -> bool {
        let Some(event) = event.as_object() else {
            return false;
        };
        if self.disabled {
            return false;
        }
        let same_text = |want: &Option<String>, fields: &[&str]| {
            want.as_ref().is_none_or(|w| {
                fields
                    .iter()
                    .filter_map(|f| text(event, f))
                    .any(|v| v.eq_ignore_ascii_case(w))
            })
        };
        let same_number =
            |want: Option<f64>, field: &str| want.is_none_or(|w| number(event, field) == Some(w));
        let service = self.service_uuid.as_ref().is_none_or(|want| {
            event
                .get("service_packets")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|p| p.get("service_uuid").and_then(Value::as_str))
                .any(|u| u.eq_ignore_ascii_case(want))
        });
        let ap = self.ap_mac.as_ref().is_none_or(|want| {
            let heard_by = text(event, "ap_mac")
                .and_then(mist::mac::normalize_mac)
                .or_else(|| {
                    // Mist's device ids end with the device's MAC: 00000000-0000-0000-1000-<mac>.
                    text(event, "device_id")
                        .and_then(|d| d.rsplit('-').next())
                        .and_then(mist::mac::normalize_mac)
                });
            heard_by.as_deref() == Some(want.as_str())
        });
        let strong_enough = self
            .rssi
            .is_none_or(|floor| number(event, "rssi").is_some_and(|r| r >= f64::from(floor)));
        same_text(&self.ibeacon_uuid, &["ibeacon_uuid"])
            && same_number(self.ibeacon_major.map(f64::from), "ibeacon_major")
            && same_text(&self.eddystone_uid_namespace, &["eddystone_uid_namespace"])
            && same_text(&self.eddystone_url, &["eddystone_url", "eddystone_url_url"])
            && same_number(self.mfg_company_id.map(f64::from), "mfg_company_id")
            && service
            && ap
            && same_number(self.beam.map(f64::from), "beam")
            && strong_enough
    }
}

/// Whether `topic` is one asset filters apply to.
pub fn is_asset_topic(topic: &str) -> bool {
    ASSET_TOPICS.contains(&Topic::parse(topic))
}

#[cfg(test)]
mod tests;
