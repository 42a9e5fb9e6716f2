//! ECS Express mode (issue 27 §2, ecspresso v2.6.5/v2.7): an `express_definition` rendered, diffed,
//! deployed (CreateExpressGatewayService, then UpdateExpressGatewayService with only what Update
//! accepts), waited on through the service deployment ECS starts, shown by `status`, deleted,
//! verified, written by `init --express`, in `iam-policy`; and the commands ecspresso refuses for it
//! refused — against the simulator's Express services (tests/sim/sim_express.py).

use cortado_e2e::approved::{approved_requests, unapproved};
use cortado_e2e::{Project, sim, unique_region};
use serde_json::{Value, json};

const POLL: (&str, &str) = ("CORTADO_POLL_INTERVAL", "20ms");

/// The members UpdateExpressGatewayService accepts (botocore's UpdateExpressGatewayServiceRequest).
const UPDATE_MEMBERS: &[&str] = &[
    "serviceArn",
    "executionRoleArn",
    "healthCheckPath",
    "primaryContainer",
    "taskRoleArn",
    "networkConfiguration",
    "cpu",
    "memory",
    "cpuArchitecture",
    "scalingTarget",
    "taskDefinitionArn",
];

struct Express {
    p: Project,
    region: String,
    cluster: String,
    seed: Value,
}

/// An Express project `web` in a seeded region of its own: the seeded roles and ECR image v1.
fn project(tag: &str) -> Express {
    let sim = sim();
    let region = unique_region(tag);
    let seed = sim.seed(&region, &region);
    let cluster = seed["ecs"]["clusterName"].as_str().expect("seeded cluster").to_owned();
    let p = Project::against(sim, &region);
    p.write(
        "cortado.yml",
        &format!(
            "region: {region}\ncluster: {cluster}\nservice: web\nexpress_definition: ecs-express-def.json\ntimeout: 60s\naudit_log: cortado-audit.jsonl\n"
        ),
    );
    let x = Express { p, region, cluster, seed };
    x.write_def(&x.image("v1"), true);
    x
}

impl Express {
    fn image(&self, tag: &str) -> String {
        self.seed["ecr"]["images"][tag]["uri"].as_str().expect("seeded image").to_owned()
    }

    fn role(&self, key: &str) -> String {
        self.seed["iam"][key].as_str().expect("seeded role").to_owned()
    }

    fn write_def(&self, image: &str, with_env: bool) {
        let mut container = json!({"image": image, "containerPort": 8080});
        if with_env {
            container["environment"] = json!([{"name": "MODE", "value": "blue"}]);
        }
        let def = json!({
            "infrastructureRoleArn": self.role("infrastructureRoleArn"),
            "executionRoleArn": self.role("executionRoleArn"),
            "taskRoleArn": self.role("taskRoleArn"),
            "primaryContainer": container,
            "tags": [{"key": "team", "value": "web"}],
        });
        self.p.write("ecs-express-def.json", &serde_json::to_string_pretty(&def).unwrap());
    }

    fn mutations(&self) -> Vec<String> {
        sim().mutations_in(&self.region).iter().map(|m| m["action"].as_str().unwrap_or("").to_owned()).collect()
    }

    fn audit(&self) -> Vec<Value> {
        self.p.read("cortado-audit.jsonl").lines().map(|l| serde_json::from_str(l).expect("audit record")).collect()
    }
}

/// What a run printed: the reporter's lines (stdout) and the logs (stderr).
fn printed(r: &cortado_e2e::Run) -> String {
    format!("{}\n{}", r.stdout, r.stderr)
}

