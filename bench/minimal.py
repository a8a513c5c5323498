"""The floor for `python -m bench production`: a minimal Flask route, served the way `academy serve`
serves the app (gunicorn with the same options: sync workers, the same number of them).

    python -m bench.minimal --port 8001 --workers 2
"""
import argparse

from flask import Flask


def create_minimal_app() -> Flask:
    app = Flask(__name__)

    @app.get("/")
    def hello():
        return "ok"

    return app


def main(argv=None) -> None:
    from gunicorn.app.base import BaseApplication

    from app.ops.commands import gunicorn_options

    parser = argparse.ArgumentParser(prog="python -m bench.minimal", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

    class MinimalServer(BaseApplication):
        def load_config(self):
            options = gunicorn_options(args.host, args.port, args.workers, timeout=30, graceful_timeout=25)
            for key, value in {**options, "proc_name": "minimal-flask"}.items():
                self.cfg.set(key, value)

        def load(self):
            return create_minimal_app()

    MinimalServer().run()


if __name__ == "__main__":
    main()
