//! `cortado render config|servicedef|taskdef`: what cortado reads, after templates and Jsonnet.

use std::io::Write;

use anyhow::Result;

use super::App;
use crate::cli::{RenderArgs, RenderTarget};
use crate::definitions::to_pretty_json;
use crate::output::jsonnet_fmt;

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
