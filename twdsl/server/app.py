"""The HTTP API and the web UI (an ASGI app: FastAPI on uvicorn).  docs/server.md lists the
routes; ``GET /api/openapi.json`` (with a token) gives their schema.

Every route but ``/healthz``, ``/readyz``, the login and the UI's static files needs a token
(``Authorization: Bearer …``) or a session cookie; see twdsl/server/auth.py.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from twdsl import __version__
from twdsl.runtime.store.base import FINAL_RUN_STATUSES, RUN_STATUSES
from twdsl.server import graph
from twdsl.server.auth import (
    CSRF_HEADER,
    NAME_MAX,
    SESSION_COOKIE,
    Sessions,
    create_token,
    role_at_least,
    verify_token,
)
from twdsl.server.db import MISSED_POLICIES, ROLES, RULE_KINDS, TokenRecord
from twdsl.server.service import ApiError, Service, Settings, fire_json, run_status

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
STATIC = resources.files("twdsl.server") / "static"


# ---------------------------------------------------------------------- request bodies
class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeployBody(_Body):
    source: str | None = Field(None, description="TWDSL source text")
    ir: dict[str, Any] | str | None = Field(None, description="a program from twdsl compile")
    workflow: str | None = Field(None, description="which workflow of a source with several")
    filename: str | None = Field(None, description="the source's file name, for diagnostics")
    schedule: str | None = Field(None, description="cron schedule of an IR deploy")
    inputs: dict[str, Any] | None = Field(None, description="inputs of scheduled runs")


class SubmitBody(_Body):
    inputs: dict[str, Any] = Field(default_factory=dict)
    version: int | None = Field(None, description="a deployed version (default: latest)")


class RetryBody(_Body):
    failed_only: bool = False


class LoginBody(_Body):
    token: str


class TokenBody(_Body):
    name: str = Field(..., min_length=1, max_length=NAME_MAX)
    role: Literal["viewer", "operator", "admin"]


class ScheduleBody(_Body):
    paused: bool | None = None
    missed: Literal["once", "skip"] | None = None


class RuleBody(_Body):
    name: str = Field(..., min_length=1, max_length=100)
    kind: Literal["run_failed", "success_rate", "wait_time"]
    url: str = Field(..., pattern=r"^https?://", max_length=2000)
    workflow: str | None = None
    threshold: float | None = Field(None, ge=0, le=1)
    window: float | None = Field(None, gt=0, description="seconds (success_rate)")
    min_runs: int = Field(1, ge=1)
    limit: float | None = Field(None, gt=0, description="seconds (wait_time)")


@dataclass(frozen=True, slots=True)
class Principal:
    token: TokenRecord
    via: Literal["token", "session"]


# ---------------------------------------------------------------------- middleware
class Guard:
    """Request bodies within limits (413 beyond; counted as they arrive, whatever the
    Content-Length says), JSON bodies only (415: a form posted from another site is refused
    before any route), and the security headers of every answer."""

    HEADERS = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"content-security-policy",
         b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
         b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    ]

    def __init__(self, app: ASGIApp, max_body: int, max_deploy_body: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_deploy_body = max_deploy_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = (self.max_deploy_body if scope["path"] == "/api/workflows"
                 else self.max_body)
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        method = scope["method"]
        if method not in SAFE_METHODS:
            if length is not None and length.isdigit() and int(length) > limit:
                await _refuse(send, 413, f"the request body is larger than {limit} bytes")
                return
            ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            has_body = (length not in (None, b"0")) or b"transfer-encoding" in headers
            if has_body and ctype != b"application/json":
                await _refuse(send, 415, "send the request body as application/json")
                return
        seen = 0
        too_big = False

        async def counted() -> Message:
            nonlocal seen, too_big
            if too_big:  # the app reads on: it gets an empty end, and its answer is replaced
                return {"type": "http.request", "body": b"", "more_body": False}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    too_big = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        replaced = False

        async def secured(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return
            if message["type"] == "http.response.start":
                if too_big:
                    replaced = True
                    await _refuse(send, 413, f"the request body is larger than {limit} bytes")
                    return
                message["headers"] = list(message.get("headers", [])) + self.HEADERS
            await send(message)

        await self.app(scope, counted, secured)


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": {"message": message, "problems": []}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            *Guard.HEADERS]})
    await send({"type": "http.response.body", "body": body})


# ---------------------------------------------------------------------- the app
def create_app(settings: Settings, service: Service | None = None) -> FastAPI:
    """The ASGI app.  The service (store, runner, scheduler) starts with the app's lifespan
    (unless the one given has started) and stops with it."""
    holder: dict[str, Service] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = service or Service(settings)
        svc.bell.bind(asyncio.get_running_loop())
        if not svc.running:
            await asyncio.to_thread(svc.start)
        holder["svc"] = svc
        app.state.service = svc
        app.state.sessions = Sessions(svc.db.secret("session"), settings.session_hours * 3600)
        try:
            yield
        finally:  # here, not after uvicorn returns: it re-raises SIGTERM once shut down
            await asyncio.to_thread(svc.stop)

    app = FastAPI(title="twdsl server", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None,
                  description="Deploy TWDSL workflows, run them, watch and steer their runs. "
                              "Authenticate with `Authorization: Bearer <token>` "
                              "(`twdsl token create`).")

    app.add_middleware(GZipMiddleware, minimum_size=1024)  # not event streams (Starlette)
    app.add_middleware(Guard, max_body=settings.max_body,  # type: ignore[arg-type]
                       max_deploy_body=settings.max_deploy_body)

    def svc() -> Service:
        return holder["svc"]

    @app.exception_handler(ApiError)
    async def api_error(request: Request, e: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if e.status == 401 else None
        return JSONResponse({"error": {"message": e.message, "problems": e.problems}},
                            status_code=e.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, e: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
                    for err in e.errors()]
        return JSONResponse({"error": {"message": "the request does not fit the API",
                                       "problems": problems}}, status_code=422)

    # -------------------------------------------------------------- authentication
    def authenticate(request: Request) -> Principal:
        service = svc()
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, text = header.partition(" ")
            if scheme.lower() != "bearer" or not text:
                raise ApiError(401, "write the token as 'Authorization: Bearer twdsl_…'")
            record = verify_token(service.db, text)
            if record is None:
                raise ApiError(401, "the token is not valid (unknown, wrong or revoked)")
            principal = Principal(record, "token")
        else:
            cookie = request.cookies.get(SESSION_COOKIE)
            if cookie is None:
                raise ApiError(401, "a token is needed: 'Authorization: Bearer twdsl_…' "
                               "(`twdsl token create`), or log in to the UI")
            sessions: Sessions = request.app.state.sessions
            session = sessions.read(cookie, time.time())
            found = service.db.get_token(session.token_id) if session else None
            if session is None or found is None or not found.active:
                raise ApiError(401, "the session has ended: log in again")
            if request.method not in SAFE_METHODS and not sessions.csrf_ok(
                    session, request.headers.get(CSRF_HEADER)):
                raise ApiError(403, f"the {CSRF_HEADER} header is missing or wrong")
            principal = Principal(found, "session")
        now = time.time()
        last = principal.token.last_used_at
        if last is None or now - last > 60:
            service.db.touch_token(principal.token.id, now)
        return principal

    def role(needed: str) -> Callable[[Request], Awaitable[Principal]]:
        async def check(request: Request) -> Principal:
            principal = authenticate(request)
            if not role_at_least(principal.token.role, needed):
                raise ApiError(403, f"this needs the {needed} role; the token "
                               f"'{principal.token.name}' is {principal.token.role}")
            return principal
        check.__name__ = f"needs_{needed}"
        return check

    viewer = Depends(role("viewer"))
    operator = Depends(role("operator"))
    admin = Depends(role("admin"))

    # -------------------------------------------------------------- health
    @app.get("/healthz", tags=["health"])
    def health() -> dict[str, Any]:
        """Liveness: the process answers (no token needed)."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    def ready() -> JSONResponse:
        """Readiness: the database answers and the runner, scheduler and notifier run (no
        token needed; says nothing but yes or no per part)."""
        service = holder.get("svc")
        checks = {"database": False, "runner": False, "scheduler": False, "notifier": False}
        if service is not None:
            try:
                service.store.list_runs(limit=1)
                service.db.schedules()
                checks["database"] = True
            except Exception:  # noqa: BLE001 - not ready, whatever the reason
                pass
            checks["runner"] = service.executor_alive()
            checks["scheduler"] = (not service.settings.scheduler
                                   or bool(service.scheduler.thread
                                           and service.scheduler.thread.is_alive()))
            checks["notifier"] = (not service.settings.notifier
                                  or bool(service.notifier.thread
                                          and service.notifier.thread.is_alive()))
        ok = all(checks.values())
        return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)

    # -------------------------------------------------------------- session (UI login)
    @app.post("/api/session", tags=["session"])
    def login(body: LoginBody, request: Request) -> JSONResponse:
        """Log in with a token: sets the session cookie; answers the CSRF token that
        requests changing something must send in X-CSRF-Token."""
        record = verify_token(svc().db, body.token)
        if record is None:
            raise ApiError(401, "the token is not valid (unknown, wrong or revoked)")
        sessions: Sessions = request.app.state.sessions
        cookie, session = sessions.issue(record.id, time.time())
        secure = settings.secure_cookies or request.url.scheme == "https"
        response = JSONResponse({"name": record.name, "role": record.role,
                                 "token_id": record.id, "csrf": sessions.csrf(session)})
        response.set_cookie(SESSION_COOKIE, cookie, max_age=int(sessions.lifetime),
                            httponly=True, samesite="strict", secure=secure, path="/")
        return response

    @app.get("/api/session", tags=["session"])
    def whoami(request: Request, who: Principal = viewer) -> dict[str, Any]:
        """Who the token or session is, and (for a session) its CSRF token."""
        out: dict[str, Any] = {"name": who.token.name, "role": who.token.role,
                               "token_id": who.token.id, "via": who.via, "version": __version__}
        if who.via == "session":
            sessions: Sessions = request.app.state.sessions
            session = sessions.read(request.cookies[SESSION_COOKIE], time.time())
            assert session is not None
            out["csrf"] = sessions.csrf(session)
        return out

    @app.delete("/api/session", tags=["session"])
    def logout(who: Principal = viewer) -> JSONResponse:
        """Log out: the cookie is cleared."""
        response = JSONResponse({"logged_out": True})
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.get("/api/openapi.json", tags=["meta"], include_in_schema=False)
    def openapi(who: Principal = viewer) -> JSONResponse:
        return JSONResponse(app.openapi())

    # -------------------------------------------------------------- workflows
    @app.post("/api/workflows", tags=["workflows"], status_code=201)
    def deploy(body: DeployBody, who: Principal = admin) -> JSONResponse:
        """Deploy a workflow as source or compiled IR; a new version unless it is the same
        as the latest (then 200 and that version)."""
        d, new, warnings = svc().deploy(source=body.source, ir=body.ir, workflow=body.workflow,
                                        filename=body.filename, schedule=body.schedule,
                                        inputs=body.inputs, by=who.token.name)
        return JSONResponse({**_deployment_json(d), "new": new, "warnings": warnings},
                            status_code=201 if new else 200)

    @app.get("/api/workflows", tags=["workflows"])
    def workflows(who: Principal = viewer) -> list[dict[str, Any]]:
        """Every deployed workflow: its latest version and schedule."""
        service = svc()
        schedules = {s.workflow: s for s in service.db.schedules()}
        out = []
        for d in service.db.deployments():
            s = schedules.get(d.workflow)
            out.append({**_deployment_json(d), "versions": d.version,
                        "schedule_paused": s.paused if s else None})
        return out

    @app.get("/api/workflows/{name}", tags=["workflows"])
    def workflow(name: str, who: Principal = viewer) -> dict[str, Any]:
        """A workflow's versions (newest first), its schedule and its statistics."""
        service = svc()
        versions = service.db.deployments(name)
        if not versions:
            raise ApiError(404, f"no workflow '{name}' is deployed")
        latest = versions[0]
        program = service.program_of(latest)
        schedule = next((s for s in service.schedules_json() if s["workflow"] == name), None)
        stats = service.store.stats(workflow=name)
        return {"workflow": name, "latest": _deployment_json(latest),
                "versions": [_deployment_json(d) for d in versions],
                "inputs": [{"name": i.name, "type": str(i.type), "required": i.required}
                           for i in program.inputs],
                "schedule": schedule,
                "stats": (stats.get("workflows") or [None])[0]}

    @app.get("/api/workflows/{name}/versions/{version}", tags=["workflows"])
    def workflow_version(name: str, version: int, who: Principal = viewer) -> dict[str, Any]:
        """One version with its source (a source deploy) and program (IR JSON)."""
        d = svc().deployment(name, version)
        return {**_deployment_json(d), "source": d.source, "ir": json.loads(d.ir)}

    @app.get("/api/workflows/{name}/graph.svg", tags=["workflows"],
             response_class=Response)
    def workflow_graph(name: str, version: int | None = None,
                       who: Principal = viewer) -> Response:
        """The workflow's picture (SVG; tasks carry data-node with their node id)."""
        service = svc()
        return _svg(graph.svg(service.program_of(service.deployment(name, version))))

    @app.get("/api/workflows/{name}/series", tags=["statistics"])
    def workflow_series(name: str, days: float = 7.0, bucket: Literal["hour", "day"] = "day",
                        who: Principal = viewer) -> dict[str, Any]:
        """Runs, success rate and p50/p95 durations per hour or day."""
        if not 0 < days <= 366:
            raise ApiError(422, "days: between 0 and 366")
        size = 3600.0 if bucket == "hour" else 86400.0
        now = time.time()
        return {"workflow": name, "bucket": bucket,
                "points": svc().series(name, (now - days * 86400) // size * size, size)}

    @app.post("/api/workflows/{name}/runs", tags=["runs"], status_code=201)
    def submit(name: str, body: SubmitBody, who: Principal = operator) -> JSONResponse:
        """Start a run of the latest (or the named) version; inputs are validated as
        `twdsl run` validates them, before anything is recorded."""
        service = svc()
        return JSONResponse(service.run_json(service.submit(
            service.deployment(name, body.version), body.inputs)), status_code=201)

    # -------------------------------------------------------------- runs
    @app.get("/api/runs", tags=["runs"])
    def runs(workflow: str | None = None, status: str | None = None,
             since: float | None = None, until: float | None = None, limit: int = 50,
             who: Principal = viewer) -> JSONResponse:
        """Runs, newest first; ``since <= created_at < until`` (epoch seconds)."""
        if status is not None and status not in RUN_STATUSES | {"interrupted"}:
            raise ApiError(422, f"status: one of {', '.join(sorted(RUN_STATUSES))}, "
                           "interrupted")
        if not 1 <= limit <= 1000:
            raise ApiError(422, "limit: between 1 and 1000")
        service = svc()
        stored = "running" if status == "interrupted" else status
        found = service.store.list_runs(workflow=workflow, status=stored, since=since,
                                        until=until, limit=limit)
        if status in ("running", "interrupted"):
            found = [r for r in found if run_status(r) == status]
        cache: dict[str, Any] = {}
        return JSONResponse({"runs": [service.run_json(r, cache) for r in found]})

    @app.get("/api/runs/{run_id}", tags=["runs"])
    def run(run_id: str, who: Principal = viewer) -> JSONResponse:
        """A run with its tasks, their attempts, inputs, results and errors."""
        service = svc()
        return JSONResponse(service.run_detail(service.run(run_id)))

    @app.get("/api/runs/{run_id}/graph.svg", tags=["runs"], response_class=Response)
    def run_graph(run_id: str, who: Principal = viewer) -> Response:
        """The picture of the program the run executes."""
        service = svc()
        r = service.run(run_id)
        text = service.store.program(r.id)
        if text is None:
            raise ApiError(404, f"run {r.id} has no stored program")
        return _svg(graph.svg(service.program_from(text, r.ir_sha256)))

    @app.get("/api/runs/{run_id}/events", tags=["runs"])
    async def events(run_id: str, request: Request, after: int = 0,
                     who: Principal = viewer) -> Response:
        """The run's events after ``after``: a JSON list, or, with ``Accept:
        text/event-stream``, a live Server-Sent Events stream (``id`` is the event's seq,
        so a reconnecting client resumes with Last-Event-ID) that ends after the run
        does."""
        service = svc()
        r = await asyncio.to_thread(service.run, run_id)
        if "text/event-stream" not in request.headers.get("accept", ""):
            found = await asyncio.to_thread(service.store.events, r.id, after)
            return JSONResponse({"events": [_event_json(e) for e in found]})
        last = request.headers.get("last-event-id")
        start = int(last) if last and last.isdigit() else after
        return StreamingResponse(_stream(service, r.id, start, request),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store",
                                          "X-Accel-Buffering": "no"})

    @app.post("/api/runs/{run_id}/cancel", tags=["runs"], status_code=202)
    def cancel(run_id: str, who: Principal = operator) -> dict[str, Any]:
        """Cancel a running or waiting run: in-flight work is stopped."""
        return svc().control(run_id, "cancel")

    @app.post("/api/runs/{run_id}/pause", tags=["runs"], status_code=202)
    def pause(run_id: str, who: Principal = operator) -> dict[str, Any]:
        """Pause a running run: attempts in flight finish, nothing new starts."""
        return svc().control(run_id, "pause")

    @app.post("/api/runs/{run_id}/resume", tags=["runs"], status_code=202)
    def resume(run_id: str, who: Principal = operator) -> dict[str, Any]:
        """Continue a paused, cancelled, timed-out or interrupted run in place, reusing
        every completed task's result."""
        return svc().resume(run_id)

    @app.post("/api/runs/{run_id}/retry", tags=["runs"], status_code=201)
    def retry(run_id: str, body: RetryBody | None = None,
              who: Principal = operator) -> dict[str, Any]:
        """Run a finished run again as a new run linked to it (``failed_only``: reuse every
        completed result)."""
        service = svc()
        return service.run_json(service.retry(run_id, bool(body and body.failed_only)))

    # -------------------------------------------------------------- statistics
    @app.get("/api/stats", tags=["statistics"])
    def stats(workflow: str | None = None, since: float | None = None,
              who: Principal = viewer) -> dict[str, Any]:
        """Runs, success rate, durations per workflow and task (as `twdsl stats`)."""
        return svc().store.stats(workflow=workflow, since=since)

    @app.get("/api/queue", tags=["statistics"])
    def queue(who: Principal = viewer) -> dict[str, Any]:
        """Waiting and running runs, the oldest wait, throughput."""
        return svc().queue()

    # -------------------------------------------------------------- schedules
    @app.get("/api/schedules", tags=["schedules"])
    def schedules(who: Principal = viewer) -> list[dict[str, Any]]:
        """Every schedule: next fire, pause, missed-fire policy, recent fires."""
        return svc().schedules_json()

    @app.patch("/api/schedules/{name}", tags=["schedules"])
    def update_schedule(name: str, body: ScheduleBody,
                        who: Principal = operator) -> dict[str, Any]:
        """Pause or unpause a schedule, or set its missed-fire policy (once | skip)."""
        service = svc()
        if not service.db.update_schedule(name, paused=body.paused, missed=body.missed):
            raise ApiError(404, f"workflow '{name}' has no schedule")
        service.scheduler.wake.set()
        return next(s for s in service.schedules_json() if s["workflow"] == name)

    @app.get("/api/schedules/{name}/fires", tags=["schedules"])
    def fires(name: str, limit: int = 50, who: Principal = viewer) -> dict[str, Any]:
        """A schedule's fires, newest first: scheduled time, when it fired, the run."""
        if not 1 <= limit <= 1000:
            raise ApiError(422, "limit: between 1 and 1000")
        return {"fires": [fire_json(f) for f in svc().db.fires(name, limit)]}

    # -------------------------------------------------------------- tokens
    @app.get("/api/tokens", tags=["tokens"])
    def tokens(who: Principal = admin) -> list[dict[str, Any]]:
        """Every token (never a secret)."""
        return [_token_json(t) for t in svc().db.list_tokens()]

    @app.post("/api/tokens", tags=["tokens"], status_code=201)
    def new_token(body: TokenBody, who: Principal = admin) -> dict[str, Any]:
        """A new token; its text is in this answer only."""
        text, record = create_token(svc().db, body.name, body.role)
        return {**_token_json(record), "token": text}

    @app.delete("/api/tokens/{token_id}", tags=["tokens"])
    def revoke(token_id: str, who: Principal = admin) -> dict[str, Any]:
        """Revoke a token: its requests and sessions end at once."""
        if not svc().db.revoke_token(token_id):
            raise ApiError(404, f"no active token '{token_id}'")
        return {"revoked": token_id}

    # -------------------------------------------------------------- notifications
    @app.get("/api/notifications", tags=["notifications"])
    def rules(who: Principal = admin) -> list[dict[str, Any]]:
        """Notification rules (their webhook URLs are secrets: admins only)."""
        return [_rule_json(r) for r in svc().db.rules()]

    @app.post("/api/notifications", tags=["notifications"], status_code=201)
    def add_rule(body: RuleBody, who: Principal = admin) -> dict[str, Any]:
        """Add a rule: run_failed; success_rate (threshold, window, min_runs); wait_time
        (limit)."""
        if body.kind == "success_rate" and (body.threshold is None or body.window is None):
            raise ApiError(422, "a success_rate rule needs threshold (0-1) and window "
                           "(seconds)")
        if body.kind == "wait_time" and body.limit is None:
            raise ApiError(422, "a wait_time rule needs limit (seconds)")
        r = svc().db.add_rule(name=body.name, kind=body.kind, url=body.url,
                              workflow=body.workflow, threshold=body.threshold,
                              window=body.window, min_runs=body.min_runs, limit=body.limit)
        return _rule_json(r)

    @app.delete("/api/notifications/{rule_id}", tags=["notifications"])
    def delete_rule(rule_id: int, who: Principal = admin) -> dict[str, Any]:
        if not svc().db.delete_rule(rule_id):
            raise ApiError(404, f"no notification rule {rule_id}")
        return {"deleted": rule_id}

    # -------------------------------------------------------------- the UI
    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return _static("index.html")

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> FileResponse:
        return _static(name)

    return app


def _static(name: str) -> FileResponse:
    if "/" in name or "\\" in name or name.startswith("."):
        raise ApiError(404, "not found")
    path = STATIC / name
    if not path.is_file():
        raise ApiError(404, "not found")
    kind = {"js": "text/javascript", "css": "text/css", "html": "text/html",
            "svg": "image/svg+xml", "png": "image/png"}.get(name.rsplit(".", 1)[-1])
    return FileResponse(str(path), media_type=kind,
                        headers={"Cache-Control": "no-cache"})


def _svg(text: str) -> Response:
    return Response(text, media_type="image/svg+xml")


def _deployment_json(d: Any) -> dict[str, Any]:
    return {"workflow": d.workflow, "version": d.version, "semver": d.semver, "kind": d.kind,
            "filename": d.filename, "ir_sha256": d.ir_sha256, "schedule": d.schedule,
            "inputs": d.inputs, "deployed_at": d.deployed_at, "deployed_by": d.deployed_by}


def _token_json(t: TokenRecord) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "role": t.role, "created_at": t.created_at,
            "revoked_at": t.revoked_at, "last_used_at": t.last_used_at, "active": t.active}


