"""ECS patches for moto 5.2.5: services that deploy step by step, fail, roll back; tasks that run and exit.

Services (deploymentController ECS)
  * CreateService keeps the fields moto drops and starts a first deployment.
  * UpdateService with a new task definition (stored as its full ARN), forceNewDeployment or a changed
    network/platform/load-balancer setting starts a new PRIMARY deployment; the old one becomes ACTIVE.
  * Each step (one DescribeServices call in poll mode, step_seconds in time mode) moves one task of the
    PRIMARY deployment from PENDING to RUNNING and stops one task of the ACTIVE ones. At desiredCount the
    deployment is COMPLETED, ACTIVE ones are dropped and "has reached a steady state." is logged.
  * A deployment whose first container image contains ':fail' loses one task per step (failedTasks + 1)
    and is FAILED after CLOCK.fail_steps steps; with the circuit breaker's rollback it becomes ACTIVE and a
    new PRIMARY on the last COMPLETED task definition takes over.
  * Service tasks are real (fake) moto tasks: group service:NAME, startedBy the deployment id.

Tasks (RunTask)
  * Fixes moto's 500s (no container-level memory; VPC without DNS hostnames).
  * PROVISIONING -> RUNNING (for cortado.sim/running-steps steps, default 1) -> DEPROVISIONING -> STOPPED,
    with exit codes from the container's dockerLabels and log lines written to its awslogs stream.
  * ExecuteCommand (moto has none): a session for a RUNNING task with enableExecuteCommand.
"""

from __future__ import annotations

import json
import random
import time
from types import SimpleNamespace
from typing import Any

from moto.ec2.models.elastic_network_interfaces import NetworkInterface
from moto.ecs import models as ecs_models
from moto.ecs.exceptions import ECSException, InvalidParameterException
from moto.ecs.models import EC2ContainerServiceBackend, Service, ecs_backends
from moto.ecs.responses import EC2ContainerServiceResponse

import sim_deployments
from sim_common import CLOCK, LOCK, Stepper, at, new_id, now

LABEL_EXIT = "cortado.sim/exit-code"
LABEL_LOGS = "cortado.sim/log-lines"
LABEL_RUN_STEPS = "cortado.sim/running-steps"
LABEL_STOP_EXIT = "cortado.sim/stop-exit-code"

FAIL_MARK = ":fail"
# Service ARN -> UpdateService calls that started a deployment while another was IN_PROGRESS.
OVERLAPS: dict[str, int] = {}
EXITED_REASON = "Essential container in task exited"

_DEFAULT_DEPLOYMENT_CONFIGURATION = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}
# UpdateService fields whose change makes ECS start a new deployment.
_REDEPLOY_FIELDS = (
    "service_connect_configuration",
    "volume_configurations",
    "network_configuration",
    "platform_version",
    "capacity_provider_strategy",
    "load_balancers",
    "service_registries",
    "service_connect_configuration",
)


class ServiceNotActiveException(ECSException):
    code = "ServiceNotActiveException"
    message = "Service was not ACTIVE."


def _labels(container_def: dict[str, Any]) -> dict[str, str]:
    return container_def.get("dockerLabels") or {}


def _int_label(container_def: dict[str, Any], key: str, default: int) -> int:
    try:
        return int(_labels(container_def).get(key, default))
    except (TypeError, ValueError):
        return default


# --------------------------------------------------------------------------------------------- tasks


class SimContainer:
    """One container of a task, serialised by moto through its attribute names."""

    def __init__(self, task: "SimTask", cdef: dict[str, Any]):
        self.cdef = cdef
        self.container_arn = f"{task.task_arn.replace(':task/', ':container/')}/{new_id()}"
        self.task_arn = task.task_arn
        self.name = cdef.get("name")
        self.image = cdef.get("image")
        self.runtime_id = None
        self.last_status = "PENDING"
        self.exit_code: int | None = None
        self.reason: str | None = None
        self.health_status = "UNKNOWN"
        self.cpu = str(cdef.get("cpu", 0))
        self.memory = str(cdef["memory"]) if cdef.get("memory") else None
        self.memory_reservation = str(cdef["memoryReservation"]) if cdef.get("memoryReservation") else None
        self.network_bindings: list[Any] = []
        self.network_interfaces: list[dict[str, Any]] = []
        for att in task.attachments:
            details = {d["name"]: d["value"] for d in att.get("details", [])}
            self.network_interfaces.append(
                {"attachmentId": att["id"], "privateIpv4Address": details.get("privateIPv4Address")}
            )


