//! Broker authentication and access control: password files written by mosquitto_passwd, the
//! CONNACK codes (and so the clients' exit codes) of refused clients, mosquitto's ACL files seen
//! from skeeter's and mosquitto's clients, and `skeeter broker -c mosquitto.conf`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use skeeter::broker::auth::{Acl, Passwords};
use skeeter::broker::{BackgroundBroker, Config};

use common::pki::Pki;
use common::watched::Watched;
use common::{SkeeterBroker, free_port, have, set_mode, skeeter, skeeter_std};

const WAIT: Duration = Duration::from_secs(10);

/// The users every test knows, with their passwords.
const USERS: &[(&str, &str)] = &[
    ("alice", "alice pw"),
    ("bob", "bob pw"),
    ("carol", "carol pw"),
];

/// A password file of [`USERS`]: made by mosquitto_passwd when it is installed (that is the
/// point), else by skeeter passwd.
fn password_file(dir: &Path) -> PathBuf {
    let file = dir.join("passwords");
    let mosquitto = have("mosquitto_passwd");
    for (i, (user, password)) in USERS.iter().enumerate() {
        let mut command = if mosquitto {
            Command::new("mosquitto_passwd")
        } else {
            let mut command = skeeter_std();
            command.arg("passwd");
            command
        };
        if i == 0 {
            command.arg("-c");
        }
        let status = command
            .arg("-b")
            .arg(&file)
            .args([user, password])
            .status()
            .unwrap();
        assert!(status.success());
    }
    file
}

/// An in-process broker with the password file and ACL given.
fn broker(passwords: Option<&Path>, acl: Option<&str>, allow_anonymous: bool) -> BackgroundBroker {
    let passwords = passwords
        .map(|file| Arc::new(Passwords::parse(&std::fs::read_to_string(file).unwrap()).unwrap()));
    let config = Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        passwords,
        acl: acl.map(|text| Arc::new(Acl::parse(text).unwrap())),
        allow_anonymous,
        ..Config::default()
    };
    BackgroundBroker::start(config).unwrap()
}

fn login(user: &str) -> Vec<String> {
    let password = USERS.iter().find(|(name, _)| *name == user).unwrap().1;
    vec!["-u".into(), user.into(), "-P".into(), password.into()]
}

