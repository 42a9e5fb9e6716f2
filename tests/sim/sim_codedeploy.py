"""CodeDeploy (ECS blue/green) patches for moto 5.2.5.

A deployment walks through phases, one step per GetDeployment/BatchGetDeployments call (poll mode) or
per step_seconds (time mode):

  Created -> Installing -> [Ready] -> Shifting -> [Terminating] -> Succeeded
                        \\-> Failed   (appspec text or the task definition's first image contains ':fail')

  * The ECS target's lifecycle events (LIFECYCLE, the AWS order) run one at a time, each Pending ->
    InProgress -> Succeeded: every step ends the current event and starts the next, so a poller sees
    each one InProgress. Installing runs BeforeInstall .. AfterAllowTestTraffic, Shifting
    BeforeAllowTraffic .. AfterAllowTraffic. A ':fail' deployment fails during Install (Install Failed,
    the later events Skipped).

  * Ready: only if the group's deploymentReadyOption.actionOnTimeout is STOP_DEPLOYMENT; it waits
    for ContinueDeployment(READY_WAIT).
  * Terminating: only if the group terminates the blue task set after a wait > 0 minutes;
    ContinueDeployment(TERMINATION_WAIT) or the next step ends it.
  * StopDeployment -> Stopped (rollbackInfo when autoRollbackEnabled).
The ECS service follows: a green task set appears at Installing, takes the traffic at Shifting and
becomes PRIMARY at the end (service.taskDefinition = the appspec's TaskDefinition).
Added operations: BatchGetDeploymentGroups, ContinueDeployment, StopDeployment, GetDeploymentTarget,
ListDeploymentTargets, BatchGetDeploymentTargets, ListDeploymentConfigs.
"""

from __future__ import annotations

import random
import string
from typing import Any

import yaml
from moto.codedeploy import models as cd_models
from moto.codedeploy import responses as cd_responses
from moto.codedeploy.exceptions import CodeDeployException, DeploymentDoesNotExistException
from moto.codedeploy.models import CodeDeployBackend
from moto.codedeploy.responses import CodeDeployResponse
from moto.core.responses import ActionResult, EmptyResult
from moto.ecs.models import TaskSet, ecs_backends

from sim_common import LOCK, Stepper, now
from sim_ecs import FAIL_MARK, _event

LIFECYCLE = [
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "AllowTestTraffic",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
]
# The events Installing runs (BeforeInstall .. AfterAllowTestTraffic); the Ready wait comes after them.
_TEST_TRAFFIC_DONE = LIFECYCLE.index("AfterAllowTestTraffic") + 1
_ALLOW_TRAFFIC = LIFECYCLE.index("AllowTraffic")
_STATUS = {"Installing": "InProgress", "Shifting": "InProgress", "Terminating": "InProgress"}
_TERMINAL = ("Succeeded", "Failed", "Stopped")
_DEFAULT_CONFIGS = [
    "CodeDeployDefault.ECSAllAtOnce",
    "CodeDeployDefault.ECSCanary10Percent5Minutes",
    "CodeDeployDefault.ECSCanary10Percent15Minutes",
    "CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes",
    "CodeDeployDefault.AllAtOnce",
    "CodeDeployDefault.HalfAtATime",
    "CodeDeployDefault.OneAtATime",
]


class _Error(CodeDeployException):
    code = 400

    def __init__(self, error_type: str, message: str):
        super().__init__(error_type, message)


def _appspec_text(revision: dict[str, Any]) -> str:
    content = (revision or {}).get("appSpecContent") or (revision or {}).get("string") or {}
    return content.get("content", "") if isinstance(content, dict) else ""


def _appspec_task_definition(text: str) -> str | None:
    try:
        spec = yaml.safe_load(text)  # JSON is YAML too
        for res in spec.get("Resources") or []:
            for value in res.values():
                td = (value.get("Properties") or {}).get("TaskDefinition")
                if td:
                    return str(td)
    except Exception:
        pass
    return None


