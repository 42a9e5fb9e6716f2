#!/usr/bin/env python3
"""End-to-end check of the simulator, run the way a test would: launcher as a child on a pipe.

    $(bash tests/sim/setup.sh) tests/sim/selftest.py

Exits non-zero on the first failure; prints timings and a closing 'N passed, N failed' line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import boto3
from botocore.config import Config

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS: list[tuple[str, bool, float]] = []


class Sim:
    def __init__(self) -> None:
        t0 = time.monotonic()
        import tempfile

        self.invalid_log = os.path.join(tempfile.mkdtemp(prefix="cortado-selftest-"), "invalid.jsonl")
        env = dict(os.environ, CORTADO_SIM_STRICT="reject", CORTADO_SIM_INVALID_LOG=self.invalid_log)
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "launcher.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        )
        line = self.proc.stdout.readline().strip()  # type: ignore[union-attr]
        if not line.startswith("READY "):
            raise SystemExit(f"launcher did not start: {line!r}")
        self.url = line.split()[1]
        self.ready_seconds = time.monotonic() - t0

    def raw_json(self, service: str, target: str, body: dict[str, Any], region: str = "us-east-1") -> tuple[int, Any]:
        """A JSON-protocol request as is, without boto3's client-side validation: (status, answer)."""
        auth = f"AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0"
        req = urllib.request.Request(f"{self.url}/", method="POST", data=json.dumps(body).encode(), headers={
            "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target, "Authorization": auth})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        req = urllib.request.Request(
            f"{self.url}{path}", method=method, data=json.dumps(body or {}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=120) as resp:
            return json.loads(resp.read())

    def client(self, service: str, region: str, account: str | None = None) -> Any:
        c = boto3.client(
            service, region_name=region, endpoint_url=self.url,
            aws_access_key_id="testing", aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}),
        )
        if account:
            c.meta.events.register(
                "before-send.*.*", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account)
            )
        return c

    def stop(self) -> None:
        self.proc.stdin.close()  # type: ignore[union-attr]  # EOF is the shutdown signal
        self.proc.wait(timeout=10)


def check(cond: bool, msg: str) -> None:
    if not cond:
        raise AssertionError(msg)