/// `skeeter pub -p PORT ARGS` (QoS 1, so a dropped publish is still acknowledged): exit code
/// and stderr.
fn publish(port: u16, args: &[String]) -> (Option<i32>, String) {
    let output = skeeter()
        .args(["pub", "-q", "1", "-p", &port.to_string()])
        .args(args)
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// A subscriber process (skeeter sub or mosquitto_sub) whose stdout is collected.
struct Subscriber(Watched);

impl Subscriber {
    /// Start `program -p PORT ARGS` and wait until the broker holds one more subscription.
    fn start(broker: &BackgroundBroker, program: &Path, args: &[String]) -> Subscriber {
        let before = broker.subscriptions();
        let mut command = if program == Path::new("skeeter") {
            let mut command = skeeter_std();
            command.arg("sub");
            command
        } else {
            Command::new(program)
        };
        command
            .args(["-p", &broker.local_addr().port().to_string()])
            .args(args);
        let watched = Watched::spawn(command);
        let deadline = Instant::now() + WAIT;
        while broker.subscriptions() <= before {
            assert!(Instant::now() < deadline, "{program:?} never subscribed");
            std::thread::sleep(Duration::from_millis(10));
        }
        Subscriber(watched)
    }

    /// Wait (bounded) for it to exit on its own (-C); what it printed.
    fn output(self) -> String {
        let (_, stdout, _) = self.0.finish(WAIT);
        String::from_utf8_lossy(&stdout).into_owned()
    }
}

#[test]
fn a_mosquitto_passwd_file_checks_logins() {
    let dir = tempfile::tempdir().unwrap();
    let file = password_file(dir.path());
    let broker = broker(Some(&file), None, false);
    let port = broker.local_addr().port();

    let sub = Subscriber::start(
        &broker,
        Path::new("skeeter"),
        &[login("alice"), args(&["-t", "auth/#", "-v", "-C", "2"])].concat(),
    );
    let (code, _) = publish(
        port,
        &[login("bob"), args(&["-t", "auth/a", "-m", "1"])].concat(),
    );
    assert_eq!(code, Some(0));
    if have("mosquitto_pub") {
        let status = Command::new("mosquitto_pub")
            .args([
                "-p",
                &port.to_string(),
                "-q",
                "1",
                "-t",
                "auth/b",
                "-m",
                "2",
            ])
            .args(login("carol"))
            .status()
            .unwrap();
        assert!(status.success());
    } else {
        publish(
            port,
            &[login("carol"), args(&["-t", "auth/b", "-m", "2"])].concat(),
        );
    }
    assert_eq!(sub.output(), "auth/a 1\nauth/b 2\n");

    // Refused: CONNACK 5 (not authorised), as mosquitto 2 answers, and so exit 5.
    let message = args(&["-t", "auth/c", "-m", "x"]);
    let bad = args(&["-u", "alice", "-P", "wrong"]);
    let unknown = args(&["-u", "mallory", "-P", "alice pw"]);
    let no_password = args(&["-u", "alice"]);
    for who in [bad, unknown, no_password, vec![]] {
        let (code, stderr) = publish(port, &[who.clone(), message.clone()].concat());
        assert_eq!(code, Some(5), "{who:?}: {stderr}");
        assert!(stderr.contains("not authorised"), "{stderr}");
    }
    if have("mosquitto_sub") {
        let output = Command::new("mosquitto_sub")
            .args([
                "-p",
                &port.to_string(),
                "-t",
                "x",
                "-u",
                "alice",
                "-P",
                "no",
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("not authorised"), "{stderr}");
    }
}

#[test]
fn anonymous_clients_when_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let file = password_file(dir.path());
    let broker = broker(Some(&file), None, true);
    let port = broker.local_addr().port();
    assert_eq!(publish(port, &args(&["-t", "a", "-m", "x"])).0, Some(0));
    // A user name still needs its password.
    assert_eq!(
        publish(port, &args(&["-t", "a", "-m", "x", "-u", "bob", "-P", "x"])).0,
        Some(5)
    );
}

const ACL: &str = "\
# anonymous clients
topic read public/#

user alice
topic readwrite alice/#
topic read public/#
topic write users/#
topic write clients/#

user bob
topic write public/#
topic deny public/private/#

pattern readwrite clients/%c/#
pattern read users/%u/inbox
";

#[test]
fn acl_denied_publishes_and_reads_are_not_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let file = password_file(dir.path());
    let broker = broker(Some(&file), Some(ACL), true);
    let port = broker.local_addr().port();
    let mut subscribers = vec![(
        "skeeter",
        Subscriber::start(
            &broker,
            Path::new("skeeter"),
            &[login("alice"), args(&["-t", "#", "-v", "-C", "3"])].concat(),
        ),
    )];
    if have("mosquitto_sub") {
        subscribers.push((
            "mosquitto_sub",
            Subscriber::start(
                &broker,
                Path::new("mosquitto_sub"),
                &[login("alice"), args(&["-t", "#", "-v", "-C", "3"])].concat(),
            ),
        ));
    }
    let send = |who: &str, topic: &str, payload: &str| {
        let (code, stderr) = publish(
            port,
            &[login(who), args(&["-t", topic, "-m", payload])].concat(),
        );
        // A denied publish is acknowledged all the same: the publisher cannot tell.
        assert_eq!(code, Some(0), "{stderr}");
    };
    send("bob", "public/news", "1"); // bob may write, alice may read
    send("bob", "alice/inbox", "denied write"); // bob may not write there
    send("bob", "public/private/x", "denied write"); // deny wins over bob's public/#
    send("carol", "public/news", "denied write"); // carol has no rules of her own
    send("alice", "logs/x", "denied write"); // alice has no rule for logs/
    send("alice", "users/bob/inbox", "denied read"); // alice may write, not read
    send("alice", "alice/notes", "2");
    if have("mosquitto_pub") {
        let status = Command::new("mosquitto_pub")
            .args([
                "-p",
                &port.to_string(),
                "-q",
                "1",
                "-t",
                "alice/x",
                "-m",
                "denied",
            ])
            .args(login("bob"))
            .status()
            .unwrap();
        assert!(status.success());
    }
    send("bob", "public/end", "3");
    for (name, subscriber) in subscribers {
        assert_eq!(
            subscriber.output(),
            "public/news 1\nalice/notes 2\npublic/end 3\n",
            "seen by {name}"
        );
    }
}

