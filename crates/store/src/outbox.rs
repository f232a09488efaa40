//! What the delivery stage keeps: the outbox of batches waiting for (or done with) their
//! subscriber, and the record of every attempt.
//!
//! A batch is one HTTP request body for one subscription: the stage builds it once, and
//! writes it with its new cursor in one transaction ([`crate::Store::outbox_commit`]), so
//! a crash never loses an event between the log and the outbox, nor batches one twice.
//! The dispatcher then records each attempt together with the batch's next state
//! ([`crate::Store::record_attempts`]).

/// Where a batch stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchState {
    /// Waiting for its first attempt or a retry at `due_at`.
    Pending,
    /// A 2xx answer was received.
    Delivered,
    /// Refused by the receiver, or out of retries: kept until replayed or pruned.
    Dead,
}

impl BatchState {
    pub fn as_str(self) -> &'static str {
        match self {
            BatchState::Pending => "pending",
            BatchState::Delivered => "delivered",
            BatchState::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<BatchState> {
        match s {
            "pending" => Some(BatchState::Pending),
            "delivered" => Some(BatchState::Delivered),
            "dead" => Some(BatchState::Dead),
            _ => None,
        }
    }
}

/// A batch the delivery stage has just built.
#[derive(Clone, Debug)]
pub struct NewBatch {
    pub subscription_id: String,
    /// Canonical topic.
    pub topic: String,
    /// The events of the log it carries (empty for a ping).
    pub event_ids: Vec<i64>,
    /// The incidents whose changes it reports (a routing target's incident messages).
    pub incident_ids: Vec<i64>,
    /// The exact request body.
    pub body: bytes::Bytes,
    /// Names the delivery to the receiver; stays the same across attempts and replays.
    pub delivery_id: String,
    /// When it was built (unix µs); also its first due time.
    pub created_at: i64,
}

/// The delivery stage's batch: the batches it built and the cursor they take it to.
#[derive(Clone, Debug)]
pub struct OutboxCommit {
    /// The stage and its new cursor; `None` for batches made outside it (pings).
    pub stage: Option<(String, i64)>,
    /// The stage's new snapshot, when it keeps one beside its cursor.
    pub snapshot: Option<Vec<u8>>,
    pub batches: Vec<NewBatch>,
    pub at: i64,
}

/// A batch as the outbox keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchRow {
    pub id: i64,
    pub subscription_id: String,
    pub topic: String,
    pub state: BatchState,
    pub event_count: u32,
    pub event_ids: Vec<i64>,
    pub delivery_id: String,
    pub created_at: i64,
    /// When the next attempt is due (pending), or was last due.
    pub due_at: i64,
    /// Attempts in all.
    pub attempts: u32,
    /// Attempts since the batch was built or last replayed (what the retry schedule counts).
    pub round_attempts: u32,
    /// When the first attempt of the current round was made (the retry age counts from
    /// it; a replay starts a new round).
    pub first_attempt_at: Option<i64>,
    pub last_attempt_at: Option<i64>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    /// The request body; empty in lists (see [`crate::Store::batch`]).
    pub body: bytes::Bytes,
}

/// One attempt as the dispatcher saw it, and what it means for its batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptRecord {
    pub batch_id: i64,
    pub subscription_id: String,
    pub topic: String,
    /// 1 for the first attempt of the batch (counting across replays).
    pub attempt: u32,
    /// When the request was sent (unix µs).
    pub at: i64,
    pub success: bool,
    pub status_code: Option<u16>,
    pub latency_us: i64,
    pub error: Option<String>,
    pub url: String,
    /// Request headers as JSON (`{"Name": ["value"]}`), secrets redacted.
    pub request_headers: String,
    /// The request body, truncated.
    pub request_body: String,
    pub response_headers: String,
    /// The response body, truncated.
    pub response_body: String,
    /// The batch's state after this attempt.
    pub next_state: BatchState,
    /// When the next attempt is due, for `Pending`.
    pub next_due_at: i64,
    pub first_attempt_at: i64,
}

/// An attempt as the results API lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptRow {
    pub id: i64,
    pub record: AttemptRecord,
}

/// Filters of the attempt list. `since`/`until` bound the attempt time (unix µs).
#[derive(Clone, Debug, Default)]
pub struct AttemptFilter {
    pub subscription_id: Option<String>,
    pub topic: Option<String>,
    /// `Some(true)`: successes only; `Some(false)`: failures only.
    pub success: Option<bool>,
    pub status_code: Option<u16>,
    /// Attempts whose error text contains this.
    pub error: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

/// Filters of the batch list. `since`/`until` bound the creation time (unix µs).
#[derive(Clone, Debug, Default)]
pub struct BatchFilter {
    pub subscription_id: Option<String>,
    pub state: Option<BatchState>,
    pub topic: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

/// Which dead batches a replay puts back in the queue.
#[derive(Clone, Debug)]
pub struct ReplayRequest {
    pub subscription_id: String,
    /// One batch, or every dead batch of the subscription (within `since`/`until`).
    pub batch_id: Option<i64>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Due time of the replayed batches (unix µs).
    pub now: i64,
}
