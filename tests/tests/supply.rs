//! Supply chain (issue 26): `pin_image_digests: true` resolves every image given by tag to its
//! manifest digest at plan time — ECR through the simulator's BatchGetImage, any other registry
//! through the OCI distribution API of a real registry on loopback (Debian's docker-registry) — and
//! the RegisterTaskDefinition request names `REPO@sha256:…`; a tag that cannot be resolved is an
//! error naming the container, with nothing registered.

use cortado_e2e::registry::Registry;
use cortado_e2e::seeded::aws_json;
use cortado_e2e::{Project, Run, sim, unique_region};
use serde_json::{Value, json};

/// A project initialised from the seeded ECS service, with `pin_image_digests: true` and a 60 s timeout.
fn pinned_project(tag: &str) -> (Project, String, Value) {
    let sim = sim();
    let region = unique_region(tag);
    let seed = sim.seed(&region, &region);
    let p = Project::against(sim, &region);
    p.run(&["init", "--cluster", seed["ecs"]["clusterName"].as_str().unwrap(), "--service", seed["ecs"]["serviceName"].as_str().unwrap()], &[]).expect_code(0);
    let config = p.read("cortado.yml").replace("timeout: 10m0s", "timeout: 60s");
    p.write("cortado.yml", &format!("{config}pin_image_digests: true\n"));
    (p, region, seed)
}

fn set_image(p: &Project, image: &str) {
    let mut v: Value = serde_json::from_str(&p.read("ecs-task-def.json")).unwrap();
    v["containerDefinitions"][0]["image"] = json!(image);
    p.write("ecs-task-def.json", &serde_json::to_string_pretty(&v).unwrap());
}

/// The image of the first container of the family's newest revision, read from the simulator.
fn registered_image(region: &str, family: &str) -> String {
    let v = aws_json(sim(), region, "ecs", "AmazonEC2ContainerServiceV20141113.DescribeTaskDefinition", &json!({"taskDefinition": family}));
    v["taskDefinition"]["containerDefinitions"][0]["image"].as_str().unwrap_or_else(|| panic!("{v}")).to_owned()
}

fn registrations(region: &str) -> Vec<Value> {
    sim().mutations_in(region).into_iter().filter(|m| m["action"] == "RegisterTaskDefinition").collect()
}

fn expect_unpinnable(run: &Run, region: &str, before: usize, what: &str) {
    run.expect_code(1);
    assert!(run.stderr.contains("container app: cannot pin image"), "the error names the container:\n{}", run.stderr);
    assert!(run.stderr.contains(what), "the error says why ({what}):\n{}", run.stderr);
    assert_eq!(registrations(region).len(), before, "nothing registered");
}

#[test]
fn ecr_tags_are_registered_as_their_digest() {
    let (p, region, seed) = pinned_project("pinecr");
    let family = seed["ecs"]["taskDefinitionFamily"].as_str().unwrap();
    let uri = seed["ecr"]["repositoryUri"].as_str().unwrap();
    let (v1, v2) = (seed["ecr"]["images"]["v1"]["digest"].as_str().unwrap(), seed["ecr"]["images"]["v2"]["digest"].as_str().unwrap());
    set_image(&p, &format!("{uri}:v2"));

    // The dry run's RegisterTaskDefinition input (what gates and the audit see) names the digest.
    let run = p.run(&["deploy", "--dry-run"], &[]);
    run.expect_code(0);
    let out = format!("{}{}", run.stdout, run.stderr);
    assert!(out.contains(&format!("{uri}@{v2}")), "the plan names the digest:\n{out}");
    assert!(out.contains(&format!("container app: image {uri}:v2 pinned to {uri}@{v2}")), "{out}");
    assert!(registrations(&region).is_empty());

    p.run(&["deploy"], &[]).expect_code(0);
    assert_eq!(registered_image(&region, family), format!("{uri}@{v2}"));
    let sent = registrations(&region);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["body"]["containerDefinitions"][0]["image"], json!(format!("{uri}@{v2}")));
    assert!(sim().calls_in(&region).iter().any(|c| c == "ecr:BatchGetImage"), "resolved through BatchGetImage");

    // The same tag again: the registered revision already names that digest, nothing new.
    p.run(&["deploy"], &[]).expect_code(0);
    assert_eq!(registrations(&region).len(), 1, "unchanged digest, no new revision");

    // An image already pinned is left as written; back to v1 by digest.
    set_image(&p, &format!("{uri}@{v1}"));
    p.run(&["deploy"], &[]).expect_code(0);
    assert_eq!(registered_image(&region, family), format!("{uri}@{v1}"));

    // A tag ECR does not have: an error naming the container, nothing registered.
    set_image(&p, &format!("{uri}:nope"));
    let before = registrations(&region).len();
    expect_unpinnable(&p.run(&["deploy"], &[]), &region, before, "tag nope not found");
}

#[test]
fn loopback_registry_tags_are_registered_as_their_digest() {
    let reg = Registry::start();
    let (p, region, seed) = pinned_project("pinoci");
    let family = seed["ecs"]["taskDefinitionFamily"].as_str().unwrap();
    let first = reg.push_image("shop/web", "v1", "first");
    let image = format!("{}/shop/web", reg.host);
    set_image(&p, &format!("{image}:v1"));
    p.run(&["deploy"], &[]).expect_code(0);
    assert_eq!(registered_image(&region, family), format!("{image}@{}", first.digest));

    // The tag moves: the next deploy registers the new digest, never the tag.
    let second = reg.push_image("shop/web", "v1", "second");
    assert_ne!(first.digest, second.digest);
    p.run(&["deploy"], &[]).expect_code(0);
    assert_eq!(registered_image(&region, family), format!("{image}@{}", second.digest));

    // `register` and `run` pin too.
    let reg_run = p.run(&["register", "--output"], &[]);
    reg_run.expect_code(0);
    assert!(reg_run.stdout.contains(&format!("{image}@{}", second.digest)), "{}", reg_run.stdout);

    // A tag the registry does not have, and a registry nobody listens on.
    let before = registrations(&region).len();
    set_image(&p, &format!("{image}:missing"));
    expect_unpinnable(&p.run(&["deploy"], &[]), &region, before, "not found (HTTP 404)");
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    set_image(&p, &format!("127.0.0.1:{dead}/shop/web:v1"));
    expect_unpinnable(&p.run(&["deploy"], &[]), &region, before, &format!("registry 127.0.0.1:{dead}"));
}

#[test]
fn iam_policy_adds_the_ecr_read_for_pinned_repositories() {
    let (p, region, seed) = pinned_project("pinpol");
    let run = p.run(&["iam-policy"], &[]);
    run.expect_code(0);
    let policy: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    let pin = policy["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "CortadoPinImages").cloned();
    let repo = seed["ecr"]["repositoryArn"].as_str().unwrap();
    let _ = &region;
    assert_eq!(pin, Some(json!({"Sid": "CortadoPinImages", "Effect": "Allow", "Action": ["ecr:BatchGetImage"], "Resource": [repo]})), "{}", run.stdout);

    // Without pin_image_digests: no such statement.
    p.write("cortado.yml", &p.read("cortado.yml").replace("pin_image_digests: true\n", ""));
    let run = p.run(&["iam-policy"], &[]);
    run.expect_code(0);
    assert!(!run.stdout.contains("CortadoPinImages"), "{}", run.stdout);
}
