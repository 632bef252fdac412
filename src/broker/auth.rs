//! Who may connect and what they may touch: mosquitto's password file (`user:$7$...` PBKDF2-SHA512
//! or `user:$6$...` salted SHA-512, as `mosquitto_passwd` and `skeeter passwd` write it) and its
//! ACL file (`topic`, `user`, `pattern` with `%c` / `%u`), with mosquitto 2's rules.

use std::collections::HashMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

use crate::topic;

/// mosquitto_passwd's salt length, in bytes (the broker rejects any other).
const SALT_LEN: usize = 12;
/// A SHA-512 digest, the only hash length mosquitto accepts.
const HASH_LEN: usize = 64;
/// mosquitto_passwd's default PBKDF2 iteration count.
pub const DEFAULT_ITERATIONS: u32 = 101;

/// One user's stored password: the parts of `$6$salt$hash` or `$7$iterations$salt$hash`.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash {
    /// None for `$6$` (one SHA-512 of password then salt), Some for `$7$` (PBKDF2-HMAC-SHA512).
    iterations: Option<u32>,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl PasswordHash {
    /// Hash `password` as mosquitto_passwd does by default: PBKDF2-SHA512, 101 iterations, a
    /// random 12-byte salt.
    pub fn new(password: &str) -> PasswordHash {
        let mut salt = vec![0u8; SALT_LEN];
        rand::fill(&mut salt[..]);
        let hash = digest(password.as_bytes(), &salt, Some(DEFAULT_ITERATIONS));
        PasswordHash {
            iterations: Some(DEFAULT_ITERATIONS),
            salt,
            hash,
        }
    }

    /// Parse the part after `user:`.
    pub fn parse(text: &str) -> Result<PasswordHash, String> {
        let parts: Vec<&str> = text.split('$').collect();
        let (iterations, salt, hash) = match parts.as_slice() {
            ["", "6", salt, hash] => (None, salt, hash),
            ["", "7", iterations, salt, hash] => {
                let iterations = iterations
                    .parse::<u32>()
                    .ok()
                    .filter(|&n| n >= 1)
                    .ok_or("bad iteration count")?;
                (Some(iterations), salt, hash)
            }
            _ => return Err("not a $6$ or $7$ password hash".into()),
        };
        let salt = BASE64.decode(salt).map_err(|_| "bad salt encoding")?;
        let hash = BASE64.decode(hash).map_err(|_| "bad hash encoding")?;
        if salt.len() != SALT_LEN {
            return Err(format!("salt of {} bytes, not {SALT_LEN}", salt.len()));
        }
        if hash.len() != HASH_LEN {
            return Err(format!("hash of {} bytes, not {HASH_LEN}", hash.len()));
        }
        Ok(PasswordHash {
            iterations,
            salt,
            hash,
        })
    }

    /// Whether `password` hashes to this (compared in constant time).
    pub fn verify(&self, password: &str) -> bool {
        let candidate = digest(password.as_bytes(), &self.salt, self.iterations);
        candidate.ct_eq(&self.hash).into()
    }
}

fn digest(password: &[u8], salt: &[u8], iterations: Option<u32>) -> Vec<u8> {
    match iterations {
        Some(rounds) => {
            let mut out = vec![0u8; HASH_LEN];
            pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, rounds, &mut out);
            out
        }
        None => {
            let mut hasher = Sha512::new();
            hasher.update(password);
            hasher.update(salt);
            hasher.finalize().to_vec()
        }
    }
}

impl fmt::Display for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (salt, hash) = (BASE64.encode(&self.salt), BASE64.encode(&self.hash));
        match self.iterations {
            Some(rounds) => write!(f, "$7${rounds}${salt}${hash}"),
            None => write!(f, "$6${salt}${hash}"),
        }
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(..)")
    }
}

/// The users of a password file and their hashes.
#[derive(Clone, Default)]
pub struct Passwords {
    users: HashMap<String, PasswordHash>,
}

impl fmt::Debug for Passwords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Passwords({} users)", self.users.len())
    }
}

