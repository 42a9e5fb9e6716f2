//! Supply chain (issue 26): `pin_image_digests: true` resolves every image given by tag to its
//! manifest digest at plan time — ECR through the simulator's BatchGetImage, any other registry
//! through the OCI distribution API of a real registry on loopback (Debian's docker-registry) — and
//! the RegisterTaskDefinition request names `REPO@sha256:…`; a tag that cannot be resolved is an
//! error naming the container, with nothing registered.

use cortado_e2e::registry::{Registry, SigningKey};
use cortado_e2e::seeded::aws_json;
use cortado_e2e::{Project, Run, sim, unique_region};
use serde_json::{Value, json};

/// A project initialised from the seeded ECS service, with `pin_image_digests: true` and a 60 s timeout.
pub(crate) fn pinned_project(tag: &str) -> (Project, String, Value) {
    let sim = sim();
    let region = unique_region(tag);
    let seed = sim.seed(&region, &region);
    let p = Project::against(sim, &region);
    p.run(&["init", "--cluster", seed["ecs"]["clusterName"].as_str().unwrap(), "--service", seed["ecs"]["serviceName"].as_str().unwrap()], &[]).expect_code(0);
    let config = p.read("cortado.yml").replace("timeout: 10m0s", "timeout: 60s");
    p.write("cortado.yml", &format!("{config}pin_image_digests: true\n"));
    (p, region, seed)
}

pub(crate) fn set_image(p: &Project, image: &str) {
    let mut v: Value = serde_json::from_str(&p.read("ecs-task-def.json")).unwrap();
    v["containerDefinitions"][0]["image"] = json!(image);
    p.write("ecs-task-def.json", &serde_json::to_string_pretty(&v).unwrap());
}

/// The image of the first container of the family's newest revision, read from the simulator.
pub(crate) fn registered_image(region: &str, family: &str) -> String {
    let v = aws_json(sim(), region, "ecs", "AmazonEC2ContainerServiceV20141113.DescribeTaskDefinition", &json!({"taskDefinition": family}));
    v["taskDefinition"]["containerDefinitions"][0]["image"].as_str().unwrap_or_else(|| panic!("{v}")).to_owned()
}

pub(crate) fn registrations(region: &str) -> Vec<Value> {
    sim().mutations_in(region).into_iter().filter(|m| m["action"] == "RegisterTaskDefinition").collect()
}

pub(crate) fn expect_unpinnable(run: &Run, region: &str, before: usize, what: &str) {
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

/// A pinned project whose deploys are gated by `image-signature` (hard-mandatory) trusting the
/// keys in `keys/` (files, read through a preopen), for the loopback registry's `shop/` images.
pub(crate) fn signed_project(tag: &str, reg: &Registry, keys: &[&SigningKey]) -> (Project, String, Value) {
    let (p, region, seed) = pinned_project(tag);
    let mut files = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        p.write(&format!("keys/k{i}.pub"), &k.public_pem());
        files.push(format!("keys/k{i}.pub"));
    }
    let config = p.read("cortado.yml");
    p.write(
        "cortado.yml",
        &format!(
            "{config}plugins:\n  - name: image-signature\n    enforcement: hard-mandatory\n    preopens: [keys]\n    grants:\n      - {{action: \"registry:Read\", resource: \"{}/shop/*\"}}\n    config:\n      keys: [{}]\n      images: [\"127.0.0.1:*/shop/**\"]\n",
            reg.host,
            files.join(", ")
        ),
    );
    (p, region, seed)
}

pub(crate) fn expect_denied(p: &Project, region: &str, image: &str, why: &str) {
    set_image(p, image);
    let before = registrations(region).len();
    let run = p.run(&["deploy"], &[]);
    run.expect_code(1);
    assert!(run.stderr.contains("blocked by gate image-signature"), "{image}: denied by the gate:\n{}", run.stderr);
    assert!(run.stderr.contains(why), "{image}: the reason ({why}):\n{}", run.stderr);
    assert_eq!(registrations(region).len(), before, "{image}: nothing registered");
}

