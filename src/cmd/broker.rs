//! `skeeter broker`: run the embedded broker until SIGINT or SIGTERM; SIGHUP reloads the
//! password file, the ACL and the logging settings.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};

use crate::broker::auth::{Acl, Passwords};
use crate::broker::config::{ConfFile, ListenerProtocol, LogConf};
use crate::broker::log::{LogDest, LogLevel, LogSettings};
use crate::broker::{Broker, Config, PersistenceError, Reload, Tls};
use crate::cli::BrokerArgs;
use crate::exit::{Code, Fatal};

pub async fn run(args: BrokerArgs) -> anyhow::Result<()> {
    // Installed before the address is printed, so a signal sent right after it is not missed.
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut hangup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;

    let given = args.clone();
    let (args, conf) = with_config_file(args)?;
    let (passwords, acl) = (load_passwords(&args)?, load_acl(&args)?);
    let log = log_settings(&args, conf.as_ref());
    let sys_interval = args
        .sys_interval
        .or(conf.as_ref().and_then(|conf| conf.sys_interval))
        .unwrap_or(10);
    // mosquitto 2 refuses anonymous clients unless told otherwise; skeeter only once there are
    // passwords to check, so a bare `skeeter broker` stays open for local use and tests.
    let allow_anonymous = args.allow_anonymous.unwrap_or(passwords.is_none());
    let at = |port: Option<u16>| port.map(|port| SocketAddr::new(args.bind, port));
    if args.certfile.is_some() && args.tls_port.is_none() && args.wss_port.is_none() {
        return Err(Fatal::new(
            Code::Usage,
            "--certfile and --keyfile are for --tls-port or --wss-port",
        )
        .into());
    }
    let tls = match (args.certfile, args.keyfile) {
        (Some(certfile), Some(keyfile)) => Some(Tls {
            certfile,
            keyfile,
            cafile: args.cafile,
            require_certificate: args.require_certificate,
            use_identity_as_username: args.use_identity_as_username,
        }),
        _ => None,
    };
    let defaults = Config::default();
    let config = Config {
        bind: SocketAddr::new(args.bind, args.port),
        tls_bind: at(args.tls_port),
        websocket_bind: at(args.ws_port),
        websocket_tls_bind: at(args.wss_port),
        tls,
        log,
        sys_interval: std::time::Duration::from_secs(sys_interval),
        passwords,
        acl,
        allow_anonymous,
        persistence_file: args.persistence_file,
        autosave_interval: std::time::Duration::from_secs(args.autosave_interval),
        max_connections: args.max_connections.unwrap_or(defaults.max_connections),
        max_packet_size: args.max_packet_size.unwrap_or(defaults.max_packet_size),
        max_queued_messages: args
            .max_queued_messages
            .unwrap_or(defaults.max_queued_messages),
        max_queued_bytes: args.max_queued_bytes.unwrap_or(defaults.max_queued_bytes),
        max_inflight: args.max_inflight_messages.unwrap_or(defaults.max_inflight),
        message_size_limit: args
            .message_size_limit
            .unwrap_or(defaults.message_size_limit),
        max_keepalive: args.max_keepalive.unwrap_or(defaults.max_keepalive),
        ..defaults
    };
    if !args.bind.is_loopback() && config.passwords.is_none() {
        crate::say!(
            "skeeter: warning: listening on {} without authentication: anyone who can reach it \
             may connect",
            args.bind
        );
    }
    let broker = Broker::start(config).await.map_err(|err| {
        // Files that cannot be used are bad input; anything else is the address.
        let code = match err.kind() {
            _ if is_persistence_error(&err) => Code::Persistence,
            std::io::ErrorKind::InvalidInput => Code::Input,
            _ => Code::Listen,
        };
        Fatal::new(code, err.to_string())
    })?;

    {
        let mut stdout = std::io::stdout().lock();
        // The lines are for whoever waits on them; a closed stdout must not stop the broker.
        let listening = [
            ("mqtt", Some(broker.local_addr())),
            ("mqtts", broker.tls_addr()),
            ("ws", broker.ws_addr()),
            ("wss", broker.wss_addr()),
        ];
        for (scheme, addr) in listening {
            if let Some(addr) = addr {
                let _ = writeln!(stdout, "listening on {scheme}://{addr}");
            }
        }
        let _ = stdout.flush();
    }

    loop {
        tokio::select! {
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
            _ = hangup.recv() => {
                // A file that is now broken leaves the old settings in force.
                let reloaded = reload_settings(&given)
                    .and_then(|reload| broker.reload(reload).map_err(anyhow::Error::from));
                match reloaded {
                    Ok(()) => broker.log(format_args!("reloaded the configuration (SIGHUP)")),
                    Err(err) => broker.log_error(format_args!(
                        "reload failed, keeping the previous settings: {err:#}"
                    )),
                }
            }
        }
    }
    broker
        .try_stop()
        .await
        .map_err(|err| Fatal::new(Code::Persistence, err.to_string()).into())
}