class SimDeploymentInfo(cd_models.DeploymentInfo):
    __module__ = "moto.codedeploy.cortado_sim"  # moto's model registry derives the service from the module

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.deployment_id = "d-" + "".join(random.choices(string.ascii_uppercase + string.digits, k=9))
        self.phase = "Created"
        self.stepper = Stepper()
        self.error_information: dict[str, str] | None = None
        self.rollback_info: dict[str, str] | None = None
        self.previous_revision: dict[str, Any] | None = None
        self.phase_times: dict[str, Any] = {"Created": self.create_time}
        self.td_arn: str | None = None
        self.fail = False
        self.account_id = ""
        self.region_name = ""
        self.green: Any = None  # the replacement ECS task set
        self.last_updated = self.create_time
        # The ECS target's lifecycle events: how many Succeeded, and the status of the next one
        # ("" once none is under way: all done, or the rest Skipped after a failure).
        self.events_done = 0
        self.current_event = "Pending"
        self.event_times: dict[int, tuple[Any, Any]] = {}  # index -> (startTime, endTime)

    @property
    def status(self) -> str:
        return _STATUS.get(self.phase, self.phase)

    @status.setter
    def status(self, value: str) -> None:  # moto's __init__ sets "Created"
        pass

    # -- ECS side ------------------------------------------------------------------------------------
    def ecs_service(self) -> Any:
        services = self.deployment_group.ecs_services or []
        if not services or not self.account_id:
            return None
        backend = ecs_backends[self.account_id][self.region_name]
        key = f"{services[0].get('clusterName')}:{services[0].get('serviceName')}"
        return backend.services.get(key)

    def target_id(self) -> str:
        services = self.deployment_group.ecs_services or [{}]
        return f"{services[0].get('clusterName')}:{services[0].get('serviceName')}"

    def init_sim(self, account_id: str, region_name: str, previous: "SimDeploymentInfo | None") -> None:
        self.account_id, self.region_name = account_id, region_name
        text = _appspec_text(self.revision)
        self.fail = FAIL_MARK in text
        td_ref = _appspec_task_definition(text)
        if td_ref:
            try:
                td = ecs_backends[account_id][region_name].describe_task_definition(td_ref)
                self.td_arn = td.arn
                self.fail = self.fail or FAIL_MARK in (td.container_definitions[0].get("image") or "")
            except Exception:
                self.td_arn = td_ref
        if previous is not None:
            self.previous_revision = previous.revision

    def _bg(self) -> dict[str, Any]:
        return self.deployment_group.blue_green_deployment_configuration or {}

    def _traffic_percent(self) -> float:
        if self.phase in ("Terminating", "Succeeded"):
            return 100.0
        if self.phase == "Shifting" and self.events_done == _ALLOW_TRAFFIC:  # AllowTraffic InProgress
            name = str(self.deployment_config_name or "")
            return 10.0 if ("Canary" in name or "Linear" in name) else 100.0
        if self.phase == "Shifting" and self.events_done > _ALLOW_TRAFFIC:
            return 100.0
        return 0.0

    def _create_green(self) -> None:
        svc = self.ecs_service()
        if svc is None or not self.td_arn:
            return
        self.green = _task_set(svc, self.td_arn, "ACTIVE", self.deployment_id)
        svc.task_sets.append(self.green)
        _event(svc, f"has started {svc.desired_count} tasks in (task-set {self.green.id}).")

    def _finish_ecs(self, success: bool) -> None:
        svc = self.ecs_service()
        if svc is None or self.green is None:
            return
        if success:
            svc.task_sets[:] = [self.green]
            self.green.status = "PRIMARY"
            svc.task_definition = self.green.task_definition
            _event(svc, f"(deployment {self.deployment_id}) updated the primary task set.")
            _event(svc, "has reached a steady state.")
        else:
            svc.task_sets[:] = [ts for ts in svc.task_sets if ts is not self.green]
            _event(svc, f"has stopped {svc.desired_count} running tasks in (task-set {self.green.id}).")
        self.green = None

    # -- phases --------------------------------------------------------------------------------------
    def _start_event(self, t: Any) -> None:
        """The next lifecycle event starts (InProgress), or none is left."""
        if self.events_done < len(LIFECYCLE):
            self.current_event = "InProgress"
            self.event_times[self.events_done] = (t, None)
        else:
            self.current_event = ""

    def _end_event(self, status: str) -> None:
        """The current lifecycle event ends with `status` (Succeeded moves on to the next one)."""
        t = now()
        start = self.event_times.get(self.events_done, (t, None))[0]
        self.event_times[self.events_done] = (start, t)
        self.last_updated = t
        if status == "Succeeded":
            self.events_done += 1
        else:
            self.current_event = status

    def _enter(self, phase: str) -> None:
        self.phase = phase
        t = now()
        self.phase_times[phase] = t
        self.last_updated = t
        if phase == "Installing":
            self.start_time = t
            self._create_green()
            self._start_event(t)
        elif phase == "Shifting":
            self._start_event(t)
        elif phase == "Terminating":
            self.instance_termination_wait_time_started = True
        elif phase in _TERMINAL:
            self.complete_time = t
            if phase == "Succeeded":
                self.events_done, self.current_event = len(LIFECYCLE), ""
            elif self.current_event == "InProgress":  # Stopped: the running event fails, the rest are Skipped
                self._end_event("Failed")
            elif self.current_event == "Pending":
                self.current_event = ""
            self._finish_ecs(phase == "Succeeded")

    def _next_event(self) -> None:
        """One step: the current event Succeeded and the next one starts."""
        self._end_event("Succeeded")
        self._start_event(self.last_updated)

    def step(self) -> None:
        if self.phase == "Created":
            self._enter("Installing")
        elif self.phase == "Installing" and not (self.fail and LIFECYCLE[self.events_done] == "Install"):
            self._next_event()
            if self.events_done == _TEST_TRAFFIC_DONE:
                if (self._bg().get("deploymentReadyOption") or {}).get("actionOnTimeout") == "STOP_DEPLOYMENT":
                    self.current_event = "Pending"  # BeforeAllowTraffic waits for ContinueDeployment
                    self.event_times.pop(self.events_done, None)
                    self._enter("Ready")
                else:
                    self._enter("Shifting")
        elif self.phase == "Installing":
            if self.fail:
                self.error_information = {
                    "code": "ECS_UPDATE_ERROR",
                    "message": "The ECS service cannot reach a steady state: tasks failed to start "
                    "(Essential container in task exited).",
                }
                self._enter("Failed")
                rollback = self.auto_rollback_configuration or self.deployment_group.auto_rollback_configuration or {}
                if rollback.get("enabled") and "DEPLOYMENT_FAILURE" in (rollback.get("events") or []):
                    _rollback(cd_models.codedeploy_backends[self.account_id][self.region_name], self, "deployment failure")
        elif self.phase == "Shifting":
            self._next_event()
            if self.events_done < len(LIFECYCLE):
                return
            term = self._bg().get("terminateBlueInstancesOnDeploymentSuccess") or {}
            if term.get("action") == "TERMINATE" and int(term.get("terminationWaitTimeInMinutes") or 0) > 0:
                self._enter("Terminating")
            else:
                self._enter("Succeeded")
        elif self.phase == "Terminating":
            self._enter("Succeeded")

    def advance(self, polled: bool) -> None:
        with LOCK:
            n = self.stepper.due(polled)
            for _ in range(n):
                self.step()
            self.stepper.done(n)

    def target_status(self) -> str:
        return {"Created": "Pending", "Stopped": "Failed"}.get(self.phase, self.status)

    def overview(self) -> dict[str, int]:
        counts = {"Pending": 0, "InProgress": 0, "Succeeded": 0, "Failed": 0, "Skipped": 0, "Ready": 0}
        counts[self.target_status()] = 1
        return counts

    def lifecycle_events(self) -> list[dict[str, Any]]:
        """The ECS target's events as GetDeploymentTarget returns them: Succeeded up to the current
        one, which is InProgress (or Failed, or Pending while the deployment waits Ready), then Pending
        (Skipped after a failure or a stop)."""
        events = []
        for i, name in enumerate(LIFECYCLE):
            if i < self.events_done:
                status = "Succeeded"
            elif i == self.events_done and self.current_event:
                status = self.current_event
            else:
                status = "Skipped" if self.phase in ("Failed", "Stopped") else "Pending"
            event: dict[str, Any] = {"lifecycleEventName": name, "status": status}
            if status not in ("Pending", "Skipped"):
                start, end = self.event_times.get(i, (None, None))
                event["startTime"] = start or self.start_time or self.create_time
                if status != "InProgress":
                    event["endTime"] = end or self.last_updated
            events.append(event)
        return events


