//! Publishes a batch on a cached connection and waits for every JetStream ack.
//!
//! Connections are kept per target and server (a batch never reconnects; the client
//! reconnects by itself in the background). The stream is made once per connection,
//! and again if JetStream later says no stream takes a subject. Failures: a server that
//! cannot be reached, a lost connection, a missing ack or a stream error are retried;
//! refused credentials, a forbidden address and a message above the server's payload
//! limit are not, since the same batch would fail the same way.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use async_nats::jetstream::context::{CreateStreamErrorKind, PublishErrorKind};
use async_nats::jetstream::{self, stream};
use async_nats::{ConnectErrorKind, ConnectOptions};

use super::{Config, Publication, encode, server_address};
use crate::client::{Exchange, shown_url};
use crate::schedule::Outcome;
use crate::targets::syslog::{guarded_addrs, recorded};
use crate::targets::{Context, Message, local_failure};

type Failure = (Outcome, String);

/// What identifies a connection: a changed server or credential gets a new one. Holds
/// secrets, so it has no `Debug`.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    target: String,
    url: String,
    user: Option<String>,
    secret: Option<String>,
}

struct Connection {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    /// Whether the stream is known to exist on this connection.
    stream_ready: AtomicBool,
}

fn connections() -> &'static Mutex<HashMap<Key, Arc<Connection>>> {
    static CONNECTIONS: OnceLock<Mutex<HashMap<Key, Arc<Connection>>>> = OnceLock::new();
    CONNECTIONS.get_or_init(Default::default)
}

pub async fn send(config: &Config, messages: &[Message], ctx: &Context<'_>) -> Exchange {
    let started = Instant::now();
    if messages.is_empty() {
        return local_failure(Outcome::Success, "an empty batch");
    }
    let publications = match encode(config, messages) {
        Ok(p) => p,
        Err(e) => return local_failure(Outcome::Refused(e.clone()), e),
    };
    let settings = ctx.client.settings();
    let mut subjects: Vec<&str> = publications.iter().map(|p| p.subject.as_str()).collect();
    subjects.sort_unstable();
    subjects.dedup();
    let shown = serde_json::json!({
        "Nats-Server": [shown_url(&config.url)],
        "Nats-Stream": [config.stream],
        "Nats-Subjects": subjects,
    })
    .to_string();
    let mut sent = Vec::new();
    for p in &publications {
        sent.extend_from_slice(format!("{} Nats-Msg-Id:{} ", p.subject, p.msg_id).as_bytes());
        sent.extend_from_slice(&p.payload);
        sent.push(b'\n');
    }
    let exchange = |outcome: Outcome, error: Option<String>, answer: String| Exchange {
        outcome,
        status_code: None,
        latency: started.elapsed(),
        error,
        request_headers: shown.clone(),
        request_body: recorded(&sent, settings.record_body_bytes),
        response_headers: "{}".into(),
        response_body: answer,
    };
    // Connecting and the acks have their own timeouts; this bounds the whole attempt.
    let limit = settings.timeout.saturating_mul(2) + Duration::from_secs(1);
    let work = async {
        let conn = connection(config, ctx).await?;
        publish(config, &conn, &publications).await
    };
    match tokio::time::timeout(limit, work).await {
        Ok(Ok(answer)) => exchange(Outcome::Success, None, answer),
        Ok(Err((outcome, error))) => exchange(outcome, Some(error), String::new()),
        Err(_) => exchange(
            Outcome::Timeout,
            Some(format!("no completion within {limit:?}")),
            String::new(),
        ),
    }
}

/// The cached connection of this target, or a new one.
async fn connection(config: &Config, ctx: &Context<'_>) -> Result<Arc<Connection>, Failure> {
    let key = Key {
        target: ctx.target.to_string(),
        url: config.url.clone(),
        user: config.user.clone(),
        secret: config.token.clone().or_else(|| config.password.clone()),
    };
    let cached = connections()
        .lock()
        .expect("nats connections")
        .get(&key)
        .cloned();
    if let Some(conn) = cached {
        return match conn.client.connection_state() {
            async_nats::connection::State::Connected => Ok(conn),
            state => Err((
                Outcome::Connect,
                format!(
                    "not connected to {} ({state:?}); the client is reconnecting",
                    shown_url(&config.url)
                ),
            )),
        };
    }
    let settings = ctx.client.settings();
    let (host, port) = server_address(&config.url)
        .map_err(|e| (Outcome::Refused(e.0.clone()), format!("url: {e}")))?;
    guarded_addrs(&host, port, settings.allow_private_targets).await?;
    let mut options = ConnectOptions::new()
        .name("mistgate")
        .connection_timeout(settings.timeout)
        .request_timeout(Some(settings.timeout));
    if let Some(token) = &config.token {
        options = options.token(token.clone());
    }
    if let (Some(user), Some(password)) = (&config.user, &config.password) {
        options = options.user_and_password(user.clone(), password.clone());
    }
    let client = options
        .connect(config.url.as_str())
        .await
        .map_err(|e| connect_failure(config, e))?;
    let jetstream = jetstream::ContextBuilder::new()
        .timeout(settings.timeout)
        .build(client.clone());
    let conn = Arc::new(Connection {
        client,
        jetstream,
        stream_ready: AtomicBool::new(false),
    });
    let mut cache = connections().lock().expect("nats connections");
    // Another batch of the same target may have connected meanwhile: keep one.
    Ok(cache.entry(key).or_insert(conn).clone())
}

