//! The subscriptions the delivery engine works with, kept in memory and swapped whole
//! when the API changes one, so the stage and the lanes read them without a query.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use store::{Store, StoreError};
use tokio::sync::watch;

use crate::subscription::Subscription;
use crate::subscription::assetfilter::{self, AssetFilter};

/// One consistent set of subscriptions, with the asset filters they name.
#[derive(Debug, Default)]
pub struct Subscriptions {
    by_id: HashMap<String, Arc<Subscription>>,
    /// Enabled subscriptions per canonical topic.
    by_topic: HashMap<String, Vec<Arc<Subscription>>>,
    /// Asset filters by id.
    filters: HashMap<String, AssetFilter>,
}

impl Subscriptions {
    /// Builds the set from checked subscriptions.
    pub fn new(subscriptions: impl IntoIterator<Item = Subscription>) -> Self {
        Subscriptions::with_filters(subscriptions, [])
    }

    /// Builds the set from checked subscriptions and asset filters.
    pub fn with_filters(
        subscriptions: impl IntoIterator<Item = Subscription>,
        filters: impl IntoIterator<Item = AssetFilter>,
    ) -> Self {
        let mut set = Subscriptions {
            filters: filters.into_iter().map(|f| (f.id.clone(), f)).collect(),
            ..Subscriptions::default()
        };
        for s in subscriptions {
            let s = Arc::new(s);
            if s.enabled {
                for topic in &s.topics {
                    set.by_topic
                        .entry(topic.clone())
                        .or_default()
                        .push(s.clone());
                }
            }
            set.by_id.insert(s.id.clone(), s);
        }
        set
    }

    /// The subscription `id`, enabled or not.
    pub fn get(&self, id: &str) -> Option<&Arc<Subscription>> {
        self.by_id.get(id)
    }

    /// Every subscription's id.
    pub fn ids(&self) -> Vec<String> {
        self.by_id.keys().cloned().collect()
    }

    /// The topics some enabled subscription wants.
    pub fn topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = self.by_topic.keys().cloned().collect();
        topics.sort();
        topics
    }

    /// The enabled subscriptions an event goes to: org webhooks of its org and site
    /// webhooks of its site that take its topic and existed when it was received (a new
    /// webhook gets what arrives after it, as in Mist). An org and a site webhook both
    /// matching both get it.
    pub fn matching<'a>(
        &'a self,
        topic: &str,
        org_id: Option<&'a str>,
        site_id: Option<&'a str>,
        received_at_us: i64,
    ) -> impl Iterator<Item = &'a Arc<Subscription>> + 'a {
        self.by_topic
            .get(topic)
            .into_iter()
            .flatten()
            .filter(move |s| {
                let scope_matches = if s.for_site {
                    site_id.is_some() && s.site_id.as_deref() == site_id
                } else {
                    org_id.is_some() && s.org_id.as_deref() == org_id
                };
                // created_time is in seconds; one second of slack for its rounding.
                scope_matches && received_at_us >= ((s.created_time - 1.0) * 1e6) as i64
            })
    }

    /// Whether `sub`'s asset filters decide if it gets an event of `topic`: it names some
    /// and `topic` is an asset topic.
    pub fn filters_apply(&self, sub: &Subscription, topic: &str) -> bool {
        !sub.assetfilter_ids.is_empty() && assetfilter::is_asset_topic(topic)
    }

    /// Whether one of `sub`'s asset filters lets `event` (its JSON) through; none does
    /// when none of them exists any more.
    pub fn filters_admit(&self, sub: &Subscription, event: &serde_json::Value) -> bool {
        sub.assetfilter_ids
            .iter()
            .filter_map(|id| self.filters.get(id))
            .any(|f| f.matches(event))
    }

    /// How many subscriptions there are.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// The current set, shared, with a version that changes on every reload.
pub struct Registry {
    current: RwLock<Arc<Subscriptions>>,
    version: watch::Sender<u64>,
}

impl Registry {
    /// Reads every subscription from the store. Unreadable records are skipped (logged).
    pub async fn load(store: &dyn Store) -> Result<Registry, StoreError> {
        let registry = Registry {
            current: RwLock::new(Arc::new(Subscriptions::default())),
            version: watch::Sender::new(0),
        };
        registry.reload(store).await?;
        Ok(registry)
    }

    /// An empty registry that never reloads from a store (tests, tools).
    pub fn fixed(subscriptions: impl IntoIterator<Item = Subscription>) -> Registry {
        Registry {
            current: RwLock::new(Arc::new(Subscriptions::new(subscriptions))),
            version: watch::Sender::new(0),
        }
    }

    /// Reads the subscriptions again (after the API changed one).
    pub async fn reload(&self, store: &dyn Store) -> Result<(), StoreError> {
        let rows = store.subscriptions(None).await?;
        let (mut subs, mut filters) = (Vec::new(), Vec::new());
        for row in rows {
            let filter = matches!(
                row.scope.as_str(),
                assetfilter::ORG_SCOPE | assetfilter::SITE_SCOPE
            );
            let read = if filter {
                serde_json::from_str(&row.record).map(|f| filters.push(f))
            } else {
                serde_json::from_str(&row.record).map(|s| subs.push(s))
            };
            if let Err(e) = read {
                tracing::warn!(id = %row.id, error = %e, "skipping an unreadable webhook or asset filter");
            }
        }
        let set = Arc::new(Subscriptions::with_filters(subs, filters));
        *self.current.write().expect("registry lock") = set;
        self.version.send_modify(|v| *v += 1);
        Ok(())
    }

    /// The current set.
    pub fn current(&self) -> Arc<Subscriptions> {
        self.current.read().expect("registry lock").clone()
    }

    /// Changes whenever the set is reloaded.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }
}
