//! The device history: every change of every device, appended with the stage commit that
//! made it, never rewritten. Retention keeps it: a handful of rows per device and outage
//! (10,000 devices with 100 changes each are a million short rows).
//!
//! Two indexes serve the reads: `(org_id, mac, at, id)` finds a device's newest change at
//! or before a time with one descent (the board at a moment: one per device), and
//! `(org_id, mac, id)` pages one device's history newest first.

use rusqlite::types::Value;
use rusqlite::{Connection, Row, Transaction, params, params_from_iter};

use super::read::{Clause, paged};
use crate::{DeviceAt, DeviceFilter, DeviceHistoryRow, Page, PageRequest, StoreError};

/// Appends a stage commit's device changes inside its transaction. A change already in
/// the history (same device, event and kind) is left as it is.
pub(crate) fn write(tx: &Transaction<'_>, rows: &[DeviceHistoryRow]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO device_history (org_id, mac, kind, site_id, at, change, state, since, event_id, note)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (org_id, mac, event_id, change) DO NOTHING",
    )?;
    for r in rows {
        insert.execute(params![
            r.org_id, r.mac, r.kind, r.site_id, r.at, r.change, r.state, r.since, r.event_id,
            r.note
        ])?;
    }
    Ok(())
}

const COLUMNS: &str = "id, org_id, mac, kind, site_id, at, change, state, since, event_id, note";

fn history_row(r: &Row<'_>) -> rusqlite::Result<DeviceHistoryRow> {
    Ok(DeviceHistoryRow {
        id: r.get(0)?,
        org_id: r.get(1)?,
        mac: r.get(2)?,
        kind: r.get(3)?,
        site_id: r.get(4)?,
        at: r.get(5)?,
        change: r.get(6)?,
        state: r.get(7)?,
        since: r.get(8)?,
        event_id: r.get(9)?,
        note: r.get(10)?,
    })
}

/// One device's history, keyset-paged by id (newest first unless asked otherwise).
pub(crate) fn device_history(
    conn: &Connection,
    org_id: &str,
    mac: &str,
    page: PageRequest,
) -> Result<Page<DeviceHistoryRow>, StoreError> {
    let mut c = Clause::default();
    c.eq("org_id = ?", &Some(org_id.to_string()));
    c.eq("mac = ?", &Some(mac.to_string()));
    let (tail, values) = c.finish("id", page);
    let sql =
        format!("SELECT {COLUMNS} FROM device_history INDEXED BY device_history_device{tail}");
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(values), history_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(paged(rows, page, |r| r.id))
}

/// The query of [`devices_at`] and its bound values.
fn board_statement(at: i64, filter: &DeviceFilter) -> (String, Vec<Value>) {
    let mut c = Clause::default();
    c.eq("h.org_id = ?", &filter.org_id);
    c.eq("h.site_id = ?", &filter.site_id);
    c.eq("h.kind = ?", &filter.kind);
    c.eq("h.state = ?", &filter.state);
    let (filter_sql, filter_values) = c.finish_where();
    let mut values = vec![Value::Integer(at)];
    values.extend(filter_values);
    // Driven by the device list (one row per device, read from its (mac, org_id) index,
    // not from the table and its records): for each device, one descent of
    // `device_history_at` to its newest change at or before the time. No ORDER BY: with
    // one, SQLite reads the table in id order instead; the caller sorts.
    let sql = format!(
        "SELECT d.id, h.org_id, h.mac, h.kind, h.site_id, h.state, h.since, h.id
         FROM devices d
         JOIN device_history h ON h.id = (
             SELECT x.id FROM device_history x INDEXED BY device_history_at
             WHERE x.org_id = d.org_id AND x.mac = d.mac AND x.at <= ?1
             ORDER BY x.at DESC, x.id DESC LIMIT 1)
         {filter_sql}"
    );
    (sql, values)
}

