//! `cortado verify` against the seeded simulator: the healthy seed is all OK, each seeded defect is
//! an NG for its own check while every other check still runs, images by tag and digest, registries
//! outside AWS (a loopback registry; SKIP when unreachable or offline), and verifier plugins.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use cortado_e2e::seeded::{seeded, service_definition, task_definition, write_project};
use cortado_e2e::{Project, Run, fixture_plugin, sim};
use serde_json::{Value, json};

/// `(name, status, message)` of every leaf, depth first.
fn leaves(out: &str) -> Vec<(String, String, String)> {
    fn walk(n: &Value, acc: &mut Vec<(String, String, String)>) {
        let children = n["children"].as_array().unwrap();
        if children.is_empty() {
            acc.push((n["name"].as_str().unwrap().into(), n["status"].as_str().unwrap().into(), n["message"].as_str().unwrap().into()));
        }
        for c in children {
            walk(c, acc);
        }
    }
    let v: Value = serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let mut acc = vec![];
    for n in v["checks"].as_array().unwrap() {
        walk(n, &mut acc);
    }
    acc
}

fn verify_json(p: &Project, extra: &[&str], env: &[(&str, &str)]) -> (Run, Vec<(String, String, String)>) {
    let mut args = vec!["verify", "--output", "json"];
    args.extend_from_slice(extra);
    let run = p.run(&args, env);
    let l = leaves(&run.stdout);
    (run, l)
}

fn repl(s: &Value, from: &str, to: &str) -> Value {
    json!(s.as_str().unwrap().replace(from, to))
}

fn not_ok(leaves: &[(String, String, String)]) -> Vec<&(String, String, String)> {
    leaves.iter().filter(|l| l.1 != "OK").collect()
}

#[test]
fn the_healthy_seed_is_all_ok_and_the_execution_role_is_assumed() {
    let (p, region, seed) = seeded("vok");
    write_project(&p, &seed, &task_definition(&seed), Some(&service_definition(&seed)), "");
    let run = p.run(&["verify"], &[]);
    run.expect_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let markers: Vec<&&str> = lines.iter().filter(|l| l.trim_start().starts_with("-->")).collect();
    assert!(markers.len() >= 12, "{}", run.stdout);
    assert!(markers.iter().all(|l| l.contains("--> [OK]")), "every check OK:\n{}", run.stdout);
    for node in [
        format!("    ExecutionRole[{}]", seed["iam"]["executionRoleArn"].as_str().unwrap()),
        format!("    TaskRole[{}]", seed["iam"]["taskRoleArn"].as_str().unwrap()),
        "    ContainerDefinition[app]".into(),
        format!("      Image[{}]", seed["ecr"]["images"]["v1"]["uri"].as_str().unwrap()),
        format!("      Secret DB_SECRET[{}]", seed["secret"]["arn"].as_str().unwrap()),
        format!("      LogConfiguration[awslogs-group=/ecs/{region},awslogs-region={region},awslogs-stream-prefix=app]"),
        "    NetworkConfiguration".into(),
        format!("    LoadBalancer[{}]", seed["alb"]["targetGroupArn"].as_str().unwrap()),
        "  ServiceDefinition".into(),
        "  Cluster".into(),
    ] {
        assert!(lines.contains(&node.as_str()), "missing {node:?} in\n{}", run.stdout);
    }
    assert!(run.stderr.contains("Verify OK!"), "{}", run.stderr);
    let calls = sim().calls_in(&region);
    for call in [
        "sts:AssumeRole",
        "iam:GetRole",
        "ecr:BatchGetImage",
        "ssm:GetParameters",
        "secretsmanager:GetSecretValue",
        "logs:PutLogEvents",
        "elasticloadbalancing:DescribeTargetGroups",
        "ecs:DescribeClusters",
    ] {
        assert!(calls.iter().any(|c| c == call), "{call} not called: {calls:?}");
    }

    // Without reading secrets or writing logs: existence only, still all OK.
    let before = sim().calls_in(&region).len();
    let (run, l) = verify_json(&p, &["--no-get-secrets", "--no-put-logs"], &[]);
    run.expect_code(0);
    assert!(not_ok(&l).is_empty(), "{l:?}");
    let calls = sim().calls_in(&region)[before..].to_vec();
    assert!(!calls.iter().any(|c| c == "secretsmanager:GetSecretValue" || c == "ssm:GetParameters" || c == "logs:PutLogEvents"), "{calls:?}");
    assert!(calls.iter().any(|c| c == "ssm:DescribeParameters") && calls.iter().any(|c| c == "secretsmanager:DescribeSecret"), "{calls:?}");
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["summary"]["ng"], 0);
}

