//! Test harness: one simulator per test binary, the real `cortado` binary, scratch directories.
//!
//! The simulator is `tests/sim/launcher.py` (moto in-process plus our patches) on a free loopback
//! port. It exits when its stdin closes, which happens when the test process ends, however it ends.
//! Tests isolate themselves by region: each gets a unique region name, seeds it, and reads the
//! simulator's call log filtered by that region.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

pub mod approved;
pub mod registry;
pub mod seeded;

pub struct Sim {
    pub url: String,
    /// What keeps the simulator alive: it exits when this closes (the launcher's stdin, or the
    /// connection to the fork server it was forked for), so when the test process ends.
    _lifeline: Mutex<Lifeline>,
}

/// Held for what dropping it does (closing the simulator's lifeline), never read.
#[allow(dead_code)]
enum Lifeline {
    Child(Child),
    Forked(std::os::unix::net::UnixStream),
}

static SIM: OnceLock<Sim> = OnceLock::new();

/// The repository root (`tests/` is this crate).
pub fn repo_root() -> PathBuf {
    // `cargo test` sets CARGO_MANIFEST_DIR at run time too; prefer it, so that a test binary reused
    // from another checkout sharing the target directory still finds this checkout's files.
    let dir = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    dir.parent().expect("tests/ has a parent").to_path_buf()
}

/// The simulator's Python: the venv made by `tests/sim/setup.sh`.
pub fn python() -> PathBuf {
    if let Ok(v) = std::env::var("CORTADO_VENV") {
        return PathBuf::from(v).join("bin/python");
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    PathBuf::from(home).join(".cache/cortado/venv/bin/python")
}

/// Starts the simulator once per test binary and returns it: forked from the fork server
/// scripts/run-tests.py runs (`CORTADO_SIM_FORK_SERVER`, a Unix socket; moto imported and its
/// models parsed once for the whole suite), else started as a process of its own.
pub fn sim() -> &'static Sim {
    SIM.get_or_init(|| {
        if let Some(socket) = std::env::var_os("CORTADO_SIM_FORK_SERVER")
            && let Ok(stream) = std::os::unix::net::UnixStream::connect(&socket)
        {
            let url = ready_url(BufReader::new(stream.try_clone().expect("clone the fork-server connection")));
            return Sim { url, _lifeline: Mutex::new(Lifeline::Forked(stream)) };
        }
        let py = python();
        assert!(py.exists(), "{} is missing: run scripts/setup.sh (scripts/test.sh does)", py.display());
        // Never waited on: it lives as long as the test process and exits when its stdin closes.
        #[allow(clippy::zombie_processes)]
        let mut child = Command::new(&py)
            .arg(repo_root().join("tests/sim/launcher.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the simulator");
        let url = ready_url(BufReader::new(child.stdout.take().expect("piped stdout")));
        Sim { url, _lifeline: Mutex::new(Lifeline::Child(child)) }
    })
}

/// Reads up to the simulator's `READY URL` line, then keeps draining what it writes (so it never
/// blocks on a full pipe); its URL.
fn ready_url<R: std::io::Read + Send + 'static>(mut reader: BufReader<R>) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).expect("read simulator output");
        assert!(n > 0, "the simulator exited before it was ready");
        if let Some(url) = line.trim().strip_prefix("READY ") {
            let url = url.to_owned();
            assert!(url.starts_with("http://127.0.0.1:"), "simulator must listen on loopback, got {url}");
            std::thread::spawn(move || for _ in reader.lines() {});
            return url;
        }
    }
}

impl Sim {
    /// Seeds a realistic account in `region` (names from `prefix`) and returns what was created.
    pub fn seed(&self, region: &str, prefix: &str) -> Value {
        let body = serde_json::json!({"region": region, "prefix": prefix});
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut resp = agent.post(&format!("{}/_cortado/seed", self.url)).send_json(&body).expect("seed the simulator");
        let status = resp.status();
        let text = resp.body_mut().read_to_string().expect("seed response body");
        assert!(status.is_success(), "seeding {region}/{prefix} failed with {status}: {text}");
        serde_json::from_str(&text).expect("seed response is JSON")
    }

    /// Sets the fault profile of `region` (`tests/sim/README.md`, Fault injection): `rules` is the
    /// list of rules, `seed` makes the faults reproduce.
    pub fn faults(&self, region: &str, seed: u64, rules: Value) {
        let body = serde_json::json!({"seed": seed, "region": region, "rules": rules});
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut resp = agent.post(&format!("{}/_cortado/faults", self.url)).send_json(&body).expect("set faults");
        let status = resp.status();
        let text = resp.body_mut().read_to_string().expect("faults response body");
        assert!(status.is_success(), "setting faults for {region} failed with {status}: {text}");
    }

    /// Removes `region`'s fault profile.
    pub fn clear_faults(&self, region: &str) {
        ureq::delete(&format!("{}/_cortado/faults?region={region}", self.url)).call().expect("clear faults");
    }

