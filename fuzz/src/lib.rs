//! What the fuzz targets share: other spellings of the same JSON (keys reordered, spacing
//! changed), built from the fuzzer's own bytes, and a cursor over those bytes.
//!
//! The targets assert that what mistgate derives from an event (fingerprint, normalised
//! fields) does not change when only the spelling does, so they need spellings that differ
//! from Mist's in every way JSON allows without changing the content.

use serde_json::Value;

/// Whitespace between JSON tokens, chosen by one byte: none, a space, a newline or a mix.
fn spacing(b: u8) -> &'static str {
    match b % 4 {
        0 => "",
        1 => " ",
        2 => "\n",
        _ => "\t\r\n ",
    }
}

/// Cycles through `noise` (zero bytes when it is empty) to pick spacing.
struct Noise<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Noise<'_> {
    fn next(&mut self) -> &'static str {
        if self.bytes.is_empty() {
            return "";
        }
        let b = self.bytes[self.at % self.bytes.len()];
        self.at += 1;
        spacing(b)
    }
}

/// `value` as JSON text with every object's keys in reverse order and whitespace between
/// tokens chosen by `noise`. Parses back to a value equal to `value`.
pub fn respell(value: &Value, noise: &[u8]) -> String {
    let mut out = String::new();
    let mut noise = Noise {
        bytes: noise,
        at: 0,
    };
    write_value(&mut out, value, &mut noise);
    out
}

fn write_value(out: &mut String, value: &Value, noise: &mut Noise<'_>) {
    out.push_str(noise.next());
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(noise.next());
                    out.push(',');
                }
                write_value(out, item, noise);
            }
            out.push_str(noise.next());
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().rev().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(noise.next());
                out.push_str(&Value::String(key.clone()).to_string());
                out.push_str(noise.next());
                out.push(':');
                write_value(out, item, noise);
            }
            out.push_str(noise.next());
            out.push('}');
        }
        leaf => out.push_str(&leaf.to_string()),
    }
    out.push_str(noise.next());
}

/// `text` with whitespace inserted after every byte that is outside a JSON string (as a
/// JSON scanner sees it: `"` opens and closes, `\` escapes inside), chosen by `noise`.
/// For JSON text this only changes the spacing between tokens.
pub fn respace(text: &str, noise: &[u8]) -> String {
    let mut noise = Noise {
        bytes: noise,
        at: 0,
    };
    let mut out = String::with_capacity(text.len() * 2);
    let (mut in_string, mut escaped) = (false, false);
    out.push_str(noise.next());
    for c in text.chars() {
        out.push(c);
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            if !in_string {
                out.push_str(noise.next());
            }
        } else if c == '"' {
            in_string = true;
        } else {
            out.push_str(noise.next());
        }
    }
    out
}

/// `text` without the JSON whitespace (space, tab, newline, carriage return) that lies
/// outside strings.
pub fn without_spacing(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if matches!(c, ' ' | '\t' | '\n' | '\r') {
            continue;
        } else if c == '"' {
            in_string = true;
        }
        out.push(c);
    }
    out
}

/// Reads the fuzzer's bytes front to back; past the end every read gives zeros.
pub struct Cursor<'a> {
    data: &'a [u8],
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Cursor { data }
    }

    /// The next byte, or 0 at the end.
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// The next `n` bytes, or as many as are left.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        self.take(self.data.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn respelled_json_is_the_same_value() {
        let v: Value = serde_json::from_str(r#"{"a":[1,{"b":"x y","c":null}],"d":1.5}"#).unwrap();
        for noise in [&b""[..], b"\x01\x02\x03", b"\x03"] {
            let text = respell(&v, noise);
            assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), v, "{text}");
        }
    }

    #[test]
    fn respacing_keeps_strings() {
        let text = r#"{"a b":"c\"d e"}"#;
        let spaced = respace(text, b"\x01");
        assert_eq!(without_spacing(&spaced), without_spacing(text));
        assert!(spaced.contains(r#""c\"d e""#));
    }
}