#[test]
fn an_express_service_is_rendered_created_diffed_updated_waited_on_and_deleted() {
    let x = project("xps");
    let p = &x.p;

    // render: the file with the config's service and cluster.
    let r = p.run(&["render", "expressdef"], &[]);
    r.expect_code(0);
    let rendered: Value = serde_json::from_str(&r.stdout).expect("render expressdef prints JSON");
    assert_eq!(rendered["serviceName"], "web");
    assert_eq!(rendered["cluster"], json!(x.cluster));

    // The dry run shows the exact request and sends nothing.
    let r = p.run(&["deploy", "--dry-run"], &[POLL]);
    r.expect_code(0);
    assert!(printed(&r).contains("ecs:CreateExpressGatewayService"), "{}", printed(&r));
    assert!(x.mutations().is_empty(), "{:?}", x.mutations());

    // Created, then followed on the service deployment ECS started to SUCCESSFUL.
    let r = p.run(&["deploy"], &[POLL]);
    r.expect_code(0);
    assert!(printed(&r).contains("created Express service web"), "{}", printed(&r));
    assert!(printed(&r).contains("Express service deployment completed") && printed(&r).contains("; endpoint PUBLIC web-"), "{}", printed(&r));
    assert_eq!(x.mutations(), ["CreateExpressGatewayService"]);
    let created = &sim().mutations_in(&x.region)[0]["body"];
    assert_eq!(created["serviceName"], "web");
    assert_eq!(created["primaryContainer"]["image"], json!(x.image("v1")));
    let calls = sim().calls_in(&x.region);
    assert!(calls.iter().any(|c| c == "ecs:DescribeServiceDeployments"), "the wait follows the service deployment: {calls:?}");

    // AWS's defaults (cpu, memory, health check, scaling, network, log group) equal their absence:
    // no difference, and a second deploy sends nothing.
    let r = p.run(&["diff", "--exit-code"], &[]);
    assert_eq!(r.code, 0, "diff after deploy:\n{}\n{}", r.stdout, r.stderr);
    let r = p.run(&["deploy"], &[POLL]);
    r.expect_code(0);
    assert!(printed(&r).contains("Express service is up to date"), "{}", printed(&r));
    assert_eq!(x.mutations().len(), 1, "{:?}", x.mutations());

    // A new image, the environment dropped: diff shows it; the update carries only Update's members
    // and clears the environment explicitly.
    x.write_def(&x.image("v2"), false);
    let r = p.run(&["diff", "--exit-code"], &[]);
    r.expect_code(1);
    assert!(r.stdout.contains(&format!("+    \"image\": \"{}\"", x.image("v2"))), "{}", r.stdout);
    p.run(&["deploy"], &[POLL]).expect_code(0);
    assert_eq!(x.mutations(), ["CreateExpressGatewayService", "UpdateExpressGatewayService"]);
    let update = &sim().mutations_in(&x.region)[1]["body"];
    for key in update.as_object().expect("an object").keys() {
        assert!(UPDATE_MEMBERS.contains(&key.as_str()), "UpdateExpressGatewayService got {key}: {update}");
    }
    assert_eq!(update["primaryContainer"]["environment"], json!([]), "{update}");
    assert_eq!(update["serviceArn"], json!(format!("arn:aws:ecs:{}:123456789012:service/{}/web", x.region, x.cluster)));
    p.run(&["diff", "--exit-code"], &[]).expect_code(0);

    // status: the service, its endpoint and its newest configuration.
    let status = p.run(&["status"], &[]);
    status.expect_code(0);
    assert!(status.stdout.contains("Status: ACTIVE") && status.stdout.contains("Endpoint: PUBLIC web-"), "{}", status.stdout);
    assert!(status.stdout.contains(&format!("image={}", x.image("v2"))) && status.stdout.contains("CurrentDeployment: "), "{}", status.stdout);
    // wait: the current deployment, already SUCCESSFUL.
    let r = p.run(&["wait"], &[POLL]);
    r.expect_code(0);
    assert!(printed(&r).contains("Express service deployment completed"), "{}", printed(&r));

    // Delete needs a confirmation off a terminal; --force deletes (DRAINING).
    p.run(&["delete"], &[]).expect_code(1);
    assert_eq!(x.mutations().len(), 2);
    let r = p.run(&["delete", "--force"], &[]);
    r.expect_code(0);
    assert_eq!(x.mutations().last().map(String::as_str), Some("DeleteExpressGatewayService"));
    assert!(p.run(&["status"], &[]).stdout.contains("Status: DRAINING"));

    // Every request AWS received was an approved step of a recorded decision; the outcomes name
    // the Express service and the deployment followed.
    let records = x.audit();
    let received = sim().mutations_in(&x.region);
    assert!(unapproved(&received, &approved_requests(&records)).is_empty(), "{:?}", unapproved(&received, &approved_requests(&records)));
    let followed: Vec<&Value> = records.iter().filter(|r| r["kind"] == "outcome" && r["service_deployment_arn"].is_string()).collect();
    assert_eq!(followed.len(), 2, "{records:?}");
    assert!(sim().invalid_in(&x.region).is_empty(), "{:?}", sim().invalid_in(&x.region));
}

