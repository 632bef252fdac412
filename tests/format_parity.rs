//! `sub -F`: the same format through mosquitto_sub and skeeter sub, subscribed to the same
//! broker, fed the same messages; stdout must match byte for byte (time codes are compared by
//! value, within a few seconds). Where skeeter deliberately differs from mosquitto 2.0.11, the
//! test says so and asserts skeeter's bytes. Skipped when mosquitto_sub is not installed.

mod common;

use std::process::Command;
use std::time::Duration;

use common::watched::{Watched, contains};
use common::{TestBroker, have, text};

/// mosquitto_sub's client id, so that its -d trace lines can be told from the messages.
const MOSQUITTO_ID: &str = "fmtparity";

// ---------------------------------------------------------------------------------------------
// Helpers

/// mosquitto_sub's -d trace is on stdout, in the middle of the messages (with -N even on the
/// same line): cut out every `Client fmtparity ...\n` and `Subscribed (mid: ...\n`.
fn without_trace(stdout: &[u8]) -> Vec<u8> {
    let markers: [&[u8]; 2] = [
        format!("Client {MOSQUITTO_ID} ").leak().as_bytes(),
        b"Subscribed (mid: ",
    ];
    let mut kept = Vec::with_capacity(stdout.len());
    let mut rest = stdout;
    'scan: while !rest.is_empty() {
        for marker in markers {
            if rest.starts_with(marker) {
                let end = rest
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(rest.len(), |n| n + 1);
                rest = &rest[end..];
                continue 'scan;
            }
        }
        kept.push(rest[0]);
        rest = &rest[1..];
    }
    kept
}

/// Both subscribers, each run with `args`, subscribed to the same broker.
struct Pair {
    mosquitto: Watched,
    skeeter: Watched,
}

/// What one subscriber printed.
struct Printed {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

impl Pair {
    fn subscribe(port: u16, args: &[&str]) -> Pair {
        let mut mosquitto = Command::new("stdbuf");
        mosquitto
            .args(["-oL", "mosquitto_sub", "-d", "-i", MOSQUITTO_ID])
            .args(["-p", &port.to_string()])
            .args(args);
        let mut skeeter = common::skeeter_std();
        skeeter
            .args(["sub", "-d", "-p", &port.to_string()])
            .args(args);
        Pair {
            mosquitto: Watched::subscribed(mosquitto),
            skeeter: Watched::subscribed(skeeter),
        }
    }

