"""Small readings shared by the Dockerfile, compose and Kubernetes checks: image
references, secret-looking names and literal values, well-known databases."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# Tags that name a channel, not a version: what they point at changes under you.
_FLOATING = frozenset(
    {
        "latest",
        "stable",
        "lts",
        "current",
        "edge",
        "mainline",
        "alpine",
        "slim",
        "rolling",
        "nightly",
        "main",
        "master",
        "dev",
        "develop",
        "unstable",
        "testing",
        "sid",
    }
)


@dataclass(frozen=True, slots=True)
class ImageRef:
    name: str
    tag: str | None
    digest: str | None

    @property
    def short(self) -> str:
        """The last path component of the name (``bitnami/postgresql`` → ``postgresql``)."""
        return self.name.rsplit("/", 1)[-1].lower()


def parse_image(ref: str) -> ImageRef:
    ref = ref.strip()
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    tag = None
    colon = ref.rfind(":")
    # A colon before the last slash is a registry's port (``host:5000/app``), not a tag.
    if colon > ref.rfind("/"):
        ref, tag = ref[:colon], ref[colon + 1 :]
    return ImageRef(ref, tag or None, digest or None)


def unpinned_reason(ref: str) -> str | None:
    """Why an image reference is not pinned to a version, or None when it is (or when
    it cannot be told: an unresolved ``$VARIABLE``)."""
    if "$" in ref or not ref.strip():
        return None
    image = parse_image(ref)
    if image.digest:
        return None
    if image.tag is None:
        return "has no tag, so it pulls `:latest`"
    tag = image.tag.lower()
    if tag == "latest":
        return "uses the `:latest` tag"
    first = re.split(r"[-_.]", tag)[0]
    if first in _FLOATING and not re.search(r"\d", tag):
        return f"uses `:{image.tag}`, a tag that moves to new versions"
    return None


_KEY_TOKENS = frozenset({"KEY", "APIKEY", "ACCESSKEY", "SECRETKEY", "PRIVATEKEY", "MASTERKEY", "SIGNINGKEY"})
_SECRET_SUFFIXES = ("PASSWORD", "PASSWD", "SECRET", "TOKEN")
# A name ending in one of these holds where a secret is, or something about it, not the
# secret itself: ``DB_PASSWORD_FILE=/run/secrets/db`` is the recommended form.
_NOT_SECRET_LAST = frozenset(
    {
        "FILE",
        "PATH",
        "DIR",
        "URL",
        "URI",
        "NAME",
        "ID",
        "TYPE",
        "LENGTH",
        "SIZE",
        "HEADER",
        "FIELD",
        "ENDPOINT",
        "EXPIRY",
        "EXPIRES",
        "TTL",
        "TIMEOUT",
        "LIFETIME",
        "ALGORITHM",
        "ISSUER",
        "AUDIENCE",
        "PREFIX",
        "REF",
        "ENABLED",
        "REQUIRED",
        "POLICY",
        "HOST",
        "PORT",
        "USER",
        "USERNAME",
    }
)
_PUBLIC = frozenset({"GPG", "PUBLIC", "PUB"})


def _tokens(name: str) -> list[str]:
    # camelCase and snake_case alike: ``dbPassword`` and ``DB_PASSWORD`` both end in PASSWORD.
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return [t for t in re.split(r"[^A-Za-z0-9]+", spaced.upper()) if t]


def is_secret_name(name: str) -> bool:
    """Whether an environment variable's name says it holds a secret (``*PASSWORD*``,
    ``*SECRET*``, ``*TOKEN*``, ``*KEY*``), leaving out names that merely point at one
    (``*_FILE``) or hold something public (``GPG_KEY``: the official images' fingerprint)."""
    tokens = _tokens(name)
    if not tokens or tokens[-1] in _NOT_SECRET_LAST or _PUBLIC.intersection(tokens):
        return False
    joined = "".join(tokens)
    if "APIKEY" in joined or "ACCESSKEY" in joined or "PRIVATEKEY" in joined:
        return True
    return any(t in _KEY_TOKENS or t.endswith(_SECRET_SUFFIXES) for t in tokens)


_INTERPOLATION = re.compile(r"\$\{[^}]*\}|\$\([^)]*\)|\$[A-Za-z_][A-Za-z0-9_]*|\$\$")
_DEFAULT = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]+)\}")


def literal_value(value: Any) -> str | None:
    """How a value holds a literal: ``"literal"``, ``"default"`` (``${X:-secret}`` falls
    back to one), or None (empty, or only a reference to a variable set elsewhere)."""
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool | int | float):
        return "literal"
    text = str(value).strip()
    if not text:
        return None
    if _DEFAULT.search(text):
        return "default"
    rest = _INTERPOLATION.sub("", text).strip().strip("\"'")
    return "literal" if rest else None


# Container images of stateful services, and where each keeps its data. Redis is left to
# the caller: without persistence switched on it is a cache, and a cache needs no volume.
DATA_DIRS: dict[str, tuple[str, ...]] = {
    "postgres": ("/var/lib/postgresql", "/bitnami/postgresql"),
    "postgis": ("/var/lib/postgresql",),
    "timescaledb": ("/var/lib/postgresql", "/home/postgres/pgdata"),
    "mysql": ("/var/lib/mysql", "/bitnami/mysql"),
    "mariadb": ("/var/lib/mysql", "/bitnami/mariadb"),
    "mongo": ("/data/db", "/bitnami/mongodb"),
    "redis": ("/data", "/bitnami/redis"),
    "valkey": ("/data", "/bitnami/valkey"),
    "elasticsearch": ("/usr/share/elasticsearch/data", "/bitnami/elasticsearch"),
    "opensearch": ("/usr/share/opensearch/data",),
    "rabbitmq": ("/var/lib/rabbitmq", "/bitnami/rabbitmq"),
    "influxdb": ("/var/lib/influxdb", "/var/lib/influxdb2"),
    "clickhouse": ("/var/lib/clickhouse",),
    "cassandra": ("/var/lib/cassandra",),
    "neo4j": ("/data",),
    "minio": ("/data",),
}

DB_PORTS: dict[int, str] = {5432: "PostgreSQL", 3306: "MySQL", 6379: "Redis", 27017: "MongoDB"}


def database_of(image: str) -> str | None:
    """The key of ``DATA_DIRS`` an image is, by its name (``bitnami/postgresql:16`` →
    ``postgres``), or None."""
    short = parse_image(image).short
    for key in DATA_DIRS:
        if key in short:
            return key
    return None