#[test]
fn a_failing_express_deployment_exits_1_and_ecs_rolls_it_back() {
    let x = project("xpsfail");
    x.p.run(&["deploy"], &[POLL]).expect_code(0);
    x.write_def(&format!("{}:fail", x.image("v2")), true);
    let r = x.p.run(&["deploy"], &[POLL]);
    r.expect_code(1);
    assert!(printed(&r).contains("ROLLBACK_SUCCESSFUL"), "{}", printed(&r));
    let outcome = x.audit().into_iter().rev().find(|r| r["kind"] == "outcome").expect("an outcome");
    assert_eq!(outcome["result"], "failed");
    assert!(outcome["service_deployment_arn"].as_str().is_some_and(|a| a.contains(":service-deployment/")), "{outcome}");
    // The service runs its first configuration again: the file differs from it.
    let status = x.p.run(&["status"], &[]);
    assert!(status.stdout.contains(&format!("image={} ", x.image("v1"))), "{}", status.stdout);
    assert!(sim().invalid_in(&x.region).is_empty());
}

#[test]
fn the_commands_ecspresso_refuses_for_express_exit_2_and_call_nothing() {
    let x = project("xpsrefuse");
    for args in [&["scale", "--tasks", "2"][..], &["run"], &["revisions"], &["register"], &["deregister", "--force"], &["appspec"], &["rollback"], &["refresh"]]
    {
        let r = x.p.run(args, &[]);
        r.expect_code(2);
        assert!(r.stderr.contains(&format!("`{}` does not work with an Express service (web, express_definition)", args[0])), "{args:?}: {}", r.stderr);
    }
    // Nor can it be a stack member (a stack deploys through the service path).
    x.p.write("cortado-stack.yml", "services:\n  web: { config: cortado.yml, needs: [] }\n");
    let r = x.p.run(&["stack", "deploy", "--stack", "cortado-stack.yml"], &[]);
    r.expect_code(2);
    assert!(r.stderr.contains("an Express service cannot be a stack member"), "{}", r.stderr);
    assert!(sim().calls_in(&x.region).is_empty(), "{:?}", sim().calls_in(&x.region));
}

#[test]
fn an_express_definition_for_a_service_ecs_does_not_manage_is_refused() {
    let x = project("xpsplain");
    // The seeded service (named after the region) is an ordinary one.
    x.p.write("cortado.yml", &x.p.read("cortado.yml").replace("service: web", &format!("service: {}", x.region)));
    let r = x.p.run(&["deploy"], &[POLL]);
    r.expect_code(1);
    assert!(printed(&r).contains("is not an Express service (resourceManagementType CUSTOMER)"), "{}", printed(&r));
    assert!(x.mutations().is_empty(), "{:?}", x.mutations());
    // The infrastructure role cannot change after creation: refused before anything is sent.
    let y = project("xpsinfra");
    y.p.run(&["deploy"], &[POLL]).expect_code(0);
    let def = y.p.read("ecs-express-def.json").replace(&y.role("infrastructureRoleArn"), &y.role("noTrustRoleArn"));
    y.p.write("ecs-express-def.json", &def);
    let r = y.p.run(&["deploy"], &[POLL]);
    r.expect_code(2);
    assert!(r.stderr.contains("ecs-express-def.json") && r.stderr.contains("key \"infrastructureRoleArn\""), "{}", r.stderr);
    assert_eq!(y.mutations(), ["CreateExpressGatewayService"]);
}