/// One defect at a time: exactly that check is NG, and the same checks as on the healthy seed run.
#[test]
fn each_seeded_defect_is_ng_for_its_own_check_and_everything_else_is_still_checked() {
    let (p, _region, seed) = seeded("vng");
    let pfx = seed["prefix"].as_str().unwrap().to_owned();
    let healthy_td = task_definition(&seed);
    let healthy_sv = service_definition(&seed);
    write_project(&p, &seed, &healthy_td, Some(&healthy_sv), "");
    let (run, healthy) = verify_json(&p, &[], &[]);
    run.expect_code(0);
    let names: Vec<&String> = healthy.iter().map(|l| &l.0).collect();

    type Edit = Box<dyn Fn(&mut Value, &mut Value)>;
    let (p1, p2, p3) = (pfx.clone(), pfx.clone(), pfx.clone());
    let cases: Vec<(&str, Edit, &str, &str)> = vec![
        (
            "missing role",
            Box::new(move |td, _| td["taskRoleArn"] = repl(&td["taskRoleArn"], &format!("{p1}-task"), &format!("{p1}-missing"))),
            "TaskRole[",
            "does not exist",
        ),
        (
            "role without ECS trust",
            Box::new(move |td, _| td["executionRoleArn"] = repl(&td["executionRoleArn"], &format!("{p2}-exec"), &format!("{p2}-notrust"))),
            "ExecutionRole[",
            "does not trust ecs-tasks.amazonaws.com",
        ),
        (
            "missing image tag",
            Box::new(|td, _| {
                let c = &mut td["containerDefinitions"][0];
                c["image"] = repl(&c["image"], ":v1", ":v9")
            }),
            "Image[",
            "v9 not found",
        ),
        (
            "missing secret",
            Box::new(move |td, _| {
                let s = &mut td["containerDefinitions"][0]["secrets"][1];
                s["valueFrom"] = repl(&s["valueFrom"], &format!("secret:{p3}/db"), &format!("secret:{p3}/nope"))
            }),
            "Secret DB_SECRET[",
            "does not exist",
        ),
        (
            "missing SSM parameter",
            Box::new(|td, _| {
                let s = &mut td["containerDefinitions"][0]["secrets"][0];
                s["valueFrom"] = repl(&s["valueFrom"], "/db/password", "/db/nope")
            }),
            "Secret DB_PASSWORD[",
            "does not exist",
        ),
        (
            "missing log group",
            Box::new(|td, _| td["containerDefinitions"][0]["logConfiguration"]["options"]["awslogs-group"] = json!("/ecs/nobody-made-this")),
            "LogConfiguration[",
            "log group /ecs/nobody-made-this does not exist",
        ),
        (
            "target group with a wrong port",
            Box::new(|_, sv| sv["loadBalancers"][0]["containerPort"] = json!(8080)),
            "LoadBalancer[",
            "does not expose containerPort 8080",
        ),
    ];
    for (what, edit, node, message) in cases {
        let (mut td, mut sv) = (healthy_td.clone(), healthy_sv.clone());
        edit(&mut td, &mut sv);
        write_project(&p, &seed, &td, Some(&sv), "");
        for mode in [&[][..], &["--no-get-secrets", "--no-put-logs"][..]] {
            let (run, l) = verify_json(&p, mode, &[]);
            run.expect_code(1);
            let bad = not_ok(&l);
            assert_eq!(bad.len(), 1, "{what} {mode:?}: exactly one NG, got {bad:?}");
            assert!(bad[0].0.starts_with(node) && bad[0].1 == "NG" && bad[0].2.contains(message), "{what} {mode:?}: {bad:?}");
            assert_eq!(l.len(), names.len(), "{what}: every check still reported: {l:?}");
            assert!(run.stderr.contains("verify found 1 problem"), "{what}: {}", run.stderr);
        }
        // The text tree shows the NG at the leaf and on its ancestors.
        let run = p.run(&["verify"], &[]);
        run.expect_code(1);
        assert!(run.stdout.contains("--> [NG] 1 problem below"), "{what}: {}", run.stdout);
    }
}