#[test]
fn signed_images_deploy_by_digest_and_every_other_case_is_denied() {
    let reg = Registry::start();
    let (release, other, ed) = (SigningKey::p256(7), SigningKey::p256(9), SigningKey::ed25519(3));
    let (p, region, seed) = signed_project("sigs", &reg, &[&release, &ed]);
    let family = seed["ecs"]["taskDefinitionFamily"].as_str().unwrap();
    let host = reg.host.clone();

    // Signed by the release key (P-256): deployed, and the registered definition names the digest.
    let web = reg.push_image("shop/web", "v1", "web");
    reg.sign("shop/web", &web.digest, &release);
    set_image(&p, &format!("{host}/shop/web:v1"));
    let run = p.run(&["deploy"], &[]);
    run.expect_code(0);
    assert_eq!(registered_image(&region, family), format!("{host}/shop/web@{}", web.digest));

    // Signed with Ed25519 by a listed key: allowed too.
    let edimg = reg.push_image("shop/ed", "v1", "ed");
    reg.sign("shop/ed", &edimg.digest, &ed);
    set_image(&p, &format!("{host}/shop/ed:v1"));
    p.run(&["deploy"], &[]).expect_code(0);
    assert_eq!(registered_image(&region, family), format!("{host}/shop/ed@{}", edimg.digest));

    // Unsigned.
    reg.push_image("shop/unsigned", "v1", "unsigned");
    expect_denied(&p, &region, &format!("{host}/shop/unsigned:v1"), "has no signature");

    // Signed, but by a key the config does not list.
    let wrong = reg.push_image("shop/wrongkey", "v1", "wrongkey");
    reg.sign("shop/wrongkey", &wrong.digest, &other);
    expect_denied(&p, &region, &format!("{host}/shop/wrongkey:v1"), "signed by no listed key");

    // Signed by the release key, but the payload names another image's digest.
    let mism = reg.push_image("shop/mismatch", "v1", "mismatch");
    let payload = cortado_e2e::registry::simple_signing_payload(&format!("{host}/shop/mismatch"), &web.digest);
    reg.push_signature("shop/mismatch", &mism.digest, &payload, &release.sign(&payload));
    expect_denied(&p, &region, &format!("{host}/shop/mismatch:v1"), &format!("signature is for another digest ({})", web.digest));

    // Signed, then the payload altered (same signature, other bytes).
    let tamp = reg.push_image("shop/tampered", "v1", "tampered");
    let payload = cortado_e2e::registry::simple_signing_payload(&format!("{host}/shop/tampered"), &tamp.digest);
    let signature = release.sign(&payload);
    let altered = String::from_utf8(payload).unwrap().replace("\"optional\":null", "\"optional\":{\"by\":\"mallory\"}");
    reg.push_signature("shop/tampered", &tamp.digest, altered.as_bytes(), &signature);
    expect_denied(&p, &region, &format!("{host}/shop/tampered:v1"), "the payload was altered after signing");

    // The tag moved after signing: the digest pinned now is not the one signed.
    let moved = reg.push_image("shop/moved", "v1", "moved-signed");
    reg.sign("shop/moved", &moved.digest, &release);
    let now = reg.push_image("shop/moved", "v1", "moved-later");
    expect_denied(&p, &region, &format!("{host}/shop/moved:v1"), &format!("{host}/shop/moved@{} has no signature", now.digest));

    // Images outside `images` pass unsigned (the seed's ECR image).
    set_image(&p, seed["ecr"]["images"]["v1"]["uri"].as_str().unwrap());
    p.run(&["deploy"], &[]).expect_code(0);
}

