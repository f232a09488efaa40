//! Site names for the console: `[routing] site_names` first, then what the events
//! themselves say (`site_name`, which most Mist topics carry), learned as pages read events
//! and, for a site no page has shown yet, from its newest events.

use std::collections::BTreeMap;
use std::sync::RwLock;

use serde_json::Value;
use store::{EventFilter, Order, PageRequest, Store};

/// Most sites remembered (beyond it, names are looked up again).
const MAX_LEARNED: usize = 10_000;

/// The site names this process knows.
#[derive(Default)]
pub struct SiteNames {
    configured: BTreeMap<String, String>,
    learned: RwLock<BTreeMap<String, String>>,
    /// Sites looked up without finding a name, so that a page does not look again.
    unnamed: RwLock<std::collections::BTreeSet<String>>,
    /// What Mist's API names (`[mist]`), below the configured and learned names.
    api: deliver::engine::SharedNames,
}

impl SiteNames {
    /// Starts from the configured names.
    pub fn new(configured: BTreeMap<String, String>) -> SiteNames {
        SiteNames {
            configured,
            ..Default::default()
        }
    }

    /// With the names Mist's API gives (kept up to date by `[mist]`'s sync).
    pub fn with_api(
        configured: BTreeMap<String, String>,
        api: deliver::engine::SharedNames,
    ) -> SiteNames {
        SiteNames {
            configured,
            api,
            ..Default::default()
        }
    }

    /// Every name known now: configured names win over learned ones, which win over
    /// Mist's API's.
    pub fn all(&self) -> BTreeMap<String, String> {
        let mut all: BTreeMap<String, String> = self
            .api
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .sites()
            .clone();
        all.extend(self.learned.read().expect("site names lock").clone());
        all.extend(self.configured.clone());
        all
    }

    /// The name of site `id`, if known.
    pub fn get(&self, id: &str) -> Option<String> {
        self.configured
            .get(id)
            .cloned()
            .or_else(|| {
                self.learned
                    .read()
                    .expect("site names lock")
                    .get(id)
                    .cloned()
            })
            .or_else(|| {
                self.api
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .site(id)
                    .map(str::to_string)
            })
    }

    /// The name of map `id`, as Mist's API names it (`[mist]`).
    pub fn map(&self, id: &str) -> Option<String> {
        self.api
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .map(id)
            .map(str::to_string)
    }

    /// Whether Mist's API named any map (so that event views look for `map_id`).
    pub fn has_maps(&self) -> bool {
        !self
            .api
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .maps()
            .is_empty()
    }

    /// Learns from event views (`site_id` and `site_name` fields).
    pub fn learn_from_views(&self, events: &Value) {
        let Some(events) = events.as_array() else {
            return;
        };
        let found: Vec<(String, String)> = events
            .iter()
            .filter_map(|e| {
                Some((
                    e["site_id"].as_str()?.to_string(),
                    e["site_name"].as_str()?.to_string(),
                ))
            })
            .collect();
        self.learn(found);
    }

    fn learn(&self, found: impl IntoIterator<Item = (String, String)>) {
        let mut learned = self.learned.write().expect("site names lock");
        for (id, name) in found {
            if learned.len() >= MAX_LEARNED && !learned.contains_key(&id) {
                continue;
            }
            learned.insert(id, name);
        }
    }

    /// Names the sites of `ids` that are not known yet from each one's newest events
    /// (a few indexed reads per unknown site, once per site and process).
    pub async fn resolve(
        &self,
        store: &dyn Store,
        ids: &[String],
    ) -> Result<(), store::StoreError> {
        for id in ids {
            if id.is_empty()
                || self.get(id).is_some()
                || self.unnamed.read().expect("site names lock").contains(id)
            {
                continue;
            }
            let page = store
                .events(
                    EventFilter {
                        site_id: Some(id.clone()),
                        ..Default::default()
                    },
                    PageRequest {
                        limit: 20,
                        after: None,
                        order: Order::Desc,
                    },
                )
                .await?;
            let name = page
                .items
                .iter()
                .find_map(|e| mist::describe(&mist::Topic::parse(&e.topic), &e.raw).site_name);
            match name {
                Some(n) => self.learn([(id.clone(), n)]),
                None => {
                    let mut unnamed = self.unnamed.write().expect("site names lock");
                    if unnamed.len() < MAX_LEARNED {
                        unnamed.insert(id.clone());
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_names_win_and_events_teach_the_rest() {
        let names = SiteNames::new(BTreeMap::from([("s1".to_string(), "HQ".to_string())]));
        names.learn_from_views(&serde_json::json!([
            {"site_id": "s1", "site_name": "Not HQ"},
            {"site_id": "s2", "site_name": "Branch"},
            {"site_id": "s3"},
        ]));
        assert_eq!(names.get("s1").as_deref(), Some("HQ"));
        assert_eq!(names.get("s2").as_deref(), Some("Branch"));
        assert_eq!(names.get("s3"), None);
        assert_eq!(names.all().len(), 2);
        assert_eq!(names.all()["s1"], "HQ");
    }
}