def _task_set(svc: Any, td_arn: str, status: str, external_id: str) -> TaskSet:
    ts = TaskSet(
        svc.arn,
        svc.cluster_arn,
        td_arn,
        svc._account_id,
        svc.region_name,
        external_id=external_id,
        network_configuration=svc.network_configuration or None,
        load_balancers=svc.load_balancers,
        launch_type=svc.launch_type,
        platform_version=svc.platform_version,
    )
    ts.service_arn, ts.cluster_arn, ts.status = svc.arn, svc.cluster_arn, status
    ts.started_by = "CodeDeploy"
    _scale_task_set(ts, svc.desired_count)
    return ts


def _scale_task_set(ts: TaskSet, desired: int) -> None:
    ts.computed_desired_count = ts.running_count = desired
    ts.pending_count = 0


def init_code_deploy_service(svc: Any) -> None:
    """A new CODE_DEPLOY service: one PRIMARY task set, steady at once."""
    svc.task_sets = [_task_set(svc, svc.task_definition, "PRIMARY", "")]
    scale_code_deploy_service(svc)
    _event(svc, "has reached a steady state.")


def scale_code_deploy_service(svc: Any) -> None:
    for ts in svc.task_sets:
        _scale_task_set(ts, svc.desired_count)
    svc.running_count, svc.pending_count = svc.desired_count, 0


