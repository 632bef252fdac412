//! The client over TLS, against mosquitto's TLS listeners: CA files, TLS versions, client
//! certificates, passwords on top, mqtts:// URLs, --insecure, and every failure as one line with
//! exit 8 (TLS) or 10 (an unreadable or invalid file).

mod common;

use std::time::Duration;

use common::pki::Pki;
use common::{
    Mosquitto, SkeeterBroker, free_port, have, installed, listening_port, set_mode, skeeter,
    skeeter_broker, skeeter_std,
};

/// mosquitto with a TLS listener on a free port, serving `server` (server, wrong or expired);
/// `extra` goes after the listener's lines. Returns the broker and the TLS port.
fn mosquitto_tls(pki: &Pki, server: &str, extra: &str) -> Option<(Mosquitto, u16)> {
    mosquitto_with_listener(|port| {
        format!(
            "listener {port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n{extra}",
            pki.file("ca.pem"),
            pki.file(&format!("{server}.pem")),
            pki.file(&format!("{server}.key")),
        )
    })
}

/// mosquitto with one more listener, on a free port, configured by `config(port)`; the broker
/// and that port once it accepts connections. The port can be taken by another process between
/// choosing it and mosquitto binding it (mosquitto then exits): try again with another.
fn mosquitto_with_listener(config: impl Fn(u16) -> String) -> Option<(Mosquitto, u16)> {
    for _ in 0..5 {
        let port = free_port();
        let broker = Mosquitto::start(&config(port))?;
        if accepts(port) {
            return Some((broker, port));
        }
    }
    panic!("mosquitto's extra listener never accepted connections");
}

/// Whether the port accepts connections within 5 s.
fn accepts(port: u16) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// `skeeter sub -C 1` in the background with these connection options, then `skeeter pub` with
/// the same; the message must arrive.
fn round_trip(port: u16, connect: &[&str]) {
    let mut sub = skeeter_std();
    sub.args([
        "sub",
        "-d",
        "-p",
        &port.to_string(),
        "-t",
        "tls/test",
        "-C",
        "1",
    ])
    .args(connect);
    let sub = common::Background::spawn(sub, "received SUBACK");
    skeeter()
        .args([
            "pub",
            "-p",
            &port.to_string(),
            "-t",
            "tls/test",
            "-m",
            "over TLS",
        ])
        .args(connect)
        .assert()
        .success();
    let (code, stdout) = sub.finish(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert_eq!(String::from_utf8_lossy(&stdout), "over TLS\n");
}

/// Run `skeeter pub` against the port with these options; it must fail with `code` and one line
/// on stderr containing `words`.
fn fails(port: u16, args: &[&str], code: i32, words: &str) {
    let output = skeeter()
        .args(["pub", "-p", &port.to_string(), "-t", "t", "-m", "x"])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains(words),
        "{args:?}: '{words}' not in: {stderr}"
    );
}

#[test]
fn tls_12_and_13_with_a_ca_file() {
    let pki = Pki::new();
    for version in ["tlsv1.2", "tlsv1.3"] {
        let Some((_broker, port)) =
            mosquitto_tls(&pki, "server", &format!("tls_version {version}\n"))
        else {
            return;
        };
        let ca = pki.file("ca.pem");
        round_trip(port, &["-h", "localhost", "--cafile", &ca]);
        round_trip(
            port,
            &["-h", "127.0.0.1", "--cafile", &ca, "--tls-version", version],
        );
        // mosquitto 2.0 offers no ALPN; asking for one still connects.
        round_trip(
            port,
            &["-h", "localhost", "--cafile", &ca, "--tls-alpn", "mqtt"],
        );
        // mosquitto's tls_version is a minimum: only a 1.3 broker refuses a 1.2 client.
        if version == "tlsv1.3" {
            fails(
                port,
                &[
                    "-h",
                    "localhost",
                    "--cafile",
                    &ca,
                    "--tls-version",
                    "tlsv1.2",
                ],
                8,
                "TLS",
            );
        }
    }
}

