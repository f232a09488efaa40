//! (being written) The PostgreSQL side of the store's state methods.

use super::PgStore;

/// This part's tables (a migration of `schema.rs`).
pub(super) const SCHEMA: &str = "SELECT 1";

#[allow(dead_code)]
fn _uses(_: &PgStore) {}