# ---------------------------------------------------------------------------------- backend patches

_orig_create_deployment = CodeDeployBackend.create_deployment
_orig_list_deployments = CodeDeployBackend.list_deployments
_orig_deployment_info = cd_responses._deployment_info
_orig_group_info = cd_responses._deployment_group_info


def _group_deployments(backend: CodeDeployBackend, app: str, group: str) -> list[SimDeploymentInfo]:
    return [
        d
        for d in backend.deployments.values()
        if isinstance(d, SimDeploymentInfo) and d.application_name == app and d.deployment_group_name == group
    ]


def _sync_all(backend: CodeDeployBackend) -> None:
    for dep in list(backend.deployments.values()):
        if isinstance(dep, SimDeploymentInfo):
            dep.advance(polled=False)


def _create_deployment(self: CodeDeployBackend, application_name: str, deployment_group_name: str, *a: Any, **kw: Any) -> str:
    with LOCK:
        _sync_all(self)
        group_deps = _group_deployments(self, application_name, deployment_group_name or "")
        for dep in group_deps:
            if dep.phase not in _TERMINAL:
                raise _Error(
                    "DeploymentLimitExceededException",
                    f"The Deployment Group '{deployment_group_name}' already has an active Deployment "
                    f"'{dep.deployment_id}'",
                )
        deployment_id = _orig_create_deployment(self, application_name, deployment_group_name, *a, **kw)
        succeeded = [d for d in group_deps if d.phase == "Succeeded"]
        self.deployments[deployment_id].init_sim(
            self.account_id, self.region_name, succeeded[-1] if succeeded else None
        )
        return deployment_id


def _get_deployment(self: CodeDeployBackend, deployment_id: str) -> Any:
    dep = self.deployments.get(deployment_id)
    if dep is None:
        raise DeploymentDoesNotExistException(f"The deployment {deployment_id} does not exist with the user or AWS account.")
    if isinstance(dep, SimDeploymentInfo):
        dep.advance(polled=True)
    return dep


def _batch_get_deployments(self: CodeDeployBackend, deployment_ids: list[str]) -> list[Any]:
    return [_get_deployment(self, d) for d in deployment_ids if d in self.deployments]


def _list_deployments(self: CodeDeployBackend, *a: Any, **kw: Any) -> list[str]:
    _sync_all(self)
    return _orig_list_deployments(self, *a, **kw)


