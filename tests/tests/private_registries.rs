//! Supply chain against private registries (issue 26): the credentials `docker login` saved
//! (`~/.docker/config.json` `auths`, `credHelpers`, `credsStore`) are used for digest pinning,
//! the image-signature gate's brokered reads and `plugin push`/`pull`, and go to the registry they
//! were saved for only. Two real kinds of private registry on loopback: docker-registry with its
//! own `htpasswd` (HTTP Basic), and docker-registry behind a front speaking the distribution token
//! protocol (Bearer tokens for a password or an identity token).

use base64::Engine as _;
use cortado_e2e::registry::{Registry, SigningKey};
use cortado_e2e::{Project, Run, fixture_plugin};
use serde_json::{Value, json};

use crate::supply::{
    expect_denied, expect_unpinnable, oci_plugin_project, pinned_project, registered_env, registered_image, registrations, set_image, signed_project,
    with_plugin,
};

const USER: &str = "ci-deployer";
const PASSWORD: &str = "s3cret-Pa55";
const REFRESH: &str = "identity-token-4f1c";

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Writes the project user's `~/.docker/config.json` (HOME is the project directory).
fn docker_config(p: &Project, config: Value) {
    p.write(".docker/config.json", &serde_json::to_string_pretty(&config).unwrap());
}

/// No run prints a secret, and none is written anywhere in the project but the docker config.
fn assert_no_secret(p: &Project, runs: &[&Run]) {
    let secrets = [PASSWORD.to_owned(), b64(&format!("{USER}:{PASSWORD}")), REFRESH.to_owned()];
    for run in runs {
        for s in &secrets {
            assert!(!run.stdout.contains(s) && !run.stderr.contains(s), "a secret was printed:\n{}\n{}", run.stdout, run.stderr);
        }
    }
    let mut stack = vec![p.path("")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.ends_with(".docker") || path.ends_with(".cache") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                for s in &secrets {
                    assert!(!text.contains(s), "a secret was written to {}", path.display());
                }
            }
        }
    }
}

#[test]
fn a_private_registry_is_read_with_the_credentials_docker_login_saved() {
    let reg = Registry::start_private(USER, PASSWORD);
    let (p, region, seed) = pinned_project("privbasic");
    let family = seed["ecs"]["taskDefinitionFamily"].as_str().unwrap();
    let web = reg.push_image("shop/web", "v1", "private");
    let image = format!("{}/shop/web", reg.host);
    set_image(&p, &format!("{image}:v1"));
    let before = registrations(&region).len();

    // No credentials: refused, saying where cortado looked; nothing registered.
    let run = p.run(&["deploy"], &[]);
    expect_unpinnable(&run, &region, before, &format!("no credentials for {} in ", reg.host));
    assert!(run.stderr.contains(".docker/config.json"), "{}", run.stderr);

    // A config.json that is not JSON: the file and the line.
    p.write(".docker/config.json", "{\n  \"auths\": {\n    \"x\": \n}\n");
    expect_unpinnable(&p.run(&["deploy"], &[]), &region, before, ".docker/config.json: line 4");

    // The wrong password: refused, naming the entry it came from.
    docker_config(&p, json!({"auths": {reg.host.clone(): {"auth": b64(&format!("{USER}:wrong"))}}}));
    let run = p.run(&["deploy"], &[]);
    expect_unpinnable(&run, &region, before, "access refused (HTTP 401) with the credentials from");
    assert!(run.stderr.contains(&format!("auths.\"{}\"", reg.host)), "{}", run.stderr);

    // As `docker login` saves them (the key may carry a scheme): pinned and deployed.
    docker_config(&p, json!({"auths": {format!("https://{}", reg.host): {"auth": b64(&format!("{USER}:{PASSWORD}"))}}}));
    let run = p.run(&["--debug", "deploy"], &[]);
    run.expect_code(0);
    assert_eq!(registered_image(&region, family), format!("{image}@{}", web.digest));
    assert!(run.stderr.contains(&format!("registry {}: credentials from", reg.host)), "the debug log names the source:\n{}", run.stderr);
    assert_no_secret(&p, &[&run]);
}

/// A `docker-credential-NAME` on a PATH directory of the project: it logs each call
/// (`ARG SERVER`) and answers for `host` only, as Docker's helpers do for what they hold.
fn credential_helper(p: &Project, name: &str, host: &str) -> (String, std::path::PathBuf) {
    let log = p.path(&format!("{name}.log"));
    let script = format!(
        "#!/bin/sh\nserver=$(cat)\necho \"$1 $server\" >> '{}'\nif [ \"$server\" = '{host}' ]; then\n  printf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}' \"$server\"\nelse\n  echo 'credentials not found in native keychain'\n  exit 1\nfi\n",
        log.display()
    );
    p.write(&format!("bin/docker-credential-{name}"), &script);
    let path = p.path(&format!("bin/docker-credential-{name}"));
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    (format!("{}:{}", p.path("bin").display(), std::env::var("PATH").unwrap_or_default()), log)
}

