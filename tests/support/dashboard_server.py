"""A local HTTP server for dashboard tests: serves a fixture folder on 127.0.0.1 (port 0, a thread),
counts every request, answers conditional requests (ETag = the file's sha256, Last-Modified = its
mtime) and misbehaves on demand, per path: 429 with Retry-After, bursts of 503, connections reset
without a response, truncated bodies, slow answers, redirects, replaced or oversized bodies, 404s
and a robots.txt; it can also require HTTP Basic auth (401 without the right credentials).

    with DashboardServer(root) as server:
        server.inject("/django/index.json", unavailable(times=2))
        url = server.url("django/")
"""

from __future__ import annotations

import base64
import hashlib
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit


@dataclass
class Fault:
    """One way to misbehave, for the next ``times`` requests of a path (None: every request)."""

    kind: str  # status | reset | truncate | slow | redirect | body | oversize
    times: int | None = 1
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    location: str = ""
    body: bytes = b""
    size: int = 0
    declare_length: bool = True


def retry_after(value: float | str, times: int = 1) -> Fault:
    """429 Too Many Requests with ``Retry-After: value`` (seconds, or an HTTP date string)."""
    shown = str(int(value)) if isinstance(value, int | float) else value
    return Fault("status", times, status=429, headers={"Retry-After": shown})


def unavailable(times: int = 1, status: int = 503) -> Fault:
    return Fault("status", times, status=status)


def deleted(times: int | None = None) -> Fault:
    return Fault("status", times, status=404)


def reset(times: int = 1) -> Fault:
    """Close the connection (RST) without sending anything."""
    return Fault("reset", times)


def truncated(times: int | None = 1) -> Fault:
    """Announce the full Content-Length, send half the body, close."""
    return Fault("truncate", times)


def slow(seconds: float, times: int = 1) -> Fault:
    return Fault("slow", times, seconds=seconds)


def redirect(location: str, times: int | None = None, status: int = 302) -> Fault:
    return Fault("redirect", times, status=status, location=location)


def replaced_body(body: bytes, times: int | None = None) -> Fault:
    return Fault("body", times, body=body)


def oversized(size: int, declare_length: bool = True, times: int | None = None) -> Fault:
    """A body of ``size`` bytes; without a Content-Length it is delimited by closing the connection."""
    return Fault("oversize", times, size=size, declare_length=declare_length)


@dataclass
class Request:
    at: float  # time.monotonic() on arrival
    path: str
    headers: dict[str, str]
    status: int | None = None  # None: no response (reset)


