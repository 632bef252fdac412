//! Options files, as mosquitto_pub and mosquitto_sub read them: options that apply to every run,
//! e.g. a host, a user name and a password kept off the command line.
//!
//! Where: `-o FILE` when given; else, for mosquitto_pub / mosquitto_sub (links of that name),
//! `$XDG_CONFIG_HOME/mosquitto_pub` (or `$HOME/.config/mosquitto_pub` when XDG_CONFIG_HOME is
//! unset), likewise `_sub`; for skeeter, `$XDG_CONFIG_HOME/skeeter/pub` (or
//! `$HOME/.config/skeeter/pub`), likewise `sub`, `rr`, `run`, `clean-retained`, `bench`. A missing default
//! file is no error.
//!
//! How: one option per line, split at the first space only (so `-F %t => %p` keeps its spaces);
//! empty lines and lines starting with `#` are skipped. The options are read before the command
//! line's: a single-valued option given again on the command line wins, a repeatable one (-t, -T,
//! -U) adds to the file's.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The text after the last heading of `--help`.
pub const OPTIONS_FILES_HELP: &str = "\
Options files:
  Options are also read from $XDG_CONFIG_HOME/skeeter/pub (or ~/.config/skeeter/pub), likewise
  .../sub, .../rr, .../run, .../clean-retained and .../bench for those commands, or from the
  file given with -o; as mosquitto_pub/mosquitto_sub, from
  $XDG_CONFIG_HOME/mosquitto_pub (or ~/.config/mosquitto_pub), likewise _sub. One option per line
  ('-h broker.example', '-F %t => %p': split at the first space only); '#' starts a comment line.
  The command line's options come after the file's: a single-valued option given again wins,
  -t, -T and -U add to the file's.";

/// The file to read for a tool, if any: `-o FILE` on the command line, else the default one.
/// `tool` is `pub` or `sub`; `mosquitto_name` says whether we run as mosquitto_pub/_sub.
pub fn locate(args: &[OsString], tool: &str, mosquitto_name: bool) -> Option<(PathBuf, bool)> {
    if let Some(explicit) = explicit_file(args) {
        return Some((explicit, true));
    }
    let config_home = config_home()?;
    let path = if mosquitto_name {
        config_home.join(format!("mosquitto_{tool}"))
    } else {
        config_home.join("skeeter").join(tool)
    };
    Some((path, false))
}

/// `$XDG_CONFIG_HOME`, else `$HOME/.config` (as mosquitto: when XDG_CONFIG_HOME is set, HOME
/// is never consulted); None without either. Profiles live there too.
pub fn config_home() -> Option<PathBuf> {
    match std::env::var_os("XDG_CONFIG_HOME") {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => Some(PathBuf::from(std::env::var_os("HOME")?).join(".config")),
    }
}

/// The value of `-o FILE`, `--options-file FILE` or `--options-file=FILE`.
fn explicit_file(args: &[OsString]) -> Option<PathBuf> {
    let mut found = None;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--" {
            break;
        }
        if arg == "-o" || arg == "--options-file" {
            found = iter.next().map(PathBuf::from);
        } else if let Some(value) = arg.to_str().and_then(|a| a.strip_prefix("--options-file=")) {
            found = Some(PathBuf::from(value));
        }
    }
    found
}

/// The options of a file, as command-line words. Err is one line saying what is wrong where.
pub fn read(path: &Path, required: bool) -> Result<Vec<OsString>, String> {
    let text = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if !required && err.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Vec::new());
        }
        Err(err) => {
            return Err(format!(
                "cannot read the options file {}: {err}",
                path.display()
            ));
        }
    };
    let text = String::from_utf8(text)
        .map_err(|_| format!("the options file {} is not UTF-8", path.display()))?;
    parse(&text).map_err(|(line, why)| format!("{}:{line}: {why}", path.display()))
}

/// mosquitto's line rules. Err carries the line number and the reason.
fn parse(text: &str) -> Result<Vec<OsString>, (usize, String)> {
    let mut words = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !line.starts_with('-') {
            return Err((
                index + 1,
                format!("expected an option such as '-h host', found '{line}'"),
            ));
        }
        match line.split_once(' ') {
            Some((option, value)) => {
                words.push(OsString::from(option));
                words.push(OsString::from(value));
            }
            None => words.push(OsString::from(line)),
        }
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        parse(text)
            .unwrap()
            .into_iter()
            .map(|w| w.into_string().unwrap())
            .collect()
    }

    #[test]
    fn lines_split_at_the_first_space() {
        assert_eq!(
            words("# comment\n-h broker.example\r\n\n-F %t => %p\n-v\n-t a b\n"),
            ["-h", "broker.example", "-F", "%t => %p", "-v", "-t", "a b"]
        );
    }

    #[test]
    fn a_line_that_is_not_an_option_is_an_error() {
        let err = parse("-v\nhost broker\n").unwrap_err();
        assert_eq!(err.0, 2);
    }

    #[test]
    fn explicit_file_wins() {
        let args: Vec<OsString> = ["-t", "x", "-o", "/tmp/opts", "-v"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(explicit_file(&args), Some(PathBuf::from("/tmp/opts")));
        let args: Vec<OsString> = ["--options-file=/a"].iter().map(OsString::from).collect();
        assert_eq!(explicit_file(&args), Some(PathBuf::from("/a")));
        let args: Vec<OsString> = ["-m", "x"].iter().map(OsString::from).collect();
        assert_eq!(explicit_file(&args), None);
    }
}
