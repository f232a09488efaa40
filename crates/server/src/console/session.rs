//! Console sessions: who signed in with a valid API token, and the CSRF token of each.
//!
//! A session is a random 256-bit id in an HttpOnly, SameSite=Strict cookie. The server keeps
//! only the SHA-256 of that id (a look-up by hash cannot be timed against the id itself),
//! with the session's CSRF token and its deadlines. Sessions live in memory: a restart signs
//! everybody out, which is the safe failure. Signing out removes the session at once.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub const COOKIE: &str = "mistgate_session";

/// How long a session may go unused before it ends.
pub const IDLE_US: i64 = 2 * 3_600 * 1_000_000;
/// How long a session lasts at most, used or not.
pub const LIFETIME_US: i64 = 12 * 3_600 * 1_000_000;
/// Sessions kept at most; the oldest is dropped first beyond this.
const MAX_SESSIONS: usize = 10_000;

/// One signed-in browser.
#[derive(Clone, Debug)]
pub struct Session {
    /// The token every state-changing request of this session must carry.
    pub csrf: String,
    pub created_at: i64,
    pub last_used_at: i64,
    /// Who signed in: the token's name and role (the session acts as that token, and
    /// ends when the token is revoked or expires).
    pub principal: crate::access::Principal,
}

impl Session {
    /// A new session for `principal`, and its id (the cookie value, shown to the
    /// browser only).
    pub fn start(
        now: i64,
        principal: crate::access::Principal,
    ) -> std::io::Result<(String, Session)> {
        let id = random_token()?;
        let session = Session {
            csrf: random_token()?,
            created_at: now,
            last_used_at: now,
            principal,
        };
        Ok((id, session))
    }

    /// Whether `presented` is this session's CSRF token (constant time).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        let (a, b) = (self.csrf.as_bytes(), presented.as_bytes());
        a.len() == b.len() && bool::from(a.ct_eq(b))
    }

    pub(super) fn alive(&self, now: i64) -> bool {
        now - self.last_used_at < IDLE_US && now - self.created_at < LIFETIME_US
    }
}

/// How long a one-time sign-in link stays valid.
pub const ONE_TIME_US: i64 = 15 * 60 * 1_000_000;

/// The sessions of this process, and the one-time sign-in keys not used yet.
#[derive(Default)]
pub struct Sessions {
    by_hash: Mutex<HashMap<[u8; 32], Session>>,
    one_time: Mutex<Vec<([u8; 32], i64)>>,
}

impl Sessions {
    /// Starts a session; returns the cookie value (shown to the browser only) and the session.
    pub fn create(
        &self,
        now: i64,
        principal: crate::access::Principal,
    ) -> std::io::Result<(String, Session)> {
        let (id, session) = Session::start(now, principal)?;
        let mut sessions = self.by_hash.lock().expect("sessions lock");
        sessions.retain(|_, s| s.alive(now));
        if sessions.len() >= MAX_SESSIONS {
            let oldest = sessions
                .iter()
                .min_by_key(|(_, s)| s.last_used_at)
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                sessions.remove(&k);
            }
        }
        sessions.insert(hash(&id), session.clone());
        Ok((id, session))
    }

    /// The live session of cookie value `id`, marked as used now.
    pub fn touch(&self, id: &str, now: i64) -> Option<Session> {
        let key = hash(id);
        let mut sessions = self.by_hash.lock().expect("sessions lock");
        match sessions.get_mut(&key) {
            Some(s) if s.alive(now) => {
                s.last_used_at = now;
                Some(s.clone())
            }
            Some(_) => {
                sessions.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Ends the session of cookie value `id`; whether there was one.
    pub fn end(&self, id: &str) -> bool {
        self.by_hash
            .lock()
            .expect("sessions lock")
            .remove(&hash(id))
            .is_some()
    }

    /// A key for a one-time sign-in link (`/ui/login?key=...`), valid for
    /// [`ONE_TIME_US`]; what `serve --demo` prints, so that nobody has to copy a token.
    pub fn issue_one_time(&self, now: i64) -> std::io::Result<String> {
        let key = random_token()?;
        let mut keys = self.one_time.lock().expect("one-time keys lock");
        keys.retain(|(_, until)| *until > now);
        keys.push((hash(&key), now + ONE_TIME_US));
        Ok(key)
    }

    /// Whether `key` is a live one-time key; it is used up either way.
    pub fn redeem_one_time(&self, key: &str, now: i64) -> bool {
        let presented = hash(key);
        let mut keys = self.one_time.lock().expect("one-time keys lock");
        let found = keys
            .iter()
            .position(|(k, until)| bool::from(k.ct_eq(&presented)) && *until > now);
        match found {
            Some(i) => {
                keys.swap_remove(i);
                true
            }
            None => false,
        }
    }

    /// How many sessions are open (for tests and metrics).
    pub fn len(&self) -> usize {
        self.by_hash.lock().expect("sessions lock").len()
    }

    /// Whether no session is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The value of cookie `name` in a `Cookie` request header.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    cookie::Cookie::split_parse(header)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .and_then(|c| {
            // `value_raw` borrows from the header for unencoded cookies, which ours are.
            c.value_raw()
        })
}