#[test]
fn the_registry_broker_reads_only_granted_repositories() {
    let reg = Registry::start();
    let release = SigningKey::p256(7);
    let (p, region, _) = signed_project("sigdeny", &reg, &[&release]);
    // `elsewhere/` matches `images` (127.0.0.1:*/**) is not granted: the read is denied, so is the deploy.
    p.write("cortado.yml", &p.read("cortado.yml").replace("images: [\"127.0.0.1:*/shop/**\"]", "images: [\"127.0.0.1:*/**\"]"));
    let img = reg.push_image("elsewhere/app", "v1", "elsewhere");
    reg.sign("elsewhere/app", &img.digest, &release);
    expect_denied(&p, &region, &format!("{}/elsewhere/app:v1", reg.host), "has no grant for registry:Read");
}

// ---- Plugins from an OCI registry, signed (issue 26 §3) ----

/// `cortado plugin push` output: `(manifest digest, layer digest)`.
pub(crate) fn pushed_digests(run: &Run) -> (String, String) {
    let field = |k: &str| {
        run.stdout.lines().find_map(|l| l.trim().strip_prefix(k)).map(|v| v.trim().to_owned()).unwrap_or_else(|| panic!("no {k} in:\n{}", run.stdout))
    };
    (field("manifest:"), field("layer:"))
}

/// A seeded project whose task definition calls the `echo` fixture plugin (`ECHO` = `a b!`), with
/// the plugin configured by `plugin_yaml` (indented under `plugins:`), and the keys written.
pub(crate) fn oci_plugin_project(tag: &str, keys: &[(&str, &SigningKey)]) -> (Project, String, Value) {
    let (p, region, seed) = pinned_project(tag);
    for (name, k) in keys {
        p.write(&format!("keys/{name}.pub"), &k.public_pem());
        p.write(&format!("keys/{name}.key"), &k.private_pem());
    }
    let mut v: Value = serde_json::from_str(&p.read("ecs-task-def.json")).unwrap();
    v["containerDefinitions"][0]["environment"] = json!([{"name": "ECHO", "value": "{{ echo `a` `b` | printf `%s!` }}"}]);
    p.write("ecs-task-def.json", &serde_json::to_string_pretty(&v).unwrap());
    (p, region, seed)
}

pub(crate) fn with_plugin(p: &Project, plugin_yaml: &str) {
    let base = p.read("cortado.yml");
    let base = base.split("plugins:\n").next().unwrap_or(&base).to_owned();
    p.write("cortado.yml", &format!("{base}plugins:\n{plugin_yaml}"));
}

/// A deploy refused at load: exit 2, the plugin and key named, and not one AWS call made.
fn expect_plugin_refused(p: &Project, region: &str, plugin_yaml: &str, why: &str) {
    with_plugin(p, plugin_yaml);
    let (calls, mutations) = (sim().calls_in(region).len(), sim().mutations_in(region).len());
    let run = p.run(&["deploy"], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("plugin \"echo\" (oci: "), "names the plugin and its `oci` key:\n{}", run.stderr);
    assert!(run.stderr.contains(why), "the reason ({why}):\n{}", run.stderr);
    assert!(run.stderr.contains("refusing to run it"), "{}", run.stderr);
    assert_eq!(sim().calls_in(region).len(), calls, "no AWS call before the refusal: {:?}", sim().calls_in(region));
    assert_eq!(sim().mutations_in(region).len(), mutations, "nothing changed");
}

pub(crate) fn registered_env(region: &str, family: &str) -> Value {
    let v = aws_json(sim(), region, "ecs", "AmazonEC2ContainerServiceV20141113.DescribeTaskDefinition", &json!({"taskDefinition": family}));
    v["taskDefinition"]["containerDefinitions"][0]["environment"].clone()
}

