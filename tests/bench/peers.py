#!/usr/bin/env python3
"""make bench-peers: mconnd against the checkers a user would pick instead (issue 17).

The fixture echo server (echod -F) runs pinned to CPU 1 for the whole run and counts
the connections it accepts (-c, a mapped counter); each checker runs alone on CPU 0.
Every workload runs its checkers interleaved, round by round (ROUNDS, each checker once
per round, the order rotated each round); per run: WARM seconds of warm-up, then DUR
measured seconds. CPU is user + system from /proc/PID/stat (children's rusage for
check_tcp); checks are the echo server's accepts over the window (the checker's own
counters where nothing is accepted: persistent sessions). The table gives the median
and the spread (min-max) of CPU per check, checks/s and RSS, and mconnd's ratio to
each peer. The peers come from Debian's packages, installed here when missing:
haproxy, prometheus-blackbox-exporter, monitoring-plugins-basic (check_tcp),
apache2-utils (ab). Results go to BUILD/bench/peers.json as well.

Environment: BUILD (default build), ROUNDS (5), WARM (3), DUR (10), RUNS (check_tcp
runs per round, 400), WORKLOADS (comma-separated letters, default all), ALT
(another mconnd build, added to workload A with close = rst), CHECKERS (names to
keep, comma-separated),
PROFILE=1 (instead of the table: system calls per check with strace -c -f, and the
CPU split by object with perf, HAProxy against mconnd on workload A).
Smoke mode for development: ROUNDS=1 DUR=2 WARM=1 RUNS=40.
"""
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402  (the Mconnd driver, wait_for, free_port)

ROUNDS = int(os.environ.get("ROUNDS", "5"))
WARM = float(os.environ.get("WARM", "3"))
DUR = float(os.environ.get("DUR", "10"))
RUNS = int(os.environ.get("RUNS", "400"))
WORKLOADS = set(x.strip().upper() for x in os.environ.get("WORKLOADS", "").split(",") if x.strip())
PROFILE = os.environ.get("PROFILE") == "1"
# ALT=path/to/mconnd adds that build to workload A as one more checker (close = rst),
# to measure an engine change against the build under test in the same rounds.
ALT = os.environ.get("ALT")
# CHECKERS="haproxy,mconnd rst" keeps only those checkers (names as in the table).
CHECKERS = set(x.strip() for x in os.environ.get("CHECKERS", "").split(",") if x.strip())
CPU_CHECKER, CPU_SERVER = "0", "1"
MSG = "Message 1 from client."
TICK = os.sysconf("SC_CLK_TCK")
CHECK_TCP = "/usr/lib/nagios/plugins/check_tcp"
BLACKBOX = "/usr/bin/prometheus-blackbox-exporter"
PACKAGES = {"/usr/sbin/haproxy": "haproxy", BLACKBOX: "prometheus-blackbox-exporter",
            CHECK_TCP: "monitoring-plugins-basic", "/usr/bin/ab": "apache2-utils"}
# How many check_tcp processes are in flight at once (a few Nagios workers).
CHECK_TCP_PARALLEL = 4

bench.CPU_CLIENT = CPU_CHECKER
log = bench.log


def install_peers():
    missing = sorted({pkg for path, pkg in PACKAGES.items() if not os.access(path, os.X_OK)})
    if PROFILE and not shutil.which("strace"):
        missing.append("strace")
    if not missing:
        return
    log("bench-peers: installing %s" % " ".join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "install", "-y", "--no-install-recommends"] + missing,
                   env=env, check=True, stdout=subprocess.DEVNULL, timeout=600)


def free_ports(k):
    """k distinct free ports above the ephemeral range, held until all are picked."""
    held = []
    port = bench.free_port()
    try:
        while len(held) < k and port < 65535:
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", port))
                held.append(s)
            except OSError:
                s.close()
            port += 1
        if len(held) < k:
            raise SystemExit("bench-peers: no free ports")
        return [s.getsockname()[1] for s in held]
    finally:
        for s in held:
            s.close()