impl Passwords {
    /// Parse password-file text, mosquitto's way: `#` lines and lines without `:` are skipped,
    /// the user name and hash are trimmed. Err is `LINE: why`.
    pub fn parse(text: &str) -> Result<Passwords, String> {
        let mut users = HashMap::new();
        for (number, line) in text.lines().enumerate() {
            let Some((user, hash)) = entry(line) else {
                continue;
            };
            let hash = PasswordHash::parse(hash).map_err(|why| {
                format!(
                    "{}: user '{user}': {why} (a plain-text password file must be hashed first, \
                     with 'skeeter passwd -U')",
                    number + 1
                )
            })?;
            users.insert(user.to_owned(), hash);
        }
        Ok(Passwords { users })
    }

    pub fn insert(&mut self, user: &str, hash: PasswordHash) {
        self.users.insert(user.to_owned(), hash);
    }

    /// Whether `user` is known and `password` is theirs.
    pub fn check(&self, user: &str, password: &str) -> bool {
        self.users
            .get(user)
            .is_some_and(|hash| hash.verify(password))
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

/// A password-file line as `(user, rest)`, trimmed; None for comments and lines without `:`.
/// Like mosquitto, the rest ends at the next `:`.
pub fn entry(line: &str) -> Option<(&str, &str)> {
    if line.starts_with('#') {
        return None;
    }
    let (user, rest) = line.split_once(':')?;
    let rest = rest.split(':').next().unwrap_or_default();
    Some((user.trim(), rest.trim()))
}

/// What a client wants to do with a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// What an ACL line grants (`deny` grants nothing, and wins over grants of the same list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    Read,
    Write,
    ReadWrite,
    Deny,
}

impl Grant {
    fn allows(self, access: Access) -> bool {
        matches!(
            (self, access),
            (Grant::ReadWrite, _) | (Grant::Read, Access::Read) | (Grant::Write, Access::Write)
        )
    }
}

#[derive(Debug, Clone)]
struct Rule {
    grant: Grant,
    filter: String,
}

/// A rule list checked in order, `deny` rules first (as mosquitto stores them).
#[derive(Debug, Clone, Default)]
struct Rules(Vec<Rule>);

impl Rules {
    fn push(&mut self, rule: Rule) {
        if rule.grant == Grant::Deny {
            let denies = self.0.iter().take_while(|r| r.grant == Grant::Deny).count();
            self.0.insert(denies, rule);
        } else {
            self.0.push(rule);
        }
    }

    /// Some(verdict) from the first matching rule that decides, None when none does.
    fn decide(
        &self,
        topic_name: &str,
        access: Access,
        expand: impl Fn(&str) -> String,
    ) -> Option<bool> {
        for rule in &self.0 {
            let filter = expand(&rule.filter);
            // A `$` topic is only covered by a rule that starts with `$` too.
            if topic_name.starts_with('$') && !filter.starts_with('$') {
                continue;
            }
            if !topic::matches(topic_name, &filter) {
                continue;
            }
            if rule.grant == Grant::Deny {
                return Some(false);
            }
            if rule.grant.allows(access) {
                return Some(true);
            }
        }
        None
    }
}

/// mosquitto's ACL file: `topic` lines before any `user` line are for anonymous clients, those
/// after `user NAME` for that user; `pattern` lines are for everyone, with `%c` the client id
/// and `%u` the user name (a `%u` pattern never covers an anonymous client). Anything not
/// granted is denied.
#[derive(Debug, Clone, Default)]
pub struct Acl {
    anonymous: Rules,
    users: HashMap<String, Rules>,
    patterns: Rules,
}

impl Acl {
    /// Parse ACL-file text. Err is `LINE: why`.
    pub fn parse(text: &str) -> Result<Acl, String> {
        let mut acl = Acl::default();
        let mut user: Option<String> = None;
        for (number, line) in text.lines().enumerate() {
            let fail = |why: String| format!("{}: {why}", number + 1);
            let line = line.trim_end();
            if line.starts_with('#') {
                continue;
            }
            let line = line.trim_start_matches(' ');
            let (keyword, rest) = line.split_once(' ').unwrap_or((line, ""));
            let rest = rest.trim_start_matches(' ');
            match keyword {
                "" => {}
                "user" => {
                    let name = rest.trim();
                    if name.is_empty() {
                        return Err(fail("missing user name".into()));
                    }
                    user = Some(name.to_owned());
                }
                "topic" | "pattern" => {
                    let (first, after) = rest.split_once(' ').unwrap_or((rest, ""));
                    let after = after.trim();
                    let (grant, filter) = if after.is_empty() {
                        (Grant::ReadWrite, first)
                    } else {
                        let grant = match first {
                            "read" => Grant::Read,
                            "write" => Grant::Write,
                            "readwrite" => Grant::ReadWrite,
                            "deny" => Grant::Deny,
                            other => {
                                return Err(fail(format!("invalid access type '{other}'")));
                            }
                        };
                        (grant, after)
                    };
                    if filter.is_empty() {
                        return Err(fail(format!("empty topic in '{keyword}'")));
                    }
                    topic::check_filter(filter)
                        .map_err(|err| fail(format!("invalid ACL topic '{filter}': {err}")))?;
                    let rule = Rule {
                        grant,
                        filter: filter.to_owned(),
                    };
                    match (keyword, &user) {
                        ("pattern", _) => acl.patterns.push(rule),
                        (_, Some(name)) => acl.users.entry(name.clone()).or_default().push(rule),
                        (_, None) => acl.anonymous.push(rule),
                    }
                }
                other => return Err(fail(format!("invalid line (unknown keyword '{other}')"))),
            }
        }
        Ok(acl)
    }

