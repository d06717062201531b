//! The port through which a run over a tag's tables hands the rest to a new invocation of this
//! very function ([`crate::run`]'s `continued`): Lambda's Invoke with `InvocationType` `Event`.
//! Lambda queues the event and answers 202 at once; it may deliver a queued event more than once
//! and retries a failed invocation (twice unless configured otherwise), which the logical run's
//! state absorbs (each part claimed once).

use std::future::Future;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use serde_json::Value;

use crate::error::{AwsError, AwsResult};

/// Invokes this function again, asynchronously, with an event.
pub trait Continuer: Send + Sync {
    /// Whether a run may hand its rest on at all (else it does what one invocation can).
    fn available(&self) -> bool {
        true
    }

    /// Queues an asynchronous invocation of the function with `event`.
    fn invoke_async(&self, event: &Value) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// No continuations: a run over a tag does what one invocation can, and the tables it had no
/// time for fail (`NoTimeLeft`) and wait for the next scheduled run.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoContinuer;

impl Continuer for NoContinuer {
    fn available(&self) -> bool {
        false
    }

    async fn invoke_async(&self, _: &Value) -> Result<(), AwsError> {
        Err(AwsError::malformed(
            "Invoke",
            "this function",
            "this function was started without a way to continue its runs",
        ))
    }
}

/// [`Continuer`] over the Lambda API: the function named by Lambda's own
/// `AWS_LAMBDA_FUNCTION_NAME` (the role may invoke only that function).
#[derive(Debug, Clone)]
pub struct LambdaContinuer {
    client: aws_sdk_lambda::Client,
    function: String,
}

impl LambdaContinuer {
    /// Invokes `function` (this function's name) through `client`.
    pub fn new(client: aws_sdk_lambda::Client, function: &str) -> Self {
        Self {
            client,
            function: function.to_owned(),
        }
    }
}

impl Continuer for LambdaContinuer {
    fn available(&self) -> bool {
        !self.function.is_empty()
    }

    async fn invoke_async(&self, event: &Value) -> Result<(), AwsError> {
        let payload = serde_json::to_vec(event).unwrap_or_default();
        let out = self
            .client
            .invoke()
            .function_name(&self.function)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(payload))
            .send()
            .await
            .aws("Invoke", &self.function)?;
        // Invoke (API reference): "For asynchronous invocation, Lambda adds events to a queue
        // before sending them to your function ... the status code is 202".
        if out.status_code() != 202 {
            return Err(AwsError::malformed(
                "Invoke",
                &self.function,
                &format!(
                    "an asynchronous invocation answered {} instead of 202",
                    out.status_code()
                ),
            ));
        }
        Ok(())
    }
}

impl<C: Continuer> Continuer for &C {
    fn available(&self) -> bool {
        (**self).available()
    }

    fn invoke_async(&self, event: &Value) -> impl Future<Output = Result<(), AwsError>> + Send {
        (**self).invoke_async(event)
    }
}