class _State:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.lock = threading.Lock()
        self.faults: dict[str, list[Fault]] = {}
        self.log: list[Request] = []
        self.robots_txt: str | None = None
        self.authorization: str | None = None  # the Authorization header every request must carry
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests being answered at once
        self._etags: dict[tuple, str] = {}

    def take_fault(self, path: str) -> Fault | None:
        with self.lock:
            queue = self.faults.get(path)
            if not queue:
                return None
            fault = queue[0]
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    queue.pop(0)
            return fault

    def etag(self, file: Path, stat) -> str:
        key = (file, stat.st_mtime_ns, stat.st_size)
        with self.lock:
            if key not in self._etags:
                self._etags[key] = '"' + hashlib.sha256(file.read_bytes()).hexdigest() + '"'
            return self._etags[key]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real static hosts do
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as separate writes; without this, Nagle's algorithm and the
        # client's delayed ACK stall every response by ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        state = self.server.state
        path = unquote(urlsplit(self.path).path)
        request = Request(time.monotonic(), path, {k.lower(): v for k, v in self.headers.items()})
        with state.lock:
            state.log.append(request)
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
        fault = state.take_fault(path)
        try:
            request.status = self._answer(path, fault)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. at its size cap)
        finally:
            with state.lock:
                state.in_flight -= 1

    def _answer(self, path: str, fault: Fault | None) -> int | None:
        required = self.server.state.authorization
        if required is not None and self.headers.get("Authorization") != required:
            return self._send(401, b"", {"WWW-Authenticate": 'Basic realm="dashboard"'})
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.seconds)
            fault = None
        if fault is None:
            return self._serve_file(path)
        if fault.kind == "status":
            return self._send(fault.status, b"", fault.headers)
        if fault.kind == "redirect":
            return self._send(fault.status, b"", {"Location": fault.location})
        if fault.kind == "reset":
            # SO_LINGER 0 turns close() into a TCP RST: the client sees the connection reset.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return None
        if fault.kind == "truncate":
            body = self._file_bytes(path) or b"[]" * 64
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.close_connection = True
            return 200
        if fault.kind == "body":
            return self._send(200, fault.body)
        if fault.kind == "oversize":
            return self._send_oversized(fault)
        raise ValueError(f"unknown fault {fault.kind!r}")

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> int:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return status

    def _send_oversized(self, fault: Fault) -> int:
        self.send_response(200)
        if fault.declare_length:
            self.send_header("Content-Length", str(fault.size))
        else:
            self.send_header("Connection", "close")  # the body ends when the connection does
            self.close_connection = True
        self.end_headers()
        chunk = b" " * 65536
        for start in range(0, fault.size, len(chunk)):
            self.wfile.write(chunk[: min(len(chunk), fault.size - start)])
        return 200

    def _file_bytes(self, path: str) -> bytes | None:
        file = self._resolve(path)
        return file.read_bytes() if file else None

    def _resolve(self, path: str) -> Path | None:
        root = self.server.state.root
        file = (root / path.lstrip("/")).resolve()
        return file if file.is_relative_to(root) and file.is_file() else None

    def _serve_file(self, path: str) -> int:
        state = self.server.state
        if path == "/robots.txt":
            if state.robots_txt is None:
                return self._send(404, b"")
            return self._send(200, state.robots_txt.encode(), {"Content-Type": "text/plain"})
        file = self._resolve(path)
        if file is None:
            return self._send(404, b"")
        stat = file.stat()
        etag = state.etag(file, stat)
        validators = {"ETag": etag, "Last-Modified": self.date_time_string(int(stat.st_mtime))}
        if self._not_modified(etag, int(stat.st_mtime)):
            return self._send(304, b"", validators)
        return self._send(200, file.read_bytes(), {"Content-Type": "application/json", **validators})

    def _not_modified(self, etag: str, mtime: int) -> bool:
        match = self.headers.get("If-None-Match")
        if match is not None:  # takes precedence over If-Modified-Since (RFC 9110)
            return match.strip() == "*" or etag in [tag.strip() for tag in match.split(",")]
        since = self.headers.get("If-Modified-Since")
        if since:
            try:
                return mtime <= parsedate_to_datetime(since).timestamp()
            except (TypeError, ValueError):
                return False
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State

    def handle_error(self, request, client_address) -> None:  # faults make noisy sockets
        pass


class DashboardServer:
    def __init__(self, root: str | Path, host: str = "127.0.0.1") -> None:
        self.host = host
        self._server = _Server((host, 0), _Handler)
        self._server.state = _State(Path(root))
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> DashboardServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def state(self) -> _State:
        return self._server.state

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str = "", host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}/{quote(path.lstrip('/'))}"

    def inject(self, path: str, *faults: Fault) -> None:
        """Misbehave on ``path`` (decoded, from the root: '/django/index.json'), faults in order."""
        with self.state.lock:
            self.state.faults.setdefault(path, []).extend(faults)

    def require_auth(self, user: str, password: str) -> None:
        """Answer 401 to every request without these HTTP Basic credentials."""
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.state.authorization = f"Basic {token}"

    def set_robots(self, text: str | None) -> None:
        self.state.robots_txt = text

    def clear(self) -> None:
        """Forget the request log and any faults left."""
        with self.state.lock:
            self.state.log.clear()
            self.state.faults.clear()
            self.state.max_in_flight = 0

    @property
    def log(self) -> list[Request]:
        # A handler records the status after its last write, so the client can be done first:
        # wait (briefly) for the requests still being answered.
        deadline = time.monotonic() + 2.0
        while self.state.in_flight and time.monotonic() < deadline:
            time.sleep(0.005)
        with self.state.lock:
            return list(self.state.log)

    def requests(self) -> Counter:
        return Counter(r.path for r in self.log)

    def statuses(self) -> Counter:
        return Counter(r.status for r in self.log)
