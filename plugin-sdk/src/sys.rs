//! Every host import in one place: the real imports on wasm32, the [`crate::testing`] mock elsewhere.

use crate::Level;
use crate::aws::{AwsError, Parameter, SecretDescription, SecretValue, StackExport, StackOutput};
use crate::metrics::{MetricQuery, MetricResult, TargetHealth};
use crate::registry::ImageManifest;

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::*;
    use crate::bindings::cortado::plugin::{aws, host, metrics, registry};

    pub fn log(level: Level, message: &str) {
        host::log(level, message)
    }
    pub fn config() -> String {
        host::config()
    }
    pub fn ssm_get_parameter(name: &str, with_decryption: bool) -> Result<Parameter, AwsError> {
        aws::ssm_get_parameter(name, with_decryption)
    }
    pub fn ssm_get_parameters(names: &[String], with_decryption: bool) -> Result<(Vec<Parameter>, Vec<String>), AwsError> {
        aws::ssm_get_parameters(names, with_decryption)
    }
    pub fn secretsmanager_describe_secret(secret_id: &str) -> Result<SecretDescription, AwsError> {
        aws::secretsmanager_describe_secret(secret_id)
    }
    pub fn secretsmanager_get_secret_value(secret_id: &str) -> Result<SecretValue, AwsError> {
        aws::secretsmanager_get_secret_value(secret_id)
    }
    pub fn s3_get_object(bucket: &str, key: &str) -> Result<Vec<u8>, AwsError> {
        aws::s3_get_object(bucket, key)
    }
    pub fn cloudformation_describe_stack_outputs(stack_name: &str) -> Result<Vec<StackOutput>, AwsError> {
        aws::cloudformation_describe_stack_outputs(stack_name)
    }
    pub fn cloudformation_list_exports() -> Result<Vec<StackExport>, AwsError> {
        aws::cloudformation_list_exports()
    }
    pub fn cloudwatch_get_metric_data(queries: &[MetricQuery], start: i64, end: i64) -> Result<Vec<MetricResult>, AwsError> {
        metrics::cloudwatch_get_metric_data(queries, start, end)
    }
    pub fn elbv2_describe_target_health(target_group_arn: &str) -> Result<Vec<TargetHealth>, AwsError> {
        metrics::elbv2_describe_target_health(target_group_arn)
    }
    pub fn registry_manifest(reference: &str) -> Result<ImageManifest, AwsError> {
        registry::registry_manifest(reference)
    }
    pub fn registry_blob(repository: &str, digest: &str) -> Result<Vec<u8>, AwsError> {
        registry::registry_blob(repository, digest)
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::*;
    use crate::testing::with_mock;

    pub fn log(level: Level, message: &str) {
        with_mock(|m| m.logs.push((level, message.to_owned())))
    }
    pub fn config() -> String {
        with_mock(|m| m.config.clone())
    }
    pub fn ssm_get_parameter(name: &str, with_decryption: bool) -> Result<Parameter, AwsError> {
        with_mock(|m| m.ssm_get_parameter(name, with_decryption))
    }
    pub fn ssm_get_parameters(names: &[String], with_decryption: bool) -> Result<(Vec<Parameter>, Vec<String>), AwsError> {
        with_mock(|m| m.ssm_get_parameters(names, with_decryption))
    }
    pub fn secretsmanager_describe_secret(secret_id: &str) -> Result<SecretDescription, AwsError> {
        with_mock(|m| m.secretsmanager_describe_secret(secret_id))
    }
    pub fn secretsmanager_get_secret_value(secret_id: &str) -> Result<SecretValue, AwsError> {
        with_mock(|m| m.secretsmanager_get_secret_value(secret_id))
    }
    pub fn s3_get_object(bucket: &str, key: &str) -> Result<Vec<u8>, AwsError> {
        with_mock(|m| m.s3_get_object(bucket, key))
    }
    pub fn cloudformation_describe_stack_outputs(stack_name: &str) -> Result<Vec<StackOutput>, AwsError> {
        with_mock(|m| m.cloudformation_describe_stack_outputs(stack_name))
    }
    pub fn cloudformation_list_exports() -> Result<Vec<StackExport>, AwsError> {
        with_mock(|m| m.cloudformation_list_exports())
    }
    pub fn cloudwatch_get_metric_data(queries: &[MetricQuery], start: i64, end: i64) -> Result<Vec<MetricResult>, AwsError> {
        with_mock(|m| m.cloudwatch_get_metric_data(queries, start, end))
    }
    pub fn elbv2_describe_target_health(target_group_arn: &str) -> Result<Vec<TargetHealth>, AwsError> {
        with_mock(|m| m.elbv2_describe_target_health(target_group_arn))
    }
    pub fn registry_manifest(reference: &str) -> Result<ImageManifest, AwsError> {
        with_mock(|m| m.registry_manifest(reference))
    }
    pub fn registry_blob(repository: &str, digest: &str) -> Result<Vec<u8>, AwsError> {
        with_mock(|m| m.registry_blob(repository, digest))
    }
}

pub(crate) use imp::*;
