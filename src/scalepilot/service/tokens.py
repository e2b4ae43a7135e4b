"""API tokens kept in the store's state table under ``auth/tokens``: no schema change,
and they live in the data directory with everything else.

Only hashes are stored (see :func:`scalepilot.domain.auth.hash_token`). The running
server keeps the tokens in memory and is the only writer while it runs: token changes
then go through its admin-only ``/api/v1/tokens`` endpoints; with scalepilot stopped the
CLI opens the data directory itself (that is how the first admin token is made).
``last_used`` is saved at most once a minute per token, so reads do not each write.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

from scalepilot.domain.auth import Role, TokenRecord, check_name, hash_token, new_token, same_hash
from scalepilot.domain.errors import ScalepilotError
from scalepilot.domain.events import Event, EventKind
from scalepilot.domain.store import Store

STATE_KEY = "auth/tokens"
LAST_USED_SAVE_S = 60.0


class TokenError(ScalepilotError):
    """A token request that cannot be done as asked (a duplicate or unknown name)."""


class TokenStore:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        state = store.get_state(STATE_KEY) or {}
        self._tokens: dict[str, TokenRecord] = {
            name: TokenRecord.from_json(data) for name, data in state.get("tokens", {}).items()
        }
        self._saved_use: dict[str, float] = {n: t.last_used or 0.0 for n, t in self._tokens.items()}

    def _save(self) -> None:
        self._store.put_state(STATE_KEY, {"tokens": {n: t.to_json() for n, t in self._tokens.items()}})

    def _event(self, kind: EventKind, message: str, details: dict[str, object]) -> None:
        self._store.add_event(Event(int(self._clock() * 1000), kind, message, details=details))

    def list(self) -> list[TokenRecord]:
        with self._lock:
            return sorted(self._tokens.values(), key=lambda t: t.created)

    def create(
        self, name: str, role: Role, *, expires_in: float | None = None, actor: str = "cli"
    ) -> tuple[str, TokenRecord]:
        """A new token: the secret (shown once, never stored) and its record."""
        check_name(name)
        if expires_in is not None and expires_in <= 0:
            raise TokenError("the expiry must be in the future")
        secret = new_token()
        now = self._clock()
        record = TokenRecord(
            name=name,
            role=role,
            hash=hash_token(secret),
            created=now,
            expires=None if expires_in is None else now + expires_in,
        )
        with self._lock:
            if name in self._tokens:
                raise TokenError(f"a token named {name!r} exists; revoke it first or pick another name")
            self._tokens[name] = record
            self._save()
        self._event(
            EventKind.TOKEN_CREATED,
            f"API token {name!r} ({role.label}) created by {actor}",
            {"actor": actor, "token": name, "role": role.label, "expires": record.expires},
        )
        return secret, record

    def revoke(self, name: str, *, actor: str = "cli") -> TokenRecord:
        with self._lock:
            record = self._tokens.pop(name, None)
            if record is None:
                raise TokenError(f"no token named {name!r}")
            self._save()
        self._event(
            EventKind.TOKEN_REVOKED,
            f"API token {name!r} ({record.role.label}) revoked by {actor}",
            {"actor": actor, "token": name, "role": record.role.label},
        )
        return record

    def authenticate(self, secret: str) -> TokenRecord | None:
        """The live token whose hash matches ``secret``; ``None`` if unknown or expired.
        Every stored hash is compared, in constant time each."""
        digest = hash_token(secret)
        now = self._clock()
        with self._lock:
            found = None
            for record in self._tokens.values():
                if same_hash(record.hash, digest):
                    found = record
            if found is None or found.expired(now):
                return None
            found = replace(found, last_used=now)
            self._tokens[found.name] = found
            if now - self._saved_use.get(found.name, 0.0) >= LAST_USED_SAVE_S:
                self._saved_use[found.name] = now
                self._save()
        return found
