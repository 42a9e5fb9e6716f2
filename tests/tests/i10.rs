//! Issue 10: ECS-native BLUE_GREEN, LINEAR and CANARY deployments against the simulator — the
//! stages shown in order, failures that exit 1 naming stage and reason (from deploy and from a
//! separate wait), two deployers each bound to their own deployment, `--wait-until ecs:STAGE` and
//! `continue`, rollback through Stop/ContinueServiceDeployment, stage gates, status.

use cortado_e2e::seeded::aws_json;
use cortado_e2e::{Project, Run, fixture_plugin, initialised, sim};
use serde_json::{Value, json};

const FAST: (&str, &str) = ("CORTADO_POLL_INTERVAL", "50ms");
const ECS: &str = "AmazonEC2ContainerServiceV20141113";

/// A project initialised from the seeded ECS service, with `config` merged into the service
/// definition's deploymentConfiguration and the image tag `tag`.
fn project(tag: &str, config: Value, image: &str) -> (Project, String) {
    let (p, region) = initialised(tag);
    configure(&p, config, image);
    (p, region)
}

fn configure(p: &Project, config: Value, image: &str) {
    let mut sv: Value = serde_json::from_str(&p.read("ecs-service-def.json")).unwrap();
    for (k, v) in config.as_object().unwrap() {
        sv["deploymentConfiguration"][k] = v.clone();
    }
    p.write("ecs-service-def.json", &serde_json::to_string_pretty(&sv).unwrap());
    cortado_e2e::seeded::retag(p, image);
}

fn run(p: &Project, args: &[&str]) -> Run {
    p.run(args, &[FAST])
}

fn all(r: &Run) -> String {
    format!("{}{}", r.stdout, r.stderr)
}

/// The positions of `needles` in `text`, asserting each is found after the previous one.
#[track_caller]
fn in_order(text: &str, needles: &[&str]) {
    let mut at = 0;
    for n in needles {
        match text[at..].find(n) {
            Some(i) => at += i + n.len(),
            None => panic!("{n:?} not found (in order) in:\n{text}"),
        }
    }
}

fn calls(region: &str, action: &str) -> usize {
    sim().calls_in(region).iter().filter(|c| c.as_str() == format!("ecs:{action}")).count()
}

fn service(p: &Project, region: &str) -> Value {
    let cfg = p.read("cortado.yml");
    let name = cfg.lines().find_map(|l| l.strip_prefix("service: ")).unwrap().to_owned();
    aws_json(sim(), region, "ecs", &format!("{ECS}.DescribeServices"), &json!({"cluster": name, "services": [name]}))["services"][0].clone()
}

/// The task definition the target revision of a service deployment runs (read from the simulator).
fn target_td(region: &str, arn: &str) -> String {
    let d = aws_json(sim(), region, "ecs", &format!("{ECS}.DescribeServiceDeployments"), &json!({"serviceDeploymentArns": [arn]}));
    let rev = d["serviceDeployments"][0]["targetServiceRevision"]["arn"].as_str().unwrap().to_owned();
    let r = aws_json(sim(), region, "ecs", &format!("{ECS}.DescribeServiceRevisions"), &json!({"serviceRevisionArns": [rev]}));
    r["serviceRevisions"][0]["taskDefinition"].as_str().unwrap().to_owned()
}

const ORDER: [&str; 10] = [
    "stage RECONCILE_SERVICE",
    "stage PRE_SCALE_UP",
    "stage SCALE_UP",
    "stage POST_SCALE_UP",
    "stage TEST_TRAFFIC_SHIFT",
    "stage POST_TEST_TRAFFIC_SHIFT",
    "stage PRODUCTION_TRAFFIC_SHIFT",
    "stage POST_PRODUCTION_TRAFFIC_SHIFT",
    "stage BAKE_TIME",
    "stage CLEAN_UP",
];

