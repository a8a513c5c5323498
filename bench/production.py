"""Production serving: `academy serve` (real gunicorn workers) under load, each page against /healthz.

It builds a temporary SQLite database the way `python -m bench dashboard` does (real migrations and
content, a cohort on day 21 with 1,000 trainees and their mentor), starts `academy serve` on it as a
subprocess (its default number of workers for this machine's cores, a free port), times the start-up
(from the process start until /healthz answers 200), logs in over HTTP (GET /login, the form's
csrf_token, POST /login) as a trainee and as the mentor, then drives each page in turn with N client
threads for a fixed time: requests/s, p50/p95 latency, ratio to /healthz. Last, the resident memory
of each web worker (psutil: RSS, PSS, USS).

The load generator is Python threads on the same machine: it competes with the server for the CPU
(its share is printed per page), so absolute figures understate the server. Compare within one run.
"""
import argparse
import http.client
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import psutil
import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
TRAINEE_LOGIN = "13900000000"  # bench.dashboard.seed_trainees' first trainee (mobile 139 + 8 digits)
MENTOR_LOGIN = "mentor@bench.local"
GOALS = {"lesson": 0.25, "dashboard": 0.05}  # share of /healthz's requests/s
MEMORY_GOAL_MB = 120.0  # per web worker, RSS
MB = 1024 * 1024
CSRF_INPUT = re.compile(r"<input[^>]*\bname=\"csrf_token\"[^>]*>")
VALUE = re.compile(r"\bvalue=\"([^\"]*)\"")


# --- machine -------------------------------------------------------------------------------------

def machine() -> dict:
    """What the figures were measured on: cores (as nproc counts them), CPU model, Python, load."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return {"nproc": cores, "cpu": model, "python": sys.version.split()[0],
            "memory_gb": round(psutil.virtual_memory().total / 1024 ** 3, 1),
            "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def describe(m: dict, date: bool = True) -> str:
    return (f"{m['nproc']} cores (nproc), {m['cpu']}, {m['memory_gb']} GB, Python {m['python']}, "
            f"load average {m['load']}" + (f", {m['date']}" if date else ""))


# --- the server ----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def academy_command() -> list[str]:
    """The venv's `academy` script (beside this Python), else the same entry point through -c."""
    script = Path(sys.executable).parent / "academy"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from app.cli import main; main()"]