def _rollback(backend: CodeDeployBackend, dep: SimDeploymentInfo, why: str) -> None:
    """Record an automatic rollback: a finished codeDeployRollback deployment to the previous revision."""
    if dep.previous_revision is None:
        dep.rollback_info = {"rollbackMessage": f"Automatic rollback skipped: no previous successful deployment ({why})."}
        return
    rb = SimDeploymentInfo(
        dep.application, dep.deployment_group, dep.previous_revision, dep.deployment_config_name,
        f"Rollback of {dep.deployment_id}", None, None, None, None, None, None, "codeDeployRollback",
    )
    rb.account_id, rb.region_name = dep.account_id, dep.region_name
    rb.start_time = rb.complete_time = now()
    rb.phase = "Succeeded"
    rb.events_done, rb.current_event = len(LIFECYCLE), ""
    rb.rollback_info = {"rollbackTriggeringDeploymentId": dep.deployment_id}
    backend.deployments[rb.deployment_id] = rb
    dep.rollback_info = {
        "rollbackDeploymentId": rb.deployment_id,
        "rollbackMessage": f"Deployment {dep.deployment_id} was rolled back by {rb.deployment_id} ({why}).",
    }


def _deployment_info(deployment: Any) -> dict[str, Any]:
    info = _orig_deployment_info(deployment)
    if isinstance(deployment, SimDeploymentInfo):
        info["errorInformation"] = deployment.error_information or {}
        info["rollbackInfo"] = deployment.rollback_info or {}
        info["previousRevision"] = deployment.previous_revision or {}
        info["deploymentOverview"] = deployment.overview()
        info["deploymentStatusMessages"] = (
            [deployment.error_information["message"]] if deployment.error_information else []
        )
    return info


def _last(deps: list[SimDeploymentInfo]) -> dict[str, Any]:
    if not deps:
        return {}
    d = deps[-1]
    return {"deploymentId": d.deployment_id, "status": d.status, "endTime": d.complete_time, "createTime": d.create_time}


def _group_info(group: Any) -> dict[str, Any]:
    info = _orig_group_info(group)
    app, name = group.application.application_name, group.deployment_group_name
    deps: list[SimDeploymentInfo] = []
    for account in cd_models.codedeploy_backends.values():
        for backend in account.values():  # the one backend that owns this group object
            if backend.deployment_groups.get(app, {}).get(name) is group:
                deps = _group_deployments(backend, app, name)
    succeeded = [d for d in deps if d.phase == "Succeeded"]
    info["lastAttemptedDeployment"] = _last(deps)
    info["lastSuccessfulDeployment"] = _last(succeeded)
    info["targetRevision"] = succeeded[-1].revision if succeeded else {}
    return info


# --------------------------------------------------------------------------------- new operations


def _find(self: CodeDeployResponse) -> SimDeploymentInfo:
    deployment_id = self._get_param("deploymentId")
    dep = self.codedeploy_backend.deployments.get(deployment_id)
    if dep is None:
        raise DeploymentDoesNotExistException(f"The deployment {deployment_id} does not exist with the user or AWS account.")
    return dep


def batch_get_deployment_groups(self: CodeDeployResponse) -> ActionResult:
    app = self._get_param("applicationName")
    infos, missing = [], []
    for name in self._get_param("deploymentGroupNames") or []:
        try:
            infos.append(cd_responses._deployment_group_info(self.codedeploy_backend.get_deployment_group(app, name)))
        except CodeDeployException:
            missing.append(name)
    error = f"The deployment groups {', '.join(missing)} do not exist." if missing else ""
    return ActionResult({"deploymentGroupsInfo": infos, "errorMessage": error})


def continue_deployment(self: CodeDeployResponse) -> EmptyResult:
    with LOCK:
        dep = _find(self)
        dep.advance(polled=False)
        wait_type = self._get_param("deploymentWaitType") or "READY_WAIT"
        if wait_type == "TERMINATION_WAIT" and dep.phase == "Terminating":
            dep._enter("Succeeded")
        elif wait_type == "READY_WAIT" and dep.phase == "Ready":
            dep._enter("Shifting")
            dep.stepper.reset()
        elif dep.phase in _TERMINAL:
            raise _Error("DeploymentAlreadyCompletedException", f"The deployment {dep.deployment_id} has already completed.")
        else:
            raise _Error(
                "DeploymentIsNotInReadyStateException",
                f"The deployment {dep.deployment_id} is not in a ready state ({dep.status}).",
            )
    return EmptyResult()


