//! `cortado status`: the service, its deployments, auto scaling and recent events.

use std::fmt::Write as _;

use anyhow::{Context, Result};
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};

use super::App;
use crate::aws::{SdkContext, ecs};
use crate::context::Globals;
use crate::env::Env;

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// How many recent service events to show
    #[arg(long, default_value_t = 10)]
    pub events: usize,
    /// `json` prints one JSON object (the service as DescribeServices returns it, its events cut to
    /// --events; for an Express service or a daemon, what the text shows) for machines
    #[arg(long, value_parser = ["text", "json"], default_value = "text")]
    pub output: String,
}

impl StatusArgs {
    /// `cortado status`: a daemon config shows its daemon, any other its service.
    pub async fn exec(self, globals: Globals, env: Env) -> Result<()> {
        let app = App::load(globals, env)?;
        if super::daemon::is_daemon(&app) {
            return super::daemon::status(&app, self.json()).await;
        }
        if super::express::is_express(&app) {
            return super::express::status(&app, self.events, self.json()).await;
        }
        run(&app, self).await
    }
}

impl StatusArgs {
    fn json(&self) -> bool {
        self.output == "json"
    }
}

pub async fn run(app: &App, args: StatusArgs) -> Result<()> {
    let service = app.config.service.clone().ok_or_else(|| crate::error::InputError::in_file(&app.config.path, "service is not defined"))?;
    let aws = app.aws().await?;
    let sv = ecs::describe_service(&aws.ecs(), &app.config.cluster, &service)
        .await?
        .with_context(|| format!("service {service} is not found in cluster {}", app.config.cluster))?;
    if args.json() {
        return print_json(&serde_json::json!({"cluster": app.config.cluster, "service": with_events(&sv, args.events)}));
    }
    let mut out = crate::output::status::format_service(&sv, &app.config.cluster, args.events);
    match autoscaling(&aws, &app.config.cluster, &service).await {
        Ok(text) => out.insert_str(out.find("Events:").unwrap_or(out.len()), &text),
        Err(e) => tracing::warn!("cannot read auto scaling: {e:#}"),
    }
    if crate::aws::controller::Controller::of(&sv) == crate::aws::controller::Controller::Ecs {
        match crate::aws::deployments::newest(&aws.ecs(), &app.config.cluster, &service).await {
            Ok(Some(d)) => out.insert_str(out.find("Events:").unwrap_or(out.len()), &crate::output::status::format_service_deployment(&d)),
            Ok(None) => {}
            Err(e) => tracing::warn!("cannot read the service deployments: {e:#}"),
        }
    }
    print!("{out}");
    Ok(())
}

/// The service with only its newest `events` events.
fn with_events(sv: &serde_json::Value, events: usize) -> serde_json::Value {
    let mut sv = sv.clone();
    let newest: Vec<serde_json::Value> = crate::output::status::newest_events(&sv, events).into_iter().cloned().collect();
    if let Some(o) = sv.as_object_mut() {
        o.insert("events".into(), newest.into());
    }
    sv
}

/// `status --output json`: one pretty JSON object and a newline.
pub fn print_json(v: &serde_json::Value) -> Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, v)?;
    stdout.write_all(b"\n")?;
    Ok(())
}

async fn autoscaling(aws: &crate::aws::Aws, cluster: &str, service: &str) -> Result<String> {
    let client = aws.autoscaling();
    let (resource, targets) = crate::plan::autoscaling::scalable_targets(aws, cluster, service).await?;
    let mut out = String::new();
    for t in &targets {
        out.push_str("AutoScaling:\n");
        let _ = writeln!(out, "  Capacity min:{} max:{}", t.min_capacity(), t.max_capacity());
        if let Some(s) = t.suspended_state() {
            let _ = writeln!(
                out,
                "  Suspended in:{} out:{} scheduled:{}",
                s.dynamic_scaling_in_suspended().unwrap_or(false),
                s.dynamic_scaling_out_suspended().unwrap_or(false),
                s.scheduled_scaling_suspended().unwrap_or(false)
            );
        }
        let policies = client
            .describe_scaling_policies()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(&resource)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .send()
            .await
            .sdk_context(|| "describing scaling policies".into())?;
        for p in policies.scaling_policies() {
            let _ = writeln!(out, "  Policy name:{} type:{}", p.policy_name(), p.policy_type().as_str());
        }
    }
    Ok(out)
}
