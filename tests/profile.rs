//! Profiles: `[profile.NAME]` in $XDG_CONFIG_HOME/skeeter/config.toml chosen with --profile or
//! SKEETER_PROFILE; the command line and the environment override them.

mod common;

use common::{TestBroker, one_error_line, skeeter, text};

/// A config dir holding `config.toml` with `content`.
fn config(content: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("skeeter")).unwrap();
    std::fs::write(dir.path().join("skeeter/config.toml"), content).unwrap();
    dir
}

fn with(dir: &tempfile::TempDir) -> assert_cmd::Command {
    let mut command = skeeter();
    command.env("XDG_CONFIG_HOME", dir.path());
    command
}

#[test]
fn a_profile_names_the_broker_and_the_user() {
    let dir = tempfile::tempdir().unwrap();
    let passwords = dir.path().join("passwords");
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "secret\n").unwrap();
    skeeter()
        .args(["passwd", "-c", "-b"])
        .arg(&passwords)
        .args(["alice", "secret"])
        .assert()
        .success();
    let (broker, lines) = common::skeeter_broker(
        &[
            "--port",
            "0",
            "-q",
            "--password-file",
            passwords.to_str().unwrap(),
        ],
        1,
    );
    let port = common::listening_port(&lines, "mqtt");
    let conf = config(&format!(
        "[profile.local]\nhost = \"127.0.0.1\"\nport = {port}\nusername = \"alice\"\n\
         password_file = \"{}\"\nqos = 1\n\n[profile.wrong]\nport = 1\n",
        pw.display()
    ));
    with(&conf)
        .args([
            "pub",
            "--profile",
            "local",
            "-t",
            "p/t",
            "-m",
            "hello",
            "-r",
        ])
        .assert()
        .success();
    // SKEETER_PROFILE, for every client command.
    let output = with(&conf)
        .env("SKEETER_PROFILE", "local")
        .args(["sub", "-t", "p/t", "-C", "1", "-v", "-W", "5"])
        .output()
        .unwrap();
    assert_eq!(text(&output.stdout), "p/t hello\n");
    // A flag beats the profile; so does the environment.
    with(&conf)
        .args([
            "pub",
            "--profile",
            "wrong",
            "-p",
            &port.to_string(),
            "-u",
            "alice",
        ])
        .args(["-P", "secret", "-t", "p/t", "-m", "x"])
        .assert()
        .success();
    with(&conf)
        .env("SKEETER_PORT", port.to_string())
        .env("SKEETER_USERNAME", "alice")
        .env("SKEETER_PASSWORD", "secret")
        .args(["pub", "--profile", "wrong", "-t", "p/t", "-m", "x"])
        .assert()
        .success();
    drop(broker);
}

#[test]
fn profile_mistakes_are_usage_errors() {
    let broker = TestBroker::start();
    let conf = config("[profile.a]\nhots = \"x\"\n[profile.b]\nport = \"many\"\n");
    for (profile, expected) in [
        ("a", "[profile.a] hots: not a connection option"),
        ("c", "no [profile.c]"),
    ] {
        let output = with(&conf)
            .args(["pub", "--profile", profile, "-t", "t", "-m", "x"])
            .output()
            .unwrap();
        let line = one_error_line(&output, 2);
        assert!(line.contains(expected), "{line}");
        assert!(line.contains("config.toml"), "{line}");
    }
    // A bad value is clap's error about the option, as if typed.
    let output = with(&conf)
        .args(["sub", "--profile", "b", "-t", "t"])
        .output()
        .unwrap();
    let line = one_error_line(&output, 2);
    assert!(line.contains("'many'"), "{line}");
    // No file at all.
    let output = skeeter()
        .env("XDG_CONFIG_HOME", "/nonexistent/dir")
        .args([
            "pub",
            "--profile",
            "x",
            "-p",
            &broker.port().to_string(),
            "-t",
            "t",
            "-m",
            "x",
        ])
        .output()
        .unwrap();
    let line = one_error_line(&output, 2);
    assert!(line.contains("--profile x: cannot read"), "{line}");
}
