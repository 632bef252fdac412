#!/usr/bin/env python3
"""paho-mqtt 2.x (MQTT 3.1.1) against a broker on 127.0.0.1:PORT.

Usage: paho_pubsub.py PORT

Checks, each printed as `ok NAME` (or `FAIL NAME: why`):
  subscribe   SUBACK grants QoS 1 and QoS 2
  publish     QoS 0, 1 and 2 publishes complete (QoS 2: PUBCOMP received)
  delivery    each message arrives once, in order, at min(publish QoS, subscription QoS)
  retained    a retained message reaches a later subscriber with the retain flag; an empty
              retained publish clears it
  session     clean_session=False: a QoS 1 message published while the client was away is
              delivered on reconnect, with session present = 1
  no-will     a clean DISCONNECT drops the will
  will        a socket closed without DISCONNECT makes the broker publish the will

Then `summary: N ok, M failed`; exit 0 only when nothing failed. Every wait is bounded, and the
whole run is stopped by SIGALRM after 40 s.
"""

import signal
import socket
import sys
import threading
import time
import uuid

import paho.mqtt.client as mqtt

HOST = "127.0.0.1"
PORT = int(sys.argv[1])
WAIT = 5.0  # the longest wait for something that should happen
QUIET = 0.5  # how long to watch for something that should not happen
# Topics and client ids unique to this run, so a shared broker cannot confuse two runs.
RUN = "paho-" + uuid.uuid4().hex[:8]


class Failed(Exception):
    pass


class Peer:
    """One paho client with its network loop in a background thread."""

    def __init__(self, client_id="", clean_session=True, will=None):
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_session,
            protocol=mqtt.MQTTv311,
            reconnect_on_failure=False,
        )
        if will is not None:
            topic, payload, qos = will
            self.client.will_set(topic, payload, qos=qos)
        self.cond = threading.Condition()
        self.messages = []
        self.granted = {}
        self.connack = None  # (session present, reason code)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        with self.cond:
            self.connack = (bool(flags.session_present), reason_code)
            self.cond.notify_all()

    def _on_message(self, client, userdata, msg):
        with self.cond:
            self.messages.append((msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain)))
            self.cond.notify_all()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        with self.cond:
            self.granted[mid] = [rc.value for rc in reason_codes]
            self.cond.notify_all()

    def _wait(self, what, predicate, timeout=WAIT):
        with self.cond:
            if not self.cond.wait_for(predicate, timeout):
                raise Failed(f"no {what} within {timeout} s")

    def connect(self):
        """Connect, start the loop, and wait for an accepting CONNACK; returns session present."""
        self.client.connect(HOST, PORT, keepalive=30)
        self.client.loop_start()
        self._wait("CONNACK", lambda: self.connack is not None)
        session_present, reason = self.connack
        if reason.is_failure:
            raise Failed(f"connection refused: {reason}")
        return session_present

    def subscribe(self, topic, qos):
        result, mid = self.client.subscribe(topic, qos)
        if result != mqtt.MQTT_ERR_SUCCESS:
            raise Failed(f"subscribe {topic}: {mqtt.error_string(result)}")
        self._wait(f"SUBACK for {topic}", lambda: mid in self.granted)
        return self.granted[mid]

    def publish(self, topic, payload, qos, retain=False):
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(WAIT)
        if not info.is_published():
            raise Failed(f"QoS {qos} publish to {topic} not completed within {WAIT} s")

    def wait_messages(self, count, timeout=WAIT):
        self._wait(f"{count} messages (got {len(self.messages)})",
                   lambda: len(self.messages) >= count, timeout)
        return list(self.messages)

    def messages_after(self, seconds):
        """Everything received once `seconds` have passed (for "nothing more arrives")."""
        time.sleep(seconds)
        with self.cond:
            return list(self.messages)

    def disconnect(self):
        self.client.disconnect()
        self.client.loop_stop()