def proc_cpu(pid):
    """(user, system) seconds of a process, all its threads, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICK, int(fields[12]) / TICK


class Echod:
    """echod -F on CPU 1 with its accept counter mapped in a file."""

    def __init__(self, tmp):
        self.port = bench.free_port()
        self.countfile = os.path.join(tmp, "echod.count")
        portfile = os.path.join(tmp, "echod.port")
        self.proc = subprocess.Popen(["taskset", "-c", CPU_SERVER, bench.ECHOD, "-F", "-q",
                                      "-l", "127.0.0.1:%d" % self.port, "-p", portfile,
                                      "-c", self.countfile])
        if not bench.wait_for(5, lambda: os.path.exists(portfile)):
            raise SystemExit("bench-peers: echod did not start")

    def accepted(self):
        with open(self.countfile, "rb") as f:
            return struct.unpack("=Q", f.read(8))[0]

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


class Checker:
    """A long-running checker on CPU 0: start() it, then count() and stop()."""

    def __init__(self, proc):
        self.proc = proc

    @property
    def pid(self):
        return self.proc.pid

    def count(self, echod):
        return echod.accepted()

    def healthy(self):
        """Failed checks (or down servers) seen at the end, None if unknown."""
        return None

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class MconndChecker(Checker):
    def __init__(self, tmp, echod, n, interval, mode, close, binary=None):
        target = {"name": "bench", "address": "127.0.0.1:%d" % echod.port,
                  "connections": n, "interval": interval, "mode": mode, "close": close,
                  "message": MSG, "timeout": "5s", "connect_timeout": "2s"}
        default, bench.MCONND = bench.MCONND, binary or bench.MCONND
        try:
            self.m = bench.Mconnd(tmp, [target])
        finally:
            bench.MCONND = default
        self.persistent = mode == "persistent"
        # bench.Mconnd closes its NOTIFY_SOCKET after READY=1: mconnd's STATUS=
        # updates then fail at once and never fill a queue nobody reads.
        self.failed0 = self.m.counts()[1]
        super().__init__(self.m.proc)

    def drain_notify(self):
        while self.draining:
            try:
                self.m.notify.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return

    def count(self, echod):
        # Persistent sessions accept nothing: count the round trips mconnd finished.
        return self.m.counts()[0] if self.persistent else echod.accepted()

    def healthy(self):
        return self.m.counts()[1] - self.failed0

    def read_state(self):
        """What an operator's tooling reads: status as JSON and the metrics."""
        n = len(self.m.request("status -j")[0]) + len(self.m.request("metrics")[0])
        return n

    def stop(self):
        self.m.stop()


HAPROXY_HEAD = """global
    nbthread 1
    stats socket %(tmp)s/haproxy.sock mode 600 level admin
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
    timeout check 5s
frontend fe
    bind 127.0.0.1:%(fe_port)d
    default_backend be
frontend prom
    mode http
    bind 127.0.0.1:%(prom_port)d
    http-request use-service prometheus-exporter if { path /metrics }
backend be
    option tcp-check
    tcp-check send "%(msg)s"
    tcp-check expect string "%(msg)s"
    default-server check inter %(inter)s
"""


class HaproxyChecker(Checker):
    """One process, one thread, health checks only: N servers, one backend, no traffic."""

    def __init__(self, tmp, echod, n, interval):
        self.tmp = tmp
        fe_port, self.prom_port = free_ports(2)
        cfg = os.path.join(tmp, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(HAPROXY_HEAD % {"tmp": tmp, "fe_port": fe_port,
                                    "prom_port": self.prom_port, "msg": MSG,
                                    "inter": interval})
            for i in range(n):
                f.write("    server s%d 127.0.0.1:%d\n" % (i, echod.port))
        self.n = n
        sock = os.path.join(tmp, "haproxy.sock")
        if os.path.exists(sock):
            os.unlink(sock)
        proc = subprocess.Popen(["taskset", "-c", CPU_CHECKER, "haproxy", "-db", "-f", cfg],
                                stdout=subprocess.DEVNULL,
                                stderr=open(os.path.join(tmp, "haproxy.log"), "a"))
        super().__init__(proc)
        if not bench.wait_for(10, lambda: os.path.exists(sock)):
            raise SystemExit("bench-peers: haproxy did not start (see %s/haproxy.log)" % tmp)

    def stats(self, line):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(os.path.join(self.tmp, "haproxy.sock"))
        s.sendall(line.encode() + b"\n")
        chunks = []
        while True:
            c = s.recv(1 << 20)
            if not c:
                break
            chunks.append(c)
        s.close()
        return b"".join(chunks)

    def healthy(self):
        up = sum(1 for line in self.stats("show stat").decode().splitlines()
                 if line.startswith("be,s") and ",UP," in line)
        return self.n - up

    def read_state(self):
        n = len(self.stats("show stat"))
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.prom_port,
                                    timeout=10) as r:
            n += len(r.read())
        return n


