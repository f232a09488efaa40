//! A real nats-server with JetStream for tests, on a port it picks itself. Shared by the
//! deliver crate's target tests and the end-to-end tests of the binary.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

/// A nats-server with JetStream, on a port it picks itself (`-p -1`), storing in a temp
/// dir; killed when dropped.
pub struct NatsServer {
    child: Child,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl NatsServer {
    /// Starts `nats-server` (from PATH or /usr/sbin) and waits for its "ready" line.
    pub fn start() -> NatsServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let binary = ["nats-server", "/usr/sbin/nats-server"]
            .into_iter()
            .find(|b| Command::new(b).arg("--version").output().is_ok())
            .expect("nats-server is installed (scripts/test.sh installs it)");
        let mut child = Command::new(binary)
            .args(["-js", "-a", "127.0.0.1", "-p", "-1", "-sd"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start nats-server");
        // The server logs to stderr: the client port, then "Server is ready".
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut addr = None;
        for line in lines.by_ref() {
            let line = line.expect("nats-server output");
            if let Some((_, a)) = line.split_once("Listening for client connections on ") {
                addr = Some(a.trim().parse().expect("host:port"));
            }
            if line.contains("Server is ready") {
                break;
            }
        }
        let addr = addr.expect("nats-server said where it listens");
        // Keep reading so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        NatsServer {
            child,
            addr,
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }

    /// Stops the server now (and waits until the process is gone).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}
