//! skeeter: an MQTT toolkit for sysadmins.
//!
//! The binary's code lives here too, so that tests and other programs can use it; the part meant
//! for embedding is [`broker`]: start an MQTT broker in-process (on port 0 in tests), learn its
//! address, stop it.

/// `eprintln!` that never panics: a log or error line is not worth a crash when stderr is
/// closed (`skeeter sub -d 2>&1 | head -1`).
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        $crate::term::say(format!($($arg)*));
    }};
}

pub mod broker;
pub mod cli;
pub mod client;
pub mod cmd;
pub mod exit;
pub mod format;
pub mod options_file;
pub mod profile;
pub mod term;
pub mod topic;
mod wire;