def _rule_json(r: Any) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "kind": r.kind, "url": r.url, "workflow": r.workflow,
            "threshold": r.threshold, "window": r.window, "min_runs": r.min_runs,
            "limit": r.limit, "created_at": r.created_at}


def _event_json(e: Any) -> dict[str, Any]:
    return {"seq": e.seq, "ts": e.ts, "type": e.type, "key": e.key, "data": e.data}


_ENDS = frozenset({"workflow.completed", "workflow.failed", "workflow.cancelled",
                   "workflow.timeout", "workflow.paused"})
_STOPPED = FINAL_RUN_STATUSES | {"paused", "interrupted"}


async def _stream(service: Service, run_id: str, after: int,
                  request: Request) -> AsyncIterator[str]:
    """Events as they are recorded; a ``run`` event whenever the run's status changes; an
    ``end`` event once the run has stopped and its last event was sent.

    A run's status is written before the event that says so (docs/state.md: status
    changes are durable, events group-committed), so a stopped status is announced only
    after that event (or two seconds later: a run killed with its process has none)."""
    seq = after
    status = None
    ended_event = False
    stopped_since: float | None = None
    last_sent = time.monotonic()
    yield "retry: 2000\n\n"
    while True:
        found = await asyncio.to_thread(service.store.events, run_id, seq, 500)
        for e in found:
            seq = e.seq
            ended_event = ended_event or e.type in _ENDS
            last_sent = time.monotonic()
            yield (f"id: {e.seq}\nevent: {e.type}\n"
                   f"data: {json.dumps(_event_json(e), default=str)}\n\n")
        if len(found) == 500:
            continue
        run = await asyncio.to_thread(service.store.get_run, run_id)
        now_status = run_status(run) if run is not None else None
        if now_status in _STOPPED or now_status is None:
            if stopped_since is None:
                stopped_since = time.monotonic()
            if not ended_event and time.monotonic() - stopped_since < 2.0:
                await asyncio.sleep(0.02)
                continue
        else:
            stopped_since = None
            ended_event = False  # a resumed run goes on
        if now_status != status:
            status = now_status
            yield f"event: run\ndata: {json.dumps({'status': status})}\n\n"
        if status is None or status in _STOPPED:
            yield f"event: end\ndata: {json.dumps({'status': status})}\n\n"
            return
        if await request.is_disconnected():
            return
        await service.bell.wait(service.poll)
        if time.monotonic() - last_sent >= 15:
            last_sent = time.monotonic()
            yield ": keep-alive\n\n"


# Names re-exported for tests and the CLI
__all__ = ["MISSED_POLICIES", "ROLES", "RULE_KINDS", "Settings", "create_app"]