class SimTask(ecs_models.Task):
    """moto's Task with a lifecycle we control (poll or time based) and realistic stop data."""

    __module__ = "moto.ecs.cortado_sim"  # moto's model registry derives the service from the module

    def __init__(self, *args: Any, **kwargs: Any):
        self._sim_ready = False
        if "networking_configuration" in kwargs:
            kwargs["networking_configuration"] = _with_default_security_group(
                kwargs["networking_configuration"], kwargs.get("backend"))
        super().__init__(*args, **kwargs)
        self.id = new_id().replace("-", "")  # AWS task ids are 32 hex digits
        td = kwargs.get("task_definition") or args[1]
        self._td = td
        self._sim_ticks = 0
        self._sim_t0 = time.monotonic()
        self._sim_managed = False  # service task: phases are set by the service simulation
        self._phase = "PROVISIONING"
        self._desired = "RUNNING"
        self._logs_written = False
        self.created_at = now()
        self.started_at = None
        self.pull_started_at = None
        self.pull_stopped_at = None
        self.stopping_at = None
        self.execution_stopped_at = None
        self.stopped_at = None
        self.stop_code: str | None = None
        self.stopped_reason: str | None = None
        self.connectivity: str | None = None
        self.connectivity_at = None
        self.version = 1
        self.cpu = td.cpu
        self.memory = td.memory
        self.enable_execute_command = False
        self.health_status = "UNKNOWN"
        self.ephemeral_storage = getattr(td, "ephemeral_storage", None)
        fargate = self.launch_type == "FARGATE" or self.capacity_provider_name in ("FARGATE", "FARGATE_SPOT")
        if fargate:
            self.platform_family = "Linux"
            if self.platform_version in (None, "", "LATEST"):
                self.platform_version = "1.4.0"
        self.availability_zone = self._find_az()
        for att in self.attachments:
            for detail in att.get("details", []):
                if detail["name"] == "privateDnsName" and not detail.get("value"):
                    ip = next(d["value"] for d in att["details"] if d["name"] == "privateIPv4Address")
                    detail["value"] = f"ip-{ip.replace('.', '-')}.{self.region_name}.compute.internal"
        self.containers = [SimContainer(self, cdef) for cdef in td.container_definitions]
        self._sim_ready = True

    def _find_az(self) -> str | None:
        try:
            from moto.ec2.models import ec2_backends

            subnet_id = self.network_configuration["awsvpcConfiguration"]["subnets"][0]
            subnet = ec2_backends[self._account_id][self.region_name].get_subnet(subnet_id)
            return subnet.availability_zone
        except Exception:
            return None

    # moto's ManagedState tick: one per DescribeTasks that includes this task.
    def advance(self) -> None:
        self._sim_ticks += 1

    # Getters do not advance anything: the state moves only in sim_sync(), called before a response is
    # built, so one response never mixes two states (moto serialises after the handler returns).
    @property  # type: ignore[override]
    def status(self) -> str:
        return self._phase if getattr(self, "_sim_ready", False) else "PROVISIONING"

    @status.setter
    def status(self, value: str) -> None:
        if getattr(self, "_sim_ready", False) and value == "STOPPED":
            self.sim_stop(None, "UserInitiated", "Task stopped by user")
        elif getattr(self, "_sim_ready", False):
            self._phase = value

    @property  # type: ignore[override]
    def last_status(self) -> str:
        return self.status

    @last_status.setter
    def last_status(self, value: str) -> None:
        self.status = value

    @property
    def desired_status(self) -> str:
        return getattr(self, "_desired", "RUNNING")

    @desired_status.setter
    def desired_status(self, value: str) -> None:
        self._desired = value

    # -- lifecycle ----------------------------------------------------------------------------------
    def _running_steps(self) -> int:
        return max(0, max(_int_label(c, LABEL_RUN_STEPS, 1) for c in self._td.container_definitions))

    def sim_sync(self) -> None:
        if not getattr(self, "_sim_ready", False) or self._sim_managed or self._phase == "STOPPED":
            return
        with LOCK:
            if CLOCK.mode == "poll":
                idx = self._sim_ticks
            else:
                idx = int((time.monotonic() - self._sim_t0) / CLOCK.step_seconds)
            run_steps = self._running_steps()
            if idx >= 1 and self._phase == "PROVISIONING":
                self.sim_run()
            if idx >= run_steps + 1 and self._phase == "RUNNING":
                self._exit_naturally()
            if idx >= run_steps + 2 and self._phase == "DEPROVISIONING":
                self._phase = "STOPPED"
                self.stopped_at = now()

    def sim_pending(self) -> None:
        self._phase = "PENDING"

    def sim_run(self) -> None:
        t = now()
        self._phase = "RUNNING"
        self.pull_started_at = self.pull_started_at or t
        self.pull_stopped_at = self.pull_stopped_at or t
        self.started_at = t
        self.connectivity, self.connectivity_at = "CONNECTED", t
        for c in self.containers:
            c.last_status = "RUNNING"
            c.runtime_id = f"{self.id}-{random.randint(1000000000, 9999999999)}"
        self._write_logs()

    def _exit_naturally(self) -> None:
        codes = {c.name: _int_label(c.cdef, LABEL_EXIT, 0) for c in self.containers}
        self._stop_containers(codes, "EssentialContainerExited", EXITED_REASON)
        self._phase = "DEPROVISIONING"

    def _stop_containers(self, codes: dict[str, int], stop_code: str, reason: str) -> None:
        t = now()
        self._desired = "STOPPED"
        self.stop_code = stop_code
        self.stopped_reason = reason
        self.stopping_at = t
        self.execution_stopped_at = t
        for c in self.containers:
            if c.last_status != "STOPPED":
                c.last_status = "STOPPED"
                c.exit_code = codes.get(c.name, 0) if self.started_at else None
        self.version += 1

    def sim_stop(self, exit_code: int | None, stop_code: str, reason: str, write_logs: bool = False) -> None:
        """Stop now (StopTask, scale-in, failed start). exit_code None: per container stop label."""
        if self._phase == "STOPPED":
            return
        if write_logs:
            self._write_logs()
            self.started_at = self.started_at or now()
        codes = {
            c.name: exit_code if exit_code is not None else _int_label(c.cdef, LABEL_STOP_EXIT, 137)
            for c in self.containers
        }
        self._stop_containers(codes, stop_code, reason)
        self._phase = "STOPPED"
        self.stopped_at = now()

    def _write_logs(self) -> None:
        """Write cortado.sim/log-lines to the awslogs stream, if the log group exists."""
        if self._logs_written:
            return
        self._logs_written = True
        from moto.logs.models import logs_backends

        for c in self.containers:
            conf = c.cdef.get("logConfiguration") or {}
            opts = conf.get("options") or {}
            if conf.get("logDriver") != "awslogs" or not opts.get("awslogs-group"):
                continue
            try:
                lines = json.loads(_labels(c.cdef).get(LABEL_LOGS, "[]"))
            except ValueError:
                lines = [_labels(c.cdef)[LABEL_LOGS]]
            prefix = opts.get("awslogs-stream-prefix")
            stream = f"{prefix}/{c.name}/{self.id}" if prefix else self.id
            region = opts.get("awslogs-region") or self.region_name
            logs = logs_backends[self._account_id][region]
            group = logs.groups.get(opts["awslogs-group"])
            if group is None:  # a missing log group is a realistic defect: nothing is written
                continue
            if stream not in group.streams:
                group.create_log_stream(stream)
            if lines:
                ts = int(time.time() * 1000)
                events = [{"timestamp": ts + i, "message": str(line)} for i, line in enumerate(lines)]
                group.put_log_events(stream, events)