#[test]
fn blue_green_linear_and_canary_succeed_with_their_stages_in_order() {
    let cases = [
        ("bg", json!({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 2}), vec!["production:100%"]),
        (
            "linear",
            json!({"strategy": "LINEAR", "bakeTimeInMinutes": 1, "linearConfiguration": {"stepPercent": 34.0, "stepBakeTimeInMinutes": 1}}),
            vec!["target", "production:34%", "production:68%", "production:100%"],
        ),
        (
            "canary",
            json!({"strategy": "CANARY", "bakeTimeInMinutes": 1, "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 2}}),
            vec!["production:10%", "production:100%"],
        ),
    ];
    for (tag, config, weights) in cases {
        let (p, region) = project(tag, config, "v2");
        let r = run(&p, &["deploy"]);
        r.expect_code(0);
        in_order(&r.stdout, &ORDER);
        in_order(&r.stdout, &weights);
        assert!(r.stdout.contains("SUCCESSFUL (stages: RECONCILE_SERVICE → PRE_SCALE_UP"), "{}", r.stdout);
        assert!(service(&p, &region)["taskDefinition"].as_str().unwrap().ends_with(":2"), "{tag}");
        // status shows the deployment.
        let st = p.run(&["status"], &[]);
        st.expect_code(0);
        assert!(st.stdout.contains("ServiceDeployment:") && st.stdout.contains("SUCCESSFUL stage CLEAN_UP"), "{}", st.stdout);
    }
}

#[test]
fn failures_exit_1_naming_stage_and_reason_from_deploy_and_from_wait() {
    let lambda = json!({"strategy": "BLUE_GREEN", "lifecycleHooks": [{"targetType": "AWS_LAMBDA",
        "hookTargetArn": "arn:aws:lambda:us-east-1:123456789012:function:smoke-fail", "roleArn": "arn:aws:iam::123456789012:role/hook",
        "lifecycleStages": ["POST_SCALE_UP"]}]});
    let alarm = json!({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 2},
        "alarms": {"alarmNames": ["p99-latency-fail"], "enable": true, "rollback": true}});
    let breaker = json!({"strategy": "LINEAR", "deploymentCircuitBreaker": {"enable": true, "rollback": true}});
    let cases = [
        ("hookfail", lambda, "v2", "ROLLBACK_SUCCESSFUL at stage POST_SCALE_UP", "function:smoke-fail failed at POST_SCALE_UP"),
        ("alarmfail", alarm, "v2", "ROLLBACK_SUCCESSFUL at stage PRODUCTION_TRAFFIC_SHIFT", "alarm(s) p99-latency-fail went into ALARM state"),
        ("breakerfail", breaker, "fail", "ROLLBACK_SUCCESSFUL at stage SCALE_UP", "circuit breaker: TRIGGERED"),
    ];
    for (tag, config, image, stage, reason) in cases {
        let (p, region) = project(tag, config, image);
        let r = run(&p, &["deploy"]);
        r.expect_code(1);
        assert!(all(&r).contains(stage) && all(&r).contains(reason), "{tag}: {}", all(&r));
        assert!(service(&p, &region)["taskDefinition"].as_str().unwrap().ends_with(":1"), "{tag}: rolled back to :1");
        // A separate wait on the same (finished) deployment says the same, with exit 1.
        let w = run(&p, &["wait"]);
        w.expect_code(1);
        assert!(all(&w).contains("ROLLBACK_SUCCESSFUL") && all(&w).contains(reason), "{tag}: {}", all(&w));
    }
    // And a wait started while the deployment runs (deploy --no-wait).
    let (p, _) = project(
        "waitlive",
        json!({"strategy": "BLUE_GREEN", "lifecycleHooks": [{"targetType": "AWS_LAMBDA",
        "hookTargetArn": "arn:aws:lambda:us-east-1:123456789012:function:gate-fail", "roleArn": "arn:aws:iam::123456789012:role/hook",
        "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}]}),
        "v2",
    );
    run(&p, &["deploy", "--no-wait"]).expect_code(0);
    let w = run(&p, &["wait"]);
    w.expect_code(1);
    assert!(all(&w).contains("at stage POST_TEST_TRAFFIC_SHIFT") && all(&w).contains("gate-fail failed"), "{}", all(&w));
}

#[test]
fn two_concurrent_deployers_each_bind_to_their_own_deployment() {
    let config = json!({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 3});
    let (a, region) = project("twodeployers", config.clone(), "v2");
    let b = Project::against(sim(), &region);
    for f in ["cortado.yml", "ecs-service-def.json", "ecs-task-def.json"] {
        b.write(f, &a.read(f));
    }
    configure(&b, config, "v3");
    let ca = a.spawn_with(&["deploy", "--output", "json"], &[FAST]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let cb = b.spawn_with(&["deploy", "--output", "json"], &[FAST]);
    let (oa, ob) = (ca.wait_with_output().unwrap(), cb.wait_with_output().unwrap());
    let arn_of = |o: &std::process::Output| -> String {
        let text = String::from_utf8_lossy(&o.stdout);
        let last: Value = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .rfind(|v| v.get("service_deployment_arn").is_some())
            .unwrap_or_else(|| panic!("{text}"));
        last["service_deployment_arn"].as_str().unwrap_or_else(|| panic!("{text}")).to_owned()
    };
    let (arn_a, arn_b) = (arn_of(&oa), arn_of(&ob));
    assert_ne!(arn_a, arn_b);
    // Each bound to the deployment of its own task definition (v2 registered :2, v3 :3).
    assert!(target_td(&region, &arn_a).ends_with(":2"), "{arn_a}");
    assert!(target_td(&region, &arn_b).ends_with(":3"), "{arn_b}");
    // The later deploy wins; the earlier one's deployment was stopped, and it says so (exit 1).
    assert_eq!(ob.status.code(), Some(0), "{}", String::from_utf8_lossy(&ob.stderr));
    assert_eq!(oa.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&oa.stdout).contains("superseded"), "{}", String::from_utf8_lossy(&oa.stdout));
}

fn pause_at(stage: &str) -> Value {
    json!({"strategy": "BLUE_GREEN", "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": [stage],
        "timeoutConfiguration": {"timeoutInMinutes": 300, "action": "ROLLBACK"}}]})
}

#[test]
fn wait_until_a_stage_then_continue_finishes_it() {
    let (p, region) = project("waituntil", pause_at("POST_TEST_TRAFFIC_SHIFT"), "v2");
    let r = run(&p, &["deploy", "--wait-until", "ecs:POST_TEST_TRAFFIC_SHIFT"]);
    r.expect_code(0);
    assert!(r.stdout.contains("reached POST_TEST_TRAFFIC_SHIFT"), "{}", r.stdout);
    assert_eq!(calls(&region, "ContinueServiceDeployment"), 0);
    let c = run(&p, &["continue"]);
    c.expect_code(0);
    assert!(c.stdout.contains("answered CONTINUE") && c.stdout.contains("SUCCESSFUL"), "{}", all(&c));
    assert_eq!(calls(&region, "ContinueServiceDeployment"), 1);
    assert!(service(&p, &region)["taskDefinition"].as_str().unwrap().ends_with(":2"));
    // Nothing left to continue: input error, nothing sent.
    run(&p, &["continue"]).expect_code(2);
    assert_eq!(calls(&region, "ContinueServiceDeployment"), 1);

    // A ROLLING service has no stages: refused before anything changes.
    let (p, region) = project("wurolling", json!({}), "v2");
    let r = run(&p, &["deploy", "--wait-until", "ecs:BAKE_TIME"]);
    r.expect_code(2);
    assert!(r.stderr.contains("ROLLING, which reports no lifecycle stage"), "{}", r.stderr);
    assert_eq!(calls(&region, "UpdateService") + calls(&region, "RegisterTaskDefinition"), 0);
}

#[test]
fn rollback_stops_an_active_deployment_or_answers_its_paused_hook() {
    // Paused at a hook: ContinueServiceDeployment(ROLLBACK).
    let (p, region) = project("rbpaused", pause_at("POST_SCALE_UP"), "v2");
    run(&p, &["deploy", "--wait-until", "ecs:POST_SCALE_UP"]).expect_code(0);
    let r = run(&p, &["rollback"]);
    r.expect_code(0);
    assert!(all(&r).contains("ROLLBACK") && r.stdout.contains("ROLLBACK_SUCCESSFUL"), "{}", all(&r));
    assert_eq!(calls(&region, "ContinueServiceDeployment"), 1);
    assert_eq!(calls(&region, "StopServiceDeployment"), 0);
    assert!(service(&p, &region)["taskDefinition"].as_str().unwrap().ends_with(":1"));
    // In progress, not paused: StopServiceDeployment(ROLLBACK).
    let (p, region) = project("rbactive", json!({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 500}), "v2");
    run(&p, &["deploy", "--wait-until", "ecs:BAKE_TIME"]).expect_code(0);
    let r = run(&p, &["rollback"]);
    r.expect_code(0);
    assert!(r.stdout.contains("ROLLBACK_SUCCESSFUL"), "{}", all(&r));
    assert_eq!(calls(&region, "StopServiceDeployment"), 1);
    assert_eq!(calls(&region, "UpdateService"), 1, "no previous-revision UpdateService");
    assert!(service(&p, &region)["taskDefinition"].as_str().unwrap().ends_with(":1"));
}

fn audit(p: &Project) -> Vec<Value> {
    p.read("cortado-audit.jsonl").lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn stage_gates_allow_deny_and_fail_closed() {
    let freeze = |end: &str| {
        // audit_log: the deploy's own decision is recorded too (the stage decision chains to it).
        format!(
            "audit_log: cortado-audit.jsonl\nplugins:\n  - name: change-freeze\n    stages: [POST_TEST_TRAFFIC_SHIFT]\n    config:\n      freezes:\n        - start: \"2020-01-01T00:00:00Z\"\n          end: \"{end}\"\n          reason: canary freeze\n"
        )
    };
    // Allow: the freeze is over; the gate's CONTINUE finishes the deployment.
    let (p, region) = project("stageallow", pause_at("POST_TEST_TRAFFIC_SHIFT"), "v2");
    p.write("cortado.yml", &format!("{}{}", p.read("cortado.yml"), freeze("2021-01-01T00:00:00Z")));
    let r = run(&p, &["deploy"]);
    r.expect_code(0);
    assert!(all(&r).contains("stage gate at POST_TEST_TRAFFIC_SHIFT: allowed") && r.stdout.contains("SUCCESSFUL"), "{}", all(&r));
    let recs = audit(&p);
    let stage = recs.iter().find(|r| r["kind"] == "stage-decision").expect("stage decision");
    assert_eq!(stage["outcome"], "continue");
    let deploy = recs.iter().find(|r| r["kind"] == "decision").expect("deploy decision");
    assert_eq!(stage["parent_run_id"], deploy["run_id"]);
    assert!(recs.iter().any(|r| r["kind"] == "outcome" && r["run_id"] == stage["run_id"]));
    p.run(&["audit", "verify", "cortado-audit.jsonl"], &[]).expect_code(0);

    // Deny: rolled back, exit 1, nothing else changed.
    let (p, region2) = project("stagedeny", pause_at("POST_TEST_TRAFFIC_SHIFT"), "v2");
    p.write("cortado.yml", &format!("{}{}", p.read("cortado.yml"), freeze("2099-01-01T00:00:00Z")));
    let r = run(&p, &["deploy"]);
    r.expect_code(1);
    assert!(all(&r).contains("stage gate at POST_TEST_TRAFFIC_SHIFT denied") && all(&r).contains("canary freeze"), "{}", all(&r));
    assert!(all(&r).contains("ROLLBACK_SUCCESSFUL"), "{}", all(&r));
    assert!(service(&p, &region2)["taskDefinition"].as_str().unwrap().ends_with(":1"));
    assert_eq!((calls(&region2, "UpdateService"), calls(&region2, "ContinueServiceDeployment")), (1, 1));
    assert_eq!(audit(&p).iter().find(|r| r["kind"] == "stage-decision").unwrap()["outcome"], "rollback");
    p.run(&["audit", "verify", "cortado-audit.jsonl"], &[]).expect_code(0);
    let _ = region;

    // A looping gate: its deadline passes, the deployment is rolled back (fail closed).
    let (wasm, digest) = fixture_plugin("slowgate");
    let (p, _) = project("stageloop", pause_at("POST_SCALE_UP"), "v2");
    let gate = format!(
        "plugins:\n  - name: slowgate\n    path: {}\n    sha256: {digest}\n    stages: [POST_SCALE_UP]\n    limits:\n      timeout: 1s\n",
        wasm.display()
    );
    p.write("cortado.yml", &format!("{}{gate}", p.read("cortado.yml")));
    let started = std::time::Instant::now();
    let r = run(&p, &["deploy"]);
    r.expect_code(1);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert!(all(&r).contains("stage gate at POST_SCALE_UP denied") && all(&r).contains("timed out"), "{}", all(&r));

    // A gate bound to a stage where ECS allows no PAUSE hook: input error naming the key.
    let bad = "plugins:\n  - name: change-freeze\n    stages: [TEST_TRAFFIC_SHIFT]\n";
    p.write("cortado.yml", &format!("{}{bad}", p.read("cortado.yml").split("plugins:").next().unwrap()));
    let r = run(&p, &["deploy"]);
    r.expect_code(2);
    assert!(r.stderr.contains("stages") && r.stderr.contains("no PAUSE hook"), "{}", r.stderr);
}

/// Datapoints of the ALB 5xx count for the canary's target group, stamped within the last minute
/// (from 2 s ago: a window ends at the gate's own second, exclusive).
fn put_5xx(region: &str, values: &[f64]) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let data: Vec<Value> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            json!({"MetricName": "HTTPCode_Target_5XX_Count", "Dimensions": [{"Name": "TargetGroup", "Value": "targetgroup/app/1"}],
                   "Timestamp": now - 2 - 5 * i as i64, "Value": v, "Unit": "Count"})
        })
        .collect();
    aws_json(sim(), region, "monitoring", "GraniteServiceVersion20100801.PutMetricData", &json!({"Namespace": "AWS/ApplicationELB", "MetricData": data}));
}

/// canary-analysis bound to POST_TEST_TRAFFIC_SHIFT, judging the 5xx sum over 5 minutes against 5.
fn analysis(namespace: &str, count: u32) -> String {
    format!(
        "audit_log: cortado-audit.jsonl\nplugins:\n  - name: canary-analysis\n    stages: [POST_TEST_TRAFFIC_SHIFT]\n    grants:\n      - {{action: cloudwatch:GetMetricData, resource: \"arn:aws:cloudwatch:*:*:metric/AWS/ApplicationELB/*\"}}\n    config:\n      interval: 1s\n      count: {count}\n      window: 5m\n      metrics:\n        - name: errors\n          namespace: {namespace}\n          metric: HTTPCode_Target_5XX_Count\n          dimensions: {{TargetGroup: targetgroup/app/1}}\n          stat: Sum\n          period: 60\n          success_condition: \"result <= 5\"\n          failure_condition: \"result > 5\"\n"
    )
}

fn canary_pause() -> Value {
    json!({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 10, "canaryBakeTimeInMinutes": 0},
        "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
        "timeoutConfiguration": {"timeoutInMinutes": 300, "action": "ROLLBACK"}}]})
}