#[test]
fn acl_patterns_and_anonymous_rules() {
    let dir = tempfile::tempdir().unwrap();
    let file = password_file(dir.path());
    let broker = broker(Some(&file), Some(ACL), true);
    let port = broker.local_addr().port();
    let carol = [
        login("carol"),
        args(&["-i", "carol-1", "-t", "#", "-v", "-C", "2"]),
    ]
    .concat();
    let mut subscribers = vec![(
        "skeeter carol",
        Subscriber::start(&broker, Path::new("skeeter"), &carol),
        "clients/carol-1/cmd a\nusers/carol/inbox b\n",
    )];
    let anonymous = args(&["-i", "anon-1", "-t", "#", "-v", "-C", "2"]);
    subscribers.push((
        "skeeter anonymous",
        Subscriber::start(&broker, Path::new("skeeter"), &anonymous),
        "clients/anon-1/cmd c\npublic/x d\n",
    ));
    if have("mosquitto_sub") {
        let carol = [
            login("carol"),
            args(&["-i", "carol-2", "-t", "#", "-v", "-C", "2"]),
        ]
        .concat();
        subscribers.push((
            "mosquitto_sub carol",
            Subscriber::start(&broker, Path::new("mosquitto_sub"), &carol),
            "clients/carol-2/cmd a2\nusers/carol/inbox b\n",
        ));
    }
    let send = |topic: &str, payload: &str| {
        let (code, stderr) = publish(
            port,
            &[login("alice"), args(&["-t", topic, "-m", payload])].concat(),
        );
        assert_eq!(code, Some(0), "{stderr}");
    };
    send("users/bob/inbox", "not carol's");
    send("clients/carol-1/cmd", "a");
    send("clients/carol-2/cmd", "a2");
    send("clients/other/cmd", "nobody's");
    send("alice/x", "alice's only");
    send("users/carol/inbox", "b");
    send("clients/anon-1/cmd", "c");
    // Anonymous clients may not write: the anonymous section grants read only.
    let (code, _) = publish(port, &args(&["-i", "anon-2", "-t", "public/x", "-m", "no"]));
    assert_eq!(code, Some(0));
    let (code, _) = publish(
        port,
        &[login("bob"), args(&["-t", "public/x", "-m", "d"])].concat(),
    );
    assert_eq!(code, Some(0));
    for (name, subscriber, expected) in subscribers {
        assert_eq!(subscriber.output(), expected, "seen by {name}");
    }
}

