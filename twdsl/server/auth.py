"""Tokens, roles, session cookies and CSRF (docs/server.md, "Tokens and roles").

A token reads ``twdsl_<id>_<secret>``: the id is public (lists and logs show it), the secret
(32 random bytes) is shown once, when the token is made, and only its SHA-256 is stored (a
secret of that length needs no slow password hash: it cannot be guessed).  Roles are ordered:
viewers read, operators also run and control runs, admins also deploy and manage tokens and
notification rules.

The web UI logs in with a token once and then carries a session cookie: the token's id, a
session id and an expiry, signed with HMAC-SHA256 by a key kept in the database (so every
server on it accepts it, and a restart keeps people logged in).  Each request checks the
token again, so a revoked token's sessions end at once.  A request with the cookie that
changes something must carry the session's CSRF token (HMAC of the session id) in the
``X-CSRF-Token`` header: another site can make a browser send the cookie, never read the
token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass

from twdsl.server.db import ROLES, ServerDB, TokenRecord

PREFIX = "twdsl_"
#: a token's name: who or what uses it, 1 to NAME_MAX characters (the CLI and the API)
NAME_MAX = 100
_TOKEN = re.compile(r"^twdsl_([a-z0-9]{8})_([A-Za-z0-9_-]{43})$")
SESSION_COOKIE = "twdsl_session"
CSRF_HEADER = "X-CSRF-Token"


def role_at_least(role: str, needed: str) -> bool:
    """Whether a token of ``role`` may do what ``needed`` may.

    >>> role_at_least("admin", "operator"), role_at_least("viewer", "operator")
    (True, False)
    """
    return ROLES.index(role) >= ROLES.index(needed)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def create_token(db: ServerDB, name: str, role: str) -> tuple[str, TokenRecord]:
    """A new token: the whole text (to show once) and its record."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: choose viewer, operator or admin")
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    token_id = "".join(secrets.choice(alphabet) for _ in range(8))
    secret = secrets.token_urlsafe(32)
    record = db.add_token(token_id, name, role, sha256(secret))
    return f"{PREFIX}{token_id}_{secret}", record


def verify_token(db: ServerDB, text: str) -> TokenRecord | None:
    """The active token this text is, or None (malformed, unknown, wrong or revoked)."""
    m = _TOKEN.match(text.strip())
    if m is None:
        return None
    record = db.get_token(m.group(1))
    if record is None or not record.active:
        return None
    if not hmac.compare_digest(record.secret_sha256, sha256(m.group(2))):
        return None
    return record


@dataclass(frozen=True, slots=True)
class Session:
    token_id: str
    session_id: str
    expires: float


class Sessions:
    """Signs and reads session cookies; makes and checks CSRF tokens."""

    def __init__(self, key: str, lifetime: float = 12 * 3600) -> None:
        self.key = key.encode()
        self.lifetime = lifetime

    def _sign(self, data: bytes) -> str:
        return base64.urlsafe_b64encode(hmac.new(self.key, data, "sha256").digest()
                                        ).decode().rstrip("=")

    def issue(self, token_id: str, now: float) -> tuple[str, Session]:
        session = Session(token_id, secrets.token_urlsafe(16), now + self.lifetime)
        body = json.dumps([session.token_id, session.session_id, session.expires],
                          separators=(",", ":")).encode()
        text = base64.urlsafe_b64encode(body).decode().rstrip("=")
        return f"{text}.{self._sign(body)}", session

    def read(self, cookie: str, now: float) -> Session | None:
        text, _, signature = cookie.partition(".")
        try:
            body = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            if not hmac.compare_digest(self._sign(body), signature):
                return None
            token_id, session_id, expires = json.loads(body)
        except (ValueError, TypeError):
            return None
        if not isinstance(expires, (int, float)) or expires <= now:
            return None
        return Session(str(token_id), str(session_id), float(expires))

    def csrf(self, session: Session) -> str:
        return self._sign(b"csrf:" + session.session_id.encode())

    def csrf_ok(self, session: Session, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(self.csrf(session), given)
