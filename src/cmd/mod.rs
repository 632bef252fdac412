//! One file per subcommand, each thin: arguments in, client/format/broker used, exit code out.

pub mod broker;
pub mod generate;
pub mod links;
pub mod passwd;
pub mod publish;
pub mod rr;
pub mod subscribe;

use crate::exit::{self, Code, Fatal};

/// With --quiet, runtime errors still set the exit code but print nothing.
pub fn quiet(quiet: bool, result: anyhow::Result<()>) -> anyhow::Result<()> {
    match result {
        Err(err) if quiet && exit::code_of(&err) != Code::Usage => {
            Err(Fatal::silent(exit::code_of(&err)).into())
        }
        other => other,
    }
}