/// Every device as of `at`: its newest history row at or before it (by event time, then
/// id), filtered on that row's values; devices with no change by then are left out.
/// Ordered by device row id (the order devices were first seen).
pub(crate) fn devices_at(
    conn: &Connection,
    at: i64,
    filter: &DeviceFilter,
) -> Result<Vec<DeviceAt>, StoreError> {
    let (sql, values) = board_statement(at, filter);
    let mut rows = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(values), |r| {
            Ok(DeviceAt {
                device_id: r.get(0)?,
                org_id: r.get(1)?,
                mac: r.get(2)?,
                kind: r.get(3)?,
                site_id: r.get(4)?,
                state: r.get(5)?,
                since: r.get(6)?,
                change_id: r.get(7)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.sort_unstable_by_key(|d| d.device_id);
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(conn: &Connection, sql: &str, values: Vec<Value>) -> Vec<String> {
        conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map(params_from_iter(values), |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// A database of schema version 6 (before the history) whose devices have timelines:
    /// migration 7 starts the history from them, with each change's state (a restart's
    /// from the record: the state it shows holding then, else the timeline's newest
    /// state change before it, else unknown), and the reads find them.
    #[test]
    fn migration_7_starts_the_history_from_the_device_timelines() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate_to(&mut conn, 6).unwrap();
        assert!(conn.prepare("SELECT 1 FROM device_history").is_err());
        let timeline = |entries: &[(i64, &str, i64)]| -> String {
            let items: Vec<String> = entries
                .iter()
                .map(|(at, change, event)| {
                    format!(
                        r#"{{"at":{at},"event_id":{event},"change":"{change}","note":"n{event}"}}"#
                    )
                })
                .collect();
            format!(r#"{{"timeline":[{}]}}"#, items.join(","))
        };
        let devices = [
            // Restarted while down (the down is before it in the timeline), then up with
            // a flap, then restarted while up.
            (
                "aa01",
                "up",
                300,
                timeline(&[
                    (100, "down", 1),
                    (150, "restarted", 2),
                    (300, "up", 5),
                    (300, "flap", 5),
                    (400, "restarted", 7),
                ]),
            ),
            // Only seen restarting: unknown since then.
            ("aa02", "unknown", 50, timeline(&[(50, "restarted", 3)])),
            // A cut timeline (its first entries dropped): a restart before any state
            // change it still holds is of an unknown state.
            (
                "aa03",
                "down",
                500,
                timeline(&[(450, "restarted", 8), (500, "down", 9)]),
            ),
            // No change yet.
            ("aa04", "unknown", 600, timeline(&[])),
        ];
        for (mac, state, since, record) in &devices {
            conn.execute(
                "INSERT INTO devices (org_id, mac, kind, site_id, state, since, record)
                 VALUES ('o', ?1, 'ap', 's', ?2, ?3, ?4)",
                params![mac, state, since, record],
            )
            .unwrap();
        }
        super::super::schema::migrate(&mut conn).unwrap();

        let all = PageRequest {
            limit: 100,
            after: None,
            order: crate::Order::Asc,
        };
        let history = |mac: &str| -> Vec<(i64, String, String, i64, i64, String)> {
            device_history(&conn, "o", mac, all)
                .unwrap()
                .items
                .into_iter()
                .map(|r| {
                    assert_eq!((r.kind.as_str(), r.site_id.as_deref()), ("ap", Some("s")));
                    (
                        r.at,
                        r.change,
                        r.state,
                        r.since,
                        r.event_id.unwrap(),
                        r.note,
                    )
                })
                .collect()
        };
        let row = |at: i64, change: &str, state: &str, since: i64, event: i64| {
            let (change, state) = (change.to_string(), state.to_string());
            (at, change, state, since, event, format!("n{event}"))
        };
        assert_eq!(
            history("aa01"),
            [
                row(100, "down", "down", 100, 1),
                row(150, "restarted", "down", 100, 2),
                row(300, "up", "up", 300, 5),
                row(300, "flap", "up", 300, 5),
                row(400, "restarted", "up", 300, 7),
            ]
        );
        assert_eq!(history("aa02"), [row(50, "restarted", "unknown", 50, 3)]);
        assert_eq!(
            history("aa03"),
            [
                row(450, "restarted", "unknown", 450, 8),
                row(500, "down", "down", 500, 9),
            ]
        );
        assert_eq!(history("aa04"), []);
        let board: Vec<(String, String, i64)> = devices_at(&conn, 460, &DeviceFilter::default())
            .unwrap()
            .into_iter()
            .map(|d| (d.mac, d.state, d.since))
            .collect();
        let entry =
            |mac: &str, state: &str, since: i64| (mac.to_string(), state.to_string(), since);
        assert_eq!(
            board,
            [
                entry("aa01", "up", 300),
                entry("aa02", "unknown", 50),
                entry("aa03", "unknown", 450)
            ]
        );
    }

    /// The board reads the device list once and descends the history index once per
    /// device: no scan of the history, no sort.
    #[test]
    fn the_board_is_one_index_descent_per_device() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        for filter in [
            DeviceFilter::default(),
            DeviceFilter {
                org_id: Some("o".into()),
                state: Some("down".into()),
                ..DeviceFilter::default()
            },
        ] {
            let (sql, values) = board_statement(5, &filter);
            let plan = plan(&conn, &sql, values);
            assert!(
                plan.iter().any(|p| p.starts_with(
                    "SEARCH x USING COVERING INDEX device_history_at (org_id=? AND mac=? AND at<?)"
                )),
                "{plan:?}"
            );
            assert!(
                plan.iter()
                    .any(|p| p.starts_with("SCAN d USING COVERING INDEX")),
                "the device list's index drives: {plan:?}"
            );
            assert!(
                !plan.iter().any(|p| p.contains("SCAN h")
                    || p.contains("SCAN x")
                    || p.contains("TEMP B-TREE")),
                "{plan:?}"
            );
        }
        let page = PageRequest::default();
        let mut c = Clause::default();
        c.eq("org_id = ?", &Some("o".to_string()));
        c.eq("mac = ?", &Some("m".to_string()));
        let (tail, values) = c.finish("id", page);
        let sql =
            format!("SELECT {COLUMNS} FROM device_history INDEXED BY device_history_device{tail}");
        let plan = plan(&conn, &sql, values);
        assert!(!plan.iter().any(|p| p.contains("TEMP B-TREE")), "{plan:?}");
    }
}