    /// Whether the client may read or write `topic_name`: its own list first (anonymous or its
    /// user's), then the patterns.
    pub fn allows(
        &self,
        client_id: &str,
        username: Option<&str>,
        topic_name: &str,
        access: Access,
    ) -> bool {
        let own = match username {
            Some(name) => self.users.get(name),
            None => Some(&self.anonymous),
        };
        if let Some(verdict) = own.and_then(|rules| rules.decide(topic_name, access, str::to_owned))
        {
            return verdict;
        }
        if self.patterns.0.is_empty() {
            return false;
        }
        // A wildcard in an id or name would widen every pattern it is put into.
        if client_id.contains(['+', '#']) || username.is_some_and(|u| u.contains(['+', '#'])) {
            return false;
        }
        let patterns = Rules(
            self.patterns
                .0
                .iter()
                .filter(|rule| username.is_some() || !rule.filter.contains("%u"))
                .cloned()
                .collect(),
        );
        patterns
            .decide(topic_name, access, |filter| {
                expand(filter, client_id, username.unwrap_or_default())
            })
            .unwrap_or(false)
    }
}

/// A pattern with `%c` and `%u` replaced, left to right.
fn expand(pattern: &str, client_id: &str, username: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + client_id.len() + username.len());
    let mut rest = pattern;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('c') {
            out.push_str(client_id);
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('u') {
            out.push_str(username);
            rest = tail;
        } else {
            out.push('%');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Why a CONNECT is refused. mosquitto 2 answers both with CONNACK 5 (not authorised) in MQTT
/// 3.1.1, and so does skeeter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Anonymous,
    BadCredentials,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::Anonymous => "anonymous clients are not allowed",
            Refusal::BadCredentials => "bad user name or password",
        })
    }
}

