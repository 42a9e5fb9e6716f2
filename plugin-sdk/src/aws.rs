//! Read-only AWS calls that the host makes on the plugin's behalf, each only within the grants the
//! operator gave this plugin. The plugin never sees credentials.
//!
//! Declare what you call in the manifest ([`crate::Manifest::capability`]), e.g.
//! `ssm:GetParameter`, `secretsmanager:DescribeSecret`, `secretsmanager:GetSecretValue`,
//! `s3:GetObject`, `cloudformation:DescribeStacks`, `cloudformation:ListExports`.

pub use crate::bindings::cortado::plugin::aws::{AwsError, Parameter, SecretDescription, SecretValue, StackExport, StackOutput};

impl AwsError {
    /// The host's message, whatever the kind.
    pub fn message(&self) -> &str {
        match self {
            AwsError::Denied(m) | AwsError::NotFound(m) | AwsError::Failed(m) => m,
        }
    }

    /// The operator's grants do not cover the call; nothing was sent to AWS.
    pub fn is_denied(&self) -> bool {
        matches!(self, AwsError::Denied(_))
    }

    /// The resource does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, AwsError::NotFound(_))
    }
}

/// `ssm:GetParameter`. Types are `String`, `StringList` and `SecureString`.
pub fn ssm_get_parameter(name: &str, with_decryption: bool) -> Result<Parameter, AwsError> {
    crate::sys::ssm_get_parameter(name, with_decryption)
}

/// `ssm:GetParameters`: the parameters found, and the names that were not.
pub fn ssm_get_parameters(names: &[String], with_decryption: bool) -> Result<(Vec<Parameter>, Vec<String>), AwsError> {
    crate::sys::ssm_get_parameters(names, with_decryption)
}

/// `secretsmanager:DescribeSecret` (by name or ARN): the secret's full ARN and name.
pub fn secretsmanager_describe_secret(secret_id: &str) -> Result<SecretDescription, AwsError> {
    crate::sys::secretsmanager_describe_secret(secret_id)
}

/// `secretsmanager:GetSecretValue` (by name or ARN).
pub fn secretsmanager_get_secret_value(secret_id: &str) -> Result<SecretValue, AwsError> {
    crate::sys::secretsmanager_get_secret_value(secret_id)
}

/// `s3:GetObject`: the whole object.
pub fn s3_get_object(bucket: &str, key: &str) -> Result<Vec<u8>, AwsError> {
    crate::sys::s3_get_object(bucket, key)
}

/// A Terraform state fetched by the host: `remote://HOST/ORG/WORKSPACE` (Terraform Cloud / HCP
/// Terraform; grant `tfc:ReadState`) or an `http(s)://` URL (grant `http:Get` on a URL prefix). The
/// host holds the token (`TFE_TOKEN`, …); the plugin only ever sees the state.
///
/// Until the WIT contract has its own import for it, this rides on `s3-get-object` with an empty
/// bucket (no S3 bucket can be named so), which the host routes to its URL broker.
pub fn fetch_state(url: &str) -> Result<Vec<u8>, AwsError> {
    crate::sys::s3_get_object("", url)
}

/// `cloudformation:DescribeStacks` for one stack (name or ID): its outputs.
pub fn cloudformation_describe_stack_outputs(stack_name: &str) -> Result<Vec<StackOutput>, AwsError> {
    crate::sys::cloudformation_describe_stack_outputs(stack_name)
}

/// `cloudformation:ListExports`, every page.
pub fn cloudformation_list_exports() -> Result<Vec<StackExport>, AwsError> {
    crate::sys::cloudformation_list_exports()
}
