//! The handle the API and Mist's names reach the correlation stage through.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use store::Store;
use tokio::sync::{mpsc, oneshot};

use super::inputs::ShellInputs;
use super::{Command, relay};

/// The handle the API uses to reach the stage.
#[derive(Clone)]
pub struct StageHandle {
    pub(super) commands: mpsc::Sender<Command>,
    /// True while this instance runs the stage (it holds the stage's lease).
    pub(super) running: Arc<AtomicBool>,
    /// The store, when other instances share it: commands for a stage another
    /// instance runs go through it (`relay.rs`).
    pub(super) shared: Option<Arc<dyn Store>>,
    pub(super) inputs: Arc<std::sync::Mutex<ShellInputs>>,
}

impl StageHandle {
    /// Sends a command and waits for the stage's answer: through this instance's stage
    /// when it runs here, else through the database to the instance that runs it.
    /// `None` when no stage answered in time.
    pub async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        let mut command = make(reply);
        // Names and topology are this instance's inputs, kept for its stage's next load.
        command = match command {
            Command::SetNames { names, reply } => {
                self.inputs.lock().expect("shell inputs").learned = names.clone();
                Command::SetNames { names, reply }
            }
            Command::SetTopology { topology, reply } => {
                self.inputs.lock().expect("shell inputs").topology = topology.clone();
                Command::SetTopology { topology, reply }
            }
            other => other,
        };
        if let Some(store) = &self.shared
            && !self.running.load(Ordering::Acquire)
        {
            match relay::split(command) {
                Ok((relayed, finish)) => {
                    let cluster = store.cluster().expect("a shared store");
                    relay::ask(cluster, relayed, finish).await;
                }
                // Kept above; the stage gives them to the correlator when it loads.
                Err(local) => match *local {
                    Command::SetNames { reply, .. } => drop(reply.send(())),
                    Command::SetTopology { reply, .. } => drop(reply.send(())),
                    _ => unreachable!("only names and topology stay local"),
                },
            }
            return answer.await.ok();
        }
        self.commands.send(command).await.ok()?;
        tokio::time::timeout(relay::WAIT, answer).await.ok()?.ok()
    }
}

/// A handle to no stage (correlation turned off): every command answers `None`.
pub fn disabled() -> StageHandle {
    let (tx, _) = mpsc::channel(1);
    StageHandle {
        commands: tx,
        running: Arc::new(AtomicBool::new(false)),
        shared: None,
        inputs: Arc::default(),
    }
}

/// Sets a flag while alive (a run of the stage), and clears it when dropped, aborted or
/// not.
pub(super) struct Running(Arc<AtomicBool>);

impl Running {
    pub(super) fn start(flag: &Arc<AtomicBool>) -> Running {
        flag.store(true, Ordering::Release);
        Running(flag.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}
