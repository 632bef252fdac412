//! `skeeter broker`: run the embedded broker until SIGINT or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};

use crate::broker::{Broker, Config};
use crate::cli::BrokerArgs;
use crate::exit::{Code, Fatal};

pub async fn run(args: BrokerArgs) -> anyhow::Result<()> {
    // Installed before the address is printed, so a signal sent right after it is not missed.
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;

    let addr = SocketAddr::new(args.bind, args.port);
    let config = Config {
        bind: addr,
        verbose: args.verbose,
        ..Config::default()
    };
    let broker = Broker::start(config)
        .await
        .map_err(|err| Fatal::new(Code::Listen, format!("cannot listen on {addr}: {err}")))?;

    {
        let mut stdout = std::io::stdout().lock();
        // The line is for whoever waits on it; a closed stdout must not stop the broker.
        let _ = writeln!(stdout, "listening on mqtt://{}", broker.local_addr());
        let _ = stdout.flush();
    }

    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    broker.stop().await;
    Ok(())
}
