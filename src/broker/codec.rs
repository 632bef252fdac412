//! Bytes to packets and back, around rumqttc's v4 codec: which protocol a client speaks, the
//! checks the codec leaves out, and publish framing that never copies a large payload.

use bytes::{Buf, BufMut, BytesMut};
use rumqttc::mqttbytes::v4::Packet;
use rumqttc::mqttbytes::{self, QoS};
use rumqttc::v5::mqttbytes as mqttbytes5;
use rumqttc::v5::mqttbytes::v5 as m5;

use crate::topic;
use crate::wire::{TooLong, put_remaining_length, read_fixed_header};

/// The topic aliases an MQTT 5 client may use towards the broker (CONNACK topic_alias_max),
/// as many as mosquitto allows by default.
pub(crate) const TOPIC_ALIAS_MAX: u16 = 10;

/// Largest remaining length MQTT can express.
const MAX_REMAINING_LENGTH: usize = 268_435_455;

/// Why a client's bytes were refused; its connection is closed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProtocolError {
    #[error("packet of {size} bytes is over the limit of {max}")]
    TooLarge { size: usize, max: usize },
    #[error("malformed packet: {0}")]
    Malformed(&'static str),
    #[error("malformed packet: {0}")]
    Codec(mqttbytes::Error),
    #[error("malformed packet: {0}")]
    Codec5(mqttbytes5::Error),
    #[error("protocol error: {0}")]
    Protocol(&'static str),
    #[error("topic alias {0} is not within 1..={TOPIC_ALIAS_MAX}")]
    TopicAlias(u16),
    #[error("bad topic {topic:?}: {reason}")]
    Topic {
        topic: String,
        reason: topic::TopicError,
    },
}

impl ProtocolError {
    /// The MQTT 5 reason code a DISCONNECT carries for this error.
    pub fn reason_code(&self) -> u8 {
        match self {
            ProtocolError::TooLarge { .. } => 0x95,
            ProtocolError::Malformed(_) | ProtocolError::Codec(_) | ProtocolError::Codec5(_) => {
                0x81
            }
            ProtocolError::Protocol(_) => 0x82,
            ProtocolError::TopicAlias(_) => 0x94,
            ProtocolError::Topic { .. } => 0x90,
        }
    }
}

/// The protocol versions the broker serves. 3.1 and 3.1.1 are handled by rumqttc's v4 codec: a
/// 3.1 CONNECT is first rewritten into its 3.1.1 form ([`connect_as_311`]); later packets are
/// the same in both. MQTT 5 goes through rumqttc's v5 codec ([`read_packet_v5`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// MQTT 3.1 ("MQIsdp", level 3).
    V31,
    /// MQTT 3.1.1 ("MQTT", level 4).
    V311,
    /// MQTT 5 ("MQTT", level 5).
    V5,
}

impl Protocol {
    /// 3.1 has no assigned client ids: an empty one is refused with CONNACK 2.
    pub fn assigns_client_ids(self) -> bool {
        self != Protocol::V31
    }

    /// The first CONNACK byte is "session present" in 3.1.1 only; 3.1 reserves it (always 0).
    pub fn reports_session_present(self) -> bool {
        self != Protocol::V31
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Protocol::V31 => "MQTT 3.1",
            Protocol::V311 => "MQTT 3.1.1",
            Protocol::V5 => "MQTT 5",
        })
    }
}

/// What the first CONNECT of a connection asks for; decided in one place so MQTT 5 can be added.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ProtocolRequest {
    /// Not enough bytes yet to tell.
    Incomplete,
    /// A protocol we serve.
    Supported(Protocol),
    /// A protocol we recognise but do not serve: answer CONNACK 1 (unacceptable protocol
    /// version), then close.
    UnsupportedVersion(&'static str),
    /// Not an MQTT CONNECT: close without answering.
    NotMqtt,
}

/// Peek at the protocol name and level of the first CONNECT, before any codec reads it (the v4
/// codec would misread an MQTT 5 CONNECT and refuses an MQTT 3.1 one).
pub(crate) fn detect_protocol(buf: &[u8]) -> ProtocolRequest {
    let header = match parse_fixed_header(buf) {
        Ok(Some(header)) => header,
        Ok(None) => return ProtocolRequest::Incomplete,
        Err(_) => return ProtocolRequest::NotMqtt,
    };
    if header.byte1 != 0x10 {
        return ProtocolRequest::NotMqtt;
    }
    let body = &buf[header.header_len..];
    let (Some(&len_hi), Some(&len_lo)) = (body.first(), body.get(1)) else {
        return ProtocolRequest::Incomplete;
    };
    let name_len = u16::from_be_bytes([len_hi, len_lo]) as usize;
    // Longer names are neither "MQTT" nor "MQIsdp": refuse rather than wait for them.
    if name_len > 6 || header.remaining_len < 2 + name_len + 1 {
        return ProtocolRequest::NotMqtt;
    }
    let (Some(name), Some(&level)) = (body.get(2..2 + name_len), body.get(2 + name_len)) else {
        return ProtocolRequest::Incomplete;
    };
    match (name, level) {
        (b"MQTT", 4) => ProtocolRequest::Supported(Protocol::V311),
        (b"MQIsdp", 3) => ProtocolRequest::Supported(Protocol::V31),
        (b"MQTT", 5) => ProtocolRequest::Supported(Protocol::V5),
        (b"MQTT", _) => ProtocolRequest::UnsupportedVersion("this MQTT protocol level"),
        (b"MQIsdp", _) => ProtocolRequest::UnsupportedVersion("this MQIsdp protocol level"),
        _ => ProtocolRequest::NotMqtt,
    }
}

