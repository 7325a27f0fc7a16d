#!/usr/bin/env python3
"""End-to-end load harness for jwt-tower (see BENCHMARKS.md).

Starts `benches/load/load_target.rs` (one axum route, `GET /me`, answering the verified `sub`)
once per configuration, on loopback, and loads it with wrk: a no-auth baseline, and
HS256, RS256, ES256 and EdDSA through `JwtLayer` with the verified-token cache off and on.
Also loads the `resource_server` example (HS256, claims as JSON), a stream of tokens
with a bad signature (401s), and, for reference, the same route behind a hand-written
middleware calling `jsonwebtoken::decode` (HS256, RS256), and the peers
(HS256, RS256): jwt-authorizer 0.15 and axum-jwt-auth 0.7 (`benches/peers`, built here
with cargo) and Express + express-jwt (`benches/peers/express`, installed with npm),
each sent a token minted as jwt-tower's (skip them with --no-peers); and the crypto floor
(the bare signature check in a tower layer where `JwtLayer` sits), the same layer without
the check, and an axum `from_fn` middleware without one. Besides req/s and p99, the
server's CPU time per request (from /proc) shows what the layer costs when the request
rate is limited by something else. Every figure is reported as a ratio to the baseline taken
in the same run: the baseline is run between every two configurations and each run is
compared with the mean of the baselines just before and after it; over rounds, the
median is kept.

One core: the server is pinned to CPU 0 with one tokio worker, wrk to CPU 1 (taskset).
N cores (N = os.cpu_count()): the server has N workers and is not pinned, nor is wrk,
so on a small machine the load generator competes with the server for the same cores.

    python3 benches/load/run.py                 # full run (about 24 minutes)
    python3 benches/load/run.py --quick         # smoke run (about 1.5 minutes), to a temp dir
    python3 benches/load/run.py --duration 20 --rounds 5 --out /tmp/results
    python3 benches/load/run.py --only cache --rounds 9 --out /tmp/cache   # a subset, more rounds

Writes DIR/results.json (every run, raw), DIR/summary.csv, DIR/summary.md (the tables)
and DIR/load.png (the plot). Traffic goes to 127.0.0.1 only; every run is bounded.
"""

from __future__ import annotations

import argparse
import base64
import csv
import datetime as dt
import hashlib
import hmac
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_OUT = os.path.join(ROOT, "benches", "load", "results")
# Where `cargo build` puts them: CARGO_TARGET_DIR (relative to the workspace) when set.
BUILD_DIR = os.path.join(ROOT, os.environ.get("CARGO_TARGET_DIR") or "target")
TARGET = os.path.join(BUILD_DIR, "release", "examples", "load_target")
RESOURCE_SERVER = os.path.join(BUILD_DIR, "release", "examples", "resource_server")
# The peers: a crate of its own (not in the workspace), built into a folder of its own.
PEERS_DIR = os.path.join(ROOT, "benches", "peers")
PEERS_BUILD_DIR = os.path.join(BUILD_DIR, "peers")
EXPRESS_DIR = os.path.join(PEERS_DIR, "express")
# Peer name -> (row label, command). The Rust peers run with LOAD_THREADS workers like
# load_target; Node is one thread whatever the core count.
PEERS = {
    "jwt-authorizer": ("jwt-authorizer 0.15 (axum 0.7)",
                       [os.path.join(PEERS_BUILD_DIR, "release", "jwt_authorizer")]),
    "axum-jwt-auth": ("axum-jwt-auth 0.7",
                      [os.path.join(PEERS_BUILD_DIR, "release", "axum_jwt_auth")]),
    "express-jwt": ("Express 4 + express-jwt 8 (Node)",
                    ["node", os.path.join(EXPRESS_DIR, "server.js")]),
}
PEER_ALGORITHMS = ["HS256", "RS256"]
SUBJECT = "load-user-7f3a9c2e"
ALGORITHMS = ["HS256", "RS256", "ES256", "EdDSA"]
# For the resource_server example (JWT_HS256_SECRET); the harness mints its token.
RS_SECRET = "resource-server-load-secret-0123456789abcdef0123456789abcdef"
RS_ISSUER = "https://auth.load.test"
RS_AUDIENCE = "load-api"
# The control row's busy-wait: about one HS256 verify in `cargo bench --bench verify`.
CONTROL_SPIN_NS = 1250


def log(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- tools and machine


def ensure_tools(need_plot: bool) -> bool:
    """wrk and taskset must be there (wrk is installed if missing); returns whether
    matplotlib can be used (installed with pip if missing)."""
    if shutil.which("wrk") is None:
        log("wrk not found: installing it (apt-get install -y wrk)")
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        subprocess.run(sudo + ["apt-get", "update", "-qq"], check=False)
        subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    if shutil.which("taskset") is None:
        sys.exit("taskset not found (util-linux)")
    if not need_plot:
        return False
    try:
        import matplotlib  # noqa: F401

        return True
    except ImportError:
        log("matplotlib not found: installing it (pip install matplotlib)")
        r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "matplotlib"])
        if r.returncode != 0:
            log("could not install matplotlib: no plot")
            return False
        return True


