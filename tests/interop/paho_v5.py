#!/usr/bin/env python3
"""paho-mqtt 2.x (MQTT 5) against a broker on 127.0.0.1:PORT.

Usage: paho_v5.py PORT

Checks, each printed as `ok NAME` (or `FAIL NAME: why`):
  properties      user properties, content type, response topic and correlation data arrive
                  unchanged; the subscription identifier is added
  session-expiry  SessionExpiryInterval=2: a QoS 1 message published while the client is away is
                  delivered on a reconnect within 2 s (session present); after 2 s the session
                  is gone (session present = 0)
  will-delay      WillDelayInterval=1: the will is published about 1 s after the socket drops,
                  not at once
  will-dropped    WillDelayInterval=2 and a reconnect within it: no will
  shared          two members of $share/GROUP/FILTER get each message once between them

Then `summary: N ok, M failed`; exit 0 only when nothing failed. Every wait is bounded, and the
whole run is stopped by SIGALRM after 40 s.
"""

import signal
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
QUIET = 0.5
RUN = "paho5-" + uuid.uuid4().hex[:8]


class Failed(Exception):
    pass


class Peer:
    """One paho MQTT 5 client with its network loop in a background thread."""

    def __init__(self, client_id, will=None, will_delay=None):
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            reconnect_on_failure=False,
        )
        if will is not None:
            props = None
            if will_delay is not None:
                props = Properties(PacketTypes.WILLMESSAGE)
                props.WillDelayInterval = will_delay
            self.client.will_set(will[0], will[1], qos=1, properties=props)
        self.cond = threading.Condition()
        self.messages = []
        self.granted = {}
        self.connack = None
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        with self.cond:
            self.connack = (bool(flags.session_present), reason_code)
            self.cond.notify_all()

    def _on_message(self, client, userdata, msg):
        with self.cond:
            self.messages.append((msg.topic, bytes(msg.payload), msg.properties, time.monotonic()))
            self.cond.notify_all()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        with self.cond:
            self.granted[mid] = [rc.value for rc in reason_codes]
            self.cond.notify_all()

    def _wait(self, what, predicate, timeout=WAIT):
        with self.cond:
            if not self.cond.wait_for(predicate, timeout):
                raise Failed(f"no {what} within {timeout} s")

    def connect(self, clean_start=True, expiry=None):
        props = None
        if expiry is not None:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = expiry
        self.client.connect(HOST, PORT, keepalive=30, clean_start=clean_start, properties=props)
        self.client.loop_start()
        self._wait("CONNACK", lambda: self.connack is not None)
        present, reason = self.connack
        if reason.is_failure:
            raise Failed(f"connection refused: {reason}")
        return present

    def subscribe(self, topic, qos, sub_id=None):
        props = None
        if sub_id is not None:
            props = Properties(PacketTypes.SUBSCRIBE)
            props.SubscriptionIdentifier = sub_id
        result, mid = self.client.subscribe(topic, qos, properties=props)
        if result != mqtt.MQTT_ERR_SUCCESS:
            raise Failed(f"subscribe {topic}: {mqtt.error_string(result)}")
        self._wait(f"SUBACK for {topic}", lambda: mid in self.granted)
        return self.granted[mid]

    def publish(self, topic, payload, qos, props=None):
        info = self.client.publish(topic, payload, qos=qos, properties=props)
        info.wait_for_publish(WAIT)
        if not info.is_published():
            raise Failed(f"QoS {qos} publish to {topic} not completed")

    def wait_messages(self, count, timeout=WAIT):
        self._wait(f"{count} messages (got {len(self.messages)})",
                   lambda: len(self.messages) >= count, timeout)
        return list(self.messages)

    def messages_after(self, seconds):
        time.sleep(seconds)
        with self.cond:
            return list(self.messages)

    def disconnect(self):
        self.client.disconnect()
        self.client.loop_stop()

    def drop(self):
        """Close the socket without DISCONNECT."""
        self.client.loop_stop()
        self.client.socket().close()


