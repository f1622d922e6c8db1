"""`twdsl server`'s HTTP API, on a real server process: every route walked with no token, a
wrong token and each role; sessions and CSRF; body limits; deploys and versions; runs,
their events (Server-Sent Events), control, statistics and the queue."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_helpers import Server, cli, deploy, make_project, token, wait_run, wait_task

from twdsl.config import DEFAULT
from twdsl.server.app import create_app
from twdsl.server.service import Settings


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    project = make_project(tmp_path_factory.mktemp("server") / "project")
    tokens = {role: token(project, role) for role in ("viewer", "operator", "admin")}
    server = Server(project)
    admin = server.client(tokens["admin"])
    deploy(admin, project, "flow.twdsl")
    deploy(admin, project, "slow.twdsl")
    nightly = (project / "flow.twdsl").read_text().replace(
        'version: "1.0.0"', 'version: "1.0.0"\n  schedule: "TZ=Europe/Paris 0 3 1 1 *"'
    ).replace("workflow Flow", "workflow Nightly")
    (project / "nightly.twdsl").write_text(nightly)
    deploy(admin, project, "nightly.twdsl", inputs={"n": 1})
    try:
        yield {"project": project, "server": server, "tokens": tokens, "admin": admin,
               "operator": server.client(tokens["operator"]),
               "viewer": server.client(tokens["viewer"])}
    finally:
        admin.close()
        server.stop()


def _finished_run(env: dict[str, Any]) -> str:
    r = env["operator"].post("/api/workflows/Flow/runs", json={"inputs": {"n": 1}})
    assert r.status_code == 201, r.text
    return str(wait_run(env["operator"], r.json()["id"], {"completed"})["id"])


# ------------------------------------------------------------------ the route walk
# (method, path, body, role needed, the answer once allowed).  Roles: "-" none needed.
# {run}, {token} and {rule} are filled in by the test.
ROUTES: list[tuple[str, str, Any, str, int]] = [
    ("GET", "/healthz", None, "-", 200),
    ("GET", "/readyz", None, "-", 200),
    ("GET", "/", None, "-", 200),
    ("GET", "/static/{name}", None, "-", 200),
    ("POST", "/api/session", "login", "-", 200),
    ("GET", "/api/session", None, "viewer", 200),
    ("DELETE", "/api/session", None, "viewer", 200),
    ("GET", "/api/openapi.json", None, "viewer", 200),
    ("POST", "/api/workflows", "deploy", "admin", 200),
    ("GET", "/api/workflows", None, "viewer", 200),
    ("GET", "/api/workflows/{name}", None, "viewer", 200),
    ("GET", "/api/workflows/{name}/versions/{version}", None, "viewer", 200),
    ("GET", "/api/workflows/{name}/graph.svg", None, "viewer", 200),
    ("GET", "/api/workflows/{name}/series", None, "viewer", 200),
    ("POST", "/api/workflows/{name}/runs", {"inputs": {"n": 2}}, "operator", 201),
    ("GET", "/api/runs", None, "viewer", 200),
    ("GET", "/api/runs/{run_id}", None, "viewer", 200),
    ("GET", "/api/runs/{run_id}/graph.svg", None, "viewer", 200),
    ("GET", "/api/runs/{run_id}/events", None, "viewer", 200),
    ("POST", "/api/runs/{run_id}/cancel", None, "operator", 409),  # the run has ended
    ("POST", "/api/runs/{run_id}/pause", None, "operator", 409),
    ("POST", "/api/runs/{run_id}/resume", None, "operator", 409),
    ("POST", "/api/runs/{run_id}/retry", {"failed_only": True}, "operator", 201),
    ("GET", "/api/stats", None, "viewer", 200),
    ("GET", "/api/queue", None, "viewer", 200),
    ("GET", "/api/schedules", None, "viewer", 200),
    ("PATCH", "/api/schedules/{name}", {"missed": "skip"}, "operator", 200),
    ("GET", "/api/schedules/{name}/fires", None, "viewer", 200),
    ("GET", "/api/tokens", None, "admin", 200),
    ("POST", "/api/tokens", {"name": "made", "role": "viewer"}, "admin", 201),
    ("DELETE", "/api/tokens/{token_id}", None, "admin", 200),
    ("GET", "/api/notifications", None, "admin", 200),
    ("POST", "/api/notifications", {"name": "n", "kind": "run_failed",
                                    "url": "http://127.0.0.1:9/hook"}, "admin", 201),
    ("DELETE", "/api/notifications/{rule_id}", None, "admin", 200),
]
ORDER = ("viewer", "operator", "admin")


def test_the_walk_covers_every_route(tmp_path: Path) -> None:
    """A route added to the app without an expectation here fails this test."""
    app = create_app(Settings(state=tmp_path / "s.db", config=DEFAULT))
    found = {(m, r.path) for r in app.routes for m in getattr(r, "methods", ()) or ()
             if m != "HEAD"}
    assert found == {(m, p) for m, p, *_ in ROUTES}


def test_docs_list_every_route(tmp_path: Path) -> None:
    """docs/server.md's table of routes is the app's (the UI's own files aside)."""
    import re

    doc = (Path(__file__).resolve().parent.parent / "docs" / "server.md").read_text()
    table = doc.split("| method and path | role | what |")[1].split("\n\n")[0]
    listed = set(re.findall(r"`(GET|POST|PATCH|DELETE) (/[^`]*)`", table))
    app = create_app(Settings(state=tmp_path / "s.db", config=DEFAULT))
    routes = {(m, r.path) for r in app.routes for m in getattr(r, "methods", ()) or ()
              if m != "HEAD" and r.path.startswith(("/api", "/healthz", "/readyz"))}
    assert listed == routes


def test_every_route_with_no_token_a_wrong_token_and_each_role(env: dict[str, Any]) -> None:
    server, project = env["server"], env["project"]
    run_id = _finished_run(env)
    admin = env["admin"]
    rule_id = admin.post("/api/notifications", json={
        "name": "gone", "kind": "run_failed", "url": "http://127.0.0.1:9/x"}).json()["id"]
    doomed = admin.post("/api/tokens", json={"name": "doomed", "role": "viewer"}).json()["id"]
    values = {"name": "Flow", "version": "1", "run_id": run_id, "token_id": doomed,
              "rule_id": str(rule_id), "static_name": "app.js"}
    wrong = "twdsl_abcdefgh_" + "x" * 43
    answers: list[str] = []
    for method, path, body, needed, allowed in ROUTES:
        url = path.replace("/static/{name}", "/static/app.js")
        url = url.replace("{name}", "Nightly" if "schedules" in path else values["name"])
        for key in ("version", "run_id", "token_id", "rule_id"):
            url = url.replace("{" + key + "}", values[key])
        for who in ("none", "wrong", *ORDER):
            headers = {}
            if who == "wrong":
                headers["Authorization"] = f"Bearer {wrong}"
            elif who != "none":
                headers["Authorization"] = f"Bearer {env['tokens'][who]}"
            payload = body
            if body == "login":
                payload = {"token": env["tokens"][who] if who in ORDER else wrong}
            elif body == "deploy":
                payload = {"source": (project / "flow.twdsl").read_text(),
                           "filename": "flow.twdsl"}
            r = httpx.request(method, server.url + url, headers=headers, json=payload,
                              timeout=30)
            if body == "login":
                expect = allowed if who in ORDER else 401
            elif needed == "-":
                expect = allowed
            elif who in ("none", "wrong"):
                expect = 401
            elif ORDER.index(who) < ORDER.index(needed):
                expect = 403
            else:
                expect = allowed
                if method == "DELETE" and "{" in path and who != needed:
                    expect = 404  # already deleted by the first role allowed
            answers.append(f"{method} {path} {who}: {r.status_code}")
            assert r.status_code == expect, (f"{method} {url} as {who}: {r.status_code} "
                                             f"{r.text[:300]}")
            if r.status_code == 401 and url.startswith("/api"):
                assert r.headers["www-authenticate"] == "Bearer"
                assert r.json()["error"]["message"]
            if r.status_code == 403 and who in ORDER:
                assert f"needs the {needed} role" in r.json()["error"]["message"]
    assert len(answers) == len(ROUTES) * 5


def test_health_says_nothing_secret(env: dict[str, Any]) -> None:
    r = httpx.get(env["server"].url + "/readyz")
    assert r.json() == {"ready": True, "checks": {"database": True, "runner": True,
                                                  "scheduler": True, "notifier": True}}
    assert httpx.get(env["server"].url + "/healthz").json() == {"status": "ok"}


def test_security_headers(env: dict[str, Any]) -> None:
    r = httpx.get(env["server"].url + "/")
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self'" in r.headers["content-security-policy"]


# ------------------------------------------------------------------ sessions
def test_session_cookie_needs_csrf_and_ends_with_its_token(env: dict[str, Any]) -> None:
    server, admin = env["server"], env["admin"]
    made = admin.post("/api/tokens", json={"name": "browser", "role": "operator"}).json()
    with httpx.Client(base_url=server.url) as browser:
        r = browser.post("/api/session", json={"token": made["token"]})
        assert r.status_code == 200
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        csrf = r.json()["csrf"]
        assert r.json()["role"] == "operator"
        assert browser.get("/api/runs").status_code == 200
        assert browser.get("/api/session").json()["csrf"] == csrf
        submit = {"inputs": {"n": 5}}
        r = browser.post("/api/workflows/Flow/runs", json=submit)
        assert r.status_code == 403
        assert "X-CSRF-Token" in r.json()["error"]["message"]
        r = browser.post("/api/workflows/Flow/runs", json=submit,
                         headers={"X-CSRF-Token": csrf[:-1] + ("A" if csrf[-1] != "A" else "B")})
        assert r.status_code == 403
        r = browser.post("/api/workflows/Flow/runs", json=submit,
                         headers={"X-CSRF-Token": csrf})
        assert r.status_code == 201
        # a forged cookie is refused
        forged = httpx.get(server.url + "/api/runs",
                           cookies={"twdsl_session": browser.cookies["twdsl_session"][:-2]
                                    + "xx"})
        assert forged.status_code == 401
        assert admin.delete(f"/api/tokens/{made['id']}").status_code == 200
        r = browser.get("/api/runs")
        assert r.status_code == 401
        assert r.json()["error"]["message"] == "the session has ended: log in again"


def test_a_form_post_from_another_site_is_refused(env: dict[str, Any]) -> None:
    r = httpx.post(env["server"].url + "/api/workflows/Flow/runs",
                   data={"inputs": "x"}, headers={"Authorization":
                                                  f"Bearer {env['tokens']['operator']}"})
    assert r.status_code == 415


# ------------------------------------------------------------------ limits
def test_request_bodies_have_size_limits(env: dict[str, Any]) -> None:
    op = env["operator"]
    big = {"inputs": {"n": 1, "pad": "x" * (1 << 20)}}
    r = op.post("/api/workflows/Flow/runs", json=big)
    assert r.status_code == 413
    assert r.json()["error"]["message"] == "the request body is larger than 1048576 bytes"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"inputs": {"n": 1, "pad": "'
        for _ in range(40):
            yield b"y" * 32768
        yield b'"}}'

    r = op.post("/api/workflows/Flow/runs", content=chunks(),
                headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    # a deploy may be larger (8 MiB), not unlimited
    r = env["admin"].post("/api/workflows", json={"source": "x" * (9 << 20)})
    assert r.status_code == 413


# ------------------------------------------------------------------ deploys
def test_deploy_keeps_versions(env: dict[str, Any]) -> None:
    admin, project = env["admin"], env["project"]
    source = (project / "flow.twdsl").read_text().replace("workflow Flow", "workflow Versioned")
    r = admin.post("/api/workflows", json={"source": source, "filename": "v.twdsl"})
    assert r.status_code == 201 and r.json()["version"] == 1 and r.json()["new"]
    r = admin.post("/api/workflows", json={"source": source, "filename": "v.twdsl"})
    assert r.status_code == 200 and r.json()["version"] == 1 and not r.json()["new"]
    r = admin.post("/api/workflows", json={"source": source.replace('"1.0.0"', '"1.1.0"'),
                                           "filename": "v.twdsl"})
    assert r.status_code == 201 and r.json()["version"] == 2 and r.json()["semver"] == "1.1.0"
    versions = admin.get("/api/workflows/Versioned").json()["versions"]
    assert [(v["version"], v["semver"], v["deployed_by"]) for v in versions] == [
        (2, "1.1.0", "admin"), (1, "1.0.0", "admin")]
    one = admin.get("/api/workflows/Versioned/versions/1").json()
    assert one["source"] == source and one["ir"]["workflow"] == "Versioned"
    assert admin.get("/api/workflows/Versioned/versions/7").status_code == 404
    # a run of an older version
    r = env["operator"].post("/api/workflows/Versioned/runs", json={"inputs": {"n": 1},
                                                                    "version": 1})
    assert r.status_code == 201 and r.json()["version"] == "1.0.0"
    assert r.json()["deployment"] == 1


def test_deploy_compiled_ir_with_a_schedule(env: dict[str, Any], tmp_path: Path) -> None:
    project = env["project"]
    out = tmp_path / "flow.json"
    cli(project, "compile", "flow.twdsl", "-o", str(out))
    ir = json.loads(out.read_text())
    admin = env["admin"]
    r = admin.post("/api/workflows", json={"ir": ir, "schedule": "0 25 * * *"})
    assert r.status_code == 422
    assert r.json()["error"]["message"] == (
        "schedule '0 25 * * *': hour '25' is not valid (0-23) (at characters 3-4)")
    ir["workflow"] = "Compiled"
    r = admin.post("/api/workflows", json={"ir": ir, "schedule": "@daily",
                                           "inputs": {"n": 3}})
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "ir" and r.json()["schedule"] == "@daily"
    sched = [s for s in admin.get("/api/schedules").json() if s["workflow"] == "Compiled"]
    assert sched[0]["cron"] == "@daily" and sched[0]["timezone"] == "UTC"
    ir["ir_version"] = 1
    r = admin.post("/api/workflows", json={"ir": ir})
    assert r.status_code == 422
    assert "compile it again with `twdsl compile`" in r.json()["error"]["message"]


def test_a_bad_deploy_is_refused_with_its_diagnostics(env: dict[str, Any]) -> None:
    admin = env["admin"]
    bad = ('workflow Bad {\n  version: "1.0.0"\n  schedule: "0 3 * * 9"\n'
           '  task a { agent: "Work" }\n}\n')
    r = admin.post("/api/workflows", json={"source": bad, "filename": "../../etc/bad.twdsl"})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["message"] == "bad.twdsl: 1 error; nothing was deployed"
    assert [(p["code"], p["line"], p["column"]) for p in err["problems"]] == [("TW510", 3, 22)]
    r = admin.post("/api/workflows", json={
        "source": 'agent Nobody { input { x: number } output { y: number } }\n'
                  'workflow Lonely {\n  version: "1.0.0"\n'
                  '  task a { agent: Nobody input: { x: 1 } }\n}\n'})
    assert r.status_code == 422
    assert r.json()["error"]["message"].startswith("no agent is bound for 'Nobody'")
    assert admin.get("/api/workflows/Lonely").status_code == 404
    r = admin.post("/api/workflows", json={"source": "x", "ir": {}})
    assert r.status_code == 422
    r = admin.post("/api/workflows", json={"sauce": "x"})
    assert r.status_code == 422
    assert r.json()["error"]["problems"] == ["body.sauce: Extra inputs are not permitted"]


# ------------------------------------------------------------------ runs
def test_inputs_are_validated_before_anything_is_recorded(env: dict[str, Any]) -> None:
    op = env["operator"]
    before = len(op.get("/api/runs", params={"limit": 1000}).json()["runs"])
    r = op.post("/api/workflows/Flow/runs", json={"inputs": {"n": "three", "colour": 1}})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["message"] == ("the inputs of Flow do not fit its declaration; nothing was run")
    assert "the workflow has no input 'colour' (its inputs: n, fail)" in err["problems"]
    assert "input 'n': expected a number, got \"three\"" in err["problems"]
    r = op.post("/api/workflows/Flow/runs", json={"inputs": {}})
    assert r.json()["error"]["problems"] == ['input \'n\' (number) is required: add "n" to '
                                             '"inputs"']
    assert len(op.get("/api/runs", params={"limit": 1000}).json()["runs"]) == before
    assert op.post("/api/workflows/Nope/runs", json={}).status_code == 404


def test_a_run_completes_with_its_timeline_and_events(env: dict[str, Any]) -> None:
    op = env["operator"]
    run_id = op.post("/api/workflows/Flow/runs", json={"inputs": {"n": 1}}).json()["id"]
    run = wait_run(op, run_id, {"completed"})
    assert run["outputs"] == {"total": {"n": 4}}
    assert [(t["key"], t["status"]) for t in run["tasks"]][0] == ("prepare", "completed")
    assert {t["key"] for t in run["tasks"]} == {"prepare", "left", "right", "finish"}
    assert next(t for t in run["tasks"] if t["key"] == "left")["input"] == {"n": 2}
    events = op.get(f"/api/runs/{run_id}/events").json()["events"]
    assert events[0]["type"] == "workflow.started"
    assert events[-1]["type"] == "workflow.completed"
    # the same events as a stream, which ends after the run did
    with op.stream("GET", f"/api/runs/{run_id}/events",
                   headers={"Accept": "text/event-stream"}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    kinds = [line[7:] for line in text.splitlines() if line.startswith("event: ")]
    assert kinds == [e["type"] for e in events] + ["run", "end"]
    ids = [int(line[4:]) for line in text.splitlines() if line.startswith("id: ")]
    assert ids == list(range(1, len(events) + 1))
    # Last-Event-ID resumes after it
    with op.stream("GET", f"/api/runs/{run_id}/events",
                   headers={"Accept": "text/event-stream",
                            "Last-Event-ID": str(len(events) - 1)}) as r:
        text = "".join(r.iter_text())
    assert [line[7:] for line in text.splitlines() if line.startswith("event: ")] == [
        "workflow.completed", "run", "end"]
    # the CLI sees the same run
    listed = cli(env["project"], "runs", "list", "--format", "json", "--limit", "100").stdout
    assert run_id in {r["id"] for r in json.loads(listed)}


def test_live_events_arrive_while_the_run_goes(env: dict[str, Any]) -> None:
    op = env["operator"]
    run_id = op.post("/api/workflows/Slow/runs", json={"inputs": {"seconds": 0.6}}).json()["id"]
    seen: list[str] = []
    with op.stream("GET", f"/api/runs/{run_id}/events",
                   headers={"Accept": "text/event-stream"}) as r:
        for line in r.iter_lines():
            if line.startswith("event: "):
                seen.append(line[7:])
                if line == "event: end":
                    break
    assert seen[0] == "workflow.started"
    assert "task.started" in seen and seen[-3:] == ["workflow.completed", "run", "end"]
    assert seen.count("run") >= 2  # pending or running, then completed


def test_cancel_a_running_run(env: dict[str, Any]) -> None:
    op = env["operator"]
    run_id = op.post("/api/workflows/Slow/runs", json={}).json()["id"]
    wait_task(op, run_id, "wait", "running")
    r = op.post(f"/api/runs/{run_id}/cancel")
    assert r.status_code == 202 and r.json() == {"run": run_id, "requested": "cancel"}
    run = wait_run(op, run_id, {"cancelled"}, timeout=10)
    assert {t["key"]: t["status"] for t in run["tasks"]} == {"first": "completed",
                                                             "wait": "cancelled"}
    assert op.post(f"/api/runs/{run_id}/cancel").status_code == 409


def test_pause_then_resume_reuses_completed_tasks(env: dict[str, Any]) -> None:
    op = env["operator"]
    run_id = op.post("/api/workflows/Slow/runs", json={"inputs": {"seconds": 0.5}}).json()["id"]
    wait_task(op, run_id, "wait", "running")
    assert op.post(f"/api/runs/{run_id}/pause").status_code == 202
    run = wait_run(op, run_id, {"paused"})
    assert {t["key"]: t["status"] for t in run["tasks"]}["wait"] == "completed"
    r = op.post(f"/api/runs/{run_id}/resume")
    assert r.status_code == 202 and r.json() == {"run": run_id, "resumed": True, "reused": 2}
    run = wait_run(op, run_id, {"completed"})
    assert run["resumes"] == 1
    assert {t["key"] for t in run["tasks"]} == {"first", "wait", "after"}


def test_a_failed_run_keeps_the_traceback_and_retries_failed_only(env: dict[str, Any]) -> None:
    op = env["operator"]
    run_id = op.post("/api/workflows/Flow/runs",
                     json={"inputs": {"n": 1, "fail": True}}).json()["id"]
    run = wait_run(op, run_id, {"failed"})
    right = next(t for t in run["tasks"] if t["key"] == "right")
    assert right["status"] == "failed"
    assert right["error"]["message"] == ("ZeroDivisionError: the right side cannot divide by "
                                         "zero")
    assert run["error"]["task"] == "right" and run["error"]["source"] == "flow.twdsl:10:5"
    tb = run["error"]["details"]["traceback"]
    assert tb.startswith("Traceback (most recent call last):")
    assert 'raise ZeroDivisionError("the right side cannot divide by zero")' in tb
    r = op.post(f"/api/runs/{run_id}/retry", json={"failed_only": True})
    assert r.status_code == 201
    retry = r.json()
    assert retry["parent_id"] == run_id and retry["inputs"] == {"n": 1, "fail": True}
    again = wait_run(op, retry["id"], {"failed"})
    events = op.get(f"/api/runs/{again['id']}/events").json()["events"]
    reused = {e["key"] for e in events if e["type"] == "task.reused"}
    assert reused == {"prepare", "left"}
    assert op.post(f"/api/runs/{run_id}/resume").status_code == 409


def test_queue_waits_for_a_slot(tmp_path: Path) -> None:
    project = make_project(tmp_path / "q")
    tok = token(project, "operator")
    admin = token(project, "admin")
    server = Server(project, "--max-runs", "1", "--no-scheduler")
    try:
        with server.client(admin) as a:
            deploy(a, project, "slow.twdsl")
        with server.client(tok) as op:
            first = op.post("/api/workflows/Slow/runs", json={}).json()["id"]
            wait_task(op, first, "wait", "running")
            second = op.post("/api/workflows/Slow/runs", json={"inputs": {"seconds": 0}})
            second_id = second.json()["id"]
            q = op.get("/api/queue").json()
            assert q["server"] == {"id": q["server"]["id"], "executes": True, "queue": None,
                                   "max_runs": 1, "running": 1, "waiting": 1}
            assert q["mode"] == "runs are executed by this server, 1 at once"
            assert q["queues"] == []  # nothing queued: the server runs what it accepts
            assert q["pending"] == 1 and q["running"] == 1 and q["oldest_wait"] >= 0
            # a waiting run cannot be paused, but can be cancelled before it starts
            assert op.post(f"/api/runs/{second_id}/pause").status_code == 409
            r = op.post(f"/api/runs/{second_id}/cancel")
            assert r.json() == {"run": second_id, "status": "cancelled"}
            run = wait_run(op, second_id, {"cancelled"})
            assert run["started_at"] is None and run["tasks"] == []
            assert op.post(f"/api/runs/{first}/cancel").status_code == 202
            wait_run(op, first, {"cancelled"})
    finally:
        server.stop()


def test_statistics_and_series(env: dict[str, Any]) -> None:
    op = env["operator"]
    _finished_run(env)
    stats = op.get("/api/stats", params={"workflow": "Flow"}).json()
    flow = stats["workflows"][0]
    assert flow["workflow"] == "Flow" and flow["runs"] >= 1
    series = op.get("/api/workflows/Flow/series", params={"days": 1, "bucket": "hour"}).json()
    point = series["points"][-1]
    assert point["runs"] >= 1 and point["p50"] is not None and point["p95"] >= point["p50"]
    detail = op.get("/api/workflows/Flow").json()
    assert detail["inputs"] == [{"name": "n", "type": "number", "required": True},
                                {"name": "fail", "type": "boolean", "required": False}]
    assert detail["stats"]["workflow"] == "Flow"
    assert op.get("/api/runs", params={"status": "nope"}).status_code == 422


def test_openapi_schema(env: dict[str, Any]) -> None:
    assert httpx.get(env["server"].url + "/api/openapi.json").status_code == 401
    schema = env["viewer"].get("/api/openapi.json").json()
    assert schema["info"]["title"] == "twdsl server"
    assert "/api/workflows/{name}/runs" in schema["paths"]
    assert "SubmitBody" in schema["components"]["schemas"]
    assert "/api/openapi.json" not in schema["paths"]


def test_graph_svg_marks_each_task(env: dict[str, Any]) -> None:
    svg = env["viewer"].get("/api/workflows/Flow/graph.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    nodes = [part.split('"')[0] for part in svg.text.split('data-node="')[1:]]
    assert sorted(nodes) == ["finish", "left", "prepare", "right"]
    assert svg.text.count('class="edge"') == 2  # prepare → the parallel block → finish


def test_tokens_from_the_cli(env: dict[str, Any]) -> None:
    project = env["project"]
    listed = json.loads(cli(project, "token", "list", "--format", "json").stdout)
    assert {"viewer", "operator", "admin"} <= {t["role"] for t in listed}
    assert all("secret" not in json.dumps(t) for t in listed)
    text = token(project, "viewer", "short-lived")
    tid = text.split("_")[1]
    assert env["server"].client(text).get("/api/runs").status_code == 200
    r = cli(project, "token", "revoke", tid)
    assert r.stdout.strip() == f"twdsl: token {tid} revoked"
    assert env["server"].client(text).get("/api/runs").status_code == 401
    r = cli(project, "token", "revoke", tid, check=False)
    assert r.returncode == 1 and "no active token" in r.stderr
    r = subprocess.run([sys.executable, "-m", "twdsl.cli", "token", "create", "--role", "root"],
                       cwd=project, capture_output=True, text=True)
    assert r.returncode == 2 and "'root' is not one of" in r.stderr


def test_a_stopped_server_cancels_its_runs_and_the_next_one_starts_the_waiting(
        tmp_path: Path) -> None:
    project = make_project(tmp_path / "r")
    tok = token(project, "admin")
    server = Server(project, "--max-runs", "1", "--no-scheduler")
    with server.client(tok) as c:
        deploy(c, project, "slow.twdsl")
        running = c.post("/api/workflows/Slow/runs", json={}).json()["id"]
        wait_task(c, running, "wait", "running")
        waiting = c.post("/api/workflows/Slow/runs", json={"inputs": {"seconds": 0}}).json()["id"]
    server.stop()
    listed = {r["id"]: r for r in json.loads(cli(project, "runs", "list", "--format",
                                                 "json").stdout)}
    assert listed[running]["status"] == "cancelled"
    assert listed[waiting]["status"] == "pending"
    again = Server(project, "--no-scheduler")
    try:
        with again.client(tok) as c:
            run = wait_run(c, waiting, {"completed"})
            assert [t["key"] for t in run["tasks"]] == ["first", "wait", "after"]
            assert c.post(f"/api/runs/{running}/resume").json()["reused"] == 1
            wait_task(c, running, "wait", "running")
            c.post(f"/api/runs/{running}/cancel")
            wait_run(c, running, {"cancelled"})
    finally:
        again.stop()


def test_a_port_in_use_is_a_usage_error(env: dict[str, Any]) -> None:
    port = env["server"].url.rsplit(":", 1)[1]
    r = subprocess.run([sys.executable, "-m", "twdsl.cli", "server", "--port", port],
                       cwd=env["project"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert f"twdsl: error: cannot listen on 127.0.0.1:{port}: Address already in use" in r.stderr
    assert "Traceback" not in r.stderr
