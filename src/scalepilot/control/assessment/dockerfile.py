"""Dockerfiles: parsed into instructions and stages, then checked.

The parser follows Docker's rules where they change what a line means: line
continuations (with the ``# escape=`` directive), comment lines inside a continuation,
heredocs (``RUN <<EOF``), ``FROM … AS name`` stages and ``ARG`` defaults before the first
``FROM``. It does not evaluate shell: a ``RUN`` is searched as text.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Collection
from dataclasses import dataclass, field

from scalepilot.control.assessment.common import is_secret_name, literal_value, parse_image, unpinned_reason
from scalepilot.control.assessment.model import Finding, Outcome

_DIRECTIVE = re.compile(r"#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$")
_HEREDOC = re.compile(r"<<-?\s*[\"']?([A-Za-z_][A-Za-z0-9_]*)[\"']?")


@dataclass(frozen=True, slots=True)
class Instruction:
    keyword: str
    args: str
    line: int

    def flags(self) -> dict[str, str]:
        """The leading ``--name=value`` flags (``COPY --from=build``, ``RUN --mount=…``)."""
        out: dict[str, str] = {}
        for token in self.args.split():
            if not token.startswith("--"):
                break
            name, _, value = token[2:].partition("=")
            out[name] = out[name] + " " + value if name in out else value
        return out

    def rest(self) -> str:
        """The arguments after the leading flags."""
        tokens = self.args.split(" ")
        while tokens and (tokens[0].startswith("--") or not tokens[0]):
            tokens.pop(0)
        return " ".join(tokens).strip()


@dataclass(slots=True)
class Stage:
    image: str
    name: str | None
    line: int
    parent: Stage | None
    instructions: list[Instruction] = field(default_factory=list)

    def chain(self) -> list[Stage]:
        """This stage and the stages it is built ``FROM``, nearest first."""
        out: list[Stage] = []
        stage: Stage | None = self
        while stage is not None and stage not in out:
            out.append(stage)
            stage = stage.parent
        return out


@dataclass(slots=True)
class Dockerfile:
    path: str
    instructions: list[Instruction]
    stages: list[Stage]

    @property
    def final(self) -> Stage | None:
        return self.stages[-1] if self.stages else None

    def runs(self) -> list[Instruction]:
        return [i for s in self.stages for i in s.instructions if i.keyword == "RUN"]


def parse_instructions(text: str) -> list[Instruction]:
    lines = text.splitlines()
    escape = "\\"
    for raw in lines:
        match = _DIRECTIVE.match(raw.strip())
        if not match:
            break
        if match.group(1).lower() == "escape":
            escape = match.group(2)[0]
    out: list[Instruction] = []
    i, n = 0, len(lines)
    while i < n:
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        start = i + 1
        parts: list[str] = []
        current = lines[i].rstrip()
        while current.endswith(escape):
            parts.append(current[:-1].strip())
            i += 1
            # Docker drops comment lines (and tolerates empty ones) inside a continuation.
            while i < n and (not lines[i].strip() or lines[i].strip().startswith("#")):
                i += 1
            if i >= n:
                current = ""
                break
            current = lines[i].rstrip()
        parts.append(current.strip())
        i += 1
        joined = " ".join(p for p in parts if p)
        keyword, _, args = joined.partition(" ")
        keyword = keyword.upper()
        if keyword in ("RUN", "COPY", "ADD"):
            for terminator in _HEREDOC.findall(args):
                body: list[str] = []
                while i < n and lines[i].strip() != terminator:
                    body.append(lines[i])
                    i += 1
                i += 1  # the terminator
                args += "\n" + "\n".join(body)
        out.append(Instruction(keyword, args.strip(), start))
    return out


def _substitute(text: str, args: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        default = match.group(2)
        if args.get(name):
            return args[name]
        if default is not None:
            return default
        return match.group(0)

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)", one, text)


def parse(path: str, text: str) -> Dockerfile:
    """The Dockerfile's stages; none when the text is not a Dockerfile (its first
    instruction must be FROM, or ARG for the FROM's variables, as Docker requires)."""
    instructions = parse_instructions(text)
    if not instructions or instructions[0].keyword not in ("FROM", "ARG"):
        return Dockerfile(path, instructions, [])
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    by_name: dict[str, Stage] = {}
    for ins in instructions:
        if ins.keyword == "FROM":
            tokens = ins.rest().split()
            if not tokens:
                continue
            image = _substitute(tokens[0], global_args)
            name = tokens[2].lower() if len(tokens) >= 3 and tokens[1].lower() == "as" else None
            stage = Stage(image, name, ins.line, by_name.get(image.lower()))
            stages.append(stage)
            if name:
                by_name[name] = stage
            stage.instructions.append(ins)
        elif not stages:
            if ins.keyword == "ARG":
                name, _, default = ins.rest().partition("=")
                global_args[name.strip()] = default.strip().strip("\"'")
        else:
            stages[-1].instructions.append(ins)
    return Dockerfile(path, instructions, stages)