class BlackboxChecker(Checker):
    """blackbox_exporter's tcp prober, driven as fast as `ab -k -c 16` asks (ab on CPU 1)."""

    def __init__(self, tmp, echod, secs):
        port = bench.free_port()
        cfg = os.path.join(tmp, "blackbox.yml")
        with open(cfg, "w") as f:
            f.write("modules:\n  echo:\n    prober: tcp\n    timeout: 5s\n    tcp:\n"
                    "      query_response:\n        - send: \"%s\"\n"
                    "        - expect: \"%s\"\n" % (MSG, MSG))
        proc = subprocess.Popen(["taskset", "-c", CPU_CHECKER, BLACKBOX,
                                 "--config.file=" + cfg,
                                 "--web.listen-address=127.0.0.1:%d" % port],
                                stdout=subprocess.DEVNULL,
                                stderr=open(os.path.join(tmp, "blackbox.log"), "a"))
        super().__init__(proc)
        url = "http://127.0.0.1:%d/probe?module=echo&target=127.0.0.1:%d" % (port, echod.port)
        if not bench.wait_for(10, lambda: self.probe_ok(url)):
            raise SystemExit("bench-peers: blackbox_exporter did not answer")
        self.ab = subprocess.Popen(["taskset", "-c", CPU_SERVER, "ab", "-k", "-q", "-c", "16",
                                    "-t", "%g" % secs, "-n", "100000000", url],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    @staticmethod
    def probe_ok(url):
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return b"probe_success 1" in r.read()
        except OSError:
            return False

    def healthy(self):
        return None

    def stop(self):
        self.ab.terminate()
        self.ab.communicate()
        super().stop()


def measure(checker, echod):
    """WARM seconds of warm-up, then DUR measured; CPU, checks and RSS of the checker."""
    try:
        time.sleep(WARM)
        n0, (u0, s0), t0 = checker.count(echod), proc_cpu(checker.pid), time.monotonic()
        reads = 0
        if getattr(checker, "reader", False):
            # Read the state once a second through the window (the reader is on CPU 1).
            end = t0 + DUR
            while time.monotonic() < end:
                reads += checker.read_state()
                time.sleep(max(0.0, min(1.0, end - time.monotonic())))
        else:
            time.sleep(DUR)
        n1, (u1, s1), t1 = checker.count(echod), proc_cpu(checker.pid), time.monotonic()
        rss = bench.rss_kib(checker.pid)
        bad = checker.healthy()
    finally:
        checker.stop()
    checks = n1 - n0
    cpu = (u1 - u0) + (s1 - s0)
    return {"checks": checks, "secs": t1 - t0, "cpu_s": cpu,
            "user_share": (u1 - u0) / cpu if cpu else None, "rss_kib": rss, "failed": bad,
            "bytes_read": reads or None}


def measure_check_tcp(echod):
    """RUNS check_tcp processes, CHECK_TCP_PARALLEL at a time, each on CPU 0: the
    children's CPU (wait4's rusage) per run, runs per second of wall time."""
    argv = [CHECK_TCP, "-H", "127.0.0.1", "-p", str(echod.port), "-s", MSG, "-e", MSG]

    def pin():
        os.sched_setaffinity(0, {int(CPU_CHECKER)})

    inflight, user, cpu, failed, rss = [], 0.0, 0.0, 0, 0
    a0, t0 = echod.accepted(), time.monotonic()
    started = 0
    while started < RUNS or inflight:
        while started < RUNS and len(inflight) < CHECK_TCP_PARALLEL:
            inflight.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, preexec_fn=pin))
            started += 1
        p = inflight.pop(0)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        user += ru.ru_utime
        cpu += ru.ru_utime + ru.ru_stime
        rss = max(rss, ru.ru_maxrss)
        failed += p.returncode != 0
    t1 = time.monotonic()
    return {"checks": RUNS, "secs": t1 - t0, "cpu_s": cpu,
            "user_share": user / cpu if cpu else None, "rss_kib": rss, "failed": failed,
            "accepted": echod.accepted() - a0}


