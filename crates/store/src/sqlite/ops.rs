//! What the writer is asked to do, and how each request is answered.

use tokio::sync::oneshot;

use crate::{
    Appended, AttemptRecord, NewQuarantine, NewRequest, OutboxCommit, Pruned, ReplayRequest,
    Retention, StageCommit, StoreError, SubscriptionRow,
};

/// One request to the writer, with the channel its answer goes back on.
pub(crate) enum Op {
    Append {
        request: NewRequest,
        dedup_since: i64,
        reply: oneshot::Sender<Result<Appended, StoreError>>,
    },
    Quarantine {
        entry: NewQuarantine,
        reply: oneshot::Sender<Result<i64, StoreError>>,
    },
    Prune {
        retention: Retention,
        reply: oneshot::Sender<Result<Pruned, StoreError>>,
    },
    Stage {
        commit: StageCommit,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    PutSubscription {
        row: SubscriptionRow,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    DeleteSubscription {
        id: String,
        reply: oneshot::Sender<Result<bool, StoreError>>,
    },
    Outbox {
        commit: OutboxCommit,
        reply: oneshot::Sender<Result<Vec<i64>, StoreError>>,
    },
    Attempts {
        records: Vec<AttemptRecord>,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Replay {
        request: ReplayRequest,
        reply: oneshot::Sender<Result<Vec<i64>, StoreError>>,
    },
    TargetState {
        target: String,
        key: String,
        value: String,
        at: i64,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// A small write that changes nothing, to learn whether writes reach the disk again.
    Probe {
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Commit what came before, checkpoint, close the connection and stop.
    Close {
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// What one operation did, before it is matched back to its answer channel.
pub(crate) enum Outcome {
    Appended(Appended),
    Quarantined(i64),
    Staged,
    Deleted(bool),
    Ids(Vec<i64>),
}

/// Sends `result` back on `op`'s channel.
pub(crate) fn answer(op: Op, result: Result<Outcome, StoreError>) {
    match (op, result) {
        (Op::Append { reply, .. }, Ok(Outcome::Appended(a))) => {
            let _ = reply.send(Ok(a));
        }
        (Op::Quarantine { reply, .. }, Ok(Outcome::Quarantined(id))) => {
            let _ = reply.send(Ok(id));
        }
        (Op::Append { reply, .. }, Err(e)) => {
            let _ = reply.send(Err(e));
        }
        (Op::Quarantine { reply, .. }, Err(e)) => {
            let _ = reply.send(Err(e));
        }
        (Op::Stage { reply, .. }, Ok(Outcome::Staged)) => {
            let _ = reply.send(Ok(()));
        }
        (Op::Stage { reply, .. }, Err(e)) => {
            let _ = reply.send(Err(e));
        }
        (Op::PutSubscription { reply, .. }, Ok(Outcome::Staged)) => {
            let _ = reply.send(Ok(()));
        }
        (Op::PutSubscription { reply, .. }, Err(e)) => {
            let _ = reply.send(Err(e));
        }
        (Op::DeleteSubscription { reply, .. }, Ok(Outcome::Deleted(found))) => {
            let _ = reply.send(Ok(found));
        }
        (Op::DeleteSubscription { reply, .. }, Err(e)) => {
            let _ = reply.send(Err(e));
        }
        (Op::Outbox { reply, .. } | Op::Replay { reply, .. }, Ok(Outcome::Ids(ids))) => {
            let _ = reply.send(Ok(ids));
        }
        (Op::Outbox { reply, .. } | Op::Replay { reply, .. }, Err(e)) => {
            let _ = reply.send(Err(e));
        }
        (
            Op::Attempts { reply, .. } | Op::TargetState { reply, .. } | Op::Probe { reply },
            Ok(Outcome::Staged),
        ) => {
            let _ = reply.send(Ok(()));
        }
        (
            Op::Attempts { reply, .. } | Op::TargetState { reply, .. } | Op::Probe { reply },
            Err(e),
        ) => {
            let _ = reply.send(Err(e));
        }
        (Op::Prune { .. } | Op::Close { .. }, _) | (_, Ok(_)) => {
            unreachable!("outcome matches its operation")
        }
    }
}
