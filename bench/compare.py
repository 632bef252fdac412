#!/usr/bin/env python3
"""skeeter against mosquitto 2.0, side by side in one run on loopback: the eight figures of
BENCHMARKS.md. Run through bench/compare.sh (which builds the release binary first).

Every figure is measured on both sides with the same drive: the same broker for the clients'
figures (1-3), the same clients (`skeeter bench`) for the brokers' figures (4-5). Ratios are
"skeeter is N times better" (above 1: skeeter ahead), each next to its target. CPU seconds of
each process are taken from the kernel (wait4 for the clients, /proc/PID/stat for the brokers),
so a figure limited by the load generator, or by the other side, shows as such.
"""
import argparse
import re
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKEETER = str(ROOT / "target" / "release" / "skeeter")
TICKS = os.sysconf("SC_CLK_TCK")
RESULTS = []  # (item, figure, skeeter, mosquitto, ratio, target, met)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu(pid):
    """User + system CPU seconds of a running process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def proc_peak_rss(pid):
    """Peak resident set (VmHWM) of a running process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


class Run:
    """A client process: wall time, CPU seconds and peak RSS from wait4."""

    def __init__(self, cmd, stdin=None, stdout=subprocess.DEVNULL):
        self.cmd = cmd
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE)
        self.wall = self.cpu = self.peak_rss = None
        self.code = None

    def wait(self, timeout=120):
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                self.proc.kill()
                pid, status, usage = os.wait4(self.proc.pid, 0)
                break
            time.sleep(0.0005)
        self.wall = time.perf_counter() - self.started
        self.cpu = usage.ru_utime + usage.ru_stime
        self.peak_rss = usage.ru_maxrss * 1024
        self.code = os.waitstatus_to_exitcode(status)
        self.proc.returncode = self.code
        self.stderr = self.proc.stderr.read().decode(errors="replace")
        return self


def run(cmd, timeout=120, **kw):
    return Run(cmd, **kw).wait(timeout)


class Broker:
    """mosquitto or `skeeter broker` on a free port of 127.0.0.1, nothing dropped for a slow
    subscriber (mosquitto: max_queued_messages 0; skeeter's default)."""

    def __init__(self, kind, work):
        self.kind = kind
        self.port = free_port()
        if kind == "mosquitto":
            conf = Path(work) / f"mosquitto-{self.port}.conf"
            conf.write_text(
                f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                "max_queued_messages 0\n"
            )
            conf.chmod(0o644)
            cmd = ["mosquitto", "-c", str(conf)]
        else:
            cmd = [SKEETER, "broker", "--bind", "127.0.0.1", "--port", str(self.port), "-q"]
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.first_connack = connack_after(self.port, self.started)

    @property
    def pid(self):
        return self.proc.pid

    def cpu(self):
        return proc_cpu(self.pid)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


CONNECT = bytes.fromhex("100d00044d5154540402003c0001") + b"c"


