"""CPU per request, in-process: each page beside a minimal Flask route, called the way gunicorn calls them.

`python -m bench production` measures req/s under wrk, which other processes on the machine disturb.
This one measures what the server's own CPU pays per request, which is steadier: it builds the same
database (bench.dashboard.build: real migrations and content, a cohort on day 21), creates the app
as `academy serve` does (production settings: no TESTING, CSRF on, the JSON request log at INFO,
here written to /dev/null), logs in as a trainee through the login form, then calls the WSGI
application directly (no test client, no sockets: what gunicorn adds is the same for every page)
for each page in turn: a warm-up, then `--rounds` rounds of `--requests` requests, and reports the
median of the rounds' process CPU time per request (`time.process_time()`), beside the minimal
route of bench/minimal.py measured the same way in the same run.

With --opcodes it also counts the Python bytecode instructions each page runs (sys.settrace, three
requests after the warm-up): not a time, but the same on a busy machine as on a quiet one, so two
versions of the code compare exactly (work done in C, such as SQLite itself, is not counted).

    python -m bench pages                       # 1,000 trainees, 5 rounds of 300 requests
    python -m bench pages --trainees 50 --requests 200 --opcodes
    pip install pyinstrument && python -m bench pages --profile lesson   # where one page's time goes
"""
import argparse
import contextlib
import gc
import io
import logging
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from werkzeug.test import EnvironBuilder

REPO = Path(__file__).resolve().parent.parent
TRAINEE_LOGIN = "13900000000"  # bench.dashboard.seed_trainees' first trainee
CSRF_VALUE = re.compile(r"name=\"csrf_token\"[^>]*value=\"([^\"]*)\"|value=\"([^\"]*)\"[^>]*name=\"csrf_token\"")
HEADERS = {"Accept": "text/html,application/xhtml+xml", "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8",
           "Accept-Encoding": "gzip, deflate", "User-Agent": "Mozilla/5.0 (bench)"}


def environ(path: str, cookie: str = "", method: str = "GET", data: str | None = None) -> dict:
    headers = dict(HEADERS, Cookie=cookie) if cookie else dict(HEADERS)
    if data is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    return EnvironBuilder(path=path, method=method, headers=headers, data=data,
                          base_url="http://127.0.0.1:8000").get_environ()


def call(app, base: dict) -> tuple[int, list[tuple[str, str]], bytes]:
    """One request through the WSGI callable, as a server makes it: status, headers, body."""
    env = dict(base)
    env["wsgi.input"] = io.BytesIO(base.get("_body", b""))
    answer = []
    chunks = app(env, lambda status, headers, exc_info=None: answer.append((status, headers)))
    try:
        body = b"".join(chunks)
    finally:
        if hasattr(chunks, "close"):
            chunks.close()
    status, headers = answer[0]
    return int(status.split()[0]), headers, body


def post_environ(path: str, cookie: str, form: str) -> dict:
    env = environ(path, cookie, "POST", form)
    env["_body"] = form.encode()
    return env


def log_in(app, identifier: str, password: str) -> str:
    """The Cookie header of a session logged in through the form, CSRF token and all."""
    status, headers, page = call(app, environ("/login"))
    assert status == 200, status
    cookies = dict(_set_cookies(headers))
    match = CSRF_VALUE.search(page.decode())
    assert match, "no csrf_token on /login"
    token = match.group(1) or match.group(2)
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    from urllib.parse import urlencode
    form = urlencode({"csrf_token": token, "identifier": identifier, "password": password, "next": ""})
    status, headers, _ = call(app, post_environ("/login", cookie, form))
    assert status == 302, ("POST /login", status)
    cookies.update(_set_cookies(headers))
    # Then the page it redirects to, as a browser does: its answer gives the new session its CSRF
    # token, which every later page would otherwise make and sign again, and send as a new cookie.
    location = dict(headers)["Location"]
    status, headers, _ = call(app, environ(location, "; ".join(f"{k}={v}" for k, v in cookies.items())))
    assert status in (200, 302), (location, status)
    cookies.update(_set_cookies(headers))
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


def _set_cookies(headers):
    for name, value in headers:
        if name.lower() == "set-cookie":
            pair = value.split(";", 1)[0]
            key, _, val = pair.partition("=")
            yield key.strip(), val.strip()


def cpu_ms(app, env: dict, requests: int) -> float:
    """Process CPU milliseconds per request over `requests` calls."""
    gc.collect()
    started = time.process_time()
    for _ in range(requests):
        status, _headers, _body = call(app, env)
        if status != 200:
            raise AssertionError(f"{env['PATH_INFO']}: {status}")
    return (time.process_time() - started) * 1000 / requests