#[test]
fn retained_messages_follow_the_acl() {
    let broker = broker(
        None,
        Some("topic read r/#\ntopic write w/#\nuser x\n"),
        true,
    );
    let port = broker.local_addr().port();
    // No write access to r/: the retained message is never stored.
    publish(port, &args(&["-t", "r/denied", "-m", "no", "-r"]));
    // Written where allowed, but nobody may read w/.
    publish(port, &args(&["-t", "w/ok", "-m", "no", "-r"]));
    let output = skeeter()
        .args(["sub", "-p", &port.to_string(), "-t", "#", "-v", "-W", "1"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "");
}

/// `skeeter broker ARGS` in the background, with the port of its first "listening on" line.
struct BrokerProcess {
    _broker: SkeeterBroker,
    port: u16,
}

impl BrokerProcess {
    /// Once it says where it listens; or, when it does not, its exit code and stderr.
    fn start(args: &[&str]) -> Result<BrokerProcess, (Option<i32>, String)> {
        let broker = SkeeterBroker::spawn(args);
        let line = broker.next_line(WAIT).unwrap_or_default();
        let port = line
            .trim_end()
            .strip_prefix("listening on mqtt://")
            .and_then(|addr| addr.rsplit(':').next())
            .and_then(|port| port.parse().ok());
        match port {
            Some(port) => Ok(BrokerProcess {
                _broker: broker,
                port,
            }),
            None => Err(broker.kill_with_stderr()),
        }
    }
}

#[test]
fn command_line_options() {
    let dir = tempfile::tempdir().unwrap();
    let file = password_file(dir.path());
    let acl = dir.path().join("acl");
    std::fs::write(&acl, ACL).unwrap();
    let (file, acl) = (file.to_str().unwrap(), acl.to_str().unwrap());

    // With a password file, anonymous clients are refused unless allowed.
    let broker = BrokerProcess::start(&["-p", "0", "--password-file", file]).unwrap();
    assert_eq!(
        publish(broker.port, &args(&["-t", "a", "-m", "x"])).0,
        Some(5)
    );
    let good = [login("bob"), args(&["-t", "public/a", "-m", "x"])].concat();
    assert_eq!(publish(broker.port, &good).0, Some(0));
    drop(broker);

    let broker = BrokerProcess::start(&[
        "-p",
        "0",
        "--password-file",
        file,
        "--acl-file",
        acl,
        "--allow-anonymous",
        "true",
    ])
    .unwrap();
    assert_eq!(
        publish(broker.port, &args(&["-t", "a", "-m", "x"])).0,
        Some(0)
    );
    drop(broker);

    // Bad files: unreadable is bad input (10), malformed names its line (2).
    let missing = dir.path().join("missing");
    let (code, stderr) =
        BrokerProcess::start(&["-p", "0", "--password-file", missing.to_str().unwrap()])
            .err()
            .unwrap();
    assert_eq!(code, Some(10), "{stderr}");
    let bad_acl = dir.path().join("bad_acl");
    std::fs::write(&bad_acl, "user alice\ntopic sometimes a/b\n").unwrap();
    let bad_acl = bad_acl.to_str().unwrap();
    let (code, stderr) = BrokerProcess::start(&["-p", "0", "--acl-file", bad_acl])
        .err()
        .unwrap();
    assert_eq!(code, Some(2));
    assert_eq!(
        stderr.trim_end(),
        format!("skeeter: error: {bad_acl}:2: invalid access type 'sometimes'")
    );
}

#[test]
fn a_small_mosquitto_conf_runs_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    set_mode(dir.path(), 0o755);
    let file = password_file(dir.path());
    set_mode(&file, 0o644);
    let acl = dir.path().join("acl");
    std::fs::write(&acl, ACL).unwrap();
    set_mode(&acl, 0o644);
    let conf = dir.path().join("mosquitto.conf");
    let port = free_port();
    std::fs::write(
        &conf,
        format!(
            "# a small mosquitto.conf\n\nlistener {port} 127.0.0.1\nallow_anonymous false\n\
             password_file {}\nacl_file {}\n",
            file.display(),
            acl.display()
        ),
    )
    .unwrap();
    set_mode(&conf, 0o644);
    let conf = conf.to_str().unwrap();

    let check = |port: u16| {
        assert_eq!(
            publish(port, &args(&["-t", "public/a", "-m", "x"])).0,
            Some(5)
        );
        let wrong = args(&["-t", "public/a", "-m", "x", "-u", "bob", "-P", "x"]);
        assert_eq!(publish(port, &wrong).0, Some(5));
        let sub = [
            login("alice"),
            args(&["-t", "#", "-v", "-C", "1", "-W", "10"]),
        ]
        .concat();
        let mut command = skeeter_std();
        command
            .args(["sub", "-d", "-p", &port.to_string()])
            .args(&sub);
        let subscriber = common::Background::spawn(command, "received SUBACK");
        let denied = [login("bob"), args(&["-t", "alice/a", "-m", "no"])].concat();
        assert_eq!(publish(port, &denied).0, Some(0));
        let allowed = [login("bob"), args(&["-t", "public/a", "-m", "yes"])].concat();
        assert_eq!(publish(port, &allowed).0, Some(0));
        let (code, stdout) = subscriber.finish(WAIT);
        assert_eq!(code, Some(0));
        assert_eq!(String::from_utf8_lossy(&stdout), "public/a yes\n");
    };

    let broker = BrokerProcess::start(&["-c", conf]).unwrap();
    assert_eq!(broker.port, port);
    check(broker.port);
    drop(broker);

    // The same file, unchanged, in mosquitto.
    if have("mosquitto") {
        let mut mosquitto = Command::new("mosquitto")
            .args(["-c", conf])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "mosquitto did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        check(port);
        let _ = mosquitto.kill();
        let _ = mosquitto.wait();
    }
}

