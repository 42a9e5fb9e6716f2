"""ECS Express mode (CreateExpressGatewayService and friends, 2025-11; custom task definitions 2026-07): the four
operations moto lacks, over sim_ecs's services. See README.md beside this file ("ECS Express mode").

An Express service is a real simulated ECS service (Fargate, awsvpc, `resourceManagementType: ECS`) with a task
definition ECS manages (family `<cluster>-<service>`, one container named `Main`) or the customer's
(`taskDefinitionArn`). Each Create or Update writes a new *configuration* (ExpressGatewayServiceConfiguration: the
API reference's defaults filled in) and starts a ROLLING service deployment of the managed service through sim_ecs
(circuit breaker with rollback on, as ECS sets it), so DescribeServiceDeployments, DescribeServices and the
deployment's progress (poll or time mode) are those of any service. `currentDeployment` is that deployment's ARN;
`activeConfigurations` are the configurations its revisions run (target and sources while it is in progress, the
target once SUCCESSFUL, the sources after a rollback). An image containing ':fail' fails like any service's.

DeleteExpressGatewayService deletes the managed service (its tasks stop) and leaves the Express service and the
managed service DRAINING for DRAIN_LOOKS DescribeExpressGatewayService calls, then INACTIVE; its name can then be
created again (a create while it drains is refused as a duplicate).
"""

from __future__ import annotations

import json
import random
from types import SimpleNamespace
from typing import Any

from moto.core.responses import ActionResult
from moto.ecs.exceptions import ECSException
from moto.ecs.models import ecs_backends
from moto.ecs.responses import EC2ContainerServiceResponse

import sim_deployments
from sim_common import LOCK, now

DRAIN_LOOKS = 2
# The API reference's defaults (CreateExpressGatewayService, ExpressGatewayContainer, ExpressGatewayScalingTarget).
DEFAULT_CPU, DEFAULT_MEMORY, DEFAULT_HEALTH_CHECK, DEFAULT_PORT = "256", "512", "/ping", 80
DEFAULT_ARCHITECTURE = "X86_64"
# Not in the reference: the simulator's choice for a service created without a scaling target.
DEFAULT_SCALING = {"minTaskCount": 1, "maxTaskCount": 20, "autoScalingMetric": "AVERAGE_CPU", "autoScalingTargetValue": 60}
# Members a custom task definition replaces: refused beside `taskDefinitionArn`.
TASK_DEFINITION_MEMBERS = ("primaryContainer", "executionRoleArn", "taskRoleArn", "cpu", "memory", "cpuArchitecture")
CONFIG_MEMBERS = ("executionRoleArn", "taskRoleArn", "cpu", "memory", "cpuArchitecture", "networkConfiguration", "healthCheckPath",
                  "primaryContainer", "scalingTarget", "taskDefinitionArn")

EXPRESS: dict[str, "SimExpress"] = {}  # by service ARN (ARNs carry region and account)


def _hex(n: int = 8) -> str:
    return "".join(random.choice("0123456789abcdef") for _ in range(n))


def _request(resp: EC2ContainerServiceResponse) -> dict[str, Any]:
    """The whole JSON request (nulls are absent, as AWS's deserialisers treat them)."""
    try:
        body = json.loads(resp.body or "{}")
    except ValueError:
        body = {}
    return {k: v for k, v in body.items() if v is not None} if isinstance(body, dict) else {}


def _invalid(message: str) -> ECSException:
    return ECSException("InvalidParameterException", message)


