//! Profiles: named brokers in `~/.config/skeeter/config.toml` (or
//! `$XDG_CONFIG_HOME/skeeter/config.toml`), chosen with `--profile NAME` or `SKEETER_PROFILE`:
//!
//! ```toml
//! [profile.prod]
//! host = "mqtt.example.com"
//! port = 8883
//! cafile = "/etc/ssl/certs/example-ca.pem"
//! username = "backup"
//! password_file = "/etc/skeeter/prod.pw"
//! ```
//!
//! Each key is a connection option's long name (`_` or `-` alike; `password` and
//! `password_file` are `--pw` and `--pw-file`). The profile becomes command-line words put in
//! front of the real ones, so an option given on the command line wins; a key whose option's
//! environment variable is set is left out, so the environment wins too.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, Args};

use crate::cli::ConnectArgs;

/// The configuration file, if there is a place for one.
pub fn config_path() -> Option<PathBuf> {
    Some(
        crate::options_file::config_home()?
            .join("skeeter")
            .join("config.toml"),
    )
}

/// The profile named in `args` (`--profile NAME`, `--profile=NAME`) or SKEETER_PROFILE.
fn profile_name(args: &[OsString]) -> Option<String> {
    let mut words = args.iter().map(|w| w.to_string_lossy());
    let mut named = None;
    while let Some(word) = words.next() {
        if word == "--" {
            break;
        }
        if word == "--profile" {
            named = words.next().map(|w| w.into_owned());
        } else if let Some(name) = word.strip_prefix("--profile=") {
            named = Some(name.to_owned());
        }
    }
    named.or_else(|| {
        std::env::var("SKEETER_PROFILE")
            .ok()
            .filter(|name| !name.is_empty())
    })
}

/// Put the chosen profile's words in front of `args[start..]`.
pub fn insert(args: &mut Vec<OsString>, start: usize) -> Result<(), String> {
    let Some(name) = profile_name(&args[start..]) else {
        return Ok(());
    };
    let path = config_path().ok_or("--profile: no HOME or XDG_CONFIG_HOME to find the file")?;
    let text = std::fs::read_to_string(&path)
        .map_err(|err| format!("--profile {name}: cannot read {}: {err}", path.display()))?;
    let words = words_of(&text, &name).map_err(|why| format!("{}: {why}", path.display()))?;
    args.splice(start..start, words);
    Ok(())
}

/// The command-line words of profile `name` in the TOML `text`.
fn words_of(text: &str, name: &str) -> Result<Vec<OsString>, String> {
    let doc: toml::Table = text.parse().map_err(|err: toml::de::Error| {
        err.to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    })?;
    let profile = doc
        .get("profile")
        .and_then(|p| p.get(name))
        .ok_or_else(|| format!("no [profile.{name}]"))?
        .as_table()
        .ok_or_else(|| format!("profile.{name} is not a table"))?;
    let options = ConnectArgs::augment_args(clap::Command::new("profile"));
    let mut words = Vec::new();
    for (key, value) in profile {
        let long = match key.replace('_', "-").as_str() {
            "password" => "pw".to_owned(),
            "password-file" => "pw-file".to_owned(),
            other => other.to_owned(),
        };
        let arg = options
            .get_arguments()
            .find(|arg| arg.get_long() == Some(long.as_str()))
            .filter(|_| {
                !matches!(
                    long.as_str(),
                    "profile" | "options-file" | "help" | "version"
                )
            })
            .ok_or_else(|| format!("[profile.{name}] {key}: not a connection option"))?;
        if let Some(env) = arg.get_env()
            && std::env::var_os(env).is_some()
        {
            continue; // the environment wins
        }
        let flag = format!("--{long}");
        let takes_value = !matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::Count);
        let values: Vec<&toml::Value> = match value {
            toml::Value::Array(items) => items.iter().collect(),
            single => vec![single],
        };
        for value in values {
            let text = match value {
                toml::Value::String(text) => text.clone(),
                toml::Value::Integer(n) => n.to_string(),
                toml::Value::Float(n) => n.to_string(),
                toml::Value::Boolean(on) if !takes_value => {
                    if *on {
                        words.push(OsString::from(&flag));
                    }
                    continue;
                }
                toml::Value::Boolean(on) => on.to_string(),
                other => {
                    return Err(format!(
                        "[profile.{name}] {key}: a {} is not an option value",
                        other.type_str()
                    ));
                }
            };
            if !takes_value {
                return Err(format!(
                    "[profile.{name}] {key}: a switch, give true or false"
                ));
            }
            // One word: an option whose value is optional (--nodelay=false) takes only this form.
            words.push(OsString::from(format!("{flag}={text}")));
        }
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str, name: &str) -> Result<Vec<String>, String> {
        words_of(text, name).map(|w| w.into_iter().map(|w| w.into_string().unwrap()).collect())
    }

    #[test]
    fn keys_become_options() {
        let text = "[profile.prod]\nhost = \"mqtt.example.com\"\nport = 8883\n\
                    password_file = \"/etc/pw\"\ninsecure = true\nnodelay = false\n\
                    [profile.dev]\nhost = \"localhost\"\n";
        let got = words(text, "prod").unwrap();
        for expected in [
            &["--host=mqtt.example.com"][..],
            &["--port=8883"],
            &["--pw-file=/etc/pw"],
            &["--nodelay=false"],
            &["--insecure"],
        ] {
            assert!(
                got.windows(expected.len()).any(|w| w == expected),
                "{got:?}"
            );
        }
        assert_eq!(words(text, "dev").unwrap(), ["--host=localhost"]);
    }

    #[test]
    fn mistakes_are_named() {
        for (text, name, expected) in [
            (
                "[profile.a]\nhots = \"x\"\n",
                "a",
                "hots: not a connection option",
            ),
            ("[profile.a]\nhost = \"x\"\n", "b", "no [profile.b]"),
            (
                "[profile.a]\nport = [[1]]\n",
                "a",
                "a array is not an option value",
            ),
            (
                "[profile.a]\ninsecure = \"yes\"\n",
                "a",
                "a switch, give true or false",
            ),
            ("[profile.a\n", "a", "TOML parse error at line 1"),
            (
                "[profile.a]\nprofile = \"b\"\n",
                "a",
                "not a connection option",
            ),
        ] {
            let err = words(text, name).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
