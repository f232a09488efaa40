//! The device board's reads: devices as tiles (no record: the name comes from the
//! generated `name` column), and names by device id.

use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

use super::state_tables::device_clause;
use crate::{DeviceFilter, DeviceTile, StoreError};

/// Up to `limit` devices matching `filter`, in id order, as tiles.
pub(crate) fn tiles(
    conn: &Connection,
    filter: &DeviceFilter,
    limit: u32,
) -> Result<Vec<DeviceTile>, StoreError> {
    let (clause, mut values) = device_clause(filter).finish_where();
    values.push(Value::Integer(i64::from(limit)));
    let sql = format!(
        "SELECT id, org_id, mac, kind, site_id, state, since, name FROM devices {clause} ORDER BY id LIMIT ?"
    );
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(values), |r| {
            Ok(DeviceTile {
                device_id: r.get(0)?,
                org_id: r.get(1)?,
                mac: r.get(2)?,
                kind: r.get(3)?,
                site_id: r.get(4)?,
                state: r.get(5)?,
                since: r.get(6)?,
                name: r.get(7)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The names of the devices `ids` (those that have one).
pub(crate) fn names(conn: &Connection, ids: &[i64]) -> Result<Vec<(i64, String)>, StoreError> {
    let list = serde_json::to_string(ids).expect("ids serialise");
    let rows = conn
        .prepare_cached(
            "SELECT id, name FROM devices WHERE id IN (SELECT value FROM json_each(?1)) AND name IS NOT NULL",
        )?
        .query_map([list], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
