"""POST /_cortado/seed: build a realistic account (one region, one prefix) through the server's own API."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import threading

import boto3
from botocore.config import Config

SEED_USER_AGENT = "cortado-sim-seed"
from moto.core import DEFAULT_ACCOUNT_ID as DEFAULT_ACCOUNT
TRUST_ECS_STRING = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
TRUST_ECS_LIST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": ["ecs-tasks.amazonaws.com"]}, "Action": "sts:AssumeRole"}],
}
TRUST_EC2 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
TRUST_ECS_SERVICE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
TRUST_CODEDEPLOY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "codedeploy.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
NET_TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {"Prefix": {"Type": "String"}, "VpcId": {"Type": "String"}, "SubnetIds": {"Type": "String"}},
    "Resources": {
        "Marker": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Name": {"Fn::Sub": "/${AWS::StackName}/marker"}, "Type": "String", "Value": {"Ref": "VpcId"}},
        }
    },
    "Outputs": {
        "VpcId": {"Value": {"Ref": "VpcId"}, "Export": {"Name": {"Fn::Sub": "${Prefix}-VpcId"}}},
        "SubnetIds": {"Value": {"Ref": "SubnetIds"}, "Export": {"Name": {"Fn::Sub": "${Prefix}-SubnetIds"}}},
    },
}
TF_PROVIDER = 'provider["registry.terraform.io/hashicorp/aws"]'


class AlreadySeeded(Exception):
    pass


_CLIENTS: dict[tuple[str, str, str | None], Any] = {}
_CLIENTS_LOCK = threading.Lock()
# The region the current thread's seed signs its requests for (the simulator, like moto, reads a
# request's region from its signature): one client per service serves every region, since creating a
# client (its class, its methods, its event hooks) cost a quarter of a seed's CPU, once per region.
_SEEDING = threading.local()


def _sign_for_the_seeded_region(request: Any, **_: Any) -> None:
    region = getattr(_SEEDING, "region", None)
    if region:
        request.context.setdefault("signing", {})["region"] = region


class Seeder:
    def __init__(self, endpoint: str, region: str, prefix: str, account: str | None):
        if not prefix or len(prefix) > 24 or prefix != prefix.lower():
            raise ValueError("prefix must be 1..24 lowercase characters (it names ALBs and target groups)")
        self.endpoint, self.region, self.prefix = endpoint, region, prefix
        self.account = account or DEFAULT_ACCOUNT
        self.explicit_account = account
        self.tags = [{"key": "cortado:test", "value": prefix}]

    def client(self, service: str) -> Any:
        # One client per service and account for the process (clients are thread-safe); the region is
        # the seed's, set per request (`_sign_for_the_seeded_region`).
        key = (service, self.endpoint, self.explicit_account)
        with _CLIENTS_LOCK:
            if key not in _CLIENTS:
                _CLIENTS[key] = self._new_client(service)
            return _CLIENTS[key]

    def _new_client(self, service: str) -> Any:
        c = boto3.client(
            service,
            region_name="us-east-1",  # signed for the seeded region instead, per request
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(user_agent_extra=SEED_USER_AGENT, retries={"max_attempts": 1}),
        )
        if self.explicit_account:
            def add_header(request: Any, **_: Any) -> None:
                request.headers["x-moto-account-id"] = self.explicit_account

            c.meta.events.register("before-send.*.*", add_header)
        c.meta.events.register("before-sign.*.*", _sign_for_the_seeded_region)
        return c

    # ------------------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        _SEEDING.region = self.region
        try:
            return self._run()
        finally:
            _SEEDING.region = None

    def _run(self) -> dict[str, Any]:
        p, out = self.prefix, {"region": self.region, "account": self.account, "prefix": self.prefix}
        if self.client("ecs").describe_clusters(clusters=[p])["clusters"]:
            raise AlreadySeeded(f"prefix {p!r} is already seeded in {self.region}/{self.account}")
        out["network"] = self.network()
        out["iam"] = self.iam()
        out["ecr"] = self.ecr()
        logs = self.client("logs")
        logs.create_log_group(logGroupName=f"/ecs/{p}")
        out["logGroup"] = f"/ecs/{p}"
        out["alb"] = self.alb(out["network"])
        out["ssm"] = self.ssm()
        out["secret"] = self.secret()
        out["cloudformation"] = self.cloudformation(out["network"])
        out["cloudmap"] = self.cloudmap()
        out["ecs"] = self.ecs(out)
        out["autoscaling"] = self.autoscaling(out["ecs"])
        out["codedeploy"] = self.codedeploy(out)
        out["tfstate"] = self.tfstate(out)
        return out

    def network(self) -> dict[str, Any]:
        ec2 = self.client("ec2")
        tag = [{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": self.prefix}]}]
        vpc_id = ec2.create_vpc(CidrBlock="10.42.0.0/16", TagSpecifications=tag)["Vpc"]["VpcId"]
        ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": True})
        ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
        zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
        subnets = []
        for i in range(2):
            kwargs: dict[str, Any] = {"VpcId": vpc_id, "CidrBlock": f"10.42.{i}.0/24"}
            if len(zones) == 2:
                kwargs["AvailabilityZone"] = zones[i]
            sn = ec2.create_subnet(**kwargs)["Subnet"]
            subnets.append({"id": sn["SubnetId"], "availabilityZone": sn["AvailabilityZone"]})
        sg_id = ec2.create_security_group(GroupName=self.prefix, Description=f"{self.prefix} app", VpcId=vpc_id)["GroupId"]
        default_sg = ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": ["default"]}]
        )["SecurityGroups"][0]["GroupId"]
        return {
            "vpcId": vpc_id,
            "subnetIds": [s["id"] for s in subnets],
            "subnets": subnets,
            "securityGroupId": sg_id,
            "defaultSecurityGroupId": default_sg,
        }

    def iam(self) -> dict[str, Any]:
        iam = self.client("iam")

        def role(name: str, trust: dict[str, Any]) -> str:
            return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]

        p = self.prefix
        return {
            "taskRoleArn": role(f"{p}-task", TRUST_ECS_STRING),
            "executionRoleArn": role(f"{p}-exec", TRUST_ECS_LIST),
            "noTrustRoleArn": role(f"{p}-notrust", TRUST_EC2),
            "codeDeployRoleArn": role(f"{p}-codedeploy", TRUST_CODEDEPLOY),
            # An Express service's infrastructure role (ECS itself assumes it).
            "infrastructureRoleArn": role(f"{p}-infra", TRUST_ECS_SERVICE),
        }

    def ecr(self) -> dict[str, Any]:
        ecr = self.client("ecr")
        repos: dict[str, Any] = {}
        for short in ("app", "web"):
            repo = ecr.create_repository(repositoryName=f"{self.prefix}/{short}")["repository"]
            repos[short] = {"name": repo["repositoryName"], "uri": repo["repositoryUri"], "arn": repo["repositoryArn"]}
        digests = {}
        for tag in ("v1", "v2"):
            config = hashlib.sha256(f"{self.prefix}-{tag}-config".encode()).hexdigest()
            layer = hashlib.sha256(f"{self.prefix}-{tag}-layer".encode()).hexdigest()
            manifest = {
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1469, "digest": f"sha256:{config}"},
                "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 3207000, "digest": f"sha256:{layer}"}],
            }
            image = ecr.put_image(repositoryName=f"{self.prefix}/app", imageManifest=json.dumps(manifest), imageTag=tag)
            digests[tag] = image["image"]["imageId"]["imageDigest"]
        app = repos["app"]
        return {
            "repositoryName": app["name"],
            "repositoryUri": app["uri"],
            "repositoryArn": app["arn"],
            "images": {tag: {"tag": tag, "digest": d, "uri": f"{app['uri']}:{tag}"} for tag, d in digests.items()},
            "repositories": repos,
        }

    def alb(self, net: dict[str, Any]) -> dict[str, Any]:
        elb = self.client("elbv2")
        p = self.prefix
        lb = elb.create_load_balancer(
            Name=f"{p}-alb", Subnets=net["subnetIds"], SecurityGroups=[net["securityGroupId"]], Type="application"
        )["LoadBalancers"][0]
        tgs = {}
        for name in (f"{p}-tg", f"{p}-tg2"):
            tg = elb.create_target_group(
                Name=name, Protocol="HTTP", Port=80, VpcId=net["vpcId"], TargetType="ip", HealthCheckPath="/"
            )["TargetGroups"][0]
            tgs[name] = tg["TargetGroupArn"]
        prod = elb.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tgs[f"{p}-tg"]}],
        )["Listeners"][0]["ListenerArn"]
        test = elb.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=8080,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tgs[f"{p}-tg2"]}],
        )["Listeners"][0]["ListenerArn"]
        return {
            "loadBalancerArn": lb["LoadBalancerArn"],
            "dnsName": lb["DNSName"],
            "targetGroupName": f"{p}-tg",
            "targetGroupArn": tgs[f"{p}-tg"],
            "targetGroup2Name": f"{p}-tg2",
            "targetGroup2Arn": tgs[f"{p}-tg2"],
            "listenerArn": prod,
            "testListenerArn": test,
        }

    def ssm(self) -> dict[str, Any]:
        ssm = self.client("ssm")
        params = {
            f"/{self.prefix}/db/host": ("String", "db.internal"),
            f"/{self.prefix}/hosts": ("StringList", "a.example,b.example,c.example"),
            f"/{self.prefix}/db/password": ("SecureString", "s3cret"),
        }
        out = {}
        for name, (kind, value) in params.items():
            ssm.put_parameter(Name=name, Type=kind, Value=value)
            arn = f"arn:aws:ssm:{self.region}:{self.account}:parameter{name}"
            out[name] = {"name": name, "type": kind, "value": value, "arn": arn}
        return {"parameters": out}

    def secret(self) -> dict[str, Any]:
        sm = self.client("secretsmanager")
        value = {"username": "app", "password": "pw"}
        res = sm.create_secret(Name=f"{self.prefix}/db", SecretString=json.dumps(value))
        return {"name": res["Name"], "arn": res["ARN"], "value": value}

    def cloudformation(self, net: dict[str, Any]) -> dict[str, Any]:
        cfn = self.client("cloudformation")
        name = f"{self.prefix}-net"
        subnets = ",".join(net["subnetIds"])
        stack_id = cfn.create_stack(
            StackName=name,
            TemplateBody=json.dumps(NET_TEMPLATE),
            Parameters=[
                {"ParameterKey": "Prefix", "ParameterValue": self.prefix},
                {"ParameterKey": "VpcId", "ParameterValue": net["vpcId"]},
                {"ParameterKey": "SubnetIds", "ParameterValue": subnets},
            ],
        )["StackId"]
        return {
            "stackName": name,
            "stackId": stack_id,
            "outputs": {"VpcId": net["vpcId"], "SubnetIds": subnets},
            "exports": {f"{self.prefix}-VpcId": net["vpcId"], f"{self.prefix}-SubnetIds": subnets},
        }

    def ecs(self, out: dict[str, Any]) -> dict[str, Any]:
        import sim_ecs
        from moto.ecs.models import ecs_backends

        ecs = self.client("ecs")
        p, net, iam = self.prefix, out["network"], out["iam"]
        cluster_arn = ecs.create_cluster(clusterName=p, tags=self.tags)["cluster"]["clusterArn"]
        password = out["ssm"]["parameters"][f"/{p}/db/password"]["arn"]
        td = ecs.register_task_definition(
            family=f"{p}-app",
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="256",
            memory="512",
            executionRoleArn=iam["executionRoleArn"],
            taskRoleArn=iam["taskRoleArn"],
            containerDefinitions=[
                {
                    "name": "app",
                    "image": out["ecr"]["images"]["v1"]["uri"],
                    "essential": True,
                    "portMappings": [{"containerPort": 80, "protocol": "tcp"}],
                    "logConfiguration": {
                        "logDriver": "awslogs",
                        "options": {
                            "awslogs-group": f"/ecs/{p}",
                            "awslogs-region": self.region,
                            "awslogs-stream-prefix": "app",
                        },
                    },
                    "secrets": [
                        {"name": "DB_PASSWORD", "valueFrom": password},
                        {"name": "DB_SECRET", "valueFrom": out["secret"]["arn"]},
                    ],
                    "environment": [{"name": "DB_HOST", "value": "db.internal"}],
                }
            ],
            tags=self.tags,
        )["taskDefinition"]
        network = {
            "awsvpcConfiguration": {
                "subnets": net["subnetIds"],
                "securityGroups": [net["securityGroupId"]],
                "assignPublicIp": "DISABLED",
            }
        }
        common = dict(
            cluster=p,
            taskDefinition=td["taskDefinitionArn"],
            desiredCount=1,
            launchType="FARGATE",
            platformVersion="LATEST",
            networkConfiguration=network,
            propagateTags="SERVICE",
            tags=self.tags,
        )
        svc = ecs.create_service(
            serviceName=p,
            loadBalancers=[{"targetGroupArn": out["alb"]["targetGroupArn"], "containerName": "app", "containerPort": 80}],
            deploymentConfiguration={
                "deploymentCircuitBreaker": {"enable": True, "rollback": True},
                "maximumPercent": 200,
                "minimumHealthyPercent": 100,
            },
            healthCheckGracePeriodSeconds=30,
            enableExecuteCommand=True,
            **common,
        )["service"]
        bg = ecs.create_service(
            serviceName=f"{p}-bg",
            loadBalancers=[{"targetGroupArn": out["alb"]["targetGroupArn"], "containerName": "app", "containerPort": 80}],
            deploymentController={"type": "CODE_DEPLOY"},
            **common,
        )["service"]
        model = ecs_backends[self.account][self.region].services[f"{p}:{p}"]
        sim_ecs.settle(model)
        return {
            "clusterName": p,
            "clusterArn": cluster_arn,
            "taskDefinitionFamily": td["family"],
            "taskDefinitionArn": td["taskDefinitionArn"],
            "serviceName": p,
            "serviceArn": svc["serviceArn"],
            "deploymentId": model.deployments[0]["id"],
            "blueGreenServiceName": f"{p}-bg",
            "blueGreenServiceArn": bg["serviceArn"],
            "networkConfiguration": network,
        }

    def cloudmap(self) -> dict[str, Any]:
        """An HTTP namespace named P, for Service Connect."""
        sd = self.client("servicediscovery")
        sd.create_http_namespace(Name=self.prefix)
        ns = next(n for n in sd.list_namespaces()["Namespaces"] if n["Name"] == self.prefix)
        return {"namespaceName": self.prefix, "namespaceArn": ns["Arn"], "namespaceId": ns["Id"]}

    def autoscaling(self, ecs: dict[str, Any]) -> dict[str, Any]:
        aas = self.client("application-autoscaling")
        resource_id = f"service/{ecs['clusterName']}/{ecs['serviceName']}"
        aas.register_scalable_target(
            ServiceNamespace="ecs", ResourceId=resource_id, ScalableDimension="ecs:service:DesiredCount",
            MinCapacity=1, MaxCapacity=4,
        )
        policy = aas.put_scaling_policy(
            PolicyName=f"{self.prefix}-cpu",
            ServiceNamespace="ecs",
            ResourceId=resource_id,
            ScalableDimension="ecs:service:DesiredCount",
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 50.0,
                "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
                "ScaleInCooldown": 60,
                "ScaleOutCooldown": 60,
            },
        )
        return {"resourceId": resource_id, "minCapacity": 1, "maxCapacity": 4,
                "policyName": f"{self.prefix}-cpu", "policyArn": policy["PolicyARN"]}

    def codedeploy(self, out: dict[str, Any]) -> dict[str, Any]:
        cd = self.client("codedeploy")
        p, alb = self.prefix, out["alb"]
        app_id = cd.create_application(applicationName=f"{p}-cd", computePlatform="ECS")["applicationId"]
        group_id = cd.create_deployment_group(
            applicationName=f"{p}-cd",
            deploymentGroupName=f"{p}-dg",
            deploymentConfigName="CodeDeployDefault.ECSAllAtOnce",
            serviceRoleArn=out["iam"]["codeDeployRoleArn"],
            deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
            blueGreenDeploymentConfiguration={
                "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE", "terminationWaitTimeInMinutes": 0},
                "deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT"},
            },
            loadBalancerInfo={
                "targetGroupPairInfoList": [
                    {
                        "targetGroups": [{"name": alb["targetGroupName"]}, {"name": alb["targetGroup2Name"]}],
                        "prodTrafficRoute": {"listenerArns": [alb["listenerArn"]]},
                        "testTrafficRoute": {"listenerArns": [alb["testListenerArn"]]},
                    }
                ]
            },
            ecsServices=[{"serviceName": f"{p}-bg", "clusterName": p}],
            autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]},
        )["deploymentGroupId"]
        return {
            "applicationName": f"{p}-cd",
            "applicationId": app_id,
            "deploymentGroupName": f"{p}-dg",
            "deploymentGroupId": group_id,
            "serviceName": f"{p}-bg",
        }

    def tfstate(self, out: dict[str, Any]) -> dict[str, Any]:
        s3 = self.client("s3")
        bucket, key = f"{self.prefix}-tfstate", "env/terraform.tfstate"
        if self.region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": self.region})
        net, repos = out["network"], out["ecr"]["repositories"]

        def res(mode: str, kind: str, name: str, instances: list[dict[str, Any]], module: str | None = None) -> dict[str, Any]:
            r: dict[str, Any] = {"mode": mode, "type": kind, "name": name, "provider": TF_PROVIDER, "instances": instances}
            if module:
                r = {"module": module, **r}
            return r

        db_address = f"{self.prefix}-db.c9akciq32.{self.region}.rds.amazonaws.com"
        state = {
            "version": 4,
            "terraform_version": "1.9.8",
            "serial": 7,
            "lineage": str(uuid.uuid5(uuid.NAMESPACE_DNS, self.prefix)),
            "outputs": {
                "vpc_id": {"value": net["vpcId"], "type": "string"},
                "subnet_ids": {"value": net["subnetIds"], "type": ["list", "string"]},
                # Secrets as real states hold them: cassettes must not record these (plugin test).
                "db_password": {"value": "s3cret-tf-output", "type": "string", "sensitive": True},
            },
            "resources": [
                res("managed", "aws_ecr_repository", "this", [
                    {"index_key": k, "schema_version": 0,
                     "attributes": {"id": r["name"], "name": r["name"], "arn": r["arn"], "repository_url": r["uri"]}}
                    for k, r in repos.items()
                ]),
                res("managed", "aws_subnet", "private", [
                    {"index_key": i, "schema_version": 1,
                     "attributes": {"id": s["id"], "vpc_id": net["vpcId"], "availability_zone": s["availabilityZone"]}}
                    for i, s in enumerate(net["subnets"])
                ]),
                res("data", "aws_security_group", "default", [
                    {"index_key": "first", "schema_version": 0, "attributes": {"id": net["securityGroupId"], "vpc_id": net["vpcId"]}},
                    {"index_key": "second", "schema_version": 0, "attributes": {"id": net["defaultSecurityGroupId"], "vpc_id": net["vpcId"]}},
                ]),
                res("managed", "aws_db_instance", "main", [
                    {"schema_version": 2,
                     "attributes": {"id": f"{self.prefix}-db", "address": db_address, "port": 5432, "password": "s3cret-tf-password",
                                    "tags": {"api_key": "s3cret-tf-tag"}},
                     "sensitive_attributes": [[{"type": "get_attr", "value": "tags"}, {"type": "index", "value": {"value": "api_key", "type": "string"}}]]}
                ], module="module.db"),
            ],
            "check_results": None,
        }
        content = json.dumps(state, indent=2)
        s3.put_object(Bucket=bucket, Key=key, Body=content.encode())
        return {
            "bucket": bucket,
            "key": key,
            "url": f"s3://{bucket}/{key}",
            "content": content,
            "addresses": {
                "aws_ecr_repository.this[\"app\"].repository_url": repos["app"]["uri"],
                "aws_ecr_repository.this[\"web\"].repository_url": repos["web"]["uri"],
                "aws_subnet.private[0].id": net["subnetIds"][0],
                "aws_subnet.private[1].id": net["subnetIds"][1],
                "data.aws_security_group.default[\"first\"].id": net["securityGroupId"],
                "data.aws_security_group.default[\"second\"].id": net["defaultSecurityGroupId"],
                "module.db.aws_db_instance.main.address": db_address,
            },
        }


def seed(endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
    region, prefix, account = body.get("region"), body.get("prefix"), body.get("account")
    if not region or not prefix:
        raise ValueError("seed needs 'region' and 'prefix'")
    if account is not None and (len(str(account)) != 12 or not str(account).isdigit()):
        raise ValueError("account must be 12 digits")
    return Seeder(endpoint, str(region), str(prefix), str(account) if account else None).run()
