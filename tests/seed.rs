//! The first command line of "MQTT for Sysadmins", through both subscribers and against both
//! brokers, with TLS 1.2 and 1.3, client certificates and a password:
//!
//! mosquitto_sub -v -h host -p port --cafile file --cert file --key file -u user -P pass
//!     --tls-version tlsv1.2 -t 'topic/#'

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::pki::Pki;
use common::{Mosquitto, NO_CONFIG, SkeeterBroker, have, listening_port, skeeter, skeeter_std};

/// `skeeter broker` with a TLS listener that wants a client certificate and a password.
fn skeeter_broker(pki: &Pki, password_file: &str) -> (SkeeterBroker, u16) {
    let (certfile, keyfile, cafile) = (
        pki.file("server.pem"),
        pki.file("server.key"),
        pki.file("ca.pem"),
    );
    let args = [
        "-p",
        "0",
        "--tls-port",
        "0",
        "--certfile",
        &certfile,
        "--keyfile",
        &keyfile,
        "--cafile",
        &cafile,
        "--require-certificate",
        "--password-file",
        password_file,
    ];
    let (broker, lines) = common::skeeter_broker(&args, 2);
    (broker, listening_port(&lines, "mqtts"))
}

/// The seed's options, for any of the clients.
fn seed_options(pki: &Pki, port: u16, version: &str) -> Vec<String> {
    [
        "-h",
        "localhost",
        "-p",
        &port.to_string(),
        "--cafile",
        &pki.file("ca.pem"),
        "--cert",
        &pki.file("client.pem"),
        "--key",
        &pki.file("client.key"),
        "-u",
        "sysadmin",
        "-P",
        "s3cret",
        "--tls-version",
        version,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Publish retained with skeeter, then run each subscriber with the seed's line and `-C 1`.
fn check(pki: &Pki, port: u16, version: &str, broker: &str) {
    let options = seed_options(pki, port, version);
    skeeter()
        .arg("pub")
        .args(&options)
        .args(["-t", "topic/seed", "-r", "-q", "1", "-m", "Hello over TLS"])
        .assert()
        .success();
    let mut subscribers = vec![("skeeter sub", {
        let mut command = skeeter_std();
        command.arg("sub");
        command
    })];
    if have("mosquitto_sub") {
        let mut command = Command::new("mosquitto_sub");
        command.env("XDG_CONFIG_HOME", NO_CONFIG);
        subscribers.push(("mosquitto_sub", command));
    }
    for (name, mut command) in subscribers {
        let output = command
            .arg("-v")
            .args(&options)
            .args(["-t", "topic/#", "-C", "1", "-W", "10"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{name} {version} on {broker}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            output.stdout, b"topic/seed Hello over TLS\n",
            "{name} {version} on {broker}"
        );
    }
    // A wrong password is refused (CONNACK 5) even with a good certificate.
    let mut wrong = seed_options(pki, port, version);
    let at = wrong.iter().position(|o| o == "s3cret").unwrap();
    wrong[at] = "wrong".into();
    let output = skeeter()
        .arg("sub")
        .args(&wrong)
        .args(["-t", "topic/#", "-C", "1"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(5), "{version} on {broker}");
}

/// The password file, made by skeeter passwd (mosquitto reads it too).
fn password_file(pki: &Pki) -> String {
    let path = pki.file("passwords");
    skeeter()
        .args(["passwd", "-c", "-b", &path, "sysadmin", "s3cret"])
        .assert()
        .success();
    common::set_mode(std::path::Path::new(&path), 0o644);
    path
}

#[test]
fn seed_command_line_against_the_skeeter_broker() {
    let pki = Pki::new();
    let passwords = password_file(&pki);
    let (_broker, port) = skeeter_broker(&pki, &passwords);
    for version in ["tlsv1.2", "tlsv1.3"] {
        check(&pki, port, version, "skeeter broker");
    }
}

#[test]
fn seed_command_line_against_mosquitto() {
    let pki = Pki::new();
    let passwords = password_file(&pki);
    let tls_port = common::free_port();
    let Some(_mosquitto) = Mosquitto::start(&format!(
        "listener {tls_port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n\
         require_certificate true\npassword_file {passwords}\nallow_anonymous false\n",
        pki.file("ca.pem"),
        pki.file("server.pem"),
        pki.file("server.key"),
    )) else {
        return;
    };
    // The TLS listener is the second one: wait until it accepts.
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", tls_port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "mosquitto's TLS listener never came up"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    for version in ["tlsv1.2", "tlsv1.3"] {
        check(&pki, tls_port, version, "mosquitto");
    }
}