fn stage_outcomes(p: &Project) -> Vec<String> {
    audit(p).iter().filter(|r| r["kind"] == "stage-decision").map(|r| r["outcome"].as_str().unwrap_or("").to_owned()).collect()
}

#[test]
fn canary_analysis_fails_a_canary_above_the_threshold_and_passes_one_below() {
    // Above: 12 errors in the window > 5 → denied at the pause, rolled back, exit 1.
    let (p, region) = project("canaryhigh", canary_pause(), "v2");
    p.write("cortado.yml", &format!("{}{}", p.read("cortado.yml"), analysis("AWS/ApplicationELB", 1)));
    put_5xx(&region, &[7.0, 5.0]);
    let r = run(&p, &["deploy"]);
    r.expect_code(1);
    let out = all(&r);
    assert!(out.contains("stage gate at POST_TEST_TRAFFIC_SHIFT denied") && out.contains("= 12") && out.contains("ROLLBACK_SUCCESSFUL"), "{out}");
    assert!(service(&p, &region)["taskDefinition"].as_str().unwrap().ends_with(":1"));
    assert_eq!(sim().calls_in(&region).iter().filter(|c| *c == "monitoring:GetMetricData").count(), 1);
    assert_eq!(stage_outcomes(&p), vec!["rollback"]);
    p.run(&["audit", "verify", "cortado-audit.jsonl"], &[]).expect_code(0);

    // Below: 3 errors → allowed, the canary finishes.
    let (p, region) = project("canarylow", canary_pause(), "v2");
    p.write("cortado.yml", &format!("{}{}", p.read("cortado.yml"), analysis("AWS/ApplicationELB", 1)));
    put_5xx(&region, &[2.0, 1.0]);
    let r = run(&p, &["deploy"]);
    r.expect_code(0);
    assert!(all(&r).contains("stage gate at POST_TEST_TRAFFIC_SHIFT: allowed") && r.stdout.contains("SUCCESSFUL"), "{}", all(&r));
    assert!(service(&p, &region)["taskDefinition"].as_str().unwrap().ends_with(":2"));
    assert_eq!(stage_outcomes(&p), vec!["continue"]);
}