class _GhostTask:
    """Stands in for a service task that moto cannot create (e.g. awsvpc without networkConfiguration)."""

    def __init__(self) -> None:
        self.id = new_id().replace("-", "")
        self._phase = "PENDING"

    @property
    def last_status(self) -> str:
        return self._phase

    def sim_pending(self) -> None:
        self._phase = "PENDING"

    def sim_run(self) -> None:
        self._phase = "RUNNING"

    def sim_stop(self, *_: Any, **__: Any) -> None:
        self._phase = "STOPPED"


# ------------------------------------------------------------------------------------------ services


def _event(svc: Service, message: str) -> None:
    svc.events.insert(0, {"id": new_id(), "createdAt": now(), "message": f"(service {svc.name}) {message}"})
    del svc.events[100:]


def _deployment_id() -> str:
    return f"ecs-svc/{random.randint(10**18, 10**19 - 1)}"


def _primary(svc: Service) -> dict[str, Any] | None:
    return next((d for d in svc.deployments if d["status"] == "PRIMARY"), None)


def _live(dep: dict[str, Any], phase: str | None = None) -> list[Any]:
    return [t for t in dep["_tasks"] if t.last_status in ((phase,) if phase else ("PENDING", "RUNNING"))]


def _backend_of(svc: Service) -> EC2ContainerServiceBackend:
    return ecs_backends[svc._account_id][svc.region_name]


def _cluster_arn(svc: Service) -> str:
    return getattr(svc, "cluster_arn", "") or f"arn:aws:ecs:{svc.region_name}:{svc._account_id}:cluster/{svc.cluster_name}"


def _tags_for_tasks(svc: Service, td: Any) -> list[dict[str, str]]:
    if svc.propagate_tags == "SERVICE":
        return list(svc.tags or [])
    if svc.propagate_tags == "TASK_DEFINITION":
        return list(td.tags or [])
    return []


def _launch(svc: Service, dep: dict[str, Any], count: int) -> list[Any]:
    backend = _backend_of(svc)
    td = backend.describe_task_definition(dep["taskDefinition"])
    cluster = backend._get_cluster(svc.cluster_name)
    launched = []
    for _ in range(count):
        try:
            task: Any = SimTask(
                cluster=cluster,
                task_definition=td,
                container_instance_arn=None,
                resource_requirements=backend._calculate_task_resource_requirements(td),
                backend=backend,
                group=f"service:{svc.name}",
                launch_type=svc.launch_type or "",
                overrides={},
                started_by=dep["id"],
                tags=_tags_for_tasks(svc, td),
                networking_configuration=svc.network_configuration or None,
                platform_version=svc.platform_version,
            )
            task._sim_managed = True
            task.enable_execute_command = bool(getattr(svc, "enable_execute_command", False))
            backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
        except Exception:
            task = _GhostTask()
        task.sim_pending()
        dep["_tasks"].append(task)
        launched.append(task)
    if launched:
        ids = " ".join(f"(task {t.id})" for t in launched)
        _event(svc, f"has started {len(launched)} tasks: {ids}.")
    return launched


def _stop(svc: Service, task: Any, reason: str = "Scaling activity initiated by (deployment)") -> None:
    task.sim_stop(143, "ServiceSchedulerInitiated", reason)
    _event(svc, f"has stopped 1 running tasks: (task {task.id}).")


def _recount(svc: Service) -> None:
    for dep in svc.deployments:
        dep["runningCount"] = len(_live(dep, "RUNNING"))
        dep["pendingCount"] = len(_live(dep, "PENDING"))
    svc.running_count = sum(d["runningCount"] for d in svc.deployments)
    svc.pending_count = sum(d["pendingCount"] for d in svc.deployments)
    _cluster_counts(_backend_of(svc), svc.cluster_name)


