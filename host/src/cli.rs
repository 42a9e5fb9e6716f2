//! The command line: the global options, the top-level command enum and its dispatch. Each
//! subcommand's options (its clap `Args`, or `Subcommand` enum) live in its file under
//! `commands/`, with the `exec` that turns them into calls (cargo's layout). Global flags may come
//! before or after the subcommand; each also reads `CORTADO_<NAME>` and, for ecspresso users,
//! `ECSPRESSO_<NAME>`.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

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
    Render(commands::render::RenderArgs),
    /// Show what deploy would change: local definitions against what runs
    Diff(commands::diff::DiffArgs),
    /// Write a config and definition files from a running service or a task definition
    Init(commands::init::InitArgs),
    /// Show the service, its deployments, auto scaling and recent events
    Status(commands::status::StatusArgs),
    /// Register the task definition (unless unchanged), update or create the service, and wait
    Deploy(commands::deploy::DeployArgs),
    /// Change the desired count (deploy without a new task definition or service changes)
    Scale(commands::deploy::ScaleArgs),
    /// Start a new deployment of the current task definition
    Refresh(commands::deploy::RefreshArgs),
    /// Wait for the service's current deployment to complete
    Wait(commands::deploy::WaitArgs),
    /// Answer a PAUSE lifecycle hook of the service deployment in progress (CONTINUE, or --rollback)
    Continue(commands::native::ContinueArgs),
    /// Go back to the previous task definition revision
    Rollback(commands::deploy::RollbackArgs),
    /// Register the task definition
    Register(commands::lifecycle::RegisterArgs),
    /// Deregister (and optionally delete) task definition revisions not in use
    Deregister(commands::lifecycle::DeregisterArgs),
    /// List the task definition revisions of the family, or show one
    Revisions(commands::lifecycle::RevisionsArgs),
    /// Delete the service
    Delete(commands::lifecycle::DeleteArgs),
    /// Remove the service's deploy lock by hand (gated and audited; only the lock that was read)
    Unlock(commands::unlock::UnlockArgs),
    /// Print the CodeDeploy AppSpec for the service
    Appspec(commands::lifecycle::AppspecArgs),
    /// Plugins: what they provide, what they ask for, what they are granted
    #[command(subcommand)]
    Plugin(commands::plugin::PluginCommand),
    /// Print the IAM policy this config needs: cortado's own calls plus every plugin grant
    #[command(name = "iam-policy")]
    IamPolicy,
    /// The gate audit log
    #[command(subcommand)]
    Audit(commands::audit::AuditCommand),
    /// Signed evidence (in-toto Statement in a DSSE envelope) written after each gated command
    #[command(subcommand)]
    Evidence(commands::evidence::EvidenceCommand),
    /// Check every resource the definitions refer to, and run the verifier plugins
    Verify(commands::verify::VerifyArgs),
    /// Run a one-off task, tail its logs and exit with its container's exit code
    Run(commands::run::RunArgs),
    /// The tasks of the service (or of the task definition family): list, find, stop, trace, logs
    Tasks(commands::tasks::TasksArgs),
    /// ECS Exec into a task's container, or forward a port (needs session-manager-plugin)
    Exec(commands::exec::ExecArgs),
    /// Many services as one release: a stack file's members planned, gated, locked and applied in `needs` order
    #[command(subcommand)]
    Stack(commands::stack::StackCommand),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish)
    #[command(after_help = commands::docs::COMPLETION_HELP)]
    Completion(commands::docs::CompletionArgs),
    /// Print the man page (roff), or write one page per command into a directory
    Man(commands::docs::ManArgs),
    /// The manual in the binary as sections (guide pages and command reference): list, index, search, JSON for agents
    Docs(commands::manual::DocsArgs),
    /// Agent skills: install the cortado skill file (.agents/skills/cortado/SKILL.md)
    #[command(subcommand)]
    Skills(commands::skills::SkillsCommand),
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
        Command::Stack(commands::stack::StackCommand::Deploy(a)) => &mut a.output,
        Command::Stack(commands::stack::StackCommand::Rollback(a)) => &mut a.output,
        Command::Verify(a) => {
            a.output = commands::verify::VerifyOutput::Json;
            return;
        }
        Command::Appspec(a) => {
            a.output = "json".into();
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

/// One line per command: each subcommand's file turns its own options into calls.
async fn dispatch(command: Command, globals: crate::context::Globals, env: crate::env::Env) -> Result<()> {
    match command {
        Command::Version => {
            println!("cortado {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Completion(a) => commands::docs::completion(a.shell),
        Command::Man(a) => a.exec(),
        Command::Docs(a) => a.exec(),
        Command::Skills(c) => c.exec(&env),
        Command::Stack(c) => commands::stack::run(c, globals, env).await,
        Command::Init(a) => commands::init::run(&globals, env, a).await,
        Command::Render(a) => a.exec(globals, env),
        Command::Diff(a) => a.exec(globals, env).await,
        Command::Status(a) => a.exec(globals, env).await,
        Command::Plugin(c) => c.exec(globals, env),
        Command::Evidence(c) => c.exec(&globals).await,
        Command::Audit(c) => c.exec(&globals).await,
        Command::Deploy(a) => a.exec(globals, env).await,
        Command::Scale(a) => a.exec(globals, env).await,
        Command::Refresh(a) => a.exec(globals, env).await,
        Command::Wait(a) => a.exec(globals, env).await,
        Command::Continue(a) => a.exec(globals, env).await,
        Command::Rollback(a) => a.exec(globals, env).await,
        Command::Register(a) => a.exec(globals, env).await,
        Command::Deregister(a) => a.exec(globals, env).await,
        Command::Revisions(a) => a.exec(globals, env).await,
        Command::Delete(a) => a.exec(globals, env).await,
        Command::Unlock(a) => a.exec(globals, env).await,
        Command::Appspec(a) => a.exec(globals, env).await,
        Command::IamPolicy => commands::iam_policy::exec(globals, env),
        Command::Verify(a) => a.exec(globals, env).await,
        Command::Run(a) => a.exec(globals, env).await,
        Command::Tasks(a) => a.exec(globals, env).await,
        Command::Exec(a) => a.exec(globals, env).await,
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
