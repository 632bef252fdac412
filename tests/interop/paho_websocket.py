#!/usr/bin/env python3
"""paho-mqtt 2.x over WebSockets against a broker on 127.0.0.1.

Usage: paho_websocket.py PORT [CAFILE]

Without CAFILE: ws://127.0.0.1:PORT/mqtt. With it: wss://localhost:PORT/mqtt, the server
certificate checked against CAFILE.

Prints `ok connect`, `ok subscribe`, `ok round-trip` (a QoS 0, 1 and 2 message published by one
client reach another, in order); the first failure prints `FAIL NAME: why` and exits 1. Every wait
is bounded, and the whole run is stopped by SIGALRM after 30 s.
"""

import signal
import sys
import threading

import paho.mqtt.client as mqtt

PORT = int(sys.argv[1])
CAFILE = sys.argv[2] if len(sys.argv) > 2 else None
HOST = "localhost" if CAFILE else "127.0.0.1"
WAIT = 5.0


class Failed(Exception):
    pass


class Peer:
    def __init__(self):
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            protocol=mqtt.MQTTv311,
            transport="websockets",
            reconnect_on_failure=False,
        )
        self.client.ws_set_options(path="/mqtt")
        if CAFILE:
            self.client.tls_set(ca_certs=CAFILE)
        self.cond = threading.Condition()
        self.connack = None
        self.subacks = 0
        self.messages = []
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        with self.cond:
            self.connack = reason_code
            self.cond.notify_all()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        with self.cond:
            self.subacks += 1
            self.cond.notify_all()

    def _on_message(self, client, userdata, msg):
        with self.cond:
            self.messages.append((msg.topic, bytes(msg.payload), msg.qos))
            self.cond.notify_all()

    def wait(self, what, predicate):
        with self.cond:
            if not self.cond.wait_for(predicate, WAIT):
                raise Failed(f"no {what} within {WAIT} s")

    def connect(self):
        self.client.connect(HOST, PORT, keepalive=30)
        self.client.loop_start()
        self.wait("CONNACK", lambda: self.connack is not None)
        if self.connack.is_failure:
            raise Failed(f"refused: {self.connack}")


def main():
    signal.alarm(30)
    step = "connect"
    try:
        sub, pub = Peer(), Peer()
        sub.connect()
        pub.connect()
        print("ok connect", flush=True)
        step = "subscribe"
        sub.client.subscribe("ws/paho/#", 2)
        sub.wait("SUBACK", lambda: sub.subacks == 1)
        print("ok subscribe", flush=True)
        step = "round-trip"
        expected = []
        for qos in (0, 1, 2):
            payload = f"qos {qos} over websockets".encode() * (1 + 1000 * qos)
            info = pub.client.publish(f"ws/paho/{qos}", payload, qos=qos)
            info.wait_for_publish(WAIT)
            if not info.is_published():
                raise Failed(f"QoS {qos} publish not completed")
            expected.append((f"ws/paho/{qos}", payload, qos))
        sub.wait("3 messages", lambda: len(sub.messages) >= 3)
        if sub.messages != expected:
            raise Failed(f"got {sub.messages}")
        print("ok round-trip", flush=True)
        for peer in (sub, pub):
            peer.client.disconnect()
            peer.client.loop_stop()
    except Exception as err:
        print(f"FAIL {step}: {type(err).__name__}: {err}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