fn connect_failure(config: &Config, e: async_nats::ConnectError) -> Failure {
    let text = format!("connecting to {}: {e}", shown_url(&config.url));
    let outcome = match e.kind() {
        ConnectErrorKind::Dns => Outcome::Dns,
        ConnectErrorKind::TimedOut => Outcome::Timeout,
        ConnectErrorKind::Io | ConnectErrorKind::Tls | ConnectErrorKind::MaxReconnects => {
            Outcome::Connect
        }
        // Bad credentials or a URL the client cannot read: the same next time.
        ConnectErrorKind::Authentication
        | ConnectErrorKind::AuthorizationViolation
        | ConnectErrorKind::ServerParse => Outcome::Refused(text.clone()),
    };
    (outcome, text)
}

/// The stream a target creates when none exists.
pub(crate) fn stream_config(config: &Config) -> stream::Config {
    stream::Config {
        name: config.stream.clone(),
        subjects: vec![
            format!("{}.>", config.subject_prefix),
            format!("{}.>", config.incident_prefix),
        ],
        retention: config.retention,
        storage: config.storage,
        max_age: config.max_age,
        max_bytes: config.max_bytes,
        max_messages: config.max_messages,
        num_replicas: config.replicas,
        duplicate_window: config.duplicate_window,
        description: Some("Mist events and incident changes from mistgate".into()),
        ..Default::default()
    }
}

/// Publishes every message, then waits for every ack; the answer sums them up.
async fn publish(
    config: &Config,
    conn: &Connection,
    publications: &[Publication],
) -> Result<String, Failure> {
    let js = &conn.jetstream;
    if config.create_stream && !conn.stream_ready.load(Ordering::Acquire) {
        js.get_or_create_stream(stream_config(config))
            .await
            .map_err(|e| {
                let text = format!("stream {}: {e}", config.stream);
                let outcome = match e.kind() {
                    CreateStreamErrorKind::TimedOut => Outcome::Timeout,
                    CreateStreamErrorKind::InvalidStreamName
                    | CreateStreamErrorKind::EmptyStreamName => Outcome::Refused(text.clone()),
                    _ => Outcome::Other(text.clone()),
                };
                (outcome, text)
            })?;
        conn.stream_ready.store(true, Ordering::Release);
    }
    let publish_failure = |p: &Publication, e: async_nats::jetstream::context::PublishError| {
        let text = format!("publishing {} to {}: {e}", p.msg_id, p.subject);
        let outcome = match e.kind() {
            PublishErrorKind::TimedOut => Outcome::Timeout,
            PublishErrorKind::BrokenPipe => Outcome::Connect,
            PublishErrorKind::MaxPayloadExceeded => Outcome::Refused(text.clone()),
            PublishErrorKind::StreamNotFound => {
                // Deleted meanwhile, or never made here: make it on the next attempt.
                conn.stream_ready.store(false, Ordering::Release);
                Outcome::Other(format!("no stream takes {}", p.subject))
            }
            _ => Outcome::Other(text.clone()),
        };
        (outcome, text)
    };
    let mut acks = Vec::with_capacity(publications.len());
    for p in publications {
        let message = jetstream::message::PublishMessage::build()
            .payload(p.payload.clone())
            .message_id(&p.msg_id);
        let ack = js
            .send_publish(p.subject.clone(), message)
            .await
            .map_err(|e| publish_failure(p, e))?;
        acks.push(ack);
    }
    // The acks travel together; each is awaited, so none is missed.
    let (mut duplicates, mut last_sequence) = (0usize, 0u64);
    let mut streams = std::collections::BTreeSet::new();
    for (p, ack) in publications.iter().zip(acks) {
        let ack = ack.await.map_err(|e| publish_failure(p, e))?;
        streams.insert(ack.stream);
        duplicates += usize::from(ack.duplicate);
        last_sequence = last_sequence.max(ack.sequence);
    }
    Ok(serde_json::json!({
        "streams": streams,
        "acknowledged": publications.len(),
        "duplicates": duplicates,
        "last_sequence": last_sequence,
    })
    .to_string())
}
