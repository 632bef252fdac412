//! The command line itself: usage errors, help, links (multicall), environment variables, and the
//! generated completions and man pages being up to date.

mod common;

use std::path::Path;

use common::skeeter;

/// stderr is exactly one line, starting `skeeter: error:`.
fn assert_one_error_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr).into_owned();
    assert_eq!(text.lines().count(), 1, "stderr: {text:?}");
    assert!(text.starts_with("skeeter: error: "), "stderr: {text:?}");
    text
}

#[test]
fn usage_errors_are_one_line_and_exit_2() {
    let cases: &[&[&str]] = &[
        &["pub", "-t", "a/#", "-m", "x"],
        &["pub", "-t", "a/+/b", "-m", "x"],
        &["pub", "-t", "a", "-m", "x", "-f", "file"],
        &["pub", "-t", "a", "-m", "x", "-l"],
        &["pub", "-t", "a"],
        &["pub", "-m", "x"],
        &["pub", "-t", "a", "-m", "x", "-q", "3"],
        &["pub", "-t", "a", "-m", "x", "-p", "70000"],
        &["pub", "-t", "a", "-m", "x", "--repeat", "0"],
        &["pub", "-t", "a", "-m", "x", "--will-payload", "p"],
        &["pub", "-t", "a", "-m", "x", "--will-topic", "w/#"],
        &["pub", "-t", "a", "-m", "x", "-i", "a", "-I", "b"],
        &["pub", "-t", "a", "-m", "x", "--no-such-flag"],
        &["sub", "-t", "a/#/b"],
        &["sub", "-v"],
        &["sub", "-t", "a", "-C", "0"],
        &["sub", "-t", "a", "-R", "--retained-only"],
        &["sub", "-t", "a", "-T", "x#"],
        &["broker", "--bind", "not-an-address"],
        &["pub", "-t", "a", "-m", "x", "--repeat-delay", "1e300"],
        &["pub", "-t", "a", "-m", "x", "--repeat-delay", "-1"],
        &["pub", "-t", "a", "-m", "x", "--repeat-delay", "NaN"],
    ];
    for args in cases {
        let out = skeeter().args(*args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_one_error_line(&out.stderr);
    }
}

#[test]
fn checks_beyond_clap_are_usage_errors_too() {
    let cases: &[(&[&str], &str)] = &[
        (&["pub", "-t", "a", "-m", "x", "-c"], "client id"),
        (&["sub", "-t", "a", "-c"], "client id"),
        (&["pub", "-t", "a", "-m", "x", "-P", "secret"], "user name"),
        (
            &["pub", "-t", "a", "-m", "x", "-i", ""],
            "must not be empty",
        ),
    ];
    for (args, words) in cases {
        let out = skeeter().args(*args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let text = assert_one_error_line(&out.stderr);
        assert!(text.contains(words), "{args:?}: {text}");
    }
}

#[test]
fn unknown_protocol_versions_are_refused_clearly() {
    // 31 and 5 are served: see tests/mqtt31.rs and tests/mqtt5_client.rs.
    for version in ["6", "mqttv6"] {
        let out = skeeter()
            .args(["pub", "-t", "a", "-m", "x", "-V", version])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let text = assert_one_error_line(&out.stderr);
        assert!(text.contains("expected 311"), "{text}");
    }
}

#[test]
fn help_and_version_succeed() {
    let out = skeeter().args(["pub", "--help"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--topic",
        "--host",
        "--stdin-line",
        "SKEETER_PASSWORD",
        "Exit status",
    ] {
        assert!(help.contains(flag), "pub --help lacks {flag}");
    }
    let out = skeeter().args(["sub", "--version"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains(env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn no_broker_listening_exits_1_with_one_line() {
    let port = common::free_port().to_string();
    for args in [
        vec!["pub", "-p", &port, "-t", "a", "-m", "x"],
        vec!["sub", "-p", &port, "-t", "a"],
    ] {
        let out = skeeter().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let text = assert_one_error_line(&out.stderr);
        assert!(text.contains("cannot connect"), "{text}");
    }
}

#[test]
fn extreme_numbers_never_panic() {
    let port = common::free_port().to_string();
    // -W beyond what a clock can hold means no deadline; the run ends on the refused connection.
    let out = skeeter()
        .args(["sub", "-p", &port, "-t", "a", "-W", &u64::MAX.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_one_error_line(&out.stderr);
    let out = skeeter()
        .args(["rr", "-p", &port, "-t", "a", "-e", "b", "-m", "x"])
        .args(["-W", &u64::MAX.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_one_error_line(&out.stderr);
    let out = skeeter()
        .args([
            "pub", "-p", &port, "-t", "a", "-m", "x", "-k", "65535", "-M", "65535",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_one_error_line(&out.stderr);
}

#[test]
fn quiet_silences_runtime_errors_but_keeps_the_exit_code() {
    let port = common::free_port().to_string();
    let out = skeeter()
        .args(["pub", "-p", &port, "-t", "a", "-m", "x", "--quiet"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn unreadable_file_exits_10() {
    let out = skeeter()
        .args(["pub", "-t", "a", "-f", "/nonexistent/payload.bin"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(10));
    let text = assert_one_error_line(&out.stderr);
    assert!(text.contains("/nonexistent/payload.bin"), "{text}");
}

#[test]
fn connection_options_come_from_the_environment() {
    let broker = common::TestBroker::start();
    let mut sub = common::skeeter_std();
    sub.env("SKEETER_PORT", broker.port_arg())
        .args(["sub", "-d", "-t", "env/t", "-C", "1"]);
    let sub = common::Background::spawn(sub, "received SUBACK");
    skeeter()
        .env("SKEETER_PORT", broker.port_arg())
        .env("SKEETER_QOS", "1")
        .args(["pub", "-t", "env/t", "-m", "from env"])
        .assert()
        .success();
    let (code, out) = sub.finish(std::time::Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert_eq!(out, b"from env\n");
}

#[test]
fn boolean_options_take_yes_and_no_from_the_environment() {
    let port = common::free_port().to_string();
    let trace = |value: &str| {
        let out = skeeter()
            .env("SKEETER_DEBUG", value)
            .args(["pub", "-p", &port, "-t", "a", "-m", "x"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "SKEETER_DEBUG={value}");
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("debug: connecting")
    };
    for yes in ["1", "true", "yes", "on"] {
        assert!(trace(yes), "SKEETER_DEBUG={yes}");
    }
    for no in ["0", "false", "no", "off"] {
        assert!(!trace(no), "SKEETER_DEBUG={no}");
    }
}

/// A link made by `skeeter links`, run with no options file.
fn link(dir: &Path, name: &str) -> std::process::Command {
    let mut command = std::process::Command::new(dir.join(name));
    command.env("XDG_CONFIG_HOME", common::NO_CONFIG);
    command
}

#[test]
fn links_act_as_their_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    skeeter()
        .args(["links", dir.path().to_str().unwrap()])
        .assert()
        .success();
    for name in [
        "skeeter-pub",
        "skeeter-sub",
        "skeeter-broker",
        "mosquitto_pub",
        "mosquitto_sub",
    ] {
        let link = dir.path().join(name);
        assert!(
            link.symlink_metadata().unwrap().file_type().is_symlink(),
            "{name}"
        );
        let out = std::process::Command::new(&link)
            .env("XDG_CONFIG_HOME", common::NO_CONFIG)
            .arg("--help")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{name} --help");
        let help = String::from_utf8(out.stdout).unwrap();
        assert!(help.contains(&format!("Usage: {name}")), "{name}: {help}");
    }
    // Existing links are kept unless --force.
    skeeter()
        .args(["links", dir.path().to_str().unwrap()])
        .assert()
        .failure();
    skeeter()
        .args(["links", "--force", dir.path().to_str().unwrap()])
        .assert()
        .success();

    // End to end through the links: flags start at argv[1].
    let broker = common::TestBroker::start();
    let port = broker.port_arg();
    let mut sub = link(dir.path(), "mosquitto_sub");
    sub.args(["-d", "-p", &port, "-t", "link/#", "-v", "-C", "1"]);
    let sub = common::Background::spawn(sub, "received SUBACK");
    let out = link(dir.path(), "skeeter-pub")
        .args(["-p", &port, "-t", "link/a", "-m", "through a link"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let (code, out) = sub.finish(std::time::Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert_eq!(out, b"link/a through a link\n");
    let out = link(dir.path(), "mosquitto_pub")
        .args(["-t", "a/#", "-m", "x"])
        .output()
        .unwrap();
    // As mosquitto_pub, a bad command line exits 1, as mosquitto's does; as skeeter-pub, 2.
    assert_eq!(out.status.code(), Some(1));
    let out = link(dir.path(), "skeeter-pub")
        .args(["-t", "a/#", "-m", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// completions/ and man/ must be what `skeeter generate` makes from the current definitions.
#[test]
fn generated_files_are_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for what in ["completions", "man"] {
        let fresh = tempfile::tempdir().unwrap();
        skeeter()
            .args(["generate", what, fresh.path().to_str().unwrap()])
            .assert()
            .success();
        let committed = root.join(what);
        let names = |dir: &Path| {
            let mut names: Vec<_> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            names.sort();
            names
        };
        assert_eq!(
            names(fresh.path()),
            names(&committed),
            "{what}/ is stale: run `cargo run -- generate {what} {what}`"
        );
        for name in names(fresh.path()) {
            let want = std::fs::read(fresh.path().join(&name)).unwrap();
            let have = std::fs::read(committed.join(&name)).unwrap();
            assert!(
                want == have,
                "{what}/{} is stale: run `cargo run -- generate {what} {what}`",
                name.to_string_lossy()
            );
        }
    }
}

/// Every command's --help ends with examples from real use (the talk's among them).
#[test]
fn help_ends_with_examples() {
    for (command, expected) in [
        (&[][..], "skeeter pub -t conf/hello -m 'Hello MQTT'"),
        (&["pub"], "skeeter pub -t conf/hello -m 'Hello MQTT'"),
        (&["sub"], "skeeter sub -v -t 'conf/#'"),
        (&["rr"], "skeeter rr -t"),
        (&["run"], "skeeter run -t processes/backup"),
        (&["clean-retained"], "skeeter clean-retained --dry-run"),
        (&["broker"], "skeeter broker --port 0"),
        (&["probe"], "skeeter probe"),
    ] {
        let output = common::skeeter()
            .args(command)
            .arg("--help")
            .output()
            .unwrap();
        assert!(output.status.success(), "{command:?}");
        let help = String::from_utf8(output.stdout).unwrap();
        let examples = help.rsplit_once("Examples:\n").map(|(_, tail)| tail);
        let examples = examples.unwrap_or_else(|| panic!("{command:?}: no examples at the end"));
        assert!(examples.contains(expected), "{command:?}: {examples}");
        assert!(
            examples
                .lines()
                .all(|line| line.starts_with("  skeeter") || line.starts_with("  seq")),
            "{command:?}: the examples end the help: {examples}"
        );
    }
}

/// On a terminal (a pty from script(1)): progress bars and coloured error lines, NO_COLOR
/// honoured. Piped, stderr has neither.
#[test]
fn progress_and_colours_only_on_a_terminal() {
    if !common::have("script") {
        common::note_skipped("script(1) is not installed");
        return;
    }
    let broker = common::TestBroker::start();
    let dir = tempfile::tempdir().unwrap();
    let lines = dir.path().join("lines");
    let numbers: String = (0..100_000).map(|n| format!("{n}\n")).collect();
    std::fs::write(&lines, numbers).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("skeeter");
    let on_a_terminal = |command: &str| -> String {
        let output = std::process::Command::new("script")
            .args(["-qec", command, "/dev/null"])
            .env("XDG_CONFIG_HOME", common::NO_CONFIG)
            .env_remove("NO_COLOR")
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let port = broker.port();
    let shown = on_a_terminal(&format!(
        "{} pub -p {port} -t bar -q 1 -l < {}",
        bin.display(),
        lines.display()
    ));
    assert!(shown.contains("pub -l ["), "{shown:?}");
    let shown = on_a_terminal(&format!("{} pub -p 1 -t t -m x", bin.display()));
    assert!(shown.contains("\x1b[1;31merror:\x1b[0m"), "{shown:?}");
    let shown = on_a_terminal(&format!("NO_COLOR=1 {} pub -p 1 -t t -m x", bin.display()));
    assert!(
        shown.contains("skeeter: error: cannot connect"),
        "{shown:?}"
    );
    assert!(!shown.contains('\x1b'), "{shown:?}");
    // Piped: no bar, no colour.
    let output = common::skeeter()
        .args(["pub", "-p", &port.to_string(), "-t", "bar", "-q", "1", "-l"])
        .pipe_stdin(&lines)
        .unwrap()
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}