def _in_chain(stage: Stage, keyword: str) -> Instruction | None:
    """The last ``keyword`` instruction that applies to ``stage``, inherited included."""
    for s in stage.chain():
        found = [i for i in s.instructions if i.keyword == keyword]
        if found:
            return found[-1]
    return None


def _external(stage: Stage) -> bool:
    return stage.parent is None and stage.image.lower() != "scratch"


def _env_pairs(ins: Instruction) -> list[tuple[str, str | None]]:
    rest = ins.rest()
    try:
        tokens = shlex.split(rest)
    except ValueError:
        tokens = rest.split()
    if ins.keyword == "ARG":
        out: list[tuple[str, str | None]] = []
        for token in tokens:
            name, eq, value = token.partition("=")
            out.append((name, value if eq else None))
        return out
    if tokens and "=" not in tokens[0]:
        # The legacy form ``ENV NAME value with spaces``.
        return [(tokens[0], " ".join(tokens[1:]))]
    return [(name, value) for name, _, value in (t.partition("=") for t in tokens)]


# What compiles or bundles: a stage that does this is worth keeping out of the runtime image.
_BUILD = re.compile(
    r"\b(go build|cargo build|mvn\b|gradle\b|gradlew\b|npm run build|yarn (run )?build|pnpm (run )?build|"
    r"dotnet (publish|build)|tsc\b|make\b|gcc\b|g\+\+|pip wheel|build-essential|build-base|python3?-dev\b)"
)

# A dependency install, and the manifest files to copy before it.
_INSTALLS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"\bpip3? (install|wheel)\b[^&;|]*(\s-r\s|\s--requirement[\s=])"), "requirements.txt", "pip install"),
    (re.compile(r"\buv pip install\b[^&;|]*\s-r\s"), "requirements.txt", "uv pip install"),
    (re.compile(r"\bpoetry install\b"), "pyproject.toml poetry.lock", "poetry install"),
    (re.compile(r"\bpipenv install\b"), "Pipfile Pipfile.lock", "pipenv install"),
    (re.compile(r"\buv sync\b"), "pyproject.toml uv.lock", "uv sync"),
    (re.compile(r"\bnpm (ci|install|i)\b(?!\s+(-g\b|--global\b|[a-z@]))"), "package.json package-lock.json", "npm"),
    (re.compile(r"\byarn( install)?\s*($|&&|;|\n|--)"), "package.json yarn.lock", "yarn install"),
    (re.compile(r"\bpnpm (install|i)\b"), "package.json pnpm-lock.yaml", "pnpm install"),
    (re.compile(r"\bgo mod download\b"), "go.mod go.sum", "go mod download"),
    (re.compile(r"\bbundle install\b"), "Gemfile Gemfile.lock", "bundle install"),
    (re.compile(r"\bcomposer install\b"), "composer.json composer.lock", "composer install"),
    (re.compile(r"\bdotnet restore\b"), "*.csproj", "dotnet restore"),
    (re.compile(r"dependency:(go-offline|resolve)"), "pom.xml", "mvn dependency:go-offline"),
)