#[test]
fn plugins_from_a_registry_load_signed_and_are_refused_otherwise() {
    let reg = Registry::start();
    let (release, other) = (SigningKey::p256(21), SigningKey::ed25519(22));
    let (p, region, seed) = oci_plugin_project("ociplug", &[("release", &release), ("other", &other)]);
    let family = seed["ecs"]["taskDefinitionFamily"].as_str().unwrap();
    let (wasm, layer_hex) = cortado_e2e::fixture_plugin("echo");
    let wasm = wasm.display().to_string();
    let host = reg.host.clone();

    // Published and signed by `cortado plugin push`: the layer is the component's sha256.
    let push = p.run(&["plugin", "push", &wasm, &format!("{host}/platform/echo:1.0"), "--sign-key", "keys/release.key"], &[]);
    push.expect_code(0);
    let (manifest, layer) = pushed_digests(&push);
    assert_eq!(layer, format!("sha256:{layer_hex}"));
    assert!(push.stdout.contains(&format!("key {}", release.key_id())), "{}", push.stdout);

    // Refused, each before any AWS call, exit 2: unsigned, signed by a key not listed, the
    // artifact replaced under its signature, a pin that differs, and a missing artifact.
    p.run(&["plugin", "push", &wasm, &format!("{host}/platform/unsigned:1.0")], &[]).expect_code(0);
    let verify = "    verify: {keys: [keys/release.pub]}\n";
    expect_plugin_refused(&p, &region, &format!("  - name: echo\n    oci: {host}/platform/unsigned:1.0\n{verify}"), "no signature");
    p.run(&["plugin", "push", &wasm, &format!("{host}/platform/wrongkey:1.0"), "--sign-key", "keys/other.key"], &[]).expect_code(0);
    expect_plugin_refused(&p, &region, &format!("  - name: echo\n    oci: {host}/platform/wrongkey:1.0\n{verify}"), "signed by no listed key");
    let signed = p.run(&["plugin", "push", &wasm, &format!("{host}/platform/swapped:1.0"), "--sign-key", "keys/release.key"], &[]);
    let (signed_manifest, _) = pushed_digests(&signed);
    let (panic_wasm, _) = cortado_e2e::fixture_plugin("panic");
    let swapped = p.run(&["plugin", "push", &panic_wasm.display().to_string(), &format!("{host}/platform/swapped:1.0")], &[]);
    let (swapped_manifest, _) = pushed_digests(&swapped);
    // The old signature copied to the new manifest's `.sig` tag: it vouches for the old digest.
    let mut resp = ureq::get(&format!("http://{host}/v2/platform/swapped/manifests/{}.sig", signed_manifest.replace(':', "-")))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .call()
        .expect("read the signature manifest");
    let sig: Value = resp.body_mut().read_json().expect("signature manifest JSON");
    reg.push_manifest("platform/swapped", &format!("{}.sig", swapped_manifest.replace(':', "-")), "application/vnd.oci.image.manifest.v1+json", &sig);
    expect_plugin_refused(
        &p,
        &region,
        &format!("  - name: echo\n    oci: {host}/platform/swapped:1.0\n{verify}"),
        &format!("signature is for another digest ({signed_manifest})"),
    );
    let wrong_pin = "0".repeat(64);
    expect_plugin_refused(
        &p,
        &region,
        &format!("  - name: echo\n    oci: {host}/platform/echo:1.0\n    sha256: {wrong_pin}\n"),
        &format!("the wasm layer of {host}/platform/echo:1.0 is {layer} but the config pins sha256:{wrong_pin}"),
    );
    expect_plugin_refused(&p, &region, &format!("  - name: echo\n    oci: {host}/platform/nothing:1.0\n{verify}"), "not found (HTTP 404)");

    // Neither a pin nor keys: a config error naming the key.
    with_plugin(&p, &format!("  - name: echo\n    oci: {host}/platform/echo:1.0\n"));
    let run = p.run(&["render", "taskdef"], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("key \"plugins[0].sha256\"") && run.stderr.contains("must pin its wasm layer"), "{}", run.stderr);

    // Signed by a listed key: loaded, its function renders, the deploy registers what it made.
    with_plugin(&p, &format!("  - name: echo\n    oci: {host}/platform/echo:1.0\n    verify: {{keys: [keys/other.pub, keys/release.pub]}}\n"));
    let run = p.run(&["deploy"], &[]);
    run.expect_code(0);
    assert_eq!(registered_env(&region, family), json!([{"name": "ECHO", "value": "a b!"}]));

    // `plugin pull` prints the digests to pin; pinned by manifest and layer, it loads offline.
    let pull = p.run(&["plugin", "pull", &format!("{host}/platform/echo:1.0"), "--key", "keys/release.pub"], &[]);
    pull.expect_code(0);
    assert!(pull.stdout.contains(&format!("oci: {host}/platform/echo@{manifest}")) && pull.stdout.contains(&format!("sha256: {layer_hex}")), "{}", pull.stdout);
    assert!(pull.stdout.contains(&format!("signed by key {} (cosign-classic)", release.key_id())), "{}", pull.stdout);
    with_plugin(&p, &format!("  - name: echo\n    oci: {host}/platform/echo@{manifest}\n    sha256: {layer_hex}\n    verify: {{keys: [keys/release.pub]}}\n"));
    drop(reg);
    let run = p.run(&["render", "taskdef"], &[]);
    run.expect_code(0);
    assert!(run.stdout.contains("a b!"), "rendered offline from the cache:\n{}", run.stdout);
    // The cache is re-verified at each load: another key does not accept it, and the registry is gone.
    with_plugin(&p, &format!("  - name: echo\n    oci: {host}/platform/echo@{manifest}\n    sha256: {layer_hex}\n    verify: {{keys: [keys/other.pub]}}\n"));
    let run = p.run(&["render", "taskdef"], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("plugin \"echo\" (oci: ") && run.stderr.contains("refusing to run it"), "{}", run.stderr);
}

