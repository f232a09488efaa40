//! `${NAME}` references, expanded inside the string values of the parsed file, never in
//! its text: a value may hold any character (`"`, `\`, newlines), and an error about the
//! file quotes the file as written (`${S1}`), never the value it stands for.

use super::ConfigError;

/// What was put where: each variable's value and the reference it replaced, so that an
/// error message about an expanded value can show the reference instead.
#[derive(Default)]
pub(super) struct Substitutions(Vec<(String, String)>);

impl Substitutions {
    /// `message` with every substituted value replaced by its `${NAME}` (longest first, so
    /// that a value inside another is not half replaced).
    pub(super) fn scrub(&self, message: &str) -> String {
        let mut pairs: Vec<&(String, String)> =
            self.0.iter().filter(|(v, _)| !v.is_empty()).collect();
        pairs.sort_by_key(|(v, _)| std::cmp::Reverse(v.len()));
        let mut out = message.to_string();
        for (value, reference) in pairs {
            out = out.replace(value.as_str(), reference);
        }
        out
    }
}

/// Expands every string of `table` (in arrays and tables too; keys are left as they are).
/// A missing variable is an error naming the line of the file that refers to it.
pub(super) fn expand_table(
    table: &mut toml::Table,
    text: &str,
    origin: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Substitutions, ConfigError> {
    let mut subs = Substitutions::default();
    for (_, value) in table.iter_mut() {
        expand_value(value, text, origin, env, &mut subs)?;
    }
    Ok(subs)
}

fn expand_value(
    value: &mut toml::Value,
    text: &str,
    origin: &str,
    env: &dyn Fn(&str) -> Option<String>,
    subs: &mut Substitutions,
) -> Result<(), ConfigError> {
    match value {
        toml::Value::String(s) => *s = expand_str(s, text, origin, env, subs)?,
        toml::Value::Array(items) => {
            for item in items {
                expand_value(item, text, origin, env, subs)?;
            }
        }
        toml::Value::Table(table) => {
            for (_, item) in table.iter_mut() {
                expand_value(item, text, origin, env, subs)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Replaces each `${NAME}` (NAME: letters, digits, `_`) of one string; anything else that
/// looks like a reference is left as written.
fn expand_str(
    s: &str,
    text: &str,
    origin: &str,
    env: &dyn Fn(&str) -> Option<String>,
    subs: &mut Substitutions,
) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start + 2..].find('}') else {
            break;
        };
        let name = &rest[start + 2..start + 2 + len];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            out.push_str(&rest[..start + 2]);
            rest = &rest[start + 2..];
            continue;
        }
        let value = env(name).ok_or_else(|| ConfigError::MissingVar {
            path: origin.to_string(),
            line: line_of(text, name),
            name: name.to_string(),
        })?;
        out.push_str(&rest[..start]);
        out.push_str(&value);
        subs.0.push((value, format!("${{{name}}}")));
        rest = &rest[start + 3 + len..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The first line (1-based) of `text` that refers to `${name}` before any comment.
fn line_of(text: &str, name: &str) -> usize {
    let reference = format!("${{{name}}}");
    text.lines()
        .position(|line| {
            let code = &line[..super::comment_start(line).unwrap_or(line.len())];
            code.contains(&reference)
        })
        // In a multi-line string, the line that holds it whatever comes before.
        .or_else(|| text.lines().position(|line| line.contains(&reference)))
        .map_or(0, |n| n + 1)
}