/// The CONNECT check: with a password file, a client that gives a user name must be in it with
/// that password; without one, any user name is taken as given. A client without a user name
/// is anonymous.
pub(crate) fn authenticate(
    passwords: Option<&Passwords>,
    allow_anonymous: bool,
    username: Option<&str>,
    password: Option<&str>,
) -> Result<(), Refusal> {
    let Some(username) = username else {
        return if allow_anonymous {
            Ok(())
        } else {
            Err(Refusal::Anonymous)
        };
    };
    match passwords {
        None => Ok(()),
        Some(passwords) => match password {
            Some(password) if passwords.check(username, password) => Ok(()),
            _ => Err(Refusal::BadCredentials),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Written by mosquitto_passwd 2.0.11: alice / secret.
    const ALICE: &str = "$7$101$StLHK7xZ9cpacImq$2gbpPBLAHz6QuyBN8lEtdQfZuwIVEwkd7JodDqJKbXwa0vsbr6A1DPz4oRUIekp/SPsOKPiA7J9TdbtqR/YmqQ==";

    #[test]
    fn verifies_a_mosquitto_passwd_hash() {
        let hash = PasswordHash::parse(ALICE).unwrap();
        assert!(hash.verify("secret"));
        assert!(!hash.verify("Secret"));
        assert_eq!(hash.to_string(), ALICE);
    }

    #[test]
    fn sha512_hashes() {
        let salt = [7u8; SALT_LEN];
        let mut hasher = Sha512::new();
        hasher.update(b"pw");
        hasher.update(salt);
        let line = format!(
            "$6${}${}",
            BASE64.encode(salt),
            BASE64.encode(hasher.finalize())
        );
        let hash = PasswordHash::parse(&line).unwrap();
        assert!(hash.verify("pw"));
        assert!(!hash.verify("px"));
    }

    #[test]
    fn new_hashes_round_trip() {
        let hash = PasswordHash::new("p w:x");
        let text = hash.to_string();
        assert!(text.starts_with("$7$101$"));
        assert!(PasswordHash::parse(&text).unwrap().verify("p w:x"));
        assert_ne!(
            PasswordHash::new("a").to_string(),
            PasswordHash::new("a").to_string()
        );
    }

    #[test]
    fn password_files() {
        let passwords = Passwords::parse(&format!("# c\n\nalice:{ALICE}\nnocolon\n")).unwrap();
        assert!(passwords.check("alice", "secret"));
        assert!(!passwords.check("bob", "secret"));
        let err = Passwords::parse("a:$7$101$x$y\nb:plain\n").unwrap_err();
        assert!(err.starts_with("1: user 'a'"), "{err}");
    }

    #[test]
    fn authentication_rules() {
        let passwords = Passwords::parse(&format!("alice:{ALICE}\n")).unwrap();
        let p = Some(&passwords);
        assert_eq!(
            authenticate(p, false, Some("alice"), Some("secret")),
            Ok(())
        );
        assert_eq!(
            authenticate(p, true, Some("alice"), Some("x")),
            Err(Refusal::BadCredentials)
        );
        assert_eq!(
            authenticate(p, true, Some("alice"), None),
            Err(Refusal::BadCredentials)
        );
        assert_eq!(authenticate(p, false, None, None), Err(Refusal::Anonymous));
        assert_eq!(authenticate(p, true, None, None), Ok(()));
        assert_eq!(authenticate(None, false, Some("x"), None), Ok(()));
    }

    #[test]
    fn acl_sections_and_patterns() {
        let acl = Acl::parse(
            "# anonymous\ntopic read public/#\n\nuser alice\ntopic readwrite alice/#\n\
             topic deny alice/secret\ntopic write logs/+\nuser bob\ntopic bob/x\n\
             pattern read devices/%c/in\npattern write users/%u/out\n",
        )
        .unwrap();
        let anon = |t, a| acl.allows("dev1", None, t, a);
        assert!(anon("public/a", Access::Read));
        assert!(!anon("public/a", Access::Write));
        assert!(anon("devices/dev1/in", Access::Read));
        assert!(
            !anon("users//out", Access::Write),
            "%u never covers anonymous"
        );
        let alice = |t, a| acl.allows("c1", Some("alice"), t, a);
        assert!(alice("alice/x", Access::Write));
        assert!(!alice("alice/secret", Access::Read), "deny comes first");
        assert!(alice("logs/a", Access::Write));
        assert!(!alice("logs/a", Access::Read));
        assert!(
            !alice("public/a", Access::Read),
            "the anonymous section is not hers"
        );
        assert!(alice("users/alice/out", Access::Write));
        assert!(!alice("users/bob/out", Access::Write));
        assert!(alice("devices/c1/in", Access::Read));
        assert!(acl.allows("c", Some("bob"), "bob/x", Access::Read));
        assert!(!acl.allows("c", Some("carol"), "bob/x", Access::Read));
        assert!(!acl.allows("a+", None, "devices/a+/in", Access::Read));
        assert!(!acl.allows("c", Some("alice"), "$SYS/x", Access::Read));
    }

    #[test]
    fn acl_errors_name_the_line() {
        assert_eq!(
            Acl::parse("user a\ntopic rw x\n").unwrap_err(),
            "2: invalid access type 'rw'"
        );
        assert!(
            Acl::parse("topic read a/#/b\n")
                .unwrap_err()
                .starts_with("1: invalid ACL topic")
        );
        assert!(
            Acl::parse("users a\n")
                .unwrap_err()
                .starts_with("1: invalid line")
        );
        assert!(
            Acl::parse("user\n")
                .unwrap_err()
                .starts_with("1: missing user name")
        );
    }
}