def stop_deployment(self: CodeDeployResponse) -> ActionResult:
    with LOCK:
        dep = _find(self)
        dep.advance(polled=False)
        if dep.phase in _TERMINAL:
            raise _Error("DeploymentAlreadyCompletedException", f"The deployment {dep.deployment_id} has already completed.")
        dep.error_information = {"code": "MANUAL_STOP", "message": "The deployment was stopped by a user."}
        dep._enter("Stopped")
        if self._get_param("autoRollbackEnabled"):
            _rollback(self.codedeploy_backend, dep, "stopped by a user")
    return ActionResult({"status": "Succeeded", "statusMessage": f"Deployment {dep.deployment_id} stopped."})


def _ecs_target(dep: SimDeploymentInfo) -> dict[str, Any]:
    svc = dep.ecs_service()
    task_sets = []
    green_weight = dep._traffic_percent()
    pairs = ((dep.deployment_group.load_balancer_info or {}).get("targetGroupPairInfoList") or [{}])[0]
    tg_names = [tg.get("name") for tg in pairs.get("targetGroups") or []] + [None, None]
    if svc is not None:
        for ts in svc.task_sets:
            green = ts is dep.green or (ts.external_id == dep.deployment_id)
            label = "Green" if green else "Blue"
            task_sets.append(
                {
                    "identifer": ts.id,
                    "desiredCount": ts.computed_desired_count,
                    "pendingCount": ts.pending_count,
                    "runningCount": ts.running_count,
                    "status": ts.status,
                    "trafficWeight": green_weight if green else 100.0 - green_weight,
                    "targetGroup": {"name": tg_names[1] if green else tg_names[0]},
                    "taskSetLabel": label,
                }
            )
    return {
        "deploymentId": dep.deployment_id,
        "targetId": dep.target_id(),
        "targetArn": svc.arn if svc is not None else "",
        "lastUpdatedAt": dep.last_updated,
        "lifecycleEvents": dep.lifecycle_events(),
        "status": dep.target_status(),
        "taskSetsInfo": task_sets,
    }


def _target(self: CodeDeployResponse, dep: SimDeploymentInfo, target_id: str) -> dict[str, Any]:
    if target_id != dep.target_id():
        raise _Error("DeploymentTargetDoesNotExistException", f"The target {target_id} does not exist.")
    return {"deploymentTargetType": "ECSTarget", "ecsTarget": _ecs_target(dep)}


def get_deployment_target(self: CodeDeployResponse) -> ActionResult:
    with LOCK:
        dep = _find(self)
        return ActionResult({"deploymentTarget": _target(self, dep, self._get_param("targetId"))})


def batch_get_deployment_targets(self: CodeDeployResponse) -> ActionResult:
    with LOCK:
        dep = _find(self)
        targets = [_target(self, dep, t) for t in self._get_param("targetIds") or []]
        return ActionResult({"deploymentTargets": targets})


def list_deployment_targets(self: CodeDeployResponse) -> ActionResult:
    dep = _find(self)
    return ActionResult({"targetIds": [dep.target_id()] if dep.deployment_group.ecs_services else []})


def list_deployment_configs(self: CodeDeployResponse) -> ActionResult:
    return ActionResult({"deploymentConfigsList": _DEFAULT_CONFIGS})


def install() -> None:
    cd_models.DeploymentInfo = SimDeploymentInfo  # create_deployment() builds it through the module global
    CodeDeployBackend.create_deployment = _create_deployment
    CodeDeployBackend.get_deployment = _get_deployment
    CodeDeployBackend.batch_get_deployments = _batch_get_deployments
    CodeDeployBackend.list_deployments = _list_deployments
    cd_responses._deployment_info = _deployment_info
    cd_responses._deployment_group_info = _group_info
    for fn in (
        batch_get_deployment_groups,
        continue_deployment,
        stop_deployment,
        get_deployment_target,
        batch_get_deployment_targets,
        list_deployment_targets,
        list_deployment_configs,
    ):
        setattr(CodeDeployResponse, fn.__name__, fn)