def _cluster_counts(backend: EC2ContainerServiceBackend, cluster_name: str) -> None:
    """DescribeClusters' runningTasksCount/pendingTasksCount/activeServicesCount from the simulated state."""
    cluster = backend.clusters.get(cluster_name)
    if cluster is None:
        return
    services = [s for s in backend.services.values() if s.cluster_name == cluster_name and s.status == "ACTIVE"]
    standalone = [
        t._phase for t in (backend.tasks.get(cluster_name) or {}).values()
        if isinstance(t, SimTask) and not t._sim_managed
    ]
    cluster.active_services_count = len(services)
    cluster.running_tasks_count = sum(s.running_count for s in services) + standalone.count("RUNNING")
    cluster.pending_tasks_count = sum(s.pending_count for s in services) + sum(
        standalone.count(p) for p in ("PROVISIONING", "PENDING")
    )


def _new_deployment(svc: Service, td_arn: str, rollback_of: Any = None) -> dict[str, Any]:
    """A new PRIMARY deployment of `td_arn`; `rollback_of` is the ServiceDeployment a rollback belongs to."""
    backend = _backend_of(svc)
    td = backend.describe_task_definition(td_arn)
    for old in svc.deployments:
        if old["status"] == "PRIMARY":
            old["status"] = "ACTIVE"
        for task in _live(old, "PENDING"):  # tasks that never started are cancelled
            task.sim_stop(None, "ServiceSchedulerInitiated", "Deployment superseded")
    t = now()
    dep_id = _deployment_id()
    dep: dict[str, Any] = {
        "id": dep_id,
        "status": "PRIMARY",
        "taskDefinition": td.arn,
        "desiredCount": svc.desired_count,
        "pendingCount": 0,
        "runningCount": 0,
        "failedTasks": 0,
        "createdAt": t,
        "updatedAt": t,
        "launchType": svc.launch_type,
        "capacityProviderStrategy": getattr(svc, "capacity_provider_strategy", None),
        "platformVersion": svc.platform_version,
        "platformFamily": "Linux" if svc.launch_type == "FARGATE" or not svc.launch_type else None,
        "networkConfiguration": svc.network_configuration or None,
        # AWS answers these in the deployments only, not at the service's top level.
        "serviceConnectConfiguration": _service_connect_of(svc),
        "volumeConfigurations": getattr(svc, "volume_configurations", None) or None,
        "rolloutState": "IN_PROGRESS",
        "rolloutStateReason": f"ECS deployment {dep_id} in progress.",
        "_tasks": [],
        "_fail": FAIL_MARK in (td.container_definitions[0].get("image") or ""),
        "_fail_steps": 0,
    }
    svc.deployments.insert(0, dep)
    svc.task_definition = td.arn
    svc._sim_steady = False
    svc._sim_stepper.reset()
    sim_deployments.on_new_deployment(svc, dep, rollback_of)
    if dep["_sd"].strategy not in sim_deployments.NATIVE or rollback_of is not None:
        _launch(svc, dep, svc.desired_count)  # native strategies scale up in their SCALE_UP stage
    _recount(svc)
    if svc.desired_count == 0:
        _check_steady(svc)
    return dep


def _service_connect_of(svc: Service) -> dict[str, Any] | None:
    """What DescribeServices shows of Service Connect: AWS returns it only in each deployment (the service has no
    top-level member), with the namespace as the Cloud Map namespace's ARN whatever name the client gave."""
    config = getattr(svc, "service_connect_configuration", None)
    if not config:
        return None
    config = json.loads(json.dumps(config))
    namespace = config.get("namespace")
    if namespace and not namespace.startswith("arn:"):
        try:
            from moto.servicediscovery.models import servicediscovery_backends

            for ns in servicediscovery_backends[svc._account_id][svc.region_name].list_namespaces():
                if ns.name == namespace:
                    config["namespace"] = ns.arn
                    break
        except Exception:
            pass
    return config


def _complete(svc: Service, dep: dict[str, Any]) -> None:
    dep["rolloutState"] = "COMPLETED"
    dep["rolloutStateReason"] = f"ECS deployment {dep['id']} completed."
    dep["updatedAt"] = now()
    for old in svc.deployments:
        if old is not dep:
            for task in _live(old):
                task.sim_stop(143, "ServiceSchedulerInitiated", "Deployment completed")
    svc.deployments[:] = [dep]
    svc._sim_last_completed = (dep["id"], dep["taskDefinition"])
    _event(svc, f"(deployment {dep['id']}) deployment completed.")
    sim_deployments.on_complete(svc, dep)


def _complete_early(svc: Service, dep: dict[str, Any]) -> None:
    """Early success criteria met: the deployment is COMPLETED while the target may still scale up and
    the sources still drain (one task per step, as before); they are dropped once drained."""
    dep["rolloutState"] = "COMPLETED"
    dep["rolloutStateReason"] = f"ECS deployment {dep['id']} completed by early success criteria."
    dep["updatedAt"] = now()
    svc._sim_last_completed = (dep["id"], dep["taskDefinition"])
    _event(svc, f"(deployment {dep['id']}) deployment completed by early success criteria.")
    sim_deployments.complete_early(svc, dep)


def _check_steady(svc: Service) -> None:
    dep = _primary(svc)
    if dep is None or dep["rolloutState"] == "FAILED":
        return
    if sim_deployments.early_success(svc, dep):
        _complete_early(svc, dep)
    others_running = any(d["runningCount"] or d["pendingCount"] for d in svc.deployments if d is not dep)
    if dep["runningCount"] == svc.desired_count and dep["pendingCount"] == 0 and not others_running:
        if dep["rolloutState"] == "IN_PROGRESS":
            _complete(svc, dep)
        elif len(svc.deployments) > 1:  # completed early: the sources are drained now
            svc.deployments[:] = [dep]
        if not svc._sim_steady:
            svc._sim_steady = True
            _event(svc, "has reached a steady state.")


