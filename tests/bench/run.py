#!/usr/bin/env python3
"""make bench: mconnd next to two baselines, on loopback, on this machine.

Every scenario of issue 6 runs REPS times (default 3); the table shows the median and
the spread ((max - min) / median). The fixture echo server runs in its fast mode on
CPU 0 (taskset), the client under test (mconnd, the limit client, the classic client)
on CPU 1, this runner on CPU 0 beside the server. Results go to BUILD/bench/results.csv
and results.json as well. Python 3 standard library only.

Scenario 8 (TLS) needs openssl and socat; the others need neither.

Environment: BUILD (default build), REPS (3), WARM (warm-up seconds, 1), DUR
(measured seconds, 4), ONLY (comma-separated scenario numbers to run, default all).
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

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(TOP, os.environ.get("BUILD", "build"))
REPS = int(os.environ.get("REPS", "3"))
WARM = float(os.environ.get("WARM", "1"))
DUR = float(os.environ.get("DUR", "4"))
ONLY = {int(x) for x in os.environ.get("ONLY", "").split(",") if x}
MCONND = os.path.join(BUILD, "mconnd")
ECHOD = os.path.join(BUILD, "echod")
LIMIT = os.path.join(BUILD, "bench", "limit")
UDPLIMIT = os.path.join(BUILD, "bench", "udplimit")
CLASSIC = os.path.join(TOP, "tests", "bench", "classic.py")
TLSCERTS = os.path.join(TOP, "tests", "integration", "tlscerts.sh")
CPU_SERVER, CPU_CLIENT = "0", "1"
# Sources for FIN churn: TIME_WAIT lands on the client, so one source address would
# leave connect() searching ports among TIME_WAIT sockets.
SOURCES = ["127.0.0.%d" % i for i in range(2, 10)]
RT_MSG = "mconn-bench-16b."
TICK = os.sysconf("SC_CLK_TCK")
SYSCTLS = ["net/ipv4/tcp_tw_reuse", "net/ipv4/ip_local_port_range", "net/core/somaxconn",
           "net/ipv4/tcp_max_tw_buckets", "net/ipv4/tcp_fin_timeout"]

results = []


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def wait_for(secs, fn):
    """Poll fn every 20 ms until it returns something true, for at most secs."""
    end = time.monotonic() + secs
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() >= end:
            return None
        time.sleep(0.02)


def cpu_ns(pid):
    """CPU time (user+sys) of a process in ns, from /proc/PID/schedstat."""
    with open("/proc/%d/schedstat" % pid) as f:
        return int(f.read().split()[0])


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def free_port(kind=socket.SOCK_STREAM):
    """A port above the ephemeral range (32768-60999 here), as echo services use
    (7, 65432): connect() never picks it as a source, so no self-connect check is
    needed on the client side."""
    lo_hi = open("/proc/sys/net/ipv4/ip_local_port_range").read().split()
    start = int(lo_hi[1]) + 1 if int(lo_hi[1]) < 65000 else 20000
    for port in range(start + os.getpid() % 500, 65535):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise SystemExit("bench: no free port")


def median_spread(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None, None
    med = statistics.median(vals)
    spread = (max(vals) - min(vals)) / med * 100 if med else 0.0
    return med, spread


def record(scenario, case, client, metric, unit, vals, **extra):
    med, spread = median_spread(vals)
    row = {"scenario": scenario, "case": case, "client": client, "metric": metric,
           "unit": unit, "median": med, "spread_pct": spread, "runs": vals}
    row.update(extra)
    results.append(row)
    return med


class Echod:
    def __init__(self, tmp, udp=False):
        self.port = free_port(socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
        portfile = os.path.join(tmp, "echod-udp.port" if udp else "echod.port")
        self.proc = subprocess.Popen(["taskset", "-c", CPU_SERVER, ECHOD, "-u" if udp else "-F",
                                      "-q", "-l", "127.0.0.1:%d" % self.port, "-p", portfile])
        if not wait_for(5, lambda: os.path.exists(portfile)):
            raise SystemExit("bench: echod did not start")

    def cpu_ns(self):
        return cpu_ns(self.proc.pid)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


class Mconnd:
    """mconnd on CPU 1 with a config of its own and a NOTIFY_SOCKET of the bench's."""

    def __init__(self, tmp, targets):
        self.tmp = tmp
        self.sock = os.path.join(tmp, "mconnd.sock")
        conf = os.path.join(tmp, "mconnd.conf")
        with open(conf, "w") as f:
            f.write("[daemon]\ncontrol_socket = %s\nlog_level = warning\n" % self.sock)
            for t in targets:
                f.write('[target "%s"]\n' % t.pop("name"))
                for k, v in t.items():
                    for one in v if isinstance(v, list) else [v]:
                        f.write("%s = %s\n" % (k, one))
        self.notify_path = os.path.join(tmp, "notify.sock")
        if os.path.exists(self.notify_path):
            os.unlink(self.notify_path)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path)
        self.t_exec = time.monotonic()
        self.proc = subprocess.Popen(["taskset", "-c", CPU_CLIENT, MCONND, "-c", conf], env=env,
                                     stderr=open(os.path.join(tmp, "mconnd.log"), "a"))
        self.ready_s = self.wait_ready(30)
        self.ctl = None

    def wait_ready(self, secs):
        self.notify.settimeout(secs)
        try:
            while True:
                msg = self.notify.recv(4096)
                if b"READY=1" in msg.split(b"\n"):
                    # Nobody reads it from here on: gone, mconnd's STATUS= updates
                    # fail at once instead of filling the queue (max_dgram_qlen) and
                    # blocking the daemon in sd_notify() in a long run.
                    self.notify.close()
                    os.unlink(self.notify_path)
                    return time.monotonic() - self.t_exec
        except socket.timeout:
            raise SystemExit("bench: mconnd sent no READY=1 (see %s/mconnd.log)" % self.tmp)

    def request(self, line, fresh=False, may_fail=False):
        """One request, on a kept-open control connection or, like mconnctl, on a
        connection of its own; returns (reply, seconds from connect to the end)."""
        t0 = time.monotonic()
        if fresh and self.ctl:
            self.ctl.close()
            self.ctl = None
        if self.ctl is None:
            self.ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.ctl.connect(self.sock)
        self.ctl.sendall(line.encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n\n"):
            chunk = self.ctl.recv(1 << 20)
            if not chunk:
                raise SystemExit("bench: control socket closed")
            buf += chunk
        dt = time.monotonic() - t0
        if not buf.startswith(b"OK"):
            if may_fail:
                return None, dt
            raise SystemExit("bench: %s: %s" % (line, buf[:200]))
        return buf.split(b"\n", 1)[1], dt

    def status(self):
        return json.loads(self.request("status -j")[0])

    def counts(self):
        st = self.status()
        ok = sum(t["cycles_ok"] for t in st["targets"])
        bad = sum(t["cycles_failed"] for t in st["targets"])
        return ok, bad + st["loop"]["unexpected_events"], st

    def cpu_ns(self):
        return cpu_ns(self.proc.pid)

    def stop(self):
        if self.ctl:
            self.ctl.close()
        self.proc.terminate()
        self.proc.wait()


def split(n, k):
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def targets_for(port, n, mode, close, interval="0", sources=None):
    base = {"address": "127.0.0.1:%d" % port, "interval": interval, "mode": mode,
            "close": close, "timeout": "5s", "connect_timeout": "2s"}
    if mode == "persistent":
        base["message"] = RT_MSG
    if not sources:
        return [dict(base, name="bench", connections=n)]
    return [dict(base, name="bench%d" % i, connections=c, source=src)
            for i, (c, src) in enumerate(zip(split(n, len(sources)), sources)) if c]


def run_mconnd(tmp, echod, targets, warm, dur):
    """Returns ops, failed, secs, cpu_s of the daemon, echod CPU %, last status."""
    m = Mconnd(tmp, targets)
    try:
        time.sleep(warm)
        ok0, bad0, _ = m.counts()
        c0, e0, t0 = m.cpu_ns(), echod.cpu_ns(), time.monotonic()
        time.sleep(dur)
        ok1, bad1, st = m.counts()
        c1, e1, t1 = m.cpu_ns(), echod.cpu_ns(), time.monotonic()
    finally:
        m.stop()
    return {"ops": ok1 - ok0, "failed": bad1 - bad0, "secs": t1 - t0, "cpu_s": (c1 - c0) / 1e9,
            "server_pct": (e1 - e0) / (t1 - t0) / 1e7, "status": st}


def run_baseline(cmd, echod):
    e0, t0 = echod.cpu_ns(), time.monotonic()
    out = subprocess.run(["taskset", "-c", CPU_CLIENT] + cmd, capture_output=True, text=True,
                         check=True).stdout
    e1, t1 = echod.cpu_ns(), time.monotonic()
    r = json.loads(out.strip().splitlines()[-1])
    # The server's share over the whole run, warm-up included.
    r["server_pct"] = (e1 - e0) / (t1 - t0) / 1e7
    return r


def baseline_args(port, n, mode, close, sources, interval_ms=None):
    a = ["-a", "127.0.0.1:%d" % port, "-n", str(n), "-m", mode, "-c", close,
         "-w", str(WARM), "-d", str(DUR)]
    for s in sources or []:
        a += ["-S", s]
    if interval_ms is not None:
        a += ["-i", str(interval_ms)]
    return a


def throughput_case(tmp, echod, scenario, case, n, mode, close, sources):
    """Scenarios 1 and 2: the three clients, interleaved, REPS times."""
    runs = {"limit": [], "mconnd": [], "classic": []}
    for rep in range(REPS):
        args = baseline_args(echod.port, n, mode, close, sources)
        runs["limit"].append(run_baseline([LIMIT] + args, echod))
        runs["mconnd"].append(run_mconnd(tmp, echod, targets_for(echod.port, n, mode, close,
                                                                 sources=sources), WARM, DUR))
        runs["classic"].append(run_baseline(["python3", CLASSIC] + args, echod))
    rates = {}
    for client, rs in runs.items():
        rate = [r["ops"] / r["secs"] for r in rs]
        cpu = [r["cpu_s"] / r["ops"] * 1e6 if r["ops"] else None for r in rs]
        rates[client] = record(scenario, case, client, "rate", "/s", rate,
                               cpu_ms_per_1k=median_spread(cpu)[0],
                               failed=sum(r["failed"] for r in rs),
                               server_cpu_pct=median_spread([r["server_pct"] for r in rs])[0])
    row = [r for r in results if r["case"] == case and r["client"] == "mconnd"][0]
    row["vs_limit"] = "%.0f%%" % (100 * rates["mconnd"] / rates["limit"])
    row["vs_classic"] = "%.1fx" % (rates["mconnd"] / rates["classic"])
    log("  %s: mconnd %.0f/s = %.0f %% of limit, %.1fx classic" % (
        case, rates["mconnd"], 100 * rates["mconnd"] / rates["limit"],
        rates["mconnd"] / rates["classic"]))


def scenario_churn(tmp, echod):
    for n in (100, 1000):
        for close in ("rst", "fin"):
            src = SOURCES if close == "fin" else None
            case = "cycle N=%d close=%s%s" % (n, close, " src=8" if src else "")
            throughput_case(tmp, echod, "1 churn", case, n, "cycle", close, src)


def scenario_roundtrips(tmp, echod):
    for n in (100, 1000):
        throughput_case(tmp, echod, "2 round trips", "persistent N=%d" % n, n, "persistent",
                        "fin", None)


def scenario_rate(tmp, echod):
    n, warm, dur = 10000, 2.0, 5.0
    for mode in ("persistent", "cycle"):
        src = SOURCES if mode == "cycle" else None
        case = "%s 10k@1s%s" % (mode, " src=8" if src else "")
        m_runs, l_runs = [], []
        for rep in range(REPS):
            r = run_mconnd(tmp, echod, targets_for(echod.port, n, mode, "fin", "1s", src), warm,
                           dur)
            r["p99_lateness_ms"] = r["status"]["loop"]["lateness_ms"]["p99"]
            m_runs.append(r)
            a = baseline_args(echod.port, n, mode, "fin", src, 1000)
            a[a.index("-w") + 1], a[a.index("-d") + 1] = str(warm), str(dur)
            l_runs.append(run_baseline([LIMIT] + a, echod))
        for client, rs in (("mconnd", m_runs), ("limit", l_runs)):
            record("3 health-check rate", case, client, "cpu", "% core",
                   [r["cpu_s"] / r["secs"] * 100 for r in rs],
                   rate=median_spread([r["ops"] / r["secs"] for r in rs])[0],
                   failed=sum(r["failed"] for r in rs),
                   p99_lateness_ms=median_spread([r.get("p99_lateness_ms") for r in rs])[0],
                   p99_lateness_runs=[r.get("p99_lateness_ms") for r in rs],
                   p99_lateness_steady_ms=median_spread(
                       [r.get("p99_lateness_window_ms") for r in rs])[0],
                   server_cpu_pct=median_spread([r["server_pct"] for r in rs])[0])
        log("  %s: mconnd %.1f %% of a core" % (case, results[-2]["median"]))


def scenario_footprint(tmp, echod):
    points = (0, 1000, 10000, 19000)
    rss, fds = {p: [] for p in points}, {p: [] for p in points}
    for rep in range(REPS):
        for n in points:
            targets = targets_for(echod.port, n, "persistent", "fin", "1s") if n else []
            m = Mconnd(tmp, targets)
            try:
                if n:
                    ok = wait_for(30, lambda: sum(t["sessions_active"]
                                                  for t in m.status()["targets"]) >= n)
                    if not ok:
                        raise SystemExit("bench: %d sessions did not connect" % n)
                    m.status()
                rss[n].append(rss_kib(m.proc.pid))
                fds[n].append(len(os.listdir("/proc/%d/fd" % m.proc.pid)))
            finally:
                m.stop()
    base = statistics.median(rss[0])
    for n in points:
        per = [(r - base) * 1024 / n for r in rss[n]] if n else None
        record("4 footprint", "%d sessions" % n, "mconnd", "rss", "KiB", rss[n],
               fds=statistics.median(fds[n]),
               bytes_per_session=median_spread(per)[0] if per else None)
    log("  19,000 sessions: %.0f bytes of RSS per session" % results[-1]["bytes_per_session"])


def probe_control(m, lat, has_metrics, ctl):
    """For DUR seconds: status on a fresh connection, the mconnctl command, a metrics
    scrape when there is one, every 20 ms."""
    end = time.monotonic() + DUR
    while time.monotonic() < end:
        lat["status"].append(m.request("status", True)[1] * 1000)
        t0 = time.monotonic()
        subprocess.run([ctl, "-s", m.sock, "status"], stdout=subprocess.DEVNULL, check=True)
        lat["mconnctl status"].append((time.monotonic() - t0) * 1000)
        if has_metrics:
            lat["metrics"].append(m.request("metrics", True)[1] * 1000)
        time.sleep(0.02)


def scenario_control(tmp, echod):
    """mconnd churning N=1,000 (its loop saturated), and as the probe's own floor in
    the same run: an idle mconnd while the limit client does that churn on CPU 1."""
    n = 1000
    has_metrics = None
    ctl = os.path.join(BUILD, "mconnctl")
    cases = {"churn N=1000 rst": {"status": [], "mconnctl status": [], "metrics": []},
             "floor: idle, limit churns": {"status": [], "mconnctl status": [], "metrics": []}}
    for rep in range(REPS):
        m = Mconnd(tmp, targets_for(echod.port, n, "cycle", "rst"))
        try:
            if has_metrics is None:
                has_metrics = m.request("metrics", True, may_fail=True)[0] is not None
            time.sleep(WARM)
            probe_control(m, cases["churn N=1000 rst"], has_metrics, ctl)
        finally:
            m.stop()
        m = Mconnd(tmp, targets_for(echod.port, 1, "cycle", "rst", "1s"))
        lim = subprocess.Popen(["taskset", "-c", CPU_CLIENT, LIMIT] +
                               baseline_args(echod.port, n, "cycle", "rst", None)[:-4] +
                               ["-w", "0", "-d", str(WARM + DUR + 1)], stdout=subprocess.DEVNULL)
        try:
            time.sleep(WARM)
            probe_control(m, cases["floor: idle, limit churns"], has_metrics, ctl)
        finally:
            lim.wait()
            m.stop()
    for case, lat in cases.items():
        for what in ("status", "mconnctl status", "metrics"):
            v = sorted(lat[what])
            if not v:
                results.append({"scenario": "5 control under load", "case": case,
                                "client": "mconnd", "metric": what + " p99", "unit": "ms",
                                "median": None, "spread_pct": None, "runs": [],
                                "note": "pending: no metrics command on this build"})
                continue
            record("5 control under load", case, "mconnd", what + " p99", "ms",
                   [v[int(0.99 * (len(v) - 1))]], p50_ms=statistics.median(v), samples=len(v))


def scenario_startup(tmp, echod):
    n = 19000
    runs = []
    for rep in range(REPS):
        m = Mconnd(tmp, targets_for(echod.port, n, "cycle", "fin", "1s"))
        runs.append(m.ready_s * 1000)
        m.stop()
    record("6 startup", "19,000 sessions", "mconnd", "exec to READY=1", "ms", runs)


def scenario_udp(tmp, echod):
    """UDP echo (RFC 862) round trips: mconnd's persistent UDP sessions, one 16-byte
    datagram in flight each, beside the minimal C UDP client, interleaved, against
    echod -u; N = 100 and 1,000."""
    uecho = Echod(tmp, udp=True)
    addr = "127.0.0.1:%d" % uecho.port
    try:
        for n in (100, 1000):
            case = "udp persistent N=%d" % n
            runs = {"udplimit": [], "mconnd": []}
            for rep in range(REPS):
                runs["udplimit"].append(run_baseline(
                    [UDPLIMIT, "-a", addr, "-n", str(n), "-w", str(WARM), "-d", str(DUR)], uecho))
                runs["mconnd"].append(run_mconnd(tmp, uecho, [{
                    "name": "udp", "address": addr, "protocol": "udp", "mode": "persistent",
                    "interval": "0", "timeout": "5s", "message": RT_MSG, "connections": n}],
                    WARM, DUR))
            rates = {}
            for client, rs in runs.items():
                rate = [r["ops"] / r["secs"] for r in rs]
                cpu = [r["cpu_s"] / r["ops"] * 1e6 if r["ops"] else None for r in rs]
                rates[client] = record("7 udp round trips", case, client, "rate", "/s", rate,
                                       cpu_ms_per_1k=median_spread(cpu)[0],
                                       failed=sum(r["failed"] for r in rs),
                                       server_cpu_pct=median_spread(
                                           [r["server_pct"] for r in rs])[0])
            row = [r for r in results if r["case"] == case and r["client"] == "mconnd"][0]
            row["vs_limit"] = "%.0f%%" % (100 * rates["mconnd"] / rates["udplimit"])
            log("  %s: mconnd %.0f/s = %.0f %% of udplimit" % (
                case, rates["mconnd"], 100 * rates["mconnd"] / rates["udplimit"]))
    finally:
        uecho.stop()


class TlsServer:
    """A TLS peer on CPU 0: openssl s_server -rev (one process, one connection at a
    time, as s_time and one mconnd session make them; it sends each line back
    reversed, so mconnd's message is a palindrome), or socat forking a PIPE per
    connection (persistent sessions held side by side)."""

    def __init__(self, tmp, cmd):
        self.port = free_port()
        cmd = [a.replace("PORT", str(self.port)).replace("DIR", tmp) for a in cmd]
        self.proc = subprocess.Popen(["taskset", "-c", CPU_SERVER] + cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def listening():
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0
        if not wait_for(5, listening):
            raise SystemExit("bench: %s did not listen" % cmd[0])

    def cpu_ns(self):
        return cpu_ns(self.proc.pid)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


# s_server -rev answers "mconn-tls-slt-nnocm\n" with itself.
TLS_MSG = "mconn-tls-slt-nnocm\\n"


def tls_handshakes(tmp, case, server, resume):
    """One case of scenario 8: openssl s_time (-new or -reuse) and one mconnd session
    cycling as fast as it can (tls_resume = no or yes), interleaved, against the same
    s_server; handshakes per second of each. Both verify the chain against the same
    CA file (an OpenSSL client builds and checks the chain in every full handshake;
    s_time's -CAfile makes it succeed, -verify asks for it); mconnd also checks the
    name (the IP address) and, unlike s_time, sends the message, reads its echo and
    sends a close_notify in each cycle; with echo = no it only sends the close_notify."""
    addr = "127.0.0.1:%d" % server.port
    what = "resumed" if resume else "full"
    runs = {"s_time": [], "mconnd": [], "mconnd x4": [], "mconnd echo=no": []}
    secs = max(1, int(round(DUR)))
    for rep in range(REPS):
        t0, ru0 = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run(["taskset", "-c", CPU_CLIENT, "openssl", "s_time", "-connect", addr,
                              "-reuse" if resume else "-new", "-time", str(secs),
                              "-CAfile", os.path.join(tmp, "ca.pem"), "-verify", "1"],
                             capture_output=True, text=True, check=True).stdout
        dt, ru1 = time.monotonic() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
        st_cpu = ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime
        n = [int(l.split()[0]) for l in out.splitlines() if " connections in " in l]
        # s_time prints a character per connection, r when it was resumed.
        reused = sum(l.count("r") for l in out.splitlines() if l and set(l) <= set("r*123t"))
        if not n or (resume and reused < n[0] // 2):
            raise SystemExit("bench: s_time %s: %d connections, %d resumed" % (
                what, n[0] if n else 0, reused))
        runs["s_time"].append({"ops": n[0], "secs": dt, "cpu_s": st_cpu, "failed": 0})
        # One session, as s_time makes one connection at a time; four side by side,
        # which s_time cannot do, so the server's pace, not one connection's round
        # trips, sets the rate; and one session with echo = no, whose cycle is the
        # handshake and the close, the work s_time does.
        for client, n_sess in (("mconnd", 1), ("mconnd x4", 4), ("mconnd echo=no", 1)):
            t = {"name": "tls", "address": addr, "protocol": "tls", "mode": "cycle",
                 "interval": "0", "timeout": "5s", "connections": n_sess,
                 "message": TLS_MSG, "tls_ca": os.path.join(tmp, "ca.pem"),
                 "tls_resume": "yes" if resume else "no"}
            if client.endswith("echo=no"):
                del t["message"]
                t["echo"] = "no"
            m = Mconnd(tmp, [t])
            try:
                time.sleep(WARM)
                st0, c0, t0 = m.status(), m.cpu_ns(), time.monotonic()
                time.sleep(DUR)
                st1, c1, t1 = m.status(), m.cpu_ns(), time.monotonic()
            finally:
                m.stop()
            tls0, tls1 = st0["targets"][0]["tls"], st1["targets"][0]["tls"]
            every = tls1["handshakes"] - tls0["handshakes"]
            resumed = tls1["resumed"] - tls0["resumed"]
            runs[client].append({"ops": resumed if resume else every - resumed,
                                 "secs": t1 - t0, "cpu_s": (c1 - c0) / 1e9,
                                 "failed": st1["targets"][0]["cycles_failed"],
                                 "other": every - resumed if resume else resumed,
                                 "hs_p50": tls1["handshake_p50_ms"],
                                 "cycle_p50": st1["targets"][0]["latency_ms"]["p50"]})
    rates = {}
    for client, rs in runs.items():
        rates[client] = record("8 tls handshakes", case, client, what + " handshakes", "/s",
                               [r["ops"] / r["secs"] for r in rs],
                               cpu_ms_per_1k=median_spread(
                                   [r["cpu_s"] / r["ops"] * 1e6 if r["cpu_s"] and r["ops"]
                                    else None for r in rs])[0],
                               failed=sum(r["failed"] for r in rs))
    st_row = [r for r in results if r["case"] == case and r["client"] == "s_time"][0]
    for client in ("mconnd", "mconnd x4", "mconnd echo=no"):
        row = [r for r in results if r["case"] == case and r["client"] == client][0]
        # Handshakes of the other kind mconnd made in the window (a full one where a
        # resumption was offered, or the reverse): they are not in its rate.
        row["other_kind"] = sum(r["other"] for r in runs[client])
        # Where mconnd's cycle goes: the handshake, then the echo (which waits for the
        # server to finish its side of the handshake) and the close; s_time only
        # shakes hands.
        row["handshake_p50_ms"] = median_spread([r["hs_p50"] for r in runs[client]])[0]
        row["cycle_p50_ms"] = median_spread([r["cycle_p50"] for r in runs[client]])[0]
        row["vs_s_time"] = "%.2f" % (rates[client] / rates["s_time"])
        if row["cpu_ms_per_1k"] and st_row["cpu_ms_per_1k"]:
            # CPU per handshake, s_time's over mconnd's: above 1, mconnd spends less.
            row["cpu_vs_s_time"] = "%.2f" % (st_row["cpu_ms_per_1k"] / row["cpu_ms_per_1k"])
        log("  %s: %s %.0f/s, s_time %.0f/s, ratio %.2f; CPU per handshake %s" % (
            case, client, rates[client], rates["s_time"], rates[client] / rates["s_time"],
            row.get("cpu_vs_s_time", "-")))


def session_bytes(tmp, targets_at, lo, hi):
    """RSS growth per persistent session between lo and hi sessions, REPS times."""
    per = []
    for rep in range(REPS):
        rss = {}
        for n in (lo, hi):
            m = Mconnd(tmp, targets_at(n))
            try:
                if not wait_for(30, lambda: m.status()["targets"][0]["sessions_active"] >= n):
                    raise SystemExit("bench: %d sessions did not connect" % n)
                time.sleep(WARM)  # a few cycles on each, buffers at their working size
                rss[n] = rss_kib(m.proc.pid)
            finally:
                m.stop()
        per.append((rss[hi] - rss[lo]) * 1024 / (hi - lo))
    return per


def scenario_tls(tmp, echod):
    """TLS: full handshakes per second (s_server as it comes, TLS 1.3) and resumed ones
    (s_server -tls1_2: s_time -reuse takes its session before a TLS 1.3 ticket arrives,
    so it resumes only under 1.2), mconnd beside openssl s_time; then RSS per
    persistent session, TLS (socat) beside TCP (echod)."""
    out = subprocess.run(["sh", "-c", '. "$0"; tls_certs "$1"', TLSCERTS, tmp],
                         capture_output=True, text=True)
    if out.returncode:
        raise SystemExit("bench: tlscerts.sh failed: see %s/openssl.log" % tmp)
    srv = ["openssl", "s_server", "-accept", "127.0.0.1:PORT", "-cert", "DIR/good.pem",
           "-key", "DIR/good.key", "-rev", "-quiet"]
    # TLS 1.3 servers send session tickets after the handshake (s_server two): a
    # client that reads on, as mconnd does for the echo, processes them (about 0.2 ms
    # of CPU for the two here); s_time closes first and never does. The third case
    # takes them out, so both clients make the same handshake.
    for case, extra, resume in (("s_server TLS 1.3, new", [], False),
                                ("s_server TLS 1.3, new, no tickets", ["-num_tickets", "0"], False),
                                ("s_server TLS 1.2, reuse", ["-tls1_2"], True)):
        server = TlsServer(tmp, srv + extra)
        try:
            tls_handshakes(tmp, case, server, resume)
        finally:
            server.stop()
    # TCP sessions cost a few hundred bytes: 100 of them are lost in RSS's noise
    # (a negative figure once), so TCP spans 2,000 against echod; TLS, with a socat
    # process per connection, 100.
    tcp = session_bytes(tmp, lambda n: targets_for(echod.port, n, "persistent", "fin", "1s"),
                        100, 2100)
    lo, hi = 20, 120
    socat = TlsServer(tmp, ["socat", "OPENSSL-LISTEN:PORT,bind=127.0.0.1,reuseaddr,fork,"
                            "cert=DIR/good.pem,key=DIR/good.key,verify=0", "PIPE"])
    try:
        tls = session_bytes(tmp, lambda n: [dict(
            targets_for(socat.port, n, "persistent", "fin", "1s")[0], protocol="tls",
            tls_ca=os.path.join(tmp, "ca.pem"))], lo, hi)
    finally:
        socat.stop()
    for proto, per, span in (("tcp", tcp, "100..2100"), ("tls", tls, "%d..%d" % (lo, hi))):
        record("8 tls handshakes", "persistent %s sessions" % span, "mconnd",
               "rss per %s session" % proto, "bytes", per)
    log("  RSS per session: tls %.0f bytes, tcp %.0f bytes" % (
        statistics.median(tls), statistics.median(tcp)))


def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, int):
        return "{:,}".format(v)
    if abs(v) >= 1000:
        return "{:,.0f}".format(v)
    if abs(v) >= 10:
        return "%.1f" % v
    return "%.2f" % v


def print_table(info):
    print("mconn bench %s on %s (%s, %d CPUs), kernel %s; REPS=%d WARM=%gs DUR=%gs" % (
        info["date"], info["host"], info["cpu"], os.cpu_count(), info["kernel"], REPS, WARM, DUR))
    print("echod -F on CPU %s, client under test on CPU %s; load average at start %s" % (
        CPU_SERVER, CPU_CLIENT, info["loadavg"]))
    print("sysctl: " + ", ".join("%s=%s" % (k.split("/")[-1], v) for k, v in info["sysctl"].items()))
    print()
    hdr = "%-22s %-28s %-8s %-24s %10s %7s  %s" % ("scenario", "case", "client", "metric",
                                                   "median", "spread", "details")
    print(hdr)
    print("-" * len(hdr))
    for r in results:
        det = []
        for k in ("vs_limit", "vs_classic", "vs_s_time", "cpu_vs_s_time", "other_kind",
                  "handshake_p50_ms", "cycle_p50_ms", "cpu_ms_per_1k", "failed", "server_cpu_pct", "rate",
                  "p99_lateness_ms", "p99_lateness_steady_ms", "fds", "bytes_per_session", "p50_ms", "samples", "note"):
            if k in r and r[k] is not None:
                det.append("%s=%s" % (k, fmt(r[k]) if not isinstance(r[k], str) else r[k]))
        print("%-22s %-28s %-8s %-24s %10s %6s%%  %s" % (
            r["scenario"], r["case"], r["client"], r["metric"] + " " + r["unit"],
            fmt(r["median"]), fmt(r["spread_pct"]), " ".join(det)))
    print()
    print("rate = completed cycles or round trips per second (median of %d runs), spread ="
          " (max - min) / median; cpu_ms_per_1k = CPU (user+sys) ms per 1,000 of them;"
          " server_cpu_pct = echod's share of CPU 0" % REPS)


def machine_info():
    """When and where a run was made: date, host, kernel, CPU model, load average."""
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "host": os.uname().nodename, "kernel": os.uname().release,
            "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                         if l.startswith("model name")), "?"),
            "loadavg": open("/proc/loadavg").read().split()[0]}


def main():
    for p in (MCONND, ECHOD, LIMIT, UDPLIMIT):
        if not os.access(p, os.X_OK):
            raise SystemExit("bench: %s missing (make bench builds it)" % p)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 20000), hard))
    os.sched_setaffinity(0, {int(CPU_SERVER)})
    info = dict(machine_info(), nofile=[soft, hard],
                sysctl={k: " ".join(open("/proc/sys/" + k).read().split()) for k in SYSCTLS})
    scenarios = [(1, scenario_churn), (2, scenario_roundtrips), (3, scenario_rate),
                 (4, scenario_footprint), (5, scenario_control), (6, scenario_startup),
                 (7, scenario_udp), (8, scenario_tls)]
    tmp = tempfile.mkdtemp(prefix="mconn-bench.")
    echod = Echod(tmp)
    t0 = time.monotonic()
    try:
        for num, fn in scenarios:
            if ONLY and num not in ONLY:
                continue
            log("bench: scenario %d (%s) ..." % (num, fn.__name__[9:]))
            fn(tmp, echod)
    finally:
        echod.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    info["elapsed_s"] = round(time.monotonic() - t0, 1)
    print_table(info)
    print("\nelapsed %.0f s" % info["elapsed_s"])
    out = os.path.join(BUILD, "bench")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"info": info, "results": results}, f, indent=1)
    keys = ["scenario", "case", "client", "metric", "unit", "median", "spread_pct"]
    with open(os.path.join(out, "results.csv"), "w") as f:
        f.write(",".join(keys + ["details"]) + "\n")
        for r in results:
            det = ";".join("%s=%s" % (k, r[k]) for k in r if k not in keys and k != "runs")
            f.write(",".join('"%s"' % ("" if r[k] is None else r[k]) for k in keys) +
                    ',"%s"\n' % det)
    log("bench: wrote %s/results.csv and results.json" % out)
    failed = sum(r.get("failed", 0) or 0 for r in results if r["client"] == "mconnd")
    return 1 if failed else 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    sys.exit(main())
