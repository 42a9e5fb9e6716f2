//! `cortado render config|servicedef|taskdef`: what cortado reads, after templates and Jsonnet.

use std::io::Write;

use anyhow::Result;

use super::App;
use crate::context::Globals;
use crate::definitions::to_pretty_json;
use crate::env::Env;
use crate::output::jsonnet_fmt;

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
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
    /// The express definition (ECS Express mode)
    #[value(name = "expressdef", alias = "express-definition")]
    Expressdef,
}

#[derive(clap::Args, Debug)]
pub struct RenderArgs {
    /// What to render, in order
    #[arg(required = true, value_enum)]
    pub targets: Vec<RenderTarget>,
    /// Print as Jsonnet
    #[arg(long)]
    pub jsonnet: bool,
}

impl RenderArgs {
    /// `cortado render`: the config loaded as every command loads it, then printed.
    pub fn exec(self, globals: Globals, env: Env) -> Result<()> {
        let app = App::load(globals, env)?;
        run(&app, self)
    }
}

pub fn run(app: &App, args: RenderArgs) -> Result<()> {
    // Render everything first, so that a bad file prints nothing half-done.
    let mut out = String::new();
    for target in args.targets {
        let text = match target {
            RenderTarget::Config => {
                if args.jsonnet {
                    jsonnet_fmt::format(&app.config.to_render_json())
                } else {
                    app.config.to_render_yaml()?
                }
            }
            RenderTarget::Servicedef => {
                let path = app.service_definition_path()?;
                let v = app.renderer().service_definition(path, app.config.service.as_deref())?;
                if args.jsonnet { jsonnet_fmt::format(&v) } else { to_pretty_json(&v) }
            }
            RenderTarget::Daemondef => super::daemon::render(app, false)?,
            RenderTarget::Daemontaskdef => super::daemon::render(app, true)?,
            RenderTarget::Expressdef => super::express::render(app, args.jsonnet)?,
            RenderTarget::Taskdef => {
                let path = app.task_definition_path()?;
                let v = app.renderer().task_definition(path)?;
                if args.jsonnet { jsonnet_fmt::format(&v) } else { to_pretty_json(&v) }
            }
        };
        out.push_str(&text);
    }
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    Ok(())
}
