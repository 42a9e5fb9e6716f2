//! The command line: clap definitions and dispatch. Global flags may come before or after the
//! subcommand; each also reads `CORTADO_<NAME>` and, for ecspresso users, `ECSPRESSO_<NAME>`.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::commands;

#[derive(Parser, Debug)]
#[command(name = "cortado", version, about = "Deploy Amazon ECS services; ecspresso-compatible, extended by sandboxed WebAssembly plugins")]
pub struct Cli {
    #[command(flatten)]
    pub globals: Globals,
    #[command(subcommand)]
    pub command: Command,
}

/// The options every subcommand takes; `--help` shows them under their own heading.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Global options")]
pub struct Globals {
    /// Config file [default: cortado.{yml,yaml,json,jsonnet}, then ecspresso.*] [env: CORTADO_CONFIG, ECSPRESSO_CONFIG]
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Environment files loaded before the config; later files override earlier ones [env: CORTADO_ENVFILE]
    #[arg(long, global = true, value_delimiter = ',')]
    pub envfile: Vec<PathBuf>,
    /// Show debug logs [env: CORTADO_DEBUG]
    #[arg(long, global = true)]
    pub debug: bool,
    /// Jsonnet external string variables, KEY=VALUE (`;`-separated or repeated) [env: CORTADO_EXT_STR]
    #[arg(long = "ext-str", global = true, value_delimiter = ';')]
    pub ext_str: Vec<String>,
    /// Jsonnet external code variables, KEY=CODE [env: CORTADO_EXT_CODE]
    #[arg(long = "ext-code", global = true, value_delimiter = ';')]
    pub ext_code: Vec<String>,
    /// Assume this IAM role for every AWS call [env: CORTADO_ASSUME_ROLE_ARN]
    #[arg(long = "assume-role-arn", global = true)]
    pub assume_role_arn: Option<String>,
    /// Overrides the config's timeout (Go duration: 5m, 300s, 1h10m) [env: CORTADO_TIMEOUT]
    #[arg(long, global = true)]
    pub timeout: Option<String>,
    /// Where decisions are recorded: a file, or s3://BUCKET/PREFIX/ (overrides the config's audit_log) [env: CORTADO_AUDIT_LOG]
    #[arg(long = "audit-log", global = true, value_name = "FILE|S3URL")]
    pub audit_log: Option<String>,
    /// Wait this long for another deployer's lock (Go duration; default: fail at once) [env: CORTADO_LOCK_TIMEOUT]
    #[arg(long = "lock-timeout", global = true, value_name = "DURATION")]
    pub lock_timeout: Option<String>,
    /// Wait for an IN_PROGRESS deployment this invocation did not start, instead of refusing
    #[arg(long = "wait-for-others", global = true)]
    pub wait_for_others: bool,
    /// Interactive selector (peco, fzf) for tasks and exec [env: CORTADO_FILTER_COMMAND]
    #[arg(long = "filter-command", global = true)]
    pub filter_command: Option<String>,
    /// ecspresso's name for `--output json` where the two overlap (deploy, scale, refresh, rollback, wait, verify) [env: CORTADO_LOG_FORMAT]
    #[arg(long = "log-format", global = true, value_parser = ["text", "json"])]
    pub log_format: Option<String>,
    /// Refuse plugins that run outside the sandbox (the `external` plugin), as `strict: true` in the config does
    #[arg(long = "sandboxed-only", global = true)]
    pub sandboxed_only: bool,
    /// Colour even when the output is not a terminal (ecspresso's --color); --no-color never
    #[arg(long, global = true, overrides_with = "no_color")]
    pub color: bool,
    /// Never colour, even on a terminal
    #[arg(long = "no-color", global = true, overrides_with = "color")]
    pub no_color: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the version
    Version,
    /// Render the config, service definition or task definition as cortado reads them
    Render(RenderArgs),
    /// Show what deploy would change: local definitions against what runs
    Diff(DiffArgs),
    /// Write a config and definition files from a running service or a task definition
    Init(InitArgs),
    /// Show the service, its deployments, auto scaling and recent events
    Status(StatusArgs),
    /// Register the task definition (unless unchanged), update or create the service, and wait
    Deploy(DeployArgs),
    /// Change the desired count (deploy without a new task definition or service changes)
    Scale(ScaleArgs),
    /// Start a new deployment of the current task definition
    Refresh(RefreshArgs),
    /// Wait for the service's current deployment to complete
    Wait(WaitArgs),
    /// Answer a PAUSE lifecycle hook of the service deployment in progress (CONTINUE, or --rollback)
    Continue(ContinueArgs),
    /// Go back to the previous task definition revision
    Rollback(RollbackArgs),
    /// Register the task definition
    Register(RegisterArgs),
    /// Deregister (and optionally delete) task definition revisions not in use
    Deregister(DeregisterArgs),
    /// List the task definition revisions of the family, or show one
    Revisions(RevisionsArgs),
    /// Delete the service
    Delete(DeleteArgs),
    /// Remove the service's deploy lock by hand (gated and audited; only the lock that was read)
    Unlock(UnlockArgs),
    /// Print the CodeDeploy AppSpec for the service
    Appspec(AppspecArgs),
    /// Plugins: what they provide, what they ask for, what they are granted
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Print the IAM policy this config needs: cortado's own calls plus every plugin grant
    #[command(name = "iam-policy")]
    IamPolicy,
    /// The gate audit log
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Signed evidence (in-toto Statement in a DSSE envelope) written after each gated command
    #[command(subcommand)]
    Evidence(EvidenceCommand),
    /// Check every resource the definitions refer to, and run the verifier plugins
    Verify(VerifyArgs),
    /// Run a one-off task, tail its logs and exit with its container's exit code
    Run(RunArgs),
    /// List, find or stop the tasks of the service (or of the task definition family)
    Tasks(TasksArgs),
    /// ECS Exec into a task's container, or forward a port (needs session-manager-plugin)
    Exec(ExecArgs),
    /// Many services as one release: a stack file's members planned, gated, locked and applied in `needs` order
    #[command(subcommand)]
    Stack(StackCommand),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish)
    #[command(after_help = COMPLETION_HELP)]
    Completion(CompletionArgs),
    /// Print the man page (roff), or write one page per command into a directory
    Man(ManArgs),
}