/// Turn the MQTT 3.1 CONNECT at the start of `buf` into the 3.1.1 CONNECT the v4 codec reads:
/// "MQIsdp"/3 becomes "MQTT"/4 and the remaining length shrinks by 2 (re-encoded; it may take
/// one byte less). The rest of the frame is the same in both versions and is not copied.
/// Returns false, changing nothing, unless `buf` starts with a 3.1 CONNECT's name and level
/// (which [`detect_protocol`] answering `Supported(V31)` guarantees).
pub(crate) fn connect_as_311(buf: &mut BytesMut) -> bool {
    const OLD: &[u8] = b"\x00\x06MQIsdp\x03";
    const NEW: &[u8] = b"\x00\x04MQTT\x04";
    let Ok(Some(header)) = parse_fixed_header(buf) else {
        return false;
    };
    let old_prefix = header.header_len + OLD.len();
    if header.byte1 != 0x10 || buf.get(header.header_len..old_prefix) != Some(OLD) {
        return false;
    }
    let Some(remaining_len) = header.remaining_len.checked_sub(OLD.len() - NEW.len()) else {
        return false;
    };
    let mut prefix = BytesMut::with_capacity(old_prefix);
    prefix.put_u8(header.byte1);
    put_remaining_length(&mut prefix, remaining_len);
    prefix.extend_from_slice(NEW);
    // The new prefix is never longer than the old one: drop the difference, overwrite the rest.
    buf.advance(old_prefix - prefix.len());
    buf[..prefix.len()].copy_from_slice(&prefix);
    true
}

/// The first byte of a frame and its lengths.
struct FixedHeader {
    byte1: u8,
    header_len: usize,
    remaining_len: usize,
}

fn parse_fixed_header(buf: &[u8]) -> Result<Option<FixedHeader>, ProtocolError> {
    let Some(&byte1) = buf.first() else {
        return Ok(None);
    };
    match read_fixed_header(buf) {
        Ok(header) => Ok(header.map(|(header_len, remaining_len)| FixedHeader {
            byte1,
            header_len,
            remaining_len,
        })),
        Err(TooLong) => Err(ProtocolError::Malformed(
            "remaining length longer than 4 bytes",
        )),
    }
}

/// Room a frame's body is given at once, before its bytes arrive.
const EAGER_RESERVE: usize = 1 << 20;

/// Room for the rest of the frame at the start of `buf`: all of it up to [`EAGER_RESERVE`], and
/// beyond that as much again as has arrived, so a header alone (5 bytes announcing 256 MiB)
/// cannot make the broker allocate its whole packet size limit, while a large body still grows
/// the buffer geometrically (each byte copied a bounded number of times).
fn reserve_body(buf: &mut BytesMut, frame_len: usize) {
    let missing = frame_len - buf.len();
    buf.reserve(missing.min(EAGER_RESERVE.max(buf.len())));
}

/// Take the next complete packet off `buf`, checked; `Ok(None)` means read more bytes.
///
/// The size limit (of the whole packet, fixed header included) is checked on the fixed header
/// alone, before the body is buffered; when the body is still to come, `buf` is grown for it
/// ([`reserve_body`]).
pub(crate) fn read_packet(
    buf: &mut BytesMut,
    max_packet_size: usize,
) -> Result<Option<Packet>, ProtocolError> {
    let Some(header) = parse_fixed_header(buf)? else {
        return Ok(None);
    };
    let size = header.header_len + header.remaining_len;
    if size > max_packet_size {
        return Err(ProtocolError::TooLarge {
            size,
            max: max_packet_size,
        });
    }
    check_fixed_header(header.byte1, header.remaining_len)?;
    let frame_len = header.header_len + header.remaining_len;
    if buf.len() < frame_len {
        reserve_body(buf, frame_len);
        return Ok(None);
    }
    check_raw_body(header.byte1 >> 4, &buf[header.header_len..frame_len])?;
    let mut frame = buf.split_to(frame_len);
    let packet = Packet::read(&mut frame, max_packet_size).map_err(ProtocolError::Codec)?;
    check_packet(&packet)?;
    Ok(Some(packet))
}