    /// Wait for both to exit (they are given -C); mosquitto's stdout without its trace.
    fn finish(self) -> (Printed, Printed) {
        let (code, stdout, stderr) = self.mosquitto.finish(Duration::from_secs(10));
        let mosquitto = Printed {
            code,
            stdout: without_trace(&stdout),
            stderr,
        };
        let (code, stdout, stderr) = self.skeeter.finish(Duration::from_secs(10));
        let skeeter = Printed {
            code,
            stdout,
            stderr,
        };
        assert_eq!(
            mosquitto.code,
            Some(0),
            "mosquitto_sub: {}",
            mosquitto.stderr
        );
        assert_eq!(skeeter.code, Some(0), "skeeter sub: {}", skeeter.stderr);
        (mosquitto, skeeter)
    }
}

/// Whether mosquitto_sub, mosquitto_pub and stdbuf are all there (else the test is skipped).
fn have_mosquitto_clients() -> bool {
    have("mosquitto_sub") && have("mosquitto_pub") && have("stdbuf")
}

/// `mosquitto_pub -p PORT ARGS`, which must succeed.
fn publish(port: u16, args: &[&str]) {
    assert_cmd::Command::new("mosquitto_pub")
        .args(["-p", &port.to_string()])
        .args(args)
        .timeout(Duration::from_secs(10))
        .assert()
        .success();
}

/// `publish` with a payload of any bytes (through a file).
fn publish_bytes(port: u16, topic: &str, payload: &[u8], extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("payload");
    std::fs::write(&file, payload).unwrap();
    let mut args = vec!["-t", topic, "-f", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    publish(port, &args);
}

/// Run `format` (plus `extra` options) through both subscribers on topic `#`, publish
/// `messages` (topic, payload, mosquitto_pub options) and return both outputs.
fn run_both(
    format: &str,
    extra: &[&str],
    messages: &[(&str, &[u8], &[&str])],
) -> (Printed, Printed) {
    let broker = TestBroker::start();
    let count = messages.len().to_string();
    let mut args = vec!["-q", "2", "-t", "#", "-C", &count, "-F", format];
    args.extend_from_slice(extra);
    let pair = Pair::subscribe(broker.port(), &args);
    for (topic, payload, options) in messages {
        publish_bytes(broker.port(), topic, payload, options);
    }
    pair.finish()
}

/// Both printed the same bytes on stdout; returns them.
fn assert_same_stdout(mosquitto: &Printed, skeeter: &Printed) -> Vec<u8> {
    assert_eq!(
        text(&skeeter.stdout),
        text(&mosquitto.stdout),
        "skeeter (left) and mosquitto_sub (right) differ"
    );
    assert_eq!(skeeter.stdout, mosquitto.stdout);
    skeeter.stdout.clone()
}

/// Replace the value of every `"tst":` with `TST`, and return the values.
fn mask_tst(json: &[u8]) -> (String, Vec<String>) {
    let mut text = text(json);
    let mut values = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find("\"tst\":") {
        let quote = from + at + text[from + at..].find(":").unwrap() + 1;
        let start = quote + text[quote..].find('"').unwrap() + 1;
        let end = start + text[start..].find('"').unwrap();
        values.push(text[start..end].to_string());
        text.replace_range(start..end, "TST");
        from = start;
    }
    (text, values)
}

/// A `tst` value as a time; mosquitto 2.0.11 writes `...123456Z+0000`, skeeter `...123456+0000`.
fn parse_tst(tst: &str) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_str(
        &tst.replace("Z+", "+").replace("Z-", "-"),
        "%Y-%m-%dT%H:%M:%S%.6f%z",
    )
    .unwrap_or_else(|err| panic!("tst {tst:?}: {err}"))
}

fn assert_close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() < 5.0,
        "{what}: {a} and {b} are more than 5 s apart"
    );
}

// ---------------------------------------------------------------------------------------------
// Fields, flags, widths

#[test]
fn the_example_line_of_the_brief() {
    if !have_mosquitto_clients() {
        return;
    }
    let (mosquitto, skeeter) = run_both(
        "%5.2t|%-6.3t|%3p|%08p|%4x|%08l|%5q",
        &[],
        &[("ab/cdef", b"abcdef", &[])],
    );
    let out = assert_same_stdout(&mosquitto, &skeeter);
    assert_eq!(text(&out), "   ab|ab/   |abc|00abcdef|6162|00000006|0\n");
}

#[test]
fn every_code_with_flags_at_every_qos() {
    if !have_mosquitto_clients() {
        return;
    }
    let format = "[%t][%-12t][%12.4t][%.2t][%.t][%0t]\
                  [%p][%-8p][%8p][%08p][%-08p][%3p][%.1p][%6p]\
                  [%x][%X][%4x][%3x][%-3X][%06x]\
                  [%l][%5l][%-5l][%05l][%-05l][%.3l]\
                  [%m][%3m][%03m][%-3m]\
                  [%q][%5q][%r][%-3r][%%][%5%]\
                  [%A][%5A][%05A][%-05A][%C][%5C][%-5.1C][%D][%5D][%E][%4E][%F][%02F]\
                  [%P][%5P][%R][%5R][%S][%3S]";
    let (mosquitto, skeeter) = run_both(
        format,
        &[],
        &[
            ("t/a", b"abcdef", &["-q", "0"]),
            ("t/b/c", b"abcdefgh", &["-q", "1"]),
            ("t/é", b"x y z 1 2 3", &["-q", "2"]),
            ("t/a", b"abcdef", &["-q", "2"]),
        ],
    );
    assert_same_stdout(&mosquitto, &skeeter);
}

