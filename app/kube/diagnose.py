"""Why a store is not ready, in concrete terms: read pods, events and Jobs of its namespace and
turn them into findings such as "pod web-… cannot be scheduled: 0/1 nodes are available: 1
Insufficient cpu" or "setup job … failed (BackoffLimitExceeded); last log lines: …".

`explain` is pure (lightkube objects in, findings out) so every rule is unit-tested with objects
shaped like the API's; `diagnose` does the reading. A finding is permanent when waiting longer
cannot fix it without a change (image, resources, quota, chart); the rest say what is still going on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx2
from lightkube import AsyncClient
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Event, Pod

from app.kube.client import api_call

IMAGE_REASONS = {"ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull"}
CONFIG_REASONS = {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}
LOG_LINES = 10


@dataclass(frozen=True)
class Finding:
    reason: str  # ImagePullBackOff, CrashLoopBackOff, FailedScheduling, QuotaExceeded, JobFailed, …
    subject: str  # "pod/web-7d9f…", "job/setup", "replicaset/web-…"
    message: str
    permanent: bool

    def sentence(self) -> str:
        return f"{self.subject}: {self.reason}: {self.message}"


@dataclass(frozen=True)
class Diagnosis:
    namespace: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def permanent(self) -> bool:
        return any(f.permanent for f in self.findings)

    def summary(self) -> str:
        """One line a person can act on: permanent causes first, then what is still progressing."""
        ordered = sorted(self.findings, key=lambda f: not f.permanent)
        if not ordered:
            return f"nothing in namespace {self.namespace} reports a failure"
        return "; ".join(f.sentence() for f in ordered[:3])


def explain(
    pods: Iterable[Pod],
    events: Iterable[Event],
    jobs: Iterable[Job],
    logs: dict[str, list[str]] | None = None,
    since: datetime | None = None,
) -> list[Finding]:
    """Findings from the objects' current state, then from Warning events newer than `since`.
    Events, Jobs that failed and bare pods that started before `since` describe an earlier
    attempt, not this one, and are left out. `logs` holds the last log lines of failed Jobs (by
    job name) and failed bare pods such as helm tests (by pod name)."""
    logs = logs or {}
    pods, events = list(pods), [e for e in events if since is None or _when(e) >= since]
    scaling_up = {e.involvedObject.name for e in events if e.reason == "TriggeredScaleUp"}
    findings: list[Finding] = []
    seen: set[tuple[str, str]] = set()

    def add(finding: Finding) -> None:
        key = (finding.subject, finding.reason)
        if key not in seen:
            seen.add(key)
            findings.append(finding)

    for job in jobs:
        for finding in _job_findings(job, logs.get(job.metadata.name, []), since):
            add(finding)
    for pod in pods:
        for finding in _pod_findings(pod, scaling_up):
            add(finding)
        if _failed_bare_pod(pod, since):
            lines = logs.get(pod.metadata.name) or _termination(pod) or ["no exit code or message recorded"]
            add(
                Finding(
                    "PodFailed", f"pod/{pod.metadata.name}", " | ".join(lines[-LOG_LINES:]), permanent=True
                )
            )
    scheduled = {p.metadata.name for p in pods if _scheduled(p)}
    for event in _latest_warnings(events):
        if event.reason == "FailedScheduling" and event.involvedObject.name in scheduled:
            continue  # it did get a node in the end
        finding = _event_finding(event, scaling_up)
        if finding is not None:
            add(finding)
    return findings


def _job_findings(job: Job, logs: list[str], since: datetime | None = None) -> list[Finding]:
    for cond in (job.status.conditions if job.status else None) or []:
        if cond.type == "Failed" and cond.status == "True":
            if since is not None and cond.lastTransitionTime is not None and cond.lastTransitionTime < since:
                return []  # an earlier attempt's Job, kept for its logs; not why this one fails
            message = f"failed ({cond.reason}: {cond.message})" if cond.message else f"failed ({cond.reason})"
            if logs:
                message += "; last log lines: " + " | ".join(line.rstrip() for line in logs[-LOG_LINES:])
            return [Finding("JobFailed", f"job/{job.metadata.name}", message, permanent=True)]
    return []


def _failed_bare_pod(pod: Pod, since: datetime | None = None) -> bool:
    """A pod nothing will replace (no owner: e.g. a helm test) that ended in failure during this
    attempt (one started before `since` is an earlier attempt's)."""
    if pod.metadata.ownerReferences or pod.status is None or pod.status.phase != "Failed":
        return False
    started = pod.status.startTime or pod.metadata.creationTimestamp
    return since is None or started is None or started >= since


def _scheduled(pod: Pod) -> bool:
    conditions = (pod.status.conditions if pod.status else None) or []
    return any(c.type == "PodScheduled" and c.status == "True" for c in conditions)


def _unschedulable_is_permanent(message: str, pod_name: str, scaling_up: set[str]) -> bool:
    """Waiting for a volume to bind, or for the cluster autoscaler to add a node, ends by itself."""
    return "unbound" not in message.lower() and pod_name not in scaling_up


def _pod_findings(pod: Pod, scaling_up: set[str]) -> list[Finding]:
    subject = f"pod/{pod.metadata.name}"
    status = pod.status
    if status is None:
        return []
    out: list[Finding] = []
    for cond in status.conditions or []:
        if cond.type == "PodScheduled" and cond.status == "False" and cond.reason == "Unschedulable":
            message = cond.message or "unschedulable"
            permanent = _unschedulable_is_permanent(message, pod.metadata.name, scaling_up)
            out.append(Finding("FailedScheduling", subject, message, permanent=permanent))
    for cs in [*(status.initContainerStatuses or []), *(status.containerStatuses or [])]:
        waiting = cs.state.waiting if cs.state else None
        if waiting is None or not waiting.reason:
            continue
        if waiting.reason in IMAGE_REASONS:
            msg = f"cannot pull image {cs.image} for container {cs.name}: {waiting.message or waiting.reason}"
            out.append(Finding(waiting.reason, subject, msg, permanent=True))
        elif waiting.reason == "CrashLoopBackOff":
            last = cs.lastState.terminated if cs.lastState else None
            detail = f"; last exit code {last.exitCode} ({last.reason})" if last else ""
            msg = f"container {cs.name} keeps crashing after {cs.restartCount} restarts{detail}"
            out.append(Finding("CrashLoopBackOff", subject, msg, permanent=True))
        elif waiting.reason in CONFIG_REASONS:
            msg = f"container {cs.name}: {waiting.message or waiting.reason}"
            out.append(Finding(waiting.reason, subject, msg, permanent=True))
    return out


def _when(event: Event) -> datetime:
    series = event.series.lastObservedTime if event.series else None
    stamp = series or event.lastTimestamp or event.eventTime or event.firstTimestamp
    return stamp if isinstance(stamp, datetime) else datetime.min.replace(tzinfo=UTC)


# A controller that lost an optimistic-concurrency race says so in a Warning and simply retries
# (e.g. the StatefulSet controller's FailedUpdate "…the object has been modified…"): not a cause.
_CONTROLLER_RETRY = "the object has been modified; please apply your changes to the latest version"


def _latest_warnings(events: Iterable[Event]) -> list[Event]:
    """The newest Warning per (object, reason): old events of a fixed problem do not count twice."""
    latest: dict[tuple[str, str, str], Event] = {}
    for event in events:
        if event.type != "Warning" or _CONTROLLER_RETRY in (event.message or ""):
            continue
        obj = event.involvedObject
        key = (obj.kind or "", obj.name or "", event.reason or "")
        if key not in latest or _when(event) > _when(latest[key]):
            latest[key] = event
    return sorted(latest.values(), key=_when, reverse=True)


def _event_finding(event: Event, scaling_up: set[str]) -> Finding | None:
    obj = event.involvedObject
    subject = f"{(obj.kind or 'object').lower()}/{obj.name}"
    reason, message = event.reason or "", (event.message or "").strip()
    if "exceeded quota" in message:
        return Finding("QuotaExceeded", subject, message, permanent=True)
    if "violates PodSecurity" in message:
        return Finding("PodSecurity", subject, message, permanent=True)
    if reason == "FailedScheduling":
        permanent = _unschedulable_is_permanent(message, obj.name or "", scaling_up)
        return Finding("FailedScheduling", subject, message, permanent=permanent)
    if reason in {"Failed", "BackOff"} and ("pull" in message.lower() or "image" in message.lower()):
        return Finding("ImagePullBackOff", subject, message, permanent=True)
    if reason == "BackOff":
        return Finding("CrashLoopBackOff", subject, message, permanent=True)
    if reason in {"FailedCreate", "BackoffLimitExceeded", "DeadlineExceeded"}:
        return Finding(reason, subject, message, permanent=True)
    if reason in {"FailedMount", "FailedAttachVolume", "ProvisioningFailed", "Unhealthy", "FailedBinding"}:
        return Finding(reason, subject, message, permanent=False)
    return None


async def diagnose(client: AsyncClient, namespace: str, since: datetime | None = None) -> Diagnosis:
    """Read the namespace's pods, events and Jobs (and a failed Job's last log lines) and explain."""
    with api_call(f"diagnose namespace {namespace}"):
        pods = [p async for p in client.list(Pod, namespace=namespace)]
        events = [e async for e in client.list(Event, namespace=namespace)]
        jobs = [j async for j in client.list(Job, namespace=namespace)]
    logs: dict[str, list[str]] = {}
    for job in jobs:
        if _job_findings(job, [], since):
            logs[job.metadata.name] = await _job_log_tail(client, namespace, job, pods)
    for pod in pods:
        if _failed_bare_pod(pod, since):
            logs[pod.metadata.name] = await _log_tail(client, namespace, pod)
    return Diagnosis(namespace, explain(pods, events, jobs, logs, since))


async def _job_log_tail(client: AsyncClient, namespace: str, job: Job, pods: list[Pod]) -> list[str]:
    """Last lines of the newest pod of the Job; an explanation instead when logs cannot be read
    (e.g. the node is gone — or, in the simulated cluster, there is no kubelet serving logs)."""
    mine = [
        p
        for p in pods
        if (p.metadata.labels or {}).get("batch.kubernetes.io/job-name") == job.metadata.name
        or (p.metadata.labels or {}).get("job-name") == job.metadata.name
    ]
    if not mine:
        return ["(no pod of the job is left to read logs from)"]
    newest = max(mine, key=lambda p: p.metadata.creationTimestamp or datetime.min.replace(tzinfo=UTC))
    return await _log_tail(client, namespace, newest)


async def _log_tail(client: AsyncClient, namespace: str, pod: Pod) -> list[str]:
    newest = pod
    lines: list[str] = []
    # A missing log is reported below; it must not hide the failure it would have explained.
    with contextlib.suppress(httpx2.HTTPError, OSError):
        async for line in client.log(newest.metadata.name, namespace=namespace, tail_lines=LOG_LINES):
            lines.append(line)
    return lines or _termination(newest) or [f"(logs of pod {newest.metadata.name} are not available)"]


def _termination(pod: Pod) -> list[str]:
    """The kubelet's record of how the containers ended: exit code and termination message."""
    out = []
    for cs in (pod.status.containerStatuses if pod.status else None) or []:
        ended = cs.state.terminated if cs.state else None
        if ended is not None and ended.exitCode:
            message = f": {ended.message.strip()}" if ended.message else ""
            out.append(f"container {cs.name} exited with code {ended.exitCode} ({ended.reason}){message}")
    return out