const COMPLETION_HELP: &str = "Install:
  bash:  cortado completion bash > ~/.local/share/bash-completion/completions/cortado
  zsh:   cortado completion zsh > \"${fpath[1]}/_cortado\"   (then restart zsh)
  fish:  cortado completion fish > ~/.config/fish/completions/cortado.fish
  or load it for the current shell: source <(cortado completion bash)";

#[derive(Args, Debug)]
pub struct CompletionArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write cortado.1 and cortado-COMMAND.1 for every command into this directory instead of printing cortado.1
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Write the manual's command reference instead: one Markdown page per command holding its --help (docs/src/reference)
    #[arg(long, value_name = "DIR", conflicts_with = "dir")]
    pub markdown: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum StackCommand {
    /// Render every member's service and task definitions (or the given targets)
    Render(StackRenderArgs),
    /// Each member's diff; --exit-code exits 1 when any member differs
    Diff(StackDiffArgs),
    /// Each member's status
    Status(StackStatusArgs),
    /// Plan every member, gate them together, take every lock, apply in `needs` order
    Deploy(StackDeployArgs),
    /// Send the members the last successful `stack deploy` changed back to what ran before it
    Rollback(StackRollbackArgs),
}

/// Which stack file, which members.
#[derive(Args, Debug, Clone, Default)]
pub struct StackSelect {
    /// The stack file [default: cortado-stack.yml] [env: CORTADO_STACK]
    #[arg(long, value_name = "FILE")]
    pub stack: Option<PathBuf>,
    /// Only this member (repeatable), with what it needs unless --no-needs
    #[arg(long, value_name = "NAME")]
    pub only: Vec<String>,
    /// With --only: not the members it needs
    #[arg(long = "no-needs")]
    pub no_needs: bool,
}

#[derive(Args, Debug)]
pub struct StackRenderArgs {
    #[command(flatten)]
    pub select: StackSelect,
    /// What to render for each member, in order [default: servicedef taskdef]
    #[arg(value_enum)]
    pub targets: Vec<RenderTarget>,
}

#[derive(Args, Debug)]
pub struct StackDiffArgs {
    #[command(flatten)]
    pub select: StackSelect,
    /// Exit 1 when any member differs
    #[arg(long = "exit-code")]
    pub exit_code: bool,
}

#[derive(Args, Debug)]
pub struct StackStatusArgs {
    #[command(flatten)]
    pub select: StackSelect,
    /// How many recent service events to show per member
    #[arg(long, default_value_t = 10)]
    pub events: usize,
}

#[derive(Args, Debug)]
pub struct StackDeployArgs {
    #[command(flatten)]
    pub select: StackSelect,
    /// Plan and gate every member (decisions are recorded); change nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct StackRollbackArgs {
    #[command(flatten)]
    pub select: StackSelect,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Subcommand, Debug)]