def command_output(cmd: list[str]) -> str:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        return (r.stdout or r.stderr).strip().splitlines()[0]
    except (OSError, IndexError):
        return "unknown"


def machine() -> dict:
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gib = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": mem_gib,
        "kernel": platform.release(),
        "rustc": command_output(["rustc", "-V"]),
        "wrk": command_output(["wrk", "-v"]),
        "node": command_output(["node", "-v"]),
        "commit": command_output(["git", "rev-parse", "--short", "HEAD"]),
    }


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def build() -> None:
    cmd = [
        "cargo", "build", "--release",
        "--example", "load_target", "--example", "resource_server",
    ]
    log("$ " + " ".join(cmd))
    subprocess.run(cmd, cwd=ROOT, check=True)


def build_peers() -> set[str]:
    """Builds the Rust peers and installs the Node one; returns the peers that are ready
    (a peer that cannot be built is left out of the run, with a warning)."""
    ready = set()
    cmd = ["cargo", "build", "--release", "--locked", "--manifest-path",
           os.path.join(PEERS_DIR, "Cargo.toml"), "--target-dir", PEERS_BUILD_DIR]
    log("$ " + " ".join(cmd))
    if subprocess.run(cmd, cwd=ROOT).returncode == 0:
        ready |= {"jwt-authorizer", "axum-jwt-auth"}
    else:
        log("warning: the Rust peers did not build: left out")
    if shutil.which("node") and shutil.which("npm"):
        cmd = ["npm", "ci", "--no-audit", "--no-fund", "--silent"]
        log("$ " + " ".join(cmd) + "   # in benches/peers/express")
        if subprocess.run(cmd, cwd=EXPRESS_DIR).returncode == 0:
            ready.add("express-jwt")
        else:
            log("warning: npm ci failed in benches/peers/express: Express left out")
    else:
        log("warning: node or npm not found: Express left out")
    return ready


def peers_built() -> set[str]:
    """The peers already built (for --no-build)."""
    ready = {p for p in ("jwt-authorizer", "axum-jwt-auth") if os.path.exists(PEERS[p][1][0])}
    if os.path.isdir(os.path.join(EXPRESS_DIR, "node_modules")) and shutil.which("node"):
        ready.add("express-jwt")
    return ready


# ---------------------------------------------------------------- servers


@dataclass(frozen=True)
class Config:
    """One server configuration to load."""

    name: str  # row label
    auth: str = "none"  # LOAD_AUTH, or "resource_server"
    cache: bool = False
    bad_token: bool = False  # send a token with a bad signature: every answer a 401
    spin_ns: int = 0  # LOAD_SPIN_NS: busy-wait in the no-auth handler (a control)
    peer: str = ""  # a key of PEERS: that server instead of load_target (auth: the alg)

    @property
    def is_baseline(self) -> bool:
        return self.auth == "none" and self.spin_ns == 0


BASELINE = Config("baseline (no auth)")
# A control: no auth, the handler busy-waits about as long as one HS256 verify takes in
# the micro-benchmark. What this row loses is what any such work loses on this machine,
# whoever does it (see BENCHMARKS.md, "What the control row says").
CONTROL = Config(f"control: baseline + {CONTROL_SPIN_NS} ns busy-wait", spin_ns=CONTROL_SPIN_NS)


FLOOR_HS256 = Config("crypto floor: signature check only, HS256", "floor-HS256")
FLOOR_RS256 = Config("crypto floor: signature check only, RS256", "floor-RS256")
# The same HS256 check in an axum `from_fn` middleware, as the floor ran until 782fa9c:
# what that middleware's plumbing adds, measured in the same run.
FLOOR_HS256_FROM_FN = Config("crypto floor in a from_fn middleware, HS256", "floor-from_fn-HS256")
# What a layer costs before it does any work: the floor without its check (a tower layer
# placed as `JwtLayer` is, that only finds the token); and the hand-written middleware
# without its `jsonwebtoken::decode` (an axum `from_fn` middleware that only finds it).
# (Their names match neither `floor` nor `hand-written`, for --only.)
EMPTY_LAYER = Config("empty layer: finds the token, checks nothing", "empty-layer")
EMPTY_MIDDLEWARE = Config("empty from_fn middleware: finds the token, decodes nothing",
                          "empty-middleware")


def peer_configs(peers: set[str] | None = None) -> list[Config]:
    """The peers' rows (all of them when `peers` is None), in PEERS' order."""
    return [Config(f"{label}, {alg}", alg, peer=peer)
            for peer, (label, _) in PEERS.items() if peers is None or peer in peers
            for alg in PEER_ALGORITHMS]


