//! One file per subcommand, each thin: arguments in, client/format/broker used, exit code out.

pub mod bench;
pub mod broker;
pub mod clean_retained;
pub mod generate;
pub mod links;
pub mod passwd;
pub mod probe;
pub mod publish;
pub mod rr;
pub mod run;
pub mod subscribe;

use std::time::Duration;

use tokio::time::Instant;

use crate::exit::{self, Code, Fatal};

/// -W SECS (sub and rr): when the run must end. A limit too far away to represent is none.
pub fn deadline(secs: Option<u64>) -> Option<Instant> {
    secs.and_then(|secs| Instant::now().checked_add(Duration::from_secs(secs)))
}

/// The error a -W timeout ends the run with (exit 27, 'Timed out' as mosquitto prints it).
pub fn timed_out(secs: Option<u64>) -> anyhow::Error {
    Fatal::new(
        Code::Timeout,
        format!("Timed out after {} s (-W)", secs.unwrap_or_default()),
    )
    .into()
}

/// Resolves at the deadline; never without one.
pub async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// With --quiet, runtime errors still set the exit code but print nothing.
pub fn quiet(quiet: bool, result: anyhow::Result<()>) -> anyhow::Result<()> {
    match result {
        Err(err) if quiet && exit::code_of(&err) != Code::Usage => {
            Err(Fatal::silent(exit::code_of(&err)).into())
        }
        other => other,
    }
}