/// The last decision record of the project's audit log.
fn last_decision(p: &Project) -> Value {
    p.read("cortado-audit.jsonl").lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).rfind(|r| r["kind"] == "decision").expect("a decision record")
}

fn gate_verified(decision: &Value) -> Value {
    let gates = decision["gates"].as_array().cloned().unwrap_or_default();
    gates.into_iter().find(|g| g["plugin"] == "image-signature").map(|g| g["verified"].clone()).unwrap_or(Value::Null)
}

#[test]
fn cosign_v3_bundles_are_verified_and_the_audit_and_evidence_name_key_and_format() {
    let reg = Registry::start();
    let (release, ed, other) = (SigningKey::p256(7), SigningKey::ed25519(3), SigningKey::p256(9));
    let (p, region, seed) = signed_project("sigbundle", &reg, &[&release, &ed]);
    let family = seed["ecs"]["taskDefinitionFamily"].as_str().unwrap();
    p.write("keys/plugins.pub", &ed.public_pem());
    p.write("cortado.yml", &format!("{}signing:\n  key_file: signing.key\n", p.read("cortado.yml")));
    let public = p.run(&["evidence", "keygen", "signing.key"], &[]).expect_code(0).stdout.trim().to_owned();
    let host = reg.host.clone();

    // A classic signature: the decision names the image, digest, key id and format.
    let web = reg.push_image("shop/web", "v1", "web");
    reg.sign("shop/web", &web.digest, &release);
    set_image(&p, &format!("{host}/shop/web:v1"));
    p.run(&["deploy"], &[]).expect_code(0);
    let classic =
        json!([{"image": format!("{host}/shop/web"), "digest": web.digest, "key_id": release.key_id(), "key_type": "ecdsa-p256", "format": "cosign-classic"}]);
    assert_eq!(gate_verified(&last_decision(&p)), classic);
    let evidence = std::fs::read_dir(p.path("cortado-evidence")).unwrap().next().unwrap().unwrap().path();
    let ok = p.run(&["evidence", "verify", evidence.to_str().unwrap(), "--public-key", &public, "--output", "json"], &[]);
    ok.expect_code(0);
    let v: Value = serde_json::from_str(ok.stdout.trim()).unwrap();
    let signed_gates = v["predicate"]["gates"].as_array().cloned().unwrap_or_default();
    assert!(signed_gates.iter().any(|g| g["verified"] == classic), "the signed evidence carries it: {v}");

    // A cosign v3 bundle (Ed25519) found through the referrers tag fallback: allowed, recorded as such.
    let bundled = reg.push_image("shop/bundled", "v1", "bundled");
    let name = format!("{host}/shop/bundled");
    reg.attach_bundle("shop/bundled", &bundled.digest, bundled.bytes.len(), &cortado_e2e::registry::cosign_bundle(&name, &bundled.digest, &ed));
    set_image(&p, &format!("{name}:v1"));
    let run = p.run(&["deploy"], &[]);
    run.expect_code(0);
    assert_eq!(registered_image(&region, family), format!("{name}@{}", bundled.digest));
    assert_eq!(
        gate_verified(&last_decision(&p)),
        json!([{"image": name, "digest": bundled.digest, "key_id": ed.key_id(), "key_type": "ed25519", "format": "cosign-bundle"}])
    );

    // Bundles by a key not listed, for another digest, and altered after signing: denied.
    let wrong = reg.push_image("shop/bwrong", "v1", "bwrong");
    reg.attach_bundle(
        "shop/bwrong",
        &wrong.digest,
        wrong.bytes.len(),
        &cortado_e2e::registry::cosign_bundle(&format!("{host}/shop/bwrong"), &wrong.digest, &other),
    );
    expect_denied(&p, &region, &format!("{host}/shop/bwrong:v1"), "signed by no listed key");
    let mism = reg.push_image("shop/bmismatch", "v1", "bmismatch");
    reg.attach_bundle("shop/bmismatch", &mism.digest, mism.bytes.len(), &cortado_e2e::registry::cosign_bundle(&name, &web.digest, &release));
    expect_denied(&p, &region, &format!("{host}/shop/bmismatch:v1"), &format!("signature is for another digest ({})", web.digest));
    let tamp = reg.push_image("shop/btampered", "v1", "btampered");
    let good = cortado_e2e::registry::cosign_bundle(&format!("{host}/shop/btampered"), &tamp.digest, &release);
    let mut doc: Value = serde_json::from_slice(&good).unwrap();
    let other_statement = cortado_e2e::registry::cosign_bundle(&format!("{host}/shop/evil"), &tamp.digest, &release);
    let other_doc: Value = serde_json::from_slice(&other_statement).unwrap();
    doc["dsseEnvelope"]["payload"] = other_doc["dsseEnvelope"]["payload"].clone();
    reg.attach_bundle("shop/btampered", &tamp.digest, tamp.bytes.len(), &serde_json::to_vec(&doc).unwrap());
    expect_denied(&p, &region, &format!("{host}/shop/btampered:v1"), "signed by no listed key");

    // A plugin from the registry signed with a bundle: loaded, and the decision names where it
    // came from and which key signed it.
    let (wasm, layer_hex) = cortado_e2e::fixture_plugin("echo");
    let push = p.run(&["plugin", "push", &wasm.display().to_string(), &format!("{host}/platform/echo:2.0")], &[]);
    push.expect_code(0);
    let (manifest, _) = pushed_digests(&push);
    let manifest_bytes = {
        let mut resp = ureq::get(&format!("http://{host}/v2/platform/echo/manifests/{manifest}"))
            .header("accept", "application/vnd.oci.image.manifest.v1+json")
            .call()
            .expect("read the plugin manifest");
        resp.body_mut().read_to_vec().expect("manifest bytes")
    };
    let bundle = cortado_e2e::registry::cosign_bundle(&format!("{host}/platform/echo"), &manifest, &ed);
    reg.attach_bundle("platform/echo", &manifest, manifest_bytes.len(), &bundle);
    p.write(
        "cortado.yml",
        &p.read("cortado.yml")
            .replace("plugins:\n", &format!("plugins:\n  - name: echo\n    oci: {host}/platform/echo:2.0\n    verify: {{keys: [keys/plugins.pub]}}\n")),
    );
    set_image(&p, &format!("{host}/shop/web:v1"));
    p.run(&["deploy", "--dry-run"], &[]).expect_code(0);
    let plugins = last_decision(&p)["plugins"].clone();
    assert_eq!(
        plugins,
        json!([{"name": "echo", "oci": format!("{host}/platform/echo:2.0"), "manifest_digest": manifest, "layer_digest": format!("sha256:{layer_hex}"), "key_id": ed.key_id(), "format": "cosign-bundle"}])
    );
}

