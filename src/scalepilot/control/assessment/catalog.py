"""Every check: its category, severity, title and why it matters.

The order here is the order of the output. docs/assessment.md lists the same checks; a
unit test keeps the two in step.
"""

from __future__ import annotations

from scalepilot.control.assessment.model import CheckSpec
from scalepilot.control.assessment.model import Severity as S

CONTAINERS = "Containers"
ORCHESTRATION = "Orchestration & scaling"
HEALTH = "Health checks"
RESOURCES = "Resources"
CICD = "CI/CD"
SECURITY = "Security"
OPERATIONS = "Observability & operations"

CATEGORIES: tuple[str, ...] = (CONTAINERS, ORCHESTRATION, HEALTH, RESOURCES, CICD, SECURITY, OPERATIONS)

CHECKS: tuple[CheckSpec, ...] = (
    # Containers
    CheckSpec(
        "dockerfile.base-pinned",
        CONTAINERS,
        S.MEDIUM,
        "Base images pinned to a version",
        "An unpinned base (`python`, `node:latest`, `nginx:alpine`) changes under you: the same "
        "commit builds a different image tomorrow. A digest pins it byte for byte.",
        "Dockerfiles",
    ),
    CheckSpec(
        "dockerfile.multi-stage",
        CONTAINERS,
        S.LOW,
        "Build toolchain kept out of the runtime image",
        "A single stage that compiles or bundles ships its compilers and caches: a bigger image to "
        "pull on every scale-up, and more to patch.",
        "Dockerfiles that build or compile",
    ),
    CheckSpec(
        "dockerfile.cache-order",
        CONTAINERS,
        S.MEDIUM,
        "Dependencies installed before the source is copied",
        "`COPY . .` before the dependency install invalidates the install layer on every source "
        "change: each build downloads every dependency again.",
        "Dockerfiles that install dependencies",
    ),
    CheckSpec(
        "dockerfile.dockerignore",
        CONTAINERS,
        S.LOW,
        "A .dockerignore limits the build context",
        "Without it `COPY . .` sends `.git`, local virtualenvs, `node_modules` and `.env` files to "
        "the builder, and may copy them into the image.",
        "Dockerfiles that copy from the build context",
    ),
    CheckSpec(
        "dockerfile.packages",
        CONTAINERS,
        S.LOW,
        "OS packages installed lean",
        "`apt-get install` without `--no-install-recommends` pulls in packages nobody asked for, and "
        "apt lists or apk caches left in a layer stay in the image forever.",
        "Dockerfiles that install OS packages",
    ),
    CheckSpec(
        "compose.image-pinned",
        CONTAINERS,
        S.MEDIUM,
        "Compose images pinned to a version",
        "`image: postgres` pulls whatever is newest on the next `docker compose pull`; a major "
        "database upgrade by accident can leave data unreadable.",
        "compose services that pull an image",
    ),
    CheckSpec(
        "k8s.image-pinned",
        CONTAINERS,
        S.MEDIUM,
        "Kubernetes images pinned to a version",
        "With `:latest` (or no tag) two pods of one Deployment can run different code, and a "
        "rollback does not roll anything back.",
        "Kubernetes containers",
    ),
    # Orchestration & scaling
    CheckSpec(
        "compose.restart",
        ORCHESTRATION,
        S.MEDIUM,
        "Compose services restart after a crash or reboot",
        "Without a restart policy a crashed container stays down until someone notices.",
        "compose services",
    ),
    CheckSpec(
        "compose.depends-healthy",
        ORCHESTRATION,
        S.LOW,
        "Compose dependencies wait for health, not start",
        "`depends_on: [db]` waits for the container to start, not for the database to accept "
        "connections: the app's first queries fail on every cold start.",
        "compose services with depends_on",
    ),
    CheckSpec(
        "k8s.replicas",
        ORCHESTRATION,
        S.MEDIUM,
        "At least two replicas",
        "One replica means every rollout, node drain or crash is an outage.",
        "Kubernetes Deployments or StatefulSets",
    ),
    CheckSpec(
        "k8s.hpa",
        ORCHESTRATION,
        S.MEDIUM,
        "Deployments autoscaled",
        "Without a HorizontalPodAutoscaler (or KEDA ScaledObject) the replica count is whatever "
        "was written, at peak and at night.",
        "Kubernetes Deployments",
    ),
    CheckSpec(
        "k8s.pdb",
        ORCHESTRATION,
        S.LOW,
        "A PodDisruptionBudget per workload",
        "A node drain (an upgrade, autoscaler scale-down) may evict every pod of a workload at "
        "once unless a PodDisruptionBudget forbids it.",
        "Kubernetes Deployments or StatefulSets",
    ),
    CheckSpec(
        "ops.autoscaling",
        ORCHESTRATION,
        S.MEDIUM,
        "Autoscaling configured",
        "Compose has no autoscaler: replicas stay as written unless something (a scalepilot.yaml "
        "`autoscaling:` block, an HPA) scales them.",
        "compose application services (Kubernetes Deployments are judged by k8s.hpa)",
    ),
    # Health checks
    CheckSpec(
        "dockerfile.healthcheck",
        HEALTH,
        S.LOW,
        "Images declare a HEALTHCHECK",
        "Docker (and compose's `service_healthy`) can only tell a hung container from a healthy "
        "one if the image or the compose file says how.",
        "Dockerfiles outside Kubernetes (Kubernetes ignores HEALTHCHECK and uses probes)",
    ),
    CheckSpec(
        "compose.healthcheck",
        HEALTH,
        S.MEDIUM,
        "Compose services have a healthcheck",
        "Without one, `docker compose ps` says `Up` for a service that answers nothing, and "
        "dependants cannot wait for it.",
        "compose services",
    ),
    CheckSpec(
        "k8s.readiness",
        HEALTH,
        S.HIGH,
        "Containers have a readiness probe",
        "Without one a pod gets traffic the moment its process starts, before it can answer: "
        "every rollout and scale-up drops requests.",
        "Kubernetes containers",
    ),
    CheckSpec(
        "k8s.liveness",
        HEALTH,
        S.MEDIUM,
        "Containers have a liveness probe",
        "A process that deadlocks but does not exit is never restarted without one.",
        "Kubernetes containers",
    ),
    CheckSpec(
        "ops.health-endpoint",
        HEALTH,
        S.MEDIUM,
        "The application serves a health endpoint",
        "Probes, load balancers and uptime monitors need a cheap URL that says the process can "
        "serve (`/health`, `/ready`).",
        "deployable services or web applications",
    ),
    # Resources
    CheckSpec(
        "compose.limits",
        RESOURCES,
        S.MEDIUM,
        "Compose services have resource limits",
        "One leaking container can take the host's memory, and the kernel's OOM killer then "
        "picks a victim: maybe the database.",
        "compose services",
    ),
    CheckSpec(
        "k8s.requests",
        RESOURCES,
        S.HIGH,
        "Containers request CPU and memory",
        "The scheduler places pods by their requests, and an HPA's CPU utilization is measured "
        "against them: without requests neither can work.",
        "Kubernetes containers",
    ),
    CheckSpec(
        "k8s.limits",
        RESOURCES,
        S.MEDIUM,
        "Containers have a memory limit",
        "Memory cannot be throttled, only killed: a limit makes a leak kill its own container "
        "instead of its neighbours. (No CPU limit is asked for: it only throttles a pod that "
        "could have used idle cores.)",
        "Kubernetes containers",
    ),
    # CI/CD
    CheckSpec(
        "ci.tests",
        CICD,
        S.HIGH,
        "CI runs the tests",
        "Tests that no pipeline runs stop being run.",
        "CI workflows",
    ),
    CheckSpec(
        "ci.lint",
        CICD,
        S.LOW,
        "CI runs a linter or type checker",
        "Cheap, fast feedback that catches a class of bugs before review.",
        "CI workflows",
    ),
    CheckSpec(
        "ci.cache",
        CICD,
        S.LOW,
        "CI caches dependencies",
        "Every run downloading every dependency again is slow and fails when a registry does.",
        "CI workflows that install dependencies",
    ),
    CheckSpec(
        "ci.timeout",
        CICD,
        S.LOW,
        "CI jobs have a timeout",
        "A hung GitHub Actions job holds a runner for 6 hours (the default) before it fails.",
        "GitHub Actions jobs",
    ),
    CheckSpec(
        "ci.deploy",
        CICD,
        S.LOW,
        "CI deploys or publishes",
        "A release done by hand from a laptop is not reproducible and waits for that person.",
        "CI workflows",
    ),
    # Security
    CheckSpec(
        "dockerfile.user",
        SECURITY,
        S.HIGH,
        "Containers run as a non-root user",
        "A process running as root in the container is root on the host after one container "
        "escape, and can rewrite its own image's files.",
        "Dockerfiles",
    ),
    CheckSpec(
        "dockerfile.secrets",
        SECURITY,
        S.HIGH,
        "No secrets in Dockerfile ENV/ARG",
        "An ENV or ARG value is stored in the image's layers and history for anyone who can pull "
        "it, and in the repository for anyone who can read it.",
        "Dockerfiles",
    ),
    CheckSpec(
        "dockerfile.add-url",
        SECURITY,
        S.MEDIUM,
        "Downloads in Dockerfiles are verified",
        "`ADD https://…` fetches whatever the URL serves at build time, unchecked.",
        "Dockerfiles",
    ),
    CheckSpec(
        "compose.secrets",
        SECURITY,
        S.HIGH,
        "No literal secrets in compose files",
        "A password in `environment:` is in the repository's history forever.",
        "compose services",
    ),
    CheckSpec(
        "compose.db-ports",
        SECURITY,
        S.HIGH,
        "Databases not published on every interface",
        "`ports: [\"5432:5432\"]` publishes the database on all of the host's interfaces; Docker's "
        "own iptables rules bypass a host firewall such as ufw.",
        "compose database services",
    ),
    CheckSpec(
        "k8s.security-context",
        SECURITY,
        S.MEDIUM,
        "Containers have a restrictive securityContext",
        "runAsNonRoot, readOnlyRootFilesystem and allowPrivilegeEscalation: false take most of "
        "what an attacker in the container could do away.",
        "Kubernetes containers",
    ),
    CheckSpec(
        "k8s.secret-env",
        SECURITY,
        S.HIGH,
        "No literal secrets in Kubernetes env",
        "A `value:` in a manifest is plain text in git and in every `kubectl get -o yaml`; a Secret reference is not.",
        "Kubernetes workloads",
    ),
    CheckSpec(
        "ci.pinned-actions",
        SECURITY,
        S.MEDIUM,
        "Actions pinned to a commit SHA",
        "A tag (`@v4`) can be moved to other code by whoever controls the action's repository; "
        "the workflow then runs it with your secrets. A full commit SHA cannot move.",
        "GitHub Actions steps that use an action",
    ),
    CheckSpec(
        "ci.permissions",
        SECURITY,
        S.MEDIUM,
        "Workflows set token permissions",
        "Without `permissions:` the GITHUB_TOKEN may have write access to the repository (the "
        "default of older repositories and organisations) in every job.",
        "GitHub Actions workflows",
    ),
    CheckSpec(
        "ci.security-scan",
        SECURITY,
        S.MEDIUM,
        "Dependencies or images scanned for vulnerabilities",
        "A known-vulnerable dependency is found by a scanner in minutes, or by an attacker.",
        "CI workflows",
    ),
    # Observability & operations
    CheckSpec(
        "ops.metrics",
        OPERATIONS,
        S.MEDIUM,
        "The application exposes metrics",
        "Autoscaling on requests or latency, alerting and capacity planning all need the "
        "application's own numbers (a Prometheus `/metrics`), not only the host's.",
        "deployable services or dependency files",
    ),
    CheckSpec(
        "compose.volumes",
        OPERATIONS,
        S.HIGH,
        "Stateful services keep their data in a volume",
        "A database without a named volume at its data directory starts empty after `docker compose "
        "down`: its data is gone with the container or left behind in an anonymous volume.",
        "compose database services",
    ),
    CheckSpec(
        "ops.backup",
        OPERATIONS,
        S.MEDIUM,
        "Stateful data has a backup job",
        "A volume survives a restart, not a deleted disk, a bad migration or ransomware.",
        "stateful services (databases, StatefulSets, PersistentVolumeClaims)",
    ),
)

BY_ID: dict[str, CheckSpec] = {c.id: c for c in CHECKS}
