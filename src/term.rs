//! What skeeter does differently on a terminal: colours in its error and warning lines (unless
//! NO_COLOR is set), and progress bars (indicatif) on stderr. Piped or redirected, stderr gets
//! plain lines and no progress at all.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether stderr is a terminal (progress bars go there, and only then).
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// Whether to colour what goes to stderr: a terminal, and NO_COLOR unset or empty
/// (https://no-color.org).
pub fn colours() -> bool {
    stderr_is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// One line on stderr; on a colour terminal `error:` is red and `warning:` yellow.
pub fn say(line: String) {
    let line = if colours() { paint(&line) } else { line };
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn paint(line: &str) -> String {
    for (word, colour) in [("error:", "\x1b[1;31m"), ("warning:", "\x1b[1;33m")] {
        if let Some(at) = line.find(word).filter(|&at| at < 16) {
            let (head, tail) = line.split_at(at);
            let rest = &tail[word.len()..];
            return format!("{head}{colour}{word}\x1b[0m{rest}");
        }
    }
    line.to_owned()
}

/// A progress bar of `total` units (bytes or messages), on stderr when it is a terminal;
/// hidden otherwise (updating a hidden bar costs next to nothing).
pub fn progress(total: u64, bytes: bool, what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), target());
    let template = if bytes {
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
    } else {
        "{msg} [{bar:30}] {pos}/{len} {per_sec} eta {eta}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

/// A spinner for work of unknown progress (one large message in flight).
pub fn spinner(what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, target());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
        bar.set_style(style);
    }
    bar.set_message(what.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// A status line updated in place (a spinner and a message), for work measured in counts.
pub fn status() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, target());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn target() -> ProgressDrawTarget {
    if stderr_is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_prefix_is_painted() {
        assert_eq!(
            paint("skeeter: error: cannot connect"),
            "skeeter: \x1b[1;31merror:\x1b[0m cannot connect"
        );
        assert_eq!(
            paint("skeeter: warning: x"),
            "skeeter: \x1b[1;33mwarning:\x1b[0m x"
        );
        let plain = "a message about an error: later in the line, not painted";
        assert_eq!(paint(plain), plain);
    }
}
