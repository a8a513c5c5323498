"""`python -m bench`: every benchmark in turn, and bench/report.md; `python -m bench <name> [options]`: one.

    python -m bench                          # dashboard, reminders, production, storage (defaults), then bench/report.md
    python -m bench dashboard --trainees 3000
    python -m bench reminders --only rules
    python -m bench production --clients 8 --duration 5
    python -m bench pages                    # CPU ms per request in-process, beside a minimal route
    python -m bench storage --trainees 1000  # bytes per trainee after a simulated month
    python -m bench --trainees 3000          # options without a name: the dashboard (as before)
"""
import contextlib
import io
import sys
import time
import traceback
from pathlib import Path

REPORT = Path(__file__).resolve().parent / "report.md"


def _dashboard(argv):
    from bench.dashboard import main
    return main(argv)


def _reminders(argv):
    from bench.reminders import main
    return main(argv)


def _production(argv):
    from bench.production import main
    return main(argv)


def _pages(argv):
    from bench.pages import main
    return main(argv)


def _storage(argv):
    from bench.storage import main
    return main(argv)


BENCHMARKS = {"dashboard": _dashboard, "reminders": _reminders, "pages": _pages, "production": _production,
              "storage": _storage}


class _Tee(io.TextIOBase):
    """Writes through to the terminal and keeps a copy for the report."""

    def __init__(self, stream):
        self.stream, self.copy = stream, io.StringIO()

    def write(self, text):
        self.stream.write(text)
        self.copy.write(text)
        return len(text)

    def flush(self):
        self.stream.flush()


def write_report(outputs: list[tuple[str, int, float, str]], machine: dict) -> None:
    from bench.production import describe
    lines = ["# Benchmark report", "",
             f"Written by `python -m bench` on {machine['date']}.", "",
             f"Machine: {describe(machine, date=False)} (load average at the start of the run).", "",
             "Timings depend on the machine and on what else it runs (the load average above): compare the "
             "ratios within a run. See bench/README.md for what each benchmark measures.", ""]
    for name, status, seconds, text in outputs:
        lines += [f"## {name}", "", f"Exit status {status}, {seconds:.0f} s.", "", "```text", text.rstrip(), "```", ""]
    REPORT.write_text("\n".join(lines))


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        print("\n`python -m bench <name> --help` lists a benchmark's options.")
        return 0
    if argv and argv[0] in BENCHMARKS:
        return BENCHMARKS[argv[0]](argv[1:])
    if argv and not argv[0].startswith("-"):
        print(f"unknown benchmark {argv[0]!r}: choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    if argv:
        return _dashboard(argv)
    from bench.production import machine
    info = machine()
    status, outputs = 0, []
    for name, run in BENCHMARKS.items():
        print(f"### {name}", flush=True)
        tee = _Tee(sys.stdout)
        started = time.perf_counter()
        with contextlib.redirect_stdout(tee):
            try:
                code = run([])
            except Exception as error:  # the others still run, and the report says what failed
                traceback.print_exc()
                print(f"FAILED: {error!r}")
                code = 1
        status = max(status, code)
        outputs.append((name, code, time.perf_counter() - started, tee.copy.getvalue()))
        print(flush=True)
    write_report(outputs, info)
    print(f"report: {REPORT}")
    return status


sys.exit(main(sys.argv[1:]))
