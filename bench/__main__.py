"""`python -m bench`: every benchmark in turn; `python -m bench dashboard|reminders [options]`: one.

    python -m bench                          # the dashboard, then the reminders, with their defaults
    python -m bench dashboard --trainees 3000
    python -m bench reminders --only rules
    python -m bench --trainees 3000          # options without a name: the dashboard (as before)
"""
import sys


def _dashboard(argv):
    from bench.dashboard import main
    return main(argv)


def _reminders(argv):
    from bench.reminders import main
    return main(argv)


BENCHMARKS = {"dashboard": _dashboard, "reminders": _reminders}


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
    status = 0
    for name, run in BENCHMARKS.items():
        print(f"### {name}", flush=True)
        status = max(status, run([]))
        print(flush=True)
    return status


sys.exit(main(sys.argv[1:]))
