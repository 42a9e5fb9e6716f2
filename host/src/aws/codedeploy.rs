//! CodeDeploy discovery: which application and deployment group deploy an ECS service.

use anyhow::Result;
use aws_sdk_codedeploy::types::ComputePlatform;

use super::SdkContext;
use crate::config::CodeDeployConfig;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentTarget {
    pub application: String,
    pub deployment_group: String,
    pub deployment_config: Option<String>,
}

/// Finds the (application, deployment group) whose ECS services include `cluster`/`service`.
/// Config keys skip the listing calls (ecspresso #403: throttling on accounts with many apps).
pub async fn find(client: &aws_sdk_codedeploy::Client, hint: Option<&CodeDeployConfig>, cluster: &str, service: &str) -> Result<Option<DeploymentTarget>> {
    let apps: Vec<String> = match hint.and_then(|h| h.application_name.clone()) {
        Some(a) => vec![a],
        None => {
            let mut names = Vec::new();
            let mut pages = client.list_applications().into_paginator().send();
            while let Some(page) = pages.next().await {
                names.extend(page.sdk_context(|| "listing CodeDeploy applications".into())?.applications().iter().cloned());
            }
            let mut ecs_apps = Vec::new();
            for chunk in names.chunks(100) {
                let out = client
                    .batch_get_applications()
                    .set_application_names(Some(chunk.to_vec()))
                    .send()
                    .await
                    .sdk_context(|| "reading CodeDeploy applications".into())?;
                for a in out.applications_info() {
                    if a.compute_platform() == Some(&ComputePlatform::Ecs) {
                        ecs_apps.extend(a.application_name().map(str::to_owned));
                    }
                }
            }
            ecs_apps
        }
    };
    for app in apps {
        let groups: Vec<String> = match hint.and_then(|h| h.deployment_group_name.clone()) {
            Some(g) => vec![g],
            None => {
                let mut names = Vec::new();
                let mut pages = client.list_deployment_groups().application_name(&app).into_paginator().send();
                while let Some(page) = pages.next().await {
                    names.extend(page.sdk_context(|| format!("listing deployment groups of {app}"))?.deployment_groups().iter().cloned());
                }
                names
            }
        };
        for chunk in groups.chunks(100) {
            let out = client
                .batch_get_deployment_groups()
                .application_name(&app)
                .set_deployment_group_names(Some(chunk.to_vec()))
                .send()
                .await
                .sdk_context(|| format!("reading deployment groups of {app}"))?;
            for g in out.deployment_groups_info() {
                let matches = g
                    .ecs_services()
                    .iter()
                    .any(|s| s.service_name() == Some(service) && s.cluster_name().is_some_and(|c| c == cluster || c.ends_with(&format!("/{cluster}"))));
                if matches {
                    return Ok(Some(DeploymentTarget {
                        application: app.clone(),
                        deployment_group: g.deployment_group_name().unwrap_or_default().to_owned(),
                        deployment_config: hint.and_then(|h| h.deployment_config_name.clone()).or_else(|| g.deployment_config_name().map(str::to_owned)),
                    }));
                }
            }
        }
    }
    Ok(None)
}
