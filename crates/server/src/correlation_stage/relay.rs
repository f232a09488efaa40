//! Commands for the correlation stage when another instance runs it (several instances on
//! one database, where the stage runs on the holder of its lease).
//!
//! The instance that takes a person's command (acknowledge, resolve, silences) and does
//! not run the stage leaves it in the database ([`store::Cluster::relay_put`]) and waits
//! for its answer; the holder's [`serve`] reads the open commands, hands each to its stage
//! as a local one, and writes the answer back. Names and topology are not relayed: each
//! instance's stage takes its own from Mist's API.

use std::sync::Arc;
use std::time::Duration;

use correlate::Silence;
use serde::{Deserialize, Serialize};
use store::{Cluster, Store, StoreError};
use tokio::sync::{mpsc, oneshot};

use super::{Command, CommandError, STAGE};
use deliver::clock::now_us;

/// How often the holder looks for commands, and a waiting instance for their answer.
const POLL: Duration = Duration::from_millis(50);

/// How long an instance waits for the holder's answer: longer than a takeover.
pub(super) const WAIT: Duration = Duration::from_secs(15);

/// Commands and answers older than this are deleted.
const KEEP_US: i64 = 600_000_000;

/// A command as it travels through the database.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub(super) enum Relayed {
    Acknowledge { incident: i64, by: String },
    Resolve { incident: i64, by: String },
    AddSilence { silence: Silence },
    ReplaceSilence { silence: Silence },
    RemoveSilence { id: i64 },
    Silences,
}

/// The holder's answer.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "answer", content = "value", rename_all = "snake_case")]
pub(super) enum Answer {
    Done,
    UnknownIncident(i64),
    Failed(String),
    Silence(Silence),
    Replaced(Option<Silence>),
    Removed(bool),
    Silences(Vec<Silence>),
    /// The waiting instance gave up: the command is not to be carried out.
    Abandoned,
}

/// What completes a relayed command's local reply from the holder's answer.
pub(super) type Finish = Box<dyn FnOnce(Answer) + Send>;

/// A command that can travel, and what to do with its answer; the command itself back
/// when it cannot (names and topology stay local).
pub(super) fn split(command: Command) -> Result<(Relayed, Finish), Box<Command>> {
    Ok(match command {
        Command::Acknowledge {
            incident,
            by,
            reply,
        } => (Relayed::Acknowledge { incident, by }, finish(reply, done)),
        Command::Resolve {
            incident,
            by,
            reply,
        } => (Relayed::Resolve { incident, by }, finish(reply, done)),
        Command::AddSilence { silence, reply } => (
            Relayed::AddSilence { silence },
            finish(reply, |a| match a {
                Answer::Silence(s) => Ok(s),
                other => Err(Box::new(other)),
            }),
        ),
        Command::ReplaceSilence { silence, reply } => (
            Relayed::ReplaceSilence { silence },
            finish(reply, |a| match a {
                Answer::Replaced(s) => Ok(s),
                other => Err(Box::new(other)),
            }),
        ),
        Command::RemoveSilence { id, reply } => (
            Relayed::RemoveSilence { id },
            finish(reply, |a| match a {
                Answer::Removed(r) => Ok(r),
                other => Err(Box::new(other)),
            }),
        ),
        Command::Silences { reply } => (
            Relayed::Silences,
            Box::new(move |a| {
                // Anything else leaves the reply unanswered: the API says the stage is
                // not reachable.
                if let Answer::Silences(list) = a {
                    let _ = reply.send(list);
                }
            }),
        ),
        other @ (Command::SetNames { .. } | Command::SetTopology { .. }) => {
            return Err(Box::new(other));
        }
    })
}

/// Completes `reply` with what `expected` takes from the answer, or the error any other
/// answer means.
fn finish<T: Send + 'static>(
    reply: oneshot::Sender<Result<T, CommandError>>,
    expected: fn(Answer) -> Result<T, Box<Answer>>,
) -> Finish {
    Box::new(move |a| drop(reply.send(expected(a).map_err(|other| failed(*other)))))
}

fn done(answer: Answer) -> Result<(), Box<Answer>> {
    match answer {
        Answer::Done => Ok(()),
        other => Err(Box::new(other)),
    }
}

fn failed(answer: Answer) -> CommandError {
    match answer {
        Answer::UnknownIncident(id) => {
            CommandError::Rejected(correlate::CorrelateError::UnknownIncident(id))
        }
        Answer::Failed(message) => CommandError::Store(StoreError::Task(message)),
        other => CommandError::Store(StoreError::Task(format!(
            "unexpected answer from the instance running the correlation stage: {other:?}"
        ))),
    }
}

