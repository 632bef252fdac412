//! `skeeter probe`: connect and report what the broker supports and how it behaves.
//!
//! Each check opens its own connection (so one that the broker drops spoils no other), uses
//! topics under `skeeter/probe/RANDOM/`, and runs under its own time limit, within -W.

use std::time::Duration;

use anyhow::Result;
use bytes::Bytes;
use rumqttc::QoS;
use rumqttc::v5::mqttbytes::v5::PublishProperties;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::cli::{ConnectArgs, ProbeArgs, ProtocolVersion};
use crate::client::{Connection, Event, Received, Subscription, options};
use crate::exit::{self, Code, Fatal};

/// The longest any one step (a connect, a SUBSCRIBE, a message's arrival) may take.
const STEP: Duration = Duration::from_secs(5);
/// How long a message that should arrive is waited for.
const ARRIVAL: Duration = Duration::from_secs(3);

fn usage(message: impl Into<String>) -> anyhow::Error {
    Fatal::new(Code::Usage, message).into()
}

/// One line of the report.
struct Check {
    name: &'static str,
    /// None: not tried.
    ok: Option<bool>,
    result: String,
    detail: String,
}

impl Check {
    fn new(
        name: &'static str,
        ok: Option<bool>,
        result: impl Into<String>,
        detail: impl Into<String>,
    ) -> Check {
        Check {
            name,
            ok,
            result: result.into(),
            detail: detail.into(),
        }
    }

    fn yes(name: &'static str, detail: impl Into<String>) -> Check {
        Check::new(name, Some(true), "yes", detail)
    }

    fn no(name: &'static str, detail: impl Into<String>) -> Check {
        Check::new(name, Some(false), "no", detail)
    }

    fn not_tried(name: &'static str, detail: impl Into<String>) -> Check {
        Check::new(name, None, "-", detail)
    }
}

/// What the run found besides the checks, for --json.
#[derive(Default)]
struct Facts {
    connack: Option<Value>,
    granted_qos: Option<u8>,
    max_packet: Option<Value>,
    latency: Vec<(String, Value)>,
}

pub async fn run(args: ProbeArgs) -> Result<()> {
    refuse_unused(&args.connect)?;
    // Settings checked once up front: a bad option is a usage error before any connection.
    let first = options::settings(&args.connect)?;
    let quiet = first.quiet;
    let result = probe(&args, &first.address).await;
    super::quiet(quiet, result)
}

/// The connection options probe sets itself are refused rather than silently replaced.
fn refuse_unused(connect: &ConnectArgs) -> Result<()> {
    let set_by_probe = [
        ("--will-topic", connect.will_topic.is_some()),
        (
            "-c (--disable-clean-session)",
            connect.disable_clean_session,
        ),
        ("-x (--session-expiry)", connect.session_expiry.is_some()),
        ("-D (--property)", !connect.property.is_empty()),
        ("-q (--qos)", connect.qos != 0),
        ("-o (--options-file)", connect.options_file.is_some()),
    ];
    match set_by_probe.iter().find(|(_, given)| *given) {
        Some((option, _)) => Err(usage(format!(
            "probe does not take {option}: it chooses QoS, sessions, wills and properties per check"
        ))),
        None => Ok(()),
    }
}

/// What every check needs: the options, the topic prefix, the protocol, the time limit.
struct Probe<'a> {
    connect: &'a ConnectArgs,
    prefix: String,
    protocol: ProtocolVersion,
    deadline: Instant,
}

impl Probe<'_> {
    /// Connection options for `version`, with `suffix` added to -i / -I's id.
    fn args(&self, version: ProtocolVersion, suffix: &str) -> ConnectArgs {
        let mut args = self.connect.clone();
        args.protocol_version = Some(version);
        // Latency of the broker, not of Nagle's algorithm waiting for a delayed ACK.
        args.nodelay = true;
        if version == ProtocolVersion::V5 && args.keepalive < 5 {
            args.keepalive = 5;
        }
        match (&args.id, &args.id_prefix) {
            (Some(id), _) => args.id = Some(format!("{id}{suffix}")),
            (None, Some(prefix)) => {
                args.id = Some(format!("{prefix}{}{suffix}", std::process::id()));
                args.id_prefix = None;
            }
            (None, None) => {}
        }
        args
    }

    async fn open_with(&self, args: &ConnectArgs) -> Result<Connection> {
        let settings = options::settings(args)?;
        match tokio::time::timeout(self.step(), Connection::open(&settings, 64)).await {
            Ok(opened) => opened,
            Err(_) => Err(anyhow::anyhow!(
                "no CONNACK within {} s",
                self.step().as_secs()
            )),
        }
    }

    async fn open(&self, suffix: &str) -> Result<Connection> {
        self.open_with(&self.args(self.protocol, suffix)).await
    }

    fn topic(&self, name: &str) -> String {
        format!("{}/{name}", self.prefix)
    }

    /// STEP, or less when -W is nearer.
    fn step(&self) -> Duration {
        STEP.min(self.deadline.saturating_duration_since(Instant::now()))
    }
}

