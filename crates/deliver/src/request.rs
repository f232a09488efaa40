//! What a target wants sent, as data: built by the pure encoders, sent by the client.

use bytes::Bytes;
use http::Method;

/// One HTTP request a routing target wants sent.
#[derive(Clone, Debug)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// Whether the receiver's certificate is checked.
    pub verify_cert: bool,
    /// Header names whose values are hidden in delivery results (`Authorization` always is).
    pub redact: Vec<String>,
}

impl HttpRequest {
    /// A JSON POST to `url` with certificate checks on.
    pub fn post_json(url: &str, body: impl Into<Bytes>) -> HttpRequest {
        HttpRequest {
            method: Method::POST,
            url: url.to_string(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.into(),
            verify_cert: true,
            redact: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> HttpRequest {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

/// `url` as delivery results show it: a password in its user info is replaced by `***`.
pub fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_urls_hide_passwords() {
        assert_eq!(
            shown_url("https://noc:s3cret@hooks.example.net/mist?x=1"),
            "https://noc:***@hooks.example.net/mist?x=1"
        );
        assert_eq!(
            shown_url("https://hooks.example.net/a"),
            "https://hooks.example.net/a"
        );
    }
}