def _fail(svc: Service, dep: dict[str, Any]) -> None:
    dep["rolloutState"] = "FAILED"
    dep["rolloutStateReason"] = "ECS deployment circuit breaker: tasks failed to start."
    dep["updatedAt"] = now()
    for task in _live(dep):
        task.sim_stop(None, "ServiceSchedulerInitiated", "Deployment failed")
    _event(svc, f"(deployment {dep['id']}) deployment failed: tasks failed to start.")
    breaker = (getattr(svc, "deployment_configuration", None) or {}).get("deploymentCircuitBreaker") or {}
    previous = getattr(svc, "_sim_last_completed", None)
    rolled_back = bool(breaker.get("rollback") and previous)
    sim_deployments.on_fail(svc, dep, dep["rolloutStateReason"], rolled_back)
    if rolled_back:
        prev_id, prev_td = previous
        dep["status"] = "ACTIVE"
        _event(svc, f"rolling back to deployment {prev_id}.")
        _new_deployment(svc, prev_td, rollback_of=dep.get("_sd"))


def _step(svc: Service) -> None:
    dep = _primary(svc)
    if dep is None or svc.status != "ACTIVE":
        return
    desired = svc.desired_count
    dep["desiredCount"] = desired
    dep["updatedAt"] = now()
    if dep["rolloutState"] == "FAILED":
        return
    if sim_deployments.step(svc, dep):
        _recount(svc)
        return
    if dep["_fail"] and dep["rolloutState"] == "IN_PROGRESS" and desired > 0:
        pending = _live(dep, "PENDING") or _launch(svc, dep, 1)
        task = pending[0]
        task.sim_stop(1, "EssentialContainerExited", EXITED_REASON, write_logs=True)
        dep["failedTasks"] += 1
        dep["_fail_steps"] += 1
        _event(svc, f"has stopped 1 running tasks: (task {task.id}). Reason: {EXITED_REASON}")
        if dep["_fail_steps"] >= CLOCK.fail_steps:
            _fail(svc, dep)
        else:
            _launch(svc, dep, 1)
        _recount(svc)
        return
    running, pending = _live(dep, "RUNNING"), _live(dep, "PENDING")
    if len(running) > desired:
        _stop(svc, running[-1])
    else:
        missing = desired - len(running) - len(pending)
        if missing > 0:
            pending += _launch(svc, dep, missing)
        elif missing < 0:
            for task in pending[missing:]:
                task.sim_stop(None, "ServiceSchedulerInitiated", "Scaling activity initiated by (deployment)")
            pending = pending[:missing]
        if pending:
            pending[0].sim_run()
        for old in svc.deployments:  # drain one old task per step
            old_running = _live(old, "RUNNING") if old is not dep else []
            if old_running:
                _stop(svc, old_running[0])
                break
    _recount(svc)
    _check_steady(svc)


def ensure_sim(svc: Service) -> None:
    """Services created outside CreateService (CloudFormation) get the simulation state lazily."""
    if hasattr(svc, "_sim_stepper"):
        return
    svc._sim_stepper = Stepper()
    svc._sim_steady = True
    svc._sim_last_completed = None
    svc.events = getattr(svc, "events", None) or []
    for dep in svc.deployments or []:
        dep.setdefault("_tasks", [])
        dep.setdefault("_fail", False)
        dep.setdefault("_fail_steps", 0)
        if dep.get("rolloutState") == "COMPLETED":
            svc._sim_last_completed = (dep["id"], dep["taskDefinition"])


def advance(svc: Service, polled: bool) -> None:
    """Bring a service up to date: one step per poll, or the steps owed by the wall clock."""
    stepper: Stepper | None = getattr(svc, "_sim_stepper", None)
    if stepper is None or not svc.deployments:
        return
    with LOCK:
        n = stepper.due(polled)
        for i in range(n):
            with at(stepper.scheduled(i)):
                _step(svc)
        stepper.done(n)
        _recount(svc)


def settle(svc: Service, max_steps: int = 100) -> None:
    """Run steps until the PRIMARY deployment is no longer IN_PROGRESS (used by seed)."""
    with LOCK:
        for _ in range(max_steps):
            dep = _primary(svc)
            if dep is None or (dep["rolloutState"] != "IN_PROGRESS" and svc._sim_steady):
                break
            _step(svc)
        svc._sim_stepper.reset()


def _sync_cluster(backend: EC2ContainerServiceBackend, cluster: str) -> None:
    if CLOCK.mode != "time":
        return
    name = cluster.split("/")[-1]
    for svc in list(backend.services.values()):
        if svc.cluster_name == name:
            advance(svc, polled=False)


# ----------------------------------------------------------------------------------- moto patches


def _default_security_group(backend: Any, subnet_id: str) -> list[str]:
    """The id of the default security group of the subnet's VPC ([] when it cannot be found)."""
    try:
        from moto.ec2.models import ec2_backends

        ec2 = ec2_backends[backend.account_id][backend.region_name]
        vpc_id = ec2.get_subnet(subnet_id).vpc_id
        groups = ec2.describe_security_groups(filters={"vpc-id": [vpc_id], "group-name": ["default"]})
        return [g.id for g in groups][:1]
    except Exception:
        return []


