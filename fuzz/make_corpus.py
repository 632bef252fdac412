#!/usr/bin/env python3
"""Write the seed corpus of the broker_frames fuzz target: valid MQTT 3.1, 3.1.1 and 5 sessions
(and a few known-bad frames) in the input layout of skeeter::broker::fuzz::run_connection:
one flags byte, then per client a big-endian u16 length and that client's bytes.

    python3 fuzz/make_corpus.py            # rewrites fuzz/corpus/broker_frames/

Flags: 0x01 small limits, 0x02 ACL, 0x04 clients keep their side open, 0x08 bytes trickle in
pieces of (flags >> 4) + 1.
"""

import os
import shutil
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "broker_frames")


def varint(n):
    out = bytearray()
    while True:
        digit, n = n % 128, n // 128
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def s(text):
    data = text.encode() if isinstance(text, str) else text
    return struct.pack(">H", len(data)) + data


def frame(byte1, body):
    return bytes([byte1]) + varint(len(body)) + body


def props(*items):
    body = b"".join(items)
    return varint(len(body)) + body


# MQTT 5 properties
def p_byte(ident, value):
    return bytes([ident, value])


def p_u16(ident, value):
    return bytes([ident]) + struct.pack(">H", value)


def p_u32(ident, value):
    return bytes([ident]) + struct.pack(">I", value)


def p_str(ident, text):
    return bytes([ident]) + s(text)


def p_var(ident, value):
    return bytes([ident]) + varint(value)


def p_user(key, value):
    return bytes([0x26]) + s(key) + s(value)


# --- MQTT 3.1.1 (and 3.1) ---------------------------------------------------------------

def connect4(client_id, clean=True, keep_alive=60, will=None, user=None, password=None,
             name="MQTT", level=4):
    flags = 0x02 if clean else 0
    payload = s(client_id)
    if will:
        topic, message, qos, retain = will
        flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
        payload += s(topic) + s(message)
    if user is not None:
        flags |= 0x80
        payload += s(user)
    if password is not None:
        flags |= 0x40
        payload += s(password)
    body = s(name) + bytes([level, flags]) + struct.pack(">H", keep_alive) + payload
    return frame(0x10, body)


def publish4(topic, payload, qos=0, pkid=1, retain=False, dup=False):
    byte1 = 0x30 | (qos << 1) | (0x01 if retain else 0) | (0x08 if dup else 0)
    body = s(topic) + (struct.pack(">H", pkid) if qos else b"") + payload
    return frame(byte1, body)


def subscribe4(pkid, *filters):
    body = struct.pack(">H", pkid) + b"".join(s(f) + bytes([q]) for f, q in filters)
    return frame(0x82, body)


def unsubscribe4(pkid, *filters):
    return frame(0xA2, struct.pack(">H", pkid) + b"".join(s(f) for f in filters))


def ack(byte1, pkid):
    return frame(byte1, struct.pack(">H", pkid))


def puback(pkid):
    return ack(0x40, pkid)


def pubrec(pkid):
    return ack(0x50, pkid)


def pubrel(pkid):
    return ack(0x62, pkid)


def pubcomp(pkid):
    return ack(0x70, pkid)


PINGREQ = b"\xc0\x00"
DISCONNECT = b"\xe0\x00"


# --- MQTT 5 ---------------------------------------------------------------------------------

def connect5(client_id, clean=True, keep_alive=60, properties=b"", will=None, user=None,
             password=None):
    flags = 0x02 if clean else 0
    payload = s(client_id)
    if will:
        topic, message, qos, retain, will_props = will
        flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
        payload += props(will_props) + s(topic) + s(message)
    if user is not None:
        flags |= 0x80
        payload += s(user)
    if password is not None:
        flags |= 0x40
        payload += s(password)
    body = (s("MQTT") + bytes([5, flags]) + struct.pack(">H", keep_alive) + props(properties)
            + payload)
    return frame(0x10, body)


