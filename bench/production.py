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
import shutil
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
GOALS = {"healthz": 0.6, "lesson": 0.25, "home": 0.2, "dashboard": 0.05}  # share of the minimal route's req/s
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

    def __init__(self, database_url: str, log_path: Path, workers: int | None, minimal: bool = False):
        self.port = free_port()
        self.log_path = log_path
        env = dict(os.environ)
        for name in ("WEB_CONCURRENCY", "SCHEDULER_ENABLED", "LOG_LEVEL", "PROXY_FIX"):
            env.pop(name, None)  # the production defaults, not whatever this shell has
        env.update(DATABASE_URL=database_url, SECRET_KEY=secrets.token_hex(32), ACADEMY_CONTENT_ROOT=str(REPO))
        if minimal:  # the floor: a minimal Flask route behind the same gunicorn options (bench/minimal.py)
            command = [sys.executable, "-m", "bench.minimal", "--port", str(self.port), "--workers", str(workers or 2)]
        else:
            command = academy_command() + ["serve", "--host", "127.0.0.1", "--port", str(self.port)]
            if workers:
                command += ["--workers", str(workers)]
        self.log = open(log_path, "wb")
        self.started = time.perf_counter()
        self.process = subprocess.Popen(command, cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.master = psutil.Process(self.process.pid)
        self.cpu_seen: dict[int, float] = {}  # worker pid: CPU seconds when last sampled

    def wait_ready(self, timeout: float = 120.0, path: str = "/healthz") -> float:
        """Seconds from the process start until GET `path` answers 200."""
        deadline = self.started + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"academy serve exited with status {self.process.returncode}:\n{self.tail()}")
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    return time.perf_counter() - self.started
            except OSError:
                pass  # not listening yet
            finally:
                conn.close()
            time.sleep(0.01)
        raise RuntimeError(f"{path} did not answer 200 within {timeout:.0f} s:\n{self.tail()}")

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
    # Then the page it redirects to, as a browser does: its answer gives the new session its CSRF token
    # (the footer's language form needs one on every page). Without it, every measured request would
    # make and sign a token again and send a new session cookie, which no browser's second page does.
    location = response.headers["Location"]
    client.cookie = "; ".join(f"{k}={m.value}" for k, m in cookies.items())
    response, _ = client.request("GET", location if location.startswith("/") else "/" + location.split("/", 3)[-1])
    assert response.status in (200, 302), (f"GET {location} after logging in as {identifier}", response.status)
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


# wrk counts every status that is not 200 (a redirect to /login is a failure, not a fast page).
WRK_SCRIPT = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0 end
function response(status, headers, body) if status ~= 200 then bad = bad + 1 end end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("bad") end
  io.write(string.format("NOT_200 %d\\n", total))
