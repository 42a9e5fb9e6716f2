//! The plugin system end to end: first-party plugins resolving from the seeded simulator, grants
//! enforced by the broker (no request leaves the host without one), pinning, and iam-policy.

use cortado_e2e::rendered_env;
use cortado_e2e::{Project, fixture_plugin, sim, unique_region};
use serde_json::Value;

fn seeded(tag: &str) -> (Project, String, Value) {
    let sim = sim();
    let region = unique_region(tag);
    let seed = sim.seed(&region, &region);
    (Project::against(sim, &region), region, seed)
}

fn td_with_env(vars: &[(&str, &str)]) -> String {
    cortado_e2e::td_with_env("plugins", vars)
}

#[test]
fn first_party_plugins_resolve_from_the_simulator() {
    let (p, region, seed) = seeded("fp");
    let tf = &seed["tfstate"];
    p.write("state/terraform.tfstate", tf["content"].as_str().unwrap());
    // A second, local state for the prefixed plugin.
    p.write("other.tfstate", r#"{"version": 4, "terraform_version": "1.9.0", "serial": 1, "lineage": "x", "outputs": {"bucket": {"value": "s3://example/", "type": "string"}}, "resources": []}"#);
    p.write(
        "cortado.yml",
        &format!(
            "region: {region}\ncluster: c\ntask_definition: ecs-task-def.json\nplugins:\n  - name: tfstate\n    config:\n      path: state/terraform.tfstate\n  - name: tfstate\n    func_prefix: s3_\n    config:\n      url: {}\n  - name: tfstate\n    func_prefix: bucket_\n    config:\n      path: other.tfstate\n  - name: cloudformation\n",
            tf["url"].as_str().unwrap()
        ),
    );
    let stack = seed["cloudformation"]["stackName"].as_str().unwrap();
    p.write(
        "ecs-task-def.json",
        &td_with_env(&[
            ("REPO", "{{ tfstate `aws_ecr_repository.this['app'].repository_url` }}"),
            ("SUBNET", "{{ s3_tfstate `aws_subnet.private[1].id` }}"),
            ("DB", "{{ tfstatef `module.db.aws_db_instance.%s.address` `main` }}"),
            ("BUCKET", "{{ bucket_tfstate `output.bucket` }}"),
            ("VPC", &format!("{{{{ cfn_output `{stack}` `VpcId` }}}}")),
            ("EXPORT", &format!("{{{{ cfn_export `{region}-SubnetIds` }}}}")),
            ("HOST", &format!("{{{{ ssm `/{region}/db/host` }}}}")),
            ("SECOND", &format!("{{{{ ssm `/{region}/hosts` 1 }}}}")),
            ("SECRET", &format!("{{{{ secretsmanager_arn `{region}/db` }}}}")),
        ]),
    );
    let run = p.run(&["render", "taskdef"], &[]);
    run.expect_code(0);
    let env = rendered_env(&run.stdout);
    let addr = &tf["addresses"];
    assert_eq!(env["REPO"], addr["aws_ecr_repository.this[\"app\"].repository_url"].as_str().unwrap());
    assert_eq!(env["SUBNET"], addr["aws_subnet.private[1].id"].as_str().unwrap());
    assert_eq!(env["DB"], addr["module.db.aws_db_instance.main.address"].as_str().unwrap());
    assert_eq!(env["BUCKET"], "s3://example/");
    assert_eq!(env["VPC"], seed["network"]["vpcId"].as_str().unwrap());
    assert_eq!(
        env["EXPORT"],
        seed["cloudformation"]["exports"][format!("{region}-SubnetIds")].as_str().unwrap_or_else(|| panic!("{}", seed["cloudformation"]))
    );
    assert_eq!(env["HOST"], "db.internal");
    assert_eq!(env["SECOND"], "b.example");
    assert_eq!(env["SECRET"], seed["secret"]["arn"].as_str().unwrap());
}

#[test]
fn without_the_grant_the_render_fails_and_no_request_is_made() {
    let (p, region, seed) = seeded("nogrant");
    let sim = sim();
    // ssm re-declared with no grants; tfstate over S3 granted a different key only.
    p.write(
        "cortado.yml",
        &format!(
            "region: {region}\ncluster: c\ntask_definition: ecs-task-def.json\nplugins:\n  - name: ssm\n    grants: []\n  - name: tfstate\n    config:\n      url: {}\n    grants:\n      - action: s3:GetObject\n        resource: arn:aws:s3:::{}/other-key\n",
            seed["tfstate"]["url"].as_str().unwrap(),
            seed["tfstate"]["bucket"].as_str().unwrap()
        ),
    );
    p.write("ecs-task-def.json", &td_with_env(&[("HOST", &format!("{{{{ ssm `/{region}/db/host` }}}}"))]));
    let run = p.run(&["render", "taskdef"], &[]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert!(run.stderr.contains("plugin \"ssm\"") && run.stderr.contains("no grant for ssm:GetParameter"), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("parameter/{region}/db/host")), "{}", run.stderr);

    p.write("ecs-task-def.json", &td_with_env(&[("SUBNET", "{{ tfstate `aws_subnet.private[0].id` }}")]));
    let run = p.run(&["render", "taskdef"], &[]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert!(run.stderr.contains("plugin \"tfstate\"") && run.stderr.contains("no grant for s3:GetObject"), "{}", run.stderr);

    let calls = sim.calls_in(&region);
    assert!(!calls.iter().any(|c| c.starts_with("ssm:") || c.starts_with("s3:") || c.starts_with("sts:")), "requests left the host: {calls:?}");
}

#[test]
fn a_custom_plugin_runs_pinned_and_is_refused_when_the_digest_differs() {
    let (wasm, digest) = fixture_plugin("echo");
    let p = Project::new();
    p.write("ecs-task-def.json", &td_with_env(&[("ECHO", "{{ echo `a` `b` | printf `%s!` }}")]));
    let config = |sha: &str| {
        format!("region: us-east-1\ntask_definition: ecs-task-def.json\nplugins:\n  - name: echo\n    path: {}\n    sha256: {sha}\n", wasm.display())
    };
    p.write("cortado.yml", &config(&digest));
    let run = p.run(&["render", "taskdef"], &[]);
    run.expect_code(0);
    assert_eq!(rendered_env(&run.stdout)["ECHO"], "a b!");

    let run = p.run(&["plugin", "list"], &[]);
    run.expect_code(0);
    assert!(run.stdout.contains(&format!("sha256: {digest}")) && run.stdout.contains("function echo"), "{}", run.stdout);
    assert!(run.stdout.contains("ssm") && run.stdout.contains("grant  ssm:GetParameter on *"), "{}", run.stdout);

    let wrong = "0".repeat(64);
    p.write("cortado.yml", &config(&wrong));
    let run = p.run(&["render", "taskdef"], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains(&format!("sha256 is {digest} but the config pins {wrong}; refusing to run it")), "{}", run.stderr);
    assert!(!run.stderr.contains("[echo"), "the plugin must not have run: {}", run.stderr);
}

#[test]
fn plugin_functions_are_jsonnet_natives() {
    let (wasm, digest) = fixture_plugin("echo");
    let p = Project::new();
    p.write(
        "cortado.yml",
        &format!(
            "region: us-east-1\ntask_definition: td.jsonnet\nplugins:\n  - name: echo\n    func_prefix: my_\n    path: {}\n    sha256: {digest}\n",
            wasm.display()
        ),
    );
    p.write("td.jsonnet", "{ family: 'j', containerDefinitions: [{ name: 'app', image: std.native('my_echo')('nginx:', '1') }] }\n");
    let run = p.run(&["render", "taskdef"], &[]);
    run.expect_code(0);
    assert!(run.stdout.contains("\"image\": \"nginx: 1\""), "{}", run.stdout);
}

#[test]
fn iam_policy_lists_exactly_the_plugin_grants() {
    let p = Project::new();
    p.write(
        "ecs-task-def.json",
        r#"{"family": "f", "taskRoleArn": "arn:aws:iam::123456789012:role/t", "containerDefinitions": [{"name": "a", "image": "nginx"}]}"#,
    );
    p.write(
        "cortado.yml",
        "region: us-east-1\ncluster: c\nservice: s\nservice_definition: sv.json\ntask_definition: ecs-task-def.json\nplugins:\n  - name: tfstate\n    config:\n      url: s3://state-bucket/prod/terraform.tfstate\n  - name: cloudformation\n",
    );
    let run = p.run(&["iam-policy"], &[]);
    run.expect_code(0);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    let statements = v["Statement"].as_array().unwrap();
    let plugin: Vec<(String, Value, Value)> = statements
        .iter()
        .filter(|s| s["Sid"].as_str().unwrap().starts_with("Plugin"))
        .map(|s| (s["Sid"].as_str().unwrap().to_owned(), s["Action"].clone(), s["Resource"].clone()))
        .collect();
    assert_eq!(
        plugin,
        vec![
            // ssm and secretsmanager are loaded but no template calls them: no grant.
            ("PluginTfstate".into(), serde_json::json!(["s3:GetObject"]), serde_json::json!("arn:aws:s3:::state-bucket/prod/terraform.tfstate")),
            ("PluginCloudformation".into(), serde_json::json!(["cloudformation:DescribeStacks", "cloudformation:ListExports"]), serde_json::json!("*")),
        ]
    );
    let pass = statements.iter().find(|s| s["Sid"] == "CortadoPassRole").expect("PassRole for the task role");
    assert_eq!(pass["Resource"], serde_json::json!(["arn:aws:iam::123456789012:role/t"]));
    let svc = statements.iter().find(|s| s["Sid"] == "CortadoService").unwrap();
    assert_eq!(svc["Resource"], "arn:aws:ecs:us-east-1:*:service/c/s");
}

#[test]
fn plugin_inspect_shows_the_manifest_and_the_grants_beside_it() {
    let (wasm, digest) = fixture_plugin("overreach");
    let p = Project::new();
    let run = p.run(&["plugin", "inspect", wasm.to_str().unwrap()], &[]);
    run.expect_code(0);
    assert!(run.stdout.contains(&format!("sha256: {digest}")), "{}", run.stdout);
    assert!(run.stdout.contains("function overreach (1..1 args)"), "{}", run.stdout);
    assert!(run.stdout.contains("asks   ssm:GetParameter on arn:aws:ssm:*:*:parameter/fixture/*"), "{}", run.stdout);
    assert!(run.stdout.contains("pin it with `sha256:"), "{}", run.stdout);

    // Named in a config with no grants and a stale pin: both are pointed out.
    p.write(
        "cortado.yml",
        &format!("region: us-east-1\nplugins:\n  - name: overreach\n    path: {}\n    sha256: {}\n    grants: []\n", wasm.display(), "a".repeat(64)),
    );
    let run = p.run(&["plugin", "inspect", wasm.to_str().unwrap()], &[]);
    run.expect_code(0);
    assert!(run.stdout.contains("(NOT granted)") && run.stdout.contains("every brokered AWS call is denied"), "{}", run.stdout);
    assert!(run.stdout.contains("WARNING: the config pins sha256"), "{}", run.stdout);
}