def main_configs(peers: set[str] | None = None) -> list[Config]:
    """Every one-core row; the peers' only for those in `peers` (all when None)."""
    configs = []
    for alg in ALGORITHMS:
        configs.append(Config(f"{alg}", alg, cache=False))
        configs.append(Config(f"{alg} + cache", alg, cache=True))
    configs.append(Config("HS256, bad signature (401)", "HS256", bad_token=True))
    configs.append(Config("resource_server example, HS256", "resource_server"))
    # The reference point, measured in the same run: axum + a hand-written
    # middleware calling jsonwebtoken::decode, no jwt-tower on the request path.
    configs.append(Config("hand-written jsonwebtoken middleware, HS256", "jsonwebtoken-HS256"))
    configs.append(Config("hand-written jsonwebtoken middleware, RS256", "jsonwebtoken-RS256"))
    # The crypto floor through the same server: the bare signature check of the token
    # (aws-lc-rs, key parsed once) in a tower layer where `JwtLayer` sits, no JWT handling
    # at all. A verifier without a cache does this and more; the layer's rows are read
    # against it.
    configs += [FLOOR_HS256, FLOOR_RS256, FLOOR_HS256_FROM_FN, EMPTY_LAYER, EMPTY_MIDDLEWARE]
    configs += peer_configs(peers)
    configs.append(CONTROL)
    return configs


def scaling_configs() -> list[Config]:
    return [BASELINE, Config("HS256", "HS256"), Config("ES256", "ES256")]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_token(secret: str, claims: dict) -> str:
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode()
    sig = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(sig)}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def read_lines(stream, into: dict[str, str], count: int) -> None:
    """Reads `count` lines of `KEY VALUE` from `stream` into `into`."""
    for _ in range(count):
        line = stream.readline()
        if not line:
            return
        key, _, value = line.strip().partition(" ")
        into[key] = value


def announced(proc: subprocess.Popen, count: int) -> dict[str, str]:
    """The first `count` lines a server prints (`KEY VALUE`), waiting at most 10 s."""
    # Read in a thread: readline() on the pipe cannot time out.
    lines: dict[str, str] = {}
    reader = threading.Thread(target=read_lines, args=(proc.stdout, lines, count), daemon=True)
    reader.start()
    reader.join(timeout=10)
    return lines


def stop_process(proc: subprocess.Popen | None) -> None:
    """SIGINT (the servers shut down on it), then SIGKILL after 5 s."""
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def minted_token(alg: str, env: dict[str, str]) -> str:
    """A fresh token from load_target for `alg`: what jwt-tower's rows are sent."""
    proc = subprocess.Popen([TARGET], stdout=subprocess.PIPE, text=True, env=dict(
        env, LOAD_AUTH=alg, LOAD_CACHE="0", LOAD_SPIN_NS="0", LOAD_THREADS="1",
        BIND="127.0.0.1:0"))
    try:
        lines = announced(proc, 3)
    finally:
        stop_process(proc)
        proc.stdout.close()
    if "token" not in lines:
        raise RuntimeError(f"load_target did not print a token for {alg}")
    return lines["token"]