#[test]
fn config_file_errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("mosquitto.conf");
    let path = conf.to_str().unwrap();
    let cases = [
        (
            "listener 1883\nautosave_on_changes true\n",
            "2: unknown directive 'autosave_on_changes'",
        ),
        ("allow_anonymous maybe\n", "1: 'maybe' is not true or false"),
        (
            "listener 1883 127.0.0.1\nlistener 1884 127.0.0.2\n",
            "2: unsupported: listeners on different addresses (127.0.0.1 and 127.0.0.2)",
        ),
        (
            "listener 1883 127.0.0.1\n\nlistener 1884 127.0.0.1\n",
            "3: unsupported: a second plain MQTT listener",
        ),
        (
            "listener 8883 127.0.0.1\ncertfile c.pem\nkeyfile k.pem\n",
            "1: unsupported: TLS and WebSocket listeners without a plain MQTT one (skeeter \
             always has one)",
        ),
        (
            "listener 1883\ncertfile c.pem\n",
            "2: certfile without keyfile",
        ),
        (
            "listener 1883\nrequire_certificate true\n",
            "2: only for a listener with certfile and keyfile",
        ),
    ];
    for (text, error) in cases {
        std::fs::write(&conf, text).unwrap();
        let output = skeeter()
            .args(["broker", "-c", path])
            .timeout(WAIT)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{text}");
        assert_eq!(
            String::from_utf8_lossy(&output.stderr).trim_end(),
            format!("skeeter: error: {path}:{error}"),
            "{text}"
        );
    }
    // -c replaces the options it covers.
    let output = skeeter()
        .args(["broker", "-c", path, "--password-file", path])
        .timeout(WAIT)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn a_certificate_identity_is_the_user_name_for_passwords_and_acl() {
    if !have("mosquitto_pub") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    set_mode(dir.path(), 0o755);
    // A CA, a server certificate for 127.0.0.1 and a client certificate with CN `sensor-1`.
    let pki = Pki::new();
    pki.client("client", "sensor-1");
    let file = password_file(dir.path());
    let acl = dir.path().join("acl");
    std::fs::write(
        &acl,
        "user sensor-1\ntopic write sensors/1/#\nuser alice\ntopic read #\n",
    )
    .unwrap();
    let conf = dir.path().join("skeeter.conf");
    let (plain, tls) = (free_port(), free_port());
    let at = |name: &str| pki.file(name);
    std::fs::write(
        &conf,
        format!(
            "listener {plain} 127.0.0.1\n\nlistener {tls} 127.0.0.1\ncertfile {}\nkeyfile {}\n\
             cafile {}\nrequire_certificate true\nuse_identity_as_username true\n\n\
             password_file {}\nacl_file {}\n",
            at("server.pem"),
            at("server.key"),
            at("ca.pem"),
            file.display(),
            acl.display()
        ),
    )
    .unwrap();
    let broker = BrokerProcess::start(&["-c", conf.to_str().unwrap()]).unwrap();
    assert_eq!(broker.port, plain);

    let mut command = skeeter_std();
    command
        .args([
            "sub",
            "-d",
            "-p",
            &plain.to_string(),
            "-t",
            "#",
            "-v",
            "-C",
            "1",
        ])
        .args(login("alice"));
    let subscriber = common::Background::spawn(command, "received SUBACK");
    // No password: the certificate vouches for sensor-1, whatever user name the CONNECT claims.
    let publish = |topic: &str, payload: &str| {
        let status = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &tls.to_string(), "-q", "1"])
            .args(["--cafile", &at("ca.pem"), "--cert", &at("client.pem")])
            .args([
                "--key",
                &at("client.key"),
                "-u",
                "alice",
                "-t",
                topic,
                "-m",
                payload,
            ])
            .stdin(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "mosquitto_pub to {topic}");
    };
    publish("sensors/2/t", "not sensor-1's");
    publish("sensors/1/t", "21.5");
    let (code, stdout) = subscriber.finish(WAIT);
    assert_eq!(code, Some(0));
    assert_eq!(String::from_utf8_lossy(&stdout), "sensors/1/t 21.5\n");
}

#[test]
fn a_config_file_with_a_listener_refuses_anonymous_clients_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("mosquitto.conf");
    for (extra, expected) in [("", 5), ("allow_anonymous true\n", 0)] {
        let port = free_port();
        std::fs::write(&conf, format!("listener {port} 127.0.0.1\n{extra}")).unwrap();
        let broker = BrokerProcess::start(&["-c", conf.to_str().unwrap()]).unwrap();
        let code = publish(broker.port, &args(&["-t", "a", "-m", "x"])).0;
        assert_eq!(code, Some(expected), "{extra:?}");
    }
}

#[test]
fn a_will_needs_write_access_to_its_topic() {
    let broker = broker(None, Some("topic read #\ntopic write will/ok\n"), true);
    let port = broker.local_addr().port();
    let watcher = Subscriber::start(
        &broker,
        Path::new("skeeter"),
        &args(&["-t", "will/#", "-v", "-C", "1"]),
    );
    for (topic, payload) in [("will/denied", "no"), ("will/ok", "yes")] {
        let before = broker.subscriptions();
        let client = common::skeeter_sub(
            port,
            &["-t", "x", "--will-topic", topic, "--will-payload", payload],
        );
        while broker.subscriptions() <= before {
            std::thread::sleep(Duration::from_millis(10));
        }
        // Killed, not disconnected: the broker publishes its will, if the ACL lets it.
        drop(client);
        let deadline = Instant::now() + WAIT;
        while broker.subscriptions() > before {
            assert!(
                Instant::now() < deadline,
                "the killed client's session stayed"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    assert_eq!(watcher.output(), "will/ok yes\n");
}