#[test]
fn an_inconclusive_analysis_is_asked_again_then_decides_or_times_out_into_a_rollback() {
    // count 2, interval 1 s: the first measurement is inconclusive (more needed), the second
    // passes. Asked at every 50 ms poll, it measured twice; one record per distinct verdict.
    let (p, region) = project("canarytwice", canary_pause(), "v2");
    p.write("cortado.yml", &format!("{}{}", p.read("cortado.yml"), analysis("AWS/ApplicationELB", 2)));
    put_5xx(&region, &[1.0]);
    let r = run(&p, &["deploy"]);
    r.expect_code(0);
    assert!(all(&r).contains("the hook stays paused"), "{}", all(&r));
    assert_eq!(sim().calls_in(&region).iter().filter(|c| *c == "monitoring:GetMetricData").count(), 2);
    assert_eq!(stage_outcomes(&p), vec!["inconclusive", "continue"]);
    p.run(&["audit", "verify", "cortado-audit.jsonl"], &[]).expect_code(0);

    // No datapoints at all: inconclusive until --timeout, then rolled back (fail closed), exit 1.
    let (p, region) = project("canarynodata", canary_pause(), "v2");
    p.write("cortado.yml", &format!("{}{}", p.read("cortado.yml").replace("timeout: 60s", "timeout: 8s"), analysis("AWS/ApplicationELB", 1)));
    let started = std::time::Instant::now();
    let r = run(&p, &["deploy"]);
    r.expect_code(1);
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
    assert!(all(&r).contains("still inconclusive at --timeout") && all(&r).contains("cortado wait"), "{}", all(&r));
    assert_eq!(calls(&region, "ContinueServiceDeployment"), 1);
    assert_eq!(stage_outcomes(&p), vec!["inconclusive", "rollback"]);
    // The rollback goes on in ECS; a separate wait follows it and exits 1 (rolled back).
    let w = run(&p, &["wait"]);
    w.expect_code(1);
    assert!(all(&w).contains("ROLLBACK_SUCCESSFUL"), "{}", all(&w));
    assert!(service(&p, &region)["taskDefinition"].as_str().unwrap().ends_with(":1"));
}

