//! skeeter: an MQTT toolkit for sysadmins.
//!
//! The binary's code lives here too, so that tests and other programs can use it; the part meant
//! for embedding is [`broker`]: start an MQTT broker in-process (on port 0 in tests), learn its
//! address, stop it.

pub mod broker;
pub mod cli;
pub mod client;
pub mod cmd;
pub mod exit;
pub mod format;
pub mod topic;