def reader(checker):
    checker.reader = True
    return checker


def workloads(tmp, echod):
    """Letter -> (title, [(checker name, factory)]). A factory starts the checker."""
    span = WARM + DUR + 5
    return {
        "A": ("1,000 sessions/servers at 100 ms, one message, a connection per check", [
            ("haproxy", lambda: HaproxyChecker(tmp, echod, 1000, "100ms")),
            ("mconnd fin", lambda: MconndChecker(tmp, echod, 1000, "100ms", "cycle", "fin")),
            ("mconnd rst", lambda: MconndChecker(tmp, echod, 1000, "100ms", "cycle", "rst")),
            ("blackbox", lambda: BlackboxChecker(tmp, echod, span)),
            ("check_tcp", None),
        ] + ([("alt rst", lambda: MconndChecker(tmp, echod, 1000, "100ms", "cycle", "rst",
                                                  ALT))] if ALT else [])),
        "B": ("persistent sessions, 1,000 at 100 ms (HAProxy closes after each check)", [
            ("haproxy", lambda: HaproxyChecker(tmp, echod, 1000, "100ms")),
            ("mconnd persistent", lambda: MconndChecker(tmp, echod, 1000, "100ms",
                                                        "persistent", "fin")),
        ]),
        "C": ("10,000 sessions to one target at 1 s (HAProxy: 10,000 servers)", [
            ("haproxy", lambda: HaproxyChecker(tmp, echod, 10000, "1s")),
            ("mconnd fin", lambda: MconndChecker(tmp, echod, 10000, "1s", "cycle", "fin")),
        ]),
        "D": ("C, with the state read every second (mconnd: status -j and metrics on the"
              " control socket; HAProxy: show stat and its Prometheus /metrics)", [
            ("haproxy", lambda: reader(HaproxyChecker(tmp, echod, 10000, "1s"))),
            ("mconnd fin", lambda: reader(MconndChecker(tmp, echod, 10000, "1s", "cycle",
                                                        "fin"))),
        ]),
    }


def run_round(tmp, echod, checkers, rnd, runs):
    order = checkers[rnd % len(checkers):] + checkers[:rnd % len(checkers)]
    for name, factory in order:
        r = measure_check_tcp(echod) if factory is None else measure(factory(), echod)
        r["round"] = rnd
        runs.setdefault(name, []).append(r)
        log("  round %d %-18s %8.0f checks/s %7.1f us/check" % (
            rnd + 1, name, r["checks"] / r["secs"], per_check_us(r) or 0))


def per_check_us(r):
    return r["cpu_s"] / r["checks"] * 1e6 if r["checks"] else None


def summary(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals)}


def summarise(letter, title, runs):
    rows = []
    for name, rs in runs.items():
        row = {"workload": letter, "title": title, "checker": name,
               "cpu_us": summary([per_check_us(r) for r in rs]),
               "rate": summary([r["checks"] / r["secs"] for r in rs]),
               "rss_kib": summary([r["rss_kib"] for r in rs]),
               "user_share": summary([r["user_share"] for r in rs]),
               "failed": None if all(r["failed"] is None for r in rs)
               else sum(r["failed"] or 0 for r in rs), "runs": rs}
        rows.append(row)
    for row in rows:
        if not row["checker"].startswith("mconnd") or not row["cpu_us"]:
            continue
        row["ratios"] = {o["checker"]: row["cpu_us"]["median"] / o["cpu_us"]["median"]
                         for o in rows if not o["checker"].startswith("mconnd") and o["cpu_us"]}
    return rows