def connack_after(port, started, limit=10.0):
    """Seconds from `started` to a CONNACK on `port` (connecting every 0.2 ms until the port
    answers)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(CONNECT)
                reply = s.recv(4)
                if reply[:1] == b"\x20":
                    return time.perf_counter() - started
        except OSError:
            time.sleep(0.0002)
    raise SystemExit(f"compare: no CONNACK on port {port} within {limit} s")


def record(item, figure, ours, theirs, ratio, target, met):
    RESULTS.append((item, figure, ours, theirs, ratio, target, met))
    mark = "met" if met else "NOT met"
    print(f"  {figure}: skeeter {ours} | mosquitto {theirs} | {ratio:.2f}x ({target}: {mark})",
          flush=True)


# ---------------------------------------------------------------------------------------------
# 1-3: the clients, against one mosquitto broker


def one_shot(work, runs):
    print(f"1. one-shot `pub -q 1 -m hello`, process start to exit ({runs} runs each)", flush=True)
    with Broker("mosquitto", work) as broker:
        port = str(broker.port)
        ours, theirs = [], []
        for _ in range(runs):  # interleaved, so both see the same machine
            ours.append(run([SKEETER, "pub", "-p", port, "-t", "bench/one", "-q", "1", "-m",
                             "hello"]).wall)
            theirs.append(run(["mosquitto_pub", "-p", port, "-t", "bench/one", "-q", "1", "-m",
                               "hello"]).wall)
    a, b = statistics.median(ours) * 1000, statistics.median(theirs) * 1000
    record(1, "one-shot pub -q 1, median ms", f"{a:.2f} ms", f"{b:.2f} ms", b / a,
           "time <= 1.0x mosquitto_pub's", a <= b)


def counted_subscriber(port, topic, qos, count, out):
    sub = Run([SKEETER, "sub", "-p", str(port), "-t", topic, "-q", str(qos), "-C", str(count),
               "-W", "120"], stdout=out)
    time.sleep(0.5)
    return sub


def numbered_lines(work, count):
    """A file of the lines 1..count (what `seq` prints), written once per run."""
    path = Path(work) / f"lines-{count}"
    if not path.exists():
        path.write_bytes(b"".join(b"%d\n" % i for i in range(1, count + 1)))
    return path


def pub_lines(work, lines_file, count, qos, pub_cmd, broker):
    topic = f"bench/lines/{pub_cmd[0].rsplit('/', 1)[-1]}/{qos}/{time.monotonic_ns()}"
    with open(Path(work) / "got", "wb") as got:
        sub = counted_subscriber(broker.port, topic, qos, count, got)
        cpu0 = broker.cpu()
        with open(lines_file, "rb") as stdin:
            pub = run(pub_cmd + ["-p", str(broker.port), "-t", topic, "-q", str(qos), "-l"],
                      stdin=stdin)
        broker_cpu = broker.cpu() - cpu0
        # what a lossy publisher left out never comes: the subscriber times out
        sub.wait(timeout=10 + count / 20000)
    delivered = sum(1 for _ in open(Path(work) / "got", "rb"))
    return pub, delivered, broker_cpu


def pub_l(work, count):
    lines_file = numbered_lines(work, count)
    targets = {0: 1.5, 1: 3.0}
    for qos in (0, 1):
        print(f"2. `pub -l` of {count} lines at QoS {qos} into mosquitto, counted at a subscriber",
              flush=True)
        with Broker("mosquitto", work) as broker:
            ours, ours_got, ours_broker = pub_lines(work, lines_file, count, qos,
                                                    [SKEETER, "pub"], broker)
        with Broker("mosquitto", work) as broker:
            theirs, theirs_got, theirs_broker = pub_lines(work, lines_file, count, qos,
                                                          ["mosquitto_pub"], broker)
        ours_rate, theirs_rate = ours_got / ours.wall, theirs_got / theirs.wall
        detail = (lambda r, got, b: f"{r.wall:.3f} s, {got} delivered, "
                  f"{got / r.wall:,.0f} msg/s, CPU {r.cpu:.2f} s (broker {b:.2f} s)")
        record(2, f"pub -l {count} QoS {qos}", detail(ours, ours_got, ours_broker),
               detail(theirs, theirs_got, theirs_broker), ours_rate / theirs_rate,
               f"delivered rate >= {targets[qos]}x",
               ours_rate / theirs_rate >= targets[qos] and ours_got == count)


def sub_pipe(work, count):
    print(f"3. `sub` receiving {count} messages into a pipe", flush=True)
    # (a) the client alone: bench/feed.py writes the messages as fast as the socket takes them
    walls = {}
    for name, cmd in (("skeeter", [SKEETER, "sub"]), ("mosquitto", ["mosquitto_sub"])):
        samples = []
        for _ in range(3):
            feed = subprocess.Popen([sys.executable, str(ROOT / "bench" / "feed.py"), str(count)],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            port = feed.stdout.readline().strip()
            with open(Path(work) / "piped", "wb") as out:
                sub = run(cmd + ["-p", port, "-t", "bench/feed", "-C", str(count)], stdout=out)
            feed.wait(30)
            got = sum(1 for _ in open(Path(work) / "piped", "rb"))
            if got != count:
                raise SystemExit(f"compare: {name} sub printed {got} of {count}")
            samples.append(sub)
        walls[name] = min(samples, key=lambda r: r.wall)
    a, b = walls["skeeter"], walls["mosquitto"]
    record(3, f"sub {count} QoS 0 from bench/feed.py (the client alone)",
           f"{a.wall:.3f} s, CPU {a.cpu:.2f} s", f"{b.wall:.3f} s, CPU {b.cpu:.2f} s",
           b.wall / a.wall, "rate >= 1.5x", b.wall / a.wall >= 1.5)
    # (b) through mosquitto, fed by skeeter pub -l at QoS 1: the broker's pace
    lines_file = numbered_lines(work, count)
    results = {}
    for name, cmd in (("skeeter", [SKEETER, "sub"]), ("mosquitto", ["mosquitto_sub"])):
        with Broker("mosquitto", work) as broker:
            topic = f"bench/sub/{name}"
            with open(Path(work) / "piped", "wb") as out:
                sub = Run(cmd + ["-p", str(broker.port), "-t", topic, "-q", "1", "-C", str(count)],
                          stdout=out)
                time.sleep(0.5)
                cpu0 = broker.cpu()
                started = time.perf_counter()
                with open(lines_file, "rb") as stdin:
                    run([SKEETER, "pub", "-p", str(broker.port), "-t", topic, "-q", "1", "-l"],
                        stdin=stdin)
                sub.wait()
                results[name] = (time.perf_counter() - started, sub.cpu, broker.cpu() - cpu0)
    (a, ac, ab), (b, bc, bb) = results["skeeter"], results["mosquitto"]
    record(3, f"sub {count} QoS 1 through mosquitto (the broker's pace)",
           f"{a:.3f} s, CPU {ac:.2f} s (broker {ab:.2f} s)",
           f"{b:.3f} s, CPU {bc:.2f} s (broker {bb:.2f} s)", b / a, "(context)", True)


# ---------------------------------------------------------------------------------------------
# 4-5: the brokers, driven by the same `skeeter bench`


def bench(broker, *args):
    cpu0 = broker.cpu()
    result = run([SKEETER, "bench", "-h", "127.0.0.1", "-p", str(broker.port), "--json",
                  *args], stdout=subprocess.PIPE, timeout=300)
    broker_cpu = broker.cpu() - cpu0
    # 15: QoS 1/2 messages lost (a broker's queue limit); the summary says how many
    if result.code not in (0, 15):
        raise SystemExit(f"compare: skeeter bench {' '.join(args)} exited {result.code}: "
                         f"{result.stderr.strip()}")
    summary = json.loads(result.proc.stdout.read())
    return summary, result.cpu, broker_cpu


MQLOAD_LINE = re.compile(
    r"delivered (\d+)/(\d+) in ([\d.]+) s = (\d+) msg/s; latency us p50 (\d+) p90 (\d+) "
    r"p99 (\d+) p99.9 (\d+) max (\d+); broker cpu ([\d.]+) s .*mqload cpu ([\d.]+) s")


def mqload(work, broker, *args):
    """bench/mqload.c (built once): delivered, expected, rate, latency (us) and CPU seconds."""
    exe = Path(work) / "mqload"
    if not exe.exists():
        subprocess.run(["cc", "-O2", "-o", str(exe), str(ROOT / "bench" / "mqload.c")],
                       check=True)
    out = subprocess.run([str(exe), "-p", str(broker.port), "-b", str(broker.pid), *args],
                         capture_output=True, text=True, timeout=300).stdout
    m = MQLOAD_LINE.search(out)
    if not m:
        raise SystemExit(f"compare: mqload {' '.join(args)} printed {out!r}")
    g = m.groups()
    return {"delivered": int(g[0]), "expected": int(g[1]), "rate": float(g[3]),
            "p50": float(g[4]), "p99": float(g[6]), "max": float(g[8]),
            "broker_cpu": float(g[9]), "mqload_cpu": float(g[10])}


MQLOAD_SHAPES = {
    "fan-out (1 publisher, 10 subscribers)": ("-s", "10", "-P", "1"),
    "fan-in (10 publishers, 1 subscriber)": ("-s", "1", "-P", "10"),
}


def throughput(work, duration):
    shapes = {
        "fan-out (1 publisher, 10 subscribers)": (
            ["--publishers", "1", "--subscribers", "10", "-t", "bench/fanout"], 2.0),
        "fan-in (10 publishers, 1 subscriber)": (
            ["--publishers", "10", "--subscribers", "1", "-t", "bench/%i"], 1.5),
    }
    for qos in ("0", "1"):
        for shape, (args, target) in shapes.items():
            print(f"4. broker throughput, {shape}, QoS {qos}, {duration} s", flush=True)
            figures = {}
            for kind in ("skeeter", "mosquitto"):
                with Broker(kind, work) as broker:
                    summary, gen_cpu, broker_cpu = bench(
                        broker, *args, "-q", qos, "--duration", str(duration), "--warmup", "1")
                figures[kind] = (summary, gen_cpu, broker_cpu)
            a, b = (received_rate(figures[k][0]) for k in ("skeeter", "mosquitto"))
            show = (lambda k: f"{received_rate(figures[k][0]):,.0f} msg/s received "
                    f"({sent_rate(figures[k][0]):,.0f} sent, "
                    f"{figures[k][0]['messages']['lost']:,} lost), CPU broker "
                    f"{figures[k][2]:.1f} s, bench {figures[k][1]:.1f} s")
            record(4, f"{shape}, QoS {qos}, skeeter bench", show("skeeter"), show("mosquitto"),
                   a / b, f">= {target}x", a / b >= target)
            # the same shape from mqload.c, a generator lighter than either broker
            load = {}
            for kind in ("skeeter", "mosquitto"):
                with Broker(kind, work) as broker:
                    load[kind] = mqload(work, broker, *MQLOAD_SHAPES[shape], "-n", "100000",
                                        "-q", qos, "-W")
            a, b = load["skeeter"]["rate"], load["mosquitto"]["rate"]
            show = (lambda k: f"{load[k]['rate']:,.0f} msg/s delivered "
                    f"({load[k]['delivered']:,} of {load[k]['expected']:,}), CPU broker "
                    f"{load[k]['broker_cpu']:.2f} s, mqload {load[k]['mqload_cpu']:.2f} s")
            record(4, f"{shape}, QoS {qos}, mqload", show("skeeter"), show("mosquitto"), a / b,
                   f">= {target}x", a / b >= target)


def received_rate(summary):
    return summary["throughput"]["steady"]["received_msg_s"]


def sent_rate(summary):
    return summary["throughput"]["steady"]["sent_msg_s"]


def latency(work, duration):
    print("5. broker latency at half of mosquitto's peak rate", flush=True)
    with Broker("mosquitto", work) as broker:
        summary, _, _ = bench(broker, "-q", "1", "--duration", str(duration), "--warmup", "1")
    peak = received_rate(summary)
    rate = peak / 2
    figures = {}
    for kind in ("skeeter", "mosquitto"):
        with Broker(kind, work) as broker:
            summary, _, _ = bench(broker, "-q", "1", "--rate", f"{rate:.0f}", "--duration",
                                  str(duration), "--warmup", "1")
        figures[kind] = summary["latency_ms"]["end_to_end"]
    a, b = figures["skeeter"], figures["mosquitto"]
    show = lambda f: f"p50 {f['p50']:.3f} ms, p99 {f['p99']:.3f} ms, max {f['max']:.3f} ms"
    record(5, f"1 -> 1, QoS 1, skeeter bench at {rate:,.0f} msg/s (mosquitto's peak "
           f"{peak:,.0f})", show(a), show(b), b["p99"] / a["p99"], "p99 <= mosquitto's",
           a["p99"] <= b["p99"])
    for qos in ("0", "1"):
        with Broker("mosquitto", work) as broker:
            peak = mqload(work, broker, "-s", "10", "-P", "1", "-n", "50000", "-q", qos,
                          "-W")["rate"]
        half = int(peak / 20)  # publishes per second: half the peak's, over 10 subscribers
        load = {}
        for kind in ("skeeter", "mosquitto"):
            with Broker(kind, work) as broker:
                load[kind] = mqload(work, broker, "-s", "10", "-P", "1", "-n", str(half * 4),
                                    "-r", str(half), "-q", qos, "-W")
        a, b = load["skeeter"], load["mosquitto"]
        show = lambda f: f"p50 {f['p50']:.0f} us, p99 {f['p99']:.0f} us, max {f['max']:.0f} us"
        record(5, f"1 -> 10, QoS {qos}, mqload at {half:,} publishes/s (mosquitto's peak "
               f"{peak:,.0f} deliveries/s)", show(a), show(b), b["p99"] / a["p99"],
               "p99 <= mosquitto's", a["p99"] <= b["p99"])


# ---------------------------------------------------------------------------------------------
# 6-8


def idle_connections(connections):
    print(f"6. broker RSS per idle connection at {connections} connections", flush=True)
    out = subprocess.run([str(ROOT / "bench" / "connections.sh"), str(connections)],
                         capture_output=True, text=True, check=True).stdout
    # "RSS per idle connection (10000 connections): skeeter 3742 B, mosquitto 734 B, ..."
    line = next(l for l in out.splitlines() if l.startswith("RSS per idle connection"))
    words = line.replace(",", "").split()
    per = {name: int(words[words.index(name) + 1]) for name in ("skeeter", "mosquitto")}
    a, b = per["skeeter"], per["mosquitto"]
    record(6, f"RSS per idle connection ({connections})", f"{a:,} B", f"{b:,} B", b / a,
           "<= mosquitto's", a <= b)


def start_to_connack(work, runs):
    print(f"7. broker process start to first CONNACK ({runs} starts each)", flush=True)
    times = {"skeeter": [], "mosquitto": []}
    for _ in range(runs):
        for kind in times:
            with Broker(kind, work) as broker:
                times[kind].append(broker.first_connack * 1000)
    a, b = statistics.median(times["skeeter"]), statistics.median(times["mosquitto"])
    record(7, "start to first CONNACK, median", f"{a:.2f} ms (max {max(times['skeeter']):.2f})",
           f"{b:.2f} ms (max {max(times['mosquitto']):.2f})", b / a, "<= 5 ms", a <= 5.0)


def big_payload(work, size):
    print(f"8. one {size:,}-byte payload, pub -> broker -> sub", flush=True)
    payload = Path(work) / "payload"
    with open(payload, "wb") as f:
        f.write(os.urandom(size))
    stacks = {
        "skeeter": ([SKEETER, "pub", "-q", "1", "-f", str(payload)],
                    [SKEETER, "sub", "-q", "1", "-C", "1", "-N"]),
        "mosquitto": (["mosquitto_pub", "-q", "1", "-f", str(payload)],
                      ["mosquitto_sub", "-q", "1", "-C", "1", "-N"]),
    }
    figures = {}
    for kind, (pub_cmd, sub_cmd) in stacks.items():
        with Broker(kind, work) as broker:
            port = ["-p", str(broker.port), "-t", "bench/big"]
            received = Path(work) / "received"
            with open(received, "wb") as out:
                sub = Run(sub_cmd + port, stdout=out)
                time.sleep(0.5)
                started = time.perf_counter()
                pub = run(pub_cmd + port, timeout=300)
                sub.wait(timeout=300)
                took = time.perf_counter() - started
            broker_peak = proc_peak_rss(broker.pid)
        same = received.stat().st_size == size and received.read_bytes() == payload.read_bytes()
        figures[kind] = (took, pub.peak_rss, broker_peak, sub.peak_rss, same)
        received.unlink()
    payload.unlink()

    def show(f):
        took, p, b, s, same = f
        return (f"{size / took / 1e6:,.0f} MB/s ({took:.2f} s), peak RSS pub {p / 1e6:,.0f} MB, "
                f"broker {b / 1e6:,.0f} MB, sub {s / 1e6:,.0f} MB"
                + ("" if same else ", NOT the same bytes"))

    a, b = figures["skeeter"], figures["mosquitto"]
    worst = max(a[1], a[2], a[3])
    record(8, f"{size:,}-byte payload end to end", show(a), show(b), b[0] / a[0],
           ">= 500 MB/s, each peak RSS <= 3x payload",
           size / a[0] >= 500e6 and worst <= 3 * size and a[4])


# ---------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="1,2,3,4,5,6,7,8", help="items to run, e.g. 1,4")
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=100, help="one-shot runs (item 1)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per bench run (4, 5)")
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--payload", type=int, default=256_000_000)
    opts = parser.parse_args()
    only = {int(i) for i in opts.only.split(",")}
    for tool in ("mosquitto", "mosquitto_pub", "mosquitto_sub"):
        if not shutil.which(tool):
            raise SystemExit(f"compare: {tool} not found (apt-get install mosquitto "
                             "mosquitto-clients)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    mosquitto_version = subprocess.run(["mosquitto", "-h"], capture_output=True,
                                       text=True).stdout.splitlines()[0]
    skeeter_version = subprocess.run([SKEETER, "--version"], capture_output=True,
                                     text=True).stdout.strip()
    print(f"machine: {os.cpu_count()} cores, {platform.platform()}, "
          f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB; "
          f"{skeeter_version} (release) against {mosquitto_version}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", flush=True)
    with tempfile.TemporaryDirectory() as work:
        os.chmod(work, 0o755)  # mosquitto started as root reads its config as `mosquitto`
        steps = {
            1: lambda: one_shot(work, opts.runs),
            2: lambda: pub_l(work, opts.lines),
            3: lambda: sub_pipe(work, opts.lines),
            4: lambda: throughput(work, opts.duration),
            5: lambda: latency(work, opts.duration),
            6: lambda: idle_connections(opts.connections),
            7: lambda: start_to_connack(work, 20),
            8: lambda: big_payload(work, opts.payload),
        }
        for item in sorted(only):
            steps[item]()
    print("\n| # | figure | skeeter | mosquitto | skeeter ahead by | target | |")
    print("|---|---|---|---|---|---|---|")
    for item, figure, ours, theirs, ratio, target, met in RESULTS:
        print(f"| {item} | {figure} | {ours} | {theirs} | {ratio:.2f}x | {target} | "
              f"{'met' if met else '**not met**'} |")


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    main()
