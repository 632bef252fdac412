//! Raw MQTT 3.1.1 and 5 frames written by hand (valid ones, to be sent as they are or mutated),
//! for tests that feed a broker bytes no client library would send.

/// A variable byte integer (remaining length, property length).
pub fn varint(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let digit = (n % 128) as u8;
        n /= 128;
        if n == 0 {
            out.push(digit);
            return out;
        }
        out.push(digit | 0x80);
    }
}

/// A length-prefixed string.
pub fn string(text: &[u8]) -> Vec<u8> {
    let mut out = (text.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(text);
    out
}

/// A frame: the first byte, the remaining length, the body.
pub fn frame(byte1: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![byte1];
    out.extend(varint(body.len()));
    out.extend_from_slice(body);
    out
}

/// An MQTT 5 property block (its length first).
pub fn properties(block: &[u8]) -> Vec<u8> {
    let mut out = varint(block.len());
    out.extend_from_slice(block);
    out
}

/// Which MQTT a frame is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V311,
    V5,
}

/// A CONNECT: client id, clean session / clean start, keep-alive, an optional will (topic,
/// payload, QoS) and user name; MQTT 5 with a session expiry interval.
pub fn connect(
    version: Version,
    client_id: &str,
    clean: bool,
    keep_alive: u16,
    will: Option<(&str, &[u8], u8)>,
    user: Option<&str>,
    session_expiry: u32,
) -> Vec<u8> {
    let mut flags = if clean { 0x02 } else { 0 };
    let mut payload = string(client_id.as_bytes());
    if let Some((topic, message, qos)) = will {
        flags |= 0x04 | (qos << 3);
        if version == Version::V5 {
            payload.extend(properties(&[0x18, 0, 0, 0, 1])); // will delay 1 s
        }
        payload.extend(string(topic.as_bytes()));
        payload.extend(string(message));
    }
    if let Some(user) = user {
        flags |= 0x80;
        payload.extend(string(user.as_bytes()));
    }
    let mut body = string(b"MQTT");
    body.push(if version == Version::V5 { 5 } else { 4 });
    body.push(flags);
    body.extend_from_slice(&keep_alive.to_be_bytes());
    if version == Version::V5 {
        let mut block = vec![0x11];
        block.extend_from_slice(&session_expiry.to_be_bytes());
        block.extend_from_slice(&[0x21, 0, 10]); // receive maximum 10
        body.extend(properties(&block));
    }
    body.extend(payload);
    frame(0x10, &body)
}

/// A PUBLISH (MQTT 5: with a message expiry, a user property and a topic alias when asked).
pub fn publish(
    version: Version,
    topic: &str,
    qos: u8,
    pkid: u16,
    retain: bool,
    payload: &[u8],
    alias: Option<u16>,
) -> Vec<u8> {
    let mut body = string(topic.as_bytes());
    if qos > 0 {
        body.extend_from_slice(&pkid.to_be_bytes());
    }
    if version == Version::V5 {
        let mut block = vec![0x02, 0, 0, 0, 60, 0x26];
        block.extend(string(b"k"));
        block.extend(string(b"v"));
        if let Some(alias) = alias {
            block.push(0x23);
            block.extend_from_slice(&alias.to_be_bytes());
        }
        body.extend(properties(&block));
    }
    body.extend_from_slice(payload);
    frame(0x30 | (qos << 1) | u8::from(retain), &body)
}

/// A SUBSCRIBE of `(filter, options)` pairs (options: QoS, and in MQTT 5 the other bits too);
/// MQTT 5 with a subscription identifier.
pub fn subscribe(version: Version, pkid: u16, filters: &[(&str, u8)]) -> Vec<u8> {
    let mut body = pkid.to_be_bytes().to_vec();
    if version == Version::V5 {
        body.extend(properties(&[0x0b, 0x05]));
    }
    for (filter, options) in filters {
        body.extend(string(filter.as_bytes()));
        body.push(*options);
    }
    frame(0x82, &body)
}

pub fn unsubscribe(version: Version, pkid: u16, filters: &[&str]) -> Vec<u8> {
    let mut body = pkid.to_be_bytes().to_vec();
    if version == Version::V5 {
        body.extend(properties(&[]));
    }
    for filter in filters {
        body.extend(string(filter.as_bytes()));
    }
    frame(0xa2, &body)
}

/// PUBACK 0x40, PUBREC 0x50, PUBREL 0x62, PUBCOMP 0x70; MQTT 5 with a reason code.
pub fn ack(version: Version, byte1: u8, pkid: u16) -> Vec<u8> {
    let mut body = pkid.to_be_bytes().to_vec();
    if version == Version::V5 {
        body.extend_from_slice(&[0x00, 0x00]);
    }
    frame(byte1, &body)
}

pub fn pingreq() -> Vec<u8> {
    vec![0xc0, 0x00]
}

/// DISCONNECT (MQTT 5: normal disconnection, the session expiry left as it is).
pub fn disconnect(version: Version) -> Vec<u8> {
    match version {
        Version::V311 => vec![0xe0, 0x00],
        Version::V5 => vec![0xe0, 0x01, 0x00],
    }
}

/// MQTT 5 DISCONNECT that sets the session expiry interval (a protocol error if CONNECT's was
/// 0 and this one is not).
pub fn disconnect_with_expiry(expiry: u32) -> Vec<u8> {
    let mut body = vec![0x00, 0x05, 0x11];
    body.extend_from_slice(&expiry.to_be_bytes());
    frame(0xe0, &body)
}

/// MQTT 5 AUTH (re-authenticate), which the broker refuses.
pub fn auth() -> Vec<u8> {
    frame(0xf0, &[0x19, 0x00])
}

/// Close with a reset (RST) instead of a FIN when the socket is dropped.
pub fn reset_on_drop(stream: &tokio::net::TcpStream) {
    // A zero linger does not block on drop: the reset is sent at once.
    #[allow(deprecated)]
    let _ = stream.set_linger(Some(std::time::Duration::ZERO));
}
