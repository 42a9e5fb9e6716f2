//! ecspresso v3 semantics (issue 27 §3) for a config whose `required_version` declares v3, each
//! against the same config declaring v2, which keeps v2's: plain-number durations, `rollback`
//! without an active deployment, plugin functions in top-level fields (two-pass load), and the
//! flags v3 removed.

use cortado_e2e::seeded::{aws_json, seeded, service_definition, task_definition, write_project};
use cortado_e2e::{Project, sim};
use serde_json::{Value, json};

const POLL: (&str, &str) = ("CORTADO_POLL_INTERVAL", "20ms");
const V3: &str = "required_version: \">= 3\"\n";
const V3_TILDE: &str = "required_version: \"~> 3.0\"\n";
const V2: &str = "required_version: \">= 2.0.0, < 3\"\n";

/// A seeded project whose config is an `ecspresso.yml` starting with `header` (then `extra`).
fn ecspresso_project(tag: &str, header: &str, extra: &str) -> (Project, String, Value) {
    let (p, region, seed) = seeded(tag);
    write_project(&p, &seed, &task_definition(&seed), Some(&service_definition(&seed)), extra);
    set_header(&p, header);
    (p, region, seed)
}

/// Moves the project's config to `ecspresso.yml`, headed by `header` (a `required_version` line).
fn set_header(p: &Project, header: &str) {
    let body = if p.path("cortado.yml").exists() { p.read("cortado.yml") } else { p.read("ecspresso.yml") };
    let body: String = body.lines().filter(|l| !l.starts_with("required_version")).map(|l| format!("{l}\n")).collect();
    let _ = std::fs::remove_file(p.path("cortado.yml"));
    p.write("ecspresso.yml", &format!("{header}{body}"));
}

fn rendered_timeout(p: &Project, extra: &[&str]) -> (i32, String, String) {
    let mut args = extra.to_vec();
    args.extend(["render", "config"]);
    let run = p.run(&args, &[]);
    let t = run.stdout.lines().find_map(|l| l.strip_prefix("timeout: ")).unwrap_or("").to_owned();
    (run.code, t, run.stderr)
}

#[test]
fn plain_number_durations_are_seconds_under_v3_only() {
    let (p, region, _seed) = ecspresso_project("v3dur", V3, "timeout: 600\n");
    assert_eq!(rendered_timeout(&p, &[]), (0, "10m0s".into(), String::new()));
    set_header(&p, V3_TILDE);
    let (code, t, _) = rendered_timeout(&p, &["--timeout", "90"]);
    assert_eq!((code, t.as_str()), (0, "1m30s"), "--timeout is a v3 duration too");
    // Above thirty days: accepted, with a warning naming the key.
    p.write("ecspresso.yml", &p.read("ecspresso.yml").replace("timeout: 600", "timeout: 3000000"));
    let (code, t, stderr) = rendered_timeout(&p, &[]);
    assert_eq!((code, t.as_str()), (0, "833h20m0s"));
    assert!(stderr.contains("timeout") && stderr.contains("more than 30 days"), "{stderr}");
    // The same file declaring v2: a bare number stays refused (ecspresso v2 read it as nanoseconds).
    set_header(&p, V2);
    let run = p.run(&["render", "config"], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("ecspresso.yml") && run.stderr.contains("\"timeout\""), "{}", run.stderr);
    assert!(sim().calls_in(&region).is_empty(), "render makes no AWS call");
}

fn service_td(region: &str, seed: &Value) -> String {
    let s = |k: &str| seed["ecs"][k].as_str().unwrap().to_owned();
    let v = aws_json(
        sim(),
        region,
        "ecs",
        "AmazonEC2ContainerServiceV20141113.DescribeServices",
        &json!({"cluster": s("clusterName"), "services": [s("serviceName")]}),
    );
    v["services"][0]["taskDefinition"].as_str().unwrap().to_owned()
}

fn set_image(p: &Project, tag: &str) {
    let mut td: Value = serde_json::from_str(&p.read("ecs-task-def.json")).unwrap();
    let image = td["containerDefinitions"][0]["image"].as_str().unwrap().to_owned();
    let base = image.rsplit_once(':').map(|(b, _)| b).unwrap_or(&image).to_owned();
    td["containerDefinitions"][0]["image"] = json!(format!("{base}:{tag}"));
    p.write("ecs-task-def.json", &serde_json::to_string_pretty(&td).unwrap());
}

