"""ECS Managed Daemons (April 2026): daemon task definitions, daemons, their revisions and deployments, and the
twelve operations (moto has none of them). See README.md beside this file ("ECS Managed Daemons").

A daemon runs one task on every container instance of its capacity providers. The simulator gives each capacity
provider `INSTANCES_PER_PROVIDER` instances. A deployment replaces the daemon task on the instances in batches of
`drainPercent` (rounded up, at least one instance) per step, then bakes `bakeTimeInMinutes` simulated minutes, then is
SUCCESSFUL. In poll mode each DescribeDaemonDeployments or DescribeDaemon call advances the deployments it looks at by
one step; in time mode one step per `stepSeconds` (sim_common.CLOCK).

A daemon task definition whose first container image contains ':fail' never starts: each step fails one instance's
task; at the circuit breaker's threshold (CLOCK.fail_steps) the deployment rolls back to the source revision
(ROLLBACK_IN_PROGRESS, then ROLLBACK_SUCCESSFUL) or, for a daemon's first deployment, is STOPPED.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

from moto.core.responses import ActionResult
from moto.ecs.exceptions import ECSException
from moto.ecs.responses import EC2ContainerServiceResponse

from sim_common import CLOCK, LOCK, Stepper, at, now

INSTANCES_PER_PROVIDER = 2
FAIL_MARK = ":fail"
FINISHED = ("SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")

# Every object by ARN (ARNs carry region and account, so one table each is enough).
TASK_DEFINITIONS: dict[str, dict[str, Any]] = {}
TD_TAGS: dict[str, list[dict[str, str]]] = {}
DAEMONS: dict[str, "SimDaemon"] = {}
REVISIONS: dict[str, dict[str, Any]] = {}
DEPLOYMENTS: dict[str, "SimDaemonDeployment"] = {}
TOKENS: dict[str, dict[str, Any]] = {}


def _hex(n: int = 16) -> str:
    return "".join(random.choice("0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(n))


def _prefix(resp: EC2ContainerServiceResponse) -> str:
    return f"arn:aws:ecs:{resp.region}:{resp.current_account}"


def _request(resp: EC2ContainerServiceResponse) -> dict[str, Any]:
    """The whole JSON request (nulls are absent, as AWS's deserialisers treat them)."""
    try:
        body = json.loads(resp.body or "{}")
    except ValueError:
        body = {}
    return {k: v for k, v in body.items() if v is not None} if isinstance(body, dict) else {}


def _cluster(resp: EC2ContainerServiceResponse, cluster: str | None) -> Any:
    name = (cluster or "default").split("/")[-1]
    found = resp.ecs_backend.clusters.get(name)
    if found is None:
        raise ECSException("ClusterNotFoundException", "Cluster not found.")
    return found


def _image_fails(td_arn: str) -> bool:
    containers = TASK_DEFINITIONS.get(td_arn, {}).get("containerDefinitions") or [{}]
    return FAIL_MARK in str(containers[0].get("image", ""))


# ------------------------------------------------------------------------------------ task definitions


def _find_td(resp: EC2ContainerServiceResponse, ref: str | None) -> dict[str, Any]:
    """`family`, `family:revision` or an ARN; a family alone is its latest ACTIVE revision."""
    ref = ref or ""
    if ref.startswith("arn:"):
        td = TASK_DEFINITIONS.get(ref)
    else:
        family, _, rev = ref.partition(":")
        candidates = [t for t in TASK_DEFINITIONS.values() if t["family"] == family and t["daemonTaskDefinitionArn"].startswith(_prefix(resp) + ":")]
        if rev:
            candidates = [t for t in candidates if str(t["revision"]) == rev]
        else:
            candidates = [t for t in candidates if t["status"] == "ACTIVE"]
        td = max(candidates, key=lambda t: t["revision"]) if candidates else None
    if td is None:
        raise ECSException("ClientException", f"Unable to describe daemon task definition {ref}.")
    return td


def register_daemon_task_definition(self: EC2ContainerServiceResponse) -> ActionResult:
    p = self._get_param
    family = p("family")
    containers = p("containerDefinitions") or []
    if not containers:
        raise ECSException("ClientException", "Container definitions must not be empty.")
    for c in containers:
        if not c.get("image"):
            raise ECSException("ClientException", "Container.image should not be null or empty.")
    with LOCK:
        revision = 1 + max((t["revision"] for t in TASK_DEFINITIONS.values()
                            if t["family"] == family and t["daemonTaskDefinitionArn"].startswith(_prefix(self) + ":")), default=0)
        arn = f"{_prefix(self)}:daemon-task-definition/{family}:{revision}"
        td: dict[str, Any] = {"daemonTaskDefinitionArn": arn, "family": family, "revision": revision}
        for key in ("taskRoleArn", "executionRoleArn", "cpu", "memory", "volumes", "pidMode", "ipcMode"):
            if p(key) is not None:
                td[key] = p(key)
        td["containerDefinitions"] = containers
        td.update({"status": "ACTIVE", "registeredAt": now(), "registeredBy": f"arn:aws:iam::{self.current_account}:root"})
        TASK_DEFINITIONS[arn] = td
        TD_TAGS[arn] = p("tags") or []
        return ActionResult({"daemonTaskDefinitionArn": arn})


def describe_daemon_task_definition(self: EC2ContainerServiceResponse) -> ActionResult:
    with LOCK:
        return ActionResult({"daemonTaskDefinition": _find_td(self, self._get_param("daemonTaskDefinition"))})


def list_daemon_task_definitions(self: EC2ContainerServiceResponse) -> ActionResult:
    p = self._get_param
    status = p("status") or "ACTIVE"
    with LOCK:
        found = [t for t in TASK_DEFINITIONS.values() if t["daemonTaskDefinitionArn"].startswith(_prefix(self) + ":")]
        if p("family"):
            found = [t for t in found if t["family"] == p("family")]
        if p("familyPrefix"):
            found = [t for t in found if t["family"].startswith(p("familyPrefix"))]
        if status != "ALL":
            found = [t for t in found if t["status"] == status]
        found.sort(key=lambda t: (t["family"], t["revision"]), reverse=p("sort") == "DESC")
        if p("revision") == "LAST_REGISTERED":
            last: dict[str, dict[str, Any]] = {}
            for t in found:
                if t["family"] not in last or t["revision"] > last[t["family"]]["revision"]:
                    last[t["family"]] = t
            found = [t for t in found if last[t["family"]] is t]
        start, size = int(p("nextToken") or 0), int(p("maxResults") or 100)
        out: dict[str, Any] = {"daemonTaskDefinitions": [
            {"arn": t["daemonTaskDefinitionArn"], "registeredAt": t["registeredAt"], "registeredBy": t["registeredBy"],
             "status": t["status"], **({"deleteRequestedAt": t["deleteRequestedAt"]} if "deleteRequestedAt" in t else {})}
            for t in found[start:start + size]]}
        if start + size < len(found):
            out["nextToken"] = str(start + size)
        return ActionResult(out)


def delete_daemon_task_definition(self: EC2ContainerServiceResponse) -> ActionResult:
    """Refused while a daemon revision of an ACTIVE daemon uses it; otherwise DELETE_IN_PROGRESS."""
    with LOCK:
        td = _find_td(self, self._get_param("daemonTaskDefinition"))
        for d in DAEMONS.values():
            if d.status == "ACTIVE" and d.revision["daemonTaskDefinitionArn"] == td["daemonTaskDefinitionArn"]:
                raise ECSException("ClientException", f"The daemon task definition is in use by daemon {d.arn}.")
        td["status"] = "DELETE_IN_PROGRESS"
        td["deleteRequestedAt"] = now()
        return ActionResult({"daemonTaskDefinitionArn": td["daemonTaskDefinitionArn"]})


# ------------------------------------------------------------------------------------ daemons


class SimDaemon:
    def __init__(self, arn: str, cluster_arn: str, request: dict[str, Any]):
        self.arn = arn
        self.cluster_arn = cluster_arn
        self.status = "ACTIVE"
        self.created_at = now()
        self.updated_at = self.created_at
        self.request = request
        self.tags = request.get("tags") or []
        self.revision: dict[str, Any] = {}
        self.deployment: SimDaemonDeployment | None = None
        self.delete_steps = 0

    def providers(self) -> list[str]:
        return list(self.request.get("capacityProviderArns") or [])

    def detail(self) -> dict[str, Any]:
        current = []
        for rev_arn, per_provider in self.running().items():
            cps = [{"arn": cp, "runningCount": n} for cp, n in per_provider.items()]
            current.append({"arn": rev_arn, "capacityProviders": cps, "totalRunningCount": sum(per_provider.values()),
                            "totalWithoutDaemonCount": 0})
        out = {"daemonArn": self.arn, "clusterArn": self.cluster_arn, "status": self.status, "currentRevisions": current,
               "createdAt": self.created_at, "updatedAt": self.updated_at}
        if self.deployment:
            out["deploymentArn"] = self.deployment.arn
        return out

    def running(self) -> dict[str, dict[str, int]]:
        """Daemon tasks running per revision and capacity provider (one per instance)."""
        if self.status != "ACTIVE" or self.deployment is None:
            return {}
        return self.deployment.running()


def new_revision(daemon: SimDaemon, request: dict[str, Any]) -> dict[str, Any]:
    td = TASK_DEFINITIONS[request["daemonTaskDefinitionArn"]]
    arn = daemon.arn.replace(":daemon/", ":daemon-revision/") + "/" + _hex()
    rev = {
        "daemonRevisionArn": arn, "clusterArn": daemon.cluster_arn, "daemonArn": daemon.arn,
        "daemonTaskDefinitionArn": td["daemonTaskDefinitionArn"], "createdAt": now(),
        "containerImages": [{"containerName": c.get("name"), "image": c.get("image")} for c in td["containerDefinitions"]],
        "propagateTags": request.get("propagateTags") or "NONE",
        "enableECSManagedTags": bool(request.get("enableECSManagedTags")),
        "enableExecuteCommand": bool(request.get("enableExecuteCommand")),
        "critical": bool(request.get("critical")),
        # Not part of DaemonRevision: what the simulator needs to run it (dropped from answers).
        "_providers": list(request.get("capacityProviderArns") or []),
    }
    REVISIONS[arn] = rev
    return rev


def _public(rev: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rev.items() if not k.startswith("_")}


class SimDaemonDeployment:
    """One daemon deployment: `target` replaces `source` (None for a daemon's first) instance by instance."""

    def __init__(self, daemon: SimDaemon, target: dict[str, Any], source: dict[str, Any] | None, config: dict[str, Any]):
        self.daemon = daemon
        self.arn = daemon.arn.replace(":daemon/", ":daemon-deployment/") + "/" + _hex()
        self.target = target
        self.source = source
        self.config = config
        self.status = "PENDING"
        self.reason: str | None = None
        self.created_at = now()
        self.started_at: Any = None
        self.stopped_at: Any = None
        self.finished_at: Any = None
        self.providers = target["_providers"]
        self.total = INSTANCES_PER_PROVIDER * len(self.providers)
        self.done = 0  # instances running the target revision
        self.failures = 0
        self.bake_left = float(config.get("bakeTimeInMinutes") or 0) * CLOCK.minute_steps
        self.baking = False
        self.rollback: dict[str, Any] | None = None
        self.stepper = Stepper()
        DEPLOYMENTS[self.arn] = self

    def batch(self) -> int:
        pct = float(self.config.get("drainPercent") or 25.0)
        return max(1, math.ceil(self.total * pct / 100.0))

    def threshold(self) -> int:
        return max(1, CLOCK.fail_steps)

    def finish(self, status: str, reason: str) -> None:
        self.status, self.reason = status, reason
        self.finished_at = now()
        if status in ("STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"):
            self.stopped_at = self.finished_at

    def stop(self, reason: str) -> None:
        if self.status not in FINISHED:
            self.finish("STOPPED", reason)

    def step(self) -> None:
        if self.status in FINISHED:
            return
        if self.status == "PENDING":
            self.status, self.started_at = "IN_PROGRESS", now()
            return
        if self.status == "ROLLBACK_IN_PROGRESS":
            self.done = max(0, self.done - self.batch())
            if self.done == 0:
                self.finish("ROLLBACK_SUCCESSFUL", self.rollback["reason"] if self.rollback else "rolled back")
                self.daemon.revision = self.source or self.daemon.revision
            return
        if _image_fails(self.target["daemonTaskDefinitionArn"]):
            self.failures += 1
            if self.failures >= self.threshold():
                self.fail("ECS deployment circuit breaker: daemon tasks failed to start.")
            return
        if self.done < self.total:
            self.done = min(self.total, self.done + self.batch())
            return
        if self.bake_left > 0:
            self.baking = True
            self.bake_left -= 1
            if self.bake_left > 0:
                return
        self.finish("SUCCESSFUL", "Daemon deployment completed successfully.")

    def fail(self, reason: str) -> None:
        if self.source is None:
            self.finish("STOPPED", reason)
            return
        self.status = "ROLLBACK_IN_PROGRESS"
        self.reason = reason
        self.rollback = {"reason": reason, "startedAt": now(), "rollbackTargetDaemonRevisionArn": self.source["daemonRevisionArn"],
                         "rollbackCapacityProviders": list(self.source["_providers"])}
        if self.done == 0:
            self.finish("ROLLBACK_SUCCESSFUL", reason)

    def advance(self, polled: bool) -> None:
        owed = self.stepper.due(polled)
        for i in range(owed):
            with at(self.stepper.scheduled(i)):
                self.step()
        self.stepper.done(owed)

    def running(self) -> dict[str, dict[str, int]]:
        per_cp = INSTANCES_PER_PROVIDER
        out: dict[str, dict[str, int]] = {}
        target_arn = self.target["daemonRevisionArn"]
        if self.status in ("STOPPED",) and self.source is None:
            return {}
        remaining = self.total - self.done
        if self.done:
            out[target_arn] = self._spread(self.providers, self.done, per_cp)
        if self.source is not None and remaining:
            out[self.source["daemonRevisionArn"]] = self._spread(self.source["_providers"], remaining, per_cp)
        return out

    @staticmethod
    def _spread(providers: list[str], n: int, per_cp: int) -> dict[str, int]:
        out = {}
        for cp in providers:
            take = min(per_cp, n)
            out[cp] = take
            n -= take
        return out

    def _detail(self, rev: dict[str, Any], running: int) -> dict[str, Any]:
        per = self._spread(rev["_providers"], running, INSTANCES_PER_PROVIDER)
        return {"arn": rev["daemonRevisionArn"],
                "capacityProviders": [{"arn": cp, "runningInstanceCount": n, "withoutDaemonInstanceCount": 0,
                                       "drainingInstanceCount": 0} for cp, n in per.items()],
                "totalRunningInstanceCount": running, "totalWithoutDaemonInstanceCount": 0, "totalDrainingInstanceCount": 0}

    def view(self) -> dict[str, Any]:
        breaker_status = "TRIGGERED" if self.rollback or (self.status == "STOPPED" and self.failures) else (
            "MONITORING_COMPLETE" if self.status in FINISHED else "MONITORING")
        alarms = self.config.get("alarms") or {}
        out: dict[str, Any] = {
            "daemonDeploymentArn": self.arn, "clusterArn": self.daemon.cluster_arn, "status": self.status,
            "targetDaemonRevision": self._detail(self.target, self.done),
            "sourceDaemonRevisions": [self._detail(self.source, self.total - self.done)] if self.source else [],
            "circuitBreaker": {"failureCount": self.failures, "status": breaker_status, "threshold": self.threshold()},
            "alarms": {"status": "MONITORING" if alarms.get("enable") else "DISABLED", "alarmNames": alarms.get("alarmNames") or []},
            "deploymentConfiguration": self.config, "createdAt": self.created_at,
        }
        if self.reason:
            out["statusReason"] = self.reason
        if self.rollback:
            out["rollback"] = self.rollback
        for key, value in (("startedAt", self.started_at), ("stoppedAt", self.stopped_at), ("finishedAt", self.finished_at)):
            if value is not None:
                out[key] = value
        return out

    def summary(self) -> dict[str, Any]:
        v = self.view()
        out = {k: v[k] for k in ("daemonDeploymentArn", "clusterArn", "status", "createdAt") if k in v}
        out.update({k: v[k] for k in ("statusReason", "startedAt", "stoppedAt", "finishedAt") if k in v})
        out["daemonArn"] = self.daemon.arn
        out["targetDaemonRevisionArn"] = self.target["daemonRevisionArn"]
        return out


def _config(request: dict[str, Any]) -> dict[str, Any]:
    """The deployment configuration with AWS's defaults filled in (drain 25 %, no bake time, alarms off)."""
    c = dict(request.get("deploymentConfiguration") or {})
    c.setdefault("drainPercent", 25.0)
    c.setdefault("bakeTimeInMinutes", 0)
    return c


def _start(daemon: SimDaemon, request: dict[str, Any]) -> SimDaemonDeployment:
    source = daemon.revision or None
    if daemon.deployment is not None:
        daemon.deployment.advance(polled=False)
        daemon.deployment.stop("Superseded by a newer daemon deployment.")
    target = new_revision(daemon, request)
    dep = SimDaemonDeployment(daemon, target, source, _config(request))
    daemon.revision = target
    daemon.deployment = dep
    daemon.updated_at = now()
    return dep


def _find_daemon(arn: str | None) -> SimDaemon:
    d = DAEMONS.get(arn or "")
    if d is None:
        raise ECSException("DaemonNotFoundException", f"The daemon {arn} does not exist.")
    return d


def _active_td(resp: EC2ContainerServiceResponse, arn: str | None) -> None:
    td = TASK_DEFINITIONS.get(arn or "")
    if td is None or not (arn or "").startswith(_prefix(resp) + ":"):
        raise ECSException("ClientException", f"The daemon task definition {arn} does not exist.")
    if td["status"] != "ACTIVE":
        raise ECSException("ClientException", f"The daemon task definition {arn} is {td['status']}.")


def _providers(request: dict[str, Any]) -> None:
    cps = request.get("capacityProviderArns") or []
    if not cps:
        raise ECSException("InvalidParameterException", "capacityProviderArns must name at least one capacity provider.")
    pct = request.get("deploymentConfiguration", {}).get("drainPercent")
    if pct is not None and not (0 < float(pct) <= 100):
        raise ECSException("InvalidParameterException", "drainPercent must be greater than 0 and at most 100.")


def create_daemon(self: EC2ContainerServiceResponse) -> ActionResult:
    """A repeated clientToken returns the first answer (idempotent); an ACTIVE daemon of that name is a conflict."""
    request = _request(self)
    with LOCK:
        token = request.get("clientToken")
        if token and token in TOKENS:
            return ActionResult(TOKENS[token])
        cluster = _cluster(self, request.get("clusterArn"))
        _active_td(self, request.get("daemonTaskDefinitionArn"))
        _providers(request)
        arn = cluster.arn.replace(":cluster/", ":daemon/") + "/" + request["daemonName"]
        existing = DAEMONS.get(arn)
        if existing is not None and existing.status == "ACTIVE":
            raise ECSException("InvalidParameterException", f"Creation of daemon was not idempotent: daemon {request['daemonName']} already exists.")
        daemon = SimDaemon(arn, cluster.arn, request)
        DAEMONS[arn] = daemon
        dep = _start(daemon, request)
        out = {"daemonArn": arn, "status": daemon.status, "createdAt": daemon.created_at, "deploymentArn": dep.arn}
        if token:
            TOKENS[token] = out
        return ActionResult(out)


def update_daemon(self: EC2ContainerServiceResponse) -> ActionResult:
    request = _request(self)
    with LOCK:
        daemon = _find_daemon(request.get("daemonArn"))
        if daemon.status != "ACTIVE":
            raise ECSException("DaemonNotActiveException", f"The daemon {daemon.arn} is {daemon.status}.")
        _active_td(self, request.get("daemonTaskDefinitionArn"))
        _providers(request)
        daemon.request = {**request, "tags": daemon.tags}
        dep = _start(daemon, request)
        return ActionResult({"daemonArn": daemon.arn, "status": daemon.status, "createdAt": daemon.created_at,
                             "updatedAt": daemon.updated_at, "deploymentArn": dep.arn})


def delete_daemon(self: EC2ContainerServiceResponse) -> ActionResult:
    """DELETE_IN_PROGRESS, then gone (DaemonNotFoundException) after two more looks at it."""
    with LOCK:
        daemon = _find_daemon(self._get_param("daemonArn"))
        if daemon.status != "ACTIVE":
            raise ECSException("DaemonNotActiveException", f"The daemon {daemon.arn} is {daemon.status}.")
        if daemon.deployment is not None:
            daemon.deployment.advance(polled=False)
            daemon.deployment.stop("The daemon was deleted.")
        daemon.status = "DELETE_IN_PROGRESS"
        daemon.updated_at = now()
        daemon.delete_steps = 2
        out = {"daemonArn": daemon.arn, "status": daemon.status, "createdAt": daemon.created_at, "updatedAt": daemon.updated_at}
        if daemon.deployment:
            out["deploymentArn"] = daemon.deployment.arn
        return ActionResult(out)


def describe_daemon(self: EC2ContainerServiceResponse) -> ActionResult:
    with LOCK:
        daemon = _find_daemon(self._get_param("daemonArn"))
        if daemon.status == "DELETE_IN_PROGRESS":
            if daemon.delete_steps <= 0:
                del DAEMONS[daemon.arn]
                raise ECSException("DaemonNotFoundException", f"The daemon {daemon.arn} does not exist.")
            daemon.delete_steps -= 1
        elif daemon.deployment is not None:
            daemon.deployment.advance(polled=True)
        return ActionResult({"daemon": daemon.detail()})


def list_daemons(self: EC2ContainerServiceResponse) -> ActionResult:
    p = self._get_param
    with LOCK:
        found = [d for d in DAEMONS.values() if d.arn.startswith(_prefix(self) + ":")]
        if p("clusterArn"):
            cluster = _cluster(self, p("clusterArn"))
            found = [d for d in found if d.cluster_arn == cluster.arn]
        if p("capacityProviderArns"):
            found = [d for d in found if set(d.providers()) & set(p("capacityProviderArns"))]
        start, size = int(p("nextToken") or 0), int(p("maxResults") or 100)
        out: dict[str, Any] = {"daemonSummariesList": [{"daemonArn": d.arn, "status": d.status, "createdAt": d.created_at,
                                                        "updatedAt": d.updated_at} for d in found[start:start + size]]}
        if start + size < len(found):
            out["nextToken"] = str(start + size)
        return ActionResult(out)


def describe_daemon_deployments(self: EC2ContainerServiceResponse) -> ActionResult:
    """Unknown ARNs are failures (MISSING). In poll mode each call advances the deployments it names by one step."""
    with LOCK:
        found, failures = [], []
        for arn in self._get_param("daemonDeploymentArns") or []:
            dep = DEPLOYMENTS.get(arn)
            if dep is None:
                failures.append({"arn": arn, "reason": "MISSING"})
                continue
            dep.advance(polled=True)
            found.append(dep.view())
        return ActionResult({"daemonDeployments": found, "failures": failures})


def list_daemon_deployments(self: EC2ContainerServiceResponse) -> ActionResult:
    p = self._get_param
    with LOCK:
        daemon = _find_daemon(p("daemonArn"))
        found = [d for d in DEPLOYMENTS.values() if d.daemon is daemon]
        for d in found:
            d.advance(polled=False)
        if p("status"):
            found = [d for d in found if d.status in p("status")]
        found.sort(key=lambda d: d.created_at, reverse=True)
        start, size = int(p("nextToken") or 0), int(p("maxResults") or 20)
        out: dict[str, Any] = {"daemonDeployments": [d.summary() for d in found[start:start + size]]}
        if start + size < len(found):
            out["nextToken"] = str(start + size)
        return ActionResult(out)


def describe_daemon_revisions(self: EC2ContainerServiceResponse) -> ActionResult:
    revs, failures = [], []
    for arn in self._get_param("daemonRevisionArns") or []:
        if arn in REVISIONS:
            revs.append(_public(REVISIONS[arn]))
        else:
            failures.append({"arn": arn, "reason": "MISSING"})
    return ActionResult({"daemonRevisions": revs, "failures": failures})


def install() -> None:
    for fn in (register_daemon_task_definition, describe_daemon_task_definition, list_daemon_task_definitions,
               delete_daemon_task_definition, create_daemon, update_daemon, delete_daemon, describe_daemon, list_daemons,
               describe_daemon_deployments, list_daemon_deployments, describe_daemon_revisions):
        setattr(EC2ContainerServiceResponse, fn.__name__, fn)