async fn probe(args: &ProbeArgs, address: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let mut probe = Probe {
        connect: &args.connect,
        prefix: format!("skeeter/probe/{:016x}", rand::random::<u64>()),
        protocol: args.connect.protocol(),
        deadline,
    };
    let mut checks = Vec::new();
    let mut facts = Facts::default();

    // Versions: the one asked for (or 3.1.1) first; its error is the run's when none connects.
    let asked = args.connect.protocol();
    let mut order = vec![asked];
    order.extend(
        [
            ProtocolVersion::V5,
            ProtocolVersion::V311,
            ProtocolVersion::V31,
        ]
        .into_iter()
        .filter(|v| *v != asked),
    );
    let mut accepted = Vec::new();
    let mut first_error = None;
    for version in order {
        let version_args = probe.args(version, "");
        // Another version may not go with these options (-V 31 over WebSockets): not tried.
        if version != asked
            && let Err(err) = options::settings(&version_args)
        {
            checks.push(Check::not_tried(version_check(version), format!("{err:#}")));
            continue;
        }
        match probe.open_with(&version_args).await {
            Ok(mut connection) => {
                if version == ProtocolVersion::V5 {
                    facts.connack = Some(connack_json(connection.connack_properties()));
                }
                let _ = connection.disconnect().await;
                accepted.push(version);
                checks.push(Check::yes(version_check(version), "CONNECT accepted"));
            }
            Err(err) => {
                let code = exit::code_of(&err);
                if matches!(code, Code::Usage | Code::Tls) {
                    return Err(err);
                }
                checks.push(Check::no(version_check(version), format!("{err:#}")));
                first_error.get_or_insert(err);
            }
        }
    }
    if accepted.is_empty() {
        return Err(first_error.unwrap_or_else(|| anyhow::anyhow!("no connection")));
    }
    // Report the versions newest first, whatever the order tried.
    checks.sort_by_key(|c| match c.name {
        "mqtt5" => 0,
        "mqtt311" => 1,
        _ => 2,
    });
    probe.protocol = if args.connect.protocol_version.is_some() && accepted.contains(&asked) {
        asked
    } else {
        [
            ProtocolVersion::V5,
            ProtocolVersion::V311,
            ProtocolVersion::V31,
        ]
        .into_iter()
        .find(|v| accepted.contains(v))
        .unwrap_or(asked)
    };
    checks.push(connack_check(facts.connack.as_ref()));

    // QoS first: the later checks publish at what is granted.
    let (qos_checks, granted) = bounded(&probe, ["qos1", "qos2"], check_qos(&probe)).await;
    checks.extend(qos_checks);
    facts.granted_qos = granted;
    let qos = options::qos(granted.unwrap_or(0).min(1));

    let [retain] = bounded(&probe, ["retain"], check_retain(&probe, qos))
        .await
        .0;
    checks.push(retain);
    let [wildcards] = bounded(&probe, ["wildcards"], check_wildcards(&probe))
        .await
        .0;
    checks.push(wildcards);
    let [shared] = bounded(&probe, ["shared"], check_shared(&probe)).await.0;
    checks.push(shared);
    if accepted.contains(&ProtocolVersion::V5) {
        let [alias] = bounded(&probe, ["topic-alias"], check_topic_alias(&probe))
            .await
            .0;
        checks.push(alias);
    } else {
        checks.push(Check::not_tried("topic-alias", "needs MQTT 5"));
    }
    let keepalive_version = older_first(&accepted, probe.protocol);
    let [keepalive] = bounded(
        &probe,
        ["keepalive"],
        check_keepalive(&probe, keepalive_version),
    )
    .await
    .0;
    checks.push(keepalive);
    let [sys] = bounded(&probe, ["sys"], check_sys(&probe)).await.0;
    checks.push(sys);
    let [will] = bounded(&probe, ["will"], check_will(&probe, qos)).await.0;
    checks.push(will);

    for level in 0..=2u8 {
        let name = ["latency-qos0", "latency-qos1", "latency-qos2"][level as usize];
        let key = format!("qos{level}");
        if granted.is_some_and(|g| level > g) || granted.is_none() {
            checks.push(Check::not_tried(name, "QoS not granted"));
            facts.latency.push((key, Value::Null));
            continue;
        }
        let (check, stats) = latency(&probe, name, level, args.samples).await;
        checks.push(check);
        facts.latency.push((key, stats));
    }

    // 3.1.1 (or 3.1) for the size search: rumqttc's MQTT 5 client refuses to send more than the
    // CONNACK's maximum, and the point is to find what the broker really takes.
    let size_version = older_first(&accepted, probe.protocol);
    let (check, size) = max_packet(&probe, size_version, args.max_size_cap as usize, qos).await;
    checks.push(check);
    facts.max_packet = size;

    let required_failed: Vec<String> = args
        .require
        .iter()
        .filter(|name| {
            !checks
                .iter()
                .any(|c| c.name == name.as_str() && c.ok == Some(true))
        })
        .cloned()
        .collect();

    let out = if args.json {
        let mut object = serde_json::Map::new();
        object.insert("broker".into(), json!(address));
        object.insert("protocol".into(), json!(probe.protocol.to_string()));
        let mut by_name = serde_json::Map::new();
        for check in &checks {
            by_name.insert(
                check.name.into(),
                json!({"ok": check.ok, "result": check.result, "detail": check.detail}),
            );
        }
        object.insert("checks".into(), Value::Object(by_name));
        object.insert(
            "connack".into(),
            facts.connack.clone().unwrap_or(Value::Null),
        );
        object.insert("granted_qos".into(), json!(facts.granted_qos));
        object.insert(
            "max_packet_size".into(),
            facts.max_packet.unwrap_or(Value::Null),
        );
        object.insert(
            "latency_ms".into(),
            Value::Object(facts.latency.into_iter().collect()),
        );
        object.insert("required_failed".into(), json!(required_failed));
        format!("{}\n", Value::Object(object))
    } else {
        table(address, probe.protocol, &checks)
    };
    {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        let _ = stdout
            .write_all(out.as_bytes())
            .and_then(|_| stdout.flush());
    }
    if required_failed.is_empty() {
        Ok(())
    } else {
        Err(Fatal::new(
            Code::CheckFailed,
            format!("required check(s) not ok: {}", required_failed.join(", ")),
        )
        .into())
    }
}

