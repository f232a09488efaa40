//! `/ui/`: the overview. Events per minute per topic (last hour and 24 hours), the sources,
//! open incidents by kind and site, devices down, deliveries waiting or dead, stage lag.
//! Every number links to the page that lists what it counts.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use axum::extract::State;
use deliver::clock::now_us;
use serde::Serialize;
use store::{BatchFilter, BatchState, DeviceFilter, Order, PageRequest, SeriesQuery};

use super::chart::{self, Series};
use super::{Html, Signed, page};
use crate::api::params::rfc3339;
use crate::app_state::AppState;

/// Most incidents and devices read to count them (more shows as "1000+").
const COUNT_LIMIT: u32 = 1_000;

/// A stacked chart of events per minute per topic: `minutes` back from `now`, `step`
/// minutes a bucket. Returns the SVG and the legend (topic, events).
pub(crate) async fn events_chart(
    app: &AppState,
    now: i64,
    minutes: u32,
    step: u32,
    label: &str,
) -> Result<(String, Vec<(String, i64)>), store::StoreError> {
    const MINUTE: i64 = 60_000_000;
    let step_us = i64::from(step) * MINUTE;
    let end = (now / step_us + 1) * step_us;
    let buckets = (minutes / step) as usize;
    let start = end - buckets as i64 * step_us;
    let points = app
        .store
        .series(SeriesQuery {
            since: start,
            until: end - 1,
            step_minutes: step,
            topic: None,
            source: None,
        })
        .await?;
    let mut by_topic: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for p in points {
        let i = ((p.bucket - start) / step_us) as usize;
        if i < buckets {
            // Events per minute, whatever the bucket's width.
            by_topic
                .entry(p.topic)
                .or_insert_with(|| vec![0.0; buckets])[i] += p.events as f64 / f64::from(step);
        }
    }
    let series = chart::top_series(
        by_topic
            .into_iter()
            .map(|(name, values)| Series { name, values })
            .collect(),
    );
    let legend = series
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                (s.values.iter().sum::<f64>() * f64::from(step)).round() as i64,
            )
        })
        .collect();
    let labels: Vec<(usize, String)> = [0, buckets / 2, buckets.saturating_sub(1)]
        .into_iter()
        .map(|i| {
            (
                i,
                rfc3339(start + i as i64 * step_us)[11..16].to_string() + "Z",
            )
        })
        .collect();
    Ok((chart::stacked(&series, buckets, &labels, label), legend))
}

#[derive(Serialize, Default)]
struct SourceLine {
    name: String,
    events: i64,
    requests: i64,
    duplicates: i64,
    last: Option<String>,
    signature_failures: u64,
    quarantined: i64,
    configured: bool,
}

#[derive(Serialize)]
struct Count {
    key: String,
    label: String,
    count: i64,
}

#[derive(Serialize)]
struct Destination {
    id: String,
    label: String,
    href: String,
    pending: i64,
    oldest: Option<String>,
    dead: usize,
}

