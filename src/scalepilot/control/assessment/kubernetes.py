"""Kubernetes manifests: every YAML document with a string ``apiVersion`` and ``kind``.

Workloads (Deployments, StatefulSets, DaemonSets) are checked container by container;
HPAs, KEDA ScaledObjects and PodDisruptionBudgets are matched to them by namespace and
target (a manifest without ``namespace:`` matches any, as ``kubectl apply -n`` would put
them together). A workload document without a container image is a patch (a kustomize
overlay) and is not judged on what it leaves out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scalepilot.control.assessment.common import is_secret_name, literal_value, parse_image, unpinned_reason
from scalepilot.control.assessment.model import Finding, Outcome
from scalepilot.control.assessment.yamlsrc import YList, YMap

WORKLOADS = frozenset({"Deployment", "StatefulSet", "DaemonSet"})
REPLICATED = frozenset({"Deployment", "StatefulSet"})


@dataclass(frozen=True, slots=True)
class Object:
    file: str
    kind: str
    name: str
    namespace: str | None
    doc: YMap

    @property
    def line(self) -> int:
        return self.doc.line_of("kind")

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"


def objects(path: str, docs: list[Any]) -> list[Object]:
    out: list[Object] = []
    for doc in docs:
        if not isinstance(doc, YMap):
            continue
        kind, api = doc.get("kind"), doc.get("apiVersion")
        if not isinstance(kind, str) or not isinstance(api, str):
            continue
        if kind == "List" and isinstance(doc.get("items"), YList):
            out += objects(path, list(doc["items"]))
            continue
        meta = doc.map("metadata") or YMap(doc.line)
        ns = meta.get("namespace")
        out.append(Object(path, kind, str(meta.get("name", "?")), str(ns) if ns else None, doc))
    return out


def _pod_spec(obj: Object) -> YMap | None:
    spec = obj.doc.map("spec")
    template = spec.map("template") if spec else None
    return template.map("spec") if template else None


def _template_labels(obj: Object) -> dict[str, str]:
    spec = obj.doc.map("spec")
    template = spec.map("template") if spec else None
    meta = template.map("metadata") if template else None
    labels = meta.map("labels") if meta else None
    return {str(k): str(v) for k, v in (labels or {}).items()}


def containers(obj: Object, *, init: bool = False) -> list[YMap]:
    pod = _pod_spec(obj)
    if pod is None:
        return []
    out = (pod.seq("containers") or YList(0)).maps()
    if init:
        out += (pod.seq("initContainers") or YList(0)).maps()
    return out


def is_patch(obj: Object) -> bool:
    """A workload without a single container image: an overlay's patch, not a whole object."""
    return not any(c.get("image") for c in containers(obj))


