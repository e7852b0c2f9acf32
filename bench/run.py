#!/usr/bin/env python3
"""Run libdp's benchmark workloads for libdp and its two baselines, side by side.

    bench/run.py --build DIR [--reps N] [--workloads W2,W3] [--systems libdp,raw-tcp]
                 [--quick] [--json FILE] [--results FILE] [--timeout S]

Normally started by bench/run.sh, which builds first. Every workload (W0 W1
W2 W2C W2R W3 W3B W4 W6 W7 W8 W8R) runs for every system (libdp, raw-tcp, zeromq;
the start-up ones W0 W1 W6 also for floor, raw-tcp linked like dp-node) N
times (W2R, W2 as RPC calls through dp-codegen's stubs, W8, place to place
across nodes, and W8R, W8 as RPC calls over the mesh, for libdp only)
(default 5); each repetition runs every system once per workload, the order
of the systems rotating from one repetition to the next, so drift hits them
all alike. W2C is W2 run while two busy loops (child processes of this
script, started before that run and killed after it, whatever happens) hold
the cores, the same for every system. W8 is libdp's alone: a place's round
trips to a place on another node, directly node to node and relayed through
the master, both in each run. W2T, W3T and W4T are libdp's W2, W3 and W4
with TLS on (over loopback), compared with the baselines' plain W2, W3 and
W4 of the same run. W5 (RMPI allreduce, barrier and broadcast
with 4 ranks) runs for libdp and Open MPI over TCP (mpirun, btl tcp,self)
only. Each run is a fresh process printing one JSON line. Any run that
reports ok:false, crashes, prints no result or times out makes the exit
status 1 (the others still run and the table is still printed).

Prints one table, headed by the machine's basic costs (bench/probe: a null
system call, a first touch of a fresh page, a thread wake-up): per workload
and system the median (min-max), and libdp's ratio to each baseline.
--json FILE writes the same (with every sample); --results FILE writes it in
bench/RESULTS.md's form (`bench/run.sh --results bench/RESULTS.md` replaces
that file with a run of this machine in one command).
Python 3 standard library only.

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import argparse
import datetime
import json
import math
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time

WORKLOADS = ["W0", "W1", "W1S", "W2", "W2C", "W2R", "W3", "W3B", "W4", "W2T", "W3T", "W4T", "W5", "W6", "W7",
             "W8", "W8R"]
# W2, W3 and W4 with TLS on (DpNode:tls, over loopback): libdp only; their
# ratios are over the baselines' plain W2, W3, W4 of the same run
TLS_BASE = {"W2T": "W2", "W3T": "W3", "W4T": "W4"}
# a workload run by another one's program, under a load the harness makes
PROGRAM_WORKLOAD = {"W2C": "W2"}
# W3B is W3 through libdp's batch API (put_many/get_many); the baselines,
# which have no such API to add, run their W3 beside it
BASELINE_PROGRAM = {"W3B": "W3"}
BUSY_LOOPS = {"W2C": 2}
SYSTEMS = ["libdp", "raw-tcp", "floor", "zeromq", "ssh", "openmpi"]
BASELINES = ["raw-tcp", "floor", "zeromq", "ssh", "openmpi"]
# The floor (bench/floor): raw-tcp's program linked exactly like dp-node, so
# its processes load the libraries a node loads; only the start-up
# workloads, where that is what it measures.
FLOOR_WORKLOADS = ("W0", "W1", "W6")
# W5 (RMPI collectives, 4 ranks) runs for libdp and Open MPI over TCP only:
# bench/mpi-collectives under mpirun, the byte transfer layer limited to
# tcp,self (no shared memory), on loopback, --oversubscribe (4 ranks may be
# more than the cores).
MPI_RANKS = 4
MPIRUN_ARGS = ["--oversubscribe", "-np", str(MPI_RANKS), "--mca", "pml", "ob1",
               "--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", "lo"]
# W1S (a node spawned over ssh) runs when a private sshd is up (bench/run.sh
# starts one with tests/sshd-fixture.sh); its baseline is a bare `ssh HOST
# true` to the same sshd; the socket baselines have no W1S and ssh only W1S.
SSH_HOST = "dp-test"


def applies(system, workload):
    if workload == "W2R":
        return system == "libdp"   # an RPC over libdp's stubs; compare with W2
    if workload == "W5":
        return system in ("libdp", "openmpi")
    if workload in TLS_BASE:
        return system == "libdp"
    if system == "openmpi":
        return False
    if workload == "W1S":
        return system in ("libdp", "ssh")
    # W8 compares two paths of libdp itself (node to node, through the master)
    if workload in ("W8", "W8R"):
        return system == "libdp"
    if system == "floor":
        return workload in FLOOR_WORKLOADS
    return system != "ssh"


def ssh_available():
    return bool(os.environ.get("DP_TEST_SSH_CONFIG"))

# what each workload measures, and its unit (as the programs report it)
DESCRIPTION = {
    "W0": ("hello-world, whole process (dp-launch)", "ms"),
    "W1": ("spawn a node + first place, 1 round trip", "ms"),
    "W1S": ("W1 over ssh (libdp) / bare `ssh host true` (ssh)", "ms"),
    "W2": ("10,000 sequential round trips of 42", "us/rt"),
    "W2C": ("W2 while two busy loops hold the cores", "us/rt"),
    "W2R": ("W2 as 10,000 RPCs (bank add, master → place)", "us/rt"),
    "W3": ("200,000 one-way 64-byte messages", "msg/s"),
    "W3B": ("W3 in batches of 64 (put_many/get_many; baselines: their W3)", "msg/s"),
    "W4": ("256 one-way 4 MiB messages", "MB/s"),
    "W2T": ("W2 with TLS on (loopback)", "us/rt"),
    "W3T": ("W3 with TLS on (loopback)", "msg/s"),
    "W4T": ("W4 with TLS on (loopback)", "MB/s"),
    "W6": ("spawn 8 nodes at once, 1 reply each", "ms"),
    "W7": ("1,000 places on one node, 1 reply each", "ms"),
    "W5": ("RMPI allreduce of one double, 4 ranks (barrier, broadcast: below)", "us/op"),
    "W8": ("place↔place round trips across two nodes, direct (relayed: below)", "us/rt"),
    "W8R": ("W8 as 10,000 RPCs (bank add, place → named place on another node)", "us/rt"),
}
HIGHER_IS_BETTER = {"msg/s", "MB/s"}
UNIT_TEXT = {"us/rt": "µs/rt", "us/op": "µs/op"}


def command_for(system, workload, build):
    """argv and environment of one run, or None if the program was not built"""
    env = dict(os.environ)
    bench = os.path.join(build, "bench")
    workload = PROGRAM_WORKLOAD.get(workload, workload)
    if system != "libdp":
        workload = BASELINE_PROGRAM.get(workload, workload)
    if system == "ssh":
        if not ssh_available():
            return None
        return ["ssh", "-F", env["DP_TEST_SSH_CONFIG"], "-o", "BatchMode=yes", SSH_HOST, "true"], env
    if system == "libdp":
        if workload == "W1S":
            env["DP_BENCH_SSH_HOST"] = SSH_HOST
            env["DP_BENCH_SSH_CONFIG"] = env.get("DP_TEST_SSH_CONFIG", "")
        plugins = os.path.join(build, "plugins")
        env["DP_NODE_PATH"] = os.path.join(build, "loader", "dp-node")
        env["DP_LAUNCH_PATH"] = os.path.join(build, "loader", "dp-launch")
        env["DP_PLUGIN_PATH"] = plugins
        # the build's ssh spawner (libdp loads it on the first ssh spawn)
        env["DP_SSH_MODULE"] = os.path.join(build, "libdp", "dp-ssh.so")
        env["DP_TLS_MODULE"] = os.path.join(build, "libdp", "dp-tls.so")
        env["DP_BENCH_SERVERS_DIR"] = os.path.join(build, "samples", "servers")
        env["DP_BENCH_PLACES_DIR"] = bench   # bench-places.so (W8R)
        return [os.path.join(bench, "libdp-bench"), workload, "--plugin-dir", plugins], env
    if system == "openmpi":
        program = os.path.join(bench, "mpi-collectives")
        mpirun = shutil.which("mpirun")
        if mpirun is None or not os.access(program, os.X_OK):
            return None
        if os.geteuid() == 0:
            env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
            env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        return [mpirun] + MPIRUN_ARGS + [program], env
    program = os.path.join(bench, {"raw-tcp": "raw-tcp", "zeromq": "zmq", "floor": "floor"}[system])
    if not os.access(program, os.X_OK):
        return None
    return [program, workload], env


def run_ssh_true(argv, env, timeout):
    """the bare-ssh baseline: wall time of `ssh HOST true`, in ms"""
    t0 = time.perf_counter()
    try:
        p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timed out after %g s" % timeout
    except OSError as e:
        return None, "could not run %s: %s" % (argv[0], e)
    ms = (time.perf_counter() - t0) * 1e3
    if p.returncode != 0:
        return None, "ssh exit status %d: %s" % (p.returncode, p.stderr.strip()[-200:])
    return {"workload": "W1S", "system": "ssh", "value": ms, "unit": "ms", "ok": True}, None


def start_busy_loops(n, timeout):
    """n processes that burn a CPU each, for at most timeout seconds"""
    code = "import time\nend = time.monotonic() + %g\nwhile time.monotonic() < end:\n    pass\n" % timeout
    return [subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(n)]


def stop_busy_loops(loops):
    for p in loops:
        try:
            p.kill()
        except OSError:
            pass
    for p in loops:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def run_one(system, workload, build, timeout):
    """one run: (result dict, None) or (None, error text)"""
    loops = []
    try:
        if BUSY_LOOPS.get(workload):
            loops = start_busy_loops(BUSY_LOOPS[workload], timeout + 5)
            time.sleep(0.2)   # let them take the cores
        return run_one_loaded(system, workload, build, timeout)
    finally:
        stop_busy_loops(loops)


def run_one_loaded(system, workload, build, timeout):
    argv, env = command_for(system, workload, build)
    if system == "ssh":
        return run_ssh_true(argv, env, timeout)
    try:
        p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timed out after %g s" % timeout
    except OSError as e:
        return None, "could not run %s: %s" % (argv[0], e)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    tail = " | ".join(p.stderr.strip().splitlines()[-3:])
    result = None
    if lines:
        try:
            result = json.loads(lines[-1])
        except ValueError:
            pass
    if p.returncode != 0:
        why = ("killed by signal %d" % -p.returncode) if p.returncode < 0 else ("exit status %d" % p.returncode)
        if result is not None and result.get("ok") is False:
            why += ", ok:false (%s)" % result.get("error", "?")
        return None, "%s%s" % (why, (": " + tail) if tail else "")
    if result is None:
        return None, "no JSON result line%s" % ((": " + tail) if tail else "")
    if result.get("ok") is not True:
        return None, "ok:false (%s)%s" % (result.get("error", "?"), (": " + tail) if tail else "")
    value = result.get("value")
    program = PROGRAM_WORKLOAD.get(workload, workload)
    if system != "libdp":
        program = BASELINE_PROGRAM.get(program, program)
    if (result.get("workload") != program or result.get("system") != system
            or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0):
        return None, "unexpected result %s" % lines[-1]
    if result.get("unit") != DESCRIPTION[workload][1]:
        return None, "unit %r, expected %r" % (result.get("unit"), DESCRIPTION[workload][1])
    result["workload"] = workload
    return result, None


def machine_info():
    info = {
        "nproc": os.cpu_count(),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    info["memory_mb"] = int(line.split()[1]) // 1024
                    break
    except OSError:
        pass
    try:
        top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        info["commit"] = subprocess.run(["git", "-C", top, "rev-parse", "--short", "HEAD"],
                                        capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def machine_costs(build):
    """The machine's basic costs (bench/probe): a null system call, the
    first touch of a fresh page, a thread wake-up — so that a table from
    another VM can be read. None when the probe is not built."""
    probe = os.path.join(build, "bench", "probe")
    if not os.access(probe, os.X_OK):
        return None
    try:
        out = subprocess.run([probe], capture_output=True, text=True, timeout=60).stdout
        return json.loads(out.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def libraries(program):
    """the shared objects ldd says @program loads, or None"""
    try:
        out = subprocess.run(["ldd", program], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    names = {line.split()[0] for line in out.splitlines() if line.strip() and "=>" in line}
    return names or None


def startup_floor(build, timeout):
    """What an empty process costs (bench/raw-tcp and bench/floor E0: spawn
    it, it exits at once, wait; the median of 21), libc only and linked
    exactly like dp-node, and whether bench/floor does load the libraries
    dp-node loads. None when the programs are not built."""
    out = {}
    for system, key in (("raw-tcp", "empty_libc_ms"), ("floor", "empty_like_node_ms")):
        argv_env = command_for(system, "E0", build)
        if argv_env is None:
            return None
        argv, env = argv_env
        try:
            p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                               text=True, timeout=timeout)
            result = json.loads(p.stdout.strip().splitlines()[-1])
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            return None
        if result.get("ok") is not True:
            return None
        out[key] = result["value"]
    node = libraries(os.path.join(build, "loader", "dp-node"))
    floor = libraries(os.path.join(build, "bench", "floor"))
    if node is not None and floor is not None:
        out["node_libraries"] = len(node)
        out["floor_libraries"] = len(floor)
        out["same_libraries"] = node == floor
        out["node_loads_libssh"] = any("libssh" in n for n in node)
    return out


def fmt(v):
    if v is None:
        return "—"
    a = abs(v)
    if a >= 1e6:
        return "%.2fM" % (v / 1e6)
    if a >= 100:
        return "%.0f" % v
    if a >= 10:
        return "%.1f" % v
    return "%.2f" % v


def ratio_text(r, unit):
    """libdp ÷ baseline, and which way that is"""
    if r is None:
        return "—"
    if unit in HIGHER_IS_BETTER:
        verdict = "faster" if r > 1 else "slower" if r < 1 else "same"
    else:
        verdict = "slower" if r > 1 else "faster" if r < 1 else "same"
    return "%.2f× (%s)" % (r, verdict)


# The hand-written sections of bench/RESULTS.md that a new run keeps (what
# the baselines do); any other section after the table (the notes on the run
# it replaces) is dropped, with a word on stderr: notes are written for a run.
KEPT_SECTIONS = ("## What the baselines do",)


def write_results(path, out, started, info, command):
    """FILE in bench/RESULTS.md's form: a heading, how the run was made, the
    table as printed (its headings one level down), then the kept sections of
    the FILE there was."""
    kept, dropped = [], []
    try:
        with open(path) as f:
            old = f.read()
    except OSError:
        old = ""
    section = None
    for line in old.splitlines():
        if line.startswith("## "):
            section = line.strip()
            (kept if section in KEPT_SECTIONS else dropped).append([])
        if section is None or not (kept or dropped):
            continue
        (kept if section in KEPT_SECTIONS else dropped)[-1].append(line)
    doc = ["# Benchmark results", "",
           "Measured %s on a %s-core machine (%s) with the one command" % (
               started.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d (%H:%M UTC)"),
               info.get("nproc"), info.get("cpu", "?")),
           "", "```sh", command, "```", "",
           "(%s: the workloads for every system, systems interleaved and their" % (
               "bench/run.sh, release build in `build-bench/`" if command.startswith("bench/run.sh")
               else "bench/run.py"),
           "order rotated per repetition). The machine's basic costs (bench/probe) are in",
           "the table's heading: compare a table from another machine through them. Its",
           "output, as printed:", ""]
    doc += [("#" + l) if l.startswith("#") else l for l in out]
    for block in kept:
        doc += [""] + block
        while doc and doc[-1] == "":
            doc.pop()
    with open(path, "w") as f:
        f.write("\n".join(doc) + "\n")
    titles = [b[0] for b in dropped if b and not b[0].startswith("## libdp benchmarks")]
    if titles:
        print("run.py: %s written; dropped from it (they were about the run it replaces): %s"
              % (path, ", ".join(titles)), file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", required=True, help="the meson build directory")
    ap.add_argument("--reps", type=int, help="repetitions per workload and system (default 5)")
    ap.add_argument("--workloads", default=None, help="e.g. W2,W3 (default: all; W1S with an sshd)")
    ap.add_argument("--systems", default=None, help="e.g. libdp,raw-tcp (default: all)")
    ap.add_argument("--quick", action="store_true", help="one repetition (unless --reps)")
    ap.add_argument("--json", metavar="FILE", help="also write every sample, the medians and ratios here")
    ap.add_argument("--timeout", type=float, default=180, help="seconds per run (default 180)")
    ap.add_argument("--results", metavar="FILE",
                    help="also write FILE in bench/RESULTS.md's form: this run's table, then the "
                         "hand-written sections of the FILE there was (see write_results)")
    args = ap.parse_args()

    reps = args.reps if args.reps is not None else (1 if args.quick else 5)
    if reps < 1:
        ap.error("--reps must be at least 1")
    default_w = [w for w in WORKLOADS if w != "W1S" or ssh_available()]
    default_s = [x for x in SYSTEMS if x != "ssh" or ssh_available()]
    workloads = [w.strip().upper() for w in (args.workloads or ",".join(default_w)).split(",") if w.strip()]
    systems = [x.strip() for x in (args.systems or ",".join(default_s)).split(",") if x.strip()]
    for w in workloads:
        if w not in WORKLOADS:
            ap.error("unknown workload %s (have %s)" % (w, " ".join(WORKLOADS)))
    for s in systems:
        if s not in SYSTEMS:
            ap.error("unknown system %s (have %s)" % (s, " ".join(SYSTEMS)))
    build = os.path.abspath(args.build)

    missing = {}
    for s in systems:
        probe_w = {"ssh": "W1S", "openmpi": "W5"}.get(s, "W1")
        if command_for(s, probe_w, build) is None:
            missing[s] = ("not built (libzmq was not found at build time)" if s == "zeromq"
                          else "no sshd (run through bench/run.sh)" if s == "ssh"
                          else "no mpirun or bench/mpi-collectives (Open MPI: sdk/install-deps.sh)"
                          if s == "openmpi" else "not built")
    present = [s for s in systems if s not in missing]
    if "libdp" in present and not os.access(os.path.join(build, "bench", "libdp-bench"), os.X_OK):
        sys.exit("run.py: %s/bench/libdp-bench is not built" % build)

    started = datetime.datetime.now().astimezone()
    info = machine_info()
    costs = machine_costs(build)
    if costs:
        info["costs"] = costs
    if "floor" in present and any(w in FLOOR_WORKLOADS for w in workloads):
        floor = startup_floor(build, args.timeout)
        if floor:
            info["startup_floor"] = floor
    samples = {w: {s: [] for s in present} for w in workloads}
    extras = {w: {s: [] for s in present} for w in workloads}
    failures = []

    for rep in range(reps):
        order = present[rep % len(present):] + present[:rep % len(present)] if present else []
        for w in workloads:
            for s in order:
                if not applies(s, w):
                    continue
                result, error = run_one(s, w, build, args.timeout)
                if error:
                    failures.append({"rep": rep + 1, "workload": w, "system": s, "error": error})
                    print("rep %d/%d %s %-8s FAILED: %s" % (rep + 1, reps, w, s, error), file=sys.stderr)
                    continue
                samples[w][s].append(result["value"])
                extra = {k: v for k, v in result.items()
                         if k not in ("workload", "system", "value", "unit", "ok")}
                if extra:
                    extras[w][s].append(extra)
                print("rep %d/%d %s %-8s %s %s" % (rep + 1, reps, w, s, fmt(result["value"]),
                                                   UNIT_TEXT.get(result["unit"], result["unit"])),
                      file=sys.stderr, flush=True)

    # ---- summary ----
    summary = {}
    for w in workloads:
        unit = DESCRIPTION[w][1]
        per = {}
        for s in present:
            v = samples[w][s]
            per[s] = {
                "samples": v,
                "median": statistics.median(v) if v else None,
                "min": min(v) if v else None,
                "max": max(v) if v else None,
            }
            if extras[w][s]:
                per[s]["extra"] = extras[w][s]
                keys = sorted({k for e in extras[w][s] for k, x in e.items() if isinstance(x, (int, float))})
                per[s]["extra_median"] = {k: statistics.median([e[k] for e in extras[w][s] if k in e])
                                          for k in keys}
        ratios = {}
        lib = per.get("libdp", {}).get("median")
        for b in BASELINES:
            base = per.get(b, {}).get("median")
            if w in TLS_BASE and TLS_BASE[w] in samples and samples[TLS_BASE[w]].get(b):
                base = statistics.median(samples[TLS_BASE[w]][b])
            if lib is not None and base:
                ratios[b] = lib / base
        summary[w] = {"description": DESCRIPTION[w][0], "unit": unit,
                      "better": "higher" if unit in HIGHER_IS_BETTER else "lower",
                      "systems": per, "libdp_ratio": ratios}

    # bench/run.sh passes the command it was given
    command = os.environ.get("LIBDP_BENCH_COMMAND") or " ".join(shlex.quote(a) for a in ["bench/run.py"] + sys.argv[1:])
    out = []
    out.append("# libdp benchmarks: libdp vs raw TCP vs ZeroMQ (and vs bare ssh for W1S)")
    out.append("")
    out.append("- date: %s" % started.strftime("%Y-%m-%d %H:%M %Z"))
    out.append("- machine: %s cores (nproc), Linux %s %s, %s, %s MB RAM" % (
        info.get("nproc"), info.get("kernel"), info.get("machine"), info.get("cpu", "?"), info.get("memory_mb", "?")))
    costs = info.get("costs")
    if costs:
        out.append("- machine costs (bench/probe, medians): a null system call %.0f ns, the first touch "
                   "of a fresh page %.2f µs, a thread wake-up (condition variable) %.1f µs" % (
                       costs.get("syscall_ns", -1), costs.get("page_fault_ns", -1) / 1000.0,
                       costs.get("thread_wake_ns", -1) / 1000.0))
    floor = info.get("startup_floor")
    if floor:
        same = floor.get("same_libraries")
        out.append("- start-up floor: an empty program, spawned and waited for (E0, median of 21): "
                   "%s ms with libc only, %s ms linked exactly like dp-node (bench/floor: %s libraries%s). "
                   "The floor column is raw-tcp's W0/W1/W6 in such processes." % (
                       fmt(floor["empty_libc_ms"]), fmt(floor["empty_like_node_ms"]),
                       floor.get("floor_libraries", "?"),
                       "" if same is None else (", the same as dp-node's" if same
                                                 else ", NOT the same as dp-node's %s" % floor.get("node_libraries"))))
    out.append("- command: `%s`" % command)
    out.append("- commit: %s, build: %s" % (info.get("commit", "?"), build))
    out.append("- %d repetition%s per workload and system, systems interleaved; each cell: median (min–max)"
               % (reps, "" if reps == 1 else "s"))
    for s, why in missing.items():
        out.append("- %s: MISSING, %s" % (s, why))
    out.append("")
    head = ["", "workload", "unit"] + systems + ["libdp ÷ %s" % b for b in BASELINES if b in systems]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "|".join("---" for _ in head) + "|")
    for w in workloads:
        sm = summary[w]
        unit = sm["unit"]
        row = [w, sm["description"], UNIT_TEXT.get(unit, unit) + (" ↑" if unit in HIGHER_IS_BETTER else " ↓")]
        for s in systems:
            if s in missing:
                row.append("missing")
                continue
            if not applies(s, w):
                row.append("")
                continue
            st = sm["systems"][s]
            if st["median"] is None:
                row.append("FAILED")
            elif len(st["samples"]) == 1:
                row.append(fmt(st["median"]))
            else:
                row.append("%s (%s–%s)" % (fmt(st["median"]), fmt(st["min"]), fmt(st["max"])))
        for b in BASELINES:
            if b in systems:
                row.append(ratio_text(sm["libdp_ratio"].get(b), unit))
        out.append("| " + " | ".join(row) + " |")
    out.append("")
    out.append("↓ a time, lower is better; ↑ a rate, higher is better. libdp ÷ baseline is libdp's median")
    out.append("over the baseline's: for a time, how many times longer libdp takes (above 1× = slower);")
    out.append("for a rate, libdp's rate as a fraction of the baseline's (below 1× = slower).")
    tls_cost = []
    for w, bw in TLS_BASE.items():
        if w in workloads and bw in workloads and "libdp" in present:
            on = summary[w]["systems"]["libdp"]["median"]
            off = summary[bw]["systems"]["libdp"]["median"]
            if on and off:
                better_high = summary[w]["unit"] in HIGHER_IS_BETTER
                tls_cost.append("%s %.2f× (%s ÷ %s%s)" % (w, off / on if better_high else on / off, w, bw,
                                                          ", rates inverted" if better_high else ""))
    if tls_cost:
        out.append("")
        out.append("TLS cost, libdp with TLS on over the same with it off, in time (above 1× = slower): "
                   + "; ".join(tls_cost) + ". Goals: W2T at most 1.5× W2; W4T at least 0.5× raw TCP's W4"
                   " (the raw-tcp column of the W4T row).")
    if "W7" in workloads:
        rss = []
        for s in present:
            em = summary["W7"]["systems"][s].get("extra_median", {})
            if "node_idle_rss_kb" in em or "node_peak_rss_kb" in em:
                rss.append("%s idle %s kB, peak %s kB" % (
                    s, fmt(em.get("node_idle_rss_kb")), fmt(em.get("node_peak_rss_kb"))))
        if rss:
            out.append("")
            out.append("W7, RSS of the process holding the 1,000 places (libdp: the node; baselines: the server),")
            out.append("medians: " + "; ".join(rss) + ".")
    if "W8" in workloads and "libdp" in present:
        st = summary["W8"]["systems"]["libdp"]
        relayed = st.get("extra_median", {}).get("relayed_us_rt")
        if st["median"] is not None and relayed:
            out.append("")
            out.append("W8, a place on node A and the named place on node B, 10,000 sequential round trips")
            out.append("measured by the place, in the same runs: direct (node to node) %s µs/rt; relayed through"
                       % fmt(st["median"]))
            out.append("the master %s µs/rt: the direct path takes %.2f× the relayed one's time." % (
                fmt(relayed), st["median"] / relayed))
    if "W8R" in workloads and "libdp" in present:
        st = summary["W8R"]["systems"]["libdp"]
        if st["median"] is not None:
            line = ("W8R, a place on node A calling the add of the bank named on node B, 10,000 sequential"
                    " RPCs measured by the place: %s µs per call" % fmt(st["median"]))
            for w in ("W8", "W2R"):
                other = summary.get(w, {}).get("systems", {}).get("libdp", {}).get("median")
                if w in workloads and other:
                    line += "; %.2f× %s's" % (st["median"] / other, w)
            out.append("")
            out.append(line + ".")
    if "W5" in workloads and "libdp" in present:
        cells = []
        for key, name in (("value", "allreduce"), ("barrier_us", "barrier"), ("broadcast_us", "broadcast")):
            got = {}
            for s in ("libdp", "openmpi"):
                st = summary["W5"]["systems"].get(s)
                if st is None or st["median"] is None:
                    continue
                got[s] = st["median"] if key == "value" else st.get("extra_median", {}).get(key)
            text = "%s: libdp %s µs" % (name, fmt(got.get("libdp")))
            if got.get("openmpi"):
                text += ", Open MPI %s µs (%.2f×)" % (fmt(got["openmpi"]), got["libdp"] / got["openmpi"])
            cells.append(text)
        out.append("")
        out.append("W5, %d ranks each on a node of its own (libdp) / %d MPI processes over TCP (Open MPI),"
                   % (MPI_RANKS, MPI_RANKS))
        out.append("mean time per operation back to back, medians: " + "; ".join(cells) + ".")
    if failures:
        out.append("")
        out.append("FAILED runs (%d):" % len(failures))
        for f in failures:
            out.append("- rep %d %s %s: %s" % (f["rep"], f["workload"], f["system"], f["error"]))
    print("\n".join(out))
    if args.results:
        write_results(args.results, out, started, info, command)

    if args.json:
        doc = {
            "date": started.isoformat(timespec="seconds"),
            "command": command,
            "machine": info,
            "build": build,
            "repetitions": reps,
            "workloads": workloads,
            "systems": systems,
            "missing": missing,
            "results": summary,
            "failures": failures,
        }
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2, ensure_ascii=False)
            f.write("\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