#[test]
fn retained_messages_print_r1_and_empty_payloads_print() {
    if !have_mosquitto_clients() {
        return;
    }
    let broker = TestBroker::start();
    publish(
        broker.port(),
        &["-r", "-q", "1", "-t", "t/kept", "-m", "kept"],
    );
    let pair = Pair::subscribe(
        broker.port(),
        &[
            "-q",
            "1",
            "-t",
            "t/#",
            "-C",
            "3",
            "-F",
            "%t|%r|%q|%l|%p|%x|%5p|",
        ],
    );
    publish(broker.port(), &["-q", "1", "-t", "t/empty", "-n"]);
    publish(broker.port(), &["-t", "t/new", "-m", "new"]);
    let (mosquitto, skeeter) = pair.finish();
    let out = assert_same_stdout(&mosquitto, &skeeter);
    assert_eq!(
        text(&out),
        "t/kept|1|1|4|kept|6b657074| kept|\nt/empty|0|1|0|||     |\nt/new|0|0|3|new|6e6577|  new|\n"
    );
}

#[test]
fn no_newline_runs_messages_together() {
    if !have_mosquitto_clients() {
        return;
    }
    let (mosquitto, skeeter) = run_both(
        "%t:%p;",
        &["-N"],
        &[
            ("t/1", b"one", &[]),
            ("t/2", b"", &[]),
            ("t/3", b"three", &[]),
        ],
    );
    let out = assert_same_stdout(&mosquitto, &skeeter);
    assert_eq!(text(&out), "t/1:one;t/2:;t/3:three;");
}

#[test]
fn a_format_takes_precedence_over_verbose() {
    if !have_mosquitto_clients() {
        return;
    }
    let (mosquitto, skeeter) = run_both("<%p>", &["-v"], &[("t/v", b"x", &[])]);
    let out = assert_same_stdout(&mosquitto, &skeeter);
    assert_eq!(text(&out), "<x>\n");
}

#[test]
fn binary_payloads_raw_and_in_hex() {
    if !have_mosquitto_clients() {
        return;
    }
    let every_byte: Vec<u8> = (0..=255u8).collect();
    let (mosquitto, skeeter) = run_both(
        "%l|%p|%x|%X|%3p|%6x|%08p",
        &[],
        &[("t/bin", &every_byte, &[]), ("t/nul", b"a\0b\nc\xff", &[])],
    );
    let out = assert_same_stdout(&mosquitto, &skeeter);
    assert!(contains(&out, &every_byte));
}

#[test]
fn escapes_and_literal_text() {
    if !have_mosquitto_clients() {
        return;
    }
    let (mosquitto, skeeter) = run_both(
        "a\\\\b\\0c\\ad\\ee\\nf\\rg\\th\\vi @@ 100%% é [%t]",
        &[],
        &[("t/e", b"x", &[])],
    );
    let out = assert_same_stdout(&mosquitto, &skeeter);
    assert_eq!(
        out,
        "a\\b\0c\x07d\x1be\nf\rg\th\x0bi @ 100% é [t/e]\n".as_bytes()
    );
}

// ---------------------------------------------------------------------------------------------
// Time

#[test]
fn time_codes_agree() {
    if !have_mosquitto_clients() {
        return;
    }
    // Fields that change at most once an hour are compared as they are; the others by value.
    let format = "%I|%U|@s.@N|@Y-@m-@d @H @a @A @b @B @C @e @j @u @w @g @G @V @U @W @y @h @D @F @x @p @P @z|\
                  @f @q @v @E @O @i @+ @- @_ @0 @1 @3 @9 @% @@ @#|@n@t|%20.10I|%-3U.%5q";
    let (mosquitto, skeeter) = run_both(format, &[], &[("t/time", b"x", &[])]);
    let now = chrono::Local::now().timestamp() as f64;
    let fields = |printed: &Printed| -> Vec<String> {
        text(&printed.stdout)
            .trim_end_matches('\n')
            .split('|')
            .map(str::to_string)
            .collect()
    };
    let (m, s) = (fields(&mosquitto), fields(&skeeter));
    assert_eq!(m.len(), 8, "{m:?}");
    assert_eq!(s.len(), 8, "{s:?}");
    for fields in [&m, &s] {
        let iso = chrono::DateTime::parse_from_str(&fields[0], "%Y-%m-%dT%H:%M:%S%z")
            .unwrap_or_else(|err| panic!("%I {:?}: {err}", fields[0]));
        assert_close(iso.timestamp() as f64, now, "%I");
        let (secs, nanos) = fields[1].split_once('.').expect("%U is secs.nanos");
        assert_eq!(nanos.len(), 9, "%U {}", fields[1]);
        assert_close(secs.parse::<f64>().unwrap(), now, "%U");
        let (secs, nanos) = fields[2].split_once('.').unwrap();
        assert_eq!(nanos.len(), 9, "@N {}", fields[2]);
        assert!(nanos.bytes().all(|b| b.is_ascii_digit()));
        assert_close(secs.parse::<f64>().unwrap(), now, "@s");
        assert_eq!(fields[6].len(), 20, "%20.10I {:?}", fields[6]);
        let (secs, rest) = fields[7].split_once('.').expect("%-3U is secs.nanos");
        assert_close(secs.parse::<f64>().unwrap(), now, "%-3U");
        assert!(
            rest.ends_with(".0"),
            "flags of %U and %q are ignored: {rest}"
        );
    }
    assert_eq!(s[3], m[3], "date and hour codes");
    assert_eq!(s[4], m[4], "codes glibc does not know");
    assert_eq!(s[5], "\n\t");
    assert_eq!(s[5], m[5]);
    assert_eq!(s[6], m[6], "%20.10I: the date, right-aligned");
}