def _with_default_security_group(nc: Any, backend: Any) -> Any:
    """AWS accepts an awsvpcConfiguration without securityGroups and puts the task's ENI in the VPC's default
    security group; moto indexes `securityGroups` and answers HTTP 500 (KeyError). Only the task's copy gets the
    default group: the service keeps (and DescribeServices returns) what the client sent."""
    vpc = nc.get("awsvpcConfiguration") if isinstance(nc, dict) else None
    if not isinstance(vpc, dict) or "securityGroups" in vpc:
        return nc
    subnets = vpc.get("subnets") or [""]
    groups = _default_security_group(backend, subnets[0]) if backend is not None else []
    return {**nc, "awsvpcConfiguration": {**vpc, "securityGroups": groups}}


_orig_validate_network = Service._validate_network
_orig_service_init = Service.__init__
_orig_validate_container_defs = EC2ContainerServiceBackend._validate_container_defs


def _validate_network(self: Service, nc: dict[str, Any]) -> dict[str, Any]:
    """CreateService without securityGroups: checked like the rest, stored as sent (see above)."""
    vpc = nc.get("awsvpcConfiguration") if isinstance(nc, dict) else None
    if isinstance(vpc, dict) and "securityGroups" not in vpc:
        _orig_validate_network(self, {**nc, "awsvpcConfiguration": {**vpc, "securityGroups": []}})
        return nc
    return _orig_validate_network(self, nc)


def _service_init(self: Service, *args: Any, **kwargs: Any) -> None:
    """moto stores a service without networkConfiguration as `{}` and DescribeServices returns
    `networkConfiguration: {}`; AWS omits the member (bridge/host networking, EC2 services)."""
    _orig_service_init(self, *args, **kwargs)
    if not self.network_configuration:
        self.network_configuration = None


def _validate_container_defs(memory: Any, container_definitions: list[dict[str, Any]],
                             requires_compatibilities: list[str] | None) -> None:
    """moto refuses an EC2 container with only `memoryReservation`; AWS needs `memory` or `memoryReservation` per
    container (or a task-level memory), either one: the memoryReservation is then also the container's reservation
    for placement (RegisterTaskDefinition, containerDefinitions[].memoryReservation)."""
    defs = [dict(cd, memory=cd["memoryReservation"]) if "memoryReservation" in cd and "memory" not in cd else cd
            for cd in container_definitions]
    _orig_validate_container_defs(memory, defs, requires_compatibilities)


_orig_calc = EC2ContainerServiceBackend._calculate_task_resource_requirements
_orig_create_service_resp = EC2ContainerServiceResponse.create_service
_orig_describe_services_resp = EC2ContainerServiceResponse.describe_services
_orig_describe_tasks_resp = EC2ContainerServiceResponse.describe_tasks
_orig_describe_tasks = EC2ContainerServiceBackend.describe_tasks
_orig_list_tasks = EC2ContainerServiceBackend.list_tasks
_orig_delete_service = EC2ContainerServiceBackend.delete_service


def _calc_requirements(task_definition: Any) -> dict[str, Any]:
    """moto adds up container-level memory and fails (TypeError) when no container sets it (Fargate)."""
    defs = []
    for cdef in task_definition.container_definitions:
        cdef = dict(cdef)
        if not any(cdef.get(k) for k in ("memory", "memoryReservation", "Memory", "MemoryReservation")):
            cdef["memory"] = 0
        defs.append(cdef)
    return _orig_calc(SimpleNamespace(container_definitions=defs))


_orig_register_task_definition = EC2ContainerServiceBackend.register_task_definition


def _register_task_definition(self: EC2ContainerServiceBackend, *args: Any, **kwargs: Any) -> Any:
    """AWS fills in an EFS volume's rootDirectory ("/"); moto does not."""
    for volume in kwargs.get("volumes") or []:
        efs = volume.get("efsVolumeConfiguration")
        if isinstance(efs, dict):
            efs.setdefault("rootDirectory", "/")
    return _orig_register_task_definition(self, *args, **kwargs)


def _create_service_response(self: EC2ContainerServiceResponse) -> Any:
    sim_deployments.validate_hooks(self._get_param("deploymentConfiguration"))
    sim_deployments.validate_early_success({**_DEFAULT_DEPLOYMENT_CONFIGURATION, **(self._get_param("deploymentConfiguration") or {})})
    with LOCK:
        return _init_created_service(self, _orig_create_service_resp(self))


def _init_created_service(self: EC2ContainerServiceResponse, result: Any) -> Any:
    svc: Service = result.result["service"]
    p = self._get_param
    config = json.loads(json.dumps(_DEFAULT_DEPLOYMENT_CONFIGURATION))
    config.update(p("deploymentConfiguration") or {})
    svc.deployment_configuration = config
    svc.capacity_provider_strategy = p("capacityProviderStrategy")
    if svc.capacity_provider_strategy and not p("launchType"):
        svc.launch_type = None
    svc.enable_execute_command = bool(p("enableExecuteCommand") or False)
    svc.enable_ecs_managed_tags = bool(p("enableECSManagedTags") or False)
    svc.health_check_grace_period_seconds = p("healthCheckGracePeriodSeconds")
    svc.placement_constraints = p("placementConstraints") or []
    svc.placement_strategy = p("placementStrategy") or []
    svc.availability_zone_rebalancing = p("availabilityZoneRebalancing")
    svc.service_connect_configuration = p("serviceConnectConfiguration")
    svc.volume_configurations = p("volumeConfigurations")
    svc.created_at = now()
    svc.created_by = f"arn:aws:iam::{svc._account_id}:role/cortado-sim"
    if svc.launch_type == "FARGATE":
        svc.platform_family = "Linux"
    svc.events = []
    svc._sim_stepper = Stepper()
    svc._sim_steady = False
    svc._sim_last_completed = None
    svc.running_count = svc.pending_count = 0  # our tasks count themselves, see _recount()
    if svc.deployment_controller.get("type", "ECS") == "ECS" and svc.task_definition:
        svc.deployments = []
        _new_deployment(svc, svc.task_definition)
    elif svc.deployment_controller.get("type") == "CODE_DEPLOY" and svc.task_definition:
        from sim_codedeploy import init_code_deploy_service

        init_code_deploy_service(svc)
    _cluster_counts(self.ecs_backend, svc.cluster_name)
    return result