#[test]
fn v3_rollback_needs_an_active_deployment_or_the_flag() {
    let (p, region, seed) = ecspresso_project("v3rb", V2, "timeout: 60s\n");
    set_image(&p, "v2");
    p.run(&["deploy"], &[POLL]).expect_code(0);
    assert!(service_td(&region, &seed).ends_with(":2"));

    // v3, nothing in progress: refused before any change, with the way out named.
    set_header(&p, V3);
    let before = sim().mutations_in(&region).len();
    let run = p.run(&["rollback"], &[POLL]);
    run.expect_code(1);
    assert!(run.stderr.contains("no active deployment") && run.stderr.contains("--with-previous-task-definition"), "{}", run.stderr);
    assert_eq!(sim().mutations_in(&region).len(), before, "nothing changed");
    assert!(service_td(&region, &seed).ends_with(":2"));

    // The flag restores the previous-revision rollback.
    p.run(&["rollback", "--with-previous-task-definition"], &[POLL]).expect_code(0);
    assert!(service_td(&region, &seed).ends_with(":1"), "back on revision 1");

    // v2 keeps v2's rollback: no active deployment, the previous revision is deployed.
    set_header(&p, V2);
    set_image(&p, "v2");
    p.run(&["deploy"], &[POLL]).expect_code(0);
    let deployed = service_td(&region, &seed);
    p.run(&["rollback", "--no-deregister-task-definition"], &[POLL]).expect_code(0);
    assert_ne!(service_td(&region, &seed), deployed, "v2 rolled back to the previous revision");
}

#[test]
fn v3_top_level_fields_may_call_plugin_functions() {
    let (p, region, seed) = ecspresso_project("v3fn", V3, "");
    let prefix = seed["prefix"].as_str().unwrap();
    // `service` from an SSM parameter through the always-loaded ssm plugin (second pass).
    let config = p.read("ecspresso.yml");
    let with_fn = config
        .lines()
        .map(|l| if l.starts_with("service:") { format!("service: '{{{{ ssm `/{prefix}/db/host` }}}}'\n") } else { format!("{l}\n") })
        .collect::<String>();
    p.write("ecspresso.yml", &with_fn);
    let run = p.run(&["render", "config"], &[]);
    run.expect_code(0);
    assert!(run.stdout.lines().any(|l| l == "service: db.internal"), "{}", run.stdout);
    assert!(sim().calls_in(&region).iter().any(|c| c == "ssm:GetParameter"), "the plugin read the parameter");

    // Declaring v2, the same field is rendered with the built-in functions only: refused.
    set_header(&p, V2);
    let run = p.run(&["render", "config"], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("ssm") && run.stderr.contains("ecspresso.yml"), "{}", run.stderr);
}

#[test]
fn flags_removed_in_v3_are_refused_with_their_replacement() {
    let (p, region, _seed) = ecspresso_project("v3flags", V3, "");
    let run = p.run(&["diff", "--no-unified"], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("--no-unified") && run.stderr.contains("removed in ecspresso v3") && run.stderr.contains("always unified"), "{}", run.stderr);
    let run = p.run(&["--filter-command", "peco", "tasks"], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("--filter-command") && run.stderr.contains("--id"), "{}", run.stderr);
    p.write("ecspresso.yml", &format!("{}filter_command: peco\n", p.read("ecspresso.yml")));
    let run = p.run(&["tasks"], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("filter_command") && run.stderr.contains("removed in ecspresso v3"), "{}", run.stderr);
    let body: String = p.read("ecspresso.yml").lines().filter(|l| !l.starts_with("filter_command")).map(|l| format!("{l}\n")).collect();
    p.write("ecspresso.yml", &body);
    // The flag forms of `tasks` and `exec` (#1025): each names its subcommand.
    for (args, replacement) in [
        (&["tasks", "--find"][..], "`tasks find`"),
        (&["tasks", "--stop", "--force"][..], "`tasks stop`"),
        (&["tasks", "--trace"][..], "`tasks trace`"),
        (&["exec", "--port-forward", "--port", "80"][..], "`exec portforward`"),
    ] {
        let run = p.run(args, &[]);
        run.expect_code(2);
        assert!(run.stderr.contains("removed in ecspresso v3") && run.stderr.contains(replacement), "{args:?}: {}", run.stderr);
    }
    assert!(sim().calls_in(&region).is_empty(), "refused before any AWS call");

    // v2: both still work.
    set_header(&p, V2);
    let run = p.run(&["diff", "--no-unified"], &[]);
    assert!(run.code == 0, "{}", run.stderr);
}