    /// The call log entries of `region`, whole (with `fault`, `latencyMs`, `idempotent`).
    pub fn log_in(&self, region: &str) -> Vec<Value> {
        let mut resp = ureq::post(&format!("{}/_cortado/calls", self.url)).send_empty().expect("read the call log");
        let v: Value = resp.body_mut().read_json().expect("call log is JSON");
        v["calls"].as_array().into_iter().flatten().filter(|c| c["region"].as_str() == Some(region)).cloned().collect()
    }

    /// The mutating calls of `region` (any action but Describe*/List*/Get*/BatchGet*), in order, each
    /// `{service, action, body}`: `body` is the JSON request AWS received (JSON protocols; null for others),
    /// so a test can compare what was sent with what a plan or a gate approved.
    pub fn mutations_in(&self, region: &str) -> Vec<Value> {
        self.log_in(region)
            .into_iter()
            .filter(|c| is_mutating(c["action"].as_str().unwrap_or("")))
            .map(|c| serde_json::json!({"service": c["service"], "action": c["action"], "body": c["body"]}))
            .collect()
    }

    /// The requests of `region` the simulator found invalid against the API model
    /// (`tests/sim/sim_validate.py`), each `{service, action, invalid}`.
    pub fn invalid_in(&self, region: &str) -> Vec<Value> {
        self.log_in(region)
            .into_iter()
            .filter(|c| c.get("invalid").is_some())
            .map(|c| serde_json::json!({"service": c["service"], "action": c["action"], "invalid": c["invalid"]}))
            .collect()
    }

    /// Lets `region`'s requests that the API model refuses through, still recorded as `invalid`:
    /// for a test that sends a member AWS knows but the pinned model does not (yet).
    pub fn lenient(&self, region: &str) {
        let body = serde_json::json!({"region": region, "strict": "log"});
        ureq::post(&format!("{}/_cortado/config", self.url)).send_json(&body).expect("set the region's strict mode");
    }

    /// Every AWS request the simulator received in `region`, as `service:Action` strings.
    pub fn calls_in(&self, region: &str) -> Vec<String> {
        let mut resp = ureq::post(&format!("{}/_cortado/calls", self.url)).send_empty().expect("read the call log");
        let v: Value = resp.body_mut().read_json().expect("call log is JSON");
        v["calls"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["region"].as_str() == Some(region))
            .map(|c| format!("{}:{}", c["service"].as_str().unwrap_or(""), c["action"].as_str().unwrap_or("")))
            .collect()
    }
}

/// Whether an action changes something: the simulator records these with their body. The same rule as
/// `is_mutating` in tests/sim/sim_validate.py.
pub fn is_mutating(action: &str) -> bool {
    !action.is_empty() && !["Describe", "List", "Get", "BatchGet"].iter().any(|p| action.starts_with(p))
}

/// A project initialised (`cortado init`) from the service seeded in a region of its own (named
/// after `tag`), with a 60 s timeout: the start of every native-deployment test.
pub fn initialised(tag: &str) -> (Project, String) {
    let (p, region, _) = initialised_on(tag, false);
    (p, region)
}

/// [`initialised`] on the seeded ECS service or (`blue_green`) the CODE_DEPLOY one; with the seed.
pub fn initialised_on(tag: &str, blue_green: bool) -> (Project, String, Value) {
    let sim = sim();
    let region = unique_region(tag);
    let seed = sim.seed(&region, &region);
    let p = Project::against(sim, &region);
    let service = if blue_green { seed["ecs"]["blueGreenServiceName"].as_str().unwrap() } else { seed["ecs"]["serviceName"].as_str().unwrap() };
    p.run(&["init", "--cluster", seed["ecs"]["clusterName"].as_str().unwrap(), "--service", service], &[]).expect_code(0);
    p.write("cortado.yml", &p.read("cortado.yml").replace("timeout: 10m0s", "timeout: 60s"));
    (p, region, seed)
}

/// A region name no other test uses, so tests can run in parallel against one simulator.
pub fn unique_region(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// The cortado binary built by `cargo build` (scripts/test.sh builds it before the tests).
pub fn cortado_bin() -> PathBuf {
    if let Ok(p) = std::env::var("CORTADO_BIN") {
        return PathBuf::from(p);
    }
    // target/<profile>/deps/<test-binary> → target/<profile>/cortado
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>");
    let bin = profile_dir.join("cortado");
    assert!(bin.exists(), "{} is missing: run `cargo build -p cortado` first (scripts/test.sh does)", bin.display());
    bin
}

/// The compile cache every test's cortado shares, with its key: `target/test-cache/{components,config}`.
///
/// Each project's HOME is its own directory, so by default every cortado a test runs would compile
/// each plugin it loads afresh (the cache and its per-user key live under HOME): a JavaScript
/// component is tens of seconds of CPU, paid again in every test. One user's machine has one cache;
/// so do the tests, across test binaries running side by side (entries are written atomically).
/// Tests about the cache itself use [`Project::with_own_cache`].
pub fn shared_cache() -> PathBuf {
    let profile_dir = cortado_bin().parent().map(Path::to_path_buf).unwrap_or_default();
    profile_dir.parent().unwrap_or(&profile_dir).join("test-cache")
}

/// A scratch directory holding a cortado project, and a way to run cortado in it.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
    /// Whether cortado keeps its compile cache and key under the project's HOME (a user of its own)
    /// instead of the run's [`shared_cache`].
    pub own_cache: bool,
}