/// The `Set-Cookie` value that gives the browser its session.
pub fn set_cookie(id: &str, secure: bool) -> String {
    cookie::Cookie::build((COOKIE, id))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(cookie::SameSite::Strict)
        .max_age(cookie::time::Duration::seconds(LIFETIME_US / 1_000_000))
        .build()
        .to_string()
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(secure: bool) -> String {
    cookie::Cookie::build((COOKIE, ""))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(cookie::SameSite::Strict)
        .max_age(cookie::time::Duration::ZERO)
        .build()
        .to_string()
}

pub(super) fn hash(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

fn random_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin() -> crate::access::Principal {
        crate::access::Principal {
            token_id: None,
            name: "config".into(),
            role: crate::access::Role::Admin,
        }
    }

    #[test]
    fn a_session_lives_until_idle_or_ended() {
        let sessions = Sessions::default();
        let (id, s) = sessions.create(1_000, admin()).unwrap();
        assert_eq!(id.len(), 43);
        assert_ne!(id, s.csrf);
        assert!(sessions.touch(&id, 2_000).is_some());
        assert!(sessions.touch("not-a-session", 2_000).is_none());
        // Used again within the idle time: still alive past the first idle deadline.
        assert!(sessions.touch(&id, 2_000 + IDLE_US - 1).is_some());
        assert!(sessions.touch(&id, 2_000 + 2 * IDLE_US).is_none());
        assert!(
            sessions.is_empty(),
            "an expired session is dropped when seen"
        );
        let (id, _) = sessions.create(0, admin()).unwrap();
        assert!(sessions.end(&id));
        assert!(sessions.touch(&id, 1).is_none());
        assert!(!sessions.end(&id));
    }

    #[test]
    fn a_session_ends_at_its_lifetime_however_busy() {
        let sessions = Sessions::default();
        let (id, _) = sessions.create(0, admin()).unwrap();
        let mut now = 0;
        while now + IDLE_US / 2 < LIFETIME_US {
            now += IDLE_US / 2;
            assert!(sessions.touch(&id, now).is_some());
        }
        assert!(sessions.touch(&id, LIFETIME_US).is_none());
    }

    #[test]
    fn a_one_time_key_signs_in_once_and_expires() {
        let sessions = Sessions::default();
        let key = sessions.issue_one_time(0).unwrap();
        assert!(!sessions.redeem_one_time("other", 1));
        assert!(sessions.redeem_one_time(&key, 1));
        assert!(!sessions.redeem_one_time(&key, 2), "used up");
        let late = sessions.issue_one_time(0).unwrap();
        assert!(!sessions.redeem_one_time(&late, ONE_TIME_US));
    }

    #[test]
    fn csrf_is_compared_whole() {
        let s = Session {
            csrf: "abc".into(),
            created_at: 0,
            last_used_at: 0,
            principal: admin(),
        };
        assert!(s.csrf_matches("abc"));
        assert!(!s.csrf_matches("ab"));
        assert!(!s.csrf_matches("abd"));
        assert!(!s.csrf_matches(""));
    }

    #[test]
    fn cookies_are_strict_http_only_and_found_among_others() {
        let set = set_cookie("xyz", false);
        assert!(set.starts_with("mistgate_session=xyz"));
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"));
        assert!(!set.contains("Secure"));
        assert!(set_cookie("xyz", true).contains("Secure"));
        assert!(clear_cookie(false).contains("Max-Age=0"));
        assert_eq!(
            cookie_value("a=1; mistgate_session=xyz; b=2", COOKIE),
            Some("xyz")
        );
        assert_eq!(cookie_value("a=1", COOKIE), None);
    }
}