def _update_service(self: EC2ContainerServiceBackend, props: dict[str, Any]) -> Service:
    props = dict(props)
    cluster_str = props.pop("cluster", None) or "default"
    svc = self._get_service(cluster_str, props.pop("service").split("/")[-1])
    td_str = props.pop("task_definition", None)
    force = bool(props.pop("force_new_deployment", False))
    desired = props.pop("desired_count", None)
    td = self.describe_task_definition(td_str) if td_str else None
    controller = svc.deployment_controller.get("type", "ECS")
    if svc.status != "ACTIVE":
        raise ServiceNotActiveException()
    with LOCK:
        ensure_sim(svc)
        if controller == "CODE_DEPLOY" and td is not None and td.arn != svc.task_definition:
            raise InvalidParameterException(
                "Unable to update task definition on services with a CODE_DEPLOY deployment controller. "
                "Use AWS CodeDeploy to trigger a new deployment."
            )
        advance(svc, polled=False)
        redeploy = force or (td is not None and td.arn != svc.task_definition)
        for key, value in props.items():
            if value is None:
                continue
            if key == "deployment_configuration":
                sim_deployments.validate_hooks(value)
                merged = dict(getattr(svc, "deployment_configuration", None) or _DEFAULT_DEPLOYMENT_CONFIGURATION)
                merged.update(value)
                sim_deployments.validate_early_success(merged)
                value = merged
            if key in _REDEPLOY_FIELDS and value != getattr(svc, key, None):
                redeploy = True
            setattr(svc, key, value)
        if desired is not None and desired != svc.desired_count:
            svc.desired_count = desired
            svc._sim_steady = False
            primary = _primary(svc) if svc.deployments else None
            if primary is not None:
                primary["desiredCount"] = desired
                live = _live(primary)
                if not redeploy and len(live) < desired and primary["rolloutState"] != "FAILED":
                    _launch(svc, primary, desired - len(live))
        if controller == "ECS" and svc.deployments is not None and redeploy:
            if any(d.get("rolloutState") == "IN_PROGRESS" for d in svc.deployments):
                # Another rollout is still going: the deploy-lock benchmark asserts this never happens.
                OVERLAPS[svc.arn] = OVERLAPS.get(svc.arn, 0) + 1
            _new_deployment(svc, td.arn if td is not None else svc.task_definition)
        elif controller == "ECS" and hasattr(svc, "_sim_stepper"):
            _recount(svc)
            _check_steady(svc)
        elif controller == "CODE_DEPLOY" and desired is not None:
            from sim_codedeploy import scale_code_deploy_service

            scale_code_deploy_service(svc)
        return svc


def _describe_services_response(self: EC2ContainerServiceResponse) -> Any:
    with LOCK:
        try:
            services, _ = self.ecs_backend.describe_services(
                self._get_param("cluster", "default"), self._get_param("services", [])
            )
        except Exception:
            services = []
        for svc in services:
            advance(svc, polled=True)
        return _orig_describe_services_resp(self)


def _describe_tasks_response(self: EC2ContainerServiceResponse) -> Any:
    _sync_cluster(self.ecs_backend, self._get_param("cluster", "default"))
    return _orig_describe_tasks_resp(self)


def _describe_tasks(self: EC2ContainerServiceBackend, cluster_str: str, tasks: list[str]) -> list[Any]:
    with LOCK:
        found = _orig_describe_tasks(self, cluster_str, tasks)  # advances each task's poll tick
        for task in found:
            if isinstance(task, SimTask):
                task.sim_sync()
        return found


def _list_tasks(
    self: EC2ContainerServiceBackend,
    cluster_str: str | None = None,
    container_instance: str | None = None,
    family: str | None = None,
    started_by: str | None = None,
    service_name: str | None = None,
    desiredStatus: str | None = None,
) -> list[Any]:
    if cluster_str:
        _sync_cluster(self, cluster_str)
    with LOCK:
        tasks = _orig_list_tasks(self, cluster_str, container_instance, family, started_by, None, None)
        for task in tasks:
            if isinstance(task, SimTask):
                task.sim_sync()
        if service_name:
            group = f"service:{service_name.split('/')[-1]}"
            tasks = [t for t in tasks if t.group == group]
        wanted = desiredStatus or "RUNNING"  # AWS lists only RUNNING tasks unless asked otherwise
        return [t for t in tasks if t.desired_status == wanted]