// ---------------------------------------------------------------------------------------------
// JSON

#[test]
fn json_escaped_payloads_match_but_for_the_time_stamp() {
    if !have_mosquitto_clients() {
        return;
    }
    let (mosquitto, skeeter) = run_both(
        "%j",
        &[],
        &[
            ("t/text", b"hello world", &["-q", "0"]),
            ("t/qos1", b"one", &["-q", "1"]),
            ("t/qos2", b"two", &["-q", "2"]),
            (
                "t/esc",
                "quote\" back\\ slash/ tab\t nl\n cr\r \x01\x1f\x7f é ✓".as_bytes(),
                &[],
            ),
            ("t/empty", b"", &[]),
            ("t/json", br#"{"a":1}"#, &[]),
        ],
    );
    let (m, m_tst) = mask_tst(&mosquitto.stdout);
    let (s, s_tst) = mask_tst(&skeeter.stdout);
    assert_eq!(s, m);
    assert_eq!(s_tst.len(), 6);
    for (ours, theirs) in s_tst.iter().zip(&m_tst) {
        // 2.0.13 and later: no `Z` before the offset.
        assert!(!ours.contains('Z'), "{ours}");
        assert_eq!(
            ours.len(),
            "2026-11-25T12:09:40.726183+0000".len(),
            "{ours}"
        );
        let (ours, theirs) = (parse_tst(ours), parse_tst(theirs));
        assert_close(ours.timestamp() as f64, theirs.timestamp() as f64, "tst");
    }
    for line in text(&skeeter.stdout).lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|err| panic!("{line}: {err}"));
    }
}