def _install(ins: Instruction) -> tuple[str, str] | None:
    for pattern, manifests, label in _INSTALLS:
        if pattern.search(ins.args):
            return manifests, label
    return None


def _copies_context(ins: Instruction) -> bool:
    if ins.keyword not in ("COPY", "ADD") or "from" in ins.flags():
        return False
    rest = ins.rest()
    # The JSON form ``COPY [".", "/app"]`` or the shell form; the last word is the destination.
    sources = re.findall(r"\"([^\"]*)\"", rest)[:-1] if rest.startswith("[") else rest.split()[:-1]
    return any(s in (".", "./", "*", "./*") for s in sources)


def _copies_anything(ins: Instruction) -> bool:
    return ins.keyword in ("COPY", "ADD") and "from" not in ins.flags() and not ins.rest().startswith("<<")


def _url_sources(ins: Instruction) -> list[str]:
    tokens = ins.rest().split()
    return [t for t in tokens[:-1] if re.match(r"(https?|ftp)://|git@", t)]


_ROOT_USERS = frozenset({"root", "0", "0:0", "root:root", "root:0", "0:root"})


@dataclass(frozen=True, slots=True)
class Context:
    """What the Dockerfile checks need from the rest of the repository."""

    paths: Collection[str]
    kubernetes: bool = False
    """Kubernetes manifests were found: the image's HEALTHCHECK is not what runs there."""
    healthchecked: Collection[str] = ()
    """Dockerfiles a compose service builds and gives a healthcheck."""


def _expose_port(df: Dockerfile) -> str:
    for ins in df.instructions:
        if ins.keyword == "EXPOSE" and ins.rest():
            return ins.rest().split()[0].split("/")[0]
    return "<port>"


def _is_alpine(stage: Stage) -> bool:
    return "alpine" in stage.image.lower()