class SimExpress:
    def __init__(self, backend: Any, cluster: Any, name: str, request: dict[str, Any]):
        self.backend, self.cluster, self.name = backend, cluster, name
        self.arn = f"arn:aws:ecs:{backend.region_name}:{backend.account_id}:service/{cluster.name}/{name}"
        self.infrastructure_role = request["infrastructureRoleArn"]
        self.tags = list(request.get("tags") or [])
        self.status, self.reason = "ACTIVE", None
        self.created_at = self.updated_at = now()
        self.configs: dict[str, dict[str, Any]] = {}  # by service revision ARN
        self.config: dict[str, Any] = {}  # the newest
        self.drain_looks = 0
        self.endpoint = f"{name}-{_hex()}.ecs.{backend.region_name}.on.aws"

    # ------------------------------------------------------------------------------------ views
    def service(self) -> Any:
        return self.backend.services.get(f"{self.cluster.name}:{self.name}")

    def deployment(self) -> Any:
        svc = self.service()
        arn = getattr(svc, "current_service_deployment", None) if svc is not None else None
        return sim_deployments.DEPLOYMENTS.get(arn or "")

    def active(self) -> list[dict[str, Any]]:
        """The configurations the current deployment's revisions run."""
        sd = self.deployment()
        if self.status != "ACTIVE" or sd is None:
            return []
        if sd.status == "SUCCESSFUL":
            revisions = [sd.target]
        elif sd.status == "ROLLBACK_SUCCESSFUL":
            revisions = list(sd.source_revisions)
        else:
            revisions = [sd.target, *sd.source_revisions]
        return [_public(self.configs[r]) for r in revisions if r in self.configs]

    def view(self, tags: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "cluster": self.cluster.arn, "serviceName": self.name, "serviceArn": self.arn,
            "infrastructureRoleArn": self.infrastructure_role,
            "status": {"statusCode": self.status, **({"statusReason": self.reason} if self.reason else {})},
            "activeConfigurations": self.active(), "createdAt": self.created_at, "updatedAt": self.updated_at,
        }
        sd = self.deployment()
        if sd is not None and self.status == "ACTIVE":
            out["currentDeployment"] = sd.arn
        if tags and self.tags:
            out["tags"] = self.tags
        return out

    # ------------------------------------------------------------------------------------ changes
    def configure(self, request: dict[str, Any]) -> dict[str, Any]:
        """A new configuration from `request` over the newest one (Update keeps what it leaves out)."""
        base = {k: v for k, v in self.config.items() if k in CONFIG_MEMBERS}
        custom = "taskDefinitionArn" in request or (self.config.get("_custom") and "primaryContainer" not in request)
        if custom:  # what the task definition gives is read from it again
            for k in TASK_DEFINITION_MEMBERS:
                base.pop(k, None)
        else:
            base.pop("taskDefinitionArn", None)  # the managed one is registered again
        config = {**base}
        for k in CONFIG_MEMBERS:
            if k not in request:
                continue
            if k == "primaryContainer" and isinstance(base.get(k), dict):
                kept = {n: v for n, v in base[k].items() if n in ("environment", "secrets", "command", "awsLogsConfiguration",
                                                                   "containerPort", "repositoryCredentials")}
                config[k] = {**kept, **request[k]}
            elif k == "scalingTarget" and isinstance(base.get(k), dict):
                config[k] = {**base[k], **request[k]}
            else:
                config[k] = request[k]
        return self.fill(config)

    def fill(self, config: dict[str, Any]) -> dict[str, Any]:
        """The defaults ECS fills in, and the task definition the configuration runs."""
        custom = "taskDefinitionArn" in config and "primaryContainer" not in config
        if custom:
            td = _custom_task_definition(self.backend, config["taskDefinitionArn"])
            config["_custom"] = True
            for key, value in (("executionRoleArn", getattr(td, "execution_role_arn", None)), ("taskRoleArn", getattr(td, "task_role_arn", None))):
                if value:
                    config[key] = value
            config["cpu"], config["memory"] = str(td.cpu or DEFAULT_CPU), str(td.memory or DEFAULT_MEMORY)
            main = next(c for c in td.container_definitions if c.get("name") == "Main")
            config["primaryContainer"] = {"image": main.get("image"), "containerPort": main["portMappings"][0]["containerPort"]}
        else:
            config.pop("_custom", None)
            config.setdefault("cpu", DEFAULT_CPU)
            config.setdefault("memory", DEFAULT_MEMORY)
            config.setdefault("cpuArchitecture", DEFAULT_ARCHITECTURE)
            pc = dict(config["primaryContainer"])
            pc.setdefault("containerPort", DEFAULT_PORT)
            pc.setdefault("awsLogsConfiguration", {"logGroup": f"/aws/ecs/{self.cluster.name}/{self.name}-{_hex(4)}", "logStreamPrefix": "ecs"})
            config["primaryContainer"] = pc
        config.setdefault("healthCheckPath", DEFAULT_HEALTH_CHECK)
        config["scalingTarget"] = {**DEFAULT_SCALING, **(config.get("scalingTarget") or {})}
        if not config.get("networkConfiguration"):
            config["networkConfiguration"] = _default_network(self.backend)
        if not custom:
            config["taskDefinitionArn"] = self.register(config)
        config["ingressPaths"] = [{"accessType": "PUBLIC", "endpoint": self.endpoint}]
        config["createdAt"] = now()
        return config

    def register(self, config: dict[str, Any]) -> str:
        """The task definition ECS manages for a configuration: one container, `Main`."""
        pc = config["primaryContainer"]
        main: dict[str, Any] = {"name": "Main", "image": pc["image"], "essential": True,
                                "portMappings": [{"containerPort": pc["containerPort"], "protocol": "tcp", "name": "main"}]}
        for k in ("command", "environment", "secrets", "repositoryCredentials"):
            if pc.get(k):
                main[k] = pc[k]
        logs = pc.get("awsLogsConfiguration")
        if logs:
            main["logConfiguration"] = {"logDriver": "awslogs", "options": {"awslogs-group": logs["logGroup"], "awslogs-region": self.backend.region_name,
                                                                            "awslogs-stream-prefix": logs["logStreamPrefix"]}}
        td = self.backend.register_task_definition(
            family=f"{self.cluster.name}-{self.name}", container_definitions=[main], network_mode="awsvpc",
            requires_compatibilities=["FARGATE"], cpu=config["cpu"], memory=config["memory"],
            task_role_arn=config.get("taskRoleArn"), execution_role_arn=config.get("executionRoleArn"),
            runtime_platform={"cpuArchitecture": config["cpuArchitecture"], "operatingSystemFamily": "LINUX"},
        )
        return td.arn

    def remember(self, config: dict[str, Any]) -> None:
        """The configuration is what the deployment just started runs: keyed by its service revision."""
        svc = self.service()
        revision = svc.deployments[0]["_revision"]["serviceRevisionArn"]
        config["serviceRevisionArn"] = revision
        self.configs[revision] = config
        self.config = config
        self.updated_at = now()


