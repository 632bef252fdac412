#!/usr/bin/env python3
"""A stand-in broker that measures a subscriber alone: it accepts one MQTT 3.1.1 client, answers
its CONNECT and SUBSCRIBE, then writes COUNT QoS 0 PUBLISH packets (topic bench/feed, payloads
'1'..'COUNT', as `seq` would give) as fast as the socket takes them, and waits for the client to
close. Prints the port it listens on (127.0.0.1, chosen by the OS) on stdout, then the seconds
from the first PUBLISH written to the client's close on stderr.

Usage: bench/feed.py COUNT
"""
import socket
import sys
import time


def remaining_length(n):
    out = bytearray()
    while True:
        byte = n % 128
        n //= 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def read_packet(conn):
    header = conn.recv(1)
    if not header:
        return None, b""
    multiplier, length = 1, 0
    while True:
        byte = conn.recv(1)[0]
        length += (byte & 0x7F) * multiplier
        multiplier *= 128
        if not byte & 0x80:
            break
    body = b""
    while len(body) < length:
        chunk = conn.recv(length - len(body))
        if not chunk:
            break
        body += chunk
    return header[0], body


def main():
    count = int(sys.argv[1])
    topic = b"bench/feed"
    frames = bytearray()
    for i in range(1, count + 1):
        payload = str(i).encode()
        body = len(topic).to_bytes(2, "big") + topic + payload
        frames += b"\x30" + remaining_length(len(body)) + body
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    print(listener.getsockname()[1], flush=True)
    listener.settimeout(60)
    conn, _ = listener.accept()
    conn.settimeout(60)
    kind, _ = read_packet(conn)
    if kind is None or kind >> 4 != 1:
        sys.exit("feed: expected CONNECT")
    conn.sendall(b"\x20\x02\x00\x00")
    kind, body = read_packet(conn)
    if kind is None or kind >> 4 != 8:
        sys.exit("feed: expected SUBSCRIBE")
    conn.sendall(b"\x90\x03" + body[:2] + b"\x00")
    started = time.monotonic()
    conn.sendall(frames)
    while conn.recv(65536):  # DISCONNECT, then the close
        pass
    print(f"{time.monotonic() - started:.3f}", file=sys.stderr)


if __name__ == "__main__":
    main()
