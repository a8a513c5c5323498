"""The app on a real HTTP server on 127.0.0.1, in a thread, for tests that go over the wire (requests)."""
import threading
from contextlib import contextmanager

import requests
from werkzeug.serving import make_server


@contextmanager
def serving(app):
    """Yield a requests.Session whose relative URLs go to the app: `http.get("/api/v1/today")`."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    http = Base(base)
    try:
        yield http
    finally:
        http.close()
        server.shutdown()
        thread.join()


class Base(requests.Session):
    def __init__(self, base: str):
        super().__init__()
        self.base = base

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("timeout", 30)
        return super().request(method, self.base + url if url.startswith("/") else url, *args, **kwargs)