#[test]
fn images_by_digest() {
    let (p, _region, seed) = seeded("vdig");
    let mut td = task_definition(&seed);
    let repo = seed["ecr"]["repositoryUri"].as_str().unwrap();
    let digest = seed["ecr"]["images"]["v2"]["digest"].as_str().unwrap();
    td["containerDefinitions"][0]["image"] = json!(format!("{repo}@{digest}"));
    write_project(&p, &seed, &td, None, "");
    let (run, l) = verify_json(&p, &[], &[]);
    run.expect_code(0);
    assert!(l.iter().any(|x| x.0 == format!("Image[{repo}@{digest}]") && x.1 == "OK"), "{l:?}");
    // No service definition: a SKIP with the reason, not a failure.
    assert!(l.iter().any(|x| x.0 == "ServiceDefinition" && x.1 == "SKIP" && x.2.contains("no service_definition")), "{l:?}");

    let wrong = format!("sha256:{}", "0".repeat(64));
    td["containerDefinitions"][0]["image"] = json!(format!("{repo}@{wrong}"));
    write_project(&p, &seed, &td, None, "");
    let (run, l) = verify_json(&p, &[], &[]);
    run.expect_code(1);
    assert!(l.iter().any(|x| x.0.starts_with("Image[") && x.1 == "NG" && x.2.contains(&format!("digest {wrong} not found"))), "{l:?}");
}

/// A registry outside AWS that is down, or not to be contacted: SKIP with the reason, exit 0.
#[test]
fn unreachable_and_offline_registries_are_skipped() {
    let (p, region, seed) = seeded("vskip");
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port(); // bound, then released
    let mut td = task_definition(&seed);
    td["containerDefinitions"][0]["image"] = json!(format!("127.0.0.1:{closed}/team/app:v1"));
    let mut sidecar = td["containerDefinitions"][0].clone();
    sidecar["name"] = json!("proxy");
    sidecar["image"] = json!("nginx:1.27");
    sidecar["portMappings"] = json!([]);
    td["containerDefinitions"].as_array_mut().unwrap().push(sidecar);
    write_project(&p, &seed, &td, None, "");
    let (run, l) = verify_json(&p, &[], &[("CORTADO_OFFLINE", "1")]);
    run.expect_code(0);
    let image = |name: &str| l.iter().find(|x| x.0 == format!("Image[{name}]")).cloned().unwrap_or_else(|| panic!("{name}: {l:?}"));
    let hub = image("nginx:1.27");
    assert_eq!((hub.1.as_str(), hub.2.as_str()), ("SKIP", "CORTADO_OFFLINE is set: registry registry-1.docker.io not contacted"));
    // CORTADO_OFFLINE skips every registry outside AWS, loopback ones too.
    assert_eq!(image(&format!("127.0.0.1:{closed}/team/app:v1")).1, "SKIP");
    // Online, the closed loopback port is unreachable: SKIP with the reason.
    td["containerDefinitions"].as_array_mut().unwrap().truncate(1);
    write_project(&p, &seed, &td, None, "");
    let (run, l) = verify_json(&p, &[], &[]);
    run.expect_code(0);
    let x = l.iter().find(|x| x.0.starts_with("Image[127.0.0.1")).unwrap();
    assert!(x.1 == "SKIP" && x.2.starts_with(&format!("registry 127.0.0.1:{closed} unreachable")), "{x:?}");
    assert!(!sim().calls_in(&region).iter().any(|c| c.starts_with("ecr:")), "no ECR call for a non-ECR image");
}

/// A tiny registry on loopback: manifests behind a Bearer challenge, an index for linux/amd64.
fn serve_registry() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut auth = String::new();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                if h.to_ascii_lowercase().starts_with("authorization:") {
                    auth = h.trim().to_owned();
                }
            }
            let mut parts = request_line.split_whitespace();
            let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let index = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:aa","size":1,"platform":{"architecture":"amd64","os":"linux"}}]}"#;
            let (status, headers, body): (&str, String, String) = if path.starts_with("/token") {
                assert!(path.contains("scope=repository%3Ateam%2Fapp%3Apull") && path.contains("service=fake"), "token request {path}");
                ("200 OK", "Content-Type: application/json\r\n".into(), r#"{"token":"t0k"}"#.into())
            } else if !auth.ends_with("Bearer t0k") {
                (
                    "401 Unauthorized",
                    format!("WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"fake\",scope=\"repository:team/app:pull\"\r\n"),
                    String::new(),
                )
            } else if path == "/v2/team/app/manifests/v1" {
                ("200 OK", "Content-Type: application/vnd.oci.image.index.v1+json\r\n".into(), index.into())
            } else {
                ("404 Not Found", String::new(), r#"{"errors":[{"code":"MANIFEST_UNKNOWN"}]}"#.into())
            };
            let body = if method == "HEAD" { String::new() } else { body };
            let _ = write!(stream, "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        }
    });
    port
}

