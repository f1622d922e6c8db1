"""Notifications (docs/server.md, "Notifications"): rules that post a Slack-compatible
message (``text`` and ``blocks``; Mattermost, Rocket.Chat and Discord's Slack endpoint take
the same) to a webhook.

Rules are looked at every few seconds against the state store (not against this server's
own runs only, so a run started by ``twdsl run`` or another server counts too):

* ``run_failed``: a run failed or timed out (once per run);
* ``success_rate``: over the last ``window`` seconds, completed / ended runs of a workflow
  are below ``threshold`` with at least ``min_runs`` ended: once when it goes below, again
  only after it has come back up;
* ``wait_time``: a run has waited to start (pending) longer than ``limit`` seconds (once per
  run).

``ServerDB.claim_notice`` makes each notice once, across servers; a post that fails is
released and tried again at the next look.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from twdsl.runtime.store import Store
from twdsl.server.db import NotifyRule, ServerDB

log = logging.getLogger("twdsl.server")
LOOKBACK = 86_400.0  # failed runs older than a day (or than the rule) are not notified


def payload(title: str, lines: list[str], link: str | None = None,
            facts: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Slack incoming-webhook message: ``text`` for notifications and old clients,
    ``blocks`` for the rest; ``twdsl`` carries the facts for programs (Slack ignores it).

    >>> payload("run failed", ["a: b"])["text"]
    'run failed\\na: b'
    """
    body = "\n".join(lines)
    text = f"{title}\n{body}" if body else title
    head = f"*<{link}|{title}>*" if link else f"*{title}*"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text":
                                                                 f"{head}\n{body}".strip()}}]
    return {"text": text, "blocks": blocks, "twdsl": facts or {}}


class Notifier:
    def __init__(self, db: ServerDB, store: Store, *, public_url: str | None = None,
                 interval: float = 2.0, clock: Callable[[], float] = time.time,
                 post: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self.db = db
        self.store = store
        self.public_url = public_url.rstrip("/") if public_url else None
        self.interval = interval
        self.clock = clock
        self.post = post or _post
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def link(self, run_id: str) -> str | None:
        return f"{self.public_url}/#/runs/{run_id}" if self.public_url else None

    def check(self, now: float | None = None) -> list[tuple[NotifyRule, dict[str, Any]]]:
        """Look at every rule once; the notices sent."""
        now = self.clock() if now is None else now
        sent: list[tuple[NotifyRule, dict[str, Any]]] = []
        for rule in self.db.rules():
            for subject, message in self._due(rule, now):
                if not self.db.claim_notice(rule.id, subject, now):
                    continue
                try:
                    self.post(rule.url, message)
                except Exception as e:  # noqa: BLE001 - any failure to deliver: try later
                    log.warning("notification rule %s (%s): posting failed: %s", rule.name,
                                rule.kind, e)
                    self.db.release_notice(rule.id, subject)
                    continue
                sent.append((rule, message))
        return sent

    def _due(self, rule: NotifyRule, now: float) -> list[tuple[str, dict[str, Any]]]:
        out: list[tuple[str, dict[str, Any]]] = []
        if rule.kind == "run_failed":
            since = max(rule.created_at, now - LOOKBACK)
            for status in ("failed", "timeout"):
                for run in self.store.list_runs(workflow=rule.workflow, status=status,
                                                since=since, limit=200):
                    err = run.error if isinstance(run.error, dict) else {}
                    reason = f"{err.get('kind', status)}: {err.get('message', '')}".strip(": ")
                    where = f" (task {err['task']})" if err.get("task") else ""
                    out.append((run.id, payload(
                        f"twdsl: run {run.id} of {run.workflow} {status}",
                        [f"{reason}{where}"], self.link(run.id),
                        {"rule": rule.name, "kind": rule.kind, "run_id": run.id,
                         "workflow": run.workflow, "status": status, "error": run.error})))
        elif rule.kind == "wait_time":
            for run in self.store.list_runs(workflow=rule.workflow, status="pending",
                                            limit=None):
                waited = now - run.created_at
                if rule.limit is not None and waited > rule.limit:
                    out.append((run.id, payload(
                        f"twdsl: run {run.id} of {run.workflow} has waited {waited:.0f}s",
                        [f"it has not started; the limit is {rule.limit:g}s"],
                        self.link(run.id),
                        {"rule": rule.name, "kind": rule.kind, "run_id": run.id,
                         "workflow": run.workflow, "waited": waited})))
        elif rule.kind == "success_rate" and rule.window and rule.threshold is not None:
            ended: dict[str, list[str]] = {}
            for run in self.store.list_runs(workflow=rule.workflow, since=now - rule.window,
                                            limit=None):
                if run.status in ("completed", "failed", "timeout", "cancelled"):
                    ended.setdefault(run.workflow, []).append(run.status)
            below = set()
            for workflow, statuses in sorted(ended.items()):
                rate = statuses.count("completed") / len(statuses)
                if len(statuses) >= rule.min_runs and rate < rule.threshold:
                    below.add(f"below:{workflow}")
                    out.append((f"below:{workflow}", payload(
                        f"twdsl: success rate of {workflow} is {rate:.0%}",
                        [f"{statuses.count('completed')} of {len(statuses)} runs completed "
                         f"in the last {rule.window:g}s; the threshold is "
                         f"{rule.threshold:.0%}"], None,
                        {"rule": rule.name, "kind": rule.kind, "workflow": workflow,
                         "rate": rate, "ended": len(statuses)})))
            for subject in self.db.notices(rule.id):  # back above: may notify again
                if subject not in below:
                    self.db.release_notice(rule.id, subject)
        return out

    # ------------------------------------------------------------------ the thread
    def start(self) -> None:
        self.thread = threading.Thread(target=self._loop, name="twdsl-notifier", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(15)

    def _loop(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                self.check()
            except Exception:  # noqa: BLE001 - a database hiccup: next time
                log.exception("notifications failed; trying again")


def _post(url: str, message: dict[str, Any]) -> None:
    r = httpx.post(url, json=message, timeout=10.0)
    r.raise_for_status()