#[test]
fn init_express_writes_a_definition_that_deploys_unchanged_and_verify_checks_its_roles() {
    let x = project("xpsinit");
    x.p.run(&["deploy"], &[POLL]).expect_code(0);

    // init --express in a fresh directory: the config and the express definition, which shows no
    // difference and deploys nothing.
    let q = Project::against(sim(), &x.region);
    let r = q.run(&["init", "--region", &x.region, "--cluster", &x.cluster, "--service", "web", "--express"], &[]);
    r.expect_code(0);
    let config = q.read("cortado.yml");
    assert!(config.contains("service: web") && config.contains("express_definition: ecs-express-def.json"), "{config}");
    let written: Value = serde_json::from_str(&q.read("ecs-express-def.json")).expect("JSON");
    assert!(written.get("serviceName").is_none() && written.get("cluster").is_none(), "{written}");
    assert!(written.get("taskDefinitionArn").is_none() && written["primaryContainer"]["image"] == json!(x.image("v1")), "{written}");
    assert_eq!(written["infrastructureRoleArn"], json!(x.role("infrastructureRoleArn")));
    assert_eq!(written["tags"], json!([{"key": "team", "value": "web"}]));
    let r = q.run(&["diff", "--exit-code"], &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let before = x.mutations().len();
    q.run(&["deploy"], &[POLL]).expect_code(0);
    assert_eq!(x.mutations().len(), before, "{:?}", x.mutations());

    // verify: execution and task roles trusted by ECS tasks, the infrastructure role by ECS, the image.
    let r = x.p.run(&["verify", "--no-get-secrets"], &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for node in ["ExpressDefinition", "ExecutionRole[", "TaskRole[", "InfrastructureRole[", "PrimaryContainer", "Cluster"] {
        assert!(r.stdout.contains(node), "{node} missing:\n{}", r.stdout);
    }
    // An infrastructure role ECS cannot assume is NG, exit 1.
    let def = x.p.read("ecs-express-def.json").replace(&x.role("infrastructureRoleArn"), &x.role("noTrustRoleArn"));
    x.p.write("ecs-express-def.json", &def);
    let r = x.p.run(&["verify", "--no-get-secrets"], &[]);
    r.expect_code(1);
    assert!(r.stdout.contains("does not trust ecs.amazonaws.com"), "{}", r.stdout);
}

#[test]
fn iam_policy_scopes_the_express_operations_to_the_service_and_passes_its_roles() {
    let x = project("xpsiam");
    let r = x.p.run(&["iam-policy"], &[]);
    r.expect_code(0);
    let policy: Value = serde_json::from_str(&r.stdout).expect("JSON");
    let statements = policy["Statement"].as_array().expect("statements");
    let find = |sid: &str| statements.iter().find(|s| s["Sid"] == sid).unwrap_or_else(|| panic!("{sid} missing:\n{}", r.stdout));
    let svc = find("CortadoExpressService");
    for action in ["ecs:CreateExpressGatewayService", "ecs:UpdateExpressGatewayService", "ecs:DeleteExpressGatewayService", "ecs:DescribeExpressGatewayService"]
    {
        assert!(svc["Action"].as_array().unwrap().contains(&json!(action)), "{action}: {svc}");
    }
    assert_eq!(svc["Resource"], json!(format!("arn:aws:ecs:{}:*:service/{}/web", x.region, x.cluster)));
    let infra = find("CortadoExpressPassInfrastructureRole");
    assert_eq!(infra["Resource"], json!(x.role("infrastructureRoleArn")));
    assert_eq!(infra["Condition"]["StringEquals"]["iam:PassedToService"], "ecs.amazonaws.com");
    assert_eq!(find("CortadoExpressPassTaskRoles")["Condition"]["StringEquals"]["iam:PassedToService"], "ecs-tasks.amazonaws.com");
    // Its scaling is ECS's: no Application Auto Scaling statement.
    assert!(!r.stdout.contains("application-autoscaling:"), "{}", r.stdout);
}

#[test]
fn a_custom_task_definition_is_registered_when_it_changes_and_tags_change_without_an_update() {
    let x = project("xpscustom");
    let p = &x.p;
    // The config's task_definition is the service's task definition (Express mode, 2026-07).
    p.write("cortado.yml", &format!("{}task_definition: ecs-task-def.json\n", p.read("cortado.yml")));
    let write_td = |image: &str| {
        let td = json!({"family": "web-custom", "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc", "cpu": "512", "memory": "1024",
            "executionRoleArn": x.role("executionRoleArn"),
            "containerDefinitions": [{"name": "Main", "image": image, "essential": true, "portMappings": [{"containerPort": 8080, "name": "http"}]},
                                     {"name": "sidecar", "image": "public.ecr.aws/acme/agent:1", "essential": false}]});
        p.write("ecs-task-def.json", &serde_json::to_string_pretty(&td).unwrap());
    };
    write_td(&x.image("v1"));
    let def = json!({"infrastructureRoleArn": x.role("infrastructureRoleArn"), "tags": [{"key": "team", "value": "web"}]});
    p.write("ecs-express-def.json", &serde_json::to_string_pretty(&def).unwrap());

    p.run(&["deploy"], &[POLL]).expect_code(0);
    assert_eq!(x.mutations(), ["RegisterTaskDefinition", "CreateExpressGatewayService"]);
    let created = &sim().mutations_in(&x.region)[1]["body"];
    assert_eq!(created["taskDefinitionArn"], json!(format!("arn:aws:ecs:{}:123456789012:task-definition/web-custom:1", x.region)), "{created}");
    assert!(created.get("primaryContainer").is_none(), "{created}");
    let r = p.run(&["diff", "--exit-code"], &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    p.run(&["deploy"], &[POLL]).expect_code(0);
    assert_eq!(x.mutations().len(), 2, "an unchanged task definition is not registered again: {:?}", x.mutations());

    // A new image: a new revision, and the update names it.
    write_td(&x.image("v2"));
    let r = p.run(&["diff", "--exit-code"], &[]);
    r.expect_code(1);
    assert!(r.stdout.contains(&x.image("v2")), "{}", r.stdout);
    // --without-service: only the custom task definition, against the family's newest revision.
    let r = p.run(&["diff", "--without-service", "--exit-code"], &[]);
    r.expect_code(1);
    assert!(r.stdout.lines().any(|l| l.starts_with("+++ ") && l.ends_with("ecs-task-def.json")), "{}", r.stdout);
    assert!(!r.stdout.contains("ecs-express-def.json"), "{}", r.stdout);
    p.run(&["deploy"], &[POLL]).expect_code(0);
    assert_eq!(x.mutations()[2..], ["RegisterTaskDefinition", "UpdateExpressGatewayService"]);
    let update = &sim().mutations_in(&x.region)[3]["body"];
    assert_eq!(update["taskDefinitionArn"], json!(format!("arn:aws:ecs:{}:123456789012:task-definition/web-custom:2", x.region)), "{update}");

    // Only the tags changed: TagResource/UntagResource on the service, no new deployment.
    let def = json!({"infrastructureRoleArn": x.role("infrastructureRoleArn"), "tags": [{"key": "owner", "value": "ops"}]});
    p.write("ecs-express-def.json", &serde_json::to_string_pretty(&def).unwrap());
    let r = p.run(&["diff", "--exit-code"], &[]);
    r.expect_code(1);
    assert!(r.stdout.contains("\"owner\""), "{}", r.stdout);
    // The task definition is unchanged: nothing to show without the service.
    let r = p.run(&["diff", "--without-service", "--exit-code"], &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    p.run(&["deploy"], &[POLL]).expect_code(0);
    assert_eq!(x.mutations()[4..], ["TagResource", "UntagResource"]);
    p.run(&["diff", "--exit-code"], &[]).expect_code(0);

    // An express definition that also sets what the task definition gives is refused, nothing sent.
    let def = json!({"infrastructureRoleArn": x.role("infrastructureRoleArn"), "cpu": "256"});
    p.write("ecs-express-def.json", &serde_json::to_string_pretty(&def).unwrap());
    let r = p.run(&["deploy"], &[POLL]);
    r.expect_code(2);
    assert!(r.stderr.contains("cpu: the config's task_definition is the service's task definition"), "{}", r.stderr);
    assert_eq!(x.mutations().len(), 6);
    // So is a definition naming a task definition beside a primary container (ECS refuses both).
    p.write("cortado.yml", &p.read("cortado.yml").replace("task_definition: ecs-task-def.json\n", ""));
    let def = json!({"infrastructureRoleArn": x.role("infrastructureRoleArn"), "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web-custom:2",
        "primaryContainer": {"image": x.image("v1")}});
    p.write("ecs-express-def.json", &serde_json::to_string_pretty(&def).unwrap());
    let r = p.run(&["deploy"], &[POLL]);
    r.expect_code(2);
    assert!(r.stderr.contains("key \"taskDefinitionArn\": ECS refuses primaryContainer beside a custom task definition"), "{}", r.stderr);
    assert_eq!(x.mutations().len(), 6);
    assert!(sim().invalid_in(&x.region).is_empty(), "{:?}", sim().invalid_in(&x.region));
}

/// An external diff command that keeps the two sides it is given (its last two arguments) in the
/// project as `seen-remote.json` and `seen-local.json`, and exits 1 as diff(1) does on a difference.
fn external_recorder(p: &Project) -> String {
    let script = p.path("record-diff.sh");
    let dir = p.path("");
    p.write("record-diff.sh", &format!("#!/bin/sh\ncat \"$1\" >> '{0}/seen-remote.json'\ncat \"$2\" >> '{0}/seen-local.json'\nexit 1\n", dir.display()));
    format!("sh {}", script.display())
}

/// The lines `status` prints after `Events:`.
fn event_lines(stdout: &str) -> Vec<&str> {
    stdout.lines().skip_while(|l| *l != "Events:").skip(1).collect()
}

#[test]
fn express_diff_takes_the_service_diff_flags_and_status_shows_events_and_json() {
    let x = project("xpsflags");
    let p = &x.p;
    p.run(&["deploy"], &[POLL]).expect_code(0);
    x.write_def(&x.image("v2"), true);

    // --external: the command gets the two sides as files; nothing is printed by cortado itself.
    let ext = external_recorder(p);
    let r = p.run(&["diff", "--external", &ext, "--exit-code"], &[]);
    r.expect_code(1);
    assert!(!r.stdout.contains("+++"), "the external command shows the diff, not cortado:\n{}", r.stdout);
    let (remote, local) = (p.read("seen-remote.json"), p.read("seen-local.json"));
    assert!(remote.contains(&x.image("v1")) && !remote.contains(&x.image("v2")), "remote side:\n{remote}");
    assert!(local.contains(&x.image("v2")) && local.contains("\"infrastructureRoleArn\""), "local side:\n{local}");
    // ecspresso's environment variable does the same.
    let _ = std::fs::remove_file(p.path("seen-local.json"));
    p.run(&["diff"], &[("ECSPRESSO_DIFF_COMMAND", ext.as_str())]).expect_code(0);
    assert!(p.read("seen-local.json").contains(&x.image("v2")));

    // --no-unified: both documents whole, unchanged lines too.
    let r = p.run(&["diff", "--no-unified"], &[]);
    r.expect_code(0);
    assert!(r.stdout.contains(&format!("+    \"image\": \"{}\"", x.image("v2"))), "{}", r.stdout);
    let unified = p.run(&["diff"], &[]);
    assert!(r.stdout.lines().count() > unified.stdout.lines().count(), "unchanged lines are printed:\n{}\n---\n{}", r.stdout, unified.stdout);
    assert!(r.stdout.lines().skip(2).all(|l| l.starts_with([' ', '+', '-'])), "{}", r.stdout);

    // --without-service: an Express service with no task_definition of its own has nothing to compare.
    let r = p.run(&["diff", "--without-service"], &[]);
    r.expect_code(2);
    assert!(r.stderr.contains("cortado.yml") && r.stderr.contains("no task_definition of its own"), "{}", r.stderr);

    // status --events N: the managed service's newest N events, oldest first; --output json the same as one object.
    p.run(&["deploy"], &[POLL]).expect_code(0);
    let all = p.run(&["status", "--events", "100"], &[]);
    all.expect_code(0);
    let all_events = event_lines(&all.stdout);
    assert!(all_events.len() >= 2 && all_events.iter().all(|l| l.contains("(service web)")), "{}", all.stdout);
    let one = p.run(&["status", "--events", "1"], &[]);
    assert_eq!(event_lines(&one.stdout), all_events[all_events.len() - 1..], "{}", one.stdout);
    let r = p.run(&["status", "--output", "json", "--events", "2"], &[]);
    r.expect_code(0);
    let v: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("status --output json: {e}\n{}", r.stdout));
    assert_eq!(v["service"], "web");
    assert_eq!(v["status"], "ACTIVE");
    assert!(v["endpoints"][0].as_str().is_some_and(|e| e.starts_with("PUBLIC web-")), "{v}");
    assert_eq!(v["configurations"][0]["primaryContainer"]["image"], json!(x.image("v2")), "{v}");
    assert_eq!(v["currentDeployment"]["status"], "SUCCESSFUL", "{v}");
    let events = v["events"].as_array().expect("events");
    assert_eq!(events.len(), 2, "{v}");
    assert!(all_events.last().is_some_and(|l| l.ends_with(events[0]["message"].as_str().unwrap_or("?"))), "newest first: {v}");
    assert!(sim().invalid_in(&x.region).is_empty(), "{:?}", sim().invalid_in(&x.region));
}
