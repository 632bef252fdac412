//! `skeeter passwd`: mosquitto_passwd's command line (-c, -b, -D, -U) and files that both tools
//! and both brokers accept, whichever tool wrote them.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use skeeter::broker::auth::{PasswordHash, Passwords};

use common::{Mosquitto, have, set_mode, skeeter};

fn passwd(args: &[&str]) -> assert_cmd::assert::Assert {
    skeeter().arg("passwd").args(args).assert()
}

fn read(file: &Path) -> String {
    std::fs::read_to_string(file).unwrap()
}

fn passwords(file: &Path) -> Passwords {
    Passwords::parse(&read(file)).unwrap()
}

/// A directory and file mosquitto can read after dropping to its own user.
fn readable_by_all(dir: &Path, file: &Path) {
    set_mode(dir, 0o755);
    set_mode(file, 0o644);
}

fn users(file: &Path) -> Vec<String> {
    read(file)
        .lines()
        .map(|line| line.split(':').next().unwrap().to_owned())
        .collect()
}

#[test]
fn create_add_change_and_delete_users() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    let path = file.to_str().unwrap();

    passwd(&["-c", "-b", path, "alice", "one"]).success();
    let text = read(&file);
    assert!(text.starts_with("alice:$7$101$"), "{text}");
    assert_eq!(text.lines().count(), 1);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "a new password file is its owner's only");
    assert!(passwords(&file).check("alice", "one"));

    passwd(&["-b", path, "bob", "two words"]).success();
    passwd(&["-b", path, "alice", "three"]).success();
    assert_eq!(users(&file), ["alice", "bob"]);
    let known = passwords(&file);
    assert!(known.check("alice", "three"));
    assert!(!known.check("alice", "one"));
    assert!(known.check("bob", "two words"));

    // The mode of an existing file is kept.
    set_mode(&file, 0o640);
    passwd(&["-D", path, "bob"]).success();
    assert_eq!(users(&file), ["alice"]);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);

    let out = passwd(&["-D", path, "nobody"]).code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("user nobody not found"), "{stderr}");

    // -c starts over.
    passwd(&["-c", "-b", path, "carol", "four"]).success();
    assert_eq!(users(&file), ["carol"]);
}

#[test]
fn usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    let path = file.to_str().unwrap();
    // Adding to a file that does not exist needs -c.
    passwd(&["-b", path, "alice", "pw"]).code(1);
    assert!(!file.exists());
    passwd(&["-c", "-b", path, "a:b", "pw"]).code(2);
    passwd(&["-c", "-b", path, "alice"]).code(2);
    passwd(&["-c", "-D", path, "alice"]).code(2);
    passwd(&["-U", path, "alice"]).code(2);
    passwd(&[path]).code(2);
    assert!(!file.exists());
}

#[test]
fn no_terminal_no_password() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    // Without -b the password is asked for on the terminal; a test has none (setsid).
    if !have("setsid") {
        return;
    }
    let out = Command::new("setsid")
        .arg(common::bin())
        .args(["passwd", "-c"])
        .arg(&file)
        .arg("alice")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!file.exists());
}

#[test]
fn hash_a_plain_text_file_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    let kept = format!("dave:{}", PasswordHash::new("hashed already"));
    std::fs::write(
        &file,
        format!("# staff\nalice:one\nbob:two:three\n{kept}\n"),
    )
    .unwrap();
    passwd(&["-U", file.to_str().unwrap()]).success();
    let text = read(&file);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "# staff");
    assert_eq!(lines[3], kept, "a hashed line is left alone");
    let known = passwords(&file);
    assert!(known.check("alice", "one"));
    assert!(known.check("bob", "two:three"));
    assert!(known.check("dave", "hashed already"));
}

