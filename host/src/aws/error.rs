//! AWS call errors that keep what matters for deciding what to do next: the service's error code,
//! the HTTP status, and whether the failure is transient (worth another try) or may have been
//! applied although no answer came back (a lost response).

use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::http::Response as HttpResponse;

/// What kind of failure an AWS call met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The service refused the request because of its rate: nothing was applied.
    Throttling,
    /// A 5xx answer: the request may or may not have been applied.
    Server,
    /// No (complete) answer: a timeout, a reset connection, a truncated response. May have been applied.
    NoAnswer,
    /// Any other error: the service said no (validation, access, not found).
    Refused,
}

/// One failed AWS call, as cortado reports and classifies it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct AwsError {
    pub code: Option<String>,
    pub status: Option<u16>,
    pub fault: Fault,
    pub message: String,
}

/// Error codes AWS services use for rate limiting (the SDK's own list, and a few more).
const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

impl AwsError {
    /// Worth another try: throttling, a 5xx, or no answer.
    pub fn is_transient(&self) -> bool {
        self.fault != Fault::Refused
    }

    /// The request may have taken effect although cortado did not get the answer.
    pub fn maybe_applied(&self) -> bool {
        matches!(self.fault, Fault::Server | Fault::NoAnswer)
    }

    pub fn from_sdk<E: ProvideErrorMetadata + std::error::Error + 'static>(err: &SdkError<E, HttpResponse>) -> AwsError {
        let mut message = super::describe_error(err);
        // An error the SDK does not model prints as `unhandled error (X): Error { code: .. }`:
        // say it as a modelled one reads, `service error: X: message`.
        if let SdkError::ServiceError(ctx) = err
            && message.contains("unhandled error (")
            && let Some(code) = ctx.err().code()
        {
            message = format!("service error: {code}: {}", ctx.err().message().unwrap_or(""));
        }
        let (code, status, fault) = match err {
            SdkError::ServiceError(ctx) => {
                let code = ctx.err().code().map(str::to_owned);
                let status = ctx.raw().status().as_u16();
                (code.clone(), Some(status), classify(code.as_deref(), status))
            }
            SdkError::DispatchFailure(d) if d.is_user() => (None, None, Fault::Refused),
            SdkError::ConstructionFailure(_) => (None, None, Fault::Refused),
            SdkError::ResponseError(r) => (None, Some(r.raw().status().as_u16()), Fault::NoAnswer),
            _ => (None, None, Fault::NoAnswer),
        };
        AwsError { code, status, fault, message }
    }

    /// The first AwsError in an error's chain.
    pub fn find(err: &anyhow::Error) -> Option<&AwsError> {
        err.chain().find_map(|e| e.downcast_ref::<AwsError>())
    }
}

fn classify(code: Option<&str>, status: u16) -> Fault {
    match code {
        Some(c) if THROTTLING.contains(&c) => Fault::Throttling,
        _ if status == 429 => Fault::Throttling,
        _ if status >= 500 => Fault::Server,
        Some("ServerException" | "ServiceUnavailable" | "ServiceUnavailableException" | "InternalFailure" | "InternalError") => Fault::Server,
        _ => Fault::Refused,
    }
}

/// Whether an error (anywhere in its chain) is a transient AWS failure or a timeout of cortado's own.
pub fn is_transient(err: &anyhow::Error) -> bool {
    AwsError::find(err).is_some_and(AwsError::is_transient) || err.chain().any(|e| e.is::<tokio::time::error::Elapsed>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_are_classified() {
        assert_eq!(classify(Some("ThrottlingException"), 400), Fault::Throttling);
        assert_eq!(classify(None, 429), Fault::Throttling);
        assert_eq!(classify(Some("ServerException"), 500), Fault::Server);
        assert_eq!(classify(None, 503), Fault::Server);
        assert_eq!(classify(Some("ClientException"), 400), Fault::Refused);
        assert_eq!(classify(Some("AccessDeniedException"), 400), Fault::Refused);
    }
}
