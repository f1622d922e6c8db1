"""A real agent HTTP server on 127.0.0.1 for tests (stdlib ThreadingHTTPServer in a thread).

Its answers are scripted per test: ``execute`` maps the request body to
``(status, body, headers)``; ``polls[execution_id]`` is the list of answers to successive
``GET /executions/{id}`` (the last one repeats).  Every request is recorded in ``requests``
as ``(method, path, json body or None)`` and its headers in ``headers`` (lower-case names);
``cancelled`` is set by a cancel request.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, Any, dict[str, str]]


class AgentServer:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.execute: Callable[[Any], Answer] = lambda body: (200, {"result": body["input"]}, {})
        self.polls: dict[str, list[Answer]] = {}
        self.health: Answer = (200, {"status": "ok"}, {})
        self.cancelled = threading.Event()
        self.release = threading.Event()  # a "hang" execute waits for this
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # header and body go out as two writes

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, answer: Answer) -> None:
                status, body, headers = answer
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                server.requests.append(("POST", self.path, body))
                server.headers.append({k.lower(): v for k, v in self.headers.items()})
                if self.path == "/execute":
                    self._answer(server.execute(body))
                elif self.path.endswith("/cancel"):
                    server.cancelled.set()
                    self._answer((200, {"status": "cancelled"}, {}))
                else:
                    self._answer((404, {"error": {"message": "no such path"}}, {}))

            def do_GET(self) -> None:
                server.requests.append(("GET", self.path, None))
                server.headers.append({k.lower(): v for k, v in self.headers.items()})
                if self.path == "/health":
                    self._answer(server.health)
                    return
                exec_id = self.path.removeprefix("/executions/")
                script = server.polls.get(exec_id)
                if script is None:
                    self._answer((404, {"error": {"message": f"no execution {exec_id}"}}, {}))
                    return
                self._answer(script.pop(0) if len(script) > 1 else script[0])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.01,),
                                       daemon=True)

    def __enter__(self) -> AgentServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def paths(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p, _ in self.requests]