#[test]
fn client_certificates_required_by_the_broker() {
    let pki = Pki::new();
    let Some((_broker, port)) = mosquitto_tls(&pki, "server", "require_certificate true\n") else {
        return;
    };
    let ca = pki.file("ca.pem");
    let (cert, key) = (pki.file("client.pem"), pki.file("client.key"));
    round_trip(
        port,
        &[
            "-h",
            "localhost",
            "--cafile",
            &ca,
            "--cert",
            &cert,
            "--key",
            &key,
        ],
    );
    // Without one: TLS 1.3 finishes the handshake, then the broker's alert arrives.
    fails(
        port,
        &["-h", "localhost", "--cafile", &ca],
        8,
        "client certificate",
    );
    fails(
        port,
        &[
            "-h",
            "localhost",
            "--cafile",
            &ca,
            "--tls-version",
            "tlsv1.2",
        ],
        8,
        "TLS",
    );
    // The same through the in-process relay (-A), which does TLS itself.
    round_trip(
        port,
        &[
            "-A",
            "127.0.0.1",
            "-h",
            "localhost",
            "--cafile",
            &ca,
            "--cert",
            &cert,
            "--key",
            &key,
        ],
    );
    fails(
        port,
        &["-A", "127.0.0.1", "-h", "localhost", "--cafile", &ca],
        8,
        "client certificate",
    );
}

#[test]
fn passwords_on_top_of_client_certificates() {
    if !have("mosquitto_passwd") {
        return;
    }
    let pki = Pki::new();
    let passwords = pki.path("passwd");
    let made = std::process::Command::new("mosquitto_passwd")
        .args(["-b", "-c"])
        .arg(&passwords)
        .args(["alice", "s3cret"])
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    set_mode(&passwords, 0o644);
    pki.write("pw", "s3cret\nsecond line ignored\n");
    pki.write("wrong-pw", "nope\n");
    let extra = format!(
        "require_certificate true\nallow_anonymous false\npassword_file {}\n",
        passwords.display()
    );
    let Some((_broker, port)) = mosquitto_tls(&pki, "server", &extra) else {
        return;
    };
    let ca = pki.file("ca.pem");
    let (cert, key) = (pki.file("client.pem"), pki.file("client.key"));
    let tls = ["--cafile", &ca, "--cert", &cert, "--key", &key];
    let with = |more: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = tls.iter().map(|s| s.to_string()).collect();
        args.extend(more.iter().map(|s| s.to_string()));
        args
    };
    let args = with(&["-u", "alice", "-P", "s3cret"]);
    round_trip(port, &args.iter().map(String::as_str).collect::<Vec<_>>());
    let pw_file = pki.file("pw");
    let args = with(&["-u", "alice", "--pw-file", &pw_file]);
    round_trip(port, &args.iter().map(String::as_str).collect::<Vec<_>>());
    // A wrong password is the broker's refusal (mosquitto says "not authorised"), not TLS.
    let wrong = pki.file("wrong-pw");
    let args = with(&["-u", "alice", "--pw-file", &wrong]);
    let output = skeeter()
        .args(["pub", "-p", &port.to_string(), "-t", "t", "-m", "x"])
        .args(&args)
        .output()
        .unwrap();
    assert!(matches!(output.status.code(), Some(4 | 5)), "{:?}", output);
}

