"""ECS service deployments (2025+): ServiceDeployment and ServiceRevision objects, the native BLUE_GREEN,
LINEAR and CANARY strategies with their lifecycle stages, bake times and hooks, and the five APIs
ListServiceDeployments, DescribeServiceDeployments, DescribeServiceRevisions, StopServiceDeployment and
ContinueServiceDeployment (moto has none of them). See README.md beside this file.

Every ECS-controller deployment that sim_ecs starts gets a ServiceDeployment (ROLLING ones too; they report
no lifecycle stage). A native deployment is a generator that advances one step per sim_ecs step: one stage
(or one wait inside a stage) per step, so that a poller sees every stage in order in poll mode. One
simulated minute (bake times, hook timeouts) is CLOCK.minute_steps steps.
"""

from __future__ import annotations

import math
import random
from typing import Any, Generator

from moto.core.responses import ActionResult
from moto.ecs.exceptions import ECSException
from moto.ecs.responses import EC2ContainerServiceResponse

from sim_common import CLOCK, LOCK, now

NATIVE = ("BLUE_GREEN", "LINEAR", "CANARY")
FINISHED = ("SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")
STOPPABLE = ("PENDING", "IN_PROGRESS")
# PAUSE hooks are refused at these two: they also run during a rollback.
NO_PAUSE = ("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")
HOOK_STAGES = (
    "RECONCILE_SERVICE", "PRE_SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT",
)

# Every deployment and revision, by ARN (ARNs carry region and account, so one table is enough).
DEPLOYMENTS: dict[str, "SimServiceDeployment"] = {}
REVISIONS: dict[str, dict[str, Any]] = {}


def _ecs():  # sim_ecs imports this module; import it lazily the other way round
    import sim_ecs

    return sim_ecs


def _hex(n: int = 20) -> str:
    return "".join(random.choice("0123456789abcdef") for _ in range(n))


def _arn(svc: Any, kind: str) -> str:
    return f"arn:aws:ecs:{svc.region_name}:{svc._account_id}:{kind}/{svc.cluster_name}/{svc.name}/{_hex()}"


def new_revision(svc: Any, dep: dict[str, Any]) -> dict[str, Any]:
    """A ServiceRevision: what the service runs in this deployment (task definition, network, LBs)."""
    backend = _ecs()._backend_of(svc)
    td = backend.describe_task_definition(dep["taskDefinition"])
    rev = {
        "serviceRevisionArn": _arn(svc, "service-revision"),
        "serviceArn": svc.arn,
        "clusterArn": _ecs()._cluster_arn(svc),
        "taskDefinition": td.arn,
        "capacityProviderStrategy": getattr(svc, "capacity_provider_strategy", None),
        "launchType": svc.launch_type,
        "platformVersion": svc.platform_version,
        "platformFamily": "Linux",
        "loadBalancers": list(svc.load_balancers or []),
        "serviceRegistries": list(svc.service_registries or []),
        "networkConfiguration": svc.network_configuration or None,
        "containerImages": [{"containerName": c.get("name"), "image": c.get("image")} for c in td.container_definitions],
        "guardDutyEnabled": False,
        "createdAt": now(),
    }
    REVISIONS[rev["serviceRevisionArn"]] = rev
    return rev


