#!/usr/bin/env python3
"""MQTT 5 flow control against a broker on 127.0.0.1:PORT (paho-mqtt 2.x, and one raw socket).

Usage: paho_v5_flow.py PORT

Checks, each printed as `ok NAME` (or `FAIL NAME: why`):
  receive-maximum  a paho subscriber with ReceiveMaximum=2 and manual acks, acking one message
                   every 0.3 s: of 10 QoS 1 messages published at once, never more than 2 are
                   unacknowledged at the subscriber, and all 10 arrive, in order
  qos2-excess      a raw MQTT 5 client reads the broker's receive maximum from CONNACK (N), then
                   sends N + 1 QoS 2 PUBLISHes without ever sending PUBREL: it gets DISCONNECT
                   with reason 0x93 (receive maximum exceeded)

Then `summary: N ok, M failed`; exit 0 only when nothing failed. Every wait is bounded, and the
whole run is stopped by SIGALRM after 40 s.
"""

import signal
import socket
import struct
import sys
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

HOST = "127.0.0.1"
PORT = int(sys.argv[1])
WAIT = 5.0
RUN = "flow-" + uuid.uuid4().hex[:8]


class Failed(Exception):
    pass


def client(name, **kwargs):
    c = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=f"{RUN}-{name}",
        protocol=mqtt.MQTTv5,
        **kwargs,
    )
    return c


def connect(c, properties=None):
    connected = threading.Event()
    c.on_connect = lambda *_: connected.set()
    c.connect(HOST, PORT, keepalive=30, properties=properties)
    c.loop_start()
    if not connected.wait(WAIT):
        raise Failed("no CONNACK")


def check_receive_maximum():
    topic = f"{RUN}/rm"
    lock = threading.Lock()
    pending = []  # messages received, not yet acknowledged
    received = []
    most = [0]
    subscribed = threading.Event()
    sub = client("sub", manual_ack=True)

    def on_message(_c, _u, msg):
        with lock:
            pending.append(msg.mid)
            received.append(msg.payload.decode())
            most[0] = max(most[0], len(pending))

    sub.on_message = on_message
    sub.on_subscribe = lambda *_: subscribed.set()
    props = Properties(PacketTypes.CONNECT)
    props.ReceiveMaximum = 2
    connect(sub, props)
    try:
        sub.subscribe(topic, qos=1)
        if not subscribed.wait(WAIT):
            raise Failed("no SUBACK")
        pub = client("pub")
        connect(pub)
        try:
            infos = [pub.publish(topic, str(i), qos=1) for i in range(10)]
            for info in infos:
                info.wait_for_publish(WAIT)
        finally:
            pub.disconnect()
            pub.loop_stop()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            # Slow acking: the broker has time to send more than it may.
            time.sleep(0.3)
            with lock:
                if pending:
                    sub.ack(pending.pop(0), 1)
                elif len(received) == 10:
                    break
        with lock:
            if most[0] > 2:
                raise Failed(f"{most[0]} unacknowledged messages at once (receive maximum 2)")
            if received != [str(i) for i in range(10)]:
                raise Failed(f"received {received}")
            if most[0] != 2:
                raise Failed(f"at most {most[0]} in flight: the window was never filled")
    finally:
        sub.disconnect()
        sub.loop_stop()


def varint(n):
    out = bytearray()
    while True:
        digit, n = n % 128, n // 128
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def read_packet(sock):
    """One packet: (first byte, body)."""

    def exactly(n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise Failed("connection closed")
            data += chunk
        return data

    first = exactly(1)[0]
    length, shift = 0, 0
    while True:
        byte = exactly(1)[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return first, exactly(length)


def receive_maximum_of(connack):
    """The Receive Maximum property of a CONNACK body (65535 when absent)."""
    pos, length, shift = 2, 0, 0
    while True:
        byte = connack[pos]
        pos += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    end = pos + length
    fixed = {0x11: 4, 0x21: 2, 0x22: 2, 0x13: 2, 0x24: 1, 0x25: 1, 0x28: 1, 0x29: 1, 0x2A: 1,
             0x27: 4}
    while pos < end:
        prop = connack[pos]
        pos += 1
        if prop == 0x21:
            return struct.unpack(">H", connack[pos:pos + 2])[0]
        if prop in fixed:
            pos += fixed[prop]
        elif prop == 0x26:  # user property: two strings
            for _ in range(2):
                pos += 2 + struct.unpack(">H", connack[pos:pos + 2])[0]
        else:  # a string or binary data
            pos += 2 + struct.unpack(">H", connack[pos:pos + 2])[0]
    return 65535


def check_qos2_excess():
    sock = socket.create_connection((HOST, PORT), timeout=WAIT)
    try:
        client_id = f"{RUN}-raw".encode()
        body = b"\x00\x04MQTT\x05\x02\x00\x1e\x00" + struct.pack(">H", len(client_id)) + client_id
        sock.sendall(b"\x10" + varint(len(body)) + body)
        first, connack = read_packet(sock)
        if first != 0x20 or connack[1] != 0:
            raise Failed(f"CONNACK expected, got {first:#x} {connack.hex()}")
        most = receive_maximum_of(connack)
        if most > 1000:
            raise Failed(f"receive maximum {most}: too many to exceed here")
        topic = f"{RUN}/q2".encode()
        for pkid in range(1, most + 2):
            body = struct.pack(">H", len(topic)) + topic + struct.pack(">H", pkid) + b"\x00x"
            sock.sendall(b"\x34" + varint(len(body)) + body)
        pubrecs = 0
        while True:
            first, body = read_packet(sock)
            if first == 0x50:
                pubrecs += 1
                continue
            if first == 0xE0:
                reason = body[0] if body else 0
                if reason != 0x93:
                    raise Failed(f"DISCONNECT reason {reason:#04x}, not 0x93")
                if pubrecs != most:
                    raise Failed(f"{pubrecs} PUBRECs before the DISCONNECT, not {most}")
                return
            raise Failed(f"unexpected packet {first:#x}")
    finally:
        sock.close()


def main():
    signal.signal(signal.SIGALRM, lambda *_: sys.exit("timed out after 40 s"))
    signal.alarm(40)
    passed = failed = 0
    for name, check in [("receive-maximum", check_receive_maximum),
                        ("qos2-excess", check_qos2_excess)]:
        try:
            check()
            print(f"ok {name}", flush=True)
            passed += 1
        except (Failed, OSError) as err:
            print(f"FAIL {name}: {err}", flush=True)
            failed += 1
    print(f"summary: {passed} ok, {failed} failed")
    sys.exit(1 if failed else 0)


main()