#[test]
fn mqtts_urls() {
    let pki = Pki::new();
    let Some((_broker, port)) = mosquitto_tls(&pki, "server", "") else {
        return;
    };
    let ca = pki.file("ca.pem");
    let mut sub = skeeter_std();
    sub.args(["sub", "-d", "-C", "1", "--cafile", &ca, "-L"])
        .arg(format!("mqtts://localhost:{port}/url/topic"));
    let sub = common::Background::spawn(sub, "received SUBACK");
    skeeter()
        .args(["pub", "-m", "via mqtts", "--cafile", &ca, "-L"])
        .arg(format!("mqtts://127.0.0.1:{port}/url/topic"))
        .assert()
        .success();
    let (code, stdout) = sub.finish(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert_eq!(stdout, b"via mqtts\n");
}

#[test]
fn insecure_skips_only_the_host_name_check() {
    let pki = Pki::new();
    let Some((_broker, port)) = mosquitto_tls(&pki, "wrong", "") else {
        return;
    };
    let ca = pki.file("ca.pem");
    fails(
        port,
        &["-h", "localhost", "--cafile", &ca],
        8,
        "wrong.example",
    );
    round_trip(port, &["-h", "localhost", "--cafile", &ca, "--insecure"]);
    // The chain is still checked: another CA fails even with --insecure.
    let other = pki.file("other-ca.pem");
    fails(
        port,
        &["-h", "localhost", "--cafile", &other, "--insecure"],
        8,
        "unknown authority",
    );
}

#[test]
fn unknown_authority_and_expired_certificates() {
    let pki = Pki::new();
    let Some((_broker, port)) = mosquitto_tls(&pki, "server", "") else {
        return;
    };
    let other = pki.file("other-ca.pem");
    fails(
        port,
        &["-h", "localhost", "--cafile", &other],
        8,
        "unknown authority",
    );
    // Through the relay as well.
    fails(
        port,
        &["-A", "127.0.0.1", "-h", "localhost", "--cafile", &other],
        8,
        "unknown authority",
    );
    drop(_broker);

    let Some((_broker, port)) = mosquitto_tls(&pki, "expired", "") else {
        return;
    };
    let ca = pki.file("ca.pem");
    fails(port, &["-h", "localhost", "--cafile", &ca], 8, "expired");
    fails(
        port,
        &["-h", "localhost", "--cafile", &ca, "--insecure"],
        8,
        "expired",
    );
}

#[test]
fn plain_mqtt_port_spoken_to_in_tls() {
    // A broker that does not speak TLS: one line, exit 8.
    let broker = common::TestBroker::start();
    let pki = Pki::new();
    let ca = pki.file("ca.pem");
    let output = skeeter()
        .args(["pub", "-t", "t", "-m", "x", "-p", &broker.port_arg()])
        .args(["--cafile", &ca])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("TLS"), "{stderr}");
    assert_eq!(output.status.code(), Some(8), "{stderr}");
}