def check(df: Dockerfile, ctx: Context) -> list[Outcome]:
    out: list[Outcome] = []
    path = df.path
    final = df.final
    if final is None:
        return out

    # Base images pinned.
    for stage in df.stages:
        if not _external(stage):
            continue
        if "$" in stage.image:
            continue  # an ARG without a default: which image it is depends on the build
        reason = unpinned_reason(stage.image)
        subject = f"{path}:{stage.line}"
        if reason is None:
            digest = "by digest" if parse_image(stage.image).digest else "by tag"
            out.append(Outcome("dockerfile.base-pinned", subject, evidence=f"{stage.image} ({digest})"))
            continue
        name = parse_image(stage.image).name
        out.append(
            Outcome(
                "dockerfile.base-pinned",
                subject,
                Finding(
                    path,
                    stage.line,
                    f"base image `{stage.image}` {reason}",
                    f"Pin the version you test with, best with its digest: `FROM {name}:<version>@sha256:<digest>` "
                    f"(`docker buildx imagetools inspect {name}:<version>` prints the digest).",
                ),
            )
        )

    # Multi-stage, for Dockerfiles that build.
    build = next((m for r in df.runs() if (m := _BUILD.search(r.args))), None)
    if build is not None:
        if len(df.stages) >= 2:
            out.append(Outcome("dockerfile.multi-stage", path, evidence=f"{path}: {len(df.stages)} stages"))
        else:
            out.append(
                Outcome(
                    "dockerfile.multi-stage",
                    path,
                    Finding(
                        path,
                        final.line,
                        f"one stage builds and runs: `{build.group(0)}` and its toolchain ship in the image",
                        f"Build in a first stage and copy only the result into a slim runtime one: "
                        f"`FROM {final.image} AS build` … then `FROM <runtime image>` and "
                        f"`COPY --from=build <built files> <destination>`.",
                    ),
                )
            )

    # Dependencies before source.
    for stage in df.stages:
        installs = [(i, inst) for i in stage.instructions if i.keyword == "RUN" and (inst := _install(i))]
        if not installs:
            continue
        first_copy = next((i for i in stage.instructions if _copies_context(i)), None)
        late = [(run, inst) for run, inst in installs if first_copy is not None and run.line > first_copy.line]
        subject = f"{path}:{stage.line}"
        if first_copy is None or not late:
            out.append(Outcome("dockerfile.cache-order", subject))
            continue
        run, (manifests, label) = late[0]
        out.append(
            Outcome(
                "dockerfile.cache-order",
                subject,
                Finding(
                    path,
                    first_copy.line,
                    f"`{first_copy.keyword} {first_copy.args}` copies the whole context before `{label}` "
                    f"(line {run.line}): any source change re-installs every dependency",
                    f"Copy the dependency manifests first and install, then the rest: `COPY {manifests} ./` "
                    f"then the `{label}` RUN, then `COPY . .`.",
                ),
            )
        )

    # .dockerignore.
    copies = [i for i in df.instructions if _copies_anything(i)]
    if copies:
        directory = posixpath.dirname(path)
        candidates = {
            posixpath.join(directory, ".dockerignore"),
            ".dockerignore",
            f"{path}.dockerignore",
        }
        found = sorted(c for c in candidates if c in ctx.paths)
        if found:
            out.append(Outcome("dockerfile.dockerignore", path, evidence=found[0]))
        else:
            where = posixpath.join(directory, ".dockerignore") if directory else ".dockerignore"
            out.append(
                Outcome(
                    "dockerfile.dockerignore",
                    path,
                    Finding(
                        path,
                        copies[0].line,
                        f"`{copies[0].keyword} {copies[0].args}` copies from a build context that no "
                        ".dockerignore limits",
                        f"Add `{where}` with at least: `.git`, `**/.env*`, `**/node_modules`, `**/.venv`, "
                        "`**/__pycache__`, and your build output.",
                    ),
                )
            )

    # OS packages.
    package_runs = [r for r in df.runs() if re.search(r"\bapt(-get)? (-\S+ )*install\b|\bapk (-\S+ )*add\b", r.args)]
    for run in package_runs:
        missing: list[str] = []
        cached = "type=cache" in run.flags().get("mount", "")
        if re.search(r"\bapt(-get)? (-\S+ )*install\b", run.args):
            if "--no-install-recommends" not in run.args:
                missing.append("`--no-install-recommends`")
            if not cached and "/var/lib/apt/lists" not in run.args:
                missing.append("`rm -rf /var/lib/apt/lists/*`")
            fix = (
                "`RUN apt-get update && apt-get install -y --no-install-recommends <packages> "
                "&& rm -rf /var/lib/apt/lists/*`"
            )
        else:
            if not cached and "--no-cache" not in run.args and "/var/cache/apk" not in run.args:
                missing.append("`--no-cache`")
            fix = "`RUN apk add --no-cache <packages>`"
        subject = f"{path}:{run.line}"
        if missing:
            out.append(
                Outcome(
                    "dockerfile.packages",
                    subject,
                    Finding(path, run.line, f"package install without {' and '.join(missing)}", f"Write {fix}."),
                )
            )
        else:
            out.append(Outcome("dockerfile.packages", subject))

    # HEALTHCHECK: only where Docker itself runs the image.
    if not ctx.kubernetes:
        health = _in_chain(final, "HEALTHCHECK")
        if health is not None and health.rest().upper() != "NONE":
            out.append(Outcome("dockerfile.healthcheck", path, evidence=f"{path}:{health.line}"))
        elif path in ctx.healthchecked:
            out.append(Outcome("dockerfile.healthcheck", path, evidence=f"{path}: healthcheck in compose"))
        else:
            line = health.line if health is not None else final.line
            port = _expose_port(df)
            out.append(
                Outcome(
                    "dockerfile.healthcheck",
                    path,
                    Finding(
                        path,
                        line,
                        "the image says nothing about its health"
                        if health is None
                        else "`HEALTHCHECK NONE` switches the check off",
                        f"Add `HEALTHCHECK --interval=30s --timeout=3s --retries=3 CMD curl -fsS "
                        f"http://localhost:{port}/health || exit 1` (or a healthcheck in the compose file; "
                        "without curl in the image use a small probe binary).",
                    ),
                )
            )

    # USER.
    user = _in_chain(final, "USER")
    base = final.chain()[-1].image.lower()
    if user is not None and user.rest() and user.rest().split()[0].lower() not in _ROOT_USERS:
        out.append(Outcome("dockerfile.user", path, evidence=f"{path}:{user.line} USER {user.rest()}"))
    elif user is None and ("nonroot" in base or "rootless" in base):
        out.append(Outcome("dockerfile.user", path, evidence=f"{path}: base {base} runs as non-root"))
    else:
        add_user = (
            "`RUN adduser -D -u 10001 app`"
            if any(_is_alpine(s) for s in final.chain())
            else "`RUN useradd --create-home --uid 10001 app`"
        )
        out.append(
            Outcome(
                "dockerfile.user",
                path,
                Finding(
                    path,
                    user.line if user is not None else final.line,
                    "the final stage runs as root" + ("" if user is not None else " (no USER instruction)"),
                    f"Create an unprivileged user and switch to it before CMD: {add_user} then `USER app` "
                    "(give it ownership of only the directories it writes).",
                ),
            )
        )

    # Secrets in ENV/ARG.
    secrets = []
    for ins in df.instructions:
        if ins.keyword not in ("ENV", "ARG"):
            continue
        for name, value in _env_pairs(ins):
            if is_secret_name(name) and literal_value(value) is not None:
                secrets.append((ins, name))
    if not secrets:
        out.append(Outcome("dockerfile.secrets", path))
    for ins, name in secrets:
        out.append(
            Outcome(
                "dockerfile.secrets",
                path,
                Finding(
                    path,
                    ins.line,
                    f"`{ins.keyword} {name}` has a literal value, stored in the image's layers and history",
                    f"Give it at run time (`docker run -e {name}`, compose `environment: {{{name}: ${{{name}}}}}`, "
                    f"a Kubernetes Secret); one the build needs: `RUN --mount=type=secret,id={name.lower()} …` "
                    f"with `docker build --secret id={name.lower()},env={name}`.",
                ),
            )
        )

    # ADD of a URL.
    urls = [
        (i, u) for i in df.instructions if i.keyword == "ADD" and "checksum" not in i.flags() for u in _url_sources(i)
    ]
    if not urls:
        out.append(Outcome("dockerfile.add-url", path))
    for ins, url in urls:
        out.append(
            Outcome(
                "dockerfile.add-url",
                path,
                Finding(
                    path,
                    ins.line,
                    f"`ADD {url}` downloads without verifying what it got",
                    f"`ADD --checksum=sha256:<sha256> {url} <dest>` (Dockerfile syntax 1.6+), or "
                    f"`RUN curl -fsSLo <file> {url} && echo '<sha256>  <file>' | sha256sum -c -`.",
                ),
            )
        )
    return out


def has_healthcheck(df: Dockerfile) -> bool:
    final = df.final
    if final is None:
        return False
    health = _in_chain(final, "HEALTHCHECK")
    return health is not None and health.rest().upper() != "NONE"


def health_paths(df: Dockerfile) -> list[tuple[int, str]]:
    """``(line, url)`` of HTTP URLs in HEALTHCHECK instructions."""
    return [
        (i.line, m.group(0))
        for i in df.instructions
        if i.keyword == "HEALTHCHECK"
        for m in [re.search(r"https?://[^\s'\"()\[\],]+", i.args)]
        if m
    ]