end
"""


def wrk(server: Server, path: str, cookie: str, connections: int, threads: int, duration: float,
        script: Path) -> dict:
    """`wrk -t threads -c connections -d duration` on one page: requests/s, latency, failures, and the
    server's CPU time per request (sampled every 0.1 s, recycled workers counted)."""
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration:g}s", "--timeout", "60s", "--latency",
               "-s", str(script), f"http://127.0.0.1:{server.port}{path}"]
    if cookie:
        command[1:1] = ["-H", f"Cookie: {cookie}"]
    pids = {p.pid for p in server.workers()}
    before = (server_cpu_seconds(server), psutil.cpu_times(), time.perf_counter())
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    while process.poll() is None:
        time.sleep(0.1)
        server_cpu_seconds(server)  # a sample of each worker, before max_requests may end it
    output = process.stdout.read()
    after = (server_cpu_seconds(server), psutil.cpu_times(), time.perf_counter())
    requests = int(re.search(r"(\d+) requests in", output).group(1)) if "requests in" in output else 0
    rps = float(re.search(r"Requests/sec:\s*([\d.]+)", output).group(1)) if "Requests/sec" in output else 0.0
    failed = int(re.search(r"NOT_200 (\d+)", output).group(1)) if "NOT_200" in output else requests
    errors = re.search(r"Socket errors:.*", output)
    wall = after[2] - before[2]
    busy = lambda t: t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0.0)  # noqa: E731

    def latency(label: str) -> float:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        if not match:
            return float("nan")
        return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]

    return {"path": path, "requests": requests, "rps": rps, "failed": failed,
            "socket_errors": errors.group(0) if errors else "", "p50": latency("50"), "p99": latency("99"),
            "cpu_ms": (after[0] - before[0]) * 1000 / requests if requests else float("nan"),
            "machine_cpu": (busy(after[1]) - busy(before[1])) / wall,
            "replaced": len(pids - {p.pid for p in server.workers()}), "memory": memory(server.workers()),
            "output": output if process.returncode or not requests else ""}


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
    from bench.dashboard import PASSWORD, build

    parser = argparse.ArgumentParser(prog="python -m bench production", description=__doc__.splitlines()[0])
    parser.add_argument("--trainees", type=int, default=1000, help="in the mentor's cohort")
    parser.add_argument("--connections", type=int, default=8, help="wrk's open connections (-c)")
    parser.add_argument("--threads", type=int, default=2, help="wrk's threads (-t)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per page (-d)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of wrk, not counted, before each page")
    parser.add_argument("--runs", type=int, default=2, help="times every page is measured, in turn")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers, for the app and the minimal route")
    parser.add_argument("--no-dashboard", action="store_true", help="leave the mentor's dashboard out")
    parser.add_argument("--profile", action="store_true",
                        help="then profile the lesson, home and dashboard in-process (needs pyinstrument)")
    parser.add_argument("--check", action="store_true", help="exit with status 1 when a goal is missed")
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        print("the production benchmark needs wrk (Debian: apt-get install wrk)")
        return 1

    info = machine()
    print(f"machine: {describe(info)}")
    print(f"load generator: wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s on this same machine: it "
          "competes with the servers for the CPU, so compare the ratios within this run")
    now = datetime.now(timezone.utc)
    runs = []
    with tempfile.TemporaryDirectory(prefix="academy-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'production.db'}"
        started = time.perf_counter()
        app, _client, cohort_id, counts = build(url, args.trainees, 15, now)
        course, lesson = first_lesson(app)
        with app.app_context():
            from app.extensions import db
            db.engine.dispose()
        print(f"seeded in {time.perf_counter() - started:.1f} s: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
        script = Path(tmp) / "status.lua"
        script.write_text(WRK_SCRIPT)

        server = Server(url, Path(tmp) / "serve.log", args.workers)
        floor = Server(url, Path(tmp) / "minimal.log", args.workers, minimal=True)
        try:
            startup = server.wait_ready()
            floor.wait_ready(path="/")
            time.sleep(0.5)  # let the other workers finish booting (they answer nothing before)
            print(f"academy serve: {len(server.workers())} workers, /healthz answered 200 {startup:.2f} s after the "
                  f"process started; the minimal route: {len(floor.workers())} workers, the same gunicorn options")
            cookies = {"anonymous": "", "trainee": log_in(server.port, TRAINEE_LOGIN, PASSWORD),
                       "mentor": log_in(server.port, MENTOR_LOGIN, PASSWORD)}
            pages = [("minimal", floor, "/", "anonymous"),
                     ("healthz", server, "/healthz", "anonymous"),
                     ("lesson", server, f"/courses/{course}/{lesson}", "trainee"),
                     ("home", server, "/", "trainee")]
            pages.append(("minimal again", floor, "/", "anonymous"))
            if not args.no_dashboard:  # last: its slow requests still queued when wrk stops must not weigh on the others
                pages.append(("dashboard", server, f"/cohorts/{cohort_id}/dashboard", "mentor"))
            for run in range(1, args.runs + 1):
                results = {}
                print(f"\nrun {run} of {args.runs} (load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}):")
                for name, target, path, who in pages:
                    print(f"  measuring GET {path} ...", file=sys.stderr, flush=True)
                    if args.warmup:   # (the dashboard's first read stores every row: it must not be measured)
                        wrk(target, path, cookies[who], args.connections, args.threads, args.warmup, script)
                        wait_idle(target)
                    results[name] = wrk(target, path, cookies[who], args.connections, args.threads, args.duration,
                                        script)
                    wait_idle(target)  # requests wrk left queued (slow pages) finish before the next page
                report(results, pages)
                runs.append(results)
            rows = memory(server.workers())
            print(f"\nmemory after the load ({len(rows)} workers of academy serve):")
            for row in rows:
                print(f"  worker {row['pid']:>7}: RSS {row['rss']:6.1f} MB   USS {row['uss'] or 0:6.1f} MB   "
                      f"(up {row['age']:.0f} s)")
            peak = max([row for r in runs for p in r.values() for row in p["memory"]] + rows, key=lambda r: r["rss"])
            memory_ok = peak["rss"] <= MEMORY_GOAL_MB
            print(f"goal worker RSS <= {MEMORY_GOAL_MB:.0f} MB: largest seen {peak['rss']:.1f} MB: "
                  f"{'met' if memory_ok else 'MISSED'}")
            print(f"start-up: /healthz 200 after {startup:.2f} s")
        finally:
            server.stop()
            floor.stop()

        print("\nsummary (ratio to the minimal route's req/s in the same run):")
        missed = not memory_ok
        for name, goal in GOALS.items():
            if name not in runs[0]:
                continue
            ratios = [r[name]["ratio"] for r in runs]
            met = all(ratio >= goal for ratio in ratios)
            missed = missed or not met
            print(f"  goal {name} >= {goal:.2f} x: " + ", ".join(f"{ratio:.3f} x" for ratio in ratios)
                  + f": {'met' if met else 'MISSED'}")

        if args.profile:
            profile(app, [(name, path, who) for name, _, path, who in pages if name in ("lesson", "home", "dashboard")])
        with app.app_context():
            from app.extensions import db
            db.engine.dispose()

    failed = any(page["failed"] or not page["requests"] for r in runs for page in r.values())
    return 1 if failed or (args.check and missed) else 0


def wait_idle(server: Server, timeout: float = 120.0) -> None:
    """Until the server has used less than 5% of a core for half a second."""
    deadline = time.perf_counter() + timeout
    before = server_cpu_seconds(server)
    while time.perf_counter() < deadline:
        time.sleep(0.5)
        now = server_cpu_seconds(server)
        if now - before < 0.025:
            return
        before = now


def report(results: dict, pages: list) -> None:
    """One run's table: each page's req/s and its ratio to the mean of the two minimal-route runs."""
    first, last = results["minimal"], results["minimal again"]
    reference = (first["rps"] + last["rps"]) / 2
    width = max(len(f"GET {path}") for _, _, path, _ in pages) + 10
    print(f"  {'page':<{width}} {'req/s':>8} {'x minimal':>9} {'p50 ms':>7} {'p99 ms':>7} {'requests':>8}"
          f" {'CPU ms/req':>10} {'machine':>7} {'recycled':>8}")
    for name, target, path, _ in pages:
        r = results[name]
        r["ratio"] = r["rps"] / reference if reference else float("nan")
        label = ("minimal route " if target is not pages[1][1] else "") + f"GET {path}"
        print(f"  {label:<{width}} {r['rps']:8.1f} {r['ratio']:8.3f}x {r['p50']:7.1f} {r['p99']:7.1f}"
              f" {r['requests']:8d} {r['cpu_ms']:10.2f} {r['machine_cpu']:7.0%} {r['replaced']:8d}")
        if r["failed"] or r["socket_errors"]:
            print(f"    {r['failed']} responses not 200; {r['socket_errors']}")
        if r["output"]:
            print("    " + r["output"].replace("\n", "\n    "))
    print(f"  x minimal: req/s over the mean of the two minimal-route runs, {reference:.1f} req/s (last/first "
          f"{last['rps'] / first['rps']:.2f}: the machine's drift); CPU ms/req: the server's CPU per request; "
          "machine: CPU busy on the whole machine, 100% = one core")