#[test]
fn json_embedded_payloads_match_and_a_bad_one_prints_an_empty_line() {
    if !have_mosquitto_clients() {
        return;
    }
    let (mosquitto, skeeter) = run_both(
        "%J",
        &[],
        &[
            (
                "t/obj",
                br#" {"a": [1, 2, {"b": null}], "c": "x\"y", "d": true, "a": {}} "#,
                &["-q", "1"],
            ),
            ("t/bad", b"{nope", &[]),
            ("t/arr", b"\n[ 1, 2 ]\n", &[]),
            ("t/str", br#""just a string""#, &[]),
            ("t/num", b"-12", &[]),
            ("t/empty", b"", &[]),
        ],
    );
    let (m, _) = mask_tst(&mosquitto.stdout);
    let (s, _) = mask_tst(&skeeter.stdout);
    assert_eq!(s, m);
    assert_eq!(
        s.lines().nth(1),
        Some(""),
        "the bad payload's line is empty"
    );
    assert!(
        mosquitto
            .stderr
            .contains("Error: Message payload is not valid JSON on topic t/bad."),
        "{}",
        mosquitto.stderr
    );
    assert_eq!(
        skeeter.stderr,
        "skeeter: warning: message payload is not valid JSON on topic t/bad\n"
    );
}

#[test]
fn json_pretty_matches_cjson_layout() {
    if !have_mosquitto_clients() {
        return;
    }
    let nested =
        br#"{"b": 1.5, "a": [1, 2, {"x": [{"y": 1}]}], "c": {"d": []}, "e": {}, "f": [[], [{}]]}"#;
    for format in ["%j", "%J", "x%jy%Jz"] {
        let (mosquitto, skeeter) = run_both(
            format,
            &["--pretty"],
            &[("t/p", nested, &["-q", "1"]), ("t/q", b"[]", &[])],
        );
        let (m, _) = mask_tst(&mosquitto.stdout);
        let (s, _) = mask_tst(&skeeter.stdout);
        assert_eq!(s, m, "--pretty -F {format}");
    }
}

/// Where skeeter differs from mosquitto 2.0.11 on purpose: skeeter's bytes are asserted, and
/// mosquitto's (in the comments) are not.
#[test]
fn deliberate_differences() {
    if !have_mosquitto_clients() {
        return;
    }
    let (_, skeeter) = run_both(
        "[%8x][%-p][%-x][%j][%J]",
        &[],
        &[
            ("t/short", b"ab", &[]),
            ("t/bin", b"a\0b\xff", &[]),
            ("t/num", b"1.50", &[]),
        ],
    );
    let out = text(&skeeter.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    // mosquitto: `[      61][ab  ][6162  ]` (half the payload; blanks after an unpadded field).
    assert!(
        lines[0].starts_with("[    6162][ab][6162][{"),
        "{}",
        lines[0]
    );
    // mosquitto: `"payload":"a"` (cut at the NUL) and the raw bytes with %J refused.
    assert!(
        lines[1].contains(r#""payload":[97,0,98,255]}]"#),
        "{}",
        lines[1]
    );
    assert!(lines[1].ends_with("][]"), "{}", lines[1]);
    // mosquitto: `"payload":1.5` (cJSON re-prints numbers).
    assert!(lines[2].ends_with(r#""payload":1.50}]"#), "{}", lines[2]);
    let json_of = |line: &str| {
        let start = line.find("[{").unwrap() + 1;
        let end = line[start..].find("}]").unwrap() + start + 1;
        serde_json::from_str::<serde_json::Value>(&line[start..end]).unwrap()
    };
    assert_eq!(
        json_of(lines[1])["payload"],
        serde_json::json!([97, 0, 98, 255])
    );
}

// ---------------------------------------------------------------------------------------------
// Bad formats

#[test]
fn bad_formats_are_refused_with_mosquittos_words() {
    if !have("mosquitto_sub") {
        return;
    }
    let broker = TestBroker::start();
    let port = broker.port_arg();
    for (format, mosquitto_says, skeeter_says) in [
        (
            "%e",
            "Error: Invalid format specifier 'e'.",
            "invalid format specifier 'e'",
        ),
        (
            "x%",
            "Error: Incomplete format specifier.",
            "incomplete format specifier",
        ),
        (
            "%-5.",
            "Error: Incomplete format specifier.",
            "incomplete format specifier",
        ),
        (
            "%0-t",
            "Error: Invalid format specifier '-'.",
            "invalid format specifier '-'",
        ),
        (
            "@",
            "Error: Incomplete format specifier.",
            "incomplete format specifier",
        ),
        (
            "\\",
            "Error: Incomplete escape specifier.",
            "incomplete escape specifier",
        ),
        (
            "\\q",
            "Error: Invalid escape specifier 'q'.",
            "invalid escape specifier 'q'",
        ),
    ] {
        let mosquitto = assert_cmd::Command::new("mosquitto_sub")
            .args(["-p", &port, "-t", "t", "-F", format])
            .timeout(Duration::from_secs(10))
            .output()
            .unwrap();
        assert_eq!(mosquitto.status.code(), Some(1));
        assert!(
            text(&mosquitto.stderr).starts_with(&format!("{mosquitto_says}\n")),
            "{format}: {}",
            text(&mosquitto.stderr)
        );
        common::skeeter()
            .args(["sub", "-p", &port, "-t", "t", "-F", format])
            .assert()
            .code(2)
            .stdout("")
            .stderr(format!("skeeter: error: {skeeter_says}\n"));
    }
}