class SimServiceDeployment:
    """One ServiceDeployment. `dep` is sim_ecs's deployment (tasks, counts); `source` the ones it replaces."""

    def __init__(self, svc: Any, dep: dict[str, Any], sources: list[dict[str, Any]]):
        config = dict(getattr(svc, "deployment_configuration", None) or {})
        self.svc, self.dep, self.sources = svc, dep, sources
        self.strategy = config.get("strategy") or "ROLLING"
        self.config = config
        t = now()
        self.arn = _arn(svc, "service-deployment")
        self.created_at = self.started_at = self.updated_at = t
        self.finished_at = self.stopped_at = None
        self.status = "IN_PROGRESS"
        self.status_reason = "ECS deployment in progress."
        self.stage: str | None = None
        self.hooks: list[dict[str, Any]] = []  # lifecycleHookDetails, every hook invoked so far
        self.rollback: dict[str, Any] | None = None
        self.target = dep["_revision"]["serviceRevisionArn"]
        self.source_revisions = [s["_revision"]["serviceRevisionArn"] for s in sources if s.get("_revision")]
        # Traffic weights in percent, target revision against the sources.
        self.test_weight = 0.0
        self.prod_weight = 0.0
        breaker = config.get("deploymentCircuitBreaker") or {}
        self.breaker = {"status": "MONITORING" if breaker.get("enable") else "DISABLED", "failureCount": 0,
                        "threshold": CLOCK.fail_steps}
        alarms = config.get("alarms") or {}
        self.alarms = {"status": "MONITORING" if alarms.get("enable") else "DISABLED",
                       "alarmNames": list(alarms.get("alarmNames") or []), "triggeredAlarmNames": []}
        self.stop_type: str | None = None  # ROLLBACK or ABORT once StopServiceDeployment was called
        self.completed_early = False  # SUCCESSFUL by early success criteria (see early_success)
        self.healthy_steps = 0  # steps since the target reached its early success count (bake time)
        self.snapshot: tuple[dict[str, Any], list[dict[str, Any]]] | None = None  # counts at completion
        self.runner: Generator[None, None, None] | None = self._native() if self.strategy in NATIVE else None
        DEPLOYMENTS[self.arn] = self

    # ------------------------------------------------------------------------------------- views
    def _summary(self, arn: str, deps: list[dict[str, Any]], test: float, prod: float) -> dict[str, Any]:
        return {
            "arn": arn,
            "requestedTaskCount": sum(d.get("desiredCount", 0) for d in deps),
            "runningTaskCount": sum(len(_ecs()._live(d, "RUNNING")) for d in deps),
            "pendingTaskCount": sum(len(_ecs()._live(d, "PENDING")) for d in deps),
            "requestedTestTrafficWeight": test,
            "requestedProductionTrafficWeight": prod,
        }

    def view(self) -> dict[str, Any]:
        target, sources = self.snapshot or self._revision_summaries()
        out = {
            "serviceDeploymentArn": self.arn,
            "serviceArn": self.svc.arn,
            "clusterArn": _ecs()._cluster_arn(self.svc),
            "createdAt": self.created_at,
            "startedAt": self.started_at,
            "updatedAt": self.updated_at,
            "sourceServiceRevisions": sources,
            "targetServiceRevision": target,
            "status": self.status,
            "statusReason": self.status_reason,
            "lifecycleHookDetails": [{k: v for k, v in h.items() if not k.startswith("_")} for h in self.hooks],
            "deploymentConfiguration": self.config,
            "deploymentCircuitBreaker": self.breaker,
            "alarms": self.alarms,
        }
        if self.stage:
            out["lifecycleStage"] = self.stage
        for key, value in (("finishedAt", self.finished_at), ("stoppedAt", self.stopped_at), ("rollback", self.rollback)):
            if value is not None:
                out[key] = value
        return out

    def _revision_summaries(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        shifts = self.strategy in NATIVE
        target = self._summary(self.target, [self.dep], self.test_weight if shifts else 0.0,
                               self.prod_weight if shifts else 0.0)
        sources = [
            self._summary(arn, [s for s in self.sources if s["_revision"]["serviceRevisionArn"] == arn],
                          100.0 - self.test_weight if shifts else 0.0, 100.0 - self.prod_weight if shifts else 0.0)
            for arn in self.source_revisions
        ]
        return target, sources

    def brief(self) -> dict[str, Any]:
        out = {k: v for k, v in self.view().items() if k in (
            "serviceDeploymentArn", "serviceArn", "clusterArn", "startedAt", "createdAt", "finishedAt", "status",
            "statusReason")}
        out["targetServiceRevisionArn"] = self.target
        return out

    # ------------------------------------------------------------------------------- transitions
    def finish(self, status: str, reason: str) -> None:
        # After completion DescribeServiceDeployments' counts are a snapshot (AWS: use DescribeServices).
        self.snapshot = self._revision_summaries()
        self.status, self.status_reason = status, reason
        self.finished_at = self.updated_at = now()
        if status == "STOPPED":
            self.stopped_at = self.finished_at
        if self.breaker["status"] == "MONITORING":
            self.breaker["status"] = "MONITORING_COMPLETE"
        if self.alarms["status"] == "MONITORING":
            self.alarms["status"] = "MONITORING_COMPLETE"
        self.runner = None

    def step(self) -> bool:
        """One step of a native deployment (True: handled here, sim_ecs must not step it as ROLLING)."""
        if self.runner is None:
            return self.strategy in NATIVE or self.stop_type == "ABORT"
        self.updated_at = now()
        try:
            next(self.runner)
        except StopIteration:
            self.runner = None
        return True

    def request_stop(self, stop_type: str) -> None:
        self.stop_type = stop_type
        self.updated_at = now()
        if stop_type == "ABORT":
            self.status, self.status_reason = "STOP_REQUESTED", "Service deployment stop requested by a user."
            self.runner = self._abort()
            return
        self.status = "ROLLBACK_REQUESTED"
        self.status_reason = "Service deployment rollback requested by a user (StopServiceDeployment)."
        self.runner = self._rollback(self.status_reason, requested=True)

    # ---------------------------------------------------------------------------- the generators
    def _abort(self) -> Generator[None, None, None]:
        yield
        self.finish("STOPPED", "Service deployment stopped by a user (StopServiceDeployment ABORT).")

    def _rollback(self, reason: str, requested: bool = False) -> Generator[None, None, None]:
        """Traffic back to the source revision, green tasks stopped, the service back on its source."""
        sim = _ecs()
        if requested:
            yield
        self.status, self.status_reason = "ROLLBACK_IN_PROGRESS", reason
        previous = self.sources[0] if self.sources else None
        self.rollback = {"reason": reason, "startedAt": now(),
                         "serviceRevisionArn": previous["_revision"]["serviceRevisionArn"] if previous else self.target}
        if self.strategy not in NATIVE:
            # ROLLING: a new PRIMARY on the previous task definition; it reports here when it completes.
            last = getattr(self.svc, "_sim_last_completed", None)
            if last is None:
                self.finish("ROLLBACK_FAILED", f"{reason} No previous deployment to roll back to.")
                return
            self.dep["status"] = "ACTIVE"
            self.dep["rolloutState"] = "FAILED"
            self.dep["rolloutStateReason"] = reason
            sim._new_deployment(self.svc, last[1], rollback_of=self)
            self.runner = None
            return
        yield
        self.test_weight = self.prod_weight = 0.0
        self.stage = "PRODUCTION_TRAFFIC_SHIFT"
        yield
        self.stage = "CLEAN_UP"
        yield
        for task in sim._live(self.dep):
            task.sim_stop(143, "ServiceSchedulerInitiated", "Service deployment rolled back")
        self.dep["rolloutState"], self.dep["rolloutStateReason"] = "FAILED", reason
        self.svc.deployments[:] = [d for d in self.svc.deployments if d is not self.dep]
        if previous is not None:
            previous["status"] = "PRIMARY"
            self.svc.task_definition = previous["taskDefinition"]
            self.svc.current_service_deployment = self.arn
        sim._recount(self.svc)
        sim._event(self.svc, f"(service deployment {self.arn}) rolled back: {reason}")
        self.finish("ROLLBACK_SUCCESSFUL", reason)  # the service's PRIMARY is the source again: no more steps here

    def _fail(self, reason: str) -> Generator[None, None, None]:
        yield from self._rollback(reason)

    def _native(self) -> Generator[None, None, None]:
        sim = _ecs()
        if (yield from self._stage("RECONCILE_SERVICE")):
            return
        if (yield from self._stage("PRE_SCALE_UP")):
            return
        # SCALE_UP: the green tasks start, one per step; a ':fail' image trips the circuit breaker.
        self.stage = "SCALE_UP"
        sim._launch(self.svc, self.dep, max(0, self.svc.desired_count - len(sim._live(self.dep))))
        sim._recount(self.svc)
        yield
        while True:
            failed = self._scale_up_step()
            if failed:
                yield from self._fail(failed)
                return
            if self.dep["runningCount"] >= self.svc.desired_count:
                break
            yield
        if (yield from self._stage("POST_SCALE_UP")):
            return
        self.test_weight = 100.0
        if (yield from self._stage("TEST_TRAFFIC_SHIFT")):
            return
        if (yield from self._stage("POST_TEST_TRAFFIC_SHIFT")):
            return
        for weight, bake in self._production_steps():
            if (yield from self._stage("PRODUCTION_TRAFFIC_SHIFT", pre="PRE_PRODUCTION_TRAFFIC_SHIFT")):
                return
            self.prod_weight = weight
            sim._event(self.svc, f"(service deployment {self.arn}) production traffic {weight:g}% to the new revision.")
            for _ in range(bake):
                alarm = self._alarm()
                if alarm:
                    yield from self._fail(alarm)
                    return
                yield
        if (yield from self._stage("POST_PRODUCTION_TRAFFIC_SHIFT")):
            return
        self.stage = "BAKE_TIME"
        for _ in range(self._minutes(self.config.get("bakeTimeInMinutes"), 0)):
            alarm = self._alarm()
            if alarm:
                yield from self._fail(alarm)
                return
            yield
        alarm = self._alarm()
        if alarm:
            yield from self._fail(alarm)
            return
        self.stage = "CLEAN_UP"
        yield
        sim._complete(self.svc, self.dep)
        sim._recount(self.svc)
        self.finish("SUCCESSFUL", "Service deployment completed.")

    def _minutes(self, minutes: Any, default: float) -> int:
        m = default if minutes is None else float(minutes)
        return int(math.ceil(m * CLOCK.minute_steps))

    def _production_steps(self) -> list[tuple[float, int]]:
        """(production weight after the step, bake steps after it) for each production shift."""
        if self.strategy == "LINEAR":
            lc = self.config.get("linearConfiguration") or {}
            pct = float(lc.get("stepPercent") or 10.0)
            bake = self._minutes(lc.get("stepBakeTimeInMinutes"), 6)
            steps, w = [], 0.0
            while w < 100.0:
                w = min(100.0, round(w + pct, 1))
                steps.append((w, bake if w < 100.0 else 0))
            return steps
        if self.strategy == "CANARY":
            cc = self.config.get("canaryConfiguration") or {}
            return [(float(cc.get("canaryPercent") or 5.0), self._minutes(cc.get("canaryBakeTimeInMinutes"), 10)), (100.0, 0)]
        return [(100.0, 0)]

    def _scale_up_step(self) -> str | None:
        sim = _ecs()
        if self.dep["_fail"]:
            pending = sim._live(self.dep, "PENDING") or sim._launch(self.svc, self.dep, 1)
            task = pending[0]
            task.sim_stop(1, "EssentialContainerExited", sim.EXITED_REASON, write_logs=True)
            self.dep["failedTasks"] += 1
            self.breaker["failureCount"] += 1
            sim._event(self.svc, f"has stopped 1 running tasks: (task {task.id}). Reason: {sim.EXITED_REASON}")
            sim._launch(self.svc, self.dep, 1)
            sim._recount(self.svc)
            if self.breaker["failureCount"] >= self.breaker["threshold"]:
                self.breaker["status"] = "TRIGGERED"
                return "ECS deployment circuit breaker: tasks failed to start."
            return None
        pending = sim._live(self.dep, "PENDING")
        if pending:
            pending[0].sim_run()
        sim._recount(self.svc)
        return None

    def _alarm(self) -> str | None:
        """An alarm rolls back once production traffic reaches the new revision (names with 'fail' fire)."""
        if self.alarms["status"] != "MONITORING" or self.prod_weight <= 0:
            return None
        fired = [n for n in self.alarms["alarmNames"] if "fail" in n] or _alarms_in_alarm(self.svc, self.alarms["alarmNames"])
        if not fired:
            return None
        self.alarms["status"] = "TRIGGERED"
        self.alarms["triggeredAlarmNames"] = fired
        return f"Service deployment rolled back because alarm(s) {', '.join(fired)} went into ALARM state."

    def _stage(self, stage: str, pre: str | None = None) -> Generator[None, None, bool]:
        """Enter `stage` (one step), then run the hooks of `pre` (reported in `stage`) and of `stage`.
        Returns True when a hook rolled the deployment back."""
        self.stage = stage
        yield
        for hook_stage in ([pre] if pre else []) + [stage]:
            hooks = [h for h in self.config.get("lifecycleHooks") or [] if hook_stage in (h.get("lifecycleStages") or [])]
            if not hooks:
                continue
            details = [self._invoke(h, hook_stage) for h in hooks]
            while True:
                for d in details:
                    self._progress_hook(d)
                bad = [d for d in details if d["status"] in ("FAILED", "TIMED_OUT") and d.get("_rollback")]
                if bad:
                    d = bad[0]
                    why = {"FAILED": "failed", "TIMED_OUT": "timed out"}[d["status"]]
                    what = "lifecycle hook" if d["targetType"] == "AWS_LAMBDA" else "pause hook"
                    reason = d.get("_reason") or f"The {what} {d['targetArn'] or d['hookId']} {why} at {hook_stage}."
                    yield from self._fail(reason)
                    return True
                if all(d["status"] in ("SUCCEEDED", "TIMED_OUT", "FAILED") for d in details):
                    break
                yield
        return False

    def _invoke(self, hook: dict[str, Any], stage: str) -> dict[str, Any]:
        pause = hook.get("targetType") == "PAUSE"
        timeout = hook.get("timeoutConfiguration") or {}
        minutes = float(timeout.get("timeoutInMinutes") or 60)
        detail = {
            "hookId": f"ecs-pause-{_hex(16)}" if pause else f"ecs-lambda-{_hex(16)}",
            "targetType": "PAUSE" if pause else "AWS_LAMBDA",
            "targetArn": hook.get("hookTargetArn") or "",
            "status": "AWAITING_ACTION" if pause else "IN_PROGRESS",
            "_stage": stage,
            "_left": self._minutes(minutes, 60) if pause else 1,
            "_timeout_action": (timeout.get("action") or "ROLLBACK") if pause else "ROLLBACK",
        }
        if pause:
            from datetime import timedelta

            detail["expiresAt"] = now() + timedelta(minutes=minutes)
            detail["timeoutAction"] = detail["_timeout_action"]
            _ecs()._event(self.svc, f"(service deployment {self.arn}) paused at {stage}: hook {detail['hookId']} awaits action.")
        self.hooks.append(detail)
        return detail

    def _progress_hook(self, d: dict[str, Any]) -> None:
        if d["status"] not in ("IN_PROGRESS", "AWAITING_ACTION"):
            return
        if d["targetType"] == "AWS_LAMBDA":
            # The Lambda answers on the next step: SUCCEEDED, or FAILED when its ARN names 'fail'.
            d["_left"] -= 1
            if d["_left"] < 0:
                failed = "fail" in d["targetArn"]
                d["status"] = "FAILED" if failed else "SUCCEEDED"
                d["_rollback"] = failed
            return
        d["_left"] -= 1
        if d["_left"] < 0:
            d["status"] = "TIMED_OUT"
            d["_rollback"] = d["_timeout_action"] == "ROLLBACK"
            d["_reason"] = f"The pause hook {d['hookId']} timed out at {d['_stage']} (timeout action {d['_timeout_action']})."

    def continue_hook(self, hook_id: str, action: str) -> None:
        d = next((h for h in self.hooks if h["hookId"] == hook_id), None)
        if d is None:
            raise ECSException("InvalidParameterException", f"The hook {hook_id} is not part of service deployment {self.arn}.")
        if d["status"] != "AWAITING_ACTION" or d["targetType"] != "PAUSE":
            raise ECSException("InvalidParameterException", f"The hook {hook_id} is not awaiting action (status {d['status']}).")
        if action == "ROLLBACK":
            d["status"], d["_rollback"] = "FAILED", True
            d["_reason"] = f"Rolled back at {d['_stage']} by ContinueServiceDeployment (hook {hook_id})."
        else:
            d["status"] = "SUCCEEDED"
        self.updated_at = now()


def _alarms_in_alarm(svc: Any, names: list[str]) -> list[str]:
    """CloudWatch alarms (moto) of these names in state ALARM."""
    try:
        from moto.cloudwatch.models import cloudwatch_backends

        alarms = cloudwatch_backends[svc._account_id][svc.region_name].alarms
        return [n for n in names if n in alarms and alarms[n].state_value == "ALARM"]
    except Exception:
        return []


# ------------------------------------------------------------------------------ sim_ecs callbacks


def on_new_deployment(svc: Any, dep: dict[str, Any], rollback_of: SimServiceDeployment | None) -> None:
    """sim_ecs started `dep`: give it a revision and (unless it is a ROLLING rollback) a ServiceDeployment."""
    dep["_revision"] = new_revision(svc, dep)
    svc.current_service_revisions = [{"arn": dep["_revision"]["serviceRevisionArn"], "requestedTaskCount": svc.desired_count,
                                      "runningTaskCount": 0, "pendingTaskCount": 0}]
    if rollback_of is not None:
        dep["_sd"] = rollback_of
        dep["_rollback_of"] = rollback_of
        return
    sources = [d for d in svc.deployments if d is not dep and d.get("_revision")]
    sd = SimServiceDeployment(svc, dep, sources)
    for other in DEPLOYMENTS.values():  # a new deployment stops the one still in progress
        if other.svc is svc and other is not sd and other.status in STOPPABLE:
            other.finish("STOPPED", f"Service deployment superseded by {sd.arn}.")
    dep["_sd"] = sd
    svc.current_service_deployment = sd.arn


def on_complete(svc: Any, dep: dict[str, Any]) -> None:
    """A ROLLING deployment (or a ROLLING rollback) reached its desired count."""
    sd: SimServiceDeployment | None = dep.get("_sd")
    if sd is None or sd.status in FINISHED:
        return
    if dep.get("_rollback_of") is sd:
        sd.finish("ROLLBACK_SUCCESSFUL", sd.status_reason)
    elif sd.strategy not in NATIVE:
        sd.finish("SUCCESSFUL", "Service deployment completed.")


def early_success(svc: Any, dep: dict[str, Any]) -> bool:
    """AWS's four-part rule for a ROLLING deployment whose earlySuccessCriteria are enabled: it
    completes once (1) ceil(healthyPercent x desiredCount / 100) target tasks run, (2) neither the
    circuit breaker nor an alarm has fired, (3) the bake time has elapsed since (1) when alarms roll
    back, and (4) with BLOCKING cleanup, no source task is left. Called after each rolling step."""
    sd: SimServiceDeployment | None = dep.get("_sd")
    if sd is None or sd.strategy in NATIVE or sd.status != "IN_PROGRESS" or dep.get("_rollback_of") is sd:
        return False
    esc = sd.config.get("earlySuccessCriteria") or {}
    if not esc.get("enable") or dep["rolloutState"] != "IN_PROGRESS" or dep["_fail"]:
        return False
    sim = _ecs()
    need = math.ceil(float(esc.get("healthyPercent", 100)) * svc.desired_count / 100)
    if len(sim._live(dep, "RUNNING")) < need:
        sd.healthy_steps = 0
        return False
    if sd.breaker["status"] == "TRIGGERED" or sd.alarms["status"] == "TRIGGERED":
        return False
    alarms = sd.config.get("alarms") or {}
    if alarms.get("enable") and alarms.get("rollback"):
        fired = [n for n in sd.alarms["alarmNames"] if "fail" in n] or _alarms_in_alarm(svc, sd.alarms["alarmNames"])
        if fired:
            return False
        sd.healthy_steps += 1
        if sd.healthy_steps <= sd._minutes(sd.config.get("bakeTimeInMinutes"), 0):
            return False
    if (esc.get("sourceServiceRevisionCleanup") or "BLOCKING") == "BLOCKING":
        if any(sim._live(d) for d in svc.deployments if d is not dep):
            return False
    return True


def complete_early(svc: Any, dep: dict[str, Any]) -> None:
    """The ServiceDeployment is SUCCESSFUL now; ECS goes on scaling the target and draining the sources."""
    sd: SimServiceDeployment = dep["_sd"]
    sd.completed_early = True
    esc = sd.config.get("earlySuccessCriteria") or {}
    sd.finish("SUCCESSFUL", f"Service deployment completed by early success criteria (healthyPercent "
                            f"{esc.get('healthyPercent')}, sourceServiceRevisionCleanup {esc.get('sourceServiceRevisionCleanup')}).")


def validate_early_success(config: dict[str, Any] | None) -> None:
    """CreateService/UpdateService refuse early success criteria outside ROLLING or out of bounds."""
    esc = (config or {}).get("earlySuccessCriteria") or {}
    if not esc.get("enable"):
        return
    if (config or {}).get("strategy", "ROLLING") != "ROLLING":
        raise ECSException("InvalidParameterException", "earlySuccessCriteria is only supported for the ROLLING deployment strategy.")
    hp, low = esc.get("healthyPercent"), (config or {}).get("minimumHealthyPercent", 100)
    if hp is None or esc.get("sourceServiceRevisionCleanup") not in ("BLOCKING", "DEFERRED"):
        raise ECSException("InvalidParameterException", "earlySuccessCriteria needs healthyPercent and sourceServiceRevisionCleanup.")
    if not low <= hp <= 100:
        raise ECSException("InvalidParameterException", f"healthyPercent {hp} must be between minimumHealthyPercent ({low}) and 100.")


def on_fail(svc: Any, dep: dict[str, Any], reason: str, rolled_back: bool) -> None:
    """The circuit breaker failed a ROLLING deployment; sim_ecs starts the rollback deployment itself."""
    sd: SimServiceDeployment | None = dep.get("_sd")
    if sd is None or sd.status in FINISHED:
        return
    sd.breaker["status"] = "TRIGGERED"
    sd.breaker["failureCount"] = dep.get("failedTasks", 0)
    if rolled_back:
        sd.status, sd.status_reason = "ROLLBACK_IN_PROGRESS", reason
        sd.rollback = {"reason": reason, "startedAt": now(), "serviceRevisionArn": sd.source_revisions[0] if sd.source_revisions else sd.target}
    else:
        sd.finish("STOPPED", reason)


def step(svc: Any, dep: dict[str, Any]) -> bool:
    """sim_ecs's step for the PRIMARY deployment: True when the ServiceDeployment did the step."""
    sd: SimServiceDeployment | None = dep.get("_sd")
    if sd is None or dep.get("_rollback_of") is sd:
        return False
    return sd.step()


# -------------------------------------------------------------------------------- the five APIs


def _find(arn: str) -> SimServiceDeployment:
    sd = DEPLOYMENTS.get(arn or "")
    if sd is None:
        raise ECSException("ServiceDeploymentNotFoundException", f"The service deployment {arn} does not exist.")
    return sd


def _advance(sd: SimServiceDeployment, polled: bool) -> None:
    _ecs().advance(sd.svc, polled=polled)


def list_service_deployments(self: EC2ContainerServiceResponse) -> ActionResult:
    p = self._get_param
    cluster = (p("cluster") or "default").split("/")[-1]
    service = (p("service") or "").split("/")[-1]
    with LOCK:
        svc = self.ecs_backend._get_service(cluster, service)
        _ecs().ensure_sim(svc)
        _ecs().advance(svc, polled=False)
        wanted = p("status") or []
        created = p("createdAt") or {}
        found = [sd for sd in DEPLOYMENTS.values() if sd.svc is svc and (not wanted or sd.status in wanted)]
        after, before = created.get("after"), created.get("before")
        found = [sd for sd in found if (after is None or sd.created_at.timestamp() >= _epoch(after))
                 and (before is None or sd.created_at.timestamp() <= _epoch(before))]
        found.sort(key=lambda sd: sd.created_at, reverse=True)  # newest first
        start = int(p("nextToken") or 0)
        size = int(p("maxResults") or 20)
        page = found[start:start + size]
        out: dict[str, Any] = {"serviceDeployments": [sd.brief() for sd in page]}
        if start + size < len(found):
            out["nextToken"] = str(start + size)
        return ActionResult(out)


def _epoch(v: Any) -> float:
    if isinstance(v, (int, float)):
        return float(v)
    from datetime import datetime

    return datetime.fromisoformat(str(v).replace("Z", "+00:00")).timestamp()


def describe_service_deployments(self: EC2ContainerServiceResponse) -> ActionResult:
    """Unknown ARNs are failures (MISSING). In poll mode each call advances the services by one step."""
    with LOCK:
        found, failures, stepped = [], [], set()
        for arn in self._get_param("serviceDeploymentArns") or []:
            sd = DEPLOYMENTS.get(arn)
            if sd is None:
                failures.append({"arn": arn, "reason": "MISSING"})
                continue
            if id(sd.svc) not in stepped:
                stepped.add(id(sd.svc))
                _advance(sd, polled=True)
            found.append(sd.view())
        return ActionResult({"serviceDeployments": found, "failures": failures})


def describe_service_revisions(self: EC2ContainerServiceResponse) -> ActionResult:
    revs, failures = [], []
    for arn in self._get_param("serviceRevisionArns") or []:
        if arn in REVISIONS:
            revs.append(REVISIONS[arn])
        else:
            failures.append({"arn": arn, "reason": "MISSING"})
    return ActionResult({"serviceRevisions": revs, "failures": failures})


def stop_service_deployment(self: EC2ContainerServiceResponse) -> ActionResult:
    """PENDING/IN_PROGRESS → ROLLBACK_REQUESTED (or STOP_REQUESTED for ABORT); otherwise ConflictException."""
    stop_type = self._get_param("stopType") or "ROLLBACK"
    if stop_type not in ("ROLLBACK", "ABORT"):
        raise ECSException("InvalidParameterException", f"stopType {stop_type} is not ROLLBACK or ABORT.")
    with LOCK:
        sd = _find(self._get_param("serviceDeploymentArn"))
        _advance(sd, polled=False)
        if sd.status not in STOPPABLE:
            raise ECSException("ConflictException", f"The service deployment {sd.arn} is {sd.status} and cannot be stopped.")
        sd.request_stop(stop_type)
        return ActionResult({"serviceDeploymentArn": sd.arn})


def continue_service_deployment(self: EC2ContainerServiceResponse) -> ActionResult:
    """The deployment must be IN_PROGRESS and the hook a PAUSE hook AWAITING_ACTION."""
    action = self._get_param("action") or "CONTINUE"
    if action not in ("CONTINUE", "ROLLBACK"):
        raise ECSException("InvalidParameterException", f"action {action} is not CONTINUE or ROLLBACK.")
    hook_id = self._get_param("hookId")
    if not hook_id:
        raise ECSException("InvalidParameterException", "hookId is required.")
    with LOCK:
        sd = _find(self._get_param("serviceDeploymentArn"))
        _advance(sd, polled=False)
        if sd.status != "IN_PROGRESS":
            raise ECSException("InvalidParameterException", f"The service deployment {sd.arn} is {sd.status}, not IN_PROGRESS.")
        sd.continue_hook(hook_id, action)
        return ActionResult({"serviceDeploymentArn": sd.arn})


def validate_hooks(config: dict[str, Any] | None) -> None:
    """CreateService/UpdateService refuse PAUSE hooks at the two traffic-shift stages, as ECS does."""
    for hook in (config or {}).get("lifecycleHooks") or []:
        for stage in hook.get("lifecycleStages") or []:
            if stage not in HOOK_STAGES:
                raise ECSException("InvalidParameterException", f"Invalid lifecycle stage {stage}.")
            if hook.get("targetType") == "PAUSE" and stage in NO_PAUSE:
                raise ECSException("InvalidParameterException", f"PAUSE lifecycle hooks are not supported at {stage}.")
        if hook.get("targetType") == "AWS_LAMBDA" and not hook.get("hookTargetArn"):
            raise ECSException("InvalidParameterException", "An AWS_LAMBDA lifecycle hook needs a hookTargetArn.")


def install() -> None:
    for fn in (list_service_deployments, describe_service_deployments, describe_service_revisions,
               stop_service_deployment, continue_service_deployment):
        setattr(EC2ContainerServiceResponse, fn.__name__, fn)
