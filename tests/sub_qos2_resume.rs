//! `skeeter sub -c -q 2` against a scripted MQTT 3.1.1 broker that resends after each reconnect
//! what a real one resends (4.4): PUBLISH with DUP for a message whose PUBREC it did not get,
//! PUBREL for one whose PUBCOMP it did not get, also when sub had already answered it on the
//! connection that dropped. Each must be answered on the new connection (PUBREC, PUBCOMP), and a
//! message is printed once.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::skeeter_sub;

const PATIENCE: Duration = Duration::from_secs(10);

const CONNECT: u8 = 1;
const PUBREC: u8 = 5;
const PUBCOMP: u8 = 7;
const SUBSCRIBE: u8 = 8;
const PINGREQ: u8 = 12;
const DISCONNECT: u8 = 14;

/// One connection of the scripted broker.
struct Session {
    stream: TcpStream,
    name: &'static str,
}

impl Session {
    /// Accept the next connection, read its CONNECT, answer CONNACK.
    fn accept(listener: &TcpListener, name: &'static str, session_present: bool) -> Session {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut session = Session { stream, name };
        let (kind, _) = session.read();
        assert_eq!(kind, CONNECT, "{name}: the first packet is not CONNECT");
        session.write(&[0x20, 0x02, u8::from(session_present), 0x00]);
        session
    }

    /// One packet: its type and the bytes after the fixed header.
    fn read(&mut self) -> (u8, Vec<u8>) {
        let mut byte = [0u8; 1];
        if let Err(err) = self.stream.read_exact(&mut byte) {
            panic!("{}: sub closed or went silent: {err}", self.name);
        }
        let kind = byte[0] >> 4;
        let (mut length, mut shift) = (0usize, 0);
        loop {
            let mut next = [0u8; 1];
            self.stream.read_exact(&mut next).unwrap();
            length |= usize::from(next[0] & 0x7f) << shift;
            shift += 7;
            if next[0] & 0x80 == 0 {
                break;
            }
        }
        let mut body = vec![0u8; length];
        self.stream.read_exact(&mut body).unwrap();
        (kind, body)
    }

    fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// PUBLISH at QoS 2 to topic `t`.
    fn publish(&mut self, pkid: u16, dup: bool, payload: &str) {
        let header = if dup { 0x3c } else { 0x34 };
        let mut packet = vec![header, (3 + 2 + payload.len()) as u8, 0x00, 0x01, b't'];
        packet.extend(pkid.to_be_bytes());
        packet.extend(payload.as_bytes());
        self.write(&packet);
    }

    fn pubrel(&mut self, pkid: u16) {
        let [high, low] = pkid.to_be_bytes();
        self.write(&[0x62, 0x02, high, low]);
    }

    /// Read until every (type, packet id) wanted has come, in any order; SUBSCRIBE (sub
    /// subscribes again after each CONNACK) gets its SUBACK, PINGREQ its PINGRESP.
    fn expect(&mut self, wanted: &[(u8, u16)]) {
        let mut missing = wanted.to_vec();
        while !missing.is_empty() {
            let (kind, body) = self.read();
            let pkid = body
                .get(..2)
                .map_or(0, |id| u16::from_be_bytes([id[0], id[1]]));
            match kind {
                SUBSCRIBE => self.write(&[0x90, 0x03, body[0], body[1], 0x02]),
                PINGREQ => self.write(&[0xd0, 0x00]),
                _ => {
                    let at = missing.iter().position(|&w| w == (kind, pkid));
                    let at = at.unwrap_or_else(|| {
                        panic!(
                            "{}: packet type {kind} (id {pkid}) while waiting for {missing:?}",
                            self.name
                        )
                    });
                    missing.remove(at);
                }
            }
        }
    }
}

#[test]
fn resent_publish_and_pubrel_are_answered_after_reconnects() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let broker = std::thread::spawn(move || {
        // 1: message 1 arrives; its PUBREC is "lost" with the connection.
        let mut first = Session::accept(&listener, "connection 1", false);
        let (kind, body) = first.read();
        assert_eq!(kind, SUBSCRIBE);
        first.write(&[0x90, 0x03, body[0], body[1], 0x02]);
        first.publish(1, false, "one");
        first.expect(&[(PUBREC, 1)]);
        drop(first);

        // 2: message 1 again (DUP), released; message 2 released, its PUBCOMP "lost".
        let mut second = Session::accept(&listener, "connection 2", true);
        second.publish(1, true, "one");
        second.expect(&[(PUBREC, 1)]);
        second.pubrel(1);
        second.expect(&[(PUBCOMP, 1)]);
        second.publish(2, false, "two");
        second.expect(&[(PUBREC, 2)]);
        second.pubrel(2);
        second.expect(&[(PUBCOMP, 2)]);
        drop(second);

        // 3: PUBREL 2 again, for a message sub released on the connection before: PUBCOMP,
        // not a dropped connection. Then message 3 on the same connection (-C 3: the last).
        let mut third = Session::accept(&listener, "connection 3", true);
        third.pubrel(2);
        third.expect(&[(PUBCOMP, 2)]);
        third.publish(3, false, "three");
        third.expect(&[(PUBREC, 3), (DISCONNECT, 0)]);
    });
    let args = [
        "-h",
        "127.0.0.1",
        "-c",
        "-i",
        "resume",
        "-q",
        "2",
        "-t",
        "t",
    ];
    let sub = skeeter_sub(port, &[&args[..], &["-C", "3", "-W", "20"]].concat());
    let (code, stdout) = sub.finish(PATIENCE * 2);
    broker.join().expect("the scripted broker");
    assert_eq!(String::from_utf8_lossy(&stdout), "one\ntwo\nthree\n");
    assert_eq!(code, Some(0));
}