// ---- The OCI 1.1 referrers API (a front on the loopback registry adds it) ----

/// `GET /v2/REPO/referrers/DIGEST` is among the front's calls.
fn asked_referrers(reg: &Registry, repo: &str, digest: &str) -> bool {
    let want = format!("GET /v2/{repo}/referrers/{digest}");
    reg.calls().iter().any(|c| c == &want || c.starts_with(&format!("{want}?")))
}

#[test]
fn a_bundle_found_only_through_the_referrers_api_verifies() {
    let reg = Registry::start_with_referrers();
    let (release, other) = (SigningKey::p256(7), SigningKey::p256(9));
    let (p, region, seed) = signed_project("sigrefapi", &reg, &[&release]);
    let family = seed["ecs"]["taskDefinitionFamily"].as_str().unwrap();
    let host = reg.host.clone();

    // A cosign v3 bundle attached as a referrer: the registry behind the front has no
    // `sha256-<hex>` tag, so the referrers API is the only way to it.
    let img = reg.push_image("shop/api", "v1", "api");
    let name = format!("{host}/shop/api");
    let referrer = reg.attach_bundle("shop/api", &img.digest, img.bytes.len(), &cortado_e2e::registry::cosign_bundle(&name, &img.digest, &release));
    assert!(!reg.backend_has("shop/api", &img.digest.replace(':', "-")), "no tag fallback was written");
    set_image(&p, &format!("{name}:v1"));
    p.run(&["deploy"], &[]).expect_code(0);
    assert_eq!(registered_image(&region, family), format!("{name}@{}", img.digest));
    assert_eq!(
        gate_verified(&last_decision(&p)),
        json!([{"image": name, "digest": img.digest, "key_id": release.key_id(), "key_type": "ecdsa-p256", "format": "cosign-bundle"}])
    );
    assert!(asked_referrers(&reg, "shop/api", &img.digest), "the gate asked the referrers API: {:#?}", reg.calls());
    assert!(reg.calls().contains(&format!("GET /v2/shop/api/manifests/{}", referrer.digest)), "then read the referrer: {:#?}", reg.calls());

    // The front's index as a client sees it: the referrer, its artifactType, and the optional filter.
    let index = |query: &str| {
        let url = format!("http://{host}/v2/shop/api/referrers/{}{query}", img.digest);
        let mut resp = ureq::get(&url).call().expect("the referrers API");
        let filtered = resp.headers().get("oci-filters-applied").and_then(|v| v.to_str().ok()).map(str::to_owned);
        (resp.body_mut().read_json::<Value>().expect("an OCI image index"), filtered)
    };
    let (all, filtered) = index("");
    assert_eq!(all["manifests"].as_array().map(Vec::len), Some(1), "{all}");
    assert_eq!(all["manifests"][0]["digest"], json!(referrer.digest));
    assert_eq!(all["manifests"][0]["artifactType"], json!("application/vnd.dev.sigstore.bundle.v0.3+json"));
    assert_eq!(filtered, None);
    let (bundles, filtered) = index("?artifactType=application/vnd.dev.sigstore.bundle.v0.3%2Bjson");
    assert_eq!((bundles["manifests"].as_array().map(Vec::len), filtered.as_deref()), (Some(1), Some("artifactType")), "{bundles}");
    let (none, _) = index("?artifactType=application/example");
    assert_eq!(none["manifests"], json!([]), "{none}");

    // Through the referrers API too: a bundle by a key not listed, and an image with no referrer.
    let wrong = reg.push_image("shop/apiwrong", "v1", "apiwrong");
    let wname = format!("{host}/shop/apiwrong");
    reg.attach_bundle("shop/apiwrong", &wrong.digest, wrong.bytes.len(), &cortado_e2e::registry::cosign_bundle(&wname, &wrong.digest, &other));
    expect_denied(&p, &region, &format!("{wname}:v1"), "signed by no listed key");
    let bare = reg.push_image("shop/apibare", "v1", "apibare");
    expect_denied(&p, &region, &format!("{host}/shop/apibare:v1"), "has no signature");
    assert!(asked_referrers(&reg, "shop/apibare", &bare.digest), "{:#?}", reg.calls());
}