/// Flag bits and fixed lengths (MQTT 3.1.1 section 2.2.2), which the codec does not check.
fn check_fixed_header(byte1: u8, remaining_len: usize) -> Result<(), ProtocolError> {
    let (kind, flags) = (byte1 >> 4, byte1 & 0x0f);
    let flags_ok = match kind {
        3 => {
            let qos = (flags >> 1) & 0b11;
            if qos == 3 {
                return Err(ProtocolError::Malformed("PUBLISH with QoS 3"));
            }
            if qos == 0 && flags & 0b1000 != 0 {
                return Err(ProtocolError::Malformed("QoS 0 PUBLISH with DUP set"));
            }
            true
        }
        6 | 8 | 10 => flags == 0b0010,
        1..=14 => flags == 0,
        _ => return Err(ProtocolError::Malformed("reserved packet type")),
    };
    if !flags_ok {
        return Err(ProtocolError::Malformed("wrong fixed header flags"));
    }
    let length_ok = match kind {
        4..=7 => remaining_len == 2,
        12..=14 => remaining_len == 0,
        _ => true,
    };
    if !length_ok {
        return Err(ProtocolError::Malformed("wrong remaining length"));
    }
    Ok(())
}

/// Reserved bits the codec reads past: CONNECT flags and SUBSCRIBE options. Bounds errors are
/// left to the codec, which reports them.
fn check_raw_body(kind: u8, body: &[u8]) -> Result<(), ProtocolError> {
    match kind {
        1 => {
            let name_len = match body.get(..2) {
                Some(&[hi, lo]) => u16::from_be_bytes([hi, lo]) as usize,
                _ => return Ok(()),
            };
            // protocol name, level, then the connect flags
            if let Some(&flags) = body.get(2 + name_len + 1) {
                if flags & 0x01 != 0 {
                    return Err(ProtocolError::Malformed("CONNECT reserved flag set"));
                }
                if flags & 0x40 != 0 && flags & 0x80 == 0 {
                    return Err(ProtocolError::Malformed(
                        "CONNECT password without user name",
                    ));
                }
            }
        }
        8 => {
            let mut at = 2; // packet id
            while let Some(&[hi, lo]) = body.get(at..at + 2) {
                at += 2 + u16::from_be_bytes([hi, lo]) as usize;
                match body.get(at) {
                    Some(options) if options & 0b1111_1100 != 0 => {
                        return Err(ProtocolError::Malformed(
                            "SUBSCRIBE reserved option bits set",
                        ));
                    }
                    Some(_) => at += 1,
                    None => break,
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Packet ids, topics and filters, on the decoded packet.
fn check_packet(packet: &Packet) -> Result<(), ProtocolError> {
    let bad_topic = |topic: &str, reason| ProtocolError::Topic {
        topic: topic.to_owned(),
        reason,
    };
    match packet {
        Packet::Connect(connect) => {
            if let Some(will) = &connect.last_will {
                topic::check_name(&will.topic).map_err(|r| bad_topic(&will.topic, r))?;
            }
        }
        Packet::Publish(publish) => {
            topic::check_name(&publish.topic).map_err(|r| bad_topic(&publish.topic, r))?;
        }
        Packet::Subscribe(subscribe) => {
            check_pkid(subscribe.pkid)?;
            if subscribe.filters.is_empty() {
                return Err(ProtocolError::Malformed("SUBSCRIBE without filters"));
            }
            for filter in &subscribe.filters {
                topic::check_filter(&filter.path).map_err(|r| bad_topic(&filter.path, r))?;
                check_shared(&filter.path)?;
            }
        }
        Packet::Unsubscribe(unsubscribe) => {
            check_pkid(unsubscribe.pkid)?;
            if unsubscribe.topics.is_empty() {
                return Err(ProtocolError::Malformed("UNSUBSCRIBE without filters"));
            }
            for filter in &unsubscribe.topics {
                topic::check_filter(filter).map_err(|r| bad_topic(filter, r))?;
                check_shared(filter)?;
            }
        }
        Packet::PubAck(ack) => check_pkid(ack.pkid)?,
        Packet::PubRec(ack) => check_pkid(ack.pkid)?,
        Packet::PubRel(ack) => check_pkid(ack.pkid)?,
        Packet::PubComp(ack) => check_pkid(ack.pkid)?,
        _ => {}
    }
    Ok(())
}

/// `$share/GROUP/FILTER`: a group name without wildcards, and a filter.
fn check_shared(path: &str) -> Result<(), ProtocolError> {
    if !path.starts_with("$share/") {
        return Ok(());
    }
    match path["$share/".len()..].split_once('/') {
        Some((group, filter))
            if !group.is_empty() && !topic::has_wildcard(group) && !filter.is_empty() =>
        {
            Ok(())
        }
        _ => Err(ProtocolError::Malformed(
            "a shared subscription needs $share/GROUP/FILTER",
        )),
    }
}

fn check_pkid(pkid: u16) -> Result<(), ProtocolError> {
    if pkid == 0 {
        return Err(ProtocolError::Malformed("packet id 0"));
    }
    Ok(())
}

/// What an MQTT 5 client sent: a packet rumqttc's v5 codec read, or one it cannot read
/// (a DISCONNECT of 2 or 3 bytes, AUTH), framed here.
#[derive(Debug)]
// Moved once from the codec to its handler: boxing would cost an allocation per packet.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Incoming5 {
    Packet(m5::Packet),
    Disconnect {
        reason: u8,
        session_expiry: Option<u32>,
    },
    Auth,
}

/// [`read_packet`] for MQTT 5: the same size and flag checks, the v5 codec's gaps framed by
/// hand, and the checks it leaves out (UTF-8 topics, wildcards, packet ids, option bits).
pub(crate) fn read_packet_v5(
    buf: &mut BytesMut,
    max_packet_size: usize,
) -> Result<Option<Incoming5>, ProtocolError> {
    let Some(header) = parse_fixed_header(buf)? else {
        return Ok(None);
    };
    let size = header.header_len + header.remaining_len;
    if size > max_packet_size {
        return Err(ProtocolError::TooLarge {
            size,
            max: max_packet_size,
        });
    }
    let kind = header.byte1 >> 4;
    match kind {
        // AUTH: flags 0, any length; refused whatever it holds.
        15 if header.byte1 & 0x0f == 0 => {}
        14 if header.byte1 & 0x0f == 0 => {}
        4..=7 if header.remaining_len >= 2 => check_fixed_header(header.byte1, 2)?,
        _ => check_fixed_header(header.byte1, header.remaining_len)?,
    }
    let frame_len = header.header_len + header.remaining_len;
    if buf.len() < frame_len {
        reserve_body(buf, frame_len);
        return Ok(None);
    }
    let body = &buf[header.header_len..frame_len];
    match kind {
        15 => {
            buf.advance(frame_len);
            return Ok(Some(Incoming5::Auth));
        }
        14 if body.len() < 2 => {
            let reason = body.first().copied().unwrap_or(0);
            buf.advance(frame_len);
            return Ok(Some(Incoming5::Disconnect {
                reason,
                session_expiry: None,
            }));
        }
        1 => check_connect_flags_v5(body)?,
        8 => check_subscribe_options_v5(body)?,
        _ => {}
    }
    let mut frame = buf.split_to(frame_len);
    let packet = match m5::Packet::read(&mut frame, None) {
        Ok(packet) => packet,
        // The frame is complete: a codec asking for more bytes means it is malformed.
        Err(mqttbytes5::Error::InsufficientBytes(_)) => {
            return Err(ProtocolError::Malformed(
                "field runs past the end of its packet",
            ));
        }
        Err(err) => return Err(ProtocolError::Codec5(err)),
    };
    check_packet_v5(&packet)?;
    Ok(Some(match packet {
        m5::Packet::Disconnect(disconnect) => Incoming5::Disconnect {
            reason: disconnect_code(disconnect.reason_code),
            session_expiry: disconnect
                .properties
                .and_then(|properties| properties.session_expiry_interval),
        },
        packet => Incoming5::Packet(packet),
    }))
}

fn disconnect_code(code: m5::DisconnectReasonCode) -> u8 {
    use m5::DisconnectReasonCode as D;
    match code {
        D::NormalDisconnection => 0x00,
        D::DisconnectWithWillMessage => 0x04,
        _ => 0x80,
    }
}

/// The CONNECT reserved flag (a password without a user name is allowed in MQTT 5).
fn check_connect_flags_v5(body: &[u8]) -> Result<(), ProtocolError> {
    if let Some(&[hi, lo]) = body.get(..2)
        && let Some(&flags) = body.get(2 + u16::from_be_bytes([hi, lo]) as usize + 1)
        && flags & 0x01 != 0
    {
        return Err(ProtocolError::Malformed("CONNECT reserved flag set"));
    }
    Ok(())
}

/// SUBSCRIBE option bits 6 and 7 are reserved (the v5 codec ignores them).
fn check_subscribe_options_v5(body: &[u8]) -> Result<(), ProtocolError> {
    let Some(rest) = body.get(2..) else {
        return Ok(());
    };
    let Ok(Some((len_len, properties_len))) = read_varint(rest) else {
        return Err(ProtocolError::Malformed("bad property length"));
    };
    let mut at = 2 + len_len + properties_len;
    while let Some(&[hi, lo]) = body.get(at..at + 2) {
        at += 2 + u16::from_be_bytes([hi, lo]) as usize;
        match body.get(at) {
            Some(options) if options & 0b1100_0000 != 0 => {
                return Err(ProtocolError::Malformed(
                    "SUBSCRIBE reserved option bits set",
                ));
            }
            Some(_) => at += 1,
            None => break,
        }
    }
    Ok(())
}

/// A variable byte integer: (bytes it took, value); None if cut short.
fn read_varint(bytes: &[u8]) -> Result<Option<(usize, usize)>, ProtocolError> {
    crate::wire::read_varint(bytes)
        .map_err(|TooLong| ProtocolError::Malformed("variable byte integer longer than 4 bytes"))
}

/// A v5 topic is raw bytes in the codec: it must be UTF-8 (and a valid name) here.
pub(crate) fn topic_v5(topic: &[u8]) -> Result<&str, ProtocolError> {
    std::str::from_utf8(topic).map_err(|_| ProtocolError::Malformed("topic is not UTF-8"))
}

fn check_packet_v5(packet: &m5::Packet) -> Result<(), ProtocolError> {
    let bad_topic = |topic: &str, reason| ProtocolError::Topic {
        topic: topic.to_owned(),
        reason,
    };
    match packet {
        m5::Packet::Connect(_, Some(will), _) => {
            let name = topic_v5(&will.topic)?;
            topic::check_name(name).map_err(|r| bad_topic(name, r))?;
        }
        m5::Packet::Publish(publish) => {
            let name = topic_v5(&publish.topic)?;
            let mut alias = None;
            if let Some(properties) = &publish.properties {
                alias = properties.topic_alias;
                if let Some(alias) = alias
                    && !(1..=TOPIC_ALIAS_MAX).contains(&alias)
                {
                    return Err(ProtocolError::TopicAlias(alias));
                }
                if !properties.subscription_identifiers.is_empty() {
                    return Err(ProtocolError::Protocol(
                        "subscription identifier in a client PUBLISH",
                    ));
                }
                if let Some(response_topic) = &properties.response_topic {
                    topic::check_name(response_topic).map_err(|r| bad_topic(response_topic, r))?;
                }
            }
            // An empty topic stands for the one its alias was set to (resolved by the caller).
            if !(name.is_empty() && alias.is_some()) {
                topic::check_name(name).map_err(|r| bad_topic(name, r))?;
            }
        }
        m5::Packet::Subscribe(subscribe) => {
            check_pkid(subscribe.pkid)?;
            if subscribe.filters.is_empty() {
                return Err(ProtocolError::Malformed("SUBSCRIBE without filters"));
            }
            if let Some(properties) = &subscribe.properties
                && properties.id == Some(0)
            {
                return Err(ProtocolError::Protocol("subscription identifier 0"));
            }
            for filter in &subscribe.filters {
                topic::check_filter(&filter.path).map_err(|r| bad_topic(&filter.path, r))?;
                check_shared(&filter.path)?;
                if filter.nolocal && filter.path.starts_with("$share/") {
                    return Err(ProtocolError::Protocol("no-local on a shared subscription"));
                }
            }
        }
        m5::Packet::Unsubscribe(unsubscribe) => {
            check_pkid(unsubscribe.pkid)?;
            if unsubscribe.filters.is_empty() {
                return Err(ProtocolError::Malformed("UNSUBSCRIBE without filters"));
            }
            for filter in &unsubscribe.filters {
                topic::check_filter(filter).map_err(|r| bad_topic(filter, r))?;
                check_shared(filter)?;
            }
        }
        m5::Packet::PubAck(ack) => check_pkid(ack.pkid)?,
        m5::Packet::PubRec(ack) => check_pkid(ack.pkid)?,
        m5::Packet::PubRel(ack) => check_pkid(ack.pkid)?,
        m5::Packet::PubComp(ack) => check_pkid(ack.pkid)?,
        _ => {}
    }
    Ok(())
}

/// rumqttc has one QoS type per codec: the broker keeps the v4 one.
pub(crate) fn qos_from_v5(qos: mqttbytes5::QoS) -> QoS {
    match qos {
        mqttbytes5::QoS::AtMostOnce => QoS::AtMostOnce,
        mqttbytes5::QoS::AtLeastOnce => QoS::AtLeastOnce,
        mqttbytes5::QoS::ExactlyOnce => QoS::ExactlyOnce,
    }
}

pub(crate) fn qos_to_v5(qos: QoS) -> mqttbytes5::QoS {
    match qos {
        QoS::AtMostOnce => mqttbytes5::QoS::AtMostOnce,
        QoS::AtLeastOnce => mqttbytes5::QoS::AtLeastOnce,
        QoS::ExactlyOnce => mqttbytes5::QoS::ExactlyOnce,
    }
}

/// Append an MQTT 5 control packet (CONNACK, SUBACK, UNSUBACK, acks with a reason code).
pub(crate) fn encode_v5(out: &mut BytesMut, packet: &m5::Packet) {
    let before = out.len();
    if packet.write(out, None).is_err() {
        out.truncate(before);
    }
}

/// An MQTT 5 PUBACK (0x40) or PUBREC (0x50) with a reason code and no properties, in its
/// short form (remaining length 3), as mosquitto writes it.
pub(crate) fn ack_v5(byte1: u8, pkid: u16, reason: u8) -> [u8; 5] {
    let [hi, lo] = pkid.to_be_bytes();
    [byte1, 0x03, hi, lo, reason]
}

/// An MQTT 5 DISCONNECT from the broker: reason code and an empty property list (4 bytes,
/// which every v5 codec reads, rumqttc's included).
pub(crate) fn disconnect_v5(reason: u8) -> [u8; 4] {
    [0xe0, 0x02, reason, 0x00]
}

/// The property block of an outgoing MQTT 5 PUBLISH (its length first): the publisher's
/// properties minus any alias, the remaining expiry, and this subscriber's subscription ids.
pub(crate) fn publish_properties(
    out: &mut BytesMut,
    properties: Option<&m5::PublishProperties>,
    expiry: Option<u32>,
    subscription_ids: &[u32],
    topic_alias: Option<u16>,
) {
    let mut block = BytesMut::new();
    let put_string = |block: &mut BytesMut, text: &[u8]| {
        block.put_u16(text.len() as u16);
        block.extend_from_slice(text);
    };
    if let Some(p) = properties {
        if let Some(indicator) = p.payload_format_indicator {
            block.put_u8(0x01);
            block.put_u8(indicator);
        }
    }
    if let Some(expiry) = expiry {
        block.put_u8(0x02);
        block.put_u32(expiry);
    }
    if let Some(alias) = topic_alias {
        block.put_u8(0x23);
        block.put_u16(alias);
    }
    if let Some(p) = properties {
        if let Some(content_type) = &p.content_type {
            block.put_u8(0x03);
            put_string(&mut block, content_type.as_bytes());
        }
        if let Some(response_topic) = &p.response_topic {
            block.put_u8(0x08);
            put_string(&mut block, response_topic.as_bytes());
        }
        if let Some(data) = &p.correlation_data {
            block.put_u8(0x09);
            put_string(&mut block, data);
        }
        for (key, value) in &p.user_properties {
            block.put_u8(0x26);
            put_string(&mut block, key.as_bytes());
            put_string(&mut block, value.as_bytes());
        }
    }
    for &id in subscription_ids {
        block.put_u8(0x0b);
        put_remaining_length(&mut block, id as usize);
    }
    put_remaining_length(out, block.len());
    out.extend_from_slice(&block);
}

/// Append a control packet (ack, CONNACK, SUBACK, PINGRESP) to `out`.
pub(crate) fn encode(out: &mut BytesMut, packet: &Packet) {
    let before = out.len();
    // Control packets the broker builds always fit; if one ever did not, leave no partial bytes.
    if packet.write(out, MAX_REMAINING_LENGTH).is_err() {
        out.truncate(before);
    }
}

/// What goes in front of a PUBLISH payload. The caller appends or writes the payload itself, so
/// a large one is never copied into a write buffer.
pub(crate) struct PublishHeader<'a> {
    pub topic: &'a str,
    pub qos: QoS,
    pub retain: bool,
    pub dup: bool,
    pub pkid: u16,
    /// MQTT 5 only: the encoded property block, its length included ([`publish_properties`]).
    pub properties: &'a [u8],
    pub payload_len: usize,
}

impl PublishHeader<'_> {
    /// Append the fixed header, topic and packet id; false (nothing written) if too long for MQTT.
    pub fn encode(&self, out: &mut BytesMut) -> bool {
        let pkid_len = if self.qos == QoS::AtMostOnce { 0 } else { 2 };
        let remaining_len =
            2 + self.topic.len() + pkid_len + self.properties.len() + self.payload_len;
        if remaining_len > MAX_REMAINING_LENGTH || self.topic.len() > usize::from(u16::MAX) {
            return false;
        }
        let byte1 =
            0x30 | (u8::from(self.dup) << 3) | ((self.qos as u8) << 1) | u8::from(self.retain);
        out.put_u8(byte1);
        put_remaining_length(out, remaining_len);
        out.put_u16(self.topic.len() as u16);
        out.extend_from_slice(self.topic.as_bytes());
        if pkid_len > 0 {
            out.put_u16(self.pkid);
        }
        out.extend_from_slice(self.properties);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumqttc::mqttbytes::v4::Publish;

    #[test]
    fn detects_protocols() {
        let connect = |name: &[u8], level: u8| {
            let mut frame = vec![0x10, (2 + name.len() + 1 + 1 + 2 + 2) as u8];
            frame.extend_from_slice(&(name.len() as u16).to_be_bytes());
            frame.extend_from_slice(name);
            frame.extend_from_slice(&[level, 0x02, 0, 60, 0, 0]);
            frame
        };
        assert_eq!(
            detect_protocol(&connect(b"MQTT", 4)),
            ProtocolRequest::Supported(Protocol::V311)
        );
        assert_eq!(
            detect_protocol(&connect(b"MQIsdp", 3)),
            ProtocolRequest::Supported(Protocol::V31)
        );
        assert_eq!(
            detect_protocol(&connect(b"MQTT", 5)),
            ProtocolRequest::Supported(Protocol::V5)
        );
        for (name, level) in [(&b"MQTT"[..], 6), (b"MQTT", 3), (b"MQIsdp", 4)] {
            assert!(matches!(
                detect_protocol(&connect(name, level)),
                ProtocolRequest::UnsupportedVersion(_)
            ));
        }
        assert_eq!(
            detect_protocol(&connect(b"HTTP", 4)),
            ProtocolRequest::NotMqtt
        );
        assert_eq!(
            detect_protocol(&connect(b"MQTT", 4)[..5]),
            ProtocolRequest::Incomplete
        );
        assert_eq!(
            detect_protocol(b"GET / HTTP/1.1\r\n"),
            ProtocolRequest::NotMqtt
        );
        assert_eq!(detect_protocol(&[]), ProtocolRequest::Incomplete);
    }

    /// A CONNECT frame: protocol name and level, then the same flags, keep-alive, client id,
    /// will and login, whatever the version.
    fn connect_frame(name: &[u8], level: u8, client_id: &str) -> Vec<u8> {
        let mut body = (name.len() as u16).to_be_bytes().to_vec();
        body.extend_from_slice(name);
        body.extend_from_slice(&[level, 0b1100_1110, 0, 30]); // user, password, will QoS 1, clean
        for field in [client_id, "will/topic", "will payload", "user", "secret"] {
            body.extend_from_slice(&(field.len() as u16).to_be_bytes());
            body.extend_from_slice(field.as_bytes());
        }
        let mut frame = BytesMut::from(&[0x10u8][..]);
        put_remaining_length(&mut frame, body.len());
        frame.extend_from_slice(&body);
        frame.to_vec()
    }

    #[test]
    fn mqtt31_connect_reads_as_its_311_twin() {
        // The remaining length is 54 + id bytes in 3.1: ids of 74 and 75 bytes take two bytes
        // of length in 3.1 (128, 129) and one in 3.1.1 (126, 127).
        for id_len in [1, 20, 73, 74, 75, 76, 500] {
            let id = "c".repeat(id_len);
            let mut v31 = BytesMut::from(&connect_frame(b"MQIsdp", 3, &id)[..]);
            v31.extend_from_slice(&[0xc0, 0x00]); // a PINGREQ right behind it is kept
            let v311 = connect_frame(b"MQTT", 4, &id);
            let before = v31.len();
            assert!(connect_as_311(&mut v31));
            let shrunk = if (74..=75).contains(&id_len) { 3 } else { 2 };
            assert_eq!(before - v31.len(), shrunk, "id of {id_len} bytes");
            assert_eq!(&v31[..v311.len()], &v311[..], "id of {id_len} bytes");
            assert_eq!(&v31[v311.len()..], &[0xc0, 0x00]);
            let Ok(Some(Packet::Connect(connect))) = read_packet(&mut v31, 1 << 20) else {
                panic!("the rewritten CONNECT does not read");
            };
            assert_eq!(connect.client_id, id);
            assert_eq!(connect.keep_alive, 30);
            assert!(connect.clean_session);
            assert_eq!(connect.last_will.unwrap().topic, "will/topic");
            assert_eq!(connect.login.unwrap().password, "secret");
            assert!(matches!(
                read_packet(&mut v31, 1024),
                Ok(Some(Packet::PingReq))
            ));
        }
        // Only a 3.1 CONNECT is touched.
        for frame in [connect_frame(b"MQTT", 4, "x"), vec![0xc0, 0x00], vec![0x10]] {
            let mut buf = BytesMut::from(&frame[..]);
            assert!(!connect_as_311(&mut buf));
            assert_eq!(&buf[..], &frame[..]);
        }
    }

    #[test]
    fn publish_header_matches_the_codec() {
        for (qos, pkid) in [
            (QoS::AtMostOnce, 0),
            (QoS::AtLeastOnce, 7),
            (QoS::ExactlyOnce, 9),
        ] {
            for payload_len in [0, 5, 200, 70_000] {
                let mut publish = Publish::new("a/b", qos, vec![7u8; payload_len]);
                publish.pkid = pkid;
                publish.retain = true;
                publish.dup = qos != QoS::AtMostOnce;
                let mut expected = BytesMut::new();
                Packet::Publish(publish.clone())
                    .write(&mut expected, MAX_REMAINING_LENGTH)
                    .unwrap();
                let mut ours = BytesMut::new();
                assert!(
                    PublishHeader {
                        topic: "a/b",
                        qos,
                        retain: true,
                        dup: publish.dup,
                        pkid,
                        properties: &[],
                        payload_len,
                    }
                    .encode(&mut ours)
                );
                ours.extend_from_slice(&publish.payload);
                assert_eq!(ours, expected);
            }
        }
    }

    #[test]
    fn rejects_what_the_codec_accepts() {
        let bad: &[&[u8]] = &[
            &[0x80, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x00], // SUBSCRIBE flags 0
            &[0x82, 0x06, 0x00, 0x00, 0x00, 0x01, b'a', 0x00], // SUBSCRIBE pkid 0
            &[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x04], // SUBSCRIBE reserved bits
            &[0x82, 0x08, 0x00, 0x01, 0x00, 0x03, b'#', b'/', b'a', 0x00], // bad filter
            &[0xa2, 0x02, 0x00, 0x01],                         // UNSUBSCRIBE without filters
            &[0x60, 0x02, 0x00, 0x01],                         // PUBREL flags 0
            &[0x40, 0x02, 0x00, 0x00],                         // PUBACK pkid 0
            &[0x30, 0x05, 0x00, 0x03, b'a', b'/', b'+'],       // wildcard topic
            &[0x38, 0x04, 0x00, 0x01, b'a', b'x'],             // QoS 0 with DUP
            &[0xc0, 0x01, 0x00],                               // PINGREQ with a body
            &[0xf0, 0x00],                                     // reserved type
            &[0x30, 0xff, 0xff, 0xff, 0xff, 0x7f],             // 5-byte length
        ];
        for frame in bad {
            let mut buf = BytesMut::from(*frame);
            assert!(read_packet(&mut buf, 1024).is_err(), "{frame:02x?}");
        }
    }

    #[test]
    fn frames_what_the_v5_codec_cannot() {
        let mut buf = BytesMut::from(&[0xe0u8, 0x00, 0xe0, 0x01, 0x04, 0xf0, 0x00, 0xe0][..]);
        assert!(matches!(
            read_packet_v5(&mut buf, 1024),
            Ok(Some(Incoming5::Disconnect {
                reason: 0,
                session_expiry: None
            }))
        ));
        assert!(matches!(
            read_packet_v5(&mut buf, 1024),
            Ok(Some(Incoming5::Disconnect { reason: 4, .. }))
        ));
        assert!(matches!(
            read_packet_v5(&mut buf, 1024),
            Ok(Some(Incoming5::Auth))
        ));
        assert!(matches!(read_packet_v5(&mut buf, 1024), Ok(None)));
        // With properties: the codec reads it, session expiry included.
        let mut buf = BytesMut::from(&[0xe0u8, 0x07, 0x00, 0x05, 0x11, 0, 0, 0, 9][..]);
        assert!(matches!(
            read_packet_v5(&mut buf, 1024),
            Ok(Some(Incoming5::Disconnect {
                reason: 0,
                session_expiry: Some(9)
            }))
        ));
        // A property running past a complete frame is malformed, not "wait for more".
        let mut buf = BytesMut::from(&[0x30u8, 0x05, 0x00, 0x01, b'a', 0x05, 0x01][..]);
        assert!(matches!(
            read_packet_v5(&mut buf, 1024),
            Err(err) if err.reason_code() == 0x81
        ));
        // DISCONNECT with flags, AUTH with flags.
        for frame in [&[0xe1u8, 0x00][..], &[0xf1, 0x00]] {
            let mut buf = BytesMut::from(frame);
            assert!(read_packet_v5(&mut buf, 1024).is_err(), "{frame:02x?}");
        }
    }

    #[test]
    fn checks_size_before_the_body_arrives() {
        let mut buf = BytesMut::from(&[0x30u8, 0x80, 0x80, 0x04][..]); // 65536 bytes announced
        assert!(matches!(
            read_packet(&mut buf, 1024),
            Err(ProtocolError::TooLarge { size: 65540, .. })
        ));
        // The whole packet counts: 3 + 1022 bytes is over 1024, 3 + 1021 is not.
        let mut buf = BytesMut::from(&[0x30u8, 0xfe, 0x07][..]);
        assert!(read_packet(&mut buf, 1024).is_err());
        let mut buf = BytesMut::from(&[0x30u8, 0xfd, 0x07][..]);
        assert!(matches!(read_packet(&mut buf, 1024), Ok(None)));
        let mut buf = BytesMut::from(&[0x30u8, 0x80, 0x80, 0x04][..]);
        assert!(matches!(read_packet(&mut buf, 1 << 20), Ok(None)));
        assert!(buf.capacity() >= 65536 + 4);
    }

    #[test]
    fn a_header_alone_does_not_allocate_the_packet_size_limit() {
        // 268 435 455 bytes announced, none sent: the buffer grows by a bounded step only.
        for read in [read_packet_v4_none, read_packet_v5_none] {
            let mut buf = BytesMut::from(&[0x30u8, 0xff, 0xff, 0xff, 0x7f][..]);
            read(&mut buf);
            assert!(buf.capacity() <= 2 * EAGER_RESERVE, "{}", buf.capacity());
            // As the body arrives, the room grows with it.
            buf.resize(3 * EAGER_RESERVE, 0);
            read(&mut buf);
            assert!(buf.capacity() >= 6 * EAGER_RESERVE, "{}", buf.capacity());
        }
    }

    fn read_packet_v4_none(buf: &mut BytesMut) {
        let max = crate::broker::MQTT_MAX_PACKET;
        assert!(matches!(read_packet(buf, max), Ok(None)));
    }

    fn read_packet_v5_none(buf: &mut BytesMut) {
        let max = crate::broker::MQTT_MAX_PACKET;
        assert!(matches!(read_packet_v5(buf, max), Ok(None)));
    }
}