#[test]
fn unreadable_and_invalid_files_are_input_errors() {
    let pki = Pki::new();
    pki.write("garbage.pem", "not a certificate\n");
    pki.write(
        "broken.pem",
        "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
    );
    let ca = pki.file("ca.pem");
    let (cert, key) = (pki.file("client.pem"), pki.file("client.key"));
    let missing = pki.file("missing.pem");
    let garbage = pki.file("garbage.pem");
    let broken = pki.file("broken.pem");
    // Nothing listens on the port: these fail before connecting.
    let port = free_port();
    fails(port, &["--cafile", &missing], 10, "missing.pem");
    fails(port, &["--cafile", &garbage], 10, "garbage.pem");
    fails(port, &["--cafile", &broken], 10, "broken.pem");
    fails(port, &["--capath", &missing], 10, "missing.pem");
    fails(
        port,
        &["--cafile", &ca, "--cert", &cert, "--key", &missing],
        10,
        "--key",
    );
    fails(
        port,
        &["--cafile", &ca, "--cert", &garbage, "--key", &key],
        10,
        "--cert",
    );
    fails(
        port,
        &["--cafile", &ca, "--cert", &cert, "--key", &garbage],
        10,
        "--key",
    );
    // A key that is not the certificate's.
    let server_key = pki.file("server.key");
    fails(
        port,
        &["--cafile", &ca, "--cert", &cert, "--key", &server_key],
        10,
        "--key",
    );
    fails(port, &["--pw-file", &missing, "-u", "u"], 10, "missing.pem");
    // Usage errors: --cert without --key, TLS options without TLS.
    skeeter()
        .args([
            "pub", "-t", "t", "-m", "x", "--cafile", &ca, "--cert", &cert,
        ])
        .assert()
        .code(2);
    fails(port, &["--insecure"], 2, "needs TLS");
    fails(port, &["--tls-alpn", "mqtt"], 2, "needs TLS");
    // Under mosquitto's names, an unreadable file exits 1.
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("mosquitto_pub");
    std::os::unix::fs::symlink(common::bin(), &link).unwrap();
    let output = std::process::Command::new(&link)
        .env("XDG_CONFIG_HOME", common::NO_CONFIG)
        .args([
            "-t",
            "t",
            "-m",
            "x",
            "-p",
            &port.to_string(),
            "--cafile",
            &missing,
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
}

#[test]
fn capath_and_key_formats() {
    let pki = Pki::new();
    let Some((_broker, port)) = mosquitto_tls(&pki, "server", "require_certificate true\n") else {
        return;
    };
    // --capath: a directory with the CA among other files.
    let capath = pki.path("capath");
    std::fs::create_dir(&capath).unwrap();
    std::fs::copy(pki.path("ca.pem"), capath.join("ca.crt")).unwrap();
    std::fs::write(capath.join("README"), "not a certificate").unwrap();
    let capath = capath.to_str().unwrap().to_owned();
    let cert = pki.file("client.pem");
    // The same key as PKCS#8 (rcgen's) and SEC1 ("EC PRIVATE KEY", converted by openssl).
    round_trip(
        port,
        &[
            "-h",
            "localhost",
            "--capath",
            &capath,
            "--cert",
            &cert,
            "--key",
            &pki.file("client.key"),
        ],
    );
    if installed("openssl") {
        let sec1 = pki.path("client-sec1.key");
        let converted = std::process::Command::new("openssl")
            .args(["ec", "-in", &pki.file("client.key"), "-out"])
            .arg(&sec1)
            .output()
            .unwrap();
        assert!(converted.status.success(), "{converted:?}");
        let text = std::fs::read_to_string(&sec1).unwrap();
        assert!(text.contains("BEGIN EC PRIVATE KEY"), "{text}");
        round_trip(
            port,
            &[
                "-h",
                "localhost",
                "--capath",
                &capath,
                "--cert",
                &cert,
                "--key",
                sec1.to_str().unwrap(),
            ],
        );
    }
}

#[test]
fn wss_urls() {
    let pki = Pki::new();
    // mosquitto 2.0.11 starts a websockets listener only beside a socket of its own (the TCP one
    // Mosquitto::start makes).
    let Some((_broker, port)) = mosquitto_with_listener(|port| {
        format!(
            "listener {port} 127.0.0.1\nprotocol websockets\ncafile {}\ncertfile {}\nkeyfile {}\n",
            pki.file("ca.pem"),
            pki.file("server.pem"),
            pki.file("server.key"),
        )
    }) else {
        return;
    };
    let ca = pki.file("ca.pem");
    let url = format!("wss://localhost:{port}/mqtt");
    let mut sub = skeeter_std();
    sub.args([
        "sub", "-d", "-t", "wss/t", "-C", "1", "--cafile", &ca, "-L", &url,
    ]);
    let sub = common::Background::spawn(sub, "received SUBACK");
    skeeter()
        .args([
            "pub", "-t", "wss/t", "-m", "over wss", "--cafile", &ca, "--ws",
        ])
        .args(["-h", "localhost", "-p", &port.to_string()])
        .assert()
        .success();
    let (code, stdout) = sub.finish(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert_eq!(stdout, b"over wss\n");
    // A certificate from another CA: exit 8 over WebSockets too.
    let other = pki.file("other-ca.pem");
    fails(
        port,
        &["-h", "localhost", "--ws", "--cafile", &other],
        8,
        "unknown authority",
    );
}

/// mosquitto (plain TCP) that wants user alice with password s3cret; None if not installed.
fn mosquitto_with_password(pki: &Pki) -> Option<Mosquitto> {
    if !have("mosquitto_passwd") {
        return None;
    }
    let passwords = pki.path("passwd");
    let made = std::process::Command::new("mosquitto_passwd")
        .args(["-b", "-c"])
        .arg(&passwords)
        .args(["alice", "s3cret"])
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    set_mode(&passwords, 0o644);
    Mosquitto::start(&format!(
        "allow_anonymous false\npassword_file {}\n",
        passwords.display()
    ))
}

#[test]
fn password_prompt_needs_a_terminal() {
    let output = skeeter()
        .args(["pub", "-t", "t", "-m", "x", "-u", "alice", "-P"])
        .write_stdin("s3cret\n")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("terminal"), "{stderr}");
    skeeter()
        .args(["pub", "-t", "t", "-m", "x", "-u", "alice", "-P", "pw"])
        .env("SKEETER_PW_FILE", "/nonexistent")
        .assert()
        .code(2);
}

#[test]
fn password_prompt_on_a_terminal() {
    let pki = Pki::new();
    let Some(broker) = mosquitto_with_password(&pki) else {
        return;
    };
    if !installed("script") {
        common::note_skipped("script(1) is not installed: the password prompt is not tested");
        return;
    }
    // script(1) runs skeeter on a pseudo-terminal and feeds it our standard input.
    let run = |password: &str| {
        let command = format!(
            "{} pub -p {} -t t -m x -u alice -P",
            common::bin().display(),
            broker.port
        );
        let mut script = std::process::Command::new("script");
        script
            .args(["-qec", &command, "/dev/null"])
            .env("XDG_CONFIG_HOME", common::NO_CONFIG)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = script.spawn().unwrap();
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            // Give skeeter the time to ask before answering.
            std::thread::sleep(Duration::from_millis(500));
            stdin.write_all(format!("{password}\n").as_bytes()).unwrap();
            std::thread::sleep(Duration::from_millis(500));
        }
        let output = child.wait_with_output().unwrap();
        let shown = String::from_utf8_lossy(&output.stdout).into_owned();
        (output.status.code(), shown)
    };
    let (code, shown) = run("s3cret");
    assert_eq!(code, Some(0), "{shown}");
    assert!(shown.contains("Password:"), "{shown}");
    assert!(
        !shown.contains("s3cret"),
        "the password was echoed: {shown}"
    );
    let (code, shown) = run("wrong");
    assert!(matches!(code, Some(4 | 5)), "{code:?} {shown}");
}

/// `skeeter broker` with a TLS listener on a free port (serving server.pem) plus `extra`; it
/// and the port of its mqtts:// line.
fn skeeter_broker_tls(pki: &Pki, extra: &[&str]) -> (SkeeterBroker, u16) {
    let (certfile, keyfile) = (pki.file("server.pem"), pki.file("server.key"));
    let mut args = vec!["-p", "0", "--tls-port", "0"];
    args.extend(["--certfile", &certfile, "--keyfile", &keyfile]);
    args.extend(extra);
    let (broker, lines) = skeeter_broker(&args, 2);
    (broker, listening_port(&lines, "mqtts"))
}

#[test]
fn tls_to_skeeter_broker() {
    let pki = Pki::new();
    let ca = pki.file("ca.pem");
    let (cert, key) = (pki.file("client.pem"), pki.file("client.key"));
    let (_broker, port) = skeeter_broker_tls(&pki, &["--cafile", &ca, "--require-certificate"]);
    round_trip(
        port,
        &[
            "-h",
            "localhost",
            "--cafile",
            &ca,
            "--cert",
            &cert,
            "--key",
            &key,
        ],
    );
    round_trip(
        port,
        &[
            "-h",
            "127.0.0.1",
            "-V",
            "31",
            "--cafile",
            &ca,
            "--cert",
            &cert,
            "--key",
            &key,
        ],
    );
    fails(
        port,
        &["-h", "localhost", "--cafile", &ca],
        8,
        "client certificate",
    );
    let other = pki.file("other-ca.pem");
    fails(
        port,
        &["-h", "localhost", "--cafile", &other],
        8,
        "unknown authority",
    );
}

#[test]
fn os_certificates_with_a_bad_one_among_them() {
    let pki = Pki::new();
    let Some((_broker, port)) = mosquitto_tls(&pki, "server", "") else {
        return;
    };
    // The "OS store" (SSL_CERT_FILE, which rustls-native-certs reads): a certificate that does
    // not parse, then our CA. The bad one is skipped.
    let ca = std::fs::read_to_string(pki.path("ca.pem")).unwrap();
    pki.write(
        "os-store.pem",
        &format!("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n{ca}"),
    );
    let store = pki.file("os-store.pem");
    for connect in [
        vec![
            "-h".to_owned(),
            "localhost".to_owned(),
            "--tls-use-os-certs".to_owned(),
        ],
        vec!["-L".to_owned(), format!("mqtts://localhost:{port}/t")],
    ] {
        skeeter()
            .env("SSL_CERT_FILE", &store)
            .env_remove("SSL_CERT_DIR")
            .args(["pub", "-p", &port.to_string(), "-t", "t", "-m", "x"])
            .args(&connect)
            .assert()
            .success();
    }
}
