#!/usr/bin/env python3
"""make bench-accuracy: how close mconnd's reported latency is to a path of known cost.

The path: the fixture echo server in its delay mode (echod -m delay -D US), which
sends each echo D after the kernel received the bytes it answers, at real-time
priority when it can have it (chrt -f) so that its own wake-ups do not add to the
cost. A cycle makes two round trips through it (connect, message 1, its echo,
message 2, its echo, close) and the connect costs no hold, so the path costs 2 x D.

Two phases, each with a fresh daemon: the path target alone, then the same target
while the daemon also runs LOAD sessions cycling every LOAD_INTERVAL against a
second echo server (close = rst: no TIME_WAIT search in connect()) and answers a
/metrics scrape every second. Each phase reports
the p50 and p99 of the target's latency as status -j gives them (the last minute's
histogram: a bucket midpoint, so values within about 1 % read the same) and, from
every cycle's own figure sampled through sessions -j, the exact p50 and p99.

Environment: BUILD (default build), OLD_BUILD (a second build to measure beside it,
e.g. main's), D_US (10000), SESSIONS (10, of the path target, every 100 ms), LOAD
(10000), LOAD_INTERVAL (1s), DUR (measured seconds per phase, 30), WARM (5).
Python 3 standard library only.
"""
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
D_US = int(os.environ.get("D_US", "10000"))
SESSIONS = int(os.environ.get("SESSIONS", "10"))
LOAD = int(os.environ.get("LOAD", "10000"))
LOAD_INTERVAL = os.environ.get("LOAD_INTERVAL", "1s")
DUR = float(os.environ.get("DUR", "30"))
WARM = float(os.environ.get("WARM", "5"))
ROUND_TRIPS = 2


def build_dir(name):
    d = os.environ.get(name)
    if not d:
        return None
    return d if os.path.isabs(d) else os.path.join(TOP, d)


def wait_file(path, limit=5.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if os.path.exists(path) and os.path.getsize(path) > 0:
            return True
        time.sleep(0.05)
    return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Run:
    """One daemon and its echo servers in a scratch directory."""

    def __init__(self, build, loaded, echod):
        self.build, self.loaded, self.echod_bin = build, loaded, echod
        self.dir = tempfile.mkdtemp(prefix="mconn-accuracy.")
        self.sock = os.path.join(self.dir, "mconnd.sock")
        self.procs = []

    def spawn(self, argv, **kw):
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, **kw)
        self.procs.append(p)
        return p

    def echod(self, name, args):
        port = os.path.join(self.dir, name + ".port")
        self.spawn(args + ["-q", "-l", "127.0.0.1:0", "-p", port, "-n", "100000"])
        if not wait_file(port):
            sys.exit("echod %s did not start" % name)
        return int(open(port).read())

    def ctl(self, *args):
        env = dict(os.environ, MCONND_SOCKET=self.sock)
        out = subprocess.run([os.path.join(self.build, "mconnctl"), "-j"] + list(args),
                             env=env, capture_output=True, text=True, timeout=10)
        return json.loads(out.stdout) if out.returncode == 0 else None

    def start(self):
        echod = self.echod_bin
        rt = ["chrt", "-f", "20"] if shutil.which("chrt") and \
            subprocess.run(["chrt", "-f", "20", "true"]).returncode == 0 else []
        self.rt = bool(rt)
        path_port = self.echod("path", rt + [echod, "-m", "delay", "-D", str(D_US)])
        conf = ["[daemon]", "control_socket = " + self.sock, "log_level = notice"]
        if self.loaded:
            self.metrics = free_port()
            conf.append("metrics_listen = 127.0.0.1:%d" % self.metrics)
        conf += ['[target "path"]', "address = 127.0.0.1:%d" % path_port,
                 "connections = %d" % SESSIONS, "interval = 100ms", "timeout = 5s"]
        if self.loaded:
            load_port = self.echod("load", [echod, "-m", "echo", "-F"])
            conf += ['[target "load"]', "address = 127.0.0.1:%d" % load_port,
                     "connections = %d" % LOAD, "interval = " + LOAD_INTERVAL,
                     "close = rst", "timeout = 5s", "connect_timeout = 5s"]
        cpath = os.path.join(self.dir, "mconnd.conf")
        with open(cpath, "w") as f:
            f.write("\n".join(conf) + "\n")
        self.log = open(os.path.join(self.dir, "mconnd.log"), "w")
        self.spawn([os.path.join(self.build, "mconnd"), "-c", cpath], stderr=self.log)
        end = time.monotonic() + 10
        while time.monotonic() < end and self.ctl("version") is None:
            time.sleep(0.1)

    def scrape(self):
        if not self.loaded:
            return
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics,
                                   timeout=5).read()
        except OSError:
            self.scrape_errors += 1

    def measure(self):
        """Sample each cycle's latency for DUR seconds; then status -j's figures."""
        self.scrape_errors = 0
        end_warm = time.monotonic() + WARM
        while time.monotonic() < end_warm:
            self.scrape()
            time.sleep(1)
        seen, samples = {}, []
        start = time.monotonic()
        next_scrape = start
        while time.monotonic() - start < DUR:
            if time.monotonic() >= next_scrape:
                self.scrape()
                next_scrape += 1
            s = self.ctl("sessions", "path")
            for row in (s or {}).get("sessions", []):
                key = (row["index"], row["cycles_ok"])
                if row["last_latency_ms"] is not None and key not in seen:
                    seen[key] = True
                    samples.append(row["last_latency_ms"])
            time.sleep(0.2)
        st = self.ctl("status", "path")
        t = [x for x in st["targets"] if x["name"] == "path"][0]
        return t, samples

    def stop(self):
        for p in reversed(self.procs):
            p.send_signal(signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def quantile(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")


def main():
    resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
    builds = [("this", build_dir("BUILD") or os.path.join(TOP, "build"))]
    if build_dir("OLD_BUILD"):
        builds.append(("old", build_dir("OLD_BUILD")))
    cost = ROUND_TRIPS * D_US / 1000.0
    print("path: echod -m delay -D %d us, %d round trips a cycle: %.3f ms; %d sessions "
          "every 100ms; load %d sessions every %s, a scrape a second" %
          (D_US, ROUND_TRIPS, cost, SESSIONS, LOAD, LOAD_INTERVAL))
    print("status: status -j's p50/p99 (histogram bucket midpoints); exact: every cycle's "
          "own latency from sessions -j; err: against the path's cost")
    print("%-5s %-6s %7s %9s %8s %9s %8s %9s %8s %9s %8s" %
          ("build", "phase", "cycles", "status50", "err", "status99", "err",
           "exact50", "err", "exact99", "err"))
    for name, build in builds:
        for loaded in (False, True):
            r = Run(build, loaded, os.path.join(builds[0][1], "echod"))
            try:
                r.start()
                t, samples = r.measure()
            finally:
                r.stop()
            lat = t["latency_ms"]
            e50, e99 = quantile(samples, 0.5), quantile(samples, 0.99)
            row = [lat["p50"], lat["p99"], e50, e99]
            errs = ["%+.2f%%" % ((x - cost) / cost * 100) for x in row]
            print("%-5s %-6s %7d %9.3f %8s %9.3f %8s %9.3f %8s %9.3f %8s" %
                  (name, "load" if loaded else "alone", lat["count"], row[0], errs[0],
                   row[1], errs[1], row[2], errs[2], row[3], errs[3]))
            sys.stdout.flush()
    if not r.rt:
        print("note: echod ran without real-time priority (chrt -f failed)")


if __name__ == "__main__":
    main()
