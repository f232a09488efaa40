//! The subscriptions the delivery engine works with, kept in memory and swapped whole
//! when the API changes one, so the stage and the lanes read them without a query.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use store::{Store, StoreError};
use tokio::sync::watch;

use crate::subscription::Subscription;

/// One consistent set of subscriptions.
#[derive(Debug, Default)]
pub struct Subscriptions {
    by_id: HashMap<String, Arc<Subscription>>,
    /// Enabled subscriptions per canonical topic.
    by_topic: HashMap<String, Vec<Arc<Subscription>>>,
}

impl Subscriptions {
    /// Builds the set from checked subscriptions.
    pub fn new(subscriptions: impl IntoIterator<Item = Subscription>) -> Self {
        let mut set = Subscriptions::default();
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
        let subs = rows.into_iter().filter_map(|row| {
            serde_json::from_str::<Subscription>(&row.record)
                .inspect_err(
                    |e| tracing::warn!(id = %row.id, error = %e, "skipping an unreadable webhook"),
                )
                .ok()
        });
        let set = Arc::new(Subscriptions::new(subs));
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