def _same_ns(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a == b


def _selects(selector: YMap | None, labels: dict[str, str]) -> bool:
    if selector is None or not labels:
        return False
    match = selector.map("matchLabels") or YMap(0)
    if any(labels.get(str(k)) != str(v) for k, v in match.items()):
        return False
    for expr in (selector.seq("matchExpressions") or YList(0)).maps():
        key, op = str(expr.get("key")), str(expr.get("operator"))
        values = [str(v) for v in (expr.get("values") or [])]
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return bool(match) or bool(selector.get("matchExpressions"))


@dataclass(frozen=True, slots=True)
class Scaler:
    kind: str
    file: str
    target_kind: str
    target_name: str
    namespace: str | None
    min_replicas: int


def scalers(objs: list[Object]) -> list[Scaler]:
    out: list[Scaler] = []
    for obj in objs:
        spec = obj.doc.map("spec")
        ref = spec.map("scaleTargetRef") if spec else None
        if spec is None or ref is None:
            continue
        if obj.kind == "HorizontalPodAutoscaler":
            minimum = spec.get("minReplicas", 1)
        elif obj.kind == "ScaledObject":
            minimum = spec.get("minReplicaCount", 0)
        else:
            continue
        out.append(
            Scaler(
                obj.kind,
                obj.file,
                str(ref.get("kind", "Deployment")),
                str(ref.get("name")),
                obj.namespace,
                minimum if isinstance(minimum, int) else 1,
            )
        )
    return out


def _container_line(obj: Object, container: YMap) -> int:
    return container.line_of("name")


def _port(container: YMap) -> str:
    ports = container.seq("ports")
    if ports:
        first = ports.maps()[0] if ports.maps() else None
        if first is not None and first.get("containerPort") is not None:
            return str(first.get("name") or first["containerPort"])
    return "<port>"


def _has_value(block: YMap | None, key: str) -> bool:
    return block is not None and block.get(key) not in (None, "")


def check(objs: list[Object]) -> list[Outcome]:
    out: list[Outcome] = []
    workloads = [o for o in objs if o.kind in WORKLOADS and not is_patch(o)]
    all_scalers = scalers(objs)
    pdbs = [o for o in objs if o.kind == "PodDisruptionBudget"]

    for obj in workloads:
        pod = _pod_spec(obj) or YMap(obj.line)
        pod_sc = pod.map("securityContext") or YMap(pod.line)
        for container in containers(obj, init=True):
            cname = str(container.get("name", "?"))
            subject = f"{obj.file}:{obj.ref}/{cname}"
            line = _container_line(obj, container)
            image = container.get("image")
            if isinstance(image, str):
                reason = unpinned_reason(image)
                if reason is None and "$" not in image:
                    out.append(Outcome("k8s.image-pinned", subject))
                elif reason is not None:
                    out.append(
                        Outcome(
                            "k8s.image-pinned",
                            subject,
                            Finding(
                                obj.file,
                                container.line_of("image"),
                                f"{obj.ref} container `{cname}`: image `{image}` {reason}",
                                f"`image: {parse_image(image).name}:<version>@sha256:<digest>`, the tag your CI built "
                                "(a commit SHA or release version), so every pod runs the same code.",
                            ),
                        )
                    )
        for container in containers(obj):
            cname = str(container.get("name", "?"))
            subject = f"{obj.file}:{obj.ref}/{cname}"
            line = _container_line(obj, container)
            resources = container.map("resources")
            requests = resources.map("requests") if resources else None
            limits = resources.map("limits") if resources else None
            res_line = container.line_of("resources")
            example = "`resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {memory: 256Mi}}`"
            sizing = "sized from measured use (`scalepilot recommend`, or the pods' `kubectl top` over a busy day)"
            # Kubernetes sets a missing request to the limit: a limit alone is a request too.
            missing = [r for r in ("cpu", "memory") if not _has_value(requests, r) and not _has_value(limits, r)]
            if missing:
                out.append(
                    Outcome(
                        "k8s.requests",
                        subject,
                        Finding(
                            obj.file,
                            res_line if resources else line,
                            f"{obj.ref} container `{cname}` requests no {' and no '.join(missing)}",
                            f"Add {example} to container `{cname}`, {sizing}.",
                        ),
                    )
                )
            else:
                out.append(Outcome("k8s.requests", subject))
            if _has_value(limits, "memory"):
                out.append(Outcome("k8s.limits", subject))
            else:
                out.append(
                    Outcome(
                        "k8s.limits",
                        subject,
                        Finding(
                            obj.file,
                            res_line if resources else line,
                            f"{obj.ref} container `{cname}` has no memory limit",
                            f"Add `limits: {{memory: 256Mi}}` under its `resources:` (about 1.5-2x its request, "
                            f"{sizing}).",
                        ),
                    )
                )
            port = _port(container)
            for probe, check_id, path, extra in (
                ("readinessProbe", "k8s.readiness", "/ready", "periodSeconds: 5"),
                ("livenessProbe", "k8s.liveness", "/health", "initialDelaySeconds: 10, periodSeconds: 10"),
            ):
                if isinstance(container.get(probe), YMap):
                    out.append(Outcome(check_id, subject))
                    continue
                out.append(
                    Outcome(
                        check_id,
                        subject,
                        Finding(
                            obj.file,
                            line,
                            f"{obj.ref} container `{cname}` has no {probe}",
                            f"Add `{probe}: {{httpGet: {{path: {path}, port: {port}}}, {extra}}}` to container "
                            f"`{cname}` (a `tcpSocket` or `exec` probe if it serves no HTTP).",
                        ),
                    )
                )
            sc = container.map("securityContext") or YMap(line)
            problems = []
            run_as_user = sc.get("runAsUser", pod_sc.get("runAsUser"))
            non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
            if non_root is not True and not (isinstance(run_as_user, int) and run_as_user > 0):
                problems.append("runAsNonRoot: true")
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append("readOnlyRootFilesystem: true")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append("allowPrivilegeEscalation: false")
            if sc.get("privileged") is True:
                problems.insert(0, "privileged: false")
            if problems:
                out.append(
                    Outcome(
                        "k8s.security-context",
                        subject,
                        Finding(
                            obj.file,
                            container.line_of("securityContext") if "securityContext" in container else line,
                            f"{obj.ref} container `{cname}` lacks {', '.join(f'`{p}`' for p in problems)}",
                            "Add `securityContext: {runAsNonRoot: true, readOnlyRootFilesystem: true, "
                            "allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}` to container "
                            f"`{cname}`, with an `emptyDir` volume at each path it writes (e.g. /tmp).",
                        ),
                    )
                )
            else:
                out.append(Outcome("k8s.security-context", subject))

        # Literal secrets in env.
        secret_findings = []
        for container in containers(obj, init=True):
            for env in (container.seq("env") or YList(0)).maps():
                name = str(env.get("name", ""))
                if "value" in env and is_secret_name(name) and literal_value(env.get("value")) is not None:
                    secret_findings.append(
                        Finding(
                            obj.file,
                            env.line_of("value"),
                            f"{obj.ref}: env `{name}` has a literal value in the manifest",
                            f"`valueFrom: {{secretKeyRef: {{name: {obj.name}-secrets, key: {name.lower()}}}}}` "
                            "and the value in a Secret created outside git (sealed-secrets, external-secrets, "
                            "`kubectl create secret`).",
                        )
                    )
        subject = f"{obj.file}:{obj.ref}"
        if not secret_findings:
            out.append(Outcome("k8s.secret-env", subject))
        out += [Outcome("k8s.secret-env", subject, f) for f in secret_findings]

        if obj.kind not in REPLICATED:
            continue
        spec = obj.doc.map("spec") or YMap(obj.line)
        mine = [
            s
            for s in all_scalers
            if s.target_kind == obj.kind and s.target_name == obj.name and _same_ns(s.namespace, obj.namespace)
        ]
        replicas = spec.get("replicas", 1)
        floor = max([s.min_replicas for s in mine], default=0)
        if (isinstance(replicas, int) and replicas >= 2) or floor >= 2:
            out.append(Outcome("k8s.replicas", subject))
        else:
            hint = (
                f"set `minReplicas: 2` in its {mine[0].kind}"
                if mine
                else "`replicas: 2` (or more), or `minReplicas: 2` in an HPA"
            )
            written = f"`replicas: {replicas}`" if "replicas" in spec else "no `replicas:` (defaults to 1)"
            out.append(
                Outcome(
                    "k8s.replicas",
                    subject,
                    Finding(
                        obj.file,
                        spec.line_of("replicas") if "replicas" in spec else obj.line,
                        f"{obj.ref} has {written}: a rollout, drain or crash takes it down",
                        f"Run at least two: {hint}"
                        + (
                            " (a single-instance database needs replication for this)"
                            if obj.kind == "StatefulSet"
                            else ""
                        )
                        + ".",
                    ),
                )
            )
        if obj.kind == "Deployment":
            if mine:
                out.append(Outcome("k8s.hpa", subject, evidence=f"{mine[0].file}: {mine[0].kind}"))
            else:
                out.append(
                    Outcome(
                        "k8s.hpa",
                        subject,
                        Finding(
                            obj.file,
                            obj.line,
                            f"no HorizontalPodAutoscaler targets {obj.ref}",
                            "Add `apiVersion: autoscaling/v2`, `kind: HorizontalPodAutoscaler`, "
                            f"`spec: {{scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: {obj.name}}}, "
                            "minReplicas: 2, maxReplicas: 10, metrics: [{type: Resource, resource: {name: cpu, "
                            "target: {type: Utilization, averageUtilization: 70}}}]}` (needs CPU requests), "
                            "or scale it with a scalepilot.yaml `autoscaling:` block.",
                        ),
                    )
                )
        labels = _template_labels(obj)
        pdb = next(
            (
                p
                for p in pdbs
                if _same_ns(p.namespace, obj.namespace)
                and _selects((p.doc.map("spec") or YMap(0)).map("selector"), labels)
            ),
            None,
        )
        if pdb is not None:
            out.append(Outcome("k8s.pdb", subject, evidence=f"{pdb.file}: {pdb.ref}"))
        else:
            match = ", ".join(f"{k}: {v}" for k, v in labels.items()) or "<pod labels>"
            out.append(
                Outcome(
                    "k8s.pdb",
                    subject,
                    Finding(
                        obj.file,
                        obj.line,
                        f"no PodDisruptionBudget selects the pods of {obj.ref}",
                        "Add `apiVersion: policy/v1`, `kind: PodDisruptionBudget`, "
                        f"`metadata: {{name: {obj.name}}}`, `spec: {{maxUnavailable: 1, selector: {{matchLabels: "
                        f"{{{match}}}}}}}`.",
                    ),
                )
            )
    return out


def health_paths(objs: list[Object]) -> list[tuple[str, int, str]]:
    """``(file, line, path)`` of every HTTP probe's path."""
    out: list[tuple[str, int, str]] = []
    for obj in objs:
        if obj.kind not in WORKLOADS:
            continue
        for container in containers(obj):
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                spec = container.map(probe)
                http = spec.map("httpGet") if spec else None
                if http is not None and http.get("path"):
                    out.append((obj.file, http.line_of("path"), str(http["path"])))
    return out


def scrape_annotations(objs: list[Object]) -> list[tuple[str, int, str]]:
    """Where Prometheus is told to scrape: ``prometheus.io/scrape`` annotations and
    ServiceMonitor / PodMonitor objects."""
    out: list[tuple[str, int, str]] = []
    for obj in objs:
        if obj.kind in ("ServiceMonitor", "PodMonitor"):
            out.append((obj.file, obj.line, obj.ref))
            continue
        metas = [obj.doc.map("metadata")]
        spec = obj.doc.map("spec")
        template = spec.map("template") if spec else None
        metas.append(template.map("metadata") if template else None)
        for meta in metas:
            annotations = meta.map("annotations") if meta else None
            if annotations and str(annotations.get("prometheus.io/scrape", "")).lower() == "true":
                out.append((obj.file, annotations.line_of("prometheus.io/scrape"), f"{obj.ref} prometheus.io/scrape"))
    return out