def _public(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if not k.startswith("_")}


def _custom_task_definition(backend: Any, arn: str) -> Any:
    """A customer's task definition: FARGATE, a container named Main with one TCP port mapping that has a name."""
    try:
        td = backend.describe_task_definition(arn)
    except Exception:
        raise ECSException("ClientException", f"Unable to describe task definition {arn}.")
    main = next((c for c in td.container_definitions if c.get("name") == "Main"), None)
    ports = (main or {}).get("portMappings") or []
    if main is None or len(ports) != 1 or not ports[0].get("containerPort") or not ports[0].get("name"):
        raise _invalid("The task definition must have a container named Main with a single TCP port mapping that includes a container port and port name.")
    if "FARGATE" not in (td.requires_compatibilities or []):
        raise _invalid("The task definition must have FARGATE compatibility.")
    return td


def _default_network(backend: Any) -> dict[str, Any]:
    """The default VPC's subnets and default security group (what ECS uses when none are given)."""
    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[backend.account_id][backend.region_name]
    vpc = next((v for v in ec2.vpcs.values() if getattr(v, "is_default", False)), None)
    if vpc is None:
        return {"subnets": [], "securityGroups": []}
    subnets = sorted(s.id for zone in ec2.subnets.values() for s in zone.values() if s.vpc_id == vpc.id)
    groups = [g.id for g in ec2.groups.get(vpc.id, {}).values() if g.name == "default"]
    return {"subnets": subnets, "securityGroups": groups}


def _check_exclusive(request: dict[str, Any]) -> None:
    given = [k for k in TASK_DEFINITION_MEMBERS if k in request]
    if "taskDefinitionArn" in request and given:
        raise _invalid(f"You cannot specify {', '.join(given)} together with taskDefinitionArn.")


