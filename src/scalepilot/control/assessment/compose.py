"""docker-compose files: each service checked.

A project often splits one service over several files (``docker-compose.yml`` plus
``docker-compose.override.yml`` or ``.prod.yml``). Whether a service *has* something (a
healthcheck, a restart policy, limits, a data volume) is therefore judged over every
file in the same directory that defines it; what a file *writes* (a literal password, a
published database port, an unpinned image) is judged where it is written.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from scalepilot.control.assessment.common import (
    DATA_DIRS,
    DB_PORTS,
    database_of,
    is_secret_name,
    literal_value,
    parse_image,
    unpinned_reason,
)
from scalepilot.control.assessment.model import Finding, Outcome
from scalepilot.control.assessment.yamlsrc import YList, YMap

# Where to mount, when that differs from the prefix the check accepts: postgres ≤ 17
# declares ``VOLUME /var/lib/postgresql/data``, so a mount one level up would leave the
# data in an anonymous volume (18 moved it, and wants the mount at /var/lib/postgresql).
_PG_NOTE = " (postgres 18 and later: mount at `/var/lib/postgresql` instead)"
_DATA_DIR_HINTS = {
    "postgres": ("/var/lib/postgresql/data", _PG_NOTE),
    "postgis": ("/var/lib/postgresql/data", _PG_NOTE),
    "timescaledb": ("/var/lib/postgresql/data", ""),
}

_BASE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")


@dataclass(frozen=True, slots=True)
class Service:
    file: str
    name: str
    line: int
    data: YMap

    @property
    def image(self) -> str | None:
        image = self.data.get("image")
        return str(image) if isinstance(image, str) and image.strip() else None

    @property
    def builds(self) -> bool:
        return self.data.get("build") is not None

    def dockerfile(self) -> str | None:
        """The Dockerfile (repository-relative) this service builds, if it builds one."""
        build = self.data.get("build")
        directory = posixpath.dirname(self.file)
        if isinstance(build, str):
            return posixpath.normpath(posixpath.join(directory, build, "Dockerfile"))
        if isinstance(build, YMap):
            context = str(build.get("context") or ".")
            dockerfile = str(build.get("dockerfile") or "Dockerfile")
            return posixpath.normpath(posixpath.join(directory, context, dockerfile))
        return None

    def database(self) -> str | None:
        image = self.image
        if image is None:
            return None
        db = database_of(image)
        if db in ("redis", "valkey"):
            # Without persistence switched on Redis is a cache: no data to keep.
            command = self.data.get("command")
            text = " ".join(map(str, command)) if isinstance(command, list) else str(command or "")
            if not re.search(r"--appendonly\s+yes|--save\s+\d", text):
                return "cache"
        return db


def services(path: str, doc: Any) -> list[Service]:
    if not isinstance(doc, YMap):
        return []
    block = doc.map("services")
    if block is None:
        return []
    return [
        Service(path, str(name), block.line_of(name), data) for name, data in block.items() if isinstance(data, YMap)
    ]


def looks_like_compose(doc: Any) -> bool:
    """A mapping whose ``services:`` is a mapping of services that run an image or build one."""
    block = doc.map("services") if isinstance(doc, YMap) else None
    return block is not None and any(
        isinstance(svc, YMap) and ("image" in svc or "build" in svc) for svc in block.values()
    )


def _ordered(files: Collection[str]) -> list[str]:
    # The base file first: a finding about something missing points at the definition a
    # reader opens first.
    return sorted(files, key=lambda f: (posixpath.basename(f) not in _BASE_NAMES, f))


def _env_items(svc: Service) -> list[tuple[str, Any, int]]:
    env = svc.data.get("environment")
    out: list[tuple[str, Any, int]] = []
    if isinstance(env, YMap):
        out = [(str(k), v, env.line_of(k)) for k, v in env.items()]
    elif isinstance(env, YList):
        for index, item in enumerate(env):
            name, eq, value = str(item).partition("=")
            out.append((name.strip(), value if eq else None, env.line_at(index)))
    return out


def _has_healthcheck(svc: Service) -> bool:
    hc = svc.data.get("healthcheck")
    return isinstance(hc, YMap) and not hc.get("disable") and hc.get("test") not in (None, "NONE", ["NONE"])


def _restarts(svc: Service) -> bool:
    restart = svc.data.get("restart")
    if isinstance(restart, str) and restart.strip().lower() not in ("no", ""):
        return True
    deploy = svc.data.map("deploy")
    policy = deploy.map("restart_policy") if deploy else None
    return policy is not None and str(policy.get("condition", "any")).lower() != "none"


def _limited(svc: Service) -> bool:
    if svc.data.get("mem_limit") is not None or svc.data.get("cpus") is not None:
        return True
    deploy = svc.data.map("deploy")
    resources = deploy.map("resources") if deploy else None
    limits = resources.map("limits") if resources else None
    return limits is not None and (limits.get("memory") is not None or limits.get("cpus") is not None)


def _volume_targets(svc: Service) -> list[str]:
    volumes = svc.data.get("volumes")
    out: list[str] = []
    if not isinstance(volumes, YList):
        return out
    for item in volumes:
        if isinstance(item, YMap):
            if str(item.get("type", "volume")) in ("volume", "bind") and item.get("target"):
                out.append(str(item["target"]))
        elif isinstance(item, str):
            parts = item.split(":")
            # ``source:target[:mode]``, or a bare ``target`` (an anonymous volume).
            out.append(parts[1] if len(parts) >= 2 else parts[0])
    return out


def _published(item: Any) -> tuple[str | None, str] | None:
    """``(host_ip, container_port)`` of one ``ports:`` entry."""
    if isinstance(item, YMap):
        target = item.get("target")
        if target is None:
            return None
        return (str(item["host_ip"]) if item.get("host_ip") else None), str(target)
    text = str(item).split("/")[0].strip()
    host_ip: str | None = None
    if text.startswith("["):
        host_ip, _, text = text[1:].partition("]")
        text = text.lstrip(":")
    parts = text.split(":")
    if len(parts) == 3:
        host_ip = parts[0]
    return host_ip, parts[-1]


def _port_numbers(spec: str) -> set[int]:
    low, _, high = spec.partition("-")
    try:
        lo = int(low)
        hi = int(high) if high else lo
    except ValueError:
        return set()
    return set(range(lo, min(hi, lo + 1000) + 1))


def _healthcheck_example(svc: Service) -> str:
    db = database_of(svc.image or "") if svc.image else None
    if db in ("postgres", "postgis", "timescaledb"):
        test = '["CMD-SHELL", "pg_isready -U $${POSTGRES_USER:-postgres}"]'
    elif db in ("mysql", "mariadb"):
        test = '["CMD", "mysqladmin", "ping", "-h", "127.0.0.1"]'
    elif db in ("redis", "valkey"):
        test = '["CMD", "redis-cli", "ping"]'
    elif db == "mongo":
        test = '["CMD", "mongosh", "--quiet", "--eval", "db.adminCommand(\'ping\')"]'
    else:
        port = "<port>"
        ports = svc.data.get("ports") or svc.data.get("expose")
        if isinstance(ports, YList) and ports:
            published = _published(ports[0])
            if published is not None:
                port = published[1]
        test = f'["CMD", "curl", "-fsS", "http://localhost:{port}/health"]'
    return f"`healthcheck: {{test: {test}, interval: 10s, timeout: 5s, retries: 5}}`"


@dataclass(frozen=True, slots=True)
class Context:
    healthchecked_dockerfiles: Collection[str] = ()
    """Dockerfiles (repository-relative) whose final stage has a HEALTHCHECK."""


def check(all_services: list[Service], ctx: Context) -> list[Outcome]:
    out: list[Outcome] = []
    groups: dict[tuple[str, str], list[Service]] = defaultdict(list)
    for svc in all_services:
        groups[(posixpath.dirname(svc.file), svc.name)].append(svc)

    for (_directory, name), members in sorted(groups.items()):
        order = {f: i for i, f in enumerate(_ordered({m.file for m in members}))}
        members.sort(key=lambda m: order[m.file])
        first = members[0]
        # A service defined with neither image nor build anywhere is a fragment
        # (``extends``, an override of a file elsewhere): what it lacks may be elsewhere.
        if not any(m.image or m.builds for m in members) or any(m.data.get("extends") for m in members):
            continue
        subject = f"{first.file}:{name}"
        image = next((m.image for m in members if m.image), None)
        db = next((d for m in members if (d := m.database())), None)

        # healthcheck
        dockerfiles = {d for m in members if (d := m.dockerfile())}
        with_hc = next((m for m in members if _has_healthcheck(m)), None)
        if with_hc is not None:
            out.append(Outcome("compose.healthcheck", subject, evidence=f"{with_hc.file}: {name}"))
        elif dockerfiles & set(ctx.healthchecked_dockerfiles):
            out.append(Outcome("compose.healthcheck", subject, evidence=f"{name}: HEALTHCHECK in its Dockerfile"))
        else:
            out.append(
                Outcome(
                    "compose.healthcheck",
                    subject,
                    Finding(
                        first.file,
                        first.line,
                        f"service `{name}` has no healthcheck",
                        f"Add under `{name}:` {_healthcheck_example(first)}.",
                    ),
                )
            )

        # restart
        if any(_restarts(m) for m in members):
            out.append(Outcome("compose.restart", subject))
        else:
            bad = next((m for m in members if "restart" in m.data), first)
            out.append(
                Outcome(
                    "compose.restart",
                    subject,
                    Finding(
                        bad.file,
                        bad.data.line_of("restart") if "restart" in bad.data else bad.line,
                        f"service `{name}` is not restarted when it crashes or the host reboots",
                        f"Add under `{name}:` `restart: unless-stopped`.",
                    ),
                )
            )

        # limits
        if any(_limited(m) for m in members):
            out.append(Outcome("compose.limits", subject))
        else:
            out.append(
                Outcome(
                    "compose.limits",
                    subject,
                    Finding(
                        first.file,
                        first.line,
                        f"service `{name}` has no memory or CPU limit",
                        f'Add under `{name}:` `deploy: {{resources: {{limits: {{memory: 512M, cpus: "1.0"}}}}}}` '
                        "sized from its measured peak (`docker stats`), with headroom.",
                    ),
                )
            )

        # data volume for databases
        if db is not None and db != "cache":
            dirs = DATA_DIRS.get(db, ())
            targets = [t for m in members for t in _volume_targets(m)]
            if any(t.rstrip("/").startswith(d) or d.startswith(t.rstrip("/") + "/") for t in targets for d in dirs):
                out.append(Outcome("compose.volumes", subject))
            else:
                data_dir, note = _DATA_DIR_HINTS.get(db, (dirs[0] if dirs else "<data directory>", ""))
                out.append(
                    Outcome(
                        "compose.volumes",
                        subject,
                        Finding(
                            first.file,
                            first.line,
                            f"database service `{name}` ({image}) mounts no volume at its data directory: after "
                            "`docker compose down` it starts empty",
                            f'Mount a named volume at its data directory: `volumes: ["{name}-data:{data_dir}"]` '
                            f"under `{name}:` and `volumes: {{{name}-data: {{}}}}` at the top level{note}.",
                        ),
                    )
                )

    for svc in all_services:
        subject = f"{svc.file}:{svc.name}"
        # image pinned (a built service's image: names what it builds, not what it pulls)
        if svc.image and not svc.builds:
            reason = unpinned_reason(svc.image)
            if reason is None and "$" not in svc.image:
                out.append(Outcome("compose.image-pinned", subject))
            elif reason is not None:
                name = parse_image(svc.image).name
                out.append(
                    Outcome(
                        "compose.image-pinned",
                        subject,
                        Finding(
                            svc.file,
                            svc.data.line_of("image"),
                            f"service `{svc.name}`: image `{svc.image}` {reason}",
                            f"`image: {name}:<version>` (the version you run today; best with `@sha256:<digest>`).",
                        ),
                    )
                )

        # literal secrets
        secrets = [
            (key, kind, line)
            for key, value, line in _env_items(svc)
            if is_secret_name(key) and (kind := literal_value(value)) is not None
        ]
        if not secrets:
            out.append(Outcome("compose.secrets", subject))
        for key, kind, line in secrets:
            what = "a literal value" if kind == "literal" else "a literal default (`${VAR:-value}`)"
            out.append(
                Outcome(
                    "compose.secrets",
                    subject,
                    Finding(
                        svc.file,
                        line,
                        f"service `{svc.name}`: `{key}` has {what} in the file",
                        f"`{key}: ${{{key}:?set {key} in .env}}` with `.env` kept out of git, or compose `secrets:` "
                        f"and `{key}_FILE: /run/secrets/<name>` where the image supports it.",
                    ),
                )
            )

        # database ports
        ports = svc.data.get("ports")
        db = svc.database()
        exposed: list[tuple[int, str]] = []
        db_port_seen = False
        if isinstance(ports, YList):
            for index, item in enumerate(ports):
                published = _published(item)
                if published is None:
                    continue
                host_ip, container = published
                hits = _port_numbers(container) & set(DB_PORTS)
                if not hits:
                    continue
                db_port_seen = True
                if host_ip in (None, "", "0.0.0.0", "::"):
                    exposed.append((ports.line_at(index), DB_PORTS[min(hits)]))
        if db is None and not db_port_seen:
            continue
        if not exposed:
            out.append(Outcome("compose.db-ports", subject))
        for line, product in exposed:
            out.append(
                Outcome(
                    "compose.db-ports",
                    subject,
                    Finding(
                        svc.file,
                        line,
                        f"service `{svc.name}` publishes {product}'s port on every interface of the host",
                        "Drop `ports:` (the other services reach it by service name on the compose network), or "
                        'bind it to loopback: `"127.0.0.1:<port>:<port>"`.',
                    ),
                )
            )
    return out + _depends(all_services)


def _depends(all_services: list[Service]) -> list[Outcome]:
    """``depends_on`` waits for health: one outcome per service that has ``depends_on``."""
    out: list[Outcome] = []
    for svc in all_services:
        deps = svc.data.get("depends_on")
        if deps is None:
            continue
        subject = f"{svc.file}:{svc.name}"
        waiting: list[str] = []
        if isinstance(deps, YList):
            waiting = [str(d) for d in deps]
        elif isinstance(deps, YMap):
            waiting = [
                str(name)
                for name, spec in deps.items()
                if not (
                    isinstance(spec, YMap)
                    and spec.get("condition") in ("service_healthy", "service_completed_successfully")
                )
            ]
        if not waiting:
            out.append(Outcome("compose.depends-healthy", subject))
            continue
        example = ", ".join(f"{d}: {{condition: service_healthy}}" for d in waiting)
        out.append(
            Outcome(
                "compose.depends-healthy",
                subject,
                Finding(
                    svc.file,
                    svc.data.line_of("depends_on"),
                    f"service `{svc.name}` waits only for {', '.join(f'`{d}`' for d in waiting)} to start, "
                    "not to be ready",
                    f"`depends_on: {{{example}}}`, with a healthcheck on each of them.",
                ),
            )
        )
    return out