fn is_persistence_error(err: &std::io::Error) -> bool {
    err.get_ref()
        .is_some_and(|inner| inner.is::<PersistenceError>())
}

/// The log settings: the -c file's (or skeeter's defaults: connections logged, on stderr,
/// timestamped), then -v, -q and --log-file.
fn log_settings(args: &BrokerArgs, conf: Option<&ConfFile>) -> LogSettings {
    let mut settings = conf.map_or_else(|| LogConf::default().settings(), |c| c.log.settings());
    if args.verbose {
        settings.level = LogLevel::Packets;
    }
    if args.quiet {
        settings.level = LogLevel::Errors;
    }
    if let Some(path) = &args.log_file {
        settings.dest = LogDest::File(path.clone());
    }
    settings
}

/// What SIGHUP reads again: the -c file, then the password file and ACL it (or the command
/// line) names, and the log settings.
fn reload_settings(given: &BrokerArgs) -> anyhow::Result<Reload> {
    let (args, conf) = with_config_file(given.clone())?;
    Ok(Reload {
        passwords: load_passwords(&args)?,
        acl: load_acl(&args)?,
        log: log_settings(&args, conf.as_ref()),
    })
}

/// Read a file named by an option or the configuration file: unreadable is bad input (10).
fn read_input(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).map_err(|err| {
        Fatal::new(
            Code::Input,
            format!("cannot read {}: {err}", path.display()),
        )
        .into()
    })
}

fn load_passwords(args: &BrokerArgs) -> anyhow::Result<Option<Arc<Passwords>>> {
    let Some(path) = &args.password_file else {
        return Ok(None);
    };
    let passwords = Passwords::parse(&read_input(path)?)
        .map_err(|err| Fatal::new(Code::Usage, format!("{}:{err}", path.display())))?;
    Ok(Some(Arc::new(passwords)))
}

fn load_acl(args: &BrokerArgs) -> anyhow::Result<Option<Arc<Acl>>> {
    let Some(path) = &args.acl_file else {
        return Ok(None);
    };
    let acl = Acl::parse(&read_input(path)?)
        .map_err(|err| Fatal::new(Code::Usage, format!("{}:{err}", path.display())))?;
    Ok(Some(Arc::new(acl)))
}

