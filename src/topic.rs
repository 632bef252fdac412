//! MQTT topic names and topic filters: validation and matching, in one place.
//!
//! Used by the client (to refuse a bad `-t` before connecting) and by the broker (to validate
//! PUBLISH/SUBSCRIBE and to route). Rules are those of MQTT 3.1.1 section 4.7.

use std::fmt;

/// Why a topic name or filter was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicError {
    Empty,
    TooLong,
    Nul,
    /// A publish topic (or will/response topic) containing `+` or `#`.
    Wildcard,
    /// A filter with `#` not alone in the last level, or `+` not alone in its level.
    BadWildcard,
}

impl fmt::Display for TopicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TopicError::Empty => "it is empty",
            TopicError::TooLong => "it is longer than 65535 bytes",
            TopicError::Nul => "it contains a NUL character",
            TopicError::Wildcard => "it contains '+' or '#'",
            TopicError::BadWildcard => "'+' and '#' must fill a whole level, and '#' must be last",
        })
    }
}

impl std::error::Error for TopicError {}

const MAX_LEN: usize = 65535;

fn check_common(s: &str) -> Result<(), TopicError> {
    if s.is_empty() {
        return Err(TopicError::Empty);
    }
    if s.len() > MAX_LEN {
        return Err(TopicError::TooLong);
    }
    if s.contains('\0') {
        return Err(TopicError::Nul);
    }
    Ok(())
}

/// A topic a message is published to: non-empty, no wildcards, no NUL.
pub fn check_name(topic: &str) -> Result<(), TopicError> {
    check_common(topic)?;
    if topic.contains(['+', '#']) {
        return Err(TopicError::Wildcard);
    }
    Ok(())
}

/// A subscription filter: `+` fills a whole level, `#` fills the whole last level.
pub fn check_filter(filter: &str) -> Result<(), TopicError> {
    check_common(filter)?;
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        let is_last = levels.peek().is_none();
        match level {
            "#" if is_last => {}
            "+" => {}
            l if l.contains(['+', '#']) => return Err(TopicError::BadWildcard),
            _ => {}
        }
    }
    Ok(())
}

/// Whether a filter has a wildcard in it.
pub fn has_wildcard(filter: &str) -> bool {
    filter.contains(['+', '#'])
}

/// Whether `topic` (a valid name) matches `filter` (a valid filter).
///
/// A topic starting with `$` is not matched by a filter starting with a wildcard (`#`, `+/...`).
pub fn matches(topic: &str, filter: &str) -> bool {
    if topic.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    let mut t = topic.split('/');
    let mut f = filter.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(fl), Some(tl)) if fl == tl => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("a/b").is_ok());
        assert!(check_name("/").is_ok());
        assert_eq!(check_name(""), Err(TopicError::Empty));
        assert_eq!(check_name("a/+"), Err(TopicError::Wildcard));
        assert_eq!(check_name("a/#"), Err(TopicError::Wildcard));
        assert_eq!(check_name("a\0b"), Err(TopicError::Nul));
    }

    #[test]
    fn filters() {
        for ok in ["#", "+", "a/#", "a/+/b", "+/+", "/#", "a//b", "$SYS/#"] {
            assert!(check_filter(ok).is_ok(), "{ok}");
        }
        for bad in ["a/#/b", "a#", "a/b+", "#/a", "++", ""] {
            assert!(check_filter(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn matching() {
        assert!(matches("a/b", "a/b"));
        assert!(matches("a/b", "a/+"));
        assert!(matches("a/b", "#"));
        assert!(matches("a", "a/#"), "# also matches the parent level");
        assert!(matches("a/b/c", "a/#"));
        assert!(matches("/x", "+/x"));
        assert!(matches("a//b", "a/+/b"));
        assert!(!matches("a/b/c", "a/+"));
        assert!(!matches("a", "a/+"));
        assert!(!matches("b/a", "a/#"));
        assert!(!matches("$SYS/x", "#"));
        assert!(!matches("$SYS/x", "+/x"));
        assert!(matches("$SYS/x", "$SYS/#"));
    }
}
