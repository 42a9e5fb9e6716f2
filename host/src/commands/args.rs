//! Option groups several subcommands flatten into their own `Args` (cargo's `command_prelude`):
//! gate overrides, `--output`, auto scaling, and `--dry-run`/`--no-wait`/`--wait-until`.

/// `--override GATE --reason TEXT`, for soft-mandatory gates.
#[derive(clap::Args, Debug, Clone, Default)]
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

#[derive(clap::Args, Debug, Clone, Default)]
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

#[derive(clap::Args, Debug, Clone, Default)]
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
#[derive(clap::Args, Debug, Clone, Default)]
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
    /// deployed (the deployment is SUCCESSFUL, the default), stable (and the service steady),
    /// paused (a BLUE_GREEN/LINEAR/CANARY deployment waits at a PAUSE hook: answer it with
    /// `cortado continue`), ecs:<STAGE> (such a deployment reached that lifecycle stage), or
    /// codedeploy:<EVENT> (a CodeDeploy deployment's lifecycle event, e.g. AfterAllowTestTraffic,
    /// Succeeded or was Skipped; the deployment goes on without cortado)
    #[arg(long = "wait-until", value_name = "deployed|stable|paused|ecs:STAGE|codedeploy:EVENT")]
    pub wait_until: Option<String>,
}

impl ChangeArgs {
    /// The change these flags, the gate overrides and `--output` ask for.
    pub fn change(&self, gates: &GateArgs, output: &OutputArgs) -> super::deploy::Change {
        super::deploy::Change {
            dry_run: self.dry_run,
            wait: !self.no_wait,
            overrides: gates.to_overrides(),
            json: output.json(),
            wait_until: self.wait_until.clone(),
        }
    }
}

/// A command that changes something but has no --no-wait or --output: its --dry-run and gates.
pub fn simple_change(dry_run: bool, gates: &GateArgs) -> super::deploy::Change {
    super::deploy::Change { dry_run, wait: true, overrides: gates.to_overrides(), json: false, wait_until: None }
}
