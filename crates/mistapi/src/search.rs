//! Mist's searches (alarms, device events) and the audit log: a time range, pages of
//! `limit`, and a `next` link to follow until there is none. What backfill reads.

use reqwest::Method;
use serde_json::Value;

use crate::{Client, MistError};

/// A time range in epoch seconds, as Mist's searches take it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    pub start: f64,
    pub end: f64,
}

impl Range {
    /// Whole seconds, widened outwards (`start` floored, `end` ceiled): Mist's examples
    /// and clients write integers, and a wider range only returns what the caller
    /// already compares against.
    pub(crate) fn query(self) -> Vec<(&'static str, String)> {
        vec![
            ("start", format!("{}", self.start.floor() as i64)),
            ("end", format!("{}", self.end.ceil() as i64)),
        ]
    }
}

/// The most results one search page asks for.
const PAGE: usize = 1000;

impl Client {
    /// Every result of a search (or the audit log) over `range`, oldest first, following
    /// `next`; at most `max` (what a caller can take in one go).
    pub async fn search(
        &self,
        path: &str,
        range: Range,
        extra: &[(&str, String)],
        max: usize,
    ) -> Result<Vec<Value>, MistError> {
        let mut query = range.query();
        query.extend(extra.iter().cloned());
        query.push(("limit", PAGE.min(max.max(1)).to_string()));
        query.push(("sort", "timestamp".to_string()));
        let (_, mut page) = self.send(Method::GET, path, &query, None).await?;
        let mut all = Vec::new();
        loop {
            let results = page
                .get("results")
                .and_then(Value::as_array)
                .cloned()
                .ok_or_else(|| MistError::Shape {
                    call: format!("GET /api/v1/{path}"),
                    detail: "no `results` array".into(),
                })?;
            let empty = results.is_empty();
            all.extend(results);
            let next = page.get("next").and_then(Value::as_str).map(str::to_string);
            match next {
                Some(next) if !empty && all.len() < max => {
                    let url = self.base().join(&next).map_err(|_| MistError::Shape {
                        call: format!("GET /api/v1/{path}"),
                        detail: format!("`next` is not a URL: {next}"),
                    })?;
                    page = self.send_url(Method::GET, url, None).await?.1;
                }
                _ => break,
            }
        }
        all.truncate(max);
        Ok(all)
    }

    /// The org's alarms over `range` (`searchOrgAlarms`).
    pub async fn alarms(
        &self,
        org: &str,
        range: Range,
        max: usize,
    ) -> Result<Vec<Value>, MistError> {
        self.search(&format!("orgs/{org}/alarms/search"), range, &[], max)
            .await
    }

    /// The org's device events of `device_type` (`ap`, `switch`, `gateway`) over `range`
    /// (`searchOrgDeviceEvents`).
    pub async fn device_events(
        &self,
        org: &str,
        device_type: &str,
        range: Range,
        max: usize,
    ) -> Result<Vec<Value>, MistError> {
        let extra = [("device_type", device_type.to_string())];
        self.search(
            &format!("orgs/{org}/devices/events/search"),
            range,
            &extra,
            max,
        )
        .await
    }

    /// The org's audit log over `range` (`listOrgAuditLogs`).
    pub async fn audit_logs(
        &self,
        org: &str,
        range: Range,
        max: usize,
    ) -> Result<Vec<Value>, MistError> {
        self.search(&format!("orgs/{org}/logs"), range, &[], max)
            .await
    }
}
