//! The `skeeter` binary: work out which tool we are (argv[0] or the subcommand), run it, and turn
//! the outcome into an exit code. Nothing else happens here.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use skeeter::cli::{self, Cli, Command, Personality};
use skeeter::exit::{self, Code};
use skeeter::{cmd, options_file, profile};

fn main() -> ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let program = args
        .first()
        .and_then(|p| std::path::Path::new(p).file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();

    let personality = cli::personality_of(&program);
    let mosquitto_name = program.starts_with("mosquitto_");
    let exit_code = |code: Code| {
        ExitCode::from(if mosquitto_name {
            code.as_mosquitto_u8()
        } else {
            code.as_u8()
        })
    };
    if let Err(message) = insert_options_file(&mut args, personality, mosquitto_name) {
        skeeter::say!("skeeter: error: {message}");
        return exit_code(Code::Usage);
    }
    if let Some(start) = client_options_start(&args, personality)
        && let Err(message) = profile::insert(&mut args, start)
    {
        skeeter::say!("skeeter: error: {message}");
        return exit_code(Code::Usage);
    }

    group_property_args(&mut args, personality);
    let parsed = match personality {
        Some(personality) => {
            args[0] = program.clone().into();
            parse_as(personality, &program, args)
        }
        None => Cli::command()
            .try_get_matches_from(args)
            .and_then(|m| Cli::from_arg_matches(&m)),
    };
    let command = match parsed {
        Ok(cli) => cli.command,
        Err(err) => return usage_error(err, exit_code),
    };

    // The broker spreads its connections over every core; a client is one conversation, and a
    // single thread spares it a cross-thread wake-up for every message (bench runs its clients
    // on threads of its own, one per core).
    let runtime = match &command {
        Command::Broker(_) => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    }
    .enable_all()
    .build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(err) => {
            skeeter::say!("skeeter: error: cannot start the async runtime: {err}");
            return exit_code(Code::Failure);
        }
    };
    let result = runtime.block_on(async {
        match command {
            Command::Pub(args) => cmd::publish::run(args).await,
            Command::Sub(args) => cmd::subscribe::run(args).await,
            Command::Rr(args) => cmd::rr::run(args).await,
            Command::Run(args) => cmd::run::run(args).await,
            Command::CleanRetained(args) => cmd::clean_retained::run(args).await,
            Command::Probe(args) => cmd::probe::run(args).await,
            Command::Bench(args) => cmd::bench::run(args).await,
            Command::Broker(args) => cmd::broker::run(args).await,
            Command::Links(args) => cmd::links::run(args),
            Command::Passwd(args) => cmd::passwd::run(args),
            Command::Generate(args) => cmd::generate::run(args),
        }
    });
    // Don't wait for tasks stuck on stdin or a dead socket.
    runtime.shutdown_background();

    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let code = exit::code_of(&err);
            if !exit::is_silent(&err) {
                skeeter::say!("skeeter: error: {err:#}");
            }
            exit_code(code)
        }
    }
}

/// Put the options of the options file (-o, or the default one) before the command line's own.
fn insert_options_file(
    args: &mut Vec<std::ffi::OsString>,
    personality: Option<Personality>,
    mosquitto_name: bool,
) -> Result<(), String> {
    // Which tool, and where its options start in argv.
    let (tool, start) = match personality {
        Some(Personality::Pub) => ("pub", 1),
        Some(Personality::Sub) => ("sub", 1),
        Some(Personality::Rr) => ("rr", 1),
        Some(Personality::Broker) => return Ok(()),
        None => match args.get(1).and_then(|a| a.to_str()) {
            Some("pub") => ("pub", 2),
            Some("sub") => ("sub", 2),
            Some("rr") => ("rr", 2),
            Some("run") => ("run", 2),
            Some("clean-retained") => ("clean-retained", 2),
            Some("bench") => ("bench", 2),
            _ => return Ok(()),
        },
    };
    let Some((path, required)) = options_file::locate(&args[start..], tool, mosquitto_name) else {
        return Ok(());
    };
    let words = options_file::read(&path, required)?;
    args.splice(start..start, words);
    Ok(())
}

/// Where a client command's options start in argv (None for the broker and the others).
fn client_options_start(
    args: &[std::ffi::OsString],
    personality: Option<Personality>,
) -> Option<usize> {
    match personality {
        Some(Personality::Pub | Personality::Sub | Personality::Rr) => Some(1),
        Some(_) => None,
        None => match args.get(1).and_then(|a| a.to_str()) {
            Some("pub" | "sub" | "rr" | "run" | "clean-retained" | "probe" | "bench") => Some(2),
            _ => None,
        },
    }
}

/// Client commands: each -D's 3 or 4 words become one, for clap (see client::properties).
fn group_property_args(args: &mut Vec<std::ffi::OsString>, personality: Option<Personality>) {
    if let Some(start) = client_options_start(args, personality) {
        skeeter::client::properties::group_property_args(args, start);
    }
}

/// Parse argv as one subcommand run directly under a link name (flags start at argv[1]).
fn parse_as(
    personality: Personality,
    name: &str,
    args: Vec<std::ffi::OsString>,
) -> clap::error::Result<Cli> {
    use clap::Args;
    let name = name.to_owned();
    let command = match personality {
        Personality::Pub => cli::PubArgs::augment_args(clap::Command::new(name)),
        Personality::Sub => cli::SubArgs::augment_args(clap::Command::new(name)),
        Personality::Rr => cli::RrArgs::augment_args(clap::Command::new(name)),
        Personality::Broker => cli::BrokerArgs::augment_args(clap::Command::new(name)),
    };
    let matches = command
        .version(env!("CARGO_PKG_VERSION"))
        .try_get_matches_from(args)?;
    Ok(Cli {
        command: match personality {
            Personality::Pub => Command::Pub(cli::PubArgs::from_arg_matches(&matches)?),
            Personality::Sub => Command::Sub(cli::SubArgs::from_arg_matches(&matches)?),
            Personality::Rr => Command::Rr(cli::RrArgs::from_arg_matches(&matches)?),
            Personality::Broker => Command::Broker(cli::BrokerArgs::from_arg_matches(&matches)?),
        },
    })
}

/// `--help` and `--version` print and exit 0; any other parse error is one line and a usage exit.
fn usage_error(err: clap::Error, exit_code: impl Fn(Code) -> ExitCode) -> ExitCode {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = err.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            exit_code(Code::Usage)
        }
        _ => {
            skeeter::say!("skeeter: error: {}", one_line(&err));
            exit_code(Code::Usage)
        }
    }
}

/// The first line of a clap error, without its "error: " prefix.
fn one_line(err: &clap::Error) -> String {
    let rendered = err.render().to_string().replace('\0', " ");
    let first = rendered.lines().next().unwrap_or("invalid command line");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    // -D's words are joined into one value before clap sees them: its own message says it all.
    const PROPERTY: &str = "for '--property <COMMAND NAME VALUE>': ";
    let first = first.split_once(PROPERTY).map_or(first, |(_, why)| why);
    // "the following required arguments were not provided:" lists them on indented lines.
    if first.ends_with(':') {
        let listed: Vec<&str> = rendered
            .lines()
            .skip(1)
            .take_while(|line| line.starts_with(' '))
            .map(str::trim)
            .collect();
        if !listed.is_empty() {
            return format!("{first} {} (see --help)", listed.join(", "));
        }
    }
    format!("{first} (see --help)")
}