def case(name: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    def wrap(fn: Callable[[], None]) -> Callable[[], None]:
        t0 = time.monotonic()
        try:
            fn()
            RESULTS.append((name, True, time.monotonic() - t0))
            print(f"ok    {name} ({time.monotonic() - t0:.2f}s)", flush=True)
        except Exception:
            RESULTS.append((name, False, time.monotonic() - t0))
            print(f"FAIL  {name}", flush=True)
            traceback.print_exc()
        return fn

    return wrap


def poll_service(ecs: Any, cluster: str, service: str, until: Callable[[dict[str, Any]], bool], limit: int = 30) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    seen = []
    for _ in range(limit):
        svc = ecs.describe_services(cluster=cluster, services=[service])["services"][0]
        seen.append(svc)
        if until(svc):
            return svc, seen
    raise AssertionError(f"{service} did not get there in {limit} polls: {json.dumps(seen[-1]['deployments'], default=str)}")


def primary(svc: dict[str, Any]) -> dict[str, Any]:
    return next(d for d in svc["deployments"] if d["status"] == "PRIMARY")


def messages(svc: dict[str, Any]) -> list[str]:
    return [e["message"] for e in svc["events"]]


def main() -> int:
    sim = Sim()
    print(f"launcher READY after {sim.ready_seconds:.2f}s at {sim.url}", flush=True)
    A = {"region": "us-east-1", "prefix": "alpha"}
    B = {"region": "eu-west-1", "prefix": "beta", "account": "111122223333"}
    t0 = time.monotonic()
    timings = {}

    def do_seed(body: dict[str, Any]) -> dict[str, Any]:
        s = time.monotonic()
        out = sim.control("POST", "/_cortado/seed", body)
        timings[body["prefix"]] = time.monotonic() - s
        return out

    with ThreadPoolExecutor(2) as pool:
        seed_a, seed_b = pool.map(do_seed, [A, B])
    print(f"seeded 2 prefixes in parallel in {time.monotonic() - t0:.2f}s "
          f"(alpha {timings['alpha']:.2f}s, beta {timings['beta']:.2f}s)", flush=True)

    ecs = sim.client("ecs", "us-east-1")
    p = "alpha"
    td1 = seed_a["ecs"]["taskDefinitionArn"]
    td_cache: dict[str, str] = {}

    def register(image: str, labels: dict[str, str] | None = None, family: str = f"{p}-app", log_group: str = f"/ecs/{p}") -> str:
        base = ecs.describe_task_definition(taskDefinition=td1)["taskDefinition"]
        container = dict(base["containerDefinitions"][0], image=image)
        container["logConfiguration"]["options"]["awslogs-group"] = log_group
        if labels:
            container["dockerLabels"] = labels
        return ecs.register_task_definition(
            family=family, requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256", memory="512",
            executionRoleArn=base["executionRoleArn"], taskRoleArn=base["taskRoleArn"], containerDefinitions=[container],
        )["taskDefinition"]["taskDefinitionArn"]

    @case("seeded resources exist (alpha, us-east-1, default account)")
    def _() -> None:
        svc = ecs.describe_services(cluster=p, services=[p], include=["TAGS"])["services"][0]
        check(primary(svc)["rolloutState"] == "COMPLETED" and svc["runningCount"] == 1, "service not steady")
        check(svc["taskDefinition"] == td1, "service taskDefinition not the ARN")
        check(svc["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}, "circuit breaker lost")
        check(svc["launchType"] == "FARGATE" and svc["enableExecuteCommand"] is True, "create fields lost")
        check(svc["tags"] == [{"key": "cortado:test", "value": p}], f"tags: {svc.get('tags')}")
        check("has reached a steady state." in messages(svc)[0], "no steady state event")
        iam = sim.client("iam", "us-east-1")
        trust = iam.get_role(RoleName=f"{p}-exec")["Role"]["AssumeRolePolicyDocument"]
        check(trust["Statement"][0]["Principal"]["Service"] == ["ecs-tasks.amazonaws.com"], "exec trust")
        trust = iam.get_role(RoleName=f"{p}-notrust")["Role"]["AssumeRolePolicyDocument"]
        check(trust["Statement"][0]["Principal"]["Service"] == "ec2.amazonaws.com", "notrust trust")
        ecr = sim.client("ecr", "us-east-1")
        imgs = ecr.describe_images(repositoryName=f"{p}/app", imageIds=[{"imageTag": "v1"}, {"imageTag": "v2"}])["imageDetails"]
        check({i["imageDigest"] for i in imgs} == {seed_a["ecr"]["images"][t]["digest"] for t in ("v1", "v2")}, "ecr digests")
        check(len({i["imageDigest"] for i in imgs}) == 2, "v1 and v2 share a digest")
        ssm = sim.client("ssm", "us-east-1")
        check(ssm.get_parameter(Name=f"/{p}/db/password", WithDecryption=True)["Parameter"]["Value"] == "s3cret", "ssm")
        sm = sim.client("secretsmanager", "us-east-1")
        secret = json.loads(sm.get_secret_value(SecretId=seed_a["secret"]["arn"])["SecretString"])
        check(secret == {"username": "app", "password": "pw"}, "secret")
        cfn = sim.client("cloudformation", "us-east-1")
        exports = {e["Name"]: e["Value"] for e in cfn.list_exports()["Exports"]}
        check(exports.get(f"{p}-VpcId") == seed_a["network"]["vpcId"], f"exports {exports}")
        check(exports.get(f"{p}-SubnetIds") == ",".join(seed_a["network"]["subnetIds"]), "subnet export")
        s3 = sim.client("s3", "us-east-1")
        body = s3.get_object(Bucket=f"{p}-tfstate", Key="env/terraform.tfstate")["Body"].read().decode()
        check(body == seed_a["tfstate"]["content"], "tfstate content")
        state = json.loads(body)
        check(state["version"] == 4 and state["outputs"]["subnet_ids"]["value"] == seed_a["network"]["subnetIds"], "tfstate")
        logs = sim.client("logs", "us-east-1")
        check(logs.describe_log_groups(logGroupNamePrefix=f"/ecs/{p}")["logGroups"], "log group")
        elb = sim.client("elbv2", "us-east-1")
        tg = elb.describe_target_groups(Names=[f"{p}-tg"])["TargetGroups"][0]
        check(tg["TargetType"] == "ip" and tg["Port"] == 80, "target group")
        aas = sim.client("application-autoscaling", "us-east-1")
        targets = aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
        check([(t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [(1, 4)], "scalable target")
        check(len(aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]) == 1, "policy")
        cd = sim.client("codedeploy", "us-east-1")
        groups = cd.batch_get_deployment_groups(applicationName=f"{p}-cd", deploymentGroupNames=[f"{p}-dg"])
        check(groups["deploymentGroupsInfo"][0]["ecsServices"] == [{"serviceName": f"{p}-bg", "clusterName": p}], "dg")

    @case("seeded resources exist (beta, eu-west-1, account 111122223333) and are isolated")
    def _() -> None:
        ecs_b = sim.client("ecs", "eu-west-1", "111122223333")
        svc = ecs_b.describe_services(cluster="beta", services=["beta"])["services"][0]
        check(svc["serviceArn"].startswith("arn:aws:ecs:eu-west-1:111122223333:service/beta/"), svc["serviceArn"])
        check(primary(svc)["rolloutState"] == "COMPLETED", "beta not steady")
        check(seed_b["ecr"]["repositoryUri"].startswith("111122223333.dkr.ecr.eu-west-1."), seed_b["ecr"]["repositoryUri"])
        check(ecs.describe_clusters(clusters=["beta"])["failures"], "beta cluster visible in alpha's account")
        check(sim.client("ecs", "eu-west-1").describe_clusters(clusters=["beta"])["failures"], "beta visible in default account")

    td2 = register(seed_a["ecr"]["images"]["v2"]["uri"])

    @case("UpdateService to a new task definition progresses to COMPLETED")
    def _() -> None:
        upd = ecs.update_service(cluster=p, service=p, taskDefinition=td2.split("/")[-1])["service"]  # family:rev
        check(upd["taskDefinition"] == td2, f"taskDefinition not normalised: {upd['taskDefinition']}")
        check([d["status"] for d in upd["deployments"]] == ["PRIMARY", "ACTIVE"], "no PRIMARY+ACTIVE")
        check(primary(upd)["rolloutState"] == "IN_PROGRESS" and primary(upd)["runningCount"] == 0, "new deployment")
        check(messages(upd)[0].startswith(f"(service {p}) has started 1 tasks: (task "), messages(upd)[0])
        svc, seen = poll_service(ecs, p, p, lambda s: primary(s)["rolloutState"] == "COMPLETED")
        check(len(seen) == 1 and len(svc["deployments"]) == 1 and svc["runningCount"] == 1, f"polls {len(seen)}")
        check(messages(svc)[0] == f"(service {p}) has reached a steady state.", "steady state event")
        check(all(e["id"] and e["createdAt"] for e in svc["events"]), "event fields")
        check(svc["taskDefinition"] == td2, "taskDefinition after")
        tasks = ecs.list_tasks(cluster=p, serviceName=p)["taskArns"]
        check(len(tasks) == 1, f"service tasks {tasks}")
        task = ecs.describe_tasks(cluster=p, tasks=tasks)["tasks"][0]
        check(task["group"] == f"service:{p}" and task["startedBy"] == primary(svc)["id"], "service task")
        check(task["taskDefinitionArn"] == td2 and task["lastStatus"] == "RUNNING", "service task state")
        check(ecs.list_tasks(cluster=p, serviceName=f"{p}-bg")["taskArns"] == [], "serviceName filter")

    @case("services-stable waiter passes after forceNewDeployment")
    def _() -> None:
        before = ecs.describe_services(cluster=p, services=[p])["services"][0]
        ecs.update_service(cluster=p, service=p, forceNewDeployment=True)
        ecs.get_waiter("services_stable").wait(cluster=p, services=[p], WaiterConfig={"Delay": 1, "MaxAttempts": 10})
        after = ecs.describe_services(cluster=p, services=[p])["services"][0]
        check(primary(after)["id"] != primary(before)["id"], "no new deployment")

    @case("desiredCount scale-out and scale-in on a COMPLETED service")
    def _() -> None:
        ecs.update_service(cluster=p, service=p, desiredCount=3)
        svc, seen = poll_service(ecs, p, p, lambda s: s["runningCount"] == 3)
        check([s["runningCount"] for s in seen] == [2, 3], f"running {[s['runningCount'] for s in seen]}")
        check(messages(svc)[0].endswith("has reached a steady state."), "steady after scale-out")
        check(len(ecs.list_tasks(cluster=p, serviceName=p)["taskArns"]) == 3, "3 tasks")
        ecs.update_service(cluster=p, service=p, desiredCount=1)
        svc, seen = poll_service(ecs, p, p, lambda s: s["runningCount"] == 1)
        check(len(seen) == 2 and primary(svc)["rolloutState"] == "COMPLETED", "scale-in")
        check(any("has stopped 1 running tasks" in m for m in messages(svc)), "stop event")

    td_fail = register(f"{seed_a['ecr']['repositoryUri']}:fail")

    @case("':fail' image fails and the circuit breaker rolls back to the previous ARN")
    def _() -> None:
        ecs.update_service(cluster=p, service=p, taskDefinition=td_fail)
        svc, seen = poll_service(ecs, p, p, lambda s: primary(s)["rolloutState"] == "COMPLETED")
        failed = [d for d in seen[1]["deployments"] if d["rolloutState"] == "FAILED"]
        check(len(failed) == 1 and failed[0]["status"] == "ACTIVE" and failed[0]["taskDefinition"] == td_fail, "failed deployment")
        check(failed[0]["failedTasks"] == 2, f"failedTasks {failed[0]['failedTasks']}")
        check(failed[0]["rolloutStateReason"] == "ECS deployment circuit breaker: tasks failed to start.", "reason")
        check(svc["taskDefinition"] == td2 and primary(svc)["taskDefinition"] == td2, "not rolled back")
        msgs = messages(svc)
        check(any("deployment failed: tasks failed to start." in m for m in msgs), "failed event")
        check(any(m.startswith(f"(service {p}) rolling back to deployment ecs-svc/") for m in msgs), "rollback event")
        check(any("Essential container in task exited" in m for m in msgs), "stopped task event")
        stopped = ecs.list_tasks(cluster=p, serviceName=p, desiredStatus="STOPPED")["taskArns"]
        tasks = ecs.describe_tasks(cluster=p, tasks=stopped)["tasks"]
        check(any(t["stopCode"] == "EssentialContainerExited" and t["containers"][0]["exitCode"] == 1 for t in tasks), "failed task")

    @case("':fail' without rollback stays FAILED and PRIMARY")
    def _() -> None:
        ecs.update_service(
            cluster=p, service=p, taskDefinition=td_fail,
            deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": False}},
        )
        svc, seen = poll_service(ecs, p, p, lambda s: primary(s)["rolloutState"] == "FAILED")
        check(len(seen) == 2, f"failed after {len(seen)} polls")
        for _ in range(3):
            svc = ecs.describe_services(cluster=p, services=[p])["services"][0]
        check(primary(svc)["rolloutState"] == "FAILED" and primary(svc)["taskDefinition"] == td_fail, "not FAILED/PRIMARY")
        check(svc["taskDefinition"] == td_fail, "service taskDefinition")
        check(svc["runningCount"] == 1, "old tasks keep running")
        ecs.update_service(cluster=p, service=p, taskDefinition=td2,
                           deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}})
        poll_service(ecs, p, p, lambda s: primary(s)["rolloutState"] == "COMPLETED")

    cd = sim.client("codedeploy", "us-east-1")

    def appspec(td: str) -> str:
        return json.dumps({"version": 0.0, "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": {
            "TaskDefinition": td, "LoadBalancerInfo": {"ContainerName": "app", "ContainerPort": 80}}}}]})

    def create_deployment(td: str, group: str = f"{p}-dg") -> str:
        return cd.create_deployment(
            applicationName=f"{p}-cd", deploymentGroupName=group,
            revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": appspec(td)}},
        )["deploymentId"]

    def statuses(dep_id: str, until: tuple[str, ...], limit: int = 10) -> list[str]:
        seen = []
        for _ in range(limit):
            seen.append(cd.get_deployment(deploymentId=dep_id)["deploymentInfo"]["status"])
            if seen[-1] in until:
                return seen
        raise AssertionError(f"stuck: {seen}")

    @case("CodeDeploy deployment succeeds and moves the blue/green service")
    def _() -> None:
        dep_id = create_deployment(td2)
        check(dep_id.startswith("d-") and len(dep_id) == 11, dep_id)
        seen = statuses(dep_id, ("Succeeded",))
        check(seen[0] == "InProgress" and seen[-1] == "Succeeded", f"{seen}")
        bg = ecs.describe_services(cluster=p, services=[f"{p}-bg"])["services"][0]
        check(bg["taskDefinition"] == td2, "bg service not switched")
        check([ts["status"] for ts in bg["taskSets"]] == ["PRIMARY"] and bg["taskSets"][0]["taskDefinition"] == td2, "task sets")
        target = cd.get_deployment_target(deploymentId=dep_id, targetId=f"{p}:{p}-bg")["deploymentTarget"]["ecsTarget"]
        check(target["status"] == "Succeeded" and all(e["status"] == "Succeeded" for e in target["lifecycleEvents"]), "target")
        check(target["taskSetsInfo"][0]["trafficWeight"] == 100.0, "traffic weight")
        cd.get_waiter("deployment_successful").wait(deploymentId=dep_id, WaiterConfig={"Delay": 1, "MaxAttempts": 3})
        group = cd.get_deployment_group(applicationName=f"{p}-cd", deploymentGroupName=f"{p}-dg")["deploymentGroupInfo"]
        check(group["lastSuccessfulDeployment"]["deploymentId"] == dep_id, "lastSuccessfulDeployment")

    @case("CodeDeploy lifecycle events run one at a time: Pending -> InProgress -> Succeeded, in order")
    def _() -> None:
        dep_id = create_deployment(td2)  # td2 again: the next case expects it on the service
        snapshots = []
        for _ in range(12):
            status = cd.get_deployment(deploymentId=dep_id)["deploymentInfo"]["status"]
            target = cd.get_deployment_target(deploymentId=dep_id, targetId=f"{p}:{p}-bg")["deploymentTarget"]["ecsTarget"]
            snapshots.append([e["status"] for e in target["lifecycleEvents"]])
            names = [e["lifecycleEventName"] for e in target["lifecycleEvents"]]
            if status == "Succeeded":
                break
        check(names == ["BeforeInstall", "Install", "AfterInstall", "AllowTestTraffic", "AfterAllowTestTraffic",
                        "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic"], f"{names}")
        order = {"Pending": 0, "InProgress": 1, "Succeeded": 2}
        for snap in snapshots:  # a Succeeded prefix, at most one InProgress, then Pending
            check(snap == sorted(snap, key=lambda x: -order[x]) and snap.count("InProgress") <= 1, f"{snap}")
        for i, name in enumerate(names):
            seen = [snap[i] for snap in snapshots]
            check("InProgress" in seen and seen[-1] == "Succeeded", f"{name}: {seen}")
            check(seen == sorted(seen, key=lambda x: order[x]), f"{name} went back: {seen}")

    @case("CodeDeploy ':fail' fails (errorInformation, automatic rollback)")
    def _() -> None:
        dep_id = create_deployment(td_fail)
        seen = statuses(dep_id, ("Failed", "Succeeded"))
        info = cd.get_deployment(deploymentId=dep_id)["deploymentInfo"]
        check(seen[-1] == "Failed" and info["errorInformation"]["code"] == "ECS_UPDATE_ERROR", f"{seen} {info['errorInformation']}")
        check(info["rollbackInfo"].get("rollbackDeploymentId", "").startswith("d-"), f"rollbackInfo {info['rollbackInfo']}")
        bg = ecs.describe_services(cluster=p, services=[f"{p}-bg"])["services"][0]
        check(bg["taskDefinition"] == td2 and len(bg["taskSets"]) == 1, "bg service changed by a failed deployment")

    @case("CodeDeploy StopDeployment -> Stopped; Ready waits for ContinueDeployment")
    def _() -> None:
        dep_id = create_deployment(td1)
        cd.get_deployment(deploymentId=dep_id)
        res = cd.stop_deployment(deploymentId=dep_id, autoRollbackEnabled=True)
        check(res["status"] == "Succeeded", f"{res}")
        info = cd.get_deployment(deploymentId=dep_id)["deploymentInfo"]
        check(info["status"] == "Stopped" and info["rollbackInfo"], f"{info['status']} {info['rollbackInfo']}")
        try:
            cd.stop_deployment(deploymentId=dep_id)
            raise AssertionError("second stop accepted")
        except cd.exceptions.DeploymentAlreadyCompletedException:
            pass
        base = cd.get_deployment_group(applicationName=f"{p}-cd", deploymentGroupName=f"{p}-dg")["deploymentGroupInfo"]
        cd.create_deployment_group(
            applicationName=f"{p}-cd", deploymentGroupName=f"{p}-dg-wait", serviceRoleArn=base["serviceRoleArn"],
            deploymentStyle=base["deploymentStyle"], loadBalancerInfo=base["loadBalancerInfo"], ecsServices=base["ecsServices"],
            blueGreenDeploymentConfiguration={
                "deploymentReadyOption": {"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 30},
                "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE", "terminationWaitTimeInMinutes": 5},
            },
        )
        dep_id = create_deployment(td1, f"{p}-dg-wait")
        seen = statuses(dep_id, ("Ready",))
        for _ in range(3):
            check(cd.get_deployment(deploymentId=dep_id)["deploymentInfo"]["status"] == "Ready", "Ready did not wait")
        target = cd.get_deployment_target(deploymentId=dep_id, targetId=f"{p}:{p}-bg")["deploymentTarget"]["ecsTarget"]
        ready = [e["status"] for e in target["lifecycleEvents"]]
        check(ready == ["Succeeded"] * 5 + ["Pending"] * 3, f"events while Ready: {ready}")
        cd.continue_deployment(deploymentId=dep_id, deploymentWaitType="READY_WAIT")
        for _ in range(4):  # BeforeAllowTraffic .. AfterAllowTraffic, then the blue task set termination wait
            info = cd.get_deployment(deploymentId=dep_id)["deploymentInfo"]
            if info["instanceTerminationWaitTimeStarted"]:
                break
        check(info["status"] == "InProgress" and info["instanceTerminationWaitTimeStarted"], "termination wait")
        check(statuses(dep_id, ("Succeeded",)) == ["Succeeded"], "after termination wait")
        check(ecs.describe_services(cluster=p, services=[f"{p}-bg"])["services"][0]["taskDefinition"] == td1, "bg td1")

    @case("RunTask: Fargate labels exit-code 3 + log lines; StopTask")
    def _() -> None:
        lines = ["hello from the task", "second line"]
        td = register("busybox:latest", {"cortado.sim/exit-code": "3", "cortado.sim/log-lines": json.dumps(lines)}, family=f"{p}-job")
        net = seed_a["ecs"]["networkConfiguration"]
        task = ecs.run_task(cluster=p, taskDefinition=td, launchType="FARGATE", networkConfiguration=net)["tasks"][0]
        check(task["lastStatus"] == "PROVISIONING" and task["createdAt"], f"{task['lastStatus']}")
        arn, tid = task["taskArn"], task["taskArn"].split("/")[-1]
        ecs.get_waiter("tasks_stopped").wait(cluster=p, tasks=[arn], WaiterConfig={"Delay": 1, "MaxAttempts": 10})
        task = ecs.describe_tasks(cluster=p, tasks=[arn])["tasks"][0]
        check(task["containers"][0]["exitCode"] == 3 and task["stopCode"] == "EssentialContainerExited", "exit code")
        check(task["stoppedReason"] == "Essential container in task exited", task.get("stoppedReason", ""))
        check(all(task.get(k) for k in ("createdAt", "startedAt", "stoppedAt")), "timestamps")
        logs = sim.client("logs", "us-east-1")
        events = logs.get_log_events(logGroupName=f"/ecs/{p}", logStreamName=f"app/app/{tid}", startFromHead=True)["events"]
        check([e["message"] for e in events] == lines, f"log lines {events}")
        # a missing log group is a defect the tool should see: the task runs, nothing is written
        td_nolog = register("busybox:latest", {"cortado.sim/log-lines": '["x"]'}, family=f"{p}-nolog", log_group="/ecs/missing")
        t2 = ecs.run_task(cluster=p, taskDefinition=td_nolog, launchType="FARGATE", networkConfiguration=net)["tasks"][0]
        t2 = ecs.describe_tasks(cluster=p, tasks=[t2["taskArn"]])["tasks"][0]
        check(t2["lastStatus"] == "RUNNING", "task without log group")
        stopped = ecs.stop_task(cluster=p, task=t2["taskArn"], reason="test")["task"]
        check(stopped["lastStatus"] == "STOPPED" and stopped["containers"][0]["exitCode"] == 137, "StopTask")
        check(stopped["stopCode"] == "UserInitiated" and stopped["stoppedReason"] == "test", "StopTask reason")
        running = ecs.list_tasks(cluster=p, family=f"{p}-job")["taskArns"]
        check(running == [], f"STOPPED task listed as RUNNING: {running}")

    @case("time progress mode (stepSeconds 1.5)")
    def _() -> None:
        # Steps long enough that a loaded machine (test binaries run side by side) still reads the
        # deployment in progress right after the update; it completes within two steps.
        step = 1.5
        sim.control("POST", "/_cortado/config", {"progress": "time", "stepSeconds": step})
        try:
            ecs.update_service(cluster=p, service=p, forceNewDeployment=True)
            svc = ecs.describe_services(cluster=p, services=[p])["services"][0]
            svc2 = ecs.describe_services(cluster=p, services=[p])["services"][0]
            check(primary(svc2)["rolloutState"] == "IN_PROGRESS", "advanced by polling in time mode")
            time.sleep(2 * step + 0.5)
            svc = ecs.describe_services(cluster=p, services=[p])["services"][0]
            check(primary(svc)["rolloutState"] == "COMPLETED", f"not completed after two steps: {primary(svc)}")
            # Steps applied lazily at this read are stamped when they were due, as AWS stamps changes
            # when they happen: the last change is a whole number of steps after the creation.
            d = primary(svc)
            offset = (d["updatedAt"] - d["createdAt"]).total_seconds()
            check(abs(offset / step - round(offset / step)) < 0.25 and offset < 2 * step + 0.25, f"updatedAt {offset:.3f}s after createdAt")
        finally:
            sim.control("POST", "/_cortado/config", {"progress": "poll", "stepSeconds": 1.0})

    # --- fault injection (sim_faults.py) ---
    from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

    def faults(rules: list[dict[str, Any]], seed: int = 7) -> None:
        sim.control("POST", "/_cortado/faults", {"seed": seed, "region": "us-east-1", "rules": rules})

    def no_faults() -> None:
        sim.control("DELETE", "/_cortado/faults?region=us-east-1")

    def once(service: str, region: str = "us-east-1") -> Any:
        """A client that never retries, so each fault shows."""
        return boto3.client(service, region_name=region, endpoint_url=sim.url, aws_access_key_id="testing",
                            aws_secret_access_key="testing", config=Config(retries={"total_max_attempts": 1}))

    ecs1 = once("ecs")

    def error_of(fn: Callable[[], Any]) -> Any:
        try:
            fn()
        except ClientError as e:
            return (e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
        except Exception as e:  # noqa: BLE001 - the connection errors are what is tested
            return type(e).__name__
        return None

    @case("faults: throttle/500/503 in each protocol's shape, recorded in the call log")
    def _() -> None:
        try:
            sim.control("DELETE", "/_cortado/calls")
            faults([{"service": "ecs", "kind": "throttle", "probability": 1}, {"service": "sts", "kind": "throttle"},
                    {"service": "ssm", "kind": "500"}, {"service": "ecr", "kind": "503"}])
            check(error_of(lambda: ecs1.describe_services(cluster=p, services=[p])) == ("ThrottlingException", 400), "ecs throttle")
            check(error_of(lambda: once("sts").get_caller_identity()) == ("Throttling", 400), "sts (query) throttle")
            check(error_of(lambda: once("ssm").get_parameter(Name=f"/{p}/db/host")) == ("ServerException", 500), "ssm 500")
            check(error_of(lambda: once("ecr").describe_repositories()) == ("ServiceUnavailableException", 503), "ecr 503")
            check(error_of(lambda: once("sts", "eu-west-1").get_caller_identity()) is None, "another region is untouched")
            calls = sim.control("GET", "/_cortado/calls")["calls"]
            check([c.get("fault") for c in calls] == ["throttle", "throttle", "500", "503", None], f"log {calls}")
        finally:
            no_faults()

    @case("faults: reset is a TCP RST; lost_response applies the request, then drops the connection")
    def _() -> None:
        try:
            faults([{"service": "ecs", "operation": "ListClusters", "kind": "reset"},
                    {"service": "ecs", "operation": "RegisterTaskDefinition", "kind": "lost_response", "count": 1}])
            check(error_of(lambda: ecs1.list_clusters()) in ("ConnectionClosedError", "ProtocolError", "ReadTimeoutError", "EndpointConnectionError"),
                  f"reset: {error_of(lambda: ecs1.list_clusters())}")
            err = error_of(lambda: ecs1.register_task_definition(family=f"{p}-lost", containerDefinitions=[{"name": "a", "image": "busybox", "memory": 128}]))
            check(err in ("ConnectionClosedError", "ProtocolError"), f"lost response: {err}")
            rev = ecs.describe_task_definition(taskDefinition=f"{p}-lost")["taskDefinition"]["revision"]
            check(rev == 1, f"the lost request was applied: revision {rev}")
            again = ecs1.register_task_definition(family=f"{p}-lost", containerDefinitions=[{"name": "a", "image": "busybox", "memory": 128}])
            check(again["taskDefinition"]["revision"] == 2, "count 1: the next one answers")
        finally:
            no_faults()

    @case("faults: latency, seeded probability reproduces, DELETE clears")
    def _() -> None:
        try:
            faults([{"service": "ecs", "operation": "ListClusters", "kind": "latency", "latency_ms": 300}])
            t = time.monotonic()
            ecs1.list_clusters()
            check(time.monotonic() - t >= 0.3, "latency")

            def pattern(seed: int) -> list[Any]:
                faults([{"service": "ecs", "operation": "ListClusters", "kind": "throttle", "probability": 0.3}], seed)
                return [error_of(lambda: ecs1.list_clusters()) is not None for _ in range(40)]

            a, b, c = pattern(1), pattern(1), pattern(2)
            check(a == b and a != c and 4 <= sum(a) <= 20, f"seeded: {sum(a)} {sum(c)}")
            no_faults()
            check(sim.control("GET", "/_cortado/faults") == {"profiles": []}, "cleared")
            check(all(error_of(lambda: ecs1.list_clusters()) is None for _ in range(5)), "no faults after DELETE")
        finally:
            no_faults()

    @case("faults: stale DescribeServices once after UpdateService; clientToken replays RunTask and CreateService")
    def _() -> None:
        try:
            before = ecs.describe_services(cluster=p, services=[p])["services"][0]
            faults([{"service": "ecs", "kind": "stale_describe"}])
            ecs.update_service(cluster=p, service=p, forceNewDeployment=True)
            stale = ecs.describe_services(cluster=p, services=[p])["services"][0]
            check([d["id"] for d in stale["deployments"]] == [d["id"] for d in before["deployments"]], "stale view")
            fresh = ecs.describe_services(cluster=p, services=[p])["services"][0]
            check(len(fresh["deployments"]) == 2 or primary(fresh)["id"] != primary(before)["id"], "fresh view")
            no_faults()
            poll_service(ecs, p, p, lambda s: primary(s)["rolloutState"] == "COMPLETED" and len(s["deployments"]) == 1)
            td = register("busybox:latest", family=f"{p}-tok")
            net = seed_a["ecs"]["networkConfiguration"]
            run = lambda tok, **kw: ecs.run_task(cluster=p, taskDefinition=td, launchType="FARGATE", networkConfiguration=net, clientToken=tok, **kw)
            t1, t2 = run("tok-1")["tasks"][0], run("tok-1")["tasks"][0]
            check(t1["taskArn"] == t2["taskArn"], "same token, same task")
            check(run("tok-2")["tasks"][0]["taskArn"] != t1["taskArn"], "another token, another task")
            check(error_of(lambda: run("tok-1", count=2)) == ("InvalidParameterException", 400), "same token, other params")
            mk = lambda: ecs.create_service(cluster=p, serviceName=f"{p}-tok", taskDefinition=td, desiredCount=0, clientToken="svc-1")
            check(mk()["service"]["serviceArn"] == mk()["service"]["serviceArn"], "CreateService replayed")
        finally:
            no_faults()


    # --- request validation (sim_validate.py) ---
    import sim_validate as sv

    @case("validate: required, types, unknown members and enums from botocore's models; nulls are absent")
    def _() -> None:
        ecs_model = sv.service_model("ecs")
        create = sv.operation(ecs_model, "CreateService")
        register = sv.operation(ecs_model, "RegisterTaskDefinition")
        check(sv.validate(create, {"serviceName": "s", "networkConfiguration": None}) == [], "valid, null dropped")
        got = sv.validate(create, {"serviceName": "s", "platformFamily": "Linux", "launchType": "", "desiredCount": "1",
                                   "deploymentConfiguration": {"alarms": {"enable": False, "rollback": False}}})
        check(any('Unknown parameter in input: "platformFamily"' == g for g in got), f"unknown: {got}")
        check(any("at 'launchType'" in g and "enum value set: [EC2, FARGATE" in g for g in got), f"enum: {got}")
        check(any("desiredCount" in g and "valid types" in g for g in got), f"type: {got}")
        check(any('deploymentConfiguration.alarms: "alarmNames"' in g for g in got), f"required: {got}")
        check(len(got) == 4, f"exactly four problems: {got}")
        got = sv.validate(register, {"family": "f", "ipcMode": "", "pidMode": "task", "containerDefinitions": [
            {"name": "a", "versionConsistency": "", "portMappings": [{"containerPort": 80, "appProtocol": ""}]}]})
        check(sorted(g.split(" at '")[1].split("'")[0] for g in got) == [
            "containerDefinitions[0].portMappings[0].appProtocol", "containerDefinitions[0].versionConsistency", "ipcMode"], f"{got}")
        check(sv.error_type(create) == "InvalidParameterException", "ECS")
        check(sv.error_type(sv.operation(sv.service_model("logs"), "CreateLogGroup")) == "InvalidParameterException", "logs")
        aas = sv.operation(sv.service_model("application-autoscaling"), "RegisterScalableTarget")
        check(sv.error_type(aas) == "ValidationException", "application autoscaling")
        check(sv.is_mutating("CreateService") and not sv.is_mutating("BatchGetDeployments") and not sv.is_mutating("GetDeployment"), "mutating")

    @case("validate: ELBv2 query parameters are parsed back into the input shape")
    def _() -> None:
        params, problems, kind = sv.check_query("elasticloadbalancing", {
            "Action": "ModifyTargetGroupAttributes", "Version": "2015-12-01", "TargetGroupArn": "arn",
            "Attributes.member.1.Key": "deregistration_delay.timeout_seconds", "Attributes.member.1.Value": "5"})
        check(problems == [] and params == {"TargetGroupArn": "arn", "Attributes": [
            {"Key": "deregistration_delay.timeout_seconds", "Value": "5"}]}, f"{params} {problems}")
        _, problems, kind = sv.check_query("elasticloadbalancing", {
            "Action": "DescribeTargetHealth", "Version": "2015-12-01", "Targets.member.1.Id": "i", "Targets.member.1.Port": "x", "Bogus": "1"})
        check(kind == "ValidationError" and any("'Bogus'" in g for g in problems) and any("Targets.member.1.Port" in g for g in problems), f"{problems}")
        _, problems, _ = sv.check_query("elasticloadbalancing", {"Action": "DescribeTargetHealth", "Version": "2015-12-01"})
        check(problems == ['Missing required parameter in input: "TargetGroupArn"'], f"{problems}")
        check(sv.check_query("elasticloadbalancing", {"Action": "DescribeLoadBalancers", "Version": "2012-06-01"}) is None, "classic ELB unchecked")

    @case("validate: a bad request is a 400 naming the member, logged with `invalid` and its body; mode log forwards it")
    def _() -> None:
        sim.control("DELETE", "/_cortado/calls")
        target = "AmazonEC2ContainerServiceV20141113."
        status, answer = sim.raw_json("ecs", target + "CreateService", {
            "cluster": p, "serviceName": f"{p}-bad", "taskDefinition": td1, "platformFamily": "Linux"})
        check(status == 400 and answer.get("__type") == "InvalidParameterException"
              and "platformFamily" in answer.get("message", ""), f"{status} {answer}")
        check(ecs.describe_services(cluster=p, services=[f"{p}-bad"])["failures"], "nothing created")
        status, answer = sim.raw_json("logs", "Logs_20140328.CreateLogGroup", {"logGroupName": "/x", "bogus": 1})
        check(status == 400 and answer.get("__type") == "InvalidParameterException" and "bogus" in answer["message"], f"logs {answer}")
        status, answer = sim.raw_json("application-autoscaling", "AnyScaleFrontendService.RegisterScalableTarget",
                                      {"ServiceNamespace": "ecs", "ResourceId": f"service/{p}/{p}", "ScalableDimension": "nope"})
        check(status == 400 and answer.get("__type") == "ValidationException" and "ScalableDimension" in answer["message"], f"aas {answer}")
        calls = sim.control("GET", "/_cortado/calls")["calls"]
        check([c["action"] for c in calls if c.get("invalid")] == ["CreateService", "CreateLogGroup", "RegisterScalableTarget"], f"{calls}")
        check(calls[0]["body"]["platformFamily"] == "Linux" and "platformFamily" in calls[0]["invalid"], f"{calls[0]}")
        check(calls[1]["action"] == "DescribeServices" and calls[1]["body"]["services"] == [f"{p}-bad"], f"a read's body too: {calls[1]}")
        with open(sim.invalid_log, encoding="utf-8") as f:
            lines = [json.loads(line) for line in f]
        check([x["action"] for x in lines][-3:] == ["CreateService", "CreateLogGroup", "RegisterScalableTarget"], f"{lines}")
        try:
            check(sim.control("POST", "/_cortado/config", {"strict": "log"})["strict"] == "log", "mode log")
            status, answer = sim.raw_json("ecs", target + "RegisterTaskDefinition", {
                "family": f"{p}-logged", "pidMode": "", "containerDefinitions": [{"name": "a", "image": "busybox", "memory": 64}]})
            check(status == 200 and answer["taskDefinition"]["revision"] == 1, f"forwarded: {status} {answer}")
            last = sim.control("GET", "/_cortado/calls")["calls"][-1]
            check("pidMode" in last.get("invalid", ""), f"logged: {last}")
        finally:
            sim.control("POST", "/_cortado/config", {"strict": "reject"})

    @case("moto gaps: no networkConfiguration {} on bridge services; awsvpc without securityGroups; EC2 memoryReservation only; Service Connect in deployments")
    def _() -> None:
        td = ecs.register_task_definition(family=f"{p}-ec2", requiresCompatibilities=["EC2"], networkMode="bridge",
                                          containerDefinitions=[{"name": "a", "image": "nginx", "memoryReservation": 128}])
        check(td["taskDefinition"]["containerDefinitions"][0]["memoryReservation"] == 128, f"{td}")
        ecs.create_service(cluster=p, serviceName=f"{p}-bridge", taskDefinition=f"{p}-ec2", desiredCount=0)
        svc = ecs.describe_services(cluster=p, services=[f"{p}-bridge"])["services"][0]
        check("networkConfiguration" not in svc, f"bridge service: {svc.get('networkConfiguration')}")
        subnets = seed_a["ecs"]["networkConfiguration"]["awsvpcConfiguration"]["subnets"]
        ecs.create_service(cluster=p, serviceName=f"{p}-nosg", taskDefinition=td1, desiredCount=1, launchType="FARGATE",
                           networkConfiguration={"awsvpcConfiguration": {"subnets": subnets}})
        svc, _ = poll_service(ecs, p, f"{p}-nosg", lambda s: primary(s)["rolloutState"] == "COMPLETED")
        check(svc["networkConfiguration"] == {"awsvpcConfiguration": {"subnets": subnets}} and svc["runningCount"] == 1, f"{svc}")
        sc = {"enabled": True, "namespace": p, "services": [{"portName": "http", "discoveryName": "api"}]}
        ecs.create_service(cluster=p, serviceName=f"{p}-sc", taskDefinition=td1, desiredCount=0, launchType="FARGATE",
                           networkConfiguration=seed_a["ecs"]["networkConfiguration"], serviceConnectConfiguration=sc)
        svc = ecs.describe_services(cluster=p, services=[f"{p}-sc"])["services"][0]
        got = svc["deployments"][0].get("serviceConnectConfiguration")
        check("serviceConnectConfiguration" not in svc and got == dict(sc, namespace=seed_a["cloudmap"]["namespaceArn"]), f"{svc}")

    @case("Express mode: create (defaults filled in, managed service), duplicate create, update, describe, delete, errors")
    def _() -> None:
        from botocore.exceptions import ClientError

        def code(fn: Callable[[], Any]) -> str:
            try:
                fn()
            except ClientError as e:
                return e.response["Error"]["Code"]
            return "no error"

        infra, exec_role = seed_a["iam"]["infrastructureRoleArn"], seed_a["iam"]["executionRoleArn"]
        name = f"{p}-xp"
        x = ecs.create_express_gateway_service(serviceName=name, cluster=p, infrastructureRoleArn=infra, executionRoleArn=exec_role,
                                               primaryContainer={"image": "nginx:1"})["service"]
        check(x["status"]["statusCode"] == "ACTIVE" and x["serviceArn"].endswith(f":service/{p}/{name}"), f"{x}")
        (c,) = x["activeConfigurations"]
        check((c["cpu"], c["memory"], c["cpuArchitecture"], c["healthCheckPath"], c["primaryContainer"]["containerPort"]) == ("256", "512", "X86_64", "/ping", 80), f"{c}")
        check(c["ingressPaths"][0]["accessType"] == "PUBLIC" and c["taskDefinitionArn"].endswith(f":task-definition/{p}-{name}:1"), f"{c}")
        svc = ecs.describe_services(cluster=p, services=[name])["services"][0]
        check(svc["resourceManagementType"] == "ECS" and svc["currentServiceDeployment"] == x["currentDeployment"], f"{svc}")
        check(code(lambda: ecs.create_express_gateway_service(serviceName=name, cluster=p, infrastructureRoleArn=infra,
                                                              primaryContainer={"image": "nginx:1"})) == "InvalidParameterException", "a second create")
        check(code(lambda: ecs.create_express_gateway_service(serviceName=f"{name}2", cluster=p, infrastructureRoleArn=infra, cpu="512",
                                                              taskDefinitionArn=td1)) == "InvalidParameterException", "taskDefinitionArn with cpu")
        check(code(lambda: ecs.create_express_gateway_service(serviceName=f"{name}3", cluster="nope", infrastructureRoleArn=infra,
                                                              primaryContainer={"image": "nginx:1"})) == "ClusterNotFoundException", "no cluster")
        u = ecs.update_express_gateway_service(serviceArn=x["serviceArn"], primaryContainer={"image": "nginx:2"})["service"]
        target = u["targetConfiguration"]
        check(target["primaryContainer"]["image"] == "nginx:2" and target["taskDefinitionArn"].endswith(":2"), f"{u}")
        d = ecs.describe_express_gateway_service(serviceArn=x["serviceArn"])["service"]
        sd = ecs.describe_service_deployments(serviceDeploymentArns=[d["currentDeployment"]])["serviceDeployments"][0]
        check(sd["targetServiceRevision"]["arn"] == target["serviceRevisionArn"], f"{sd}")
        check(code(lambda: ecs.update_express_gateway_service(serviceArn=x["serviceArn"] + "x", cpu="512")) == "ServiceNotFoundException", "update unknown")
        check(code(lambda: ecs.describe_express_gateway_service(serviceArn=x["serviceArn"] + "x")) == "ResourceNotFoundException", "describe unknown")
        check(ecs.delete_express_gateway_service(serviceArn=x["serviceArn"])["service"]["status"]["statusCode"] == "DRAINING", "delete")
        check(code(lambda: ecs.delete_express_gateway_service(serviceArn=x["serviceArn"])) == "ServiceNotActiveException", "a second delete")
        states = [ecs.describe_express_gateway_service(serviceArn=x["serviceArn"])["service"]["status"]["statusCode"] for _ in range(3)]
        check(states == ["DRAINING", "INACTIVE", "INACTIVE"], f"{states}")

    @case("/_cortado/calls records calls (seed excluded) and can be cleared")
    def _() -> None:
        sim.control("DELETE", "/_cortado/calls")
        check(sim.control("POST", "/_cortado/calls")["calls"] == [], "not cleared")
        ecs.describe_services(cluster=p, services=[p])
        sim.client("sts", "eu-west-1", "111122223333").get_caller_identity()
        cd.list_applications()
        sim.client("s3", "us-east-1").list_objects_v2(Bucket=f"{p}-tfstate")
        raw = sim.control("POST", "/_cortado/calls")["calls"]
        check(all(isinstance(c.pop("time"), float) for c in raw), f"calls without a time: {raw}")
        check(raw[0].pop("body", None) == {"cluster": p, "services": [p]}, f"the ECS read's body: {raw[0]}")
        for c in raw:
            c.pop("body", None)
        check(raw[3].pop("resource", None) == f"/{p}-tfstate", f"the S3 call's resource: {raw[3]}")
        calls = raw
        want = [
            {"service": "ecs", "action": "DescribeServices", "region": "us-east-1", "account": "123456789012"},
            {"service": "sts", "action": "GetCallerIdentity", "region": "eu-west-1", "account": "111122223333"},
            {"service": "codedeploy", "action": "ListApplications", "region": "us-east-1", "account": "123456789012"},
            {"service": "s3", "action": "ListObjectsV2", "region": "us-east-1", "account": "123456789012"},
        ]
        check(calls == want, f"calls {calls}")

    @case("stock routes: /moto-api/reset")
    def _() -> None:
        req = urllib.request.Request(f"{sim.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(req) as resp:
            check(json.loads(resp.read()) == {"status": "ok"}, "reset")
        check(ecs.describe_clusters(clusters=[p])["failures"], "cluster survived reset")

    t_stop = time.monotonic()
    sim.stop()
    print(f"launcher exited {sim.proc.returncode} {time.monotonic() - t_stop:.2f}s after stdin EOF", flush=True)
    passed = sum(1 for _, ok, _ in RESULTS if ok)
    failed = len(RESULTS) - passed
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or sim.proc.returncode != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
