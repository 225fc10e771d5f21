"""PROFILE=1 make bench-peers: where HAProxy's and mconnd's CPU per check goes.

For HAProxy and mconnd (close = fin, close = rst): system calls per check by name
(strace -c -f attached for DUR seconds to the checker at a tenth of workload A, 100
sessions or servers at 100 ms, so that strace, which slows it, leaves few cycles
under way at the window's edges; the counts matter, not the times), and the CPU split
by object (perf record -e cpu-clock: the kernel, the program, libc) over DUR seconds
of workload A itself without strace. Prints one block per checker.
"""
import os
import shutil
import subprocess
import time

import peers


def strace_counts(pid, secs, tmp):
    out = os.path.join(tmp, "strace.out")
    p = subprocess.Popen(["strace", "-c", "-f", "-o", out, "-p", str(pid)],
                         stderr=subprocess.DEVNULL)
    time.sleep(secs)
    p.terminate()
    p.wait(30)
    calls = {}
    with open(out) as f:
        for line in f:
            parts = line.split()
            # % time, seconds, usecs/call, calls, [errors,] syscall
            if len(parts) >= 5 and parts[3].isdigit() and parts[-1] != "total":
                calls[parts[-1]] = int(parts[3])
    return calls


def perf_split(pid, secs, tmp):
    """Share of cpu-clock samples by object, or None when perf cannot record here."""
    if not shutil.which("perf"):
        return None
    data = os.path.join(tmp, "perf.data")
    r = subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-o", data, "-p", str(pid),
                        "--", "sleep", "%g" % secs], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--sort", "dso",
                          "--percent-limit", "0.5"], capture_output=True, text=True)
    split = []
    for line in rep.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].endswith("%") and not line.startswith("#"):
            split.append((parts[1], parts[0]))
    sym = subprocess.run(["perf", "report", "-i", data, "--stdio", "--sort", "dso,sym",
                          "--percent-limit", "1"], capture_output=True, text=True)
    top = [line.strip() for line in sym.stdout.splitlines()
           if line.strip() and not line.startswith("#")][:12]
    return split, top


def profile_one(name, small, full, echod, secs, tmp):
    checker = small()
    try:
        time.sleep(peers.WARM)
        a0 = checker.count(echod)
        calls = strace_counts(checker.pid, secs, tmp)
        per = checker.count(echod) - a0
    finally:
        checker.stop()
    checker = full()
    try:
        time.sleep(peers.WARM)
        a1, (u0, s0) = checker.count(echod), peers.proc_cpu(checker.pid)
        split = perf_split(checker.pid, secs, tmp)
        a2, (u1, s1) = checker.count(echod), peers.proc_cpu(checker.pid)
    finally:
        checker.stop()
    print("\n== %s: %d checks under strace in %gs (connect %d, close %d)" % (
        name, per, secs, calls.get("connect", 0), calls.get("close", 0)))
    if per:
        print("system calls per check: %.2f" % (sum(calls.values()) / per))
    for sc, n in sorted(calls.items(), key=lambda kv: -kv[1]):
        if per and n / per >= 0.01:
            print("  %-16s %6.2f" % (sc, n / per))
    cpu = (u1 - u0) + (s1 - s0)
    if split is None:
        print("perf: cannot record here")
        return
    print("workload A under perf: %.1f us/check, user %.0f %%, %d checks" % (
        cpu / (a2 - a1) * 1e6, 100 * (u1 - u0) / cpu, a2 - a1) if a2 > a1 and cpu else "")
    print("perf cpu-clock samples by object: " + ", ".join("%s %s" % (d, p) for d, p in
                                                           split[0]))
    print("top symbols:")
    for line in split[1]:
        print("  " + line)


def run(tmp, echod, secs):
    print("bench-peers PROFILE=1: WARM=%gs, %gs under strace (100 sessions at 100 ms), then"
          " %gs under perf (workload A)" % (peers.WARM, secs, secs))
    def mconnd(close):
        return lambda n: peers.MconndChecker(tmp, echod, n, "100ms", "cycle", close)

    for name, make in (("haproxy", lambda n: peers.HaproxyChecker(tmp, echod, n, "100ms")),
                       ("mconnd fin", mconnd("fin")), ("mconnd rst", mconnd("rst"))):
        profile_one(name, lambda: make(100), lambda: make(1000), echod, secs, tmp)