#[test]
fn plugin_push_signs_with_a_bundle_through_the_referrers_api_or_its_tag_fallback() {
    let (release, other) = (SigningKey::ed25519(31), SigningKey::p256(32));
    let (p, region, seed) = oci_plugin_project("ocibundle", &[("release", &release), ("other", &other)]);
    let family = seed["ecs"]["taskDefinitionFamily"].as_str().unwrap();
    let (wasm, layer_hex) = cortado_e2e::fixture_plugin("echo");
    let wasm = wasm.display().to_string();

    // `--format bundle` needs a key to sign with.
    let run = p.run(&["plugin", "push", &wasm, "127.0.0.1:1/platform/echo:1", "--format", "bundle"], &[]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert!(run.stderr.contains("--format bundle: give --sign-key"), "{}", run.stderr);

    for with_api in [true, false] {
        let reg = if with_api { Registry::start_with_referrers() } else { Registry::start() };
        let host = reg.host.clone();
        let reference = format!("{host}/platform/echo:3.0");
        let push = p.run(&["plugin", "push", &wasm, &reference, "--sign-key", "keys/release.key", "--format", "bundle"], &[]);
        push.expect_code(0);
        let (manifest, layer) = pushed_digests(&push);
        assert_eq!(layer, format!("sha256:{layer_hex}"));
        let tag = manifest.replace(':', "-");
        let signed = format!("(cosign-bundle, key {}), found through", release.key_id());
        if with_api {
            // Acknowledged by the registry (`OCI-Subject`): no tag fallback written.
            assert!(push.stdout.contains(&format!("{signed} the referrers API")), "{}", push.stdout);
            assert!(!reg.backend_has("platform/echo", &tag), "no tag fallback with a referrers API");
        } else {
            // docker-registry 2.8 alone: the referrers tag holds an index listing the bundle.
            assert!(push.stdout.contains(&format!("{signed} the referrers tag {host}/platform/echo:{tag}")), "{}", push.stdout);
            assert!(reg.backend_has("platform/echo", &tag), "the tag fallback was written");
        }
        assert!(!reg.backend_has("platform/echo", &format!("{tag}.sig")), "a bundle, not a classic signature");

        // `plugin pull --key` verifies what push wrote; another key does not.
        let pull = p.run(&["plugin", "pull", &reference, "--key", "keys/release.pub"], &[]);
        pull.expect_code(0);
        assert!(pull.stdout.contains(&format!("signed by key {} (cosign-bundle)", release.key_id())), "{}", pull.stdout);
        let refused = p.run(&["plugin", "pull", &reference, "--key", "keys/other.pub"], &[]);
        assert_ne!(refused.code, 0, "{}", refused.stdout);
        assert!(refused.stderr.contains("signed by no listed key"), "{}", refused.stderr);

        // A config `verify` loads it; the deploy registers what its function made.
        with_plugin(&p, &format!("  - name: echo\n    oci: {reference}\n    verify: {{keys: [keys/release.pub]}}\n"));
        p.run(&["deploy"], &[]).expect_code(0);
        assert_eq!(registered_env(&region, family), json!([{"name": "ECHO", "value": "a b!"}]));
        if with_api {
            assert!(asked_referrers(&reg, "platform/echo", &manifest), "found through the referrers API: {:#?}", reg.calls());
        }
        expect_plugin_refused(
            &p,
            &region,
            &format!("  - name: echo\n    oci: {reference}\n    verify: {{keys: [keys/other.pub]}}\n"),
            "signed by no listed key",
        );
    }
}