fn version_check(version: ProtocolVersion) -> &'static str {
    match version {
        ProtocolVersion::V5 => "mqtt5",
        ProtocolVersion::V311 => "mqtt311",
        ProtocolVersion::V31 => "mqtt31",
    }
}

/// The human table: aligned columns, one line per check.
fn table(address: &str, protocol: ProtocolVersion, checks: &[Check]) -> String {
    let name_width = checks
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let result_width = checks
        .iter()
        .map(|c| c.result.chars().count())
        .max()
        .unwrap_or(6)
        .max(6);
    let mut out = format!("broker {address} (checks over MQTT {protocol})\n");
    out.push_str(&format!(
        "{:<name_width$}  {:<result_width$}  DETAIL\n",
        "CHECK", "RESULT"
    ));
    for check in checks {
        let line = format!(
            "{:<name_width$}  {:<result_width$}  {}",
            check.name,
            check.result,
            check.detail.replace('\n', " ")
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Run a check under its time limit (STEP-based, within -W); a check that runs out is "no" (or
/// "-" when -W had already run out before it started).
async fn bounded<const N: usize, T: Default>(
    probe: &Probe<'_>,
    names: [&'static str; N],
    check: impl std::future::Future<Output = ([Check; N], T)>,
) -> ([Check; N], T) {
    let left = probe.deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return (
            names.map(|name| Check::not_tried(name, "cut off by -W")),
            T::default(),
        );
    }
    match tokio::time::timeout(left.min(STEP * 3), check).await {
        Ok(done) => done,
        Err(_) => (
            names.map(|name| Check::no(name, "no answer in time")),
            T::default(),
        ),
    }
}

fn connack_json(properties: Option<&rumqttc::v5::mqttbytes::v5::ConnAckProperties>) -> Value {
    let flag = |value: Option<u8>| value.map(|v| v != 0);
    match properties {
        None => json!({
            "maximum_qos": null, "retain_available": null, "wildcard_available": null,
            "shared_available": null, "subscription_ids_available": null,
            "topic_alias_maximum": null, "receive_maximum": null, "maximum_packet_size": null,
            "server_keep_alive": null
        }),
        Some(p) => json!({
            "maximum_qos": p.max_qos,
            "retain_available": flag(p.retain_available),
            "wildcard_available": flag(p.wildcard_subscription_available),
            "shared_available": flag(p.shared_subscription_available),
            "subscription_ids_available": flag(p.subscription_identifiers_available),
            "topic_alias_maximum": p.topic_alias_max,
            "receive_maximum": p.receive_max,
            "maximum_packet_size": p.max_packet_size,
            "server_keep_alive": p.server_keep_alive,
        }),
    }
}

fn connack_check(connack: Option<&Value>) -> Check {
    let Some(connack) = connack else {
        return Check::not_tried("connack", "needs MQTT 5");
    };
    let shown = |key: &str| match &connack[key] {
        Value::Null => "-".to_owned(),
        Value::Bool(true) => "yes".to_owned(),
        Value::Bool(false) => "no".to_owned(),
        other => other.to_string(),
    };
    Check::new(
        "connack",
        None,
        "MQTT 5",
        format!(
            "max QoS {}, retain {}, wildcards {}, shared {}, sub ids {}, topic alias max {}, \
             receive max {}, max packet {}, server keep-alive {}",
            shown("maximum_qos"),
            shown("retain_available"),
            shown("wildcard_available"),
            shown("shared_available"),
            shown("subscription_ids_available"),
            shown("topic_alias_maximum"),
            shown("receive_maximum"),
            shown("maximum_packet_size"),
            shown("server_keep_alive"),
        ),
    )
}

/// The next event, within `limit`; a lost connection is an error in words.
async fn next(connection: &mut Connection, limit: Duration) -> Result<Event> {
    match tokio::time::timeout(limit, connection.next_event()).await {
        Ok(Ok(event)) => Ok(event),
        Ok(Err(err)) => Err(anyhow::anyhow!("connection lost: {err}")),
        Err(_) => Err(anyhow::anyhow!(
            "no answer within {} s",
            limit.as_secs_f32()
        )),
    }
}

/// Subscribe and wait for the SUBACK: one entry per filter.
async fn subscribe(
    connection: &mut Connection,
    filters: &[String],
    qos: u8,
) -> Result<Vec<Result<u8, u8>>> {
    connection.client.try_subscribe(&Subscription {
        filters: filters.to_vec(),
        qos,
        ..Subscription::default()
    })?;
    let until = Instant::now() + STEP;
    loop {
        if let Event::SubAck(codes) =
            next(connection, until.saturating_duration_since(Instant::now())).await?
        {
            return Ok(codes);
        }
    }
}

/// Publish and wait until it is done: written (QoS 0) or acknowledged (PUBACK, PUBCOMP or a
/// refusing PUBREC). Returns the reason code (0 in MQTT 3.1.1).
async fn publish(
    connection: &mut Connection,
    topic: &str,
    qos: QoS,
    retain: bool,
    payload: Bytes,
) -> Result<u8> {
    let queued = match retain {
        true => connection
            .client
            .try_publish(topic, qos, true, payload.to_vec()),
        false => connection
            .client
            .try_publish_with(topic, qos, payload, None),
    };
    if !queued {
        anyhow::bail!("cannot queue a message");
    }
    await_completion(connection, qos).await
}

async fn await_completion(connection: &mut Connection, qos: QoS) -> Result<u8> {
    let until = Instant::now() + STEP;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match (qos, next(connection, left).await?) {
            (QoS::AtMostOnce, Event::OutgoingPublish(_)) => return Ok(0),
            (QoS::AtLeastOnce, Event::PubAck(code)) => return Ok(code),
            (QoS::ExactlyOnce, Event::PubRec(code)) if code >= 0x80 => return Ok(code),
            (QoS::ExactlyOnce, Event::PubComp(code)) => return Ok(code),
            _ => {}
        }
    }
}

/// The first message on `topic` within `limit`.
async fn arrival(
    connection: &mut Connection,
    topic: &str,
    limit: Duration,
) -> Result<Option<Received>> {
    let until = Instant::now() + limit;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        match tokio::time::timeout(left, connection.next_event()).await {
            Err(_) => return Ok(None),
            Ok(Err(err)) => anyhow::bail!("connection lost: {err}"),
            Ok(Ok(Event::Publish(message))) if message.topic == topic => return Ok(Some(message)),
            Ok(Ok(_)) => {}
        }
    }
}

fn refused(code: u8) -> String {
    format!(
        "{} (reason code {code:#04x})",
        crate::client::reason_words(code)
    )
}

async fn check_qos(probe: &Probe<'_>) -> ([Check; 2], Option<u8>) {
    let result: Result<u8> = async {
        let mut connection = probe.open("").await?;
        let codes = subscribe(&mut connection, &[probe.topic("qos")], 2).await?;
        let _ = connection.disconnect().await;
        match codes.first() {
            Some(Ok(granted)) => Ok(*granted),
            Some(Err(code)) => anyhow::bail!("SUBACK refused: {}", refused(*code)),
            None => anyhow::bail!("SUBACK without a code"),
        }
    }
    .await;
    match result {
        Ok(granted) => {
            let detail = format!("QoS {granted} granted to a QoS 2 SUBSCRIBE");
            let check = |name, level| match granted >= level {
                true => Check::yes(name, detail.clone()),
                false => Check::no(name, detail.clone()),
            };
            ([check("qos1", 1), check("qos2", 2)], Some(granted))
        }
        Err(err) => {
            let why = format!("{err:#}");
            (
                [Check::no("qos1", why.clone()), Check::no("qos2", why)],
                None,
            )
        }
    }
}

async fn check_retain(probe: &Probe<'_>, qos: QoS) -> ([Check; 1], ()) {
    let topic = probe.topic("retain");
    let result: Result<Check> = async {
        let mut connection = probe.open("").await?;
        let code = publish(
            &mut connection,
            &topic,
            qos,
            true,
            Bytes::from_static(b"probe"),
        )
        .await?;
        if code >= 0x80 {
            return Ok(Check::no(
                "retain",
                format!("retained PUBLISH refused: {}", refused(code)),
            ));
        }
        let subscribed = subscribe(&mut connection, std::slice::from_ref(&topic), 0).await;
        let arrived = match subscribed {
            Ok(_) => arrival(&mut connection, &topic, ARRIVAL).await,
            Err(err) => Err(err),
        };
        // Cleared whatever happened.
        let cleared = publish(&mut connection, &topic, qos, true, Bytes::new()).await;
        let _ = connection.disconnect().await;
        let cleared = match cleared {
            Ok(_) => "cleared",
            Err(_) => "NOT cleared (the topic may hold it)",
        };
        Ok(match arrived? {
            Some(message) if message.retain && &message.payload[..] == b"probe" => Check::yes(
                "retain",
                format!("came back on a new subscription with the retain flag, {cleared}"),
            ),
            Some(_) => Check::no(
                "retain",
                format!("came back without the retain flag, {cleared}"),
            ),
            None => Check::no(
                "retain",
                format!("did not come back within {} s", ARRIVAL.as_secs()),
            ),
        })
    }
    .await;
    (
        [result.unwrap_or_else(|err| Check::no("retain", format!("{err:#}")))],
        (),
    )
}

async fn check_wildcards(probe: &Probe<'_>) -> ([Check; 1], ()) {
    let result: Result<Check> = async {
        let mut connection = probe.open("").await?;
        let filters = [probe.topic("plus/+/x"), probe.topic("hash/#")];
        let codes = subscribe(&mut connection, &filters, 0).await?;
        let mut found = Vec::new();
        for ((filter, code), topic) in filters
            .iter()
            .zip(codes.iter().chain(std::iter::repeat(&Err(0x80))))
            .zip([probe.topic("plus/a/x"), probe.topic("hash/a/b")])
        {
            let sign = if filter.ends_with('#') { "#" } else { "+" };
            if let Err(code) = code {
                found.push((sign, false, format!("{sign} refused: {}", refused(*code))));
                continue;
            }
            publish(
                &mut connection,
                &topic,
                QoS::AtMostOnce,
                false,
                Bytes::from_static(b"w"),
            )
            .await?;
            let arrived = arrival(&mut connection, &topic, ARRIVAL).await?.is_some();
            found.push((
                sign,
                arrived,
                format!(
                    "{sign} {}",
                    if arrived { "matched" } else { "did not match" }
                ),
            ));
        }
        let _ = connection.disconnect().await;
        let ok = found.iter().all(|(_, ok, _)| *ok);
        let detail = found
            .into_iter()
            .map(|(_, _, d)| d)
            .collect::<Vec<_>>()
            .join(", ");
        Ok(Check::new(
            "wildcards",
            Some(ok),
            if ok { "yes" } else { "no" },
            detail,
        ))
    }
    .await;
    (
        [result.unwrap_or_else(|err| Check::no("wildcards", format!("{err:#}")))],
        (),
    )
}

async fn check_shared(probe: &Probe<'_>) -> ([Check; 1], ()) {
    let topic = probe.topic("shared");
    let filter = format!("$share/skeeter-probe/{topic}");
    let result: Result<Check> = async {
        let mut connection = probe.open("").await?;
        let codes = subscribe(&mut connection, std::slice::from_ref(&filter), 0).await?;
        if let Some(Err(code)) = codes.first() {
            return Ok(Check::no(
                "shared",
                format!("SUBACK refused: {}", refused(*code)),
            ));
        }
        publish(
            &mut connection,
            &topic,
            QoS::AtMostOnce,
            false,
            Bytes::from_static(b"s"),
        )
        .await?;
        let arrived = arrival(&mut connection, &topic, ARRIVAL).await?;
        let _ = connection.disconnect().await;
        Ok(match arrived {
            Some(_) => Check::yes(
                "shared",
                format!(
                    "delivered through $share/skeeter-probe/... (MQTT {})",
                    probe.protocol
                ),
            ),
            None => Check::no(
                "shared",
                "subscribed, but nothing arrived through $share/...",
            ),
        })
    }
    .await;
    (
        [result.unwrap_or_else(|err| Check::no("shared", format!("{err:#}")))],
        (),
    )
}

async fn check_topic_alias(probe: &Probe<'_>) -> ([Check; 1], ()) {
    let topic = probe.topic("alias");
    let result: Result<Check> = async {
        let mut connection = probe
            .open_with(&probe.args(ProtocolVersion::V5, ""))
            .await?;
        let maximum = connection
            .connack_properties()
            .and_then(|p| p.topic_alias_max)
            .unwrap_or(0);
        if maximum == 0 {
            let _ = connection.disconnect().await;
            return Ok(Check::no(
                "topic-alias",
                "the CONNACK allows none (topic alias maximum 0)",
            ));
        }
        subscribe(&mut connection, std::slice::from_ref(&topic), 0).await?;
        let with_alias = || PublishProperties {
            topic_alias: Some(1),
            ..PublishProperties::default()
        };
        let mut arrived = 0;
        for (name, body) in [(topic.as_str(), "named"), ("", "aliased")] {
            if !connection.client.try_publish_with(
                name,
                QoS::AtMostOnce,
                Bytes::from_static(body.as_bytes()),
                Some(with_alias()),
            ) {
                anyhow::bail!("cannot queue a message");
            }
            await_completion(&mut connection, QoS::AtMostOnce).await?;
            match arrival(&mut connection, &topic, ARRIVAL).await? {
                Some(message) if &message.payload[..] == body.as_bytes() => arrived += 1,
                _ => break,
            }
        }
        let _ = connection.disconnect().await;
        Ok(match arrived {
            2 => Check::yes(
                "topic-alias",
                format!("alias 1 defined, then used alone (maximum {maximum})"),
            ),
            1 => Check::no(
                "topic-alias",
                format!("the message sent by alias alone did not arrive (maximum {maximum})"),
            ),
            _ => Check::no("topic-alias", "the message defining alias 1 did not arrive"),
        })
    }
    .await;
    (
        [result.unwrap_or_else(|err| Check::no("topic-alias", format!("{err:#}")))],
        (),
    )
}

async fn check_keepalive(probe: &Probe<'_>, version: ProtocolVersion) -> ([Check; 1], ()) {
    let result: Result<Check> = async {
        let mut args = probe.args(version, "");
        // rumqttc's MQTT 5 client takes 5 s at least.
        let keepalive: u16 = if version == ProtocolVersion::V5 { 5 } else { 1 };
        args.keepalive = keepalive;
        let mut connection = probe.open_with(&args).await?;
        let idle = Duration::from_secs(u64::from(keepalive) * 2 + 1);
        let until = Instant::now() + idle;
        // rumqttc sends PINGREQ each keep-alive and gives up when one is due while the last is
        // still unanswered: a connection idle for two of them and 1 s, still up, got its PINGRESPs.
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match tokio::time::timeout(left, connection.next_event()).await {
                Err(_) => break,
                Ok(Ok(_)) => {}
                Ok(Err(err)) => {
                    return Ok(Check::no("keepalive", format!("keep-alive {keepalive} s, idle: connection lost: {err}")));
                }
            }
        }
        connection.disconnect().await?;
        Ok(Check::yes("keepalive", format!("keep-alive {keepalive} s (MQTT {version}), idle {} s: PINGREQs answered, still connected", idle.as_secs())))
    }
    .await;
    (
        [result.unwrap_or_else(|err| Check::no("keepalive", format!("{err:#}")))],
        (),
    )
}

async fn check_sys(probe: &Probe<'_>) -> ([Check; 1], ()) {
    let result: Result<Check> = async {
        let mut connection = probe.open("").await?;
        let codes = subscribe(&mut connection, &["$SYS/broker/#".to_owned()], 0).await?;
        if let Some(Err(code)) = codes.first() {
            return Ok(Check::no(
                "sys",
                format!("SUBACK refused: {}", refused(*code)),
            ));
        }
        let until = Instant::now() + ARRIVAL;
        let mut first = None;
        let mut version = None;
        loop {
            // After the first message, a moment more for $SYS/broker/version.
            let limit = match first {
                None => until,
                Some(at) => until.min(at + Duration::from_millis(300)),
            };
            let left = limit.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match tokio::time::timeout(left, connection.next_event()).await {
                Err(_) => break,
                Ok(Err(err)) => anyhow::bail!("connection lost: {err}"),
                Ok(Ok(Event::Publish(message))) => {
                    first.get_or_insert(Instant::now());
                    if message.topic == "$SYS/broker/version" {
                        version = Some(String::from_utf8_lossy(&message.payload).into_owned());
                        break;
                    }
                }
                Ok(Ok(_)) => {}
            }
        }
        let _ = connection.disconnect().await;
        Ok(match (first, version) {
            (_, Some(version)) => Check::yes("sys", format!("$SYS/broker/version: {version}")),
            (Some(_), None) => Check::yes("sys", "messages under $SYS/broker/"),
            (None, _) => Check::no(
                "sys",
                format!("nothing under $SYS/broker/# within {} s", ARRIVAL.as_secs()),
            ),
        })
    }
    .await;
    (
        [result.unwrap_or_else(|err| Check::no("sys", format!("{err:#}")))],
        (),
    )
}

async fn check_will(probe: &Probe<'_>, qos: QoS) -> ([Check; 1], ()) {
    let topic = probe.topic("will");
    let result: Result<Check> = async {
        let mut observer = probe.open("").await?;
        subscribe(&mut observer, std::slice::from_ref(&topic), qos as u8).await?;
        let mut args = probe.args(probe.protocol, "-will");
        args.will_topic = Some(topic.clone());
        args.will_payload = Some("gone".to_owned());
        args.will_qos = qos as u8;
        let departing = probe.open_with(&args).await?;
        // Dropped: the socket closes without DISCONNECT, as a crashed client's would.
        drop(departing);
        let dropped = Instant::now();
        let arrived = arrival(&mut observer, &topic, ARRIVAL).await?;
        let _ = observer.disconnect().await;
        Ok(match arrived {
            Some(message) if &message.payload[..] == b"gone" => Check::yes(
                "will",
                format!(
                    "delivered {} ms after the connection was dropped",
                    dropped.elapsed().as_millis()
                ),
            ),
            Some(_) => Check::no("will", "a message with another payload arrived"),
            None => Check::no(
                "will",
                format!(
                    "not delivered within {} s of the connection's drop",
                    ARRIVAL.as_secs()
                ),
            ),
        })
    }
    .await;
    (
        [result.unwrap_or_else(|err| Check::no("will", format!("{err:#}")))],
        (),
    )
}

/// Round trips at one QoS: the check line and the statistics for --json.
async fn latency(probe: &Probe<'_>, name: &'static str, level: u8, samples: u32) -> (Check, Value) {
    let topic = probe.topic(&format!("rtt{level}"));
    let qos = options::qos(level);
    let mut times: Vec<f64> = Vec::new();
    let mut lost = 0u32;
    let outcome = {
        let work = async {
            let mut connection = probe.open("").await?;
            subscribe(&mut connection, std::slice::from_ref(&topic), level).await?;
            for sample in 0..samples {
                let payload = Bytes::from(sample.to_string());
                let sent = Instant::now();
                if !connection
                    .client
                    .try_publish_with(&topic, qos, payload.clone(), None)
                {
                    anyhow::bail!("cannot queue a message");
                }
                let until = sent + ARRIVAL;
                let mut arrived = false;
                loop {
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    match tokio::time::timeout(left, connection.next_event()).await {
                        Err(_) => break,
                        Ok(Err(err)) => anyhow::bail!("connection lost: {err}"),
                        Ok(Ok(Event::Publish(message)))
                            if message.topic == topic && message.payload == payload =>
                        {
                            arrived = true;
                            break;
                        }
                        Ok(Ok(_)) => {}
                    }
                }
                match arrived {
                    true => times.push(sent.elapsed().as_secs_f64() * 1000.0),
                    false => lost += 1,
                }
            }
            let _ = connection.disconnect().await;
            Ok(())
        };
        let left = probe.deadline.saturating_duration_since(Instant::now());
        match left.is_zero() {
            true => Err(anyhow::anyhow!("cut off by -W")),
            false => tokio::time::timeout(left, work)
                .await
                .unwrap_or_else(|_| Err(anyhow::anyhow!("cut off by -W"))),
        }
    };
    if times.is_empty() {
        let why = match outcome {
            Err(err) => format!("{err:#}"),
            Ok(()) => format!("none of {samples} messages came back"),
        };
        return (Check::no(name, why), Value::Null);
    }
    times.sort_by(f64::total_cmp);
    let at = |fraction: f64| times[((times.len() - 1) as f64 * fraction).round() as usize];
    let (min, median, p99, max) = (times[0], at(0.5), at(0.99), times[times.len() - 1]);
    let mut detail = format!(
        "min {min:.3} / median {median:.3} / p99 {p99:.3} / max {max:.3} ms, {} samples",
        times.len()
    );
    if lost > 0 {
        detail.push_str(&format!(", {lost} lost"));
    }
    if let Err(err) = outcome {
        detail.push_str(&format!(" ({err:#})"));
    }
    let round = |ms: f64| (ms * 1000.0).round() / 1000.0;
    let stats = json!({
        "samples": times.len(), "lost": lost, "min": round(min), "median": round(median),
        "p99": round(p99), "max": round(max)
    });
    (
        Check::new(name, None, format!("{median:.3} ms"), detail),
        stats,
    )
}

/// The size of a PUBLISH packet with this topic and payload (QoS 1; MQTT 5 adds an empty
/// property length).
fn packet_size(version: ProtocolVersion, topic: &str, payload: usize) -> usize {
    let properties = usize::from(version == ProtocolVersion::V5);
    let remaining = 2 + topic.len() + 2 + properties + payload;
    let length_bytes = match remaining {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    };
    1 + length_bytes + remaining
}

/// The largest payload the broker takes and delivers back to us, by binary search up to `cap`.
async fn max_packet(
    probe: &Probe<'_>,
    version: ProtocolVersion,
    cap: usize,
    qos: QoS,
) -> (Check, Option<Value>) {
    let topic = probe.topic("size");
    let mut good = 0usize;
    let mut bad: Option<usize> = None;
    let mut connection: Option<Connection> = None;
    let mut tries = 0;
    let mut failure = None;
    let mut cut_off = false;
    loop {
        let size = match bad {
            None if good == 0 => cap,
            None => break,
            Some(bad) if bad - good <= 1 => break,
            Some(bad) => good + (bad - good) / 2,
        };
        if probe.deadline <= Instant::now() {
            cut_off = true;
            break;
        }
        tries += 1;
        let attempt = async {
            if connection.is_none() {
                let mut opened = probe.open_with(&probe.args(version, "")).await?;
                subscribe(&mut opened, std::slice::from_ref(&topic), qos as u8).await?;
                connection = Some(opened);
            }
            let Some(open) = connection.as_mut() else {
                anyhow::bail!("no connection");
            };
            try_size(open, &topic, qos, size).await
        };
        let limit = probe
            .deadline
            .saturating_duration_since(Instant::now())
            .min(STEP * 2);
        let outcome = match tokio::time::timeout(limit, attempt).await {
            Ok(outcome) => outcome,
            Err(_) => Err(anyhow::anyhow!("no answer in time")),
        };
        match outcome {
            Ok(true) => good = size,
            Ok(false) => bad = Some(size),
            Err(err) => {
                // A refusal by closing the connection: reconnect for the next try.
                connection = None;
                failure = Some(err);
                bad = Some(size);
            }
        }
    }
    if let Some(mut open) = connection.take() {
        let _ = open.disconnect().await;
    }
    if good == 0 && failure.is_none() {
        return (Check::not_tried("max-packet", "cut off by -W"), None);
    }
    if good == 0 {
        let why = failure.map_or_else(|| "cut off by -W".to_owned(), |err| format!("{err:#}"));
        return (
            Check::no("max-packet", format!("no PUBLISH came back: {why}")),
            None,
        );
    }
    let bytes = packet_size(version, &topic, good);
    let at_cap = good == cap;
    let result = match at_cap {
        true => format!(">= {bytes} bytes"),
        false => format!("{bytes} bytes"),
    };
    let mut detail = match (at_cap, bad) {
        (true, _) => format!("payload of --max-size-cap ({cap} bytes) taken and delivered"),
        (false, Some(bad)) => format!(
            "payload {good} bytes taken and delivered, {bad} not ({tries} tries, MQTT {version})"
        ),
        (false, None) => format!("payload {good} bytes taken and delivered"),
    };
    if cut_off {
        detail.push_str(" (search cut off by -W: the limit may be higher)");
    }
    let value = json!({"bytes": bytes, "payload": good, "at_cap": at_cap});
    (
        Check::new("max-packet", Some(true), result, detail),
        Some(value),
    )
}

/// One try: Ok(true) when the payload came back, Ok(false) when the broker refused it but kept
/// the connection (an MQTT 5 PUBACK reason code, or it never came back), Err when the connection
/// ended.
async fn try_size(connection: &mut Connection, topic: &str, qos: QoS, size: usize) -> Result<bool> {
    let payload = Bytes::from(vec![b'x'; size]);
    if !connection
        .client
        .try_publish_with(topic, qos, payload, None)
    {
        anyhow::bail!("cannot queue a message");
    }
    // The copy may come before the acknowledgement (mosquitto sends it first).
    let (mut done, mut back) = (false, false);
    let mut until = Instant::now() + STEP * 2;
    while !(done && back) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        match (qos, next(connection, left).await?) {
            (_, Event::Publish(message)) if message.topic == topic => {
                back |= message.payload.len() == size;
            }
            (QoS::AtLeastOnce, Event::PubAck(code)) if code >= 0x80 => return Ok(false),
            (QoS::AtMostOnce, Event::OutgoingPublish(_)) | (QoS::AtLeastOnce, Event::PubAck(_)) => {
                done = true;
                // Taken: its copy follows at once, or was dropped (a limit on message size).
                until = until.min(Instant::now() + Duration::from_secs(1));
            }
            _ => {}
        }
    }
    Ok(true)
}

/// The version to use where MQTT 5 would get in the way (its client checks limits itself):
/// 3.1.1, else 3.1, else 5, among those accepted; `fallback` when none is.
fn older_first(accepted: &[ProtocolVersion], fallback: ProtocolVersion) -> ProtocolVersion {
    [
        ProtocolVersion::V311,
        ProtocolVersion::V31,
        ProtocolVersion::V5,
    ]
    .into_iter()
    .find(|v| accepted.contains(v))
    .unwrap_or(fallback)
}
