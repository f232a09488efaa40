//! Reloading the certificate: on SIGHUP (`systemctl reload`), and when the files change
//! (certbot and other ACME clients renew by writing new files and moving symlinks, and
//! most do not signal anyone).
//!
//! A change is noticed by polling the paths' metadata: `stat` follows symlinks, so a
//! renewed `live/` link shows the new file's inode. A change is read once it has held
//! for one poll, so that a renewal caught between writing the certificate and the key
//! is not reported as a mismatch.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{Tls, TlsFiles};

/// How often the files' metadata is read: two `stat` calls.
const POLL: Duration = Duration::from_secs(1);

/// SIGHUP, registered before the server says it listens, so that a signal sent as soon
/// as it does is not the default action (ending the process).
pub(crate) struct Hangups {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Hangups {
    pub fn register() -> std::io::Result<Hangups> {
        Ok(Hangups {
            #[cfg(unix)]
            signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?,
        })
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        if self.signal.recv().await.is_some() {
            return;
        }
        std::future::pending::<()>().await
    }
}

/// Reloads `tls` on SIGHUP and when its files change, until the task is aborted; with
/// no TLS, SIGHUP is logged and changes nothing.
pub(crate) fn spawn_reloader(
    tls: Option<Arc<Tls>>,
    mut hangups: Hangups,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Some(tls) = tls else {
            loop {
                hangups.recv().await;
                tracing::info!("SIGHUP: no TLS certificate to reload (nothing else is reloaded)");
            }
        };
        let mut seen = tls.read_at_start.clone();
        let mut tried = seen.clone();
        let mut poll = tokio::time::interval(POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let hangup = tokio::select! {
                () = hangups.recv() => true,
                _ = poll.tick() => false,
            };
            let now = Stamps::of(&tls.files);
            if hangup {
                tracing::info!("SIGHUP: reloading the TLS certificate");
            } else if now != seen {
                seen = now;
                continue;
            } else if now == tried {
                continue;
            }
            seen = now.clone();
            tried = now;
            if let Err(e) = tls.reload() {
                tracing::warn!(
                    "TLS certificate not reloaded, the previous one stays in force: {e}"
                );
            }
        }
    })
}

/// What tells a replaced file from the one read before: modification time, length,
/// device and inode; `None` while a path cannot be read (a renewal in progress).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Stamps([Option<Stamp>; 2]);

#[derive(Clone, Debug, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    #[cfg(unix)]
    file: (u64, u64),
}

impl Stamps {
    pub(super) fn of(files: &TlsFiles) -> Stamps {
        Stamps([stamp(&files.cert), stamp(&files.key)])
    }
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        #[cfg(unix)]
        file: {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino())
        },
    })
}