def publish5(topic, payload, qos=0, pkid=1, retain=False, properties=b"", dup=False):
    byte1 = 0x30 | (qos << 1) | (0x01 if retain else 0) | (0x08 if dup else 0)
    body = s(topic) + (struct.pack(">H", pkid) if qos else b"") + props(properties) + payload
    return frame(byte1, body)


def subscribe5(pkid, *filters, properties=b""):
    # filters: (filter, options byte)
    body = struct.pack(">H", pkid) + props(properties)
    body += b"".join(s(f) + bytes([o]) for f, o in filters)
    return frame(0x82, body)


def unsubscribe5(pkid, *filters):
    return frame(0xA2, struct.pack(">H", pkid) + props(b"") + b"".join(s(f) for f in filters))


def ack5(byte1, pkid, reason, properties=b""):
    return frame(byte1, struct.pack(">H", pkid) + bytes([reason]) + props(properties))


def disconnect5(reason=0, properties=b""):
    return frame(0xE0, bytes([reason]) + props(properties))


def sub_options(qos, no_local=False, rap=False, retain_handling=0):
    return qos | (0x04 if no_local else 0) | (0x08 if rap else 0) | (retain_handling << 4)


# --- the corpus -------------------------------------------------------------------------------

def seed(flags, *clients):
    out = bytes([flags])
    for client in clients:
        data = b"".join(client)
        assert len(data) < 65536
        out += struct.pack(">H", len(data)) + data
    return out


