//! Exit codes, documented once. The man pages and `--help` show [`EXIT_STATUS_HELP`].
//!
//! The numbers follow mosquitto_pub / mosquitto_sub where those define one, so scripts written for
//! them keep working: a refused connection exits with the broker's CONNACK return code (1 to 5 in
//! MQTT 3.1.1), a `-W` timeout with 27.

use std::fmt;

/// The exit status of a run, with the reason when it is not a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// 0: everything asked for was done.
    Success,
    /// 1: could not reach the broker (connection refused, DNS), or another runtime failure.
    Failure,
    /// 2: bad command line: unknown flag, bad value, bad topic, missing or conflicting options.
    Usage,
    /// 1 to 5 (MQTT 3.1.1 CONNACK return code) or 128 to 159 (MQTT 5 CONNACK reason code):
    /// the broker refused the connection.
    Refused(u8),
    /// 7: the connection was lost before the work was done (for pub: before every acknowledgement).
    ConnectionLost,
    /// 8: TLS failed: the broker's certificate was not accepted (unknown authority, expired,
    /// another host name) or the broker refused the handshake (e.g. no client certificate).
    Tls,
    /// 10: an input file or standard input could not be read.
    Input,
    /// 11: the broker could not listen (address in use, permission denied).
    Listen,
    /// 12: MQTT 5: the broker refused a message it acknowledged (PUBACK or PUBREC with a reason
    /// code of 0x80 or more, e.g. 0x87 not authorized). mosquitto_pub exits 0 there.
    NotAccepted,
    /// 13: broker: the persistence file (or its journal) cannot be used: unreadable, corrupt,
    /// another program's or format version's, or not writable.
    Persistence,
    /// 14: probe: a check named by --require was not ok.
    CheckFailed,
    /// 15: bench: QoS 1 or 2 messages were lost, or QoS 2 messages delivered twice.
    MessagesLost,
    /// 27: `-W` ran out before the work was done.
    Timeout,
    /// `run`: the wrapped command's own exit code (128+N when signal N ended it).
    Passthrough(u8),
}

impl Code {
    /// The number as mosquitto_pub / mosquitto_sub use it: a bad command line or input file
    /// is 1 there.
    pub fn as_mosquitto_u8(self) -> u8 {
        match self {
            Code::Usage | Code::Input => 1,
            other => other.as_u8(),
        }
    }

    pub fn as_u8(self) -> u8 {
        match self {
            Code::Success => 0,
            Code::Failure => 1,
            Code::Usage => 2,
            Code::Refused(code) => code,
            Code::ConnectionLost => 7,
            Code::Tls => 8,
            Code::Input => 10,
            Code::Listen => 11,
            Code::NotAccepted => 12,
            Code::Persistence => 13,
            Code::CheckFailed => 14,
            Code::MessagesLost => 15,
            Code::Timeout => 27,
            Code::Passthrough(code) => code,
        }
    }
}

/// The text of the EXIT STATUS section shown by `--help` and the man pages.
pub const EXIT_STATUS_HELP: &str = "\
Exit status:
  0    success
  1    could not connect to the broker (refused, unreachable, DNS), or another runtime error
  2    bad command line (unknown option, bad value, bad topic)
  1-5  the broker refused the connection: the CONNACK return code (4 bad username or password,
       5 not authorised)
  128-159  with -V 5, the broker refused the connection: the CONNACK reason code (134 bad user
       name or password, 135 not authorized, ...)
  7    the connection was lost before the work was done
  8    TLS failed: the broker's certificate was not accepted (unknown authority, expired, another
       host name), or the broker refused the TLS handshake (e.g. it wants a client certificate)
  10   an input file or standard input could not be read
  11   the broker could not listen on its address (in use, permission denied)
  12   with -V 5, the broker refused a message (a PUBACK or PUBREC reason code of 0x80 or more,
       e.g. 0x87 not authorized); mosquitto_pub exits 0
  13   the broker's persistence file or its journal cannot be used (unreadable, corrupt, of
       another program or format version) or written
  14   probe: a check named by --require was not ok
  15   bench: QoS 1 or 2 messages were lost, or QoS 2 messages delivered twice
  27   -W timed out
`skeeter run` exits with its command's code (128+N when signal N ended it, 127 when it could not
be started), or 1 and 2 as above before the command starts.
Run as mosquitto_pub or mosquitto_sub, a bad command line and an unreadable input exit 1, as
mosquitto's do.";

/// An error that ends the run with a given exit code. Anything else that reaches `main` exits 1.
#[derive(Debug)]
pub struct Fatal {
    pub code: Code,
    pub message: String,
}

impl Fatal {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Fatal {
            code,
            message: message.into(),
        }
    }
}

impl Fatal {
    /// An error already reported (or silenced by --quiet): main prints nothing, only exits.
    pub fn silent(code: Code) -> Self {
        Fatal::new(code, String::new())
    }
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Fatal {}

/// The exit code for an error that reached `main`.
pub fn code_of(err: &anyhow::Error) -> Code {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<Fatal>())
        .map_or(Code::Failure, |fatal| fatal.code)
}

/// Whether main should print nothing for this error.
pub fn is_silent(err: &anyhow::Error) -> bool {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<Fatal>())
        .is_some_and(|fatal| fatal.message.is_empty())
}