#[test]
fn canary_analysis_reads_only_granted_metrics() {
    // The config asks for a namespace the grant does not cover: nothing is sent to CloudWatch, the
    // measurement fails closed and the canary is rolled back.
    let (p, region) = project("canarygrant", canary_pause(), "v2");
    p.write("cortado.yml", &format!("{}{}", p.read("cortado.yml"), analysis("Custom/App", 1)));
    let r = run(&p, &["deploy"]);
    r.expect_code(1);
    assert!(all(&r).contains("has no grant for cloudwatch:GetMetricData") && all(&r).contains("ROLLBACK_SUCCESSFUL"), "{}", all(&r));
    assert!(!sim().calls_in(&region).iter().any(|c| c.starts_with("monitoring:")), "{:?}", sim().calls_in(&region));
    assert_eq!(stage_outcomes(&p), vec!["rollback"]);
}

#[test]
fn continue_cannot_skip_a_stage_gate() {
    // `deploy --wait-until ecs:STAGE` stops at the pause before the gate is asked; `continue` must
    // then ask the gate (here it denies: rolled back) rather than answer CONTINUE itself.
    let (p, region) = project("stageskip", pause_at("POST_TEST_TRAFFIC_SHIFT"), "v2");
    let gate = "audit_log: cortado-audit.jsonl\nplugins:\n  - name: change-freeze\n    stages: [POST_TEST_TRAFFIC_SHIFT]\n    config:\n      freezes:\n        - {start: \"2020-01-01T00:00:00Z\", end: \"2099-01-01T00:00:00Z\", reason: canary freeze}\n";
    p.write("cortado.yml", &format!("{}{gate}", p.read("cortado.yml")));
    run(&p, &["deploy", "--wait-until", "ecs:POST_TEST_TRAFFIC_SHIFT"]).expect_code(0);
    assert_eq!(calls(&region, "ContinueServiceDeployment"), 0);
    let dry = run(&p, &["continue", "--dry-run"]);
    dry.expect_code(0);
    assert_eq!(calls(&region, "ContinueServiceDeployment"), 0);
    let c = run(&p, &["continue"]);
    c.expect_code(1);
    let out = all(&c);
    assert!(out.contains("stage gates are bound to POST_TEST_TRAFFIC_SHIFT") && out.contains("canary freeze") && out.contains("ROLLBACK_SUCCESSFUL"), "{out}");
    assert_eq!(calls(&region, "ContinueServiceDeployment"), 1, "one answer: the gate's ROLLBACK");
    assert!(service(&p, &region)["taskDefinition"].as_str().unwrap().ends_with(":1"));
    assert_eq!(stage_outcomes(&p), vec!["rollback"]);
    // Rolling back stays open without the gate.
    let (p, region) = project("stageskiprb", pause_at("POST_TEST_TRAFFIC_SHIFT"), "v2");
    p.write("cortado.yml", &format!("{}{gate}", p.read("cortado.yml")));
    run(&p, &["deploy", "--wait-until", "ecs:POST_TEST_TRAFFIC_SHIFT"]).expect_code(0);
    run(&p, &["continue", "--rollback"]).expect_code(0);
    assert_eq!(calls(&region, "ContinueServiceDeployment"), 1);
    assert!(stage_outcomes(&p).is_empty());
}