impl Default for Project {
    fn default() -> Self {
        Self::new()
    }
}

impl Project {
    pub fn new() -> Self {
        Project { dir: tempfile::tempdir().expect("tempdir"), env: Vec::new(), own_cache: false }
    }

    /// The variables that point cortado at the run's [`shared_cache`] (none with its own cache):
    /// for tests that start cortado through another program (strace, a measuring wrapper).
    pub fn cache_env(&self) -> Vec<(&'static str, PathBuf)> {
        if self.own_cache {
            return Vec::new();
        }
        let shared = shared_cache();
        vec![("CORTADO_CACHE_DIR", shared.join("components")), ("XDG_CONFIG_HOME", shared.join("config"))]
    }

    /// A project whose cortado is another user as far as the compile cache goes: cache and key
    /// under its own HOME, compiled afresh, sharing nothing with other tests.
    pub fn with_own_cache() -> Self {
        Project { own_cache: true, ..Project::new() }
    }

    /// A project whose AWS calls go to the simulator in `region`.
    pub fn against(sim: &Sim, region: &str) -> Self {
        let mut p = Project::new();
        p.env = vec![
            ("AWS_ENDPOINT_URL".into(), sim.url.clone()),
            ("AWS_REGION".into(), region.into()),
            ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
            ("AWS_MAX_ATTEMPTS".into(), "2".into()),
        ];
        p
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) -> &Self {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(p, text).expect("write file");
        self
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    /// cortado with `args`, in the project directory, with a clean environment (the project's own
    /// variables, PATH, a HOME inside the project, no colour, no instance metadata).
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(cortado_bin());
        cmd.args(args).current_dir(self.dir.path()).env_clear();
        cmd.env("PATH", std::env::var("PATH").unwrap_or_default()).env("HOME", self.dir.path()).env("NO_COLOR", "1");
        cmd.env("AWS_EC2_METADATA_DISABLED", "true");
        cmd.envs(self.cache_env());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs cortado with `args`, plus the `extra` variables.
    pub fn run(&self, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(args);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run cortado");
        Run::from(out)
    }
}

/// The result of one cortado run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Panics with both streams unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "exit code {} (wanted {code})\n--- stdout\n{}\n--- stderr\n{}", self.code, self.stdout, self.stderr);
        self
    }
}

/// A hostile or baseline test plugin built by scripts/build-plugins.sh, and its sha256.
pub fn fixture_plugin(name: &str) -> (PathBuf, String) {
    let target = cortado_bin().parent().and_then(Path::parent).expect("target dir").to_path_buf();
    let path = target.join(format!("wasm32-wasip2/fixture/cortado_fixture_{name}.wasm"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run scripts/build-plugins.sh)", path.display()));
    (path, sha256_hex(&bytes))
}

fn sha256_hex(bytes: &[u8]) -> String {
    let out = Command::new("sha256sum").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().and_then(|mut c| {
        use std::io::Write;
        c.stdin.take().expect("stdin").write_all(bytes)?;
        c.wait_with_output()
    });
    let out = out.expect("sha256sum");
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or("").to_owned()
}

impl Project {
    /// Starts cortado without waiting for it (for signal tests).
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.spawn_with(args, &[])
    }

    /// Starts cortado with the `extra` variables, without waiting for it.
    pub fn spawn_with(&self, args: &[&str], extra: &[(&str, &str)]) -> std::process::Child {
        let mut cmd = self.command(args);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn cortado")
    }
}

/// A one-container task definition of `family` whose environment is `vars` (pretty JSON).
pub fn td_with_env<V: AsRef<str>>(family: &str, vars: &[(&str, V)]) -> String {
    let env: Vec<Value> = vars.iter().map(|(k, v)| serde_json::json!({"name": k, "value": v.as_ref()})).collect();
    serde_json::to_string_pretty(&serde_json::json!({
        "family": family,
        "containerDefinitions": [{"name": "app", "image": "nginx", "environment": env}]
    }))
    .expect("a task definition serialises")
}

/// The first container's environment of a rendered task definition, by name.
pub fn rendered_env(out: &str) -> std::collections::BTreeMap<String, String> {
    let v: Value = serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"));
    v["containerDefinitions"][0]["environment"]
        .as_array()
        .unwrap_or_else(|| panic!("no environment: {out}"))
        .iter()
        .map(|e| (text(e, "name", out), text(e, "value", out)))
        .collect()
}

/// An environment entry's string field; a missing or non-string one fails the test, naming the output.
fn text(entry: &Value, key: &str, out: &str) -> String {
    entry[key].as_str().unwrap_or_else(|| panic!("environment entry without a string {key:?}: {out}")).to_owned()
}