/// The `external` plugin's `timeout: 1` is one second under v3 (a call of a slow command fails in
/// about that), and is refused under v2, which has no unit for it.
#[test]
fn v3_external_plugin_timeout_is_seconds() {
    let plugin = "plugins:\n  - name: external\n    config:\n      name: slow\n      command: [sleep, \"10\"]\n      num_args: 0\n      timeout: 1\n";
    let (p, region, _seed) = ecspresso_project("v3ext", V3, plugin);
    let config = p.read("ecspresso.yml");
    let with_fn: String = config.lines().map(|l| if l.starts_with("service:") { "service: '{{ slow }}'\n".to_owned() } else { format!("{l}\n") }).collect();
    p.write("ecspresso.yml", &with_fn);
    let started = std::time::Instant::now();
    let run = p.run(&["render", "config"], &[]);
    let took = started.elapsed();
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert!(run.stderr.contains("timed out"), "{}", run.stderr);
    assert!(took < std::time::Duration::from_secs(8), "one second, not ten: {took:?}");

    // v2 (and no plugin function in a top-level field, which v2 does not have): refused.
    p.write("ecspresso.yml", &config);
    set_header(&p, V2);
    let run = p.run(&["render", "config"], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("timeout") && run.stderr.contains("expected a duration"), "{}", run.stderr);
    assert!(sim().calls_in(&region).is_empty(), "render makes no AWS call");
}

/// ecspresso v3 parses a YAML config before it renders templates (#1023): an unquoted `{{ … }}`
/// scalar is refused under v3 with the file, the line and the fix; v2 renders first and loads it.
#[test]
fn a_v3_yaml_config_must_be_yaml_before_templating() {
    let p = Project::new();
    let body = "region: us-east-1\ncluster: {{ must_env `CLUSTER` }}\nservice: web\ntask_definition: ecs-task-def.json\n";
    p.write("ecspresso.yml", &format!("{V3}{body}"));
    let run = p.run(&["render", "config"], &[("CLUSTER", "prod")]);
    run.expect_code(2);
    assert!(run.stderr.contains("ecspresso.yml:3:") && run.stderr.contains("not valid YAML before templating"), "{}", run.stderr);
    assert!(run.stderr.contains("quote") && run.stderr.contains("ecspresso v3"), "{}", run.stderr);
    // Quoted, it loads under v3.
    p.write("ecspresso.yml", &format!("{V3}{}", body.replace("{{ must_env `CLUSTER` }}", "'{{ must_env `CLUSTER` }}'")));
    let run = p.run(&["render", "config"], &[("CLUSTER", "prod")]);
    run.expect_code(0);
    assert!(run.stdout.lines().any(|l| l == "cluster: prod"), "{}", run.stdout);
    // Declaring v2, the unquoted form is rendered first and loads as before.
    p.write("ecspresso.yml", &format!("{V2}{body}"));
    let run = p.run(&["render", "config"], &[("CLUSTER", "prod")]);
    run.expect_code(0);
    assert!(run.stdout.lines().any(|l| l == "cluster: prod"), "{}", run.stdout);
}

/// The config-only load of the plugin commands (`plugin inspect` with a config) runs v3's second
/// pass too: a top-level field that calls a plugin function loads, so the config's grants for the
/// inspected component are shown beside its requests.
#[test]
fn plugin_inspect_loads_a_v3_config_with_plugin_functions_in_top_level_fields() {
    let (wasm, digest) = cortado_e2e::fixture_plugin("overreach");
    let p = Project::new();
    p.write(
        "state.tfstate",
        r#"{"version": 4, "terraform_version": "1.9.0", "serial": 1, "lineage": "x", "outputs": {"cluster": {"value": "prod-cluster", "type": "string"}}, "resources": []}"#,
    );
    let config = format!(
        "{V3}region: us-east-1\ncluster: '{{{{ tfstate `output.cluster` }}}}'\nplugins:\n  - name: tfstate\n    config:\n      path: state.tfstate\n  - name: overreach\n    path: {}\n    sha256: {digest}\n    grants: []\n",
        wasm.display()
    );
    p.write("ecspresso.yml", &config);
    let run = p.run(&["render", "config"], &[]);
    run.expect_code(0);
    assert!(run.stdout.lines().any(|l| l == "cluster: prod-cluster"), "{}", run.stdout);
    let run = p.run(&["plugin", "inspect", wasm.to_str().unwrap()], &[]);
    run.expect_code(0);
    assert!(run.stdout.contains("(NOT granted)") && run.stdout.contains("every brokered AWS call is denied"), "the config's grants:\n{}", run.stdout);
}