/// `GET /ui/`.
pub async fn show(signed: Signed, State(app): State<Arc<AppState>>) -> Html {
    let now = now_us();
    let (hour_svg, hour_legend) =
        events_chart(&app, now, 60, 1, "Events per minute per topic, last hour").await?;
    let (day_svg, day_legend) = events_chart(
        &app,
        now,
        1_440,
        15,
        "Events per minute per topic, last 24 hours",
    )
    .await?;

    let stats = app.store.stats().await?;
    let mut sources: BTreeMap<String, SourceLine> = app
        .sources
        .all()
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                SourceLine {
                    name: s.name.clone(),
                    signature_failures: s.rejected_total.load(Relaxed),
                    configured: true,
                    ..Default::default()
                },
            )
        })
        .collect();
    let mut newest_source: BTreeMap<String, i64> = BTreeMap::new();
    for row in &stats.rows {
        let line = sources
            .entry(row.source.clone())
            .or_insert_with(|| SourceLine {
                name: row.source.clone(),
                ..Default::default()
            });
        line.events += row.events;
        line.requests += row.requests;
        line.duplicates += row.duplicates;
        let newest = newest_source.entry(row.source.clone()).or_insert(0);
        *newest = (*newest).max(row.last_received_at);
    }
    for (name, n) in app.store.quarantine_by_source().await? {
        sources
            .entry(name.clone())
            .or_insert_with(|| SourceLine {
                name,
                ..Default::default()
            })
            .quarantined = n;
    }
    for (name, at) in newest_source {
        if let Some(line) = sources.get_mut(&name) {
            line.last = (at > 0).then(|| rfc3339(at));
        }
    }

    // Counts come from grouped counts, never from reading the records.
    let mut by_kind: BTreeMap<String, i64> = BTreeMap::new();
    let mut by_site: BTreeMap<String, i64> = BTreeMap::new();
    let mut open_count = 0;
    for t in app.store.incident_tallies().await? {
        if t.state == "resolved" {
            continue;
        }
        open_count += t.count;
        *by_kind.entry(t.kind).or_default() += t.count;
        *by_site.entry(t.site_id.unwrap_or_default()).or_default() += t.count;
    }
    let mut top_sites: Vec<(&String, &i64)> = by_site.iter().collect();
    top_sites.sort_by(|a, b| b.1.cmp(a.1));
    let top_ids: Vec<String> = top_sites
        .iter()
        .take(12)
        .map(|(id, _)| (*id).clone())
        .collect();
    app.site_names.resolve(app.store.as_ref(), &top_ids).await?;
    let site_label = |id: &str| {
        if id.is_empty() {
            "no site".to_string()
        } else {
            app.site_names
                .get(id)
                .unwrap_or_else(|| id.chars().take(8).collect())
        }
    };
    let mut kinds: Vec<Count> = by_kind
        .into_iter()
        .map(|(k, count)| Count {
            label: k.replace('_', " "),
            key: k,
            count,
        })
        .collect();
    kinds.sort_by_key(|k| std::cmp::Reverse(k.count));
    let mut sites: Vec<Count> = by_site
        .into_iter()
        .map(|(k, count)| Count {
            label: site_label(&k),
            key: k,
            count,
        })
        .collect();
    sites.sort_by_key(|s| std::cmp::Reverse(s.count));
    sites.truncate(12);
    let down_count: i64 = app
        .store
        .device_tallies()
        .await?
        .iter()
        .filter(|t| t.state == "down")
        .map(|t| t.count)
        .sum();
    let down = app
        .store
        .devices(
            DeviceFilter {
                state: Some("down".into()),
                ..Default::default()
            },
            PageRequest {
                limit: 12,
                after: None,
                order: Order::Desc,
            },
        )
        .await?;

    let names: BTreeMap<String, String> = app
        .store
        .subscriptions(None)
        .await?
        .into_iter()
        .map(|s| {
            let name = serde_json::from_str::<serde_json::Value>(&s.record)
                .ok()
                .and_then(|v| v.get("name").and_then(|n| n.as_str()).map(str::to_string))
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| s.id.chars().take(8).collect());
            (s.id, name)
        })
        .collect();
    let mut destinations: BTreeMap<String, Destination> = BTreeMap::new();
    for (id, pending, oldest) in app.store.pending_by_destination().await? {
        let d = destination(&mut destinations, &names, &id);
        d.pending = pending;
        d.oldest = Some(rfc3339(oldest));
    }
    let dead = app
        .store
        .batches(
            BatchFilter {
                state: Some(BatchState::Dead),
                ..Default::default()
            },
            PageRequest {
                limit: COUNT_LIMIT,
                after: None,
                order: Order::Desc,
            },
        )
        .await?;
    for b in &dead.items {
        destination(&mut destinations, &names, &b.subscription_id).dead += 1;
    }

    let newest_event = app
        .store
        .events(
            Default::default(),
            PageRequest {
                limit: 1,
                after: None,
                order: Order::Desc,
            },
        )
        .await?
        .items
        .first()
        .map(|e| e.id)
        .unwrap_or(0);
    let stages: Vec<_> = app
        .stages
        .snapshot()
        .into_iter()
        .map(|(name, s)| {
            minijinja::context! {
                name => name,
                running => s.running,
                restarts => s.restarts,
                lag => s.position.map(|p| (newest_event - p).max(0)),
                progressed => s.progressed_at.map(rfc3339),
            }
        })
        .collect();
    let backfill = app.backfill.current(app.store.as_ref()).await;

    page(
        &signed,
        "overview.html",
        "overview",
        minijinja::context! {
            title => "Overview",
            hour_svg => minijinja::Value::from_safe_string(hour_svg),
            hour_legend => hour_legend,
            day_svg => minijinja::Value::from_safe_string(day_svg),
            day_legend => day_legend,
            sources => sources.into_values().collect::<Vec<_>>(),
            quarantined => stats.quarantined,
            open_count => open_count,
            kinds => kinds,
            sites => sites,
            down => down.items.iter().map(|d| minijinja::context! {
                mac => d.mac.clone(), kind => d.kind.clone(), site_id => d.site_id.clone(),
                since => rfc3339(d.since),
                name => serde_json::from_str::<serde_json::Value>(&d.record).ok()
                    .and_then(|v| v.get("name").and_then(|n| n.as_str()).map(str::to_string)),
            }).collect::<Vec<_>>(),
            down_count => down_count,
            destinations => destinations.into_values().collect::<Vec<_>>(),
            stages => stages,
            dead_capped => dead.next.is_some(),
            newest_event => newest_event,
            backfill => backfill,
        },
    )
}

/// The line of destination `id` (a webhook id, or `target:<name>`), added when new.
fn destination<'a>(
    all: &'a mut BTreeMap<String, Destination>,
    names: &BTreeMap<String, String>,
    id: &str,
) -> &'a mut Destination {
    all.entry(id.to_string()).or_insert_with(|| {
        let (label, href) = match id.strip_prefix("target:") {
            Some(t) => (format!("target {t}"), format!("/ui/deliveries/targets/{t}")),
            None => (
                format!(
                    "webhook {}",
                    names
                        .get(id)
                        .cloned()
                        .unwrap_or_else(|| id.chars().take(8).collect())
                ),
                format!("/ui/deliveries/webhooks/{id}"),
            ),
        };
        Destination {
            id: id.to_string(),
            label,
            href,
            pending: 0,
            oldest: None,
            dead: 0,
        }
    })
}