def check_properties():
    sub = Peer(f"{RUN}-props-sub")
    sub.connect()
    sub.subscribe(f"{RUN}/props", 1, sub_id=42)
    pub = Peer(f"{RUN}-props-pub")
    pub.connect()
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = [("k", "v"), ("k", "w")]
    props.ContentType = "application/json"
    props.ResponseTopic = f"{RUN}/reply"
    props.CorrelationData = b"\x01\x02"
    pub.publish(f"{RUN}/props", b"{}", 1, props)
    (_, payload, got, _), = sub.wait_messages(1)
    expected = {
        "UserProperty": [("k", "v"), ("k", "w")],
        "ContentType": "application/json",
        "ResponseTopic": f"{RUN}/reply",
        "CorrelationData": b"\x01\x02",
        "SubscriptionIdentifier": [42],
    }
    for name, value in expected.items():
        if getattr(got, name, None) != value:
            raise Failed(f"{name} is {getattr(got, name, None)!r}, expected {value!r}")
    sub.disconnect()
    pub.disconnect()


def check_session_expiry():
    cid = f"{RUN}-session"
    peer = Peer(cid)
    if peer.connect(clean_start=True, expiry=2):
        raise Failed("session present on a clean start")
    peer.subscribe(f"{RUN}/s", 1)
    peer.disconnect()
    pub = Peer(f"{RUN}-session-pub")
    pub.connect()
    pub.publish(f"{RUN}/s", b"while away", 1)
    pub.disconnect()
    back = Peer(cid)
    if not back.connect(clean_start=False, expiry=2):
        raise Failed("session not present within its expiry")
    msgs = back.wait_messages(1)
    if msgs[0][1] != b"while away":
        raise Failed(f"queued message: {msgs}")
    back.disconnect()
    time.sleep(2.5)
    late = Peer(cid)
    if late.connect(clean_start=False, expiry=2):
        raise Failed("session still present after its expiry")
    late.disconnect()


def check_will_delay():
    watcher = Peer(f"{RUN}-watch")
    watcher.connect()
    watcher.subscribe(f"{RUN}/will/#", 1)
    peer = Peer(f"{RUN}-will", will=(f"{RUN}/will/a", b"gone"), will_delay=1)
    peer.connect(expiry=30)
    dropped = time.monotonic()
    peer.drop()
    if watcher.messages_after(QUIET):
        raise Failed("the will came before its delay")
    (topic, payload, _, at), = watcher.wait_messages(1)
    if payload != b"gone" or at - dropped < 0.9:
        raise Failed(f"will {payload!r} after {at - dropped:.2f} s")
    watcher.disconnect()


def check_will_dropped():
    watcher = Peer(f"{RUN}-watch2")
    watcher.connect()
    watcher.subscribe(f"{RUN}/will2/#", 1)
    cid = f"{RUN}-will2"
    peer = Peer(cid, will=(f"{RUN}/will2/a", b"gone"), will_delay=2)
    peer.connect(expiry=30)
    peer.drop()
    back = Peer(cid)
    back.connect(clean_start=False, expiry=30)
    if watcher.messages_after(2.5):
        raise Failed("the will was published although the session resumed")
    back.disconnect()
    watcher.disconnect()


def check_shared():
    members = [Peer(f"{RUN}-share-{n}") for n in range(2)]
    for peer in members:
        peer.connect()
        codes = peer.subscribe(f"$share/g/{RUN}/x/#", 1)
        if codes != [1]:
            raise Failed(f"SUBACK {codes}")
    pub = Peer(f"{RUN}-share-pub")
    pub.connect()
    for n in range(6):
        pub.publish(f"{RUN}/x/{n}", str(n).encode(), 1)
    time.sleep(QUIET)
    got = sorted(m[1] for peer in members for m in peer.messages)
    if got != [str(n).encode() for n in range(6)]:
        raise Failed(f"messages across the group: {got}")
    if any(not peer.messages for peer in members):
        raise Failed("one member got nothing")
    for peer in members + [pub]:
        peer.disconnect()


def main():
    signal.alarm(40)
    ok = failed = 0
    for name, check in [
        ("properties", check_properties),
        ("session-expiry", check_session_expiry),
        ("will-delay", check_will_delay),
        ("will-dropped", check_will_dropped),
        ("shared", check_shared),
    ]:
        try:
            check()
            print(f"ok {name}", flush=True)
            ok += 1
        except Exception as err:  # noqa: BLE001 - every failure is reported by name
            print(f"FAIL {name}: {err}", flush=True)
            failed += 1
    print(f"summary: {ok} ok, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