def _stop_task(self: EC2ContainerServiceBackend, cluster_str: str, task_str: str, reason: str) -> Any:
    cluster = self._get_cluster(cluster_str)
    task_id = task_str.split("/")[-1]
    with LOCK:
        for arn, task in (self.tasks.get(cluster.name) or {}).items():
            if arn.endswith(task_id):
                if isinstance(task, SimTask):
                    task.sim_stop(None, "UserInitiated", reason or "Task stopped by user")
                else:
                    task.last_status = task.desired_status = "STOPPED"
                    task.stopped_reason = reason
                return task
    raise InvalidParameterException("The referenced task was not found.")


def execute_command(self: EC2ContainerServiceResponse) -> Any:
    """ECS Exec (moto has none), as the ExecuteCommand reference describes it: interactive only; the
    task RUNNING with enableExecuteCommand; the container named, or the task's only one. The answer
    holds a session for session-manager-plugin (no agent stands behind it)."""
    from moto.core.responses import ActionResult

    if not self._get_param("interactive"):
        raise InvalidParameterException("Interactive is the only mode supported currently.")
    backend = self.ecs_backend
    cluster = backend._get_cluster(self._get_param("cluster") or "default")
    task_id = (self._get_param("task") or "").split("/")[-1]
    with LOCK:
        task = next((t for arn, t in (backend.tasks.get(cluster.name) or {}).items() if task_id and arn.endswith(task_id)), None)
        if task is None:
            raise InvalidParameterException("The referenced task was not found.")
        if isinstance(task, SimTask):
            task.sim_sync()
        if task.last_status != "RUNNING":
            raise InvalidParameterException(f"The execute command failed because the task is {task.last_status}, not RUNNING.")
        if not getattr(task, "enable_execute_command", False):
            raise InvalidParameterException(
                "The execute command failed because execute command was not enabled when the task was run "
                "or the execute command agent isn't running. Wait and try again or run a new task with execute "
                "command enabled and try again.")
        containers = list(getattr(task, "containers", []) or [])
        name = self._get_param("container")
        if name:
            containers = [c for c in containers if getattr(c, "name", None) == name]
        if len(containers) != 1:
            raise InvalidParameterException(
                "The container name is required when the task has more than one container." if not name
                else f"The container {name} was not found in the task.")
        container = containers[0]
        session_id = f"ecs-execute-command-{new_id()}"
        region = backend.region_name
        return ActionResult({
            "clusterArn": cluster.arn,
            "containerArn": container.container_arn,
            "containerName": container.name,
            "interactive": True,
            "taskArn": task.task_arn,
            "session": {
                "sessionId": session_id,
                "streamUrl": f"wss://ssmmessages.{region}.amazonaws.com/v1/data-channel/{session_id}?role=publish_subscribe",
                "tokenValue": f"sim-token-{new_id()}",
            },
        })


def _delete_service(self: EC2ContainerServiceBackend, cluster_name: str, service_name: str, force: bool) -> Any:
    svc = _orig_delete_service(self, cluster_name, service_name, force)
    with LOCK:
        for dep in svc.deployments or []:
            for task in _live(dep):
                task.sim_stop(143, "ServiceSchedulerInitiated", "Service deleted")
            if "_tasks" in dep:
                _recount(svc)
        svc.running_count = svc.pending_count = 0
        svc.desired_count = 0
    return svc


def _ensure_zones(region: str) -> None:
    """moto knows no availability zones for made-up regions (tests isolate by region): give them three."""
    from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend, Zone

    if region not in RegionsAndZonesBackend.zones:
        short = "".join(part[:2] for part in region.split("-"))
        RegionsAndZonesBackend.zones[region] = [
            Zone(region_name=region, name=f"{region}{s}", zone_id=f"{short}-az{i}") for i, s in enumerate("abc", 1)
        ]


def _patch_zones() -> None:
    from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend
    from moto.ec2.models.subnets import SubnetBackend

    describe, create = RegionsAndZonesBackend.describe_availability_zones, SubnetBackend.create_subnet

    def describe_availability_zones(self: Any, *args: Any, **kwargs: Any) -> Any:
        _ensure_zones(self.region_name)
        return describe(self, *args, **kwargs)

    def create_subnet(self: Any, *args: Any, **kwargs: Any) -> Any:
        _ensure_zones(self.region_name)
        return create(self, *args, **kwargs)

    RegionsAndZonesBackend.describe_availability_zones = describe_availability_zones
    SubnetBackend.create_subnet = create_subnet


def install() -> None:
    _patch_zones()
    Service._validate_network = _validate_network  # type: ignore[method-assign]
    Service.__init__ = _service_init  # type: ignore[method-assign]
    EC2ContainerServiceBackend._validate_container_defs = staticmethod(_validate_container_defs)
    ecs_models.Task = SimTask  # run_task() builds tasks through the module global
    # ENIs in a VPC without DNS hostnames never get this attribute; Task.__init__ reads it.
    NetworkInterface.private_dns_name = None  # type: ignore[attr-defined]
    EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(_calc_requirements)
    EC2ContainerServiceBackend.update_service = _update_service
    EC2ContainerServiceBackend.register_task_definition = _register_task_definition
    EC2ContainerServiceBackend.list_tasks = _list_tasks
    EC2ContainerServiceBackend.describe_tasks = _describe_tasks
    EC2ContainerServiceBackend.stop_task = _stop_task
    EC2ContainerServiceBackend.delete_service = _delete_service
    EC2ContainerServiceResponse.create_service = _create_service_response
    EC2ContainerServiceResponse.describe_services = _describe_services_response
    EC2ContainerServiceResponse.describe_tasks = _describe_tasks_response
    EC2ContainerServiceResponse.execute_command = execute_command