def _start(express: SimExpress, config: dict[str, Any], create: bool) -> None:
    """Create the managed service, or roll the existing one to the configuration's task definition."""
    import sim_ecs

    backend, svc = express.backend, express.service()
    network = {"awsvpcConfiguration": {**config["networkConfiguration"], "assignPublicIp": "ENABLED"}}
    if create:
        desired = config["scalingTarget"]["minTaskCount"]
        svc = backend.create_service(express.cluster.name, express.name, desired, task_definition_str=config["taskDefinitionArn"],
                                     launch_type="FARGATE", tags=express.tags, propagate_tags="NONE", network_configuration=network)
        params = {"deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": True, "rollback": True}}, "enableECSManagedTags": True}
        shim = SimpleNamespace(_get_param=lambda k, d=None: params.get(k, d), ecs_backend=backend)
        sim_ecs._init_created_service(shim, SimpleNamespace(result={"service": svc}))
        svc.resource_management_type = "ECS"
        svc.health_check_grace_period_seconds = 0
    else:
        backend.update_service({"cluster": express.cluster.name, "service": express.name, "task_definition": config["taskDefinitionArn"],
                                "network_configuration": network, "force_new_deployment": True})
    express.remember(config)


def _find(resp: EC2ContainerServiceResponse, arn: str | None, missing: str) -> SimExpress:
    found = EXPRESS.get(arn or "")
    if found is None or not (arn or "").startswith(f"arn:aws:ecs:{resp.region}:{resp.current_account}:"):
        raise ECSException(missing, f"The Express service {arn} was not found.")
    return found


def create_express_gateway_service(self: EC2ContainerServiceResponse) -> ActionResult:
    request = _request(self)
    _check_exclusive(request)
    if "taskDefinitionArn" not in request and "primaryContainer" not in request:
        raise _invalid("A primaryContainer with an image, or a taskDefinitionArn, is required.")
    with LOCK:
        backend = ecs_backends[self.current_account][self.region]
        cluster = backend.clusters.get((request.get("cluster") or "default").split("/")[-1])
        if cluster is None:
            raise ECSException("ClusterNotFoundException", "Cluster not found.")
        name = request.get("serviceName") or f"express-{_hex(12)}"
        existing = backend.services.get(f"{cluster.name}:{name}")
        if existing is not None and existing.status != "INACTIVE":
            raise _invalid("Creation of service was not idempotent.")
        express = SimExpress(backend, cluster, name, request)
        config = express.fill({k: request[k] for k in CONFIG_MEMBERS if k in request})
        EXPRESS[express.arn] = express
        _start(express, config, create=True)
        return ActionResult({"service": express.view()})


def update_express_gateway_service(self: EC2ContainerServiceResponse) -> ActionResult:
    request = _request(self)
    _check_exclusive(request)
    with LOCK:
        express = _find(self, request.get("serviceArn"), "ServiceNotFoundException")
        if express.status != "ACTIVE":
            raise ECSException("ServiceNotActiveException", "Service was not ACTIVE.")
        config = express.configure(request)
        _start(express, config, create=False)
        v = express.view(tags=False)
        out = {k: v[k] for k in ("serviceArn", "cluster", "serviceName", "status", "createdAt", "updatedAt")}
        out["targetConfiguration"] = _public(config)
        return ActionResult({"service": out})


def delete_express_gateway_service(self: EC2ContainerServiceResponse) -> ActionResult:
    with LOCK:
        express = _find(self, self._get_param("serviceArn"), "ServiceNotFoundException")
        if express.status != "ACTIVE":
            raise ECSException("ServiceNotActiveException", "Service was not ACTIVE.")
        view = express.view()
        svc = express.backend.delete_service(express.cluster.name, express.name, True)
        svc.status = "DRAINING"  # as DeleteService leaves a service until its tasks are gone (moto: INACTIVE at once)
        express.status, express.reason = "DRAINING", "The service is being deleted."
        express.drain_looks, express.updated_at = DRAIN_LOOKS, now()
        view.update({"status": {"statusCode": "DRAINING", "statusReason": express.reason}, "updatedAt": express.updated_at})
        return ActionResult({"service": view})


def describe_express_gateway_service(self: EC2ContainerServiceResponse) -> ActionResult:
    with LOCK:
        express = _find(self, self._get_param("serviceArn"), "ResourceNotFoundException")
        if express.status == "DRAINING":
            express.drain_looks -= 1
            if express.drain_looks <= 0:
                express.status, express.reason = "INACTIVE", None
                svc = express.service()
                if svc is not None:
                    svc.status = "INACTIVE"
        return ActionResult({"service": express.view(tags="TAGS" in (self._get_param("include") or []))})


def install() -> None:
    for fn in (create_express_gateway_service, update_express_gateway_service, delete_express_gateway_service,
               describe_express_gateway_service):
        setattr(EC2ContainerServiceResponse, fn.__name__, fn)