/// `-c FILE`: the arguments with what the mosquitto.conf says put in. skeeter has one plain MQTT
/// listener and at most one of each of mqtts, ws and wss, all on one address and sharing one
/// certificate: a file that needs more is refused at the line that asks for it.
fn with_config_file(mut args: BrokerArgs) -> anyhow::Result<(BrokerArgs, Option<ConfFile>)> {
    let Some(path) = args.config_file.clone() else {
        return Ok((args, None));
    };
    let fail = |line: usize, message: String| -> anyhow::Error {
        Fatal::new(Code::Usage, format!("{}:{line}: {message}", path.display())).into()
    };
    let conf = ConfFile::parse(&read_input(&path)?).map_err(|err| fail(err.line, err.message))?;
    args.persistence_file = conf.persistence_path();
    if let Some(secs) = conf.autosave_interval {
        args.autosave_interval = secs;
    }
    // A limit given as an option (or its variable) wins over the file's.
    let limits = &conf.limits;
    args.max_connections = args.max_connections.or(limits.max_connections);
    args.max_packet_size = args.max_packet_size.or(limits.max_packet_size);
    args.max_queued_messages = args.max_queued_messages.or(limits.max_queued_messages);
    args.max_queued_bytes = args.max_queued_bytes.or(limits.max_queued_bytes);
    args.max_inflight_messages = args.max_inflight_messages.or(limits.max_inflight_messages);
    args.message_size_limit = args.message_size_limit.or(limits.message_size_limit);
    args.max_keepalive = args.max_keepalive.or(limits.max_keepalive);
    args.password_file = conf.password_file.clone();
    args.acl_file = conf.acl_file.clone();
    // mosquitto 2's rule for its files: anonymous clients are refused unless the file says
    // otherwise, or defines no listener (then only the local machine can connect anyway).
    args.allow_anonymous = Some(conf.allow_anonymous.unwrap_or(conf.listeners.is_empty()));
    let mut address: Option<(IpAddr, usize)> = None;
    let mut plain = false;
    let mut tls_seen = false;
    for listener in &conf.listeners {
        let line = listener.line;
        // mosquitto listens on every interface when a listener names no address.
        let ip = listener
            .address
            .as_ref()
            .map_or(IpAddr::from([0, 0, 0, 0]), |at| at.value);
        match address {
            Some((first, _)) if first != ip => {
                return Err(fail(
                    line,
                    format!("unsupported: listeners on different addresses ({first} and {ip})"),
                ));
            }
            _ => address = Some((ip, line)),
        }
        let Some(port) = listener.port else {
            return Err(fail(line, "unsupported: a listener without a port".into()));
        };
        let tls = match (&listener.certfile, &listener.keyfile) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            (Some(at), None) => return Err(fail(at.line, "certfile without keyfile".into())),
            (None, Some(at)) => return Err(fail(at.line, "keyfile without certfile".into())),
        };
        if tls.is_none() {
            let tls_only = (listener.cafile.as_ref().map(|at| at.line))
                .or(listener.require_certificate.as_ref().map(|at| at.line))
                .or(listener.use_identity_as_username.as_ref().map(|at| at.line));
            if let Some(line) = tls_only {
                return Err(fail(
                    line,
                    "only for a listener with certfile and keyfile".into(),
                ));
            }
        }
        let slot = match (listener.protocol, tls.is_some()) {
            (ListenerProtocol::Mqtt, false) => {
                if plain {
                    return Err(fail(
                        line,
                        "unsupported: a second plain MQTT listener".into(),
                    ));
                }
                plain = true;
                args.port = port;
                continue;
            }
            (ListenerProtocol::Mqtt, true) => &mut args.tls_port,
            (ListenerProtocol::WebSockets, false) => &mut args.ws_port,
            (ListenerProtocol::WebSockets, true) => &mut args.wss_port,
        };
        if slot.replace(port).is_some() {
            return Err(fail(
                line,
                "unsupported: a second listener of this kind".into(),
            ));
        }
        if tls.is_none() {
            continue;
        }
        let settings = (
            listener.certfile.as_ref().map(|at| at.value.clone()),
            listener.keyfile.as_ref().map(|at| at.value.clone()),
            listener.cafile.as_ref().map(|at| at.value.clone()),
            listener
                .require_certificate
                .as_ref()
                .is_some_and(|at| at.value),
            listener
                .use_identity_as_username
                .as_ref()
                .is_some_and(|at| at.value),
        );
        if tls_seen {
            let first = (
                args.certfile.clone(),
                args.keyfile.clone(),
                args.cafile.clone(),
                args.require_certificate,
                args.use_identity_as_username,
            );
            if first != settings {
                return Err(fail(
                    line,
                    "unsupported: TLS listeners with different certificates or settings".into(),
                ));
            }
        }
        tls_seen = true;
        (
            args.certfile,
            args.keyfile,
            args.cafile,
            args.require_certificate,
            args.use_identity_as_username,
        ) = settings;
    }
    if let Some((ip, line)) = address {
        if !plain {
            return Err(fail(
                line,
                "unsupported: TLS and WebSocket listeners without a plain MQTT one (skeeter always \
                 has one)"
                    .into(),
            ));
        }
        args.bind = ip;
    }
    Ok((args, Some(conf)))
}