class Server:
    """A server process for one configuration; stops on exit from `with`."""

    def __init__(self, config: Config, threads: int, pin_cpu: int | None):
        self.config = config
        self.threads = threads
        self.pin_cpu = pin_cpu
        self.proc: subprocess.Popen | None = None
        self.addr = ""
        self.token = ""

    def __enter__(self) -> "Server":
        try:
            return self.start()
        except BaseException:
            # `__exit__` does not run when `__enter__` raises: stop the server here.
            self.stop()
            raise

    def start(self) -> "Server":
        pin = ["taskset", "-c", str(self.pin_cpu)] if self.pin_cpu is not None else []
        env = dict(os.environ, RUST_LOG="warn")
        if self.config.auth == "resource_server":
            port = free_port()
            self.addr = f"127.0.0.1:{port}"
            env.update(
                BIND=self.addr,
                JWT_HS256_SECRET=RS_SECRET,
                JWT_ALGORITHMS="HS256",
                JWT_ISSUER=RS_ISSUER,
                JWT_AUDIENCE=RS_AUDIENCE,
                TOKIO_WORKER_THREADS=str(self.threads),
            )
            env.pop("REDIS_URL", None)
            self.proc = subprocess.Popen(
                pin + [RESOURCE_SERVER], env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            now = int(time.time())
            self.token = hs256_token(RS_SECRET, {
                "iss": RS_ISSUER, "aud": RS_AUDIENCE, "sub": SUBJECT,
                "iat": now, "nbf": now, "exp": now + 3600, "scope": "orders:read profile",
            })
            deadline = time.time() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.time() > deadline or self.proc.poll() is not None:
                        raise RuntimeError(f"{self.config.name}: server did not start")
                    time.sleep(0.05)
        elif self.config.peer:
            # The peer is sent a token minted as jwt-tower's row for the algorithm is sent.
            self.token = minted_token(self.config.auth, env)
            env.update(LOAD_AUTH=self.config.auth, LOAD_THREADS=str(self.threads),
                       BIND="127.0.0.1:0")
            self.launch(pin + PEERS[self.config.peer][1], env, ["listening"])
        else:
            env.update(
                LOAD_AUTH=self.config.auth,
                LOAD_CACHE="1" if self.config.cache else "0",
                LOAD_SPIN_NS=str(self.config.spin_ns),
                LOAD_THREADS=str(self.threads),
                BIND="127.0.0.1:0",
            )
            lines = self.launch(pin + [TARGET], env, ["listening", "token", "bad_token"])
            self.token = lines["bad_token"] if self.config.bad_token else lines["token"]
        self.check()
        return self

    def launch(self, cmd: list[str], env: dict[str, str], keys: list[str]) -> dict[str, str]:
        """Starts a server that announces itself with the lines `keys` (`listening on
        ADDR` among them) on stdout; returns those lines. (A failure raises; `__enter__`
        stops the process.)"""
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
        lines = announced(self.proc, len(keys))
        if any(key not in lines for key in keys):
            raise RuntimeError(f"{self.config.name}: server did not start")
        self.addr = lines["listening"].removeprefix("on ").strip()
        return lines

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server has used so far, from /proc."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def url(self) -> str:
        return f"http://{self.addr}/me"

    def check(self) -> None:
        """One request before the load: the answer must be the expected one."""
        req = urllib.request.Request(self.url(), headers={"Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                status, body = r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            status, body = e.code, e.read().decode()
        want = 401 if self.config.bad_token else 200
        if status != want or (want == 200 and SUBJECT not in body):
            raise RuntimeError(f"{self.config.name}: expected {want}, got {status} {body!r}")

    def stop(self) -> None:
        stop_process(self.proc)

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------- wrk


UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def to_ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not m:
        raise ValueError(f"latency {text!r}")
    return float(m.group(1)) * UNITS_MS[m.group(2)]


@dataclass
class Run:
    config: str
    cores: str  # "1" or "N"
    round: int
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    server_cpu_s: float = 0.0  # CPU time the server used during the measured run
    cpu_us_per_req: float = 0.0
    baseline_rps: float | None = None  # mean of the neighbouring baselines
    baseline_p99_ms: float | None = None
    baseline_cpu_us: float | None = None
    loadavg: str = ""


def parse_wrk(out: str) -> dict:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    total = re.search(r"(\d+) requests in", out)
    if not (rps and p50 and p99 and total):
        raise RuntimeError("cannot parse wrk output:\n" + out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)", out)
    return {
        "rps": float(rps.group(1)),
        "p50_ms": to_ms(p50.group(1)),
        "p99_ms": to_ms(p99.group(1)),
        "requests": int(total.group(1)),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(int(g) for g in sock.groups()) if sock else 0,
    }


def wrk(server: Server, seconds: int, connections: int, pin_cpu: int | None) -> dict:
    pin = ["taskset", "-c", str(pin_cpu)] if pin_cpu is not None else []
    cmd = pin + [
        "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
        "-H", f"Authorization: Bearer {server.token}", server.url(),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)
    if r.returncode != 0:
        raise RuntimeError(f"wrk failed: {r.stderr}")
    return parse_wrk(r.stdout)


# ---------------------------------------------------------------- the plan


@dataclass
class Harness:
    args: argparse.Namespace
    ncpu: int
    runs: list[Run] = field(default_factory=list)

    def placement(self, cores: str) -> tuple[int, int | None, int | None]:
        """(server threads, server CPU, wrk CPU)."""
        if cores == "1" and self.ncpu >= 2:
            return 1, 0, 1
        if cores == "1":
            return 1, None, None
        return self.ncpu, None, None

    def measure(self, config: Config, cores: str, rnd: int) -> Run:
        threads, server_cpu, wrk_cpu = self.placement(cores)
        with Server(config, threads, server_cpu) as server:
            if self.args.warmup > 0:
                wrk(server, self.args.warmup, self.args.connections, wrk_cpu)
            cpu_before = server.cpu_seconds()
            result = wrk(server, self.args.duration, self.args.connections, wrk_cpu)
            cpu = server.cpu_seconds() - cpu_before
        run = Run(config=config.name, cores=cores, round=rnd, loadavg=loadavg(),
                  server_cpu_s=cpu, cpu_us_per_req=cpu / max(result["requests"], 1) * 1e6,
                  **result)
        expected_errors = run.requests if config.bad_token else 0
        if config.bad_token and run.non_2xx < run.requests:
            log(f"  warning: {run.requests - run.non_2xx} requests were not refused")
        elif not config.bad_token and run.non_2xx != expected_errors:
            log(f"  warning: {run.non_2xx} non-2xx answers")
        log(f"  round {rnd + 1} {cores}-core {config.name:32} {run.rps:10.0f} req/s  p99 {run.p99_ms:6.2f} ms  "
            f"server CPU {run.cpu_us_per_req:5.1f} us/req ({run.server_cpu_s / self.args.duration:.0%})")
        return run

    def block(self, configs: list[Config], cores: str, rnd: int) -> None:
        """Baseline, two configurations, baseline, two more, ..., baseline; each run gets
        the mean of the baselines on either side as its reference."""
        # Rotate the order per round so no configuration always runs first.
        shift = rnd % len(configs) if configs else 0
        configs = configs[shift:] + configs[:shift]
        sequence: list[Config] = [BASELINE]
        for i, c in enumerate(configs):
            sequence.append(c)
            if i % 2 == 1 or i == len(configs) - 1:
                sequence.append(BASELINE)
        done: list[tuple[Config, Run]] = [(c, self.measure(c, cores, rnd)) for c in sequence]
        for i, (c, run) in enumerate(done):
            if c.is_baseline:
                run.baseline_rps, run.baseline_p99_ms = run.rps, run.p99_ms
                run.baseline_cpu_us = run.cpu_us_per_req
                continue
            before = next(r for cc, r in reversed(done[:i]) if cc.is_baseline)
            after = next(r for cc, r in done[i + 1:] if cc.is_baseline)
            run.baseline_rps = (before.rps + after.rps) / 2
            run.baseline_p99_ms = (before.p99_ms + after.p99_ms) / 2
            run.baseline_cpu_us = (before.cpu_us_per_req + after.cpu_us_per_req) / 2
        self.runs.extend(r for _, r in done)

    def scaling(self, rnd: int) -> None:
        """Each configuration at 1 core then N cores, back to back."""
        for c in scaling_configs():
            for cores in ("1", "N"):
                self.runs.append(self.measure(c, cores, rnd))


# ---------------------------------------------------------------- reporting


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def summarize(runs: list[Run], ncpu: int) -> tuple[list[dict], list[dict]]:
    main = [r for r in runs if r.baseline_rps is not None]
    rows = []
    for name in [BASELINE.name] + [c.name for c in main_configs(peers=None)]:
        rs = [r for r in main if r.config == name]
        if not rs:
            continue
        rows.append({
            "config": name,
            "rps": median([r.rps for r in rs]),
            "p99_ms": median([r.p99_ms for r in rs]),
            "rps_ratio": median([r.rps / r.baseline_rps for r in rs]),
            # The spread of the per-round ratios: how far one round's verdict can be trusted.
            "rps_ratio_min": min(r.rps / r.baseline_rps for r in rs),
            "rps_ratio_max": max(r.rps / r.baseline_rps for r in rs),
            "p99_ratio": median([r.p99_ms / r.baseline_p99_ms for r in rs]),
            "cpu_us_per_req": median([r.cpu_us_per_req for r in rs]),
            "cpu_over_baseline_us": median([r.cpu_us_per_req - r.baseline_cpu_us for r in rs]),
            # What the req/s ratio would be if the server's core were the only limit.
            "cpu_bound_ratio": median([r.baseline_cpu_us / r.cpu_us_per_req for r in rs]),
            "runs": len(rs),
        })
    scale = [r for r in runs if r.baseline_rps is None]
    srows = []
    rounds = sorted({r.round for r in scale})
    base = {(r.round, r.cores): r.rps for r in scale if r.config == BASELINE.name}
    for c in scaling_configs():
        pairs = []
        for rnd in rounds:
            one = [r for r in scale if r.config == c.name and r.round == rnd and r.cores == "1"]
            many = [r for r in scale if r.config == c.name and r.round == rnd and r.cores == "N"]
            if one and many:
                pairs.append((one[0], many[0]))
        if not pairs:
            continue
        srows.append({
            "config": c.name,
            "rps_1": median([a.rps for a, _ in pairs]),
            "rps_n": median([b.rps for _, b in pairs]),
            "p99_1_ms": median([a.p99_ms for a, _ in pairs]),
            "p99_n_ms": median([b.p99_ms for _, b in pairs]),
            "factor": median([b.rps / a.rps for a, b in pairs]),
            "ratio_1": median([a.rps / base[(a.round, "1")] for a, _ in pairs]),
            "ratio_n": median([b.rps / base[(b.round, "N")] for _, b in pairs]),
            "n": ncpu,
        })
    return rows, srows


def tables(rows: list[dict], srows: list[dict], ncpu: int) -> str:
    out = [
        "One core (server pinned to CPU 0 with 1 tokio worker; wrk -t1 -c32 on CPU 1):",
        "",
        "| configuration | req/s | p99 (ms) | req/s / baseline | rounds' min-max "
        "| p99 / baseline | server CPU per request (us) | over the baseline (us) "
        "| CPU-bound ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r['config']} | {r['rps']:,.0f} | {r['p99_ms']:.2f} | {r['rps_ratio']:.2f} | "
            f"{r['rps_ratio_min']:.2f}-{r['rps_ratio_max']:.2f} | "
            f"{r['p99_ratio']:.2f} | {r['cpu_us_per_req']:.1f} | "
            f"{r['cpu_over_baseline_us']:+.1f} | {r['cpu_bound_ratio']:.2f} |"
        )
    out += [
        "",
        "Req/s / baseline: the median over the rounds of each run's ratio to the mean of "
        "the baseline runs on either side of it; rounds' min-max: the lowest and highest "
        "of those per-round ratios.",
        "",
        "CPU-bound ratio: the baseline's server CPU per request over this one's, i.e. the "
        "req/s ratio a server saturating its core would show.",
    ]
    if srows:
        out += [
            "",
            f"Scaling, 1 core vs N = {ncpu} (N: server unpinned with {ncpu} workers, wrk unpinned "
            "on the same cores):",
            "",
            "| configuration | req/s, 1 core | req/s, N cores | factor | p99 1 / N (ms) "
            "| vs baseline, 1 / N |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for r in srows:
            out.append(
                f"| {r['config']} | {r['rps_1']:,.0f} | {r['rps_n']:,.0f} | {r['factor']:.2f}x | "
                f"{r['p99_1_ms']:.2f} / {r['p99_n_ms']:.2f} | {r['ratio_1']:.2f} / {r['ratio_n']:.2f} |"
            )
    return "\n".join(out)


def targets(rows: list[dict], srows: list[dict]) -> list[str]:
    by = {r["config"]: r for r in rows}
    lines = []

    def check(what: str, ok: bool | None, detail: str) -> None:
        mark = "n/a" if ok is None else ("met" if ok else "NOT met")
        lines.append(f"- {what}: {mark} ({detail})")

    hs = by.get("HS256")
    if hs:
        check("HS256 through the layer >= 90% of the baseline's req/s",
              hs["rps_ratio"] >= 0.9, f"{hs['rps_ratio']:.2f}")
    for alg, floor in (("HS256", FLOOR_HS256), ("RS256", FLOOR_RS256)):
        if alg in by and floor.name in by:
            ours, bare = by[alg], by[floor.name]
            # Both ratios are to their own neighbouring baselines: compare those, not the
            # raw req/s, which were taken at different moments.
            lines.append(
                f"- for reference, {alg}: the bare signature check alone reads "
                f"{bare['rps_ratio']:.2f} of the baseline; jwt-tower (cache off) "
                f"{ours['rps_ratio']:.2f}, i.e. {ours['rps_ratio'] / bare['rps_ratio']:.2f}x "
                f"the floor's, for "
                f"{ours['cpu_over_baseline_us'] - bare['cpu_over_baseline_us']:+.1f} us "
                f"of CPU per request more")
    cached = [by[f"{a} + cache"] for a in ALGORITHMS if f"{a} + cache" in by]
    layer = by.get(EMPTY_LAYER.name)
    if layer:
        over = [(r["config"], r["rps_ratio"]) for r in
                [by.get(FLOOR_HS256.name), by.get("HS256"), *cached] if r]
        lines.append(
            f"- for reference, a tower layer in JwtLayer's place that only finds the token "
            f"reads {layer['rps_ratio']:.2f} of the baseline"
            + ("; over it: " + ", ".join(f"{name} {ratio / layer['rps_ratio']:.2f}x"
                                         for name, ratio in over) if over else ""))
    middleware = by.get(EMPTY_MIDDLEWARE.name)
    if middleware:
        lines.append(
            f"- for reference, an axum from_fn middleware that only finds the token (the "
            f"hand-written middleware's shape) reads {middleware['rps_ratio']:.2f} of the "
            f"baseline")
    in_from_fn = by.get(FLOOR_HS256_FROM_FN.name)
    if in_from_fn and FLOOR_HS256.name in by:
        bare = by[FLOOR_HS256.name]
        lines.append(
            f"- for reference, the HS256 floor in an axum from_fn middleware reads "
            f"{in_from_fn['rps_ratio']:.2f} of the baseline, against {bare['rps_ratio']:.2f} "
            f"in a tower layer")
    if cached:
        worst = min(cached, key=lambda r: r["rps_ratio"])
        check("cache on, token reused: every algorithm >= 90% of the baseline",
              worst["rps_ratio"] >= 0.9, ", ".join(
                  f"{r['config']} {r['rps_ratio']:.2f}" for r in cached))
    for alg in PEER_ALGORITHMS:
        ours = by.get(alg)
        theirs = [by[c.name] for c in peer_configs() if c.auth == alg and c.name in by]
        if ours and theirs:
            best = max(theirs, key=lambda r: r["rps"])
            check(f"{alg}, cache off: jwt-tower ahead of every peer", ours["rps"] > best["rps"],
                  f"{ours['rps']:,.0f} req/s; best peer {best['config']} "
                  f"{best['rps']:,.0f} ({ours['rps'] / best['rps']:.2f}x)")
    for r in srows:
        check(f"{r['config']}: throughput grows from 1 to {r['n']} cores",
              r["factor"] > 1.0, f"factor {r['factor']:.2f}")
    return lines


def plot(rows: list[dict], srows: list[dict], ncpu: int, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by = {r["config"]: r for r in rows}
    # The peers' panel: every server measured with both of PEER_ALGORITHMS.
    contenders = [("jwt-tower", "{alg}"), ("jwt-tower, cache", "{alg} + cache"),
                  ("jsonwebtoken, by hand", "hand-written jsonwebtoken middleware, {alg}")]
    contenders += [(label.split(" (")[0], f"{label}, {{alg}}") for label, _ in PEERS.values()]
    contenders = [(label, row) for label, row in contenders
                  if all(row.format(alg=a) in by for a in PEER_ALGORITHMS)]
    peer_rows = {f"{label}, {{alg}}" for label, _ in PEERS.values()}
    has_peers = any(row in peer_rows for _, row in contenders)
    ratios = [3] + ([3] if has_peers else []) + ([2] if srows else [])
    fig, axes = plt.subplots(1, len(ratios), figsize=(2.3 * sum(ratios) + 1, 5.5),
                             gridspec_kw={"width_ratios": ratios}, squeeze=False)
    axes = list(axes[0])
    ax = axes.pop(0)
    xs = range(len(ALGORITHMS))
    width = 0.38
    # A row not measured (`--only`) gets no bar, rather than a bar of zero.
    nan = float("nan")
    off = [by[a]["rps"] if a in by else nan for a in ALGORITHMS]
    on = [by[f"{a} + cache"]["rps"] if f"{a} + cache" in by else nan for a in ALGORITHMS]
    b1 = ax.bar([x - width / 2 for x in xs], off, width, label="cache off", color="#4c72b0")
    b2 = ax.bar([x + width / 2 for x in xs], on, width, label="cache on (token reused)",
                color="#55a868")
    ratios_off = [by[a]["rps_ratio"] if a in by else 0 for a in ALGORITHMS]
    ratios_on = [by[f"{a} + cache"]["rps_ratio"] if f"{a} + cache" in by else 0
                 for a in ALGORITHMS]
    for bars, ratios in ((b1, ratios_off), (b2, ratios_on)):
        for b, ratio in zip(bars, ratios):
            if math.isnan(b.get_height()):
                continue
            ax.annotate(f"{b.get_height() / 1000:.1f}k\n{ratio:.0%}",
                        (b.get_x() + b.get_width() / 2, b.get_height()),
                        ha="center", va="bottom", fontsize=8)
    if BASELINE.name in by:
        base = by[BASELINE.name]["rps"]
        ax.axhline(base, color="black", linestyle="-", linewidth=1.2,
                   label=f"no-auth baseline ({base / 1000:.1f}k)")
        ax.axhline(0.9 * base, color="gray", linestyle="--", linewidth=1,
                   label="90% of baseline")
    control = by.get(CONTROL.name)
    if control:
        ax.axhline(control["rps"], color="#dd8452", linestyle=":", linewidth=1.5,
                   label=f"control: no auth + {CONTROL_SPIN_NS} ns busy-wait "
                         f"({control['rps_ratio']:.0%})")
    floor = by.get(FLOOR_HS256.name)
    if floor:
        ax.axhline(floor["rps"], color="#8172b2", linestyle="-.", linewidth=1.2,
                   label=f"HS256 signature check only ({floor['rps_ratio']:.0%})")
    ax.set_xticks(list(xs), ALGORITHMS)
    ax.set_ylabel("req/s (median over rounds); % = of the baseline, same run")
    ax.set_title("GET /me through JwtLayer, 1 server core, wrk -c32")
    ax.legend(fontsize=8, loc="upper center", ncol=2)
    measured = [v for v in (*off, *on) if not math.isnan(v)]
    ax.set_ylim(0, max([*measured, by.get(BASELINE.name, {"rps": 0})["rps"]]) * 1.45)
    if has_peers:
        axp = axes.pop(0)
        xs3 = range(len(PEER_ALGORITHMS))
        w = 0.8 / len(contenders)
        colors = ["#4c72b0", "#55a868", "#8c8c8c", "#dd8452", "#c44e52", "#937860"]
        for i, (label, row) in enumerate(contenders):
            values = [by[row.format(alg=a)]["rps"] for a in PEER_ALGORITHMS]
            bars = axp.bar([x - 0.4 + w * (i + 0.5) for x in xs3], values, w, label=label,
                           color=colors[i % len(colors)])
            for b in bars:
                axp.annotate(f"{b.get_height() / 1000:.1f}k",
                             (b.get_x() + b.get_width() / 2, b.get_height()),
                             ha="center", va="bottom", fontsize=6, rotation=90)
        if BASELINE.name in by:
            axp.axhline(by[BASELINE.name]["rps"], color="black", linewidth=1.2,
                        label="no-auth baseline")
        axp.set_yscale("log")
        axp.set_xticks(list(xs3), PEER_ALGORITHMS)
        axp.set_ylabel("req/s (log scale), same run")
        axp.set_title("Against the peers, 1 server core")
        lowest = min(by[row.format(alg=a)]["rps"] for _, row in contenders for a in PEER_ALGORITHMS)
        _, high = axp.get_ylim()
        axp.set_ylim(lowest / 3, high * 12)  # every bar visible; room for the legend
        axp.legend(fontsize=7, loc="upper center", ncol=2)
    if srows:
        ax2 = axes.pop(0)
        xs2 = range(len(srows))
        one = [r["rps_1"] for r in srows]
        many = [r["rps_n"] for r in srows]
        ax2.bar([x - width / 2 for x in xs2], one, width, label="1 core", color="#8172b2")
        bars = ax2.bar([x + width / 2 for x in xs2], many, width, label=f"{ncpu} cores",
                       color="#c44e52")
        for b, r in zip(bars, srows):
            ax2.annotate(f"x{r['factor']:.2f}", (b.get_x() + b.get_width() / 2, b.get_height()),
                         ha="center", va="bottom", fontsize=8)
        ax2.set_xticks(list(xs2), [r["config"].replace(" (no auth)", "") for r in srows])
        ax2.set_title(f"Scaling 1 -> {ncpu} cores\n(the load generator shares the cores)")
        ax2.legend(fontsize=8)
        ax2.set_ylim(0, max(one + many) * 1.2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_reports(out: str, header: str, rows: list[dict], srows: list[dict], ncpu: int,
                  saved: dict) -> None:
    """summary.md (printed too), results.json (`saved`, with the tables and targets put
    in) and summary.csv, in `out`."""
    goals = targets(rows, srows)
    summary = "\n".join([header, "", tables(rows, srows, ncpu), "", "Targets:", "",
                         *goals]) + "\n"
    print(summary)
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(summary)
    saved.update(summary=rows, scaling=srows, targets=goals)
    order = ["started", "args", "machine", "summary", "scaling", "targets", "runs"]
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({k: saved[k] for k in order if k in saved}, f, indent=1)
        f.write("\n")
    with open(os.path.join(out, "summary.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["section", "config", "rps", "p99_ms", "rps_ratio", "p99_ratio",
                    "cpu_us_per_req", "rps_1", "rps_n", "factor",
                    "rps_ratio_min", "rps_ratio_max"])
        for r in rows:
            w.writerow(["1-core", r["config"], f"{r['rps']:.0f}", f"{r['p99_ms']:.3f}",
                        f"{r['rps_ratio']:.3f}", f"{r['p99_ratio']:.3f}",
                        f"{r['cpu_us_per_req']:.2f}", "", "", "",
                        f"{r['rps_ratio_min']:.3f}", f"{r['rps_ratio_max']:.3f}"])
        for r in srows:
            w.writerow(["scaling", r["config"], "", "", "", "", "",
                        f"{r['rps_1']:.0f}", f"{r['rps_n']:.0f}", f"{r['factor']:.3f}",
                        "", ""])


# ---------------------------------------------------------------- main


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=int, default=10, help="seconds per measured run (10)")
    p.add_argument("--warmup", type=int, default=2, help="seconds of load before each run (2)")
    p.add_argument("--rounds", type=int, default=3, help="rounds; medians are kept (3)")
    p.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    p.add_argument("--quick", action="store_true", help="smoke run: 2 s runs, 1 round")
    p.add_argument("--out", default=None,
                   help="output folder (benches/load/results; with --quick, a temp folder)")
    p.add_argument("--no-build", action="store_true",
                   help="use the binaries already built (the peers' too), as they are")
    p.add_argument("--no-scaling", action="store_true", help="skip the 1 vs N cores runs")
    p.add_argument("--only", default=None, metavar="REGEX",
                   help="one-core configurations whose name matches REGEX (with the "
                        "baselines between them), e.g. 'cache' for more rounds of those; "
                        "implies --no-scaling")
    p.add_argument("--no-peers", action="store_true",
                   help="leave out the peers (jwt-authorizer, axum-jwt-auth, express-jwt)")
    p.add_argument("--no-plot", action="store_true", help="no PNG")
    p.add_argument("--replot", action="store_true",
                   help="measure nothing: redo the summaries (summary.md, summary.csv, "
                        "results.json's tables) and the plot from OUT/results.json")
    args = p.parse_args()
    if args.quick:
        args.duration, args.warmup, args.rounds = 2, 1, 1
    if args.only is not None:
        args.no_scaling = True
    if args.out is None:
        # A smoke run must not overwrite the committed results.
        args.out = (os.path.join(tempfile.gettempdir(), "jwt-tower-load-quick")
                    if args.quick else DEFAULT_OUT)

    if args.replot:
        with open(os.path.join(args.out, "results.json")) as f:
            saved = json.load(f)
        ncpu = saved["machine"]["cpus"]
        rows, srows = summarize([Run(**r) for r in saved["runs"]], ncpu)
        # The run's header line (when, where, the load average) is kept as it was.
        with open(os.path.join(args.out, "summary.md")) as f:
            header = f.readline().rstrip("\n")
        write_reports(args.out, header, rows, srows, ncpu, dict(saved))
        if not args.no_plot:
            plot(rows, srows, ncpu, os.path.join(args.out, "load.png"))
        return

    can_plot = ensure_tools(not args.no_plot)
    if not args.no_build:
        build()
    # Peers are built only when a row of theirs is to run.
    wanted = [c for c in peer_configs() if args.only is None or re.search(args.only, c.name)]
    if args.no_peers or not wanted:
        peers: set[str] = set()
    else:
        peers = peers_built() if args.no_build else build_peers()
    os.makedirs(args.out, exist_ok=True)
    ncpu = os.cpu_count() or 1
    info = machine()
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    log(f"machine: {info}")
    log(f"load average before: {loadavg()}")

    h = Harness(args, ncpu)
    for rnd in range(args.rounds):
        log(f"round {rnd + 1}/{args.rounds}")
        configs = main_configs(peers)
        if args.only is not None:
            configs = [c for c in configs if re.search(args.only, c.name)]
        h.block(configs, "1", rnd)
        if not args.no_scaling:
            h.scaling(rnd)
    load_after = loadavg()
    log(f"load average after: {load_after}")

    rows, srows = summarize(h.runs, ncpu)
    header = (
        f"Run of {started}, commit {info['commit']}: {args.rounds} round(s) of "
        f"{args.duration} s runs after {args.warmup} s warm-up, wrk -t1 -c{args.connections}; "
        f"{info['cpus']} x {info['cpu_model']}, {info['memory_gib']} GiB, Linux {info['kernel']}, "
        f"{info['rustc']}, {info['wrk']}. Load average at the end: {load_after}."
    )
    write_reports(args.out, header, rows, srows, ncpu, {
        "started": started,
        "args": vars(args),
        "machine": info,
        "runs": [r.__dict__ for r in h.runs],
    })
    if can_plot:
        path = os.path.join(args.out, "load.png")
        plot(rows, srows, ncpu, path)
        log(f"plot: {path}")


if __name__ == "__main__":
    main()