def seeds():
    yield "v311_pubsub_all_qos", seed(
        0,
        [connect4("sub"), subscribe4(1, ("a/#", 2), ("b/+/c", 1)), PINGREQ],
        [connect4("pub"), publish4("a/x", b"zero"), publish4("a/y", b"one", 1, 1),
         publish4("a/z", b"two", 2, 2), pubrel(2), publish4("b/q/c", b"plus", 1, 3),
         PINGREQ, DISCONNECT],
    )
    yield "v311_subscriber_acks", seed(
        0x04,
        [connect4("sub", keep_alive=2), subscribe4(1, ("t", 2)), puback(1), pubrec(2),
         pubcomp(2), PINGREQ],
        [connect4("pub"), publish4("t", b"1", 1, 10), publish4("t", b"2", 2, 11),
         publish4("t", b"2", 2, 11, dup=True), pubrel(11), DISCONNECT],
    )
    yield "v311_persistent_session", seed(
        0,
        [connect4("keep", clean=False), subscribe4(1, ("q/#", 1)), DISCONNECT],
        [connect4("pub"), publish4("q/1", b"while away", 1, 1),
         publish4("q/2", b"also away", 1, 2), publish4("q/3", b"qos0 dropped"), DISCONNECT],
        [connect4("keep", clean=False), puback(1), puback(2), unsubscribe4(3, "q/#"),
         DISCONNECT],
    )
    yield "v311_takeover_and_will", seed(
        0x04,
        [connect4("watch"), subscribe4(1, ("will/#", 1))],
        [connect4("twin", will=("will/twin", b"gone", 1, False), keep_alive=1),
         subscribe4(1, ("x", 0))],
        [connect4("twin", clean=False), PINGREQ],
        [connect4("twin", clean=True, will=("will/twin", b"again", 0, True)), DISCONNECT],
    )
    yield "v311_retained", seed(
        0,
        [connect4("r"), publish4("ret/a", b"kept", 1, 1, retain=True),
         publish4("ret/b", b"kept too", 0, retain=True), publish4("ret/a", b"", 0, retain=True),
         DISCONNECT],
        [connect4("s"), subscribe4(1, ("ret/#", 1), ("$SYS/#", 0), ("#", 0)), puback(1),
         DISCONNECT],
    )
    yield "v311_shared_subscriptions", seed(
        0,
        [connect4("m1"), subscribe4(1, ("$share/g/jobs/#", 1)), PINGREQ],
        [connect4("m2"), subscribe4(1, ("$share/g/jobs/#", 1))],
        [connect4("p"), publish4("jobs/1", b"a", 1, 1), publish4("jobs/2", b"b", 1, 2),
         publish4("jobs/3", b"c", 1, 3), DISCONNECT],
        [connect4("m1"), unsubscribe4(2, "$share/g/jobs/#"), DISCONNECT],
    )
    yield "v311_empty_client_id_and_login", seed(
        0,
        [connect4("", user="u", password="pw"), subscribe4(1, ("u/u/x", 1)), DISCONNECT],
        [connect4("", clean=False)],
        [connect4("c1", user="u"), publish4("c/c1/x", b"mine", 1, 1), DISCONNECT],
    )
    yield "v311_acl", seed(
        0x02,
        [connect4("anon"), subscribe4(1, ("a/#", 1), ("#", 0)), PINGREQ],
        [connect4("w"), publish4("a/b", b"allowed", 1, 1), publish4("a/secret", b"no", 1, 2),
         publish4("z", b"denied", 2, 3), pubrel(3), DISCONNECT],
        [connect4("cc", user="u"), publish4("c/cc/1", b"pattern", 0), publish4("a/b", b"u", 1, 4),
         DISCONNECT],
    )
    yield "v311_small_limits", seed(
        0x01,
        [connect4("slow", clean=False), subscribe4(1, ("f/#", 1)), PINGREQ],
        [connect4("fast")] + [publish4("f/%d" % i, bytes(100), i % 3, i + 1) for i in range(12)]
        + [publish4("f/big", bytes(2000), 1, 50), DISCONNECT],
    )
    yield "v311_trickle", seed(
        0x08 | (2 << 4),
        [connect4("t1"), subscribe4(1, ("t", 1)), PINGREQ],
        [connect4("t2"), publish4("t", b"cut into pieces", 1, 1), PINGREQ, DISCONNECT],
    )
    yield "v311_keep_alive_expiry", seed(
        0x04,
        [connect4("w"), subscribe4(1, ("will", 0))],
        [connect4("quiet", keep_alive=1, will=("will", b"expired", 0, False))],
    )
    yield "v31_mqisdp", seed(
        0,
        [connect4("old", name="MQIsdp", level=3, will=("will/old", b"x", 1, False)),
         subscribe4(1, ("o/#", 2)), PINGREQ],
        [connect4("old2", name="MQIsdp", level=3, clean=False), publish4("o/1", b"hi", 2, 5),
         pubrel(5), DISCONNECT],
    )
    yield "bad_versions_and_first_packets", seed(
        0,
        [connect4("v6", name="MQTT", level=6)],
        [PINGREQ],
        [b"GET / HTTP/1.1\r\n\r\n"],
        [connect4("x"), connect4("x")],
    )
    bad = [
        b"\x80\x06\x00\x01\x00\x01a\x00",
        b"\x82\x06\x00\x00\x00\x01a\x00",
        b"\x82\x06\x00\x01\x00\x01a\x04",
        b"\x82\x08\x00\x01\x00\x03#/a\x00",
        b"\xa2\x02\x00\x01",
        b"\x60\x02\x00\x01",
        b"\x40\x02\x00\x00",
        b"\x30\x05\x00\x03a/+",
        b"\x38\x04\x00\x01ax",
        b"\xc0\x01\x00",
        b"\xf0\x00",
        b"\x30\xff\xff\xff\xff\x7f",
        b"\x30\xff\xff\xff\x7f",
        b"\x20\x02\x00\x00",
    ]
    for i, frame_bytes in enumerate(bad):
        yield "v311_bad_%02d" % i, seed(0, [connect4("bad%d" % i), frame_bytes, PINGREQ])
        yield "v5_bad_%02d" % i, seed(0, [connect5("bad%d" % i), frame_bytes, PINGREQ])

    # MQTT 5
    yield "v5_pubsub_properties", seed(
        0,
        [connect5("s5", properties=p_u16(0x21, 5) + p_u32(0x27, 4096) + p_u16(0x22, 3)),
         subscribe5(1, ("p/#", sub_options(2, rap=True)), properties=p_var(0x0B, 7)),
         subscribe5(2, ("p/+", sub_options(1, retain_handling=1)),
                    properties=p_var(0x0B, 300)), PINGREQ],
        [connect5("p5", properties=p_u32(0x11, 30)),
         publish5("p/a", b"props", 1, 1, retain=True, properties=(
             p_byte(0x01, 1) + p_u32(0x02, 60) + p_str(0x03, "text/plain")
             + p_str(0x08, "p/reply") + p_str(0x09, "corr") + p_user("k", "v"))),
         publish5("p/b", b"alias set", 0, properties=p_u16(0x23, 1)),
         publish5("", b"alias used", 1, 2, properties=p_u16(0x23, 1)),
         publish5("p/c", b"two", 2, 3), ack5(0x62, 3, 0), disconnect5()],
    )
    yield "v5_no_local_and_retain_handling", seed(
        0,
        [connect5("self"),
         subscribe5(1, ("n/#", sub_options(1, no_local=True)), ("r/#", sub_options(0, retain_handling=2))),
         publish5("n/1", b"not to me", 1, 2), publish5("r/1", b"kept", 0, retain=True),
         subscribe5(3, ("r/#", sub_options(0, retain_handling=1))),
         unsubscribe5(4, "n/#", "never/subscribed"), disconnect5()],
    )
    yield "v5_session_expiry_and_will_delay", seed(
        0,
        [connect5("w"), subscribe5(1, ("will/#", sub_options(1)))],
        [connect5("dies", clean=False, properties=p_u32(0x11, 10),
                  will=("will/dies", b"late", 1, False, p_u32(0x18, 5) + p_u32(0x02, 100)
                        + p_str(0x08, "r/t") + p_byte(0x01, 0))),
         subscribe5(1, ("q", sub_options(1)))],
        [connect5("p"), publish5("q", b"queued", 1, 1), disconnect5()],
        [connect5("dies", clean=False, properties=p_u32(0x11, 10)), ack5(0x40, 1, 0),
         disconnect5(0x04, p_u32(0x11, 0))],
    )
    yield "v5_disconnect_variants", seed(
        0,
        [connect5("d1", properties=p_u32(0x11, 0)), disconnect5(0, p_u32(0x11, 5))],
        [connect5("d2", properties=p_u32(0x11, 5)), b"\xe0\x01\x04"],
        [connect5("d3"), b"\xf0\x00"],
        [connect5("d4", properties=p_str(0x15, "SCRAM-SHA-1"))],
    )
    yield "v5_assigned_id_and_receive_maximum", seed(
        0x01,
        [connect5("", properties=p_u16(0x21, 1)), subscribe5(1, ("#", sub_options(2)))],
        [connect5("flood")] + [publish5("f", b"x", 2, i + 1) for i in range(4)]
        + [ack5(0x62, 1, 0), disconnect5()],
    )
    yield "v5_qos_flows_as_subscriber", seed(
        0x04,
        [connect5("s", keep_alive=3), subscribe5(1, ("t", sub_options(2))),
         ack5(0x40, 1, 0), ack5(0x50, 2, 0), ack5(0x70, 2, 0), ack5(0x50, 3, 0x80),
         b"\xc0\x00"],
        [connect5("p"), publish5("t", b"1", 1, 1), publish5("t", b"2", 2, 2),
         ack5(0x62, 2, 0), publish5("t", b"3", 2, 3), ack5(0x62, 3, 0), disconnect5()],
    )
    yield "v5_shared_and_acl", seed(
        0x02,
        [connect5("m", user="u"), subscribe5(1, ("$share/g/a/#", sub_options(1)))],
        [connect5("anon"), subscribe5(1, ("a/#", sub_options(1))),
         publish5("a/b", b"ok", 1, 2), publish5("a/secret", b"denied", 2, 3), disconnect5()],
    )
    yield "v5_trickle_keep_open", seed(
        0x04 | 0x08 | (4 << 4),
        [connect5("k", keep_alive=1), subscribe5(1, ("k", sub_options(1)))],
        [connect5("k2", keep_alive=0), publish5("k", b"x", 1, 1)],
    )


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    total = 0
    for name, data in seeds():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        total += len(data)
    print("wrote %d seeds, %d bytes, to %s" % (len(os.listdir(OUT)), total, OUT))


if __name__ == "__main__":
    main()