/// mosquitto_passwd -c -b FILE USER PASSWORD, then -b for the rest.
fn mosquitto_passwd(file: &Path, users: &[(&str, &str)]) {
    for (i, (user, password)) in users.iter().enumerate() {
        let mut command = Command::new("mosquitto_passwd");
        if i == 0 {
            command.arg("-c");
        }
        let status = command
            .arg("-b")
            .arg(file)
            .args([user, password])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

#[test]
fn files_pass_between_the_two_tools() {
    if !have("mosquitto_passwd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let theirs = dir.path().join("theirs");
    mosquitto_passwd(&theirs, &[("alice", "one"), ("bob", "two")]);
    // skeeter changes a mosquitto_passwd file...
    passwd(&["-b", theirs.to_str().unwrap(), "bob", "new"]).success();
    passwd(&["-b", theirs.to_str().unwrap(), "carol", "three"]).success();
    let known = passwords(&theirs);
    assert!(known.check("alice", "one"));
    assert!(known.check("bob", "new"));
    assert!(known.check("carol", "three"));

    // ...and mosquitto_passwd changes a skeeter one.
    let ours = dir.path().join("ours");
    passwd(&["-c", "-b", ours.to_str().unwrap(), "alice", "one"]).success();
    mosquitto_passwd_add(&ours, "bob", "two");
    mosquitto_passwd_delete(&ours, "alice");
    assert_eq!(users(&ours), ["bob"]);
    assert!(passwords(&ours).check("bob", "two"));
}

fn mosquitto_passwd_add(file: &Path, user: &str, password: &str) {
    let status = Command::new("mosquitto_passwd")
        .arg("-b")
        .arg(file)
        .args([user, password])
        .status()
        .unwrap();
    assert!(status.success());
}

fn mosquitto_passwd_delete(file: &Path, user: &str) {
    let status = Command::new("mosquitto_passwd")
        .arg("-D")
        .arg(file)
        .arg(user)
        .status()
        .unwrap();
    assert!(status.success());
}

/// `skeeter pub` with a user name and password to a broker on `port`: the exit code.
fn publish_as(port: u16, user: &str, password: &str) -> Option<i32> {
    skeeter()
        .args([
            "pub",
            "-p",
            &port.to_string(),
            "-t",
            "auth/test",
            "-m",
            "x",
            "-q",
            "1",
        ])
        .args(["-u", user, "-P", password])
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap()
        .status
        .code()
}

#[test]
fn mosquitto_accepts_a_file_made_by_skeeter() {
    if !have("mosquitto") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file: PathBuf = dir.path().join("pw");
    let path = file.to_str().unwrap();
    passwd(&["-c", "-b", path, "alice", "s3cret pass"]).success();
    passwd(&["-b", path, "bob", "two"]).success();
    let plain = dir.path().join("plain");
    std::fs::write(&plain, "carol:three\n").unwrap();
    passwd(&["-U", plain.to_str().unwrap()]).success();
    std::fs::write(&file, format!("{}{}", read(&file), read(&plain))).unwrap();
    readable_by_all(dir.path(), &file);

    let Some(mosquitto) = Mosquitto::start(&format!("password_file {path}")) else {
        return;
    };
    assert_eq!(publish_as(mosquitto.port, "alice", "s3cret pass"), Some(0));
    assert_eq!(publish_as(mosquitto.port, "bob", "two"), Some(0));
    assert_eq!(publish_as(mosquitto.port, "carol", "three"), Some(0));
    assert_eq!(publish_as(mosquitto.port, "alice", "wrong"), Some(5));
    assert_eq!(publish_as(mosquitto.port, "dave", "two"), Some(5));
}

/// `script` runs the command on a pseudo-terminal and types our stdin into it.
fn on_a_terminal(command_line: &str, typed: &str) -> Option<i32> {
    use std::io::Write;
    let mut child = Command::new("script")
        .args(["-qec", command_line, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(typed.as_bytes())
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command_line} did not finish");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_password_is_asked_for_twice_on_the_terminal() {
    if !have("script") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    let command = |user: &str, create: &str| {
        format!(
            "{} passwd {create} {} {user}",
            common::bin().display(),
            file.display()
        )
    };
    assert_eq!(
        on_a_terminal(&command("alice", "-c"), "typed pw\ntyped pw\n"),
        Some(0)
    );
    assert!(passwords(&file).check("alice", "typed pw"));
    assert_eq!(on_a_terminal(&command("bob", ""), "one\nother\n"), Some(1));
    assert_eq!(
        users(&file),
        ["alice"],
        "no user is added when the two differ"
    );
}