pub enum EvidenceCommand {
    /// Check an evidence file's signature and that it matches the audit chain's records
    Verify {
        /// The evidence file (cortado-evidence/RUN.dsse.json), or s3://BUCKET/PREFIX/evidence/…/RUN.dsse.json
        file: PathBuf,
        /// The signer's Ed25519 public key (64 hex digits)
        #[arg(long = "public-key", value_name = "HEX", conflicts_with = "key_file")]
        public_key: Option<String>,
        /// The signing key file (its public key is used)
        #[arg(long = "key-file", value_name = "PATH")]
        key_file: Option<PathBuf>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Write a new Ed25519 signing key file (for `signing: {key_file: PATH}`) and print its public key
    Keygen {
        /// Where to write the key (must not exist; written with mode 0600)
        file: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the hash chain; names the first record that was altered or removed (a file), or
    /// every gap, edit, re-ordering, fork and open decision (s3://BUCKET/PREFIX/), with retention
    Verify {
        /// The audit log (JSON lines, e.g. cortado-audit.jsonl) or s3://BUCKET/PREFIX/
        file: PathBuf,
        /// A head taken earlier (`cortado audit head`, an evidence statement, a CI log): the chain
        /// must still reach it, which proves every record up to it unchanged
        #[arg(long = "expect-head", value_name = "HASH")]
        expect_head: Option<String>,
        /// With --expect-head: records appended after that head are fine
        #[arg(long = "allow-extension", requires = "expect_head")]
        allow_extension: bool,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Print the chain's head hash and record count (keep it elsewhere, then `verify --expect-head`)
    Head {
        /// The audit log (JSON lines) or s3://BUCKET/PREFIX/CLUSTER/SERVICE/
        file: PathBuf,
        #[command(flatten)]
        output: OutputArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum PluginCommand {
    /// The configured plugins (ssm and secretsmanager are always loaded)
    List,
    /// A component file's manifest, digest and requested capabilities (beside the config's grants
    /// when the config names it)
    Inspect {
        /// The component (.wasm)
        path: PathBuf,
    },
    /// Run a plugin's test cases; AWS answers come from a cassette (`--record` writes it)
    Test(commands::plugin::harness::TestArgs),
    /// Write a new plugin project that builds to a component and passes its own test
    New(commands::plugin::scaffold::NewArgs),
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderTarget {
    /// The config, after templates and Jsonnet
    Config,
    /// The service definition
    #[value(name = "servicedef", alias = "service-definition")]
    Servicedef,
    /// The task definition
    #[value(name = "taskdef", alias = "task-definition")]
    Taskdef,
    /// The daemon definition (ECS Managed Daemons)
    #[value(name = "daemondef", alias = "daemon-definition")]
    Daemondef,
    /// The daemon task definition (ECS Managed Daemons)
    #[value(name = "daemontaskdef", alias = "daemon-task-definition")]
    Daemontaskdef,
}

#[derive(Args, Debug)]
pub struct RenderArgs {
    /// What to render, in order
    #[arg(required = true, value_enum)]
    pub targets: Vec<RenderTarget>,
    /// Print as Jsonnet
    #[arg(long)]
    pub jsonnet: bool,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// Unified diff (the default); --no-unified prints whole documents
    #[arg(long, overrides_with = "no_unified")]
    pub unified: bool,
    /// Print the remote and local documents whole instead of a unified diff
    #[arg(long = "no-unified", overrides_with = "unified")]
    pub no_unified: bool,
    /// Exit 1 when anything differs
    #[arg(long = "exit-code")]
    pub exit_code: bool,
    /// Run this command with the remote and local files as its last two arguments instead [env: CORTADO_DIFF_COMMAND]
    #[arg(long)]
    pub external: Option<String>,
    /// Compare the service too (the default); --without-service compares only the task definition (ecspresso v2.8)
    #[arg(long = "with-service", overrides_with = "without_service")]
    pub with_service: bool,
    #[arg(long = "without-service", overrides_with = "with_service")]
    pub without_service: bool,
}

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Region of the service [default: AWS_REGION]
    #[arg(long)]
    pub region: Option<String>,
    /// Cluster of the service
    #[arg(long, default_value = "default")]
    pub cluster: String,
    /// Service to import with its task definition
    #[arg(long, required_unless_present = "task_definition", conflicts_with = "task_definition")]
    pub service: Option<String>,
    /// Import only this task definition (family:revision or ARN)
    #[arg(long = "task-definition")]
    pub task_definition: Option<String>,
    /// Where to write the task definition
    #[arg(long = "task-definition-path", default_value = "ecs-task-def.json")]
    pub task_definition_path: PathBuf,
    /// Where to write the service definition
    #[arg(long = "service-definition-path", default_value = "ecs-service-def.json")]
    pub service_definition_path: PathBuf,
    /// Sort arrays in the task definition as diff does
    #[arg(long)]
    pub sort: bool,
    /// Overwrite existing files without asking
    #[arg(long = "force-overwrite")]
    pub force_overwrite: bool,
    /// Write Jsonnet instead of JSON/YAML
    #[arg(long)]
    pub jsonnet: bool,
}

/// `--override GATE --reason TEXT`, for soft-mandatory gates.
#[derive(Args, Debug, Clone, Default)]
pub struct GateArgs {
    /// Override a soft-mandatory gate's denial (repeatable); recorded in the audit log
    #[arg(long = "override", value_name = "GATE")]
    pub overrides: Vec<String>,
    /// Why the override is needed (required with --override)
    #[arg(long)]
    pub reason: Option<String>,
}

impl GateArgs {
    pub fn to_overrides(&self) -> crate::gate::Overrides {
        crate::gate::Overrides { gates: self.overrides.clone(), reason: self.reason.clone() }
    }
}

#[derive(Args, Debug, Clone, Default)]
pub struct OutputArgs {
    /// `json` writes one JSON object per line (events, deployments, result) for machines
    #[arg(long, value_parser = ["text", "json"], default_value = "text")]
    pub output: String,
}

impl OutputArgs {
    pub fn json(&self) -> bool {
        self.output == "json"
    }
}

#[derive(Args, Debug, Clone, Default)]
pub struct AutoScalingArgs {
    /// Suspend Application Auto Scaling (in, out, scheduled)
    #[arg(long = "suspend-auto-scaling")]
    pub suspend: bool,
    /// Resume Application Auto Scaling (ignored with --suspend-auto-scaling)
    #[arg(long = "resume-auto-scaling")]
    pub resume: bool,
    /// Set the scalable target's minimum capacity (Application Auto Scaling)
    #[arg(long = "auto-scaling-min", value_name = "N")]
    pub min: Option<i32>,
    /// Set the scalable target's maximum capacity (Application Auto Scaling)
    #[arg(long = "auto-scaling-max", value_name = "N")]
    pub max: Option<i32>,
}

impl AutoScalingArgs {
    pub fn change(&self) -> crate::plan::autoscaling::Change {
        let suspend = if self.suspend {
            Some(true)
        } else if self.resume {
            Some(false)
        } else {
            None
        };
        crate::plan::autoscaling::Change { suspend, min: self.min, max: self.max }
    }
}

/// `--dry-run` and `--no-wait`, shared by the commands that change a service.
#[derive(Args, Debug, Clone, Default)]
pub struct ChangeArgs {
    /// Evaluate gates and show what would change; change nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Do not wait for the deployment to complete
    #[arg(long = "no-wait", overrides_with = "wait")]
    pub no_wait: bool,
    /// Wait (the default; ecspresso's flag): undoes an earlier --no-wait
    #[arg(long, hide = true, overrides_with = "no_wait")]
    pub wait: bool,
    /// deployed (the deployment is SUCCESSFUL, the default), stable (and the service steady), or
    /// ecs:<STAGE> (a BLUE_GREEN/LINEAR/CANARY deployment reached that lifecycle stage)
    #[arg(long = "wait-until", value_name = "deployed|stable|ecs:STAGE")]
    pub wait_until: Option<String>,
}

#[derive(Args, Debug)]
pub struct WaitArgs {
    /// deployed (the default), stable, or ecs:<STAGE>
    #[arg(long = "wait-until", value_name = "deployed|stable|ecs:STAGE")]
    pub wait_until: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct ContinueArgs {
    #[command(flatten)]
    pub change: ChangeArgs,
    /// The hook to answer (needed when several await action)
    #[arg(long = "hook-id")]
    pub hook_id: Option<String>,
    /// Answer ROLLBACK instead of CONTINUE
    #[arg(long)]
    pub rollback: bool,
    #[command(flatten)]
    pub gates: GateArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct DeployArgs {
    #[command(flatten)]
    pub change: ChangeArgs,
    /// Desired count: N, or `unchanged` (the service definition's desiredCount if it has one, else the current count; `-1` as in ecspresso)
    #[arg(long, value_name = "N|unchanged", default_value = "unchanged", value_parser = parse_tasks, allow_negative_numbers = true)]
    pub tasks: DesiredTasks,
    /// Keep the service's current task definition
    #[arg(long = "skip-task-definition")]
    pub skip_task_definition: bool,
    /// Deploy this revision of the service's task definition family
    #[arg(long)]
    pub revision: Option<i64>,
    /// Deploy the newest ACTIVE revision of the family
    #[arg(long = "latest-task-definition")]
    pub latest_task_definition: bool,
    /// Start a new deployment even when nothing changed (replaces every task)
    #[arg(long = "force-new-deployment")]
    pub force_new_deployment: bool,
    /// Register a new revision even when the definition equals the newest ACTIVE one
    #[arg(long = "force-register")]
    pub force_register: bool,
    /// Do not apply the service definition's attributes and tags
    #[arg(long = "no-update-service", overrides_with = "update_service")]
    pub no_update_service: bool,
    /// Apply them (the default; ecspresso's flag): undoes an earlier --no-update-service
    #[arg(long = "update-service", hide = true, overrides_with = "no_update_service")]
    pub update_service: bool,
    #[command(flatten)]
    pub autoscaling: AutoScalingArgs,
    /// CodeDeploy: roll back on DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_ALARM, DEPLOYMENT_STOP_ON_REQUEST
    #[arg(long = "rollback-events", value_delimiter = ',')]
    pub rollback_events: Vec<String>,
    #[command(flatten)]
    pub gates: GateArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct ScaleArgs {
    #[command(flatten)]
    pub change: ChangeArgs,
    /// Desired count: N, or `unchanged` (the default; `-1` as in ecspresso)
    #[arg(long, value_name = "N|unchanged", default_value = "unchanged", value_parser = parse_tasks, allow_negative_numbers = true)]
    pub tasks: DesiredTasks,
    #[command(flatten)]
    pub autoscaling: AutoScalingArgs,
    #[command(flatten)]
    pub gates: GateArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct RefreshArgs {
    #[command(flatten)]
    pub change: ChangeArgs,
    #[command(flatten)]
    pub gates: GateArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub change: ChangeArgs,
    /// Keep the task definition rolled back from (it is deregistered by default)
    #[arg(long = "no-deregister-task-definition", overrides_with = "deregister")]
    pub no_deregister: bool,
    /// Deregister it (the default; ecspresso's flag): undoes an earlier --no-deregister-task-definition
    #[arg(long = "deregister-task-definition", hide = true, overrides_with = "no_deregister")]
    pub deregister: bool,
    /// CodeDeploy: roll back on DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_ALARM, DEPLOYMENT_STOP_ON_REQUEST
    #[arg(long = "rollback-events", value_delimiter = ',')]
    pub rollback_events: Vec<String>,
    #[command(flatten)]
    pub gates: GateArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct RegisterArgs {
    /// Print the rendered task definition; register nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Print the registered task definition
    #[arg(long)]
    pub output: bool,
    #[command(flatten)]
    pub gates: GateArgs,
}

#[derive(Args, Debug)]
pub struct DeregisterArgs {
    /// Evaluate gates and show what would be deregistered; change nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// A revision number, or `latest`
    #[arg(long)]
    pub revision: Option<String>,
    /// Keep the newest N revisions not in use; deregister older ones
    #[arg(long)]
    pub keeps: Option<usize>,
    /// No confirmation
    #[arg(long)]
    pub force: bool,
    /// Also delete the deregistered revisions
    #[arg(long)]
    pub delete: bool,
    #[command(flatten)]
    pub gates: GateArgs,
}

#[derive(Args, Debug)]
pub struct RevisionsArgs {
    /// Show one revision: a number, `current` or `latest`
    #[arg(long)]
    pub revision: Option<String>,
    /// How to print the list
    #[arg(long, value_parser = ["table", "json", "tsv"], default_value = "table")]
    pub output: String,
}

#[derive(Args, Debug)]
pub struct UnlockArgs {
    /// Evaluate gates and show the holder; change nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    #[command(flatten)]
    pub gates: GateArgs,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Evaluate gates and show what would be deleted; change nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// No typed confirmation
    #[arg(long)]
    pub force: bool,
    /// Delete even with running tasks
    #[arg(long)]
    pub terminate: bool,
    #[command(flatten)]
    pub gates: GateArgs,
}

#[derive(Args, Debug)]
pub struct AppspecArgs {
    /// `latest`, `current` or a task definition ARN
    #[arg(long = "task-definition", default_value = "latest")]
    pub task_definition: String,
    /// Build Resources from the running service instead of the local service definition
    #[arg(long = "no-update-service")]
    pub no_update_service: bool,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// How many recent service events to show
    #[arg(long, default_value_t = 10)]
    pub events: usize,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VerifyOutput {
    /// The indented OK/NG/SKIP tree
    #[default]
    Text,
    /// One JSON document
    Json,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Read secret values with the execution role (the default); --no-get-secrets checks only that they exist
    #[arg(long = "get-secrets", overrides_with = "no_get_secrets")]
    pub get_secrets: bool,
    /// Only check that secrets exist; do not read their values
    #[arg(long = "no-get-secrets", overrides_with = "get_secrets")]
    pub no_get_secrets: bool,
    /// Write a test event to each awslogs group (the default); --no-put-logs checks only that they exist
    #[arg(long = "put-logs", overrides_with = "no_put_logs")]
    pub put_logs: bool,
    /// Only check that log groups exist; write nothing
    #[arg(long = "no-put-logs", overrides_with = "put_logs")]
    pub no_put_logs: bool,
    /// Check each distinct resource once, marking repeats (cached) (the default)
    #[arg(long, overrides_with = "no_cache")]
    pub cache: bool,
    /// Check every occurrence of a resource again
    #[arg(long = "no-cache", overrides_with = "cache")]
    pub no_cache: bool,
    /// How to print the result
    #[arg(long, value_enum, default_value_t = VerifyOutput::Text)]
    pub output: VerifyOutput,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitUntil {
    /// Every task is RUNNING
    Running,
    /// Every task has STOPPED
    Stopped,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Resolve and print what would run; register and start nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Task definition file to register and run instead of the config's task_definition
    #[arg(long = "task-def")]
    pub task_def: Option<PathBuf>,
    /// Wait for the task (the default); --no-wait prints the task ARN and returns
    #[arg(long, overrides_with = "no_wait")]
    pub wait: bool,
    /// Print the task ARNs and return without waiting
    #[arg(long = "no-wait", overrides_with = "wait")]
    pub no_wait: bool,
    /// TaskOverride JSON (wins over --overrides-file)
    #[arg(long = "overrides")]
    pub task_overrides: Option<String>,
    /// TaskOverride file, rendered like a definition file (template, or Jsonnet for .jsonnet)
    #[arg(long = "overrides-file")]
    pub overrides_file: Option<PathBuf>,
    /// Run the service's current task definition (else the family's latest) without registering
    #[arg(long = "skip-task-definition")]
    pub skip_task_definition: bool,
    /// How many tasks to start (1-10); every task is waited for, the first one's logs are shown
    #[arg(long, default_value_t = 1)]
    pub count: i32,
    /// The container whose exit code cortado exits with and whose logs are shown [default: the first]
    #[arg(long = "watch-container")]
    pub watch_container: Option<String>,
    /// Run the latest ACTIVE revision of the family without registering
    #[arg(long = "latest-task-definition", conflicts_with = "revision")]
    pub latest_task_definition: bool,
    /// SERVICE (copy the service's tags to the task), TASK_DEFINITION or NONE
    #[arg(long = "propagate-tags")]
    pub propagate_tags: Option<String>,
    /// Task tags: KEY=VALUE,KEY2=VALUE2
    #[arg(long)]
    pub tags: Option<String>,
    /// Wait until the tasks are running, or (the default) stopped
    #[arg(long = "wait-until", value_enum, default_value_t = WaitUntil::Stopped)]
    pub wait_until: WaitUntil,
    /// Run revision N of the family without registering
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..))]
    pub revision: Option<i64>,
    /// RunTask idempotency token
    #[arg(long = "client-token")]
    pub client_token: Option<String>,
    /// Subnets for awsvpc tasks (override the service definition's; needed without one)
    #[arg(long, value_delimiter = ',')]
    pub subnets: Vec<String>,
    /// Security groups for awsvpc tasks (override the service definition's)
    #[arg(long = "security-groups", value_delimiter = ',')]
    pub security_groups: Vec<String>,
    /// ENABLED or DISABLED, for awsvpc tasks
    #[arg(long = "assign-public-ip")]
    pub assign_public_ip: Option<String>,
    /// FARGATE, EC2 or EXTERNAL (overrides the service definition's launch type and capacity providers)
    #[arg(long = "launch-type")]
    pub launch_type: Option<String>,
    /// Delete the managed EBS volumes taken from the service definition when the task stops (the default)
    #[arg(long = "ebs-delete-on-termination", overrides_with = "no_ebs_delete_on_termination")]
    pub ebs_delete_on_termination: bool,
    /// Keep those EBS volumes when the task stops
    #[arg(long = "no-ebs-delete-on-termination", overrides_with = "ebs_delete_on_termination")]
    pub no_ebs_delete_on_termination: bool,
    #[command(flatten)]
    pub gate: GateArgs,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TasksOutput {
    /// Aligned columns
    #[default]
    Table,
    /// One JSON array
    Json,
    /// Tab-separated, no header
    Tsv,
}

#[derive(Args, Debug)]
pub struct TasksArgs {
    /// Only this task (ID or ARN)
    #[arg(long)]
    pub id: Option<String>,
    /// How to print the list
    #[arg(long, value_enum, default_value_t = TasksOutput::Table)]
    pub output: TasksOutput,
    /// Select one task and print it as JSON
    #[arg(long)]
    pub find: bool,
    /// Select one running task and stop it (asks to type its ID unless --force)
    #[arg(long)]
    pub stop: bool,
    /// Stop without asking
    #[arg(long)]
    pub force: bool,
    /// With --stop: evaluate gates and show what would be stopped; stop nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    #[command(flatten)]
    pub gates: GateArgs,
    /// Select one task and print its timeline: lifecycle times, container exits, and the service events naming it
    #[arg(long)]
    pub trace: bool,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// The task (ID or ARN) [default: select one]
    #[arg(long)]
    pub id: Option<String>,
    /// Command to run in the container
    #[arg(long, default_value = "sh")]
    pub command: String,
    /// Container [default: the only one, else select]
    #[arg(long)]
    pub container: Option<String>,
    /// Forward a local port to --port in the task instead of running a command
    #[arg(long = "port-forward")]
    pub port_forward: bool,
    /// Local port (0: any free port)
    #[arg(long = "local-port", default_value_t = 0)]
    pub local_port: u16,
    /// Remote port (required with --port-forward)
    #[arg(long)]
    pub port: Option<u16>,
    /// Remote host reached through the task (AWS-StartPortForwardingSessionToRemoteHost)
    #[arg(long)]
    pub host: Option<String>,
    /// Evaluate gates and show the session that would start; start nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    #[command(flatten)]
    pub gates: GateArgs,
}

/// `--tasks`: a desired count, or leave it as the definition or the service has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DesiredTasks {
    #[default]
    Unchanged,
    Count(i64),
}

impl DesiredTasks {
    pub fn count(self) -> Option<i64> {
        match self {
            DesiredTasks::Unchanged => None,
            DesiredTasks::Count(n) => Some(n),
        }
    }
}

/// `unchanged` or ecspresso's `-1` sentinel, else a count ≥ 0; `-5` is an error, not "unchanged".
fn parse_tasks(s: &str) -> Result<DesiredTasks, String> {
    match s {
        "unchanged" | "-1" => Ok(DesiredTasks::Unchanged),
        _ => match s.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(DesiredTasks::Count(n)),
            _ => Err(format!("{s:?} is not a task count: use a number ≥ 0, or `unchanged`")),
        },
    }
}

impl Globals {
    /// The plain options the pipeline takes, with `CORTADO_*`/`ECSPRESSO_*` defaults filled in.
    pub fn to_options(&self, env: &crate::env::Env) -> crate::context::Globals {
        crate::context::Globals {
            config: self.config.clone(),
            envfile: self.envfile.clone(),
            debug: self.debug,
            ext_str: self.ext_str.clone(),
            ext_code: self.ext_code.clone(),
            assume_role_arn: self.assume_role_arn.clone(),
            timeout: self.timeout.clone(),
            audit_log: self.audit_log.clone(),
            lock_timeout: self.lock_timeout.clone(),
            wait_for_others: self.wait_for_others,
            filter_command: self.filter_command.clone(),
            log_format: self.log_format.clone(),
            sandboxed_only: self.sandboxed_only,
            color: self.color,
            no_color: self.no_color,
        }
        .with_env_defaults(env)
    }
}

impl ChangeArgs {
    fn change(&self, gates: &GateArgs, output: &OutputArgs) -> commands::deploy::Change {
        commands::deploy::Change {
            dry_run: self.dry_run,
            wait: !self.no_wait,
            overrides: gates.to_overrides(),
            json: output.json(),
            wait_until: self.wait_until.clone(),
        }
    }
}

/// A command that changes something but has no --no-wait or --output: its --dry-run and gates.
fn simple_change(dry_run: bool, gates: &GateArgs) -> commands::deploy::Change {
    commands::deploy::Change { dry_run, wait: true, overrides: gates.to_overrides(), json: false, wait_until: None }
}

impl RunArgs {
    fn options(&self) -> crate::plan::run::RunOptions {
        crate::plan::run::RunOptions {
            task_def: self.task_def.clone(),
            task_overrides: self.task_overrides.clone(),
            overrides_file: self.overrides_file.clone(),
            skip_task_definition: self.skip_task_definition,
            count: self.count,
            watch_container: self.watch_container.clone(),
            latest_task_definition: self.latest_task_definition,
            propagate_tags: self.propagate_tags.clone(),
            tags: self.tags.clone(),
            revision: self.revision,
            client_token: self.client_token.clone(),
            subnets: self.subnets.clone(),
            security_groups: self.security_groups.clone(),
            assign_public_ip: self.assign_public_ip.clone(),
            launch_type: self.launch_type.clone(),
            no_ebs_delete_on_termination: self.no_ebs_delete_on_termination,
        }
    }
}

/// Parses arguments, runs the command, and returns the process exit code.
pub fn main() -> i32 {
    restore_sigpipe();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => crate::error::EXIT_INPUT,
            };
        }
    };
    let env = crate::env::Env::from_process();
    let globals = cli.globals.to_options(&env);
    // Both set process variables: before the logger and the runtime, while single-threaded.
    crate::output::choose_color(globals.color, globals.no_color);
    crate::output::init_logging(globals.debug);
    if let Err(e) = crate::env::export_envfiles(&globals.envfile) {
        print_error(&e.into());
        return crate::error::EXIT_INPUT;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return crate::error::EXIT_FAILURE;
        }
    };
    let mut command = cli.command;
    if globals.log_format.as_deref() == Some("json") {
        json_output_for_log_format(&mut command);
    }
    // One Ctrl-C listener for the whole command: it stops at once, saying how to resume. `exec`
    // hands Ctrl-C to the session instead.
    let interruptible = !matches!(command, Command::Exec(_));
    let result: Result<()> = runtime.block_on(async move {
        if !interruptible {
            return dispatch(command, globals, env).await;
        }
        crate::interrupt::install();
        tokio::select! {
            biased;
            r = dispatch(command, globals, env) => r,
            _ = crate::interrupt::interrupted() => Err(crate::interrupt::Interrupted(crate::interrupt::hint()).into()),
        }
    });
    match result {
        Ok(()) => crate::error::EXIT_OK,
        Err(err) if err.is::<crate::error::DiffFound>() => crate::error::EXIT_FAILURE,
        Err(err) => {
            print_error(&err);
            crate::error::exit_code(&err)
        }
    }
}

/// `cortado iam-policy | head` ends quietly, as Unix tools do, instead of panicking on EPIPE:
/// Rust ignores SIGPIPE by default, which turns a closed pipe into a `println!` panic.
fn restore_sigpipe() {
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// `--log-format json` (ecspresso) selects `--output json` on the commands that have it.
fn json_output_for_log_format(command: &mut Command) {
    let output = match command {
        Command::Deploy(a) => &mut a.output,
        Command::Scale(a) => &mut a.output,
        Command::Refresh(a) => &mut a.output,
        Command::Rollback(a) => &mut a.output,
        Command::Wait(a) => &mut a.output,
        Command::Stack(StackCommand::Deploy(a)) => &mut a.output,
        Command::Stack(StackCommand::Rollback(a)) => &mut a.output,
        Command::Verify(a) => {
            a.output = VerifyOutput::Json;
            return;
        }
        _ => return,
    };
    output.output = "json".into();
}

fn print_error(err: &anyhow::Error) {
    let style = crate::output::Style::stderr();
    let mut chain = err.chain();
    if let Some(top) = chain.next() {
        eprintln!("{} {top}", style.red("Error:"));
    }
    for cause in chain {
        eprintln!("  caused by: {cause}");
    }
}

async fn dispatch(command: Command, globals: crate::context::Globals, env: crate::env::Env) -> Result<()> {
    match command {
        Command::Version => {
            println!("cortado {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Completion(a) => commands::docs::completion(a.shell),
        Command::Stack(c) => commands::stack::run(c, globals, env).await,
        Command::Man(a) => match &a.markdown {
            Some(dir) => commands::docs::markdown(dir),
            None => commands::docs::man(a.dir.as_deref()),
        },
        Command::Init(args) => commands::init::run(&globals, env, args).await,
        Command::Render(args) => {
            let app = commands::App::load(globals, env)?;
            commands::render::run(&app, args)
        }
        Command::Diff(args) => {
            let app = commands::App::load(globals, env)?;
            if commands::daemon::is_daemon(&app) {
                return commands::daemon::diff(&app, args.exit_code).await;
            }
            commands::diff::run(&app, args).await
        }
        Command::Status(args) => {
            let app = commands::App::load(globals, env)?;
            if commands::daemon::is_daemon(&app) {
                return commands::daemon::status(&app).await;
            }
            commands::status::run(&app, args).await
        }
        Command::Plugin(PluginCommand::List) => {
            let app = commands::App::load(globals, env)?;
            commands::plugin::list(&app)
        }
        Command::Plugin(PluginCommand::Inspect { path }) => {
            // A config is optional here: with one, the grants are shown beside the requests.
            let config = commands::App::load_config(&globals, env).ok();
            commands::plugin::inspect(config.as_ref(), &path)
        }
        Command::Plugin(PluginCommand::Test(args)) => commands::plugin::harness::run(None, &args),
        Command::Plugin(PluginCommand::New(args)) => commands::plugin::scaffold::run(&args),
        Command::Evidence(EvidenceCommand::Verify { file, public_key, key_file, output }) => {
            commands::evidence::verify(&file, public_key.as_deref(), key_file.as_deref(), output.json(), &globals).await
        }
        Command::Evidence(EvidenceCommand::Keygen { file }) => commands::evidence::keygen(&file),
        Command::Audit(AuditCommand::Verify { file, expect_head, allow_extension, output }) => {
            let anchor = commands::audit::Expect::parse(expect_head.as_deref(), allow_extension)?;
            commands::audit::verify(&file, anchor.as_ref(), output.json(), &globals).await
        }
        Command::Audit(AuditCommand::Head { file, output }) => commands::audit::head(&file, output.json(), &globals).await,
        Command::Deploy(a) => {
            let app = commands::App::load(globals, env)?;
            if commands::daemon::is_daemon(&app) {
                return commands::daemon::deploy(&app, a.force_register, a.change.change(&a.gates, &a.output)).await;
            }
            let opts = crate::plan::deploy::DeployOptions {
                command: "deploy",
                tasks: a.tasks.count(),
                skip_task_definition: a.skip_task_definition,
                revision: a.revision,
                latest_task_definition: a.latest_task_definition,
                force_new_deployment: a.force_new_deployment,
                force_register: a.force_register,
                update_service: !a.no_update_service,
                desired_unchanged: false,
                autoscaling: a.autoscaling.change(),
                rollback_events: a.rollback_events.clone(),
            };
            commands::deploy::deploy(&app, opts, a.change.change(&a.gates, &a.output)).await
        }
        Command::Scale(a) => {
            let app = commands::App::load(globals, env)?;
            let opts = crate::plan::deploy::DeployOptions {
                command: "scale",
                tasks: a.tasks.count(),
                skip_task_definition: true,
                update_service: false,
                autoscaling: a.autoscaling.change(),
                ..Default::default()
            };
            commands::deploy::deploy(&app, opts, a.change.change(&a.gates, &a.output)).await
        }
        Command::Refresh(a) => {
            let app = commands::App::load(globals, env)?;
            let opts = crate::plan::deploy::DeployOptions {
                command: "refresh",
                skip_task_definition: true,
                force_new_deployment: true,
                update_service: false,
                desired_unchanged: true,
                ..Default::default()
            };
            commands::deploy::deploy(&app, opts, a.change.change(&a.gates, &a.output)).await
        }
        Command::Wait(a) => {
            let app = commands::App::load(globals, env)?;
            if commands::daemon::is_daemon(&app) {
                let change = commands::deploy::Change { wait_until: a.wait_until.clone(), ..Default::default() };
                change.until()?;
                return commands::daemon::wait(&app, a.output.json()).await;
            }
            commands::deploy::wait(&app, a.output.json(), a.wait_until).await
        }
        Command::Continue(a) => {
            let app = commands::App::load(globals, env)?;
            let change = a.change.change(&a.gates, &a.output);
            commands::native::continue_paused(&app, a.hook_id, a.rollback, change).await
        }
        Command::Rollback(a) => {
            let app = commands::App::load(globals, env)?;
            if commands::daemon::is_daemon(&app) {
                return commands::daemon::rollback(&app, a.change.change(&a.gates, &a.output)).await;
            }
            let opts =
                crate::plan::rollback::RollbackOptions { deregister: !a.no_deregister, wait: !a.change.no_wait, rollback_events: a.rollback_events.clone() };
            commands::deploy::rollback(&app, opts, a.change.change(&a.gates, &a.output)).await
        }
        Command::Register(a) => {
            let app = commands::App::load(globals, env)?;
            commands::lifecycle::register(&app, a.output, simple_change(a.dry_run, &a.gates)).await
        }
        Command::Deregister(a) => {
            let app = commands::App::load(globals, env)?;
            let opts = crate::plan::lifecycle::DeregisterOptions { revision: a.revision.clone(), keeps: a.keeps, delete: a.delete };
            commands::lifecycle::deregister(&app, opts, a.force, simple_change(a.dry_run, &a.gates)).await
        }
        Command::Revisions(a) => {
            let app = commands::App::load(globals, env)?;
            commands::lifecycle::revisions(&app, a.revision, &a.output).await
        }
        Command::Delete(a) => {
            let app = commands::App::load(globals, env)?;
            if commands::daemon::is_daemon(&app) {
                return commands::daemon::delete(&app, a.force, simple_change(a.dry_run, &a.gates)).await;
            }
            commands::lifecycle::delete(&app, a.force, a.terminate, simple_change(a.dry_run, &a.gates)).await
        }
        Command::Unlock(a) => {
            let app = commands::App::load(globals, env)?;
            commands::unlock::unlock(&app, &a.gates.to_overrides(), a.dry_run).await
        }
        Command::Appspec(a) => {
            let app = commands::App::load(globals, env)?;
            commands::lifecycle::appspec(&app, &a.task_definition, !a.no_update_service).await
        }
        Command::IamPolicy => {
            let app = commands::App::load(globals, env)?;
            commands::iam_policy::run(&app)
        }
        Command::Verify(args) => {
            let app = commands::App::load(globals, env)?;
            commands::verify::run(&app, args).await
        }
        Command::Run(args) => {
            let app = commands::App::load(globals, env)?;
            let until = match args.wait_until {
                WaitUntil::Running => crate::wait::tasks::WaitUntil::Running,
                WaitUntil::Stopped => crate::wait::tasks::WaitUntil::Stopped,
            };
            let change =
                commands::deploy::Change { dry_run: args.dry_run, wait: !args.no_wait, overrides: args.gate.to_overrides(), json: false, wait_until: None };
            commands::run::run(&app, args.options(), until, change).await
        }
        Command::Tasks(args) => {
            let app = commands::App::load(globals, env)?;
            let change = simple_change(args.dry_run, &args.gates);
            commands::tasks::run(&app, args, change).await
        }
        Command::Exec(args) => {
            let app = commands::App::load(globals, env)?;
            let change = simple_change(args.dry_run, &args.gates);
            commands::exec::run(&app, args, change).await
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