#[test]
fn a_registry_outside_aws_with_a_bearer_challenge_and_platforms() {
    let port = serve_registry();
    let (p, _region, seed) = seeded("vreg");
    let mut td = task_definition(&seed);
    td["containerDefinitions"][0]["image"] = json!(format!("127.0.0.1:{port}/team/app:v1"));
    write_project(&p, &seed, &td, None, "");
    let (run, l) = verify_json(&p, &[], &[]);
    run.expect_code(0);
    assert!(l.iter().any(|x| x.0.starts_with("Image[127.0.0.1") && x.1 == "OK"), "{l:?}");

    td["containerDefinitions"][0]["image"] = json!(format!("127.0.0.1:{port}/team/app:v9"));
    write_project(&p, &seed, &td, None, "");
    let (run, l) = verify_json(&p, &[], &[]);
    run.expect_code(1);
    assert!(l.iter().any(|x| x.0.starts_with("Image[127.0.0.1") && x.1 == "NG" && x.2.contains("v9 not found")), "{l:?}");

    // The index has no arm64 variant.
    td["containerDefinitions"][0]["image"] = json!(format!("127.0.0.1:{port}/team/app:v1"));
    td["runtimePlatform"] = json!({"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"});
    write_project(&p, &seed, &td, None, "");
    let (run, l) = verify_json(&p, &[], &[]);
    run.expect_code(1);
    assert!(l.iter().any(|x| x.0.starts_with("Image[") && x.2 == "the image has no linux/arm64 variant (it has linux/amd64)"), "{l:?}");
}

#[test]
fn verifier_plugins_report_in_the_same_tree() {
    let (p, _region, seed) = seeded("vplug");
    let td = task_definition(&seed);
    let sv = service_definition(&seed);
    // image-policy (first party) with its default pattern refuses the seed's `v1` tag.
    write_project(&p, &seed, &td, Some(&sv), "plugins:\n  - name: image-policy\n");
    let run = p.run(&["verify"], &[]);
    run.expect_code(1);
    assert!(run.stdout.contains("  Plugin[image-policy]\n    image[app]\n    --> [NG] "), "{}", run.stdout);
    assert!(run.stdout.contains("  Cluster\n  --> [OK]"), "the built-in checks still run: {}", run.stdout);
    let (_, l) = verify_json(&p, &[], &[]);
    assert_eq!(not_ok(&l).len(), 1, "{l:?}");

    write_project(&p, &seed, &td, Some(&sv), "plugins:\n  - name: image-policy\n    config:\n      immutable_tags_pattern: '^v\\d+$'\n");
    let run = p.run(&["verify"], &[]);
    run.expect_code(0);
    assert!(run.stdout.contains("  Plugin[image-policy]\n    image[app]\n    --> [OK]"), "{}", run.stdout);

    // A custom verifier: it sees the rendered definitions, and its NG fails the run.
    let (wasm, digest) = fixture_plugin("checks");
    let extra = format!(
        "plugins:\n  - name: checks\n    path: {}\n    sha256: {digest}\n    config:\n      checks:\n        - {{name: budget, status: ng, message: over budget}}\n        - {{name: later, status: skip, message: not today}}\n",
        wasm.display()
    );
    write_project(&p, &seed, &td, Some(&sv), &extra);
    let (run, l) = verify_json(&p, &[], &[]);
    run.expect_code(1);
    let family = format!("{}-app", seed["prefix"].as_str().unwrap());
    let service = seed["ecs"]["serviceName"].as_str().unwrap();
    let plugin: Vec<(String, String, String)> = l.iter().filter(|x| ["family", "service", "budget", "later"].contains(&x.0.as_str())).cloned().collect();
    assert_eq!(
        plugin,
        vec![
            ("family".into(), "OK".into(), family),
            ("service".into(), "OK".into(), service.into()),
            ("budget".into(), "NG".into(), "over budget".into()),
            ("later".into(), "SKIP".into(), "not today".into()),
        ]
    );
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    let node = v["checks"].as_array().unwrap().iter().find(|n| n["name"] == "Plugin[checks]").expect("Plugin[checks] node");
    assert_eq!((node["status"].as_str(), node["message"].as_str()), (Some("NG"), Some("1 problem below")));
}

#[test]
fn bad_input_makes_no_aws_call() {
    let (p, region, seed) = seeded("vbad");
    write_project(&p, &seed, &task_definition(&seed), None, "");
    p.write("ecs-task-def.json", "{\"family\": \"x\",\n \"containerDefinitions\": [{{ must_env `NOT_SET_ANYWHERE` }}]}");
    let run = p.run(&["verify"], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("ecs-task-def.json:2") && run.stderr.contains("NOT_SET_ANYWHERE"), "{}", run.stderr);
    assert!(sim().calls_in(&region).is_empty(), "{:?}", sim().calls_in(&region));
}
