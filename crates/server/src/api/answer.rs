//! The shapes every resource's answers share: pages, times and the empty object.

use serde::{Serialize, Serializer};
use utoipa::ToSchema;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};

use super::params::rfc3339;

/// Every list answers `{"items": [...], "next_cursor": ...}`; `null` at the end.
#[derive(Serialize, ToSchema)]
pub struct List<T> {
    /// At most `limit` items, in the requested order.
    items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` when this page is the last.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

impl<T> List<T> {
    /// A page of `items`; `next` is the cursor of the following page, if any.
    pub(crate) fn new(items: Vec<T>, next: Option<i64>) -> List<T> {
        List {
            items,
            next_cursor: next.map(|n| n.to_string()),
        }
    }
}

/// An instant, kept as unix µs and shown as RFC 3339 UTC with microseconds
/// (`2025-06-15T14:34:37.621725Z`), the format of every time the API answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Time(pub i64);

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&rfc3339(self.0))
    }
}

impl utoipa::PartialSchema for Time {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some("RFC 3339 UTC with microseconds."))
            .into()
    }
}

impl ToSchema for Time {}

/// Unix µs, optional, as an optional [`Time`].
pub(crate) fn time(us: Option<i64>) -> Option<Time> {
    us.map(Time)
}

/// An empty object, `{}`: the answer of a `DELETE` that has nothing to say.
#[derive(Serialize, ToSchema)]
pub struct Empty {}
