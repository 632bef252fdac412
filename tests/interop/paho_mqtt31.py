#!/usr/bin/env python3
"""paho-mqtt 2.x speaking MQTT 3.1 (protocol=MQTTv31, "MQIsdp") to a broker on 127.0.0.1:PORT.

Usage: paho_mqtt31.py PORT

Checks, each printed as `ok NAME` (or `FAIL NAME: why`):
  subscribe   SUBACK grants QoS 0, 1 and 2
  delivery    QoS 0, 1 and 2 publishes complete and arrive once each, in order, at their QoS
  retained    a retained message reaches a later subscriber with the retain flag; an empty
              retained publish clears it
  session     clean_session=False: a QoS 1 message published while the client was away is
              delivered on reconnect, and the CONNACK says session present = 0 all the same
              (MQTT 3.1 has no such flag)
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
RUN = "paho31-" + uuid.uuid4().hex[:8]


class Failed(Exception):
    pass


def new_client(client_id, clean_session=True):
    # MQTT 3.1 has no empty client ids: every client here names itself.
    return mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean_session,
        protocol=mqtt.MQTTv31,
        reconnect_on_failure=False,
    )


class Peer:
    """One paho MQTT 3.1 client with its network loop in a background thread."""

    def __init__(self, name, clean_session=True, will=None):
        self.client = new_client(f"{RUN}-{name}", clean_session)
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
        """Connect, start the loop, wait for an accepting CONNACK; returns session present."""
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

    def wait_messages(self, count):
        self._wait(f"{count} messages (got {len(self.messages)})",
                   lambda: len(self.messages) >= count)
        return list(self.messages)

    def messages_after(self, seconds):
        time.sleep(seconds)
        with self.cond:
            return list(self.messages)

    def disconnect(self):
        self.client.disconnect()
        self.client.loop_stop()


def check_delivery(results):
    sub = Peer("sub")
    pub = Peer("pub")
    try:
        sub.connect()
        pub.connect()
        granted = sub.subscribe(f"{RUN}/d/#", 2)
        granted += sub.subscribe(f"{RUN}/d1/#", 1) + sub.subscribe(f"{RUN}/d0/#", 0)
        if granted != [2, 1, 0]:
            raise Failed(f"granted QoS {granted}, expected [2, 1, 0]")
        results.ok("subscribe")
        expected = []
        for qos in (0, 1, 2):
            topic = f"{RUN}/d/{qos}"
            payload = bytes(range(256)) + f" qos {qos}".encode()
            pub.publish(topic, payload, qos)
            expected.append((topic, payload, qos, False))
        got = sub.wait_messages(len(expected))
        got = sub.messages_after(QUIET)
        if got != expected:
            raise Failed(f"got {got}, expected {expected}")
        results.ok("delivery")
    finally:
        sub.disconnect()
        pub.disconnect()


def check_retained(results):
    topic = f"{RUN}/retained"
    pub = Peer("retainer")
    pub.connect()
    try:
        pub.publish(topic, b"kept", 1, retain=True)
        later = Peer("later")
        later.connect()
        try:
            later.subscribe(topic, 1)
            got = later.wait_messages(1)
            if got[0] != (topic, b"kept", 1, True):
                raise Failed(f"got {got[0]}, expected ({topic!r}, b'kept', 1, True)")
        finally:
            later.disconnect()
        pub.publish(topic, b"", 1, retain=True)
        cleared = Peer("cleared")
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


def check_session(results):
    topic = f"{RUN}/persist"
    first = Peer("persist", clean_session=False)
    if first.connect():
        raise Failed("CONNACK session present = 1 for a new session")
    first.subscribe(topic, 1)
    first.disconnect()

    pub = Peer("away")
    pub.connect()
    pub.publish(topic, b"while away", 1)
    pub.disconnect()

    again = Peer("persist", clean_session=False)
    try:
        if again.connect():
            raise Failed("CONNACK session present = 1: MQTT 3.1 has no such flag")
        got = again.wait_messages(1)
        if got[0][:3] != (topic, b"while away", 1):
            raise Failed(f"got {got[0]}, expected ({topic!r}, b'while away', 1, ...)")
    finally:
        again.disconnect()
    cleanup = Peer("persist", clean_session=True)
    cleanup.connect()
    cleanup.disconnect()
    results.ok("session")


def check_will(results):
    topic = f"{RUN}/will"
    watcher = Peer("watcher")
    watcher.connect()
    try:
        watcher.subscribe(topic, 1)
        client = new_client(f"{RUN}-rude")
        client.will_set(topic, b"rude gone", qos=1)
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
        got = watcher.wait_messages(1)
        if got[0][:3] != (topic, b"rude gone", 1):
            raise Failed(f"got {got[0]}, expected ({topic!r}, b'rude gone', 1, ...)")
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
    for name, check in [
        ("delivery", check_delivery),
        ("retained", check_retained),
        ("session", check_session),
        ("will", check_will),
    ]:
        try:
            check(results)
        except Exception as err:  # one failed check must not hide the others
            results.fail(name, f"{type(err).__name__}: {err}")
    print(f"summary: {results.passed} ok, {results.failed} failed", flush=True)
    return 0 if results.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
