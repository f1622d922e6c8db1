"""Notifications of `twdsl server`: rules posting Slack-compatible messages to a real webhook
receiver on 127.0.0.1 when a run fails, when a workflow's success rate falls below a
threshold, and when a run waits longer than a limit."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from server_helpers import Server, deploy, make_project, token, wait_run


class Receiver:
    """An HTTP server that keeps every JSON body posted to it; ``fail`` answers 500."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.fail = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if outer.fail:
                    self.send_response(500)
                    self.end_headers()
                    return
                outer.posts.append((self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def wait(self, path: str, n: int, timeout: float = 20) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            got = [b for p, b in self.posts if p == path]
            if len(got) >= n:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(got)} posts to {path}, expected {n}: {self.posts}")
            time.sleep(0.05)


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.http.shutdown()


def test_rules_post_slack_messages(tmp_path: Path, receiver: Receiver) -> None:
    project = make_project(tmp_path / "p")
    admin_token = token(project, "admin")
    server = Server(project, "--max-runs", "1", "--public-url", "https://twdsl.example.test")
    try:
        with server.client(admin_token) as c:
            deploy(c, project, "flow.twdsl")
            deploy(c, project, "slow.twdsl")
            for rule in (
                {"name": "failures", "kind": "run_failed", "url": receiver.url + "/failed",
                 "workflow": "Flow"},
                {"name": "rate", "kind": "success_rate", "url": receiver.url + "/rate",
                 "threshold": 0.75, "window": 3600, "min_runs": 2},
                {"name": "queue", "kind": "wait_time", "url": receiver.url + "/wait",
                 "limit": 1},
            ):
                r = c.post("/api/notifications", json=rule)
                assert r.status_code == 201, r.text
            bad = c.post("/api/notifications", json={"name": "x", "kind": "wait_time",
                                                     "url": receiver.url})
            assert bad.status_code == 422
            assert bad.json()["error"]["message"] == "a wait_time rule needs limit (seconds)"
            ok = c.post("/api/workflows/Flow/runs", json={"inputs": {"n": 1}}).json()["id"]
            wait_run(c, ok, {"completed"})
            failed = c.post("/api/workflows/Flow/runs",
                            json={"inputs": {"n": 1, "fail": True}}).json()["id"]
            wait_run(c, failed, {"failed"})

            msg = receiver.wait("/failed", 1)[0]
            assert msg["text"] == (f"twdsl: run {failed} of Flow failed\nagent: "
                                   "ZeroDivisionError: the right side cannot divide by zero "
                                   "(task right)")
            block = msg["blocks"][0]
            assert block["type"] == "section" and block["text"]["type"] == "mrkdwn"
            assert block["text"]["text"].startswith(
                f"*<https://twdsl.example.test/#/runs/{failed}|twdsl: run {failed} of Flow "
                "failed>*\n")
            assert msg["twdsl"]["run_id"] == failed and msg["twdsl"]["status"] == "failed"

            rate = receiver.wait("/rate", 1)[0]
            assert rate["text"] == ("twdsl: success rate of Flow is 50%\n1 of 2 runs completed "
                                    "in the last 3600s; the threshold is 75%")
            assert rate["twdsl"]["rate"] == 0.5

            # one run holds the only slot; the next waits past the limit of 1s
            slow = c.post("/api/workflows/Slow/runs", json={"inputs": {"seconds": 30}}).json()
            waiting = c.post("/api/workflows/Flow/runs", json={"inputs": {"n": 2}}).json()
            wait = receiver.wait("/wait", 1)
            assert [m["twdsl"]["run_id"] for m in wait] == [waiting["id"]]
            assert wait[0]["text"].startswith(f"twdsl: run {waiting['id']} of Flow has waited ")
            c.post(f"/api/runs/{slow['id']}/cancel")
            wait_run(c, waiting["id"], {"completed"})

            # each notice once: nothing more after a few more looks
            time.sleep(4.5)
            assert [p for p, _ in receiver.posts].count("/failed") == 1
            assert [p for p, _ in receiver.posts].count("/rate") == 1
            assert [p for p, _ in receiver.posts].count("/wait") == 1

            # a webhook that fails is tried again at the next look
            receiver.fail = True
            again = c.post("/api/workflows/Flow/runs",
                           json={"inputs": {"n": 1, "fail": True}}).json()["id"]
            wait_run(c, again, {"failed"})
            time.sleep(2.5)
            receiver.fail = False
            msgs = receiver.wait("/failed", 2)
            assert msgs[1]["twdsl"]["run_id"] == again
            listed = c.get("/api/notifications").json()
            assert [r["name"] for r in listed] == ["failures", "rate", "queue"]
            assert c.delete(f"/api/notifications/{listed[0]['id']}").status_code == 200
    finally:
        server.stop()