def setup(trainees: int, database_url: str):
    """The seeded database, the production-configured app, and the pages to measure."""
    from bench.dashboard import PASSWORD, build
    from bench.minimal import create_minimal_app
    from bench.production import MENTOR_LOGIN, first_lesson

    now = datetime.now(timezone.utc)
    seeded, _client, cohort_id, _counts = build(database_url, trainees, 15, now)
    course, lesson = first_lesson(seeded)
    with seeded.app_context():
        from app.extensions import db
        db.engine.dispose()
    # The migrations configured the root logger (alembic.ini): a worker of `academy serve` has no such
    # handler, and every request line would be formatted and written twice.
    logging.getLogger().handlers.clear()

    from app import create_app
    # As `academy serve` builds it from the environment: production settings, logs at INFO.
    app = create_app({"SECRET_KEY": "bench-pages", "SQLALCHEMY_DATABASE_URI": database_url,
                      "CONTENT_ROOT": str(REPO), "LOG_LEVEL": "INFO"})
    trainee, mentor = log_in(app, TRAINEE_LOGIN, PASSWORD), log_in(app, MENTOR_LOGIN, PASSWORD)
    pages = [("minimal route", create_minimal_app(), environ("/")),
             ("/healthz", app, environ("/healthz")),
             ("lesson", app, environ(f"/courses/{course}/{lesson}", trainee)),
             ("home (trainee)", app, environ("/", trainee)),
             ("landing (anonymous)", app, environ("/")),
             ("dashboard (mentor)", app, environ(f"/cohorts/{cohort_id}/dashboard", mentor))]
    return app, pages


def measure(pages, rounds: int, requests: int, warmup: int) -> dict[str, list[float]]:
    for _name, app, env in pages:
        for _ in range(warmup):
            call(app, env)
    results: dict[str, list[float]] = {name: [] for name, _, _ in pages}
    for _ in range(rounds):  # interleaved: a busy moment of the machine touches every page alike
        for name, app, env in pages:
            results[name].append(cpu_ms(app, env, requests))
    return results


def opcodes(app, env: dict, requests: int = 3) -> float:
    """Python bytecode instructions per request (sys.settrace with opcode events)."""
    count = 0

    def trace(frame, event, arg):
        frame.f_trace_opcodes, frame.f_trace_lines = True, False

        def each(frame, event, arg):
            nonlocal count
            if event == "opcode":
                count += 1
            return each
        return each

    sys.settrace(trace)
    try:
        for _ in range(requests):
            call(app, env)
    finally:
        sys.settrace(None)
    return count / requests


def profile(pages, name: str, requests: int) -> None:
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("--profile needs pyinstrument: pip install pyinstrument")
        return
    for label, app, env in pages:
        if label.startswith(name):
            profiler = Profiler(interval=0.0001)
            with profiler:
                for _ in range(requests):
                    call(app, env)
            print(f"\n--- profile: {label}, {requests} requests ---")
            print(profiler.output_text(unicode=True, color=False, show_all=False))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench pages", description=__doc__.splitlines()[0])
    parser.add_argument("--trainees", type=int, default=1000, help="in the cohort")
    parser.add_argument("--requests", type=int, default=300, help="requests per page per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, each page in turn")
    parser.add_argument("--warmup", type=int, default=50, help="requests per page before measuring")
    parser.add_argument("--opcodes", action="store_true", help="also count Python bytecode instructions per request")
    parser.add_argument("--profile", metavar="PAGE", help="then profile this page (a label's start: lesson, home...)")
    args = parser.parse_args(argv)

    from bench.production import describe, machine
    print(f"machine: {describe(machine())}")
    with tempfile.TemporaryDirectory(prefix="academy-bench-") as tmp, open(os.devnull, "w") as devnull:
        url = f"sqlite:///{Path(tmp) / 'pages.db'}"
        with contextlib.redirect_stderr(devnull):  # the JSON request lines are formatted and written, to nowhere
            app, pages = setup(args.trainees, url)
            results = measure(pages, args.rounds, args.requests, args.warmup)
            counted = {name: opcodes(page_app, env) for name, page_app, env in pages} if args.opcodes else {}
        floor = statistics.median(results["minimal route"])
        print(f"CPU ms per request, in-process (median of {args.rounds} rounds of {args.requests}; min-max):")
        print(f"  {'page':<22} {'CPU ms':>7} {'range':>13} {'x minimal':>10}" + ("  opcodes  x minimal" if counted else ""))
        for name, values in results.items():
            median = statistics.median(values)
            line = f"  {name:<22} {median:7.3f} {min(values):6.3f}-{max(values):<6.3f} {median / floor:9.1f}x"
            if counted:
                line += f" {counted[name]:8.0f} {counted[name] / counted['minimal route']:9.1f}x"
            print(line)
        print("gunicorn adds about the same to every page (its HTTP parsing and the socket: the minimal route's "
              "CPU under wrk minus its figure here)")
        if args.profile:
            with contextlib.redirect_stderr(devnull):
                profile(pages, args.profile, args.requests)
        with app.app_context():
            from app.extensions import db
            db.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