#[test]
fn a_gate_that_is_never_sure_is_cut_at_the_timeout_with_a_bounded_audit_chain() {
    // New reasons at every 50 ms poll for 6 s: about a hundred questions, at most 20 records of
    // them, then the rollback at --timeout.
    let (wasm, digest) = fixture_plugin("restless");
    let (p, region) = project("restless", pause_at("POST_TEST_TRAFFIC_SHIFT"), "v2");
    let gate = format!(
        "audit_log: cortado-audit.jsonl\nplugins:\n  - name: restless\n    path: {}\n    sha256: {digest}\n    stages: [POST_TEST_TRAFFIC_SHIFT]\n",
        wasm.display()
    );
    p.write("cortado.yml", &format!("{}{gate}", p.read("cortado.yml").replace("timeout: 60s", "timeout: 6s")));
    let r = run(&p, &["deploy"]);
    r.expect_code(1);
    assert!(all(&r).contains("still inconclusive at --timeout: not sure yet"), "{}", all(&r));
    let outcomes = stage_outcomes(&p);
    assert_eq!(outcomes.last().map(String::as_str), Some("rollback"), "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| *o == "inconclusive").count(), 20, "{outcomes:?}");
    assert_eq!(calls(&region, "ContinueServiceDeployment"), 1);
    p.run(&["audit", "verify", "cortado-audit.jsonl"], &[]).expect_code(0);
}