/// Leaves `command` for the holder and completes `finish` with its answer; gives up
/// (leaving the reply unanswered) after [`WAIT`].
pub(super) async fn ask(cluster: &dyn Cluster, command: Relayed, finish: Finish) {
    let body = serde_json::to_string(&command).expect("a command serialises");
    let id = match cluster.relay_put(STAGE, &body, now_us()).await {
        Ok(id) => id,
        Err(e) => return finish(Answer::Failed(format!("cannot relay the command: {e}"))),
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(POLL).await;
        match cluster.relay_answer_of(id).await {
            Ok(Some(answer)) => {
                return finish(serde_json::from_str(&answer).unwrap_or_else(|e| {
                    Answer::Failed(format!("unreadable answer from the stage's holder: {e}"))
                }));
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read a relayed command's answer"),
        }
    }
    tracing::warn!(
        command = id,
        "no instance answered a command for the correlation stage in time"
    );
    let abandoned = serde_json::to_string(&Answer::Abandoned).expect("serialises");
    let _ = cluster.relay_answer(id, &abandoned, now_us()).await;
}

/// On the holder of the stage: carries out the commands other instances leave, through
/// `commands` (the stage's own queue), until the task is stopped. Never returns on a
/// store that other instances do not share.
pub(super) async fn serve(store: Arc<dyn Store>, commands: mpsc::Sender<Command>) {
    let Some(cluster) = store.cluster() else {
        return std::future::pending().await;
    };
    let mut pruned_at = 0;
    loop {
        match cluster.relay_open(STAGE).await {
            Ok(open) => {
                for (id, body) in open {
                    let answer = match serde_json::from_str::<Relayed>(&body) {
                        Ok(command) => execute(command, &commands).await,
                        Err(e) => Answer::Failed(format!("unreadable command: {e}")),
                    };
                    let answer = serde_json::to_string(&answer).expect("an answer serialises");
                    if let Err(e) = cluster.relay_answer(id, &answer, now_us()).await {
                        tracing::warn!(command = id, error = %e, "cannot answer a relayed command");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the relayed commands"),
        }
        let now = now_us();
        if now - pruned_at > KEEP_US / 10 {
            pruned_at = now;
            if let Err(e) = cluster.relay_prune(now - KEEP_US).await {
                tracing::warn!(error = %e, "cannot delete old relayed commands");
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Hands one relayed command to the local stage; its answer.
async fn execute(command: Relayed, commands: &mpsc::Sender<Command>) -> Answer {
    async fn ask<T>(
        commands: &mpsc::Sender<Command>,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        commands.send(make(reply)).await.ok()?;
        answer.await.ok()
    }
    let gone = || Answer::Failed("the correlation stage stopped".into());
    let result = |r: Result<Answer, CommandError>| match r {
        Ok(a) => a,
        Err(CommandError::Rejected(correlate::CorrelateError::UnknownIncident(id))) => {
            Answer::UnknownIncident(id)
        }
        Err(e) => Answer::Failed(e.to_string()),
    };
    match command {
        Relayed::Acknowledge { incident, by } => ask(commands, |reply| Command::Acknowledge {
            incident,
            by,
            reply,
        })
        .await
        .map_or_else(gone, |r| result(r.map(|()| Answer::Done))),
        Relayed::Resolve { incident, by } => ask(commands, |reply| Command::Resolve {
            incident,
            by,
            reply,
        })
        .await
        .map_or_else(gone, |r| result(r.map(|()| Answer::Done))),
        Relayed::AddSilence { silence } => {
            ask(commands, |reply| Command::AddSilence { silence, reply })
                .await
                .map_or_else(gone, |r| result(r.map(Answer::Silence)))
        }
        Relayed::ReplaceSilence { silence } => {
            ask(commands, |reply| Command::ReplaceSilence { silence, reply })
                .await
                .map_or_else(gone, |r| result(r.map(Answer::Replaced)))
        }
        Relayed::RemoveSilence { id } => {
            ask(commands, |reply| Command::RemoveSilence { id, reply })
                .await
                .map_or_else(gone, |r| result(r.map(Answer::Removed)))
        }
        Relayed::Silences => ask(commands, |reply| Command::Silences { reply })
            .await
            .map_or_else(gone, Answer::Silences),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_answers_read_back_as_written() {
        let commands = [
            Relayed::Acknowledge {
                incident: 7,
                by: "ops".into(),
            },
            Relayed::RemoveSilence { id: 3 },
            Relayed::Silences,
        ];
        for c in commands {
            let text = serde_json::to_string(&c).unwrap();
            assert_eq!(serde_json::from_str::<Relayed>(&text).unwrap(), c);
        }
        for a in [
            Answer::Done,
            Answer::UnknownIncident(9),
            Answer::Removed(true),
            Answer::Abandoned,
        ] {
            let text = serde_json::to_string(&a).unwrap();
            assert_eq!(serde_json::from_str::<Answer>(&text).unwrap(), a);
        }
    }

    #[tokio::test]
    async fn an_answer_completes_the_reply_a_person_waits_on() {
        let (reply, answer) = oneshot::channel();
        let (relayed, finish) = split(Command::Resolve {
            incident: 4,
            by: "ops".into(),
            reply,
        })
        .unwrap_or_else(|_| panic!("resolve travels"));
        assert_eq!(
            relayed,
            Relayed::Resolve {
                incident: 4,
                by: "ops".into()
            }
        );
        finish(Answer::UnknownIncident(4));
        let refused = answer.await.unwrap().unwrap_err();
        assert!(matches!(
            refused,
            CommandError::Rejected(correlate::CorrelateError::UnknownIncident(4))
        ));
        let (reply, _) = oneshot::channel();
        assert!(
            split(Command::SetNames {
                names: mist::Names::default(),
                reply
            })
            .is_err(),
            "names stay with each instance"
        );
    }
}
