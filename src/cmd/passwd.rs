//! `skeeter passwd`: add, change or delete a user of a password file, or hash a plain-text one,
//! with mosquitto_passwd's command line and file format.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};

use crate::broker::auth::{self, PasswordHash};
use crate::cli::PasswdArgs;
use crate::exit::{Code, Fatal};

pub fn run(args: PasswdArgs) -> anyhow::Result<()> {
    let file = args.file.as_path();
    if args.update {
        let text = read(file)?;
        return write(file, &hash_plain_text(&text), false);
    }
    let user = args.user.as_deref().unwrap_or_default();
    if user.is_empty() {
        return Err(Fatal::new(Code::Usage, "the user name must not be empty").into());
    }
    if user.contains(':') {
        return Err(Fatal::new(Code::Usage, "the user name must not contain ':'").into());
    }
    if args.delete {
        let text = read(file)?;
        let (kept, found) = without_user(&text, user);
        if !found {
            bail!("user {user} not found in {}", file.display());
        }
        return write(file, &kept, false);
    }
    let existing = if args.create {
        String::new()
    } else {
        read(file)?
    };
    let password = match (args.batch, args.password) {
        (true, Some(password)) => password,
        (true, None) => {
            return Err(Fatal::new(Code::Usage, "-b needs a PASSWORD after the USER").into());
        }
        (false, _) => ask_password()?,
    };
    let line = format!("{user}:{}", PasswordHash::new(&password));
    write(file, &with_user(&existing, user, &line), args.create)
}

fn read(file: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))
}

/// Ask twice, without echo, on the terminal.
fn ask_password() -> anyhow::Result<String> {
    let first = rpassword::prompt_password("Password: ").context("cannot read the password")?;
    let second =
        rpassword::prompt_password("Reenter password: ").context("cannot read the password")?;
    if first != second {
        bail!("the passwords do not match");
    }
    if first.is_empty() {
        bail!("the password must not be empty");
    }
    Ok(first)
}

/// The file with `user`'s line replaced by `line` (or `line` added at the end).
fn with_user(text: &str, user: &str, line: &str) -> String {
    let mut out = String::with_capacity(text.len() + line.len() + 1);
    let mut replaced = false;
    for old in text.lines() {
        if auth::entry(old).is_some_and(|(name, _)| name == user) {
            if !replaced {
                out.push_str(line);
                out.push('\n');
                replaced = true;
            }
            continue;
        }
        out.push_str(old);
        out.push('\n');
    }
    if !replaced {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The file without `user`'s lines; and whether there were any.
fn without_user(text: &str, user: &str) -> (String, bool) {
    let mut out = String::with_capacity(text.len());
    let mut found = false;
    for line in text.lines() {
        if auth::entry(line).is_some_and(|(name, _)| name == user) {
            found = true;
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    (out, found)
}

/// Every `user:password` line with its password hashed. Lines already holding a valid hash are
/// kept as they are (mosquitto_passwd -U would hash the hash).
fn hash_plain_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for line in text.lines() {
        match line.split_once(':') {
            Some((user, password))
                if !line.starts_with('#') && PasswordHash::parse(password.trim()).is_err() =>
            {
                out.push_str(&format!(
                    "{}:{}\n",
                    user.trim(),
                    PasswordHash::new(password)
                ));
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// Replace the file through a temporary one in the same directory, keeping the mode of the file
/// it replaces; a new file is readable by its owner only.
fn write(file: &Path, text: &str, create: bool) -> anyhow::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

    let mode = match std::fs::metadata(file) {
        Ok(meta) => meta.permissions().mode() & 0o7777,
        Err(_) if create => 0o600,
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", file.display())),
    };
    let name = file
        .file_name()
        .context("the password file needs a file name")?;
    let mut temporary = file.to_path_buf();
    temporary.set_file_name(format!(
        ".{}.skeeter-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temporary)?;
        out.write_all(text.as_bytes())?;
        out.sync_all()?;
        std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(mode))?;
        std::fs::rename(&temporary, file)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result.with_context(|| format!("cannot write {}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_adds_and_deletes_users() {
        let text = "# users\na:old\nb:old\n";
        assert_eq!(with_user(text, "a", "a:new"), "# users\na:new\nb:old\n");
        assert_eq!(
            with_user(text, "c", "c:new"),
            "# users\na:old\nb:old\nc:new\n"
        );
        assert_eq!(without_user(text, "b"), ("# users\na:old\n".into(), true));
        assert!(!without_user(text, "c").1);
    }

    #[test]
    fn hashes_only_plain_text_lines() {
        let hashed = format!("x:{}", PasswordHash::new("kept"));
        let out = hash_plain_text(&format!("# c\na:pw1\n{hashed}\n"));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "# c");
        assert_eq!(lines[2], hashed);
        let (user, hash) = auth::entry(lines[1]).unwrap();
        assert_eq!(user, "a");
        assert!(PasswordHash::parse(hash).unwrap().verify("pw1"));
    }
}