class Server:
    """`academy serve` as a subprocess; its stderr (gunicorn's messages, the JSON request lines) to a file."""

    def __init__(self, database_url: str, log_path: Path, workers: int | None):
        self.port = free_port()
        self.log_path = log_path
        env = dict(os.environ)
        for name in ("WEB_CONCURRENCY", "SCHEDULER_ENABLED", "LOG_LEVEL", "PROXY_FIX"):
            env.pop(name, None)  # the production defaults, not whatever this shell has
        env.update(DATABASE_URL=database_url, SECRET_KEY=secrets.token_hex(32), ACADEMY_CONTENT_ROOT=str(REPO))
        command = academy_command() + ["serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if workers:
            command += ["--workers", str(workers)]
        self.log = open(log_path, "wb")
        self.started = time.perf_counter()
        self.process = subprocess.Popen(command, cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.master = psutil.Process(self.process.pid)
        self.cpu_seen: dict[int, float] = {}  # worker pid: CPU seconds when last sampled

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Seconds from the process start until GET /healthz answers 200."""
        deadline = self.started + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"academy serve exited with status {self.process.returncode}:\n{self.tail()}")
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            try:
                conn.request("GET", "/healthz")
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    return time.perf_counter() - self.started
            except OSError:
                pass  # not listening yet
            finally:
                conn.close()
            time.sleep(0.01)
        raise RuntimeError(f"/healthz did not answer 200 within {timeout:.0f} s:\n{self.tail()}")

    def workers(self) -> list[psutil.Process]:
        return self.master.children()

    def tail(self, lines: int = 20) -> str:
        self.log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # gunicorn: graceful stop of the workers
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


# --- the clients ---------------------------------------------------------------------------------

class Client:
    """One http.client connection, kept alive while the server allows it (gunicorn's sync workers
    close each connection after its response: http.client then reconnects for the next request)."""

    def __init__(self, port: int, cookie: str = ""):
        self.port = port
        self.cookie = cookie
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.connects = 0

    def request(self, method: str, path: str, body: str | None = None, headers: dict | None = None):
        headers = dict(headers or {})
        if self.cookie:
            headers["Cookie"] = self.cookie
        for attempt in (1, 2):
            if self.conn.sock is None:
                self.connects += 1
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                if response.will_close:
                    self.conn.close()
                return response, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()  # the server closed an idle kept-alive connection: once more, fresh
                if attempt == 2:
                    raise

    def close(self) -> None:
        self.conn.close()


def log_in(port: int, identifier: str, password: str) -> str:
    """The Cookie header of a session logged in the way a browser does it, CSRF token and all."""
    client = Client(port)
    response, page = client.request("GET", "/login")
    assert response.status == 200, ("GET /login", response.status)
    cookies = SimpleCookie()
    for header in response.headers.get_all("Set-Cookie") or []:
        cookies.load(header)
    field = CSRF_INPUT.search(page.decode())
    token = VALUE.search(field.group(0)) if field else None
    assert token, "no csrf_token input on /login"
    client.cookie = "; ".join(f"{k}={m.value}" for k, m in cookies.items())
    form = urlencode({"csrf_token": token.group(1), "identifier": identifier, "password": password, "next": ""})
    response, _ = client.request("POST", "/login", body=form,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 302, (f"POST /login as {identifier}", response.status)
    for header in response.headers.get_all("Set-Cookie") or []:
        cookies.load(header)
    client.close()
    return "; ".join(f"{k}={m.value}" for k, m in cookies.items())


def server_cpu_seconds(server: "Server") -> float:
    """CPU time of the whole server so far: the master's own, and each worker's as last seen.

    Workers come and go (max_requests recycles them): a worker that has exited keeps the time it
    had when last sampled (load() samples every 0.1 s), so the sum never goes down. (The master's
    children_* times would have it too, but only once the master has reaped it: in between, a dead
    worker would be nowhere.)"""
    for worker in server.workers():
        try:
            t = worker.cpu_times()
        except psutil.Error:
            continue  # exited: its last sample stays
        server.cpu_seen[worker.pid] = t.user + t.system
    t = server.master.cpu_times()
    return t.user + t.system + sum(server.cpu_seen.values())


def load(server: Server, path: str, cookie: str, clients: int, warmup: float, duration: float) -> dict:
    """`clients` threads GET `path` in a loop: `warmup` seconds not counted, then `duration` seconds
    measured (the responses that arrive in that window). Every response must be 200."""
    latencies: list[float] = []
    errors: list[str] = []
    connects = []
    lock = threading.Lock()
    ready = threading.Barrier(clients + 1)
    window = {}

    def run():
        client = Client(server.port, cookie)
        mine, bad = [], []
        ready.wait()
        start, end = window["start"], window["end"]
        try:
            while True:
                began = time.perf_counter()
                if began >= end:
                    break
                response, _ = client.request("GET", path)
                done = time.perf_counter()
                if response.status != 200:
                    bad.append(f"{response.status} {response.getheader('Location') or ''}".strip())
                elif start <= done <= end:
                    mine.append(done - began)
        except Exception as error:  # reported below; the other threads go on
            bad.append(repr(error))
        finally:
            client.close()
            with lock:
                latencies.extend(mine)
                errors.extend(bad)
                connects.append(client.connects)

    pids = {p.pid for p in server.workers()}
    threads = [threading.Thread(target=run, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    me = psutil.Process()
    now = time.perf_counter()
    window.update(start=now + warmup, end=now + warmup + duration)
    ready.wait()
    time.sleep(max(0.0, window["start"] - time.perf_counter()))
    log_offset = server.log_path.stat().st_size
    before = (me.cpu_times(), server_cpu_seconds(server), psutil.cpu_times(), time.perf_counter())
    while time.perf_counter() < window["end"]:
        time.sleep(max(0.0, min(0.1, window["end"] - time.perf_counter())))
        server_cpu_seconds(server)  # a sample of each worker, before max_requests may end it
    after = (me.cpu_times(), server_cpu_seconds(server), psutil.cpu_times(), time.perf_counter())
    log_end = server.log_path.stat().st_size
    for t in threads:
        t.join()

    wall = after[3] - before[3]
    client_cpu = (after[0].user + after[0].system - before[0].user - before[0].system) / wall
    server_seconds = after[1] - before[1]
    server_cpu = server_seconds / wall
    busy = lambda t: t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0.0)  # noqa: E731
    machine_cpu = (busy(after[2]) - busy(before[2])) / wall
    latencies.sort()
    replaced = len(pids - {p.pid for p in server.workers()})
    return {"path": path, "requests": len(latencies), "rps": len(latencies) / duration,
            "replaced": replaced, "memory": memory(server.workers()),
            "p50": percentile(latencies, 50) * 1000, "p95": percentile(latencies, 95) * 1000,
            "errors": errors, "connects": sum(connects),
            "server_ms": server_durations(server.log_path, log_offset, log_end, path),
            "client_cpu": client_cpu, "server_cpu": server_cpu, "machine_cpu": machine_cpu,
            "cpu_ms": server_seconds * 1000 / len(latencies) if latencies else float("nan")}


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


def server_durations(log_path: Path, start: int, end: int, path: str) -> float | None:
    """Median duration_ms of the app's own request log lines for `path` in that part of the log:
    the time inside the worker, without the queueing and the client."""
    with open(log_path, "rb") as handle:
        handle.seek(start)
        chunk = handle.read(end - start).decode(errors="replace")
    durations = []
    for line in chunk.splitlines():
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("msg") == "request" and record.get("path") == path and record.get("duration_ms") is not None:
            durations.append(record["duration_ms"])
    return statistics.median(durations) if durations else None


# --- memory --------------------------------------------------------------------------------------

def memory(processes: list[psutil.Process]) -> list[dict]:
    rows = []
    for p in processes:
        try:
            info = p.memory_full_info()
        except psutil.AccessDenied:
            info = p.memory_info()
        except psutil.NoSuchProcess:
            continue
        try:
            age = time.time() - p.create_time()
        except psutil.Error:
            age = None
        rows.append({"pid": p.pid, "rss": info.rss / MB, "pss": getattr(info, "pss", None),
                     "uss": getattr(info, "uss", None), "age": age})
        for key in ("pss", "uss"):
            if rows[-1][key] is not None:
                rows[-1][key] /= MB
    return rows


# --- the benchmark -------------------------------------------------------------------------------

def first_lesson(app) -> tuple[str, str]:
    from app.extensions import db
    from app.learning.models import Course, Lesson
    with app.app_context():
        row = db.session.execute(sa.select(Course.slug, Lesson.slug).join(Lesson.course).where(
            Lesson.is_archived.is_(False), Course.is_archived.is_(False))
            .order_by(Course.position, Lesson.position).limit(1)).one()
        db.session.remove()
    return row[0], row[1]


def profile(app, pages: list[tuple[str, str, str]]) -> None:
    """pyinstrument, in this process (Flask's test client on the same database): 5 requests a page."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("--profile needs pyinstrument: pip install pyinstrument")
        return
    from bench.dashboard import PASSWORD
    clients = {}
    for who, identifier in (("trainee", TRAINEE_LOGIN), ("mentor", MENTOR_LOGIN)):
        clients[who] = app.test_client()
        response = clients[who].post("/login", data={"identifier": identifier, "password": PASSWORD})
        assert response.status_code == 302, response.status_code
    for label, path, who in pages:
        client = clients[who]
        client.get(path)  # warm
        profiler = Profiler(interval=0.0002)
        with profiler:
            for _ in range(5):
                assert client.get(path).status_code == 200
        print(f"\n--- profile: {label} ({path}, as the {who}), 5 requests ---")
        print(profiler.output_text(unicode=True, color=False, show_all=False))


def main(argv=None) -> int:
    from app.ops.commands import default_workers
    from bench.dashboard import PASSWORD, build

    parser = argparse.ArgumentParser(prog="python -m bench production", description=__doc__.splitlines()[0])
    parser.add_argument("--trainees", type=int, default=1000, help="in the mentor's cohort")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured per page")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds not counted before each page")
    parser.add_argument("--workers", type=int, help=f"gunicorn workers [default: academy serve's, "
                                                    f"{default_workers()} here]")
    parser.add_argument("--profile", action="store_true",
                        help="then profile the lesson, home and dashboard in-process (needs pyinstrument)")
    parser.add_argument("--check", action="store_true", help="exit with status 1 when a goal is missed")
    args = parser.parse_args(argv)

    info = machine()
    print(f"machine: {describe(info)}")
    print(f"load generator: {args.clients} Python threads on this same machine (http.client); they compete "
          "with the server for the CPU, so compare the ratios within this run, not the absolute figures")
    now = datetime.now(timezone.utc)
    results = {}
    with tempfile.TemporaryDirectory(prefix="academy-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'production.db'}"
        started = time.perf_counter()
        app, _client, cohort_id, counts = build(url, args.trainees, 15, now)
        course, lesson = first_lesson(app)
        with app.app_context():
            from app.extensions import db
            db.engine.dispose()
        print(f"seeded in {time.perf_counter() - started:.1f} s: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))

        server = Server(url, Path(tmp) / "serve.log", args.workers)
        try:
            startup = server.wait_ready()
            time.sleep(0.5)  # let the other workers finish booting (they answer nothing before)
            booted = server.workers()
            print(f"academy serve: {len(booted)} workers (default for {info['nproc']} cores: "
                  f"{default_workers()}), /healthz answered 200 {startup:.2f} s after the process started")
            cookies = {"anonymous": "", "trainee": log_in(server.port, TRAINEE_LOGIN, PASSWORD),
                       "mentor": log_in(server.port, MENTOR_LOGIN, PASSWORD)}
            pages = [("healthz", "/healthz", "anonymous"),
                     ("lesson", f"/courses/{course}/{lesson}", "trainee"),
                     ("home", "/", "trainee"),
                     ("dashboard", f"/cohorts/{cohort_id}/dashboard", "mentor"),
                     ("healthz again", "/healthz", "anonymous")]
            print(f"each page: {args.clients} clients, {args.warmup:g} s warm-up, then {args.duration:g} s measured\n")
            for name, path, who in pages:
                print(f"  measuring GET {path} ...", file=sys.stderr, flush=True)
                results[name] = load(server, path, cookies[who], args.clients, args.warmup, args.duration)
            # The reference: /healthz measured first and last, averaged (the machine drifts during a run).
            first, last = results["healthz"], results["healthz again"]
            reference = {"rps": (first["rps"] + last["rps"]) / 2, "cpu_ms": (first["cpu_ms"] + last["cpu_ms"]) / 2}
            width = max(len(f"GET {path}") for _, path, _ in pages) + 9
            print(f"{'page':<{width}} {'req/s':>7} {'x healthz':>9} {'p50 ms':>7} {'p95 ms':>7} {'n':>6} {'in app':>9}"
                  f" {'CPU ms/req':>10} {'CPU: client':>11} {'server':>6} {'machine':>7} {'recycled':>8}")
            for name, path, who in pages:
                r = results[name]
                r["ratio"] = r["rps"] / reference["rps"] if reference["rps"] else float("nan")
                in_app = f"{r['server_ms']:.1f} ms" if r["server_ms"] is not None else "-"
                label = f"GET {path}" + {"healthz": " (first)", "healthz again": " (last)"}.get(name, "")
                print(f"{label:<{width}} {r['rps']:7.1f} {r['ratio']:8.3f}x {r['p50']:7.1f} {r['p95']:7.1f}"
                      f" {r['requests']:6d} {in_app:>9} {r['cpu_ms']:10.1f} {max(0.0, r['client_cpu']):10.0%}"
                      f" {r['server_cpu']:6.0%} {r['machine_cpu']:7.0%} {r['replaced']:8d}")
                if r["errors"]:
                    print(f"  {len(r['errors'])} failed requests, e.g. {r['errors'][:3]}")
            print(f"x healthz: req/s over the mean of the two /healthz runs, {reference['rps']:.1f} req/s "
                  f"(last/first: {last['rps'] / first['rps']:.2f}, the machine's drift in this run)\n"
                  "n: requests measured; in app: median duration_ms of the app's own request log line (inside the "
                  "worker, no queueing)\n"
                  "CPU ms/req: the server's CPU time (master, workers, recycled workers' boot) per measured request\n"
                  f"CPU: share of one core ({info['nproc']} cores = {info['nproc']:.0%}); machine: everything running, "
                  "this benchmark or not\n"
                  "recycled: workers replaced during the page (gunicorn's max_requests: 2,000 +- 200 requests each)")
            connects = sum(r["connects"] for r in results.values())
            total = sum(r["requests"] for r in results.values())
            print(f"connections: {connects:,} for about {total:,} measured requests (gunicorn's sync workers "
                  "close each connection after one response, so keep-alive is not in effect)")

            print()
            for name, goal in GOALS.items():
                r = results[name]
                r["goal"], r["met"] = goal, r["ratio"] >= goal
                cpu_ratio = reference["cpu_ms"] / r["cpu_ms"]
                print(f"goal {name} >= {goal:.2f} x healthz req/s: {r['ratio']:.3f} x ({r['rps']:.1f} vs "
                      f"{reference['rps']:.1f} req/s): {'met' if r['met'] else 'MISSED'}; server CPU "
                      f"{r['cpu_ms']:.1f} ms a request vs {reference['cpu_ms']:.1f} ms for /healthz: {cpu_ratio:.3f} x "
                      "at best while the CPU is the limit")

            workers = server.workers()
            replaced = len({p.pid for p in booted} - {p.pid for p in workers})
            rows = memory(workers)
            master = memory([server.master])
            print(f"\nmemory after the load ({len(rows)} workers; {replaced} replaced during the run by "
                  "max_requests, fresh ones are smaller):")
            fmt = lambda v: f"{v:6.1f}" if v is not None else "     -"  # noqa: E731
            for row in rows:
                print(f"  worker {row['pid']:>7}: RSS {fmt(row['rss'])} MB   PSS {fmt(row['pss'])} MB   "
                      f"USS {fmt(row['uss'])} MB   (up {row['age']:.0f} s)")
            if master:
                m = master[0]
                print(f"  master {m['pid']:>7}: RSS {fmt(m['rss'])} MB   PSS {fmt(m['pss'])} MB   "
                      f"USS {fmt(m['uss'])} MB")
            seen = [row for r in results.values() for row in r["memory"]] + rows
            peak = max(seen, key=lambda row: row["rss"])
            print(f"  largest worker seen at the end of any page: RSS {fmt(peak['rss'])} MB   PSS {fmt(peak['pss'])} MB"
                  f"   USS {fmt(peak['uss'])} MB")
            top = peak["rss"]
            memory_ok = top <= MEMORY_GOAL_MB
            print(f"goal worker RSS <= {MEMORY_GOAL_MB:.0f} MB: largest {top:.1f} MB: "
                  f"{'met' if memory_ok else 'MISSED'}")
            print(f"start-up: /healthz 200 after {startup:.2f} s")
            results["memory"] = {"workers": rows, "master": master, "ok": memory_ok, "replaced": replaced}
            results["startup"] = startup
        finally:
            server.stop()

        if args.profile:
            profile(app, [page for page in pages if page[0] in ("lesson", "home", "dashboard")])
        with app.app_context():
            from app.extensions import db
            db.engine.dispose()

    failed = any(r.get("errors") for r in results.values() if isinstance(r, dict))
    missed = not all(results[name]["met"] for name in GOALS) or not results["memory"]["ok"]
    return 1 if failed or (args.check and missed) else 0
