//! ecspresso setups found in the wild (issue 12): tfstate URLs (local paths, Terraform Cloud,
//! HTTP), typed Jsonnet natives, optional states, envfiles reaching the AWS SDK, the `external`
//! plugin outside the sandbox, and `--log-format json`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use cortado_e2e::seeded::{seeded, task_definition, write_project};
use cortado_e2e::{Project, sim};
use serde_json::{Value, json};

/// A Terraform state (v4) with a string, a number, a bool and a list.
const STATE: &str = r#"{
  "version": 4, "terraform_version": "1.9.0", "serial": 1, "lineage": "x", "outputs": {},
  "resources": [{
    "mode": "managed", "type": "aws_lb_target_group", "name": "api", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
    "instances": [{"schema_version": 0, "attributes": {"arn": "arn:aws:elasticloadbalancing:tg/api", "port": 80, "stickiness": false,
      "tags": ["a", "b"], "name": "800"}}]
  }]
}"#;

/// A task definition template whose container port and name come from the state.
fn td_template(port_expr: &str) -> String {
    format!(
        r#"{{"family": "web", "containerDefinitions": [{{"name": "app", "image": "nginx", "essential": true,
  "environment": [{{"name": "TG", "value": "{{{{ tfstate `aws_lb_target_group.api.arn` }}}}"}}],
  "portMappings": [{{"containerPort": {port_expr}}}]}}]}}"#
    )
}

fn render_taskdef(p: &Project, extra: &[(&str, &str)]) -> cortado_e2e::Run {
    p.run(&["render", "taskdef"], extra)
}

fn tfstate_project(config: &str) -> Project {
    let p = Project::new();
    p.write("infra/terraform.tfstate", STATE);
    p.write("app/ecs-task-def.json", &td_template("{{ tfstate `aws_lb_target_group.api.port` }}"));
    p.write(
        "app/ecspresso.yml",
        &format!("region: us-east-1\ncluster: c\ntask_definition: ecs-task-def.json\nplugins:\n  - name: tfstate\n    config:\n{config}"),
    );
    p
}

