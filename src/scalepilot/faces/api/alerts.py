"""``/api/v1/alerts`` and ``/api/v1/silences``: what fires (and what is pending), who
acknowledged it, and the silences, as ``scalepilot alerts`` and ``scalepilot silence``
show and change them.

Times in requests are either a duration from now (``"2h"``) or an absolute time (RFC 3339
or Unix seconds); bad input answers 422 with the reason. Without ``alerting:`` in the
config there is nothing to route, and every endpoint answers 409 saying so.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from scalepilot.config.durations import parse_duration
from scalepilot.control.alerting.routing import AckError, AlertView, Silence, SilenceError, SilenceState
from scalepilot.domain.alerts import Alert
from scalepilot.domain.events import Event, EventKind
from scalepilot.faces.api.auth import actor
from scalepilot.service.notifications import Notifications
from scalepilot.service.runtime import Runtime

STATES = ("firing", "suppressed", "pending", "resolved")


class AckRequest(BaseModel):
    fingerprints: list[str] = Field(default_factory=list, description="Alert fingerprints (a unique prefix will do).")
    matchers: list[str] = Field(
        default_factory=list,
        description='Label matchers; every firing alert matching all of them, e.g. service="shop".',
    )
    by: str = Field("api", min_length=1, max_length=100, description="Who acknowledges.")
    comment: str = Field("", max_length=500)
    until: str | None = Field(
        None, description="Repeat again after this (a duration such as 2h, or a time); default until resolved."
    )


class SilenceRequest(BaseModel):
    matchers: list[str] = Field(min_length=1, description='Label matchers, e.g. alertname="HighLatency".')
    duration: str | None = Field(None, description="How long from the start, e.g. 2h.")
    ends_at: str | None = Field(None, description="When it ends (RFC 3339 or Unix seconds); instead of duration.")
    starts_at: str | None = Field(None, description="When it starts (RFC 3339 or Unix seconds); default now.")
    until_resolved: bool = Field(False, description="Also expire once every alert it matched resolved.")
    created_by: str = Field("api", min_length=1, max_length=100)
    comment: str = Field("", max_length=500)


def parse_time(text: str, *, now: float, what: str) -> float:
    """A duration from now (with its unit: 2h), Unix seconds, or an RFC 3339 time (UTC if
    it names no zone)."""
    text = text.strip()
    # A bare number is a Unix time, not a duration in seconds: durations need a unit.
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return now + parse_duration(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(422, f"{what}: {text!r} is neither a duration (2h) nor a time (RFC 3339)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _alert_body(alert: Alert, state: str, now: float) -> dict[str, Any]:
    starts = alert.starts_at_ms / 1000
    return {
        "fingerprint": alert.fingerprint,
        "name": alert.name,
        "state": state,
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "starts_at": iso(starts),
        "age_seconds": round(max(0.0, now - starts), 3),
        "ends_at": iso(alert.ends_at_ms / 1000) if alert.resolved and alert.ends_at_ms else None,
        "value": alert.value,
        "generator_url": alert.generator_url,
    }


def view_body(view: AlertView, now: float) -> dict[str, Any]:
    ack = view.ack
    return {
        **_alert_body(view.alert, view.state, now),
        "receivers": list(view.receivers),
        "silenced_by": list(view.mute.silenced_by),
        "inhibited_by": list(view.mute.inhibited_by),
        "maintenance_window": view.mute.window,
        "acknowledged": None
        if ack is None
        else {"by": ack.by, "comment": ack.comment, "at": iso(ack.at), "until": iso(ack.until)},
    }


def silence_body(s: Silence, now: float) -> dict[str, Any]:
    return {
        "id": s.id,
        "state": str(s.state(now)),
        "matchers": list(s.matchers),
        "starts_at": iso(s.starts_at),
        "ends_at": iso(s.ends_at),
        "until_resolved": s.until_resolved,
        "created_by": s.created_by,
        "comment": s.comment,
    }


class AckView(BaseModel):
    by: str
    comment: str
    at: str | None = Field(description="RFC 3339.")
    until: str | None = Field(description="RFC 3339; null: until the alert resolves.")


class AlertBody(BaseModel):
    """An alert as the routing tree sees it."""

    fingerprint: str
    name: str
    state: str = Field(
        description="firing; suppressed (silenced, inhibited, in a maintenance window); resolved; or pending "
        "(a rule's for: has not elapsed yet)."
    )
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str | None = Field(description="RFC 3339.")
    age_seconds: float
    ends_at: str | None = Field(description="RFC 3339, once resolved.")
    value: float | None
    generator_url: str
    # What routing knows: absent for a pending alert, which routing has not seen yet.
    receivers: list[str] | None = None
    silenced_by: list[str] | None = Field(None, description="Ids of the silences that mute it.")
    inhibited_by: list[str] | None = Field(None, description="Fingerprints of the alerts that inhibit it.")
    maintenance_window: str | None = None
    acknowledged: AckView | None = None


class AckedView(BaseModel):
    fingerprint: str
    name: str
    by: str
    at: str | None
    until: str | None


class SilenceView(BaseModel):
    id: str
    state: str = Field(description="pending, active or expired.")
    matchers: list[str] = Field(description='Prometheus matchers, e.g. alertname="HighLatency".')
    starts_at: str | None
    ends_at: str | None
    until_resolved: bool
    created_by: str
    comment: str


_NO_ALERTING: dict[int | str, dict[str, Any]] = {
    409: {"description": "Alerting is not configured (no alerting: section)."}
}
_EXPIRE_ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No silence with that id."},
    409: {"description": "Alerting is not configured, or the silence cannot be expired (already expired)."},
}


def alerts_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["alerts"])

    def notifications() -> Notifications:
        found = getattr(runtime, "notifications", None)
        if found is None:
            raise HTTPException(409, "alerting is not configured: add an alerting: section to the config")
        assert isinstance(found, Notifications)
        return found

    def record(kind: EventKind, message: str, details: dict[str, Any]) -> None:
        """Every write is an event naming who made it (``actor``)."""
        runtime.store.add_event(Event(int(runtime.clock.now() * 1000), kind, message, details=details))

    @router.get("/alerts", responses=_NO_ALERTING, response_model=list[AlertBody], response_model_exclude_unset=True)
    async def list_alerts(
        state: Annotated[
            list[str], Query(description="Only these states: firing, suppressed, pending, resolved.")
        ] = [],  # noqa: B006 (FastAPI copies it)
    ) -> list[dict[str, Any]]:
        """Every alert routing knows (firing, suppressed by a silence, inhibition or a
        maintenance window, recently resolved) and the rule engine's pending ones."""
        bad = [s for s in state if s not in STATES]
        if bad:
            raise HTTPException(422, f"unknown state {bad[0]!r}; one of {', '.join(STATES)}")
        n = notifications()
        now = n.clock.now()
        out = [view_body(v, now) for v in n.alerts()]
        out += [_alert_body(a, "pending", now) for a in n.pending]
        return [a for a in out if not state or a["state"] in state]

    @router.post("/alerts/ack", responses=_NO_ALERTING, response_model=list[AckedView])
    async def acknowledge(body: AckRequest, request: Request) -> list[dict[str, Any]]:
        """Acknowledge firing alerts: no repeats and no escalation until they resolve (or
        until ``until``)."""
        if not body.fingerprints and not body.matchers:
            raise HTTPException(422, "name the alerts: fingerprints or matchers")
        n = notifications()
        now = n.clock.now()
        until = None if body.until is None else parse_time(body.until, now=now, what="until")
        by = actor(request, body.by)
        try:
            acks = await n.acknowledge(
                fingerprints=body.fingerprints, matchers=body.matchers, by=by, comment=body.comment, until=until
            )
        except (AckError, ValueError) as exc:
            raise HTTPException(422, str(exc)) from exc
        record(
            EventKind.ALERTS_ACKNOWLEDGED,
            f"{len(acks)} alert(s) acknowledged by {by}",
            {"actor": by, "fingerprints": [a.fingerprint for a in acks], "comment": body.comment},
        )
        return [
            {"fingerprint": a.fingerprint, "name": a.alertname, "by": a.by, "at": iso(a.at), "until": iso(a.until)}
            for a in acks
        ]

    @router.get("/silences", responses=_NO_ALERTING, response_model=list[SilenceView])
    async def list_silences(
        all_: bool = Query(False, alias="all", description="Include expired silences."),
    ) -> list[dict[str, Any]]:
        n = notifications()
        now = n.clock.now()
        items = n.router.silences.all()
        return [silence_body(s, now) for s in items if all_ or s.state(now) is not SilenceState.EXPIRED]

    @router.post("/silences", status_code=201, responses=_NO_ALERTING, response_model=SilenceView)
    async def add_silence(body: SilenceRequest, request: Request) -> dict[str, Any]:
        """Mute matching alerts from ``starts_at`` (default now) for ``duration`` or until
        ``ends_at``; with ``until_resolved`` it also ends once what it matched resolved."""
        n = notifications()
        now = n.clock.now()
        if body.duration is not None and body.ends_at is not None:
            raise HTTPException(422, "give duration or ends_at, not both")
        starts = now if body.starts_at is None else parse_time(body.starts_at, now=now, what="starts_at")
        ends: float | None = None
        if body.duration is not None:
            try:
                ends = starts + parse_duration(body.duration)
            except ValueError as exc:
                raise HTTPException(422, f"duration: {exc}") from exc
        elif body.ends_at is not None:
            ends = parse_time(body.ends_at, now=now, what="ends_at")
        by = actor(request, body.created_by)
        try:
            silence = await n.add_silence(
                body.matchers,
                starts_at=starts,
                ends_at=ends,
                created_by=by,
                comment=body.comment,
                until_resolved=body.until_resolved,
            )
        except (SilenceError, ValueError) as exc:
            raise HTTPException(422, str(exc)) from exc
        record(
            EventKind.SILENCE_ADDED,
            f"silence {silence.id} added by {by}",
            {"actor": by, "silence": silence.id, "matchers": body.matchers, "comment": body.comment},
        )
        return silence_body(silence, now)

    @router.delete("/silences/{silence_id}", responses=_EXPIRE_ANSWERS, response_model=SilenceView)
    async def expire_silence(
        silence_id: str,
        request: Request,
        by: str = Query("api", max_length=200, description="Who expires it (ignored when auth is on: the token)."),
    ) -> dict[str, Any]:
        """Expire a silence now (it stays listed with ``?all=true``)."""
        n = notifications()
        try:
            silence = await n.expire_silence(silence_id)
        except KeyError:
            raise HTTPException(404, f"no silence {silence_id!r}") from None
        except SilenceError as exc:
            raise HTTPException(409, str(exc)) from exc
        by = actor(request, by)
        record(EventKind.SILENCE_EXPIRED, f"silence {silence.id} expired by {by}", {"actor": by, "silence": silence.id})
        return silence_body(silence, n.clock.now())

    return router