def fmt_range(s):
    if not s:
        return "-"
    return "%s (%s-%s)" % tuple(bench.fmt(s[k]) for k in ("median", "min", "max"))


def print_table(info, rows):
    print("mconn bench-peers %s on %s (%s, %d CPUs), kernel %s" % (
        info["date"], info["host"], info["cpu"], os.cpu_count(), info["kernel"]))
    print("ROUNDS=%d WARM=%gs DUR=%gs RUNS=%d; echod -F on CPU %s, each checker alone on"
          " CPU %s; load average at start %s" % (ROUNDS, WARM, DUR, RUNS, CPU_SERVER,
                                                 CPU_CHECKER, info["loadavg"]))
    print("peers: %s" % "; ".join(info["versions"]))
    print()
    hdr = "%-2s %-18s %-28s %-26s %-25s %-6s %-6s %s" % (
        "", "checker", "CPU us/check med (min-max)", "checks/s med (min-max)",
        "RSS KiB med (min-max)", "user%", "failed", "mconnd CPU/check vs peer")
    last = None
    for r in rows:
        if r["workload"] != last:
            print("\n%s. %s" % (r["workload"], r["title"]))
            print(hdr)
            last = r["workload"]
        ratios = " ".join("%s %.2fx" % (k, v) for k, v in r.get("ratios", {}).items())
        us = r["user_share"]
        print("%-2s %-18s %-28s %-26s %-25s %-6s %-6s %s" % (
            r["workload"], r["checker"], fmt_range(r["cpu_us"]), fmt_range(r["rate"]),
            fmt_range(r["rss_kib"]), "%.0f" % (100 * us["median"]) if us else "-",
            "-" if r["failed"] is None else r["failed"], ratios))
    print()
    print("CPU = user + system of the checker over the window (check_tcp: of its children,"
          " per run); a check = a connection the echo server accepted (B, mconnd: a round"
          " trip it counted); blackbox's cost per probe includes the HTTP request from ab"
          " that triggers it and its checks/s is its ceiling on one core; check_tcp runs %d"
          " at a time, RSS is a run's peak; failed = failed checks or servers not UP at the"
          " end, summed over rounds" % CHECK_TCP_PARALLEL)


def versions():
    out = []
    for argv in (["haproxy", "-v"], [BLACKBOX, "--version"], [CHECK_TCP, "-V"],
                 ["ab", "-V"]):
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            out.append(((p.stdout or p.stderr).strip().splitlines() or ["?"])[0][:70])
        except OSError:
            out.append("%s: missing" % argv[0])
    return out


def main():
    install_peers()
    for p in (bench.MCONND, bench.ECHOD):
        if not os.access(p, os.X_OK):
            raise SystemExit("bench-peers: %s missing (make bench-peers builds it)" % p)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 40000), hard))
    os.sched_setaffinity(0, {int(CPU_SERVER)})
    info = dict(bench.machine_info(), versions=versions())
    tmp = tempfile.mkdtemp(prefix="mconn-peers.")
    echod = Echod(tmp)
    rows = []
    t0 = time.monotonic()
    try:
        if PROFILE:
            import profile_peers
            profile_peers.run(tmp, echod, DUR)
            return 0
        for letter, (title, checkers) in workloads(tmp, echod).items():
            if WORKLOADS and letter not in WORKLOADS:
                continue
            log("bench-peers: workload %s: %s" % (letter, title))
            if CHECKERS:
                checkers = [c for c in checkers if c[0] in CHECKERS]
            runs = {}
            for rnd in range(ROUNDS):
                run_round(tmp, echod, checkers, rnd, runs)
            rows += summarise(letter, title, runs)
    finally:
        echod.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    info["elapsed_s"] = round(time.monotonic() - t0, 1)
    print_table(info, rows)
    print("\nelapsed %.0f s" % info["elapsed_s"])
    out = os.path.join(bench.BUILD, "bench")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "peers.json"), "w") as f:
        json.dump({"info": info, "rows": rows}, f, indent=1)
    log("bench-peers: wrote %s/peers.json" % out)
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    sys.exit(main())
