"""Which backend gets the next request: a group by weight, then least outstanding.

Two steps, because rollouts need both. First a *group* (``stable``, ``canary``) is chosen
by smooth weighted round-robin (nginx's algorithm) among the groups that have a backend:
deterministic, and exact over every window of ``sum(weights)`` picks, so a 90/10 split is
9 to 1 from the first ten requests on rather than only on average. Then, within the
group, the backend with the fewest requests *outstanding* (sent, not yet answered): a
slow or stuck replica accumulates outstanding requests and stops receiving new ones,
which round-robin alone would keep feeding. Ties go round-robin, so an idle service
spreads sequential requests evenly.

Pure and synchronous: no sockets, no clock, so it is unit-tested directly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from scalepilot.adapters.balancer.backend import Backend
from scalepilot.adapters.balancer.errors import InvalidBackends

DEFAULT_WEIGHT = 1.0
"""Weight of a group missing from ``set_weights``: groups share equally until told otherwise."""


class Picker:
    """The routing set, the group weights and the outstanding count of every backend."""

    __slots__ = ("_current", "_groups", "_members", "_outstanding", "_rr", "_weights")

    def __init__(self) -> None:
        self._groups: dict[str, tuple[Backend, ...]] = {}
        self._members: frozenset[str] = frozenset()
        self._rr: dict[str, int] = {}
        self._weights: dict[str, float] = {}
        self._current: dict[str, float] = {}
        self._outstanding: dict[str, int] = {}

    @property
    def backends(self) -> tuple[Backend, ...]:
        return tuple(b for members in self._groups.values() for b in members)

    def set_backends(self, backends: Sequence[Backend]) -> None:
        """Replace the routing set. Outstanding counts of removed backends are kept until
        their requests finish, so draining can be watched."""
        seen: set[str] = set()
        groups: dict[str, list[Backend]] = {}
        for b in backends:
            if b.id in seen:
                raise InvalidBackends(f"backend id {b.id!r} is listed twice")
            if not b.group:
                raise InvalidBackends(f"backend {b.id!r} has an empty group name")
            if not 0 < b.port < 65536:
                raise InvalidBackends(f"backend {b.id!r} has invalid port {b.port}")
            seen.add(b.id)
            groups.setdefault(b.group, []).append(b)
        self._groups = {g: tuple(members) for g, members in groups.items()}
        self._members = frozenset(seen)
        self._rr = {g: self._rr.get(g, 0) for g in self._groups}
        for gone in [k for k, n in self._outstanding.items() if n == 0 and k not in seen]:
            del self._outstanding[gone]

    def set_weights(self, weights: Mapping[str, float]) -> None:
        """Weights per group (any non-negative numbers; only ratios matter). A group
        weighing 0 gets traffic only while no positively weighted group has a backend, so a
        ready backend is never left unused while clients get 503.

        The same weights again keep the rotation where it is: a caller that applies its
        desired state every second (a rollout) must not restart it, or at a low request
        rate a small weight would never come round (10/90 from scratch gives the 10 its
        first request at the sixth pick)."""
        for group, w in weights.items():
            if not isinstance(w, int | float) or not math.isfinite(w) or w < 0:
                raise InvalidBackends(f"weight of group {group!r} must be a finite number >= 0, not {w!r}")
        new = {g: float(w) for g, w in weights.items()}
        if new != self._weights:
            self._weights = new
            self._current = {}

    def weight(self, group: str) -> float:
        return self._weights.get(group, DEFAULT_WEIGHT)

    def pick(self, exclude: str | None = None) -> Backend | None:
        """The backend for the next request (``None`` if there is none), skipping the
        backend id ``exclude`` (the one that just failed). Does not count the request:
        call ``acquire`` with the backend chosen."""
        groups = self._groups
        if len(groups) == 1 and exclude is None:
            for group, members in groups.items():
                return self._least(group, members, None)
        eligible: list[tuple[str, float]] = []
        for group, members in groups.items():
            if exclude is None or any(b.id != exclude for b in members):
                eligible.append((group, self._weights.get(group, DEFAULT_WEIGHT)))
        if not eligible:
            return None
        positive = [(g, w) for g, w in eligible if w > 0]
        if not positive:
            positive = [(g, DEFAULT_WEIGHT) for g, _ in eligible]
        chosen = positive[0][0] if len(positive) == 1 else self._smooth_weighted(positive)
        return self._least(chosen, groups[chosen], exclude)

    def _smooth_weighted(self, candidates: list[tuple[str, float]]) -> str:
        current = self._current
        total = 0.0
        best = ""
        best_value = -math.inf
        for group, w in candidates:
            value = current.get(group, 0.0) + w
            current[group] = value
            total += w
            if value > best_value:
                best, best_value = group, value
        current[best] = best_value - total
        return best

    def _least(self, group: str, members: tuple[Backend, ...], exclude: str | None) -> Backend | None:
        n = len(members)
        start = self._rr.get(group, 0) % n
        outstanding = self._outstanding
        best: Backend | None = None
        best_count = 0
        best_index = 0
        for k in range(n):
            index = (start + k) % n
            b = members[index]
            if b.id == exclude:
                continue
            count = outstanding.get(b.id, 0)
            if best is None or count < best_count:
                best, best_count, best_index = b, count, index
                if count == 0:
                    break
        self._rr[group] = best_index + 1
        return best

    def acquire(self, backend_id: str) -> None:
        """One more request outstanding on ``backend_id``."""
        self._outstanding[backend_id] = self._outstanding.get(backend_id, 0) + 1

    def release(self, backend_id: str) -> int:
        """One request fewer outstanding; returns how many remain."""
        left = self._outstanding[backend_id] - 1
        if left == 0 and backend_id not in self._members:
            del self._outstanding[backend_id]
        else:
            self._outstanding[backend_id] = left
        return left

    def outstanding(self, backend_id: str) -> int:
        return self._outstanding.get(backend_id, 0)

    def outstanding_all(self) -> dict[str, int]:
        return dict(self._outstanding)
