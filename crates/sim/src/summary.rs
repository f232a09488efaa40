//! What a run did: messages and events sent, acknowledged, retried, failed, and how fast
//! the receiver answered.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// The tally of a run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// Messages (POST bodies) sent at least once.
    pub messages: u64,
    /// Events in those messages.
    pub events: u64,
    /// Messages the receiver acknowledged (2xx), at the first attempt or a retry.
    pub acknowledged: u64,
    /// Events in acknowledged messages.
    pub acknowledged_events: u64,
    /// Messages that needed more than one attempt.
    pub retried: u64,
    /// Attempts beyond each message's first.
    pub retries: u64,
    /// Messages given up: refused for good (4xx) or still failing past the retry age.
    pub failed: u64,
    /// Events in failed messages.
    pub failed_events: u64,
    /// Messages neither acknowledged nor given up when the run was stopped.
    pub pending: u64,
    /// Every attempt made.
    pub attempts: u64,
    /// Answers by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// Attempts that got no HTTP answer (refused connection, timeout, reset).
    pub transport_errors: u64,
    /// Body bytes sent, retries included.
    pub bytes: u64,
    /// How long the run took, µs.
    pub elapsed_us: u64,
    /// Median time to an answer, µs (attempts with an HTTP answer).
    pub p50_us: u64,
    /// 99th percentile time to an answer, µs.
    pub p99_us: u64,
    /// With `--mist-api`: the calls its API answered, per operation id (what a client of
    /// the simulated cloud cost it).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub api_requests: BTreeMap<String, u64>,
    #[serde(skip)]
    latencies_us: Vec<u32>,
}

impl Summary {
    /// Records how long an answer took.
    pub fn record_latency(&mut self, us: u64) {
        self.latencies_us.push(us.min(u64::from(u32::MAX)) as u32);
    }

    /// Adds another tally (from another connection) to this one.
    pub fn merge(&mut self, other: Summary) {
        self.messages += other.messages;
        self.events += other.events;
        self.acknowledged += other.acknowledged;
        self.acknowledged_events += other.acknowledged_events;
        self.retried += other.retried;
        self.retries += other.retries;
        self.failed += other.failed;
        self.failed_events += other.failed_events;
        self.pending += other.pending;
        self.attempts += other.attempts;
        for (code, n) in other.statuses {
            *self.statuses.entry(code).or_default() += n;
        }
        self.transport_errors += other.transport_errors;
        self.bytes += other.bytes;
        self.latencies_us.extend(other.latencies_us);
    }

    /// Attempts answered outside 200..=299.
    pub fn non_2xx(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(code, _)| !(200..300).contains(*code))
            .map(|(_, n)| n)
            .sum()
    }

    /// Computes the percentiles from the recorded latencies.
    pub fn finish(&mut self) {
        self.latencies_us.sort_unstable();
        self.p50_us = percentile(&self.latencies_us, 0.50);
        self.p99_us = percentile(&self.latencies_us, 0.99);
    }
}

/// The nearest-rank percentile of sorted values.
fn percentile(sorted: &[u32], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len() as f64).ceil().max(1.0) as usize;
    u64::from(sorted[rank.min(sorted.len()) - 1])
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.elapsed_us as f64 / 1e6;
        let per_s = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        writeln!(
            f,
            "sent          {} messages, {} events in {:.1}s ({:.0} messages/s, {:.0} events/s)",
            self.messages,
            self.events,
            secs,
            per_s(self.messages),
            per_s(self.events)
        )?;
        writeln!(
            f,
            "acknowledged  {} messages, {} events",
            self.acknowledged, self.acknowledged_events
        )?;
        writeln!(
            f,
            "retried       {} messages ({} retries)",
            self.retried, self.retries
        )?;
        writeln!(
            f,
            "failed        {} messages, {} events",
            self.failed, self.failed_events
        )?;
        if self.pending > 0 {
            writeln!(
                f,
                "pending       {} messages (stopped before they settled)",
                self.pending
            )?;
        }
        let statuses: Vec<String> = self
            .statuses
            .iter()
            .map(|(c, n)| format!("{c}: {n}"))
            .collect();
        writeln!(
            f,
            "answers       {} attempts; {}{}",
            self.attempts,
            if statuses.is_empty() {
                "none".to_string()
            } else {
                statuses.join(", ")
            },
            if self.transport_errors > 0 {
                format!("; no answer: {}", self.transport_errors)
            } else {
                String::new()
            }
        )?;
        write!(
            f,
            "latency       p50 {:.2} ms, p99 {:.2} ms",
            self.p50_us as f64 / 1000.0,
            self.p99_us as f64 / 1000.0
        )?;
        if !self.api_requests.is_empty() {
            let calls: Vec<String> = self
                .api_requests
                .iter()
                .map(|(op, n)| format!("{op}: {n}"))
                .collect();
            write!(f, "\nAPI calls     {}", calls.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_merge() {
        let mut a = Summary::default();
        for us in 1..=100 {
            a.record_latency(us);
        }
        a.statuses.insert(200, 90);
        let mut b = Summary::default();
        b.statuses.insert(200, 5);
        b.statuses.insert(503, 5);
        b.record_latency(1000);
        a.merge(b);
        a.finish();
        assert_eq!(a.p50_us, 51);
        assert_eq!(a.p99_us, 100);
        assert_eq!(a.non_2xx(), 5);
        assert_eq!(a.statuses[&200], 95);
        let text = a.to_string();
        assert!(text.contains("200: 95, 503: 5"), "{text}");
        assert_eq!(percentile(&[], 0.5), 0);
        assert_eq!(percentile(&[7], 0.99), 7);
    }
}