#[test]
fn tfstate_url_may_be_a_relative_path_or_a_file_url() {
    for url in ["../infra/terraform.tfstate".to_owned(), format!("file://{}", Project::new().path("").display())] {
        let p = tfstate_project("      url: URL\n");
        let url = if url.starts_with("file://") { format!("file://{}", p.path("infra/terraform.tfstate").display()) } else { url };
        let config = p.read("app/ecspresso.yml").replace("URL", &url);
        p.write("app/ecspresso.yml", &config);
        let run = render_taskdef(&p, &[("CORTADO_CONFIG", "app/ecspresso.yml")]);
        run.expect_code(0);
        assert!(run.stdout.contains(r#""containerPort": 80"#) && run.stdout.contains("arn:aws:elasticloadbalancing:tg/api"), "{url}: {}", run.stdout);
    }
}

#[test]
fn tfstate_optional_missing_state_gives_empty_lookups() {
    let p = tfstate_project("      path: ../infra/missing.tfstate\n      optional: true\n");
    p.write("app/ecs-task-def.json", &td_template("80"));
    let run = render_taskdef(&p, &[("CORTADO_CONFIG", "app/ecspresso.yml")]);
    run.expect_code(0);
    assert!(run.stdout.contains(r#""value": """#) || !run.stdout.contains("\"TG\""), "{}", run.stdout);
    assert!(run.stderr.contains("optional"), "{}", run.stderr);
    // Without `optional` the same config is an error.
    let p = tfstate_project("      path: ../infra/missing.tfstate\n");
    render_taskdef(&p, &[("CORTADO_CONFIG", "app/ecspresso.yml")]).expect_code(2);
}

#[test]
fn jsonnet_tfstate_keeps_json_types() {
    let p = tfstate_project("      path: ../infra/terraform.tfstate\n");
    p.write(
        "app/ecs-task-def.jsonnet",
        r#"local tfstate = std.native('tfstate');
{ family: 'web', containerDefinitions: [{ name: tfstate('aws_lb_target_group.api.name'), image: 'nginx', essential: true,
  portMappings: [{ containerPort: tfstate('aws_lb_target_group.api.port') }],
  dockerLabels: { sticky: std.toString(tfstate('aws_lb_target_group.api.stickiness') == false), tags: std.join(',', tfstate('aws_lb_target_group.api.tags')) } }] }"#,
    );
    let config = p.read("app/ecspresso.yml").replace("ecs-task-def.json", "ecs-task-def.jsonnet");
    p.write("app/ecspresso.yml", &config);
    let run = render_taskdef(&p, &[("CORTADO_CONFIG", "app/ecspresso.yml")]);
    run.expect_code(0);
    let td: Value = serde_json::from_str(&run.stdout).unwrap();
    let c = &td["containerDefinitions"][0];
    assert_eq!(c["portMappings"][0]["containerPort"], json!(80), "{}", run.stdout);
    assert_eq!(c["name"], json!("800"), "a string that looks like a number stays a string");
    assert_eq!(c["dockerLabels"], json!({"sticky": "true", "tags": "a,b"}));
}

#[test]
fn jsonnet_env_returns_a_non_string_default_unchanged() {
    let p = Project::new();
    p.write(
        "ecs-task-def.jsonnet",
        r#"local env = std.native('env');
{ family: 'web', containerDefinitions: [{ name: 'app', image: 'nginx:' + env('TAG', 'latest'),
  memory: env('MEMORY', 256), essential: env('ESSENTIAL', true),
  command: if env('T', null) != null then ['run', env('T', null)] else ['idle'] }] }"#,
    );
    p.write("ecspresso.yml", "region: us-east-1\ncluster: c\ntask_definition: ecs-task-def.jsonnet\n");
    let run = render_taskdef(&p, &[]);
    run.expect_code(0);
    let td: Value = serde_json::from_str(&run.stdout).unwrap();
    // A number where the ECS API takes one (container memory; the task's `cpu` is a string).
    assert_eq!(td["containerDefinitions"][0]["memory"], json!(256));
    assert_eq!(td["containerDefinitions"][0]["essential"], json!(true));
    assert_eq!(td["containerDefinitions"][0]["command"], json!(["idle"]));
    let run = render_taskdef(&p, &[("T", "job"), ("TAG", "v2")]);
    run.expect_code(0);
    let td: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(td["containerDefinitions"][0]["command"], json!(["run", "job"]));
    assert_eq!(td["containerDefinitions"][0]["image"], json!("nginx:v2"));
}

/// A fake of the Terraform Cloud state API (and a plain state URL) on loopback: every request's
/// line and Authorization header is recorded.
struct FakeTfc {
    base: String,
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

fn fake_tfc() -> FakeTfc {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (log, host) = (seen.clone(), base.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut auth = String::new();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("authorization:") {
                    auth = v.trim().to_owned();
                }
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
            log.lock().unwrap().push((path.clone(), auth));
            let (status, body) = match path.as_str() {
                "/api/v2/organizations/acme/workspaces/web" => ("200 OK", json!({"data": {"id": "ws-123"}}).to_string()),
                "/api/v2/workspaces/ws-123/current-state-version" => {
                    ("200 OK", json!({"data": {"attributes": {"hosted-state-download-url": format!("http://{host}/download/sv-1")}}}).to_string())
                }
                "/download/sv-1" | "/states/web.tfstate" => ("200 OK", STATE.to_owned()),
                _ => ("404 Not Found", "{}".to_owned()),
            };
            let mut s = stream;
            let _ = write!(s, "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
            let _ = s.flush();
            let _ = s.read(&mut [0u8; 0]);
        }
    });
    FakeTfc { base, seen }
}

#[test]
fn tfstate_from_terraform_cloud_is_fetched_by_the_host_with_the_token() {
    let tfc = fake_tfc();
    let p = tfstate_project(&format!("      url: remote://{}/acme/web\n", tfc.base));
    let run = render_taskdef(&p, &[("CORTADO_CONFIG", "app/ecspresso.yml"), ("TFE_TOKEN", "tok-123")]);
    run.expect_code(0);
    assert!(run.stdout.contains(r#""containerPort": 80"#), "{}", run.stdout);
    let seen = tfc.seen.lock().unwrap().clone();
    let paths: Vec<&str> = seen.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["/api/v2/organizations/acme/workspaces/web", "/api/v2/workspaces/ws-123/current-state-version", "/download/sv-1"]);
    assert!(seen.iter().all(|(_, auth)| auth == "bearer tok-123"), "{seen:?}");

    // No token: a clear error, nothing sent.
    tfc.seen.lock().unwrap().clear();
    let run = render_taskdef(&p, &[("CORTADO_CONFIG", "app/ecspresso.yml")]);
    run.expect_code(2);
    assert!(run.stderr.contains("no Terraform Cloud token") && run.stderr.contains("TFE_TOKEN"), "{}", run.stderr);
    assert!(tfc.seen.lock().unwrap().is_empty());

    // A grant for another workspace: denied before anything is sent.
    let config = p.read("app/ecspresso.yml") + &format!("    grants:\n      - action: tfc:ReadState\n        resource: remote://{}/acme/other\n", tfc.base);
    p.write("app/ecspresso.yml", &config);
    let run = render_taskdef(&p, &[("CORTADO_CONFIG", "app/ecspresso.yml"), ("TFE_TOKEN", "tok-123")]);
    run.expect_code(2);
    assert!(run.stderr.contains("no grant for tfc:ReadState"), "{}", run.stderr);
    assert!(tfc.seen.lock().unwrap().is_empty());
}

#[test]
fn tfstate_from_an_http_url_under_a_prefix_grant() {
    let tfc = fake_tfc();
    let url = format!("http://{}/states/web.tfstate", tfc.base);
    let grant = format!("    grants:\n      - action: http:Get\n        resource: http://{}/states/*\n", tfc.base);
    let p = tfstate_project(&format!("      url: {url}\n{grant}"));
    let run = render_taskdef(&p, &[("CORTADO_CONFIG", "app/ecspresso.yml"), ("TFE_TOKEN", "tok-123")]);
    run.expect_code(0);
    assert!(run.stdout.contains(r#""containerPort": 80"#), "{}", run.stdout);
    assert_eq!(tfc.seen.lock().unwrap().clone(), vec![("/states/web.tfstate".to_owned(), String::new())], "one GET, no token");
}

#[test]
fn envfile_values_reach_the_aws_sdk() {
    let (p, region, seed) = seeded("envsdk");
    write_project(&p, &seed, &task_definition(&seed), None, "");
    // The config names no region; endpoint and region come only from the envfile.
    let config = p.read("cortado.yml").lines().filter(|l| !l.starts_with("region:")).collect::<Vec<_>>().join("\n") + "\n";
    p.write("cortado.yml", &config);
    p.write("aws.env", &format!("AWS_ENDPOINT_URL={}\nAWS_REGION={region}\n", sim().url));
    let mut bare = Project::new();
    bare.dir = p.dir;
    bare.env =
        vec![("AWS_ACCESS_KEY_ID".into(), "testing".into()), ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()), ("AWS_MAX_ATTEMPTS".into(), "1".into())];
    let run = bare.run(&["--envfile", "aws.env", "revisions", "--output", "json"], &[]);
    run.expect_code(0);
    assert!(sim().calls_in(&region).iter().any(|c| c == "ecs:ListTaskDefinitions"), "{:?}", sim().calls_in(&region));
}

fn external_project(extra: &str) -> Project {
    let p = Project::new();
    p.write(
        "rpc.py",
        "import json, sys\nfor line in sys.stdin:\n    req = json.loads(line)\n    p = req['params']\n    print(json.dumps({'jsonrpc': '2.0', 'id': req['id'], 'result': {'port': int(p[0]) * 2, 'pid': __import__('os').getpid()}}), flush=True)\n",
    );
    p.write(
        "ecs-task-def.json",
        r#"{"family": "web", "containerDefinitions": [{"name": "app", "image": "nginx:{{ tag `x` }}", "essential": true,
  "environment": [{"name": "SECRET", "value": "[{{ secret_env }}]"}, {"name": "PASSED", "value": "{{ passed_env }}"}],
  "portMappings": [{"containerPort": {{ (rpc_port "40").port }}}, {"containerPort": {{ (rpc_port "41").port }}}]}]}"#,
    );
    p.write(
        "ecspresso.yml",
        &format!(
            r#"region: us-east-1
cluster: c
task_definition: ecs-task-def.json
plugins:
  - name: external
    config: {{name: tag, command: [sh, -c, 'printf "\"v-%s\"" "$1"', sh], num_args: 1, timeout: 5s}}
  - name: external
    func_prefix: secret_
    config: {{name: env, command: [sh, -c, 'printf %s "$AWS_SECRET_ACCESS_KEY"'], parser: string}}
  - name: external
    func_prefix: passed_
    config: {{name: env, command: [sh, -c, 'printf %s "$TEAM"'], parser: string, env: [TEAM]}}
  - name: external
    func_prefix: rpc_
    config: {{name: port, command: [python3, rpc.py], mode: jsonrpc, num_args: 1, timeout: 5s}}
{extra}"#
        ),
    );
    p
}

#[test]
fn external_plugin_runs_outside_the_sandbox_with_a_minimal_environment() {
    let p = external_project("");
    let vars = [("AWS_SECRET_ACCESS_KEY", "s3cr3t"), ("TEAM", "payments")];
    let run = render_taskdef(&p, &vars);
    run.expect_code(0);
    let td: Value = serde_json::from_str(&run.stdout).unwrap();
    let c = &td["containerDefinitions"][0];
    assert_eq!(c["image"], json!("nginx:v-x"));
    assert_eq!(c["environment"], json!([{"name": "SECRET", "value": "[]"}, {"name": "PASSED", "value": "payments"}]), "credentials stay out");
    assert_eq!(c["portMappings"], json!([{"containerPort": 80}, {"containerPort": 82}]), "one jsonrpc process, two calls");
    assert!(run.stderr.contains("plugin external:tag (sh -c") && run.stderr.contains("OUTSIDE the sandbox"), "{}", run.stderr);

    let run = p.run(&["iam-policy"], &vars);
    run.expect_code(0);
    assert!(run.stderr.contains("this policy cannot bound"), "{}", run.stderr);

    let run = p.run(&["--sandboxed-only", "render", "taskdef"], &vars);
    run.expect_code(2);
    assert!(run.stderr.contains("ecspresso.yml") && run.stderr.contains("external:tag") && run.stderr.contains("--sandboxed-only"), "{}", run.stderr);
    let strict = external_project("strict: true\n");
    let run = render_taskdef(&strict, &vars);
    run.expect_code(2);
    assert!(run.stderr.contains("strict: true"), "{}", run.stderr);
}

#[test]
fn external_plugin_marks_every_audit_record() {
    let (p, _region, seed) = seeded("extaudit");
    write_project(
        &p,
        &seed,
        &task_definition(&seed),
        Some(&cortado_e2e::seeded::service_definition(&seed)),
        "plugins:\n  - name: external\n    config: {name: now, command: [echo, '\"x\"']}\n  - name: change-freeze\n    enforcement: advisory\n    config:\n      freezes:\n        - start: \"2020-01-01T00:00:00Z\"\n          end: \"2099-01-01T00:00:00Z\"\n          reason: freeze\n",
    );
    let run = p.run(&["deploy", "--dry-run"], &[]);
    run.expect_code(0);
    let records: Vec<Value> = p.read("cortado-audit.jsonl").lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!records.is_empty());
    assert!(records.iter().all(|r| r["unsandboxed_plugins"] == json!(["external:now (echo \"x\")"])), "{records:?}");
}

#[test]
fn log_format_json_is_output_json() {
    let (p, _region, seed) = seeded("logfmt");
    write_project(&p, &seed, &task_definition(&seed), Some(&cortado_e2e::seeded::service_definition(&seed)), "");
    let run = p.run(&["--log-format", "json", "wait"], &[]);
    run.expect_code(0);
    let last: Value = serde_json::from_str(run.stdout.lines().last().unwrap_or("")).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    assert_eq!(last["type"], "result", "{}", run.stdout);
    let run = p.run(&["wait"], &[("ECSPRESSO_LOG_FORMAT", "json")]);
    run.expect_code(0);
    assert!(run.stdout.lines().all(|l| serde_json::from_str::<Value>(l).is_ok()) && !run.stdout.is_empty(), "{}", run.stdout);
}

/// ecspresso v2.4-v2.8 surface a config or CI script may use: `codedeploy.deployment_config_name`
/// (v2.5), `diff --without-service` (v2.8), `--[no-]color` (v2.4).
#[test]
fn ecspresso_2_4_to_2_8_surface() {
    let sim = sim();
    let region = cortado_e2e::unique_region("surface");
    let seed = sim.seed(&region, &region);
    let p = Project::against(sim, &region);
    let cluster = seed["ecs"]["clusterName"].as_str().unwrap();
    p.run(&["init", "--cluster", cluster, "--service", seed["ecs"]["blueGreenServiceName"].as_str().unwrap()], &[]).expect_code(0);
    let config = p.read("cortado.yml").replace("codedeploy:\n", "codedeploy:\n  deployment_config_name: CodeDeployDefault.ECSCanary10Percent5Minutes\n");
    assert!(config.contains("deployment_config_name"), "{config}");
    p.write("cortado.yml", &config);
    let td = p.read("ecs-task-def.json").replace(":v1\"", ":v2\"");
    p.write("ecs-task-def.json", &td);
    p.run(&["deploy", "--no-wait"], &[]).expect_code(0);
    let body = json!({"applicationName": seed["codedeploy"]["applicationName"], "deploymentGroupName": seed["codedeploy"]["deploymentGroupName"]});
    let list = cortado_e2e::seeded::aws_json(sim, &region, "codedeploy", "CodeDeploy_20141006.ListDeployments", &body);
    let id = list["deployments"].as_array().and_then(|d| d.last()).cloned().unwrap_or_else(|| panic!("no deployment: {list}"));
    let dep = cortado_e2e::seeded::aws_json(sim, &region, "codedeploy", "CodeDeploy_20141006.GetDeployment", &json!({"deploymentId": id}));
    assert_eq!(dep["deploymentInfo"]["deploymentConfigName"], "CodeDeployDefault.ECSCanary10Percent5Minutes", "{dep}");

    // diff --without-service: a local service change is not compared.
    let (p, _region, seed) = seeded("withoutsv");
    let mut sv = cortado_e2e::seeded::service_definition(&seed);
    sv["healthCheckGracePeriodSeconds"] = json!(99);
    write_project(&p, &seed, &task_definition(&seed), Some(&sv), "");
    let run = p.run(&["diff", "--exit-code"], &[]);
    run.expect_code(1);
    assert!(run.stdout.contains("healthCheckGracePeriodSeconds"), "{}", run.stdout);
    let run = p.run(&["diff", "--exit-code", "--without-service"], &[]);
    assert!(!run.stdout.contains("healthCheckGracePeriodSeconds"), "{}", run.stdout);
    assert!(run.stderr.is_empty() || !run.stderr.contains("Usage"), "{}", run.stderr);

    // --color forces colour off a terminal; --no-color (and NO_COLOR) never colours.
    let run = p.run(&["--color", "diff"], &[]);
    assert!(run.stdout.contains("\u{1b}["), "{}", run.stdout);
    let run = p.run(&["diff", "--no-color"], &[("CLICOLOR_FORCE", "1")]);
    assert!(!run.stdout.contains("\u{1b}[") && run.stdout.contains("healthCheckGracePeriodSeconds"), "{}", run.stdout);
}