#[test]
fn credential_helpers_answer_for_their_registry_and_nothing_reaches_another() {
    let reg = Registry::start_private(USER, PASSWORD);
    let open = Registry::start_with_referrers();
    let (p, region, seed) = pinned_project("privhelper");
    let family = seed["ecs"]["taskDefinitionFamily"].as_str().unwrap();
    let web = reg.push_image("shop/web", "v1", "helper");
    let (path, log) = credential_helper(&p, "cortadotest", &reg.host);
    let env = [("PATH", path.as_str())];

    // `credHelpers` wins over a stale `auths` entry for the same registry, as in Docker.
    docker_config(&p, json!({"credHelpers": {reg.host.clone(): "cortadotest"}, "auths": {reg.host.clone(): {"auth": b64("old:password")}}}));
    set_image(&p, &format!("{}/shop/web:v1", reg.host));
    let run = p.run(&["deploy"], &env);
    run.expect_code(0);
    assert_eq!(registered_image(&region, family), format!("{}/shop/web@{}", reg.host, web.digest));
    let calls = std::fs::read_to_string(&log).unwrap();
    assert_eq!(calls.lines().collect::<Vec<_>>(), vec![format!("get {}", reg.host)], "asked once, for its registry only");

    // `credsStore` for every registry: the open one is read anonymously, and not one request to
    // it carries credentials.
    docker_config(&p, json!({"credsStore": "cortadotest"}));
    let other = open.push_image("shop/web", "v1", "open");
    set_image(&p, &format!("{}/shop/web:v1", open.host));
    let run = p.run(&["deploy"], &env);
    run.expect_code(0);
    assert_eq!(registered_image(&region, family), format!("{}/shop/web@{}", open.host, other.digest));
    // The open registry never asked for credentials, so the store was not even asked.
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 1, "credentials are looked up only when a registry asks");
    let seen = open.authorizations();
    assert!(!seen.is_empty() && seen.iter().all(|a| a.ends_with(" none")), "no credentials reached the other registry: {seen:?}");

    // A helper that is not on the PATH: an error naming it, nothing registered.
    docker_config(&p, json!({"credHelpers": {reg.host.clone(): "missing"}}));
    set_image(&p, &format!("{}/shop/web:v1", reg.host));
    let before = registrations(&region).len();
    expect_unpinnable(&p.run(&["deploy"], &env), &region, before, "docker-credential-missing");
}

#[test]
fn a_token_registry_serves_signed_plugins_and_signatures_with_saved_credentials() {
    let reg = Registry::start_with_token_auth(USER, PASSWORD, REFRESH);
    let release = SigningKey::p256(31);
    let (p, region, seed) = oci_plugin_project("privtoken", &[("release", &release)]);
    let family = seed["ecs"]["taskDefinitionFamily"].as_str().unwrap();
    let (wasm, _) = fixture_plugin("echo");
    let wasm = wasm.display().to_string();
    let host = reg.host.clone();
    let target = format!("{host}/platform/echo:1.0");

    // Without credentials the push is refused: the token service turns anonymous requests away.
    let push = p.run(&["plugin", "push", &wasm, &target, "--sign-key", "keys/release.key"], &[]);
    assert_ne!(push.code, 0, "{}", push.stdout);
    assert!(push.stderr.contains(&format!("no credentials for {host} in ")), "{}", push.stderr);

    // An identity token (what `docker login` keeps for an OAuth2 registry): exchanged for tokens.
    docker_config(&p, json!({"auths": {host.clone(): {"auth": "", "identitytoken": REFRESH}}}));
    let push = p.run(&["plugin", "push", &wasm, &target, "--sign-key", "keys/release.key"], &[]);
    push.expect_code(0);
    assert!(reg.calls().iter().any(|c| c == "POST /token"), "the refresh grant: {:?}", reg.calls());
    assert!(reg.authorizations().iter().any(|a| a.starts_with("PUT /v2/platform/echo/manifests/1.0 Bearer")), "{:?}", reg.authorizations());

    // Loaded from the private registry, verified, and run.
    with_plugin(&p, &format!("  - name: echo\n    oci: {target}\n    verify: {{keys: [keys/release.pub]}}\n"));
    let run = p.run(&["deploy"], &[]);
    run.expect_code(0);
    assert_eq!(registered_env(&region, family), json!([{"name": "ECHO", "value": "a b!"}]));

    // A wrong identity token: the plugin is refused before any AWS call, saying why.
    docker_config(&p, json!({"auths": {host.clone(): {"identitytoken": "revoked"}}}));
    let run = p.run(&["render", "taskdef"], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains(&format!("the token service of {host} refused the credentials from")), "{}", run.stderr);
    assert_no_secret(&p, &[&push, &run]);
}

#[test]
fn the_signature_gate_reads_a_token_registry_through_the_host_only() {
    let reg = Registry::start_with_token_auth(USER, PASSWORD, REFRESH);
    let release = SigningKey::p256(41);
    let (p, region, seed) = signed_project("privgate", &reg, &[&release]);
    let family = seed["ecs"]["taskDefinitionFamily"].as_str().unwrap();
    let host = reg.host.clone();
    let web = reg.push_image("shop/web", "v1", "gated");
    reg.sign("shop/web", &web.digest, &release);
    reg.push_image("shop/unsigned", "v1", "gated-unsigned");
    docker_config(&p, json!({"auths": {host.clone(): {"username": USER, "password": PASSWORD}}}));

    // Signed: the host pinned it and fetched the signature for the plugin with a Bearer token.
    set_image(&p, &format!("{host}/shop/web:v1"));
    let run = p.run(&["deploy"], &[]);
    run.expect_code(0);
    assert_eq!(registered_image(&region, family), format!("{host}/shop/web@{}", web.digest));
    let sig = format!("GET /v2/shop/web/manifests/{}.sig Bearer", web.digest.replace(':', "-"));
    assert!(reg.authorizations().contains(&sig), "the signature was read with a token: {:?}", reg.authorizations());

    // Unsigned: still denied behind the login (the gate judged what the registry holds).
    expect_denied(&p, &region, &format!("{host}/shop/unsigned:v1"), "has no signature");
    assert_no_secret(&p, &[&run]);
}
