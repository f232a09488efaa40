//! A reader of `GET /api/v1/stream` for the tests: the answer's body read chunk by chunk
//! (`reqwest::Response::chunk`) and cut into Server-Sent Events blocks.

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::{Server, TOKEN};

/// One block of the stream (comments are skipped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// `id:`, which every block of the stream carries.
    pub id: Option<String>,
    /// `event:` (`event` or `incident`); `None` for the first block, which has only an id.
    pub event: Option<String>,
    /// The `data:` lines joined with newlines; `None` when the block has none.
    pub data: Option<String>,
}

impl Block {
    /// `data` as JSON.
    pub fn json(&self) -> Value {
        let data = self
            .data
            .as_deref()
            .unwrap_or_else(|| panic!("no data: {self:?}"));
        serde_json::from_str(data).unwrap_or_else(|e| panic!("data is not JSON ({e}): {data}"))
    }
}

/// An open stream.
pub struct EventStream {
    response: reqwest::Response,
    buffer: Vec<u8>,
}

impl EventStream {
    /// Opens `/api/v1/stream{query}` with the token (and `Last-Event-ID` when given),
    /// expecting 200 and `text/event-stream`.
    pub async fn open(server: &Server, query: &str, last_event_id: Option<&str>) -> EventStream {
        let response = request(server, query, last_event_id).await;
        let status = response.status().as_u16();
        let content_type = response.headers().get("content-type").cloned();
        if status != 200 {
            let text = response.text().await.unwrap_or_default();
            panic!("GET /api/v1/stream{query}: {status} {text}");
        }
        assert_eq!(
            content_type.as_ref().and_then(|v| v.to_str().ok()),
            Some("text/event-stream"),
            "GET /api/v1/stream{query}"
        );
        EventStream {
            response,
            buffer: Vec::new(),
        }
    }

    /// The next block, `None` when the answer ended; fails the test when none came by
    /// `deadline`.
    pub async fn next_block(&mut self, deadline: Instant) -> Option<Block> {
        loop {
            while let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let text = String::from_utf8(self.buffer.drain(..end + 2).collect())
                    .expect("the stream is UTF-8");
                if let Some(block) = parse(&text) {
                    return Some(block);
                }
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Ok(Ok(Some(bytes))) => self.buffer.extend_from_slice(&bytes),
                Ok(Ok(None)) => return None,
                Ok(Err(e)) => panic!("reading the stream: {e}"),
                Err(_) => panic!("no block of the stream by the deadline"),
            }
        }
    }

    /// The next block that carries data (an `event` or `incident` message), by `deadline`.
    pub async fn next_message(&mut self, deadline: Instant) -> Block {
        loop {
            let block = self
                .next_block(deadline)
                .await
                .expect("the stream ended before a message");
            if block.data.is_some() {
                return block;
            }
        }
    }

    /// Whether the answer ends by `deadline` (blocks before the end are dropped).
    pub async fn ends_by(&mut self, deadline: Instant) -> bool {
        loop {
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Ok(Ok(Some(_))) => {}
                Ok(Ok(None)) | Ok(Err(_)) => return true,
                Err(_) => return false,
            }
        }
    }
}

/// `GET /api/v1/stream{query}` with the token, as it answers.
pub async fn request(
    server: &Server,
    query: &str,
    last_event_id: Option<&str>,
) -> reqwest::Response {
    let mut request = server
        .client
        .get(server.url(&format!("/api/v1/stream{query}")))
        .header("authorization", format!("Token {TOKEN}"));
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    request.send().await.expect("GET /api/v1/stream")
}

/// A deadline `limit` from now.
pub fn within(limit: Duration) -> Instant {
    Instant::now() + limit
}

/// One block's lines (the server ends lines with `\n`); `None` for a comment-only block.
fn parse(text: &str) -> Option<Block> {
    let mut block = Block {
        id: None,
        event: None,
        data: None,
    };
    let mut fields = false;
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with(':'))
    {
        fields = true;
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value).to_string();
        match name {
            "id" => block.id = Some(value),
            "event" => block.event = Some(value),
            "data" => {
                block.data = Some(match block.data.take() {
                    Some(before) => format!("{before}\n{value}"),
                    None => value,
                })
            }
            other => panic!("unknown field `{other}` in {text:?}"),
        }
    }
    fields.then_some(block)
}
