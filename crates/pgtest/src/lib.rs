//! A throwaway PostgreSQL cluster for tests: `initdb` and `postgres` from the machine's
//! PostgreSQL packages, in a temporary directory, listening on a free loopback port, and
//! stopped (fast shutdown) when dropped. Each test takes a database of its own
//! ([`Cluster::database`]), so tests share one cluster per test binary without seeing
//! each other's rows.
//!
//! The binaries are found in `MISTGATE_PG_BIN`, else the newest
//! `/usr/lib/postgresql/<version>/bin`, else the directory `pg_config --bindir` names.
//! PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` user
//! (`runuser`), which Debian's packages create.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// A running cluster.
pub struct Cluster {
    child: Child,
    /// The data directory (its `postmaster.pid` names the server's process).
    data: PathBuf,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    bin: PathBuf,
    databases: AtomicU32,
    _dir: tempfile::TempDir,
}

/// How long `postgres` may take to say it accepts connections.
const READY_WITHIN: Duration = Duration::from_secs(60);

impl Cluster {
    /// Makes and starts a cluster; panics with what went wrong (a test cannot go on).
    pub fn start() -> Cluster {
        Cluster::start_with(None)
    }

    /// As [`Cluster::start`], with TLS on: the server presents the certificate `cert`
    /// (PEM, with its key `key`), and clients may ask for TLS (`sslmode`).
    pub fn start_tls(cert: &Path, key: &Path) -> Cluster {
        Cluster::start_with(Some((cert, key)))
    }

    fn start_with(tls: Option<(&Path, &Path)>) -> Cluster {
        let bin = bin_dir();
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("mistgate-pg-")
            .tempdir()
            .expect("a temporary directory");
        let data = dir.path().join("data");
        if as_postgres {
            // The postgres user must own (and reach) the cluster's directory.
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("run chown");
            assert!(status.success(), "chown the cluster directory to postgres");
        }
        let out = run(
            as_postgres,
            &bin.join("initdb"),
            &[
                "-D",
                path(&data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )
        .output()
        .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let socket_dir = dir.path().to_path_buf();
        let port_arg = port.to_string();
        let mut args = vec![
            "-D",
            path(&data),
            "-p",
            &port_arg,
            "-k",
            path(&socket_dir),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "max_connections=200",
        ];
        if let Some((cert, key)) = tls {
            // In the data directory, owned by the server's user; the key readable by it only.
            for (from, to) in [(cert, "server.crt"), (key, "server.key")] {
                let target = data.join(to);
                std::fs::copy(from, &target).expect("copy the server's certificate and key");
                let owner = if as_postgres { "postgres:postgres" } else { "" };
                if !owner.is_empty() {
                    let status = Command::new("chown")
                        .arg(owner)
                        .arg(&target)
                        .status()
                        .expect("run chown");
                    assert!(status.success(), "chown {to}");
                }
                let mode = std::fs::Permissions::from_mode(0o600);
                std::fs::set_permissions(&target, mode).expect("chmod 600");
            }
            args.extend([
                "-c",
                "ssl=on",
                "-c",
                "ssl_cert_file=server.crt",
                "-c",
                "ssl_key_file=server.key",
            ]);
        }
        let mut child = run(as_postgres, &bin.join("postgres"), &args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start postgres");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut told = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !told && line.contains("ready to accept connections") {
                    told = true;
                    let _ = tx.send(Ok(()));
                } else if !told && (line.contains("FATAL") || line.contains("could not")) {
                    let _ = tx.send(Err(line));
                }
            }
        });
        match rx.recv_timeout(READY_WITHIN) {
            Ok(Ok(())) => {}
            Ok(Err(line)) => panic!("postgres did not start: {line}"),
            Err(_) => panic!("postgres did not accept connections within {READY_WITHIN:?}"),
        }
        Cluster {
            child,
            data,
            port,
            bin,
            databases: AtomicU32::new(0),
            _dir: dir,
        }
    }

    /// The URL of database `name` on this cluster.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates a new, empty database; its URL.
    pub fn database(&self) -> String {
        let name = format!(
            "t{}_{}",
            std::process::id(),
            self.databases.fetch_add(1, Ordering::Relaxed)
        );
        self.psql(&format!("CREATE DATABASE {name}"));
        self.url(&name)
    }

    /// Runs one SQL command as `postgres` on database `postgres`; panics when it fails.
    pub fn psql(&self, sql: &str) -> String {
        self.psql_at(&self.url("postgres"), sql)
    }

    /// Runs one SQL command on the database at `url`; its output (unaligned, no headers).
    pub fn psql_at(&self, url: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(url)
            .args(["-c", sql])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql `{sql}` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // SIGINT is PostgreSQL's fast shutdown: sessions end, nothing is left running. The
        // signal goes to the postmaster itself (`runuser` would not pass it on).
        let pid = std::fs::read_to_string(self.data.join("postmaster.pid"))
            .ok()
            .and_then(|s| s.lines().next().map(str::to_string))
            .unwrap_or_else(|| self.child.id().to_string());
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let _ = self.child.wait();
    }
}

fn run(as_postgres: bool, program: &Path, args: &[&str]) -> Command {
    if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program).args(args);
        c
    } else {
        let mut c = Command::new(program);
        c.args(args);
        c
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A port the kernel just gave out and released (bound to port 0).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MISTGATE_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return bin;
    }
    let out = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .expect("PostgreSQL's server packages (initdb, postgres) are needed: none found");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_starts_gives_databases_and_stops() {
        let cluster = Cluster::start();
        let a = cluster.database();
        let b = cluster.database();
        assert_ne!(a, b);
        assert_eq!(cluster.psql("SELECT 1 + 1"), "2");
        let port = cluster.port;
        drop(cluster);
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "nothing listens once dropped"
        );
    }
}
