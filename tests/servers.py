"""Real local servers for tests: an SMTP sink, an HTTP sink and an S3-compatible server, on 127.0.0.1 in threads.

Use the fixtures in a test file with `from tests.servers import smtp_sink, http_sink  # noqa: F401`,
or the classes directly (`with SmtpSink() as sink: ...`).
"""
import asyncio
import email
import email.policy
import json
import sys
import threading
from collections import deque
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from urllib.request import Request as UrlRequest, urlopen

import pytest
from aiosmtpd.controller import Controller


class _Controller(Controller):
    """aiosmtpd's Controller on a port the OS chose: read it back before the start-up probe."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpSink:
    """An SMTP server that keeps what it receives (`messages`, parsed with email.policy.default).

    `refuse_recipients = True` answers RCPT with 550; `fail_next(n)` answers DATA with 451
    (or the given reply) for the next n messages, which are then not kept.
    """

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []   # each kept message as it came over the wire
        self.envelopes: list[tuple[str, list[str]]] = []  # (MAIL FROM, RCPT TOs) of each kept message
        self.refuse_recipients = False
        self.delay = 0.0   # seconds to think before answering DATA: a slow mail server
        self._failures: deque[str] = deque()
        self._controller = _Controller(self, hostname=self.host, port=0)

    def fail_next(self, count: int = 1, reply: str = "451 4.3.0 Try again later") -> None:
        self._failures.extend([reply] * count)

    @property
    def config(self) -> dict[str, Any]:
        """The app settings that send email here."""
        return {"SMTP_HOST": self.host, "SMTP_PORT": self.port}

    # aiosmtpd handler hooks (the sink is its own handler)
    async def handle_RCPT(self, server, session, envelope, address: str, rcpt_options) -> str:
        if self.refuse_recipients:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self._failures:
            return self._failures.popleft()
        # Lines as Python writes them ("\n", not the wire's "\r\n"), for simple assertions.
        raw = envelope.content.replace(b"\r\n", b"\n")
        self.raw.append(raw)
        self.messages.append(email.message_from_bytes(raw, policy=email.policy.default))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"

    def start(self) -> "SmtpSink":
        self._controller.start()
        self.port = self._controller.port
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> "SmtpSink":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]       # the last value of each parameter, unquoted
    raw_query: str              # as sent, still %-quoted
    headers: dict[str, str]     # names lower-cased
    body: bytes
    json: Any                   # the body parsed, or None when it is not JSON
    status: int                 # what the sink answered
    answer: Any
    client_port: int = 0        # the client's end of the connection: the same port, the same connection

    @property
    def accepted(self) -> bool:
        """Answered 2xx with errcode/code/StatusCode 0 (or none of them: a plain webhook)."""
        if not 200 <= self.status < 300:
            return False
        if not isinstance(self.answer, dict):
            return True
        for name in ("errcode", "code", "StatusCode"):
            if name in self.answer:
                return self.answer[name] == 0
        return True


class HttpSink:
    """An HTTP server that records every request and answers as told.

    With keep_alive, it answers in HTTP/1.1 and keeps each connection open for the next request, as the
    platforms' servers do (each request records the client's port). Answers come from the queue filled by `answer(status, json, times=1, delay=0)`, then from
    `default` (status, json) after `delay` seconds. A delayed request is recorded (and counted
    as accepted, as a real platform would post it) before the delay, even if the client gave up.
    """

    def __init__(self, default: tuple[int, Any] = (200, {"errcode": 0, "errmsg": "ok"}), delay: float = 0.0,
                 keep_alive: bool = False):
        self.default = default
        self.delay = delay
        self.requests: list[Request] = []
        self._answers: deque[tuple[int, Any, float | None]] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()  # cuts delays short at stop()
        self._server = _HttpServer(("127.0.0.1", 0), _make_handler(self, keep_alive))
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="HttpSink", daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, status: int, json_body: Any, times: int = 1, delay: float | None = None) -> None:
        self._answers.extend([(status, json_body, delay)] * times)

    @property
    def accepted(self) -> list[Request]:
        return [r for r in self.requests if r.accepted]

    def _next_answer(self) -> tuple[int, Any, float]:
        with self._lock:
            if self._answers:
                status, body, delay = self._answers.popleft()
                return status, body, self.delay if delay is None else delay
        return self.default[0], self.default[1], self.delay

    def start(self) -> "HttpSink":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()  # joins the request threads
        self._thread.join()

    def __enter__(self) -> "HttpSink":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = False  # so server_close() waits for every handler: nothing outlives a test

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that timed out and left
            super().handle_error(request, client_address)


def _make_handler(sink: HttpSink, keep_alive: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.1 keeps the connection open after each answer, as the platforms' servers do.
        protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"
        disable_nagle_algorithm = keep_alive
        timeout = 2 if keep_alive else None   # an idle kept connection ends, so that stop() does not wait on it

        def do_POST(self) -> None:
            self._record_and_answer()

        def do_GET(self) -> None:
            self._record_and_answer()

        def _record_and_answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            status, answer, delay = sink._next_answer()
            parts = urlsplit(self.path)
            with sink._lock:
                sink.requests.append(Request(
                    method=self.command, path=parts.path, query=dict(parse_qsl(parts.query)), raw_query=parts.query,
                    headers={k.lower(): v for k, v in self.headers.items()}, body=body, json=parsed,
                    status=status, answer=answer, client_port=self.client_address[1]))
            if delay:
                sink._stopping.wait(delay)
            data = json.dumps(answer).encode() if answer is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args) -> None:
            pass  # quiet test output

    return Handler


@pytest.fixture
def smtp_sink():
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def http_sink():
    with HttpSink() as sink:
        yield sink


class S3Server:
    """A real S3-compatible server (moto in server mode) on 127.0.0.1, in a thread, that checks every
    request's SigV4 signature against the IAM access keys it knows, as S3 would: a wrong key or
    secret is refused (SignatureDoesNotMatch / InvalidAccessKeyId).

        with S3Server() as s3:
            app.config.update(s3.config())      # UPLOAD_STORAGE=s3, the endpoint, bucket and keys
            s3.objects()                        # {key: bytes} in the bucket, read behind the app's back
    """

    REGION = "ap-shanghai"

    def __init__(self, bucket: str = "academy-photos") -> None:
        self.bucket = bucket
        self.server = None

    def start(self) -> "S3Server":
        from moto import settings
        from moto.server import ThreadedMotoServer
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        self.port = self.server.get_host_and_port()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        # Set up unauthenticated (as an operator would in the console), then authenticate everything.
        self._saved_count = settings.INITIAL_NO_AUTH_ACTION_COUNT
        settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")
        # moto keeps its buckets and users per process: start from none.
        urlopen(UrlRequest(f"{self.endpoint}/moto-api/reset", method="POST"), timeout=10).read()
        iam = self._client("iam", "setup", "setup")
        user = f"academy-{self.port}"
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="photos", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        self.access_key, self.secret_key = key["AccessKeyId"], key["SecretAccessKey"]
        self.client().create_bucket(Bucket=self.bucket,
                                    CreateBucketConfiguration={"LocationConstraint": self.REGION})
        settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
        return self

    def _client(self, service: str, access_key: str, secret_key: str):
        import boto3
        from botocore.config import Config
        return boto3.session.Session().client(
            service, endpoint_url=self.endpoint, region_name=self.REGION, aws_access_key_id=access_key,
            aws_secret_access_key=secret_key, config=Config(s3={"addressing_style": "path"}))

    def client(self):
        return self._client("s3", self.access_key, self.secret_key)

    def config(self) -> dict[str, Any]:
        return {"UPLOAD_STORAGE": "s3", "S3_ENDPOINT": self.endpoint, "S3_BUCKET": self.bucket,
                "S3_ACCESS_KEY": self.access_key, "S3_SECRET_KEY": self.secret_key, "S3_REGION": self.REGION,
                "S3_ADDRESSING_STYLE": "path", "S3_TIMEOUT": 2}

    def objects(self) -> dict[str, bytes]:
        client = self.client()
        listed = client.list_objects_v2(Bucket=self.bucket).get("Contents", [])
        return {item["Key"]: client.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read() for item in listed}

    def empty(self) -> None:
        client = self.client()
        for key in self.objects():
            client.delete_object(Bucket=self.bucket, Key=key)

    def stop(self) -> None:
        from moto import settings
        if self.server is not None:
            self.server.stop()
            self.server = None
            settings.INITIAL_NO_AUTH_ACTION_COUNT = self._saved_count

    def __enter__(self) -> "S3Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@pytest.fixture
def s3_server():
    with S3Server() as server:
        yield server