def drop_without_disconnect(client_id, will):
    """Connect a client with a will, then close its socket without sending DISCONNECT."""
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv311,
        reconnect_on_failure=False,
    )
    topic, payload, qos = will
    client.will_set(topic, payload, qos=qos)
    connected = []
    client.on_connect = lambda c, u, flags, rc, props: connected.append(rc)
    client.connect(HOST, PORT, keepalive=30)
    deadline = time.monotonic() + WAIT
    while not connected and time.monotonic() < deadline:
        client.loop(0.1)  # no loop thread: nothing else touches the socket
    if not connected or connected[0].is_failure:
        raise Failed(f"the will client did not connect: {connected}")
    sock = client.socket()
    sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def check_subscribe_publish_delivery(results):
    sub = Peer()
    pub = Peer()
    try:
        sub.connect()
        pub.connect()
        granted = sub.subscribe(f"{RUN}/q1/#", 1) + sub.subscribe(f"{RUN}/q2/#", 2)
        if granted != [1, 2]:
            raise Failed(f"granted QoS {granted}, expected [1, 2]")
        results.ok("subscribe")

        expected = []
        for ceiling in (1, 2):
            for qos in (0, 1, 2):
                topic = f"{RUN}/q{ceiling}/{qos}"
                payload = f"qos {qos} under {ceiling}".encode()
                pub.publish(topic, payload, qos)
                expected.append((topic, payload, min(qos, ceiling), False))
        results.ok("publish")

        sub.wait_messages(len(expected))
        got = sub.messages_after(QUIET)
        # One publisher, one connection: the broker keeps the order per topic filter. Compare
        # per subscription (the two filters are disjoint) to not depend on interleaving.
        for ceiling in (1, 2):
            prefix = f"{RUN}/q{ceiling}/"
            want = [m for m in expected if m[0].startswith(prefix)]
            have = [m for m in got if m[0].startswith(prefix)]
            if have != want:
                raise Failed(f"under QoS {ceiling}: got {have}, expected {want}")
        if len(got) != len(expected):
            raise Failed(f"{len(got)} messages, expected {len(expected)}: {got}")
        results.ok("delivery")
    finally:
        sub.disconnect()
        pub.disconnect()


def check_retained(results):
    topic = f"{RUN}/retained"
    pub = Peer()
    pub.connect()
    try:
        pub.publish(topic, b"kept", 1, retain=True)
        later = Peer()
        later.connect()
        try:
            later.subscribe(topic, 1)
            got = later.wait_messages(1)
            if got[0] != (topic, b"kept", 1, True):
                raise Failed(f"got {got[0]}, expected ({topic!r}, b'kept', 1, True)")
        finally:
            later.disconnect()

        pub.publish(topic, b"", 1, retain=True)
        cleared = Peer()
        cleared.connect()
        try:
            cleared.subscribe(topic, 1)
            got = cleared.messages_after(QUIET)
            if got:
                raise Failed(f"the retained message was not cleared: {got}")
        finally:
            cleared.disconnect()
        results.ok("retained")
    finally:
        pub.disconnect()


def check_persistent_session(results):
    topic = f"{RUN}/persist"
    client_id = f"{RUN}-persist"
    first = Peer(client_id, clean_session=False)
    first.connect()
    first.subscribe(topic, 1)
    first.disconnect()

    pub = Peer()
    pub.connect()
    pub.publish(topic, b"while away", 1)
    pub.disconnect()

    again = Peer(client_id, clean_session=False)
    try:
        session_present = again.connect()
        if not session_present:
            raise Failed("CONNACK session present = 0 for a kept session")
        got = again.wait_messages(1)
        if got[0][:3] != (topic, b"while away", 1):
            raise Failed(f"got {got[0]}, expected ({topic!r}, b'while away', 1, ...)")
        got = again.messages_after(QUIET)
        if len(got) != 1:
            raise Failed(f"the queued message came {len(got)} times: {got}")
    finally:
        again.disconnect()
    # Leave nothing behind: a clean session discards the kept one.
    cleanup = Peer(client_id, clean_session=True)
    cleanup.connect()
    cleanup.disconnect()
    results.ok("session")


def check_wills(results):
    topic = f"{RUN}/will"
    watcher = Peer()
    watcher.connect()
    try:
        watcher.subscribe(topic, 1)

        polite = Peer(f"{RUN}-polite", will=(topic, b"polite gone", 1))
        polite.connect()
        polite.disconnect()
        got = watcher.messages_after(QUIET)
        if got:
            raise Failed(f"a will was published after a clean DISCONNECT: {got}")
        results.ok("no-will")

        drop_without_disconnect(f"{RUN}-rude", will=(topic, b"rude gone", 1))
        got = watcher.wait_messages(1)
        if got[0][:3] != (topic, b"rude gone", 1):
            raise Failed(f"got {got[0]}, expected ({topic!r}, b'rude gone', 1, ...)")
        got = watcher.messages_after(QUIET)
        if len(got) != 1:
            raise Failed(f"{len(got)} messages on the will topic, expected 1: {got}")
        results.ok("will")
    finally:
        watcher.disconnect()


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self, name):
        self.passed += 1
        print(f"ok {name}", flush=True)

    def fail(self, name, why):
        self.failed += 1
        print(f"FAIL {name}: {why}", flush=True)


def main():
    signal.alarm(40)  # SIGALRM's default action ends the process: the run is bounded
    results = Results()
    checks = [
        ("delivery", check_subscribe_publish_delivery),
        ("retained", check_retained),
        ("session", check_persistent_session),
        ("will", check_wills),
    ]
    for name, check in checks:
        try:
            check(results)
        except Exception as err:  # one failed check must not hide the others
            results.fail(name, f"{type(err).__name__}: {err}")
    print(f"summary: {results.passed} ok, {results.failed} failed", flush=True)
    return 0 if results.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
