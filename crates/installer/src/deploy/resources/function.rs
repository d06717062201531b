//! The Lambda function `<stack>`: `provided.al2023`, handler `bootstrap`, the deployment zip,
//! the retention settings as environment variables, reserved concurrency sized to the scheduled
//! targets (one per table, at most ten at once, so that a run of one table never overlaps
//! another run of itself yet the tables need not queue behind each other), and no retries of a
//! failed asynchronous invocation.
//!
//! EventBridge invokes the function asynchronously, and "if the function returns an error, by
//! default Lambda attempts to run it two more times ... Function errors include errors returned
//! by the function's code and errors returned by the function's runtime, such as timeouts"
//! (Lambda developer guide, "How Lambda handles errors and retries with asynchronous
//! invocation"). A run over many tables that fails for one would run all of them three times,
//! so `up` sets MaximumRetryAttempts 0 (PutFunctionEventInvokeConfig; the next scheduled run is
//! the retry) and MaximumEventAgeInSeconds to the schedule's interval (60 to 21,600 s): an event
//! older than that is superseded by the next firing.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_lambda::client::Waiters;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Architecture, Environment, FunctionCode, Runtime};

use backup_lambda::naming::StackName;
use backup_lambda::ownership::{ADOPTED_UNTIL_VAR, Ownership};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::aws::{Aws, AwsError, AwsResult};
use crate::build::arch::Arch;
use crate::build::package::Package;
use crate::deploy::plan::{Change, Kind, compare};
use crate::deploy::resources::{Resource, Tags, absent_if, is_ours};

/// The function, as a [`Resource`].
pub struct Function;

fields! {
    /// The deployed zip.
    Code => "code",
    /// Its CPU architecture (set with the zip, by the same UpdateFunctionCode).
    Architecture => "architecture",
    /// Runtime, handler, role, memory, timeout and environment.
    Configuration => "configuration",
    /// Reserved concurrency.
    Concurrency => "concurrency",
    /// Retries and event age of asynchronous invocations.
    AsyncInvoke => "async invocation",
}

impl Resource for Function {
    const KIND: Kind = Kind::Function;
    type Desired = Desired;
    type Observed = Option<Observed>;
    type Field = Field;

    fn name(desired: &Desired) -> &str {
        &desired.name
    }

    /// Reads the function's configuration, tags and concurrency.
    async fn observe(aws: &Aws, desired: &Desired) -> Result<Option<Observed>, AwsError> {
        let name = desired.name.as_str();
        let Some(out) = absent_if(
            aws.lambda
                .get_function()
                .function_name(name)
                .send()
                .await
                .aws("GetFunction", name),
            &["ResourceNotFoundException"],
        )?
        else {
            return Ok(None);
        };
        let config = out
            .configuration()
            .ok_or_else(|| AwsError::malformed("GetFunction", name, "no Configuration"))?;
        Ok(Some(Observed {
            arn: config.function_arn().unwrap_or_default().to_owned(),
            code_sha256: config.code_sha256().unwrap_or_default().to_owned(),
            arch: config.architectures().first().and_then(|a| match a {
                Architecture::X8664 => Some(Arch::X86_64),
                Architecture::Arm64 => Some(Arch::Arm64),
                _ => None,
            }),
            memory: config.memory_size(),
            timeout: config.timeout(),
            role_arn: config.role().map(str::to_owned),
            runtime_ok: config.runtime() == Some(&Runtime::Providedal2023)
                && config.handler() == Some("bootstrap"),
            environment: config
                .environment()
                .and_then(|e| e.variables())
                .cloned()
                .unwrap_or_default(),
            concurrency: out
                .concurrency()
                .and_then(|c| c.reserved_concurrent_executions()),
            tags: out.tags().cloned().unwrap_or_default(),
            async_invoke: observe_async_invoke(aws, name).await?,
        }))
    }

    /// What `up` does to the function.
    fn diff(desired: &Desired, observed: &Option<Observed>) -> Change<Field> {
        let observed = observed.as_ref();
        match observed {
            None => Change::Create,
            Some(o) if !is_ours(&o.tags, &desired.tags) => Change::Conflict(format!(
                "Lambda function {} exists and is not this stack's; delete it or choose another --stack",
                desired.name
            )),
            Some(o) => compare(&[
                (
                    Field::Code,
                    desired
                        .zip
                        .as_ref()
                        .is_some_and(|zip| zip.code_sha256() != o.code_sha256),
                ),
                (Field::Architecture, o.arch != Some(desired.arch)),
                (
                    Field::Configuration,
                    o.memory != Some(desired.memory)
                        || o.timeout != Some(desired.timeout)
                        || o.role_arn.as_deref() != Some(desired.role_arn.as_str())
                        || !o.runtime_ok
                        || o.environment != desired.environment,
                ),
                (
                    Field::Concurrency,
                    desired
                        .concurrency
                        .is_some_and(|c| o.concurrency != Some(c)),
                ),
                (
                    Field::AsyncInvoke,
                    o.async_invoke != Some(desired.async_invoke),
                ),
            ]),
        }
    }

    /// Creates or updates the function as `change` says.
    async fn apply(
        aws: &Aws,
        desired: &Desired,
        _: &Option<Observed>,
        change: &Change<Field>,
    ) -> Result<(), AwsError> {
        let name = desired.name.as_str();
        let zip = || {
            desired
                .zip
                .as_ref()
                .map(|z| z.bytes.clone())
                .ok_or_else(|| AwsError::malformed("CreateFunction", name, "no deployment zip"))
        };
        let fields: Vec<Field> = match change {
            Change::Create => {
                create(aws, desired, &zip()?).await?;
                if desired.concurrency.is_some() {
                    vec![Field::Concurrency, Field::AsyncInvoke]
                } else {
                    vec![Field::AsyncInvoke]
                }
            }
            Change::Update(fields) => fields.clone(),
            Change::Unchanged | Change::UseExisting | Change::Conflict(_) | Change::Delete => {
                Vec::new()
            }
        };
        // The code and the architecture go in one UpdateFunctionCode.
        let mut code_updated = false;
        for field in fields {
            match field {
                Field::Code | Field::Architecture if code_updated => {}
                Field::Code | Field::Architecture => {
                    update_code(aws, desired, zip()?).await?;
                    code_updated = true;
                }
                Field::Configuration => update_configuration(aws, desired).await?,
                Field::Concurrency => {
                    if let Some(concurrency) = desired.concurrency {
                        reserve(aws, name, concurrency).await?;
                    }
                }
                Field::AsyncInvoke => {
                    configure_async_invoke(aws, name, desired.async_invoke).await?
                }
            }
        }
        Ok(())
    }

    /// Deletes the function (already gone is fine).
    async fn delete(aws: &Aws, desired: &Desired) -> Result<(), AwsError> {
        let name = desired.name.as_str();
        absent_if(
            aws.lambda
                .delete_function()
                .function_name(name)
                .send()
                .await
                .aws("DeleteFunction", name),
            &["ResourceNotFoundException"],
        )
        .map(drop)
    }
}

/// How long `up` waits for the function to become Active or finish an update.
const READY_TIMEOUT: Duration = Duration::from_secs(300);
/// How long `up` keeps retrying while IAM has not yet made a new role usable by Lambda.
const ROLE_PROPAGATION: Duration = Duration::from_secs(150);
/// How often it asks meanwhile: propagation usually takes seconds, so polling (rather than
/// backing off) lets `up` go on within a second of the role becoming usable.
const ROLE_POLL: Duration = Duration::from_secs(1);
/// The most executions reserved: beyond ten tables, runs queue a little rather than take more
/// of the account's pool (and DynamoDB's per-account rates, which every instance paces only for
/// itself).
const MAX_CONCURRENCY: i32 = 10;

/// The reserved concurrency for `targets` scheduled targets (tables), all fired at the same
/// moment: one execution each, up to [`MAX_CONCURRENCY`]. With one, the tutorial's stack, runs
/// never overlap; with several, a table's run does not wait for every other table's (with
/// drills waiting up to 30 s each, a queue of runs would drift by minutes, and Lambda drops an
/// event that waited longer than its maximum age).
pub fn concurrency_for(targets: usize) -> i32 {
    i32::try_from(targets)
        .unwrap_or(MAX_CONCURRENCY)
        .clamp(1, MAX_CONCURRENCY)
}

/// How Lambda treats the function's asynchronous invocations (FunctionEventInvokeConfig).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsyncInvoke {
    /// MaximumRetryAttempts: 0 to 2 (Lambda's default when unset: 2).
    pub max_retries: i32,
    /// MaximumEventAgeInSeconds: 60 to 21,600 (Lambda's default when unset: 21,600).
    pub max_event_age_seconds: i32,
}

impl AsyncInvoke {
    /// No retries, and events kept in Lambda's queue for at most one `interval` of the schedule
    /// (within Lambda's 60 s to 6 h; 6 h when the interval is unknown).
    pub fn for_schedule(interval: Option<Duration>) -> Self {
        const MIN: u64 = 60;
        const MAX: u64 = 21_600;
        let age = interval.map_or(MAX, |i| i.as_secs().clamp(MIN, MAX));
        Self {
            max_retries: 0,
            max_event_age_seconds: i32::try_from(age).unwrap_or(i32::MAX),
        }
    }
}

/// The function as the stack wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// The function's name.
    pub name: String,
    /// The execution role's ARN.
    pub role_arn: String,
    /// The deployment zip, when there is one (`down` and `status` need none).
    pub zip: Option<Package>,
    /// The CPU architecture.
    pub arch: Arch,
    /// Memory in MB.
    pub memory: i32,
    /// Timeout in seconds.
    pub timeout: i32,
    /// `MAX_BACKUPS`, `MAX_AGE_DAYS`, `LOG_BUCKET`.
    pub environment: HashMap<String, String>,
    /// The stack's tags.
    pub tags: Tags,
    /// The executions to reserve ([`concurrency_for`]); `None` where the account's concurrency
    /// limit leaves none to reserve, as on new accounts limited to 10.
    pub concurrency: Option<i32>,
    /// Retries and event age of asynchronous (scheduled) invocations.
    pub async_invoke: AsyncInvoke,
}

/// The function as it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Its ARN.
    pub arn: String,
    /// The deployed zip's `CodeSha256`.
    pub code_sha256: String,
    /// Its architecture.
    pub arch: Option<Arch>,
    /// Memory in MB.
    pub memory: Option<i32>,
    /// Timeout in seconds.
    pub timeout: Option<i32>,
    /// Execution role ARN.
    pub role_arn: Option<String>,
    /// Runtime and handler are `provided.al2023` and `bootstrap`.
    pub runtime_ok: bool,
    /// Environment variables.
    pub environment: HashMap<String, String>,
    /// Reserved concurrency, if set.
    pub concurrency: Option<i32>,
    /// Its tags.
    pub tags: Tags,
    /// Its asynchronous invocation settings; `None` when never set (Lambda's defaults: two
    /// retries, six hours).
    pub async_invoke: Option<AsyncInvoke>,
}

/// The stack's ownership of backups: its name, and the adoption of unmarked backups that its
/// function's environment records (`ADOPTED_UNTIL`; none when the function is gone, so that
/// nothing unmarked is ever taken for the stack's by mistake).
pub fn ownership(stack: &StackName, environment: Option<&HashMap<String, String>>) -> Ownership {
    let adopted_until = environment
        .and_then(|e| e.get(ADOPTED_UNTIL_VAR))
        .and_then(|until| OffsetDateTime::parse(until, &Rfc3339).ok());
    Ownership {
        stack: stack.clone(),
        adopted_until,
    }
}

/// [`ownership`] read from the deployed function (GetFunctionConfiguration), for the commands
/// that do not observe the whole stack.
pub async fn read_ownership(aws: &Aws, stack: &StackName) -> Result<Ownership, AwsError> {
    let name = stack.as_str();
    let found = absent_if(
        aws.lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .aws("GetFunctionConfiguration", name),
        &["ResourceNotFoundException"],
    )?;
    let environment = found
        .as_ref()
        .and_then(|f| f.environment())
        .and_then(|e| e.variables());
    Ok(ownership(stack, environment))
}

fn lambda_arch(arch: Arch) -> Architecture {
    match arch {
        Arch::X86_64 => Architecture::X8664,
        Arch::Arm64 => Architecture::Arm64,
    }
}

/// How long one scheduled run of one table takes at most, as planned: the backup, listing and
/// pruning take seconds; a run that starts or checks a drill waits for its restore up to 30 s.
const RUN_ESTIMATE: Duration = Duration::from_secs(5);
/// What a drill adds to a run at most (the function's `DRILL_WAIT`).
const DRILL_ESTIMATE: Duration = Duration::from_secs(30);

/// How long the runs of `targets` tables, fired together, take to drain at `concurrency` at
/// once (`None`: no reservation, which does not bound them; `None` is returned then).
pub fn queue_time(targets: usize, concurrency: Option<i32>, drills: bool) -> Option<Duration> {
    let at_once = usize::try_from(concurrency?).ok()?.max(1);
    let waves = u32::try_from(targets.div_ceil(at_once)).ok()?;
    let run = RUN_ESTIMATE
        + if drills {
            DRILL_ESTIMATE
        } else {
            Duration::ZERO
        };
    Some(run * waves)
}

/// How many more concurrent executions the account can reserve: Lambda keeps at least 100 (or
/// the whole limit, on accounts limited below 100) unreserved (PutFunctionConcurrency, API
/// reference). `None` when unknown, which counts as enough.
pub async fn reservable_concurrency(aws: &Aws) -> Result<Option<i32>, AwsError> {
    let settings = match aws.lambda.get_account_settings().send().await {
        Ok(settings) => settings,
        Err(e) => {
            let err = AwsError::new("GetAccountSettings", aws.account.as_str(), &e);
            tracing::debug!(error = %err, "assuming concurrency can be reserved");
            return Ok(None);
        }
    };
    Ok(settings.account_limit().and_then(|limit| {
        reservable(
            limit.concurrent_executions(),
            limit.unreserved_concurrent_executions(),
        )
    }))
}

/// How many executions can be reserved while leaving the unreserved pool at Lambda's floor: 100,
/// or the whole limit on accounts limited below 100; `None` when the pool is unknown.
fn reservable(limit: i32, unreserved: Option<i32>) -> Option<i32> {
    unreserved.map(|unreserved| (unreserved - limit.min(100)).max(0))
}

/// Whether IAM has not yet made a new role usable by Lambda (eventual consistency).
fn role_not_ready(err: &AwsError) -> bool {
    err.is("InvalidParameterValueException") && err.detail.contains("cannot be assumed")
}

/// Creates the function, retrying while its new role propagates, and waits until it is Active.
async fn create(aws: &Aws, desired: &Desired, zip: &[u8]) -> Result<(), AwsError> {
    let name = desired.name.as_str();
    let started = tokio::time::Instant::now();
    let mut told = false;
    loop {
        let result = aws
            .lambda
            .create_function()
            .function_name(name)
            .runtime(Runtime::Providedal2023)
            .handler("bootstrap")
            .role(&desired.role_arn)
            .code(FunctionCode::builder().zip_file(Blob::new(zip)).build())
            .architectures(lambda_arch(desired.arch))
            .memory_size(desired.memory)
            .timeout(desired.timeout)
            .environment(
                Environment::builder()
                    .set_variables(Some(desired.environment.clone()))
                    .build(),
            )
            .set_tags(Some(desired.tags.clone()))
            .description("Scheduled DynamoDB backups with retention (managed by installer)")
            .send()
            .await
            .aws("CreateFunction", name);
        match result {
            Ok(_) => break,
            // Made by an earlier attempt whose answer was lost: it has this very configuration.
            Err(err)
                if err.is("ResourceConflictException") && err.detail.contains("already exist") =>
            {
                break;
            }
            Err(err) if role_not_ready(&err) && started.elapsed() < ROLE_PROPAGATION => {
                if !told {
                    tracing::info!(
                        "IAM has not yet made the new role usable by Lambda; asking every second"
                    );
                    told = true;
                }
                tokio::time::sleep(ROLE_POLL).await;
            }
            Err(err) => return Err(err),
        }
    }
    aws.lambda
        .wait_until_function_active_v2()
        .function_name(name)
        .wait(READY_TIMEOUT)
        .await
        .map(drop)
        .aws("GetFunction (waiting for Active)", name)
}

/// Waits until no update of the function is in progress.
async fn wait_updated(aws: &Aws, name: &str) -> Result<(), AwsError> {
    aws.lambda
        .wait_until_function_updated_v2()
        .function_name(name)
        .wait(READY_TIMEOUT)
        .await
        .map(drop)
        .aws("GetFunction (waiting for the update)", name)
}

/// Runs an update `call` (waiting and trying again while Lambda says another update is in
/// progress), then waits until the update has settled.
async fn update<F, Fut>(aws: &Aws, name: &str, call: F) -> Result<(), AwsError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), AwsError>>,
{
    let mut tries = 0;
    loop {
        match call().await {
            Err(err) if err.is("ResourceConflictException") && tries < 5 => {
                tries += 1;
                wait_updated(aws, name).await?;
            }
            Err(err) => return Err(err),
            Ok(()) => return wait_updated(aws, name).await,
        }
    }
}

/// Deploys the zip (and its architecture), waiting for the update to settle.
async fn update_code(aws: &Aws, desired: &Desired, zip: Vec<u8>) -> Result<(), AwsError> {
    let name = desired.name.as_str();
    update(aws, name, || async {
        aws.lambda
            .update_function_code()
            .function_name(name)
            .zip_file(Blob::new(zip.clone()))
            .architectures(lambda_arch(desired.arch))
            .send()
            .await
            .map(drop)
            .aws("UpdateFunctionCode", name)
    })
    .await
}

/// Sets runtime, handler, role, memory, timeout and environment, waiting for the update to
/// settle.
async fn update_configuration(aws: &Aws, desired: &Desired) -> Result<(), AwsError> {
    let name = desired.name.as_str();
    update(aws, name, || async {
        aws.lambda
            .update_function_configuration()
            .function_name(name)
            .runtime(Runtime::Providedal2023)
            .handler("bootstrap")
            .role(&desired.role_arn)
            .memory_size(desired.memory)
            .timeout(desired.timeout)
            .environment(
                Environment::builder()
                    .set_variables(Some(desired.environment.clone()))
                    .build(),
            )
            .send()
            .await
            .map(drop)
            .aws("UpdateFunctionConfiguration", name)
    })
    .await
}

/// The function's asynchronous invocation settings (GetFunctionEventInvokeConfig); `None` when
/// none were ever set (ResourceNotFoundException).
async fn observe_async_invoke(aws: &Aws, name: &str) -> Result<Option<AsyncInvoke>, AwsError> {
    let found = absent_if(
        aws.lambda
            .get_function_event_invoke_config()
            .function_name(name)
            .send()
            .await
            .aws("GetFunctionEventInvokeConfig", name),
        &["ResourceNotFoundException"],
    )?;
    Ok(found.map(|c| AsyncInvoke {
        max_retries: c.maximum_retry_attempts().unwrap_or(2),
        max_event_age_seconds: c.maximum_event_age_in_seconds().unwrap_or(21_600),
    }))
}

/// Sets the function's asynchronous invocation settings (PutFunctionEventInvokeConfig, which
/// replaces whatever was set), waiting while another update is in progress.
async fn configure_async_invoke(
    aws: &Aws,
    name: &str,
    wanted: AsyncInvoke,
) -> Result<(), AwsError> {
    update(aws, name, || async {
        aws.lambda
            .put_function_event_invoke_config()
            .function_name(name)
            .maximum_retry_attempts(wanted.max_retries)
            .maximum_event_age_in_seconds(wanted.max_event_age_seconds)
            .send()
            .await
            .map(drop)
            .aws("PutFunctionEventInvokeConfig", name)
    })
    .await
}

/// Reserves `concurrency` executions for the function.
async fn reserve(aws: &Aws, name: &str, concurrency: i32) -> Result<(), AwsError> {
    aws.lambda
        .put_function_concurrency()
        .function_name(name)
        .reserved_concurrent_executions(concurrency)
        .send()
        .await
        .map(drop)
        .aws("PutFunctionConcurrency", name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired() -> Desired {
        Desired {
            name: "stack".into(),
            role_arn: "arn:aws:iam::123456789012:role/stack-role".into(),
            zip: Some(Package::from_bootstrap(b"code").expect("zipped")),
            arch: Arch::X86_64,
            memory: 128,
            timeout: 120,
            environment: HashMap::from([("MAX_BACKUPS".into(), "3".into())]),
            tags: Tags::from([("stack".into(), "stack".into())]),
            concurrency: Some(1),
            async_invoke: AsyncInvoke::for_schedule(Some(Duration::from_secs(86_400))),
        }
    }

    fn deployed(d: &Desired) -> Observed {
        Observed {
            arn: "arn:aws:lambda:us-east-1:123456789012:function:stack".into(),
            code_sha256: d.zip.as_ref().map(Package::code_sha256).unwrap_or_default(),
            arch: Some(d.arch),
            memory: Some(d.memory),
            timeout: Some(d.timeout),
            role_arn: Some(d.role_arn.clone()),
            runtime_ok: true,
            environment: d.environment.clone(),
            concurrency: Some(1),
            tags: d.tags.clone(),
            async_invoke: Some(d.async_invoke),
        }
    }

    #[test]
    fn an_identical_function_needs_nothing() {
        let d = desired();
        assert_eq!(
            Function::diff(&d, &Some(deployed(&d).clone())),
            Change::Unchanged
        );
        assert_eq!(Function::diff(&d, &None), Change::Create);
    }

    #[test]
    fn each_difference_names_only_its_field() {
        let d = desired();
        let mut other_code = deployed(&d);
        other_code.code_sha256 = "different".into();
        assert_eq!(
            Function::diff(&d, &Some(other_code.clone())),
            Change::Update(vec![Field::Code])
        );

        let mut other_env = deployed(&d);
        other_env
            .environment
            .insert("MAX_BACKUPS".into(), "4".into());
        assert_eq!(
            Function::diff(&d, &Some(other_env.clone())),
            Change::Update(vec![Field::Configuration])
        );

        // Another architecture comes with other code: both are named, one update makes both.
        let mut x86_64 = other_code.clone();
        x86_64.arch = Some(Arch::X86_64);
        assert_eq!(
            Function::diff(
                &Desired {
                    arch: Arch::Arm64,
                    ..d.clone()
                },
                &Some(x86_64)
            ),
            Change::Update(vec![Field::Code, Field::Architecture])
        );

        let mut unreserved = deployed(&d);
        unreserved.concurrency = None;
        assert_eq!(
            Function::diff(&d, &Some(unreserved.clone())),
            Change::Update(vec![Field::Concurrency])
        );

        // Without a zip (down, status) the code is not compared.
        let no_zip = Desired {
            zip: None,
            ..d.clone()
        };
        assert_eq!(
            Function::diff(&no_zip, &Some(other_code.clone())),
            Change::Unchanged
        );
    }

    #[test]
    fn async_invocations_are_not_retried_and_expire_with_the_schedules_interval() {
        let daily = AsyncInvoke::for_schedule(Some(Duration::from_secs(86_400)));
        assert_eq!(
            daily,
            AsyncInvoke {
                max_retries: 0,
                max_event_age_seconds: 21_600
            },
            "Lambda's longest event age"
        );
        let minutely = AsyncInvoke::for_schedule(Some(Duration::from_secs(60)));
        assert_eq!(minutely.max_event_age_seconds, 60);
        let hourly = AsyncInvoke::for_schedule(Some(Duration::from_secs(3600)));
        assert_eq!(hourly.max_event_age_seconds, 3600);
        assert_eq!(
            AsyncInvoke::for_schedule(None).max_event_age_seconds,
            21_600
        );

        // A function never configured has Lambda's defaults (two retries): `up` changes that.
        let d = desired();
        let mut defaults = deployed(&d);
        defaults.async_invoke = None;
        assert_eq!(
            Function::diff(&d, &Some(defaults)),
            Change::Update(vec![Field::AsyncInvoke])
        );
        let mut retried = deployed(&d);
        retried.async_invoke = Some(AsyncInvoke {
            max_retries: 2,
            ..d.async_invoke
        });
        assert_eq!(
            Function::diff(&d, &Some(retried)),
            Change::Update(vec![Field::AsyncInvoke])
        );
        assert_eq!(Field::AsyncInvoke.to_string(), "async invocation");
    }

    #[test]
    fn concurrency_is_reserved_only_where_the_account_has_room() {
        assert_eq!(reservable(1000, Some(1000)), Some(900));
        assert_eq!(reservable(1000, Some(101)), Some(1));
        assert_eq!(reservable(1000, Some(100)), Some(0));
        assert_eq!(
            reservable(10, Some(10)),
            Some(0),
            "new accounts limited to 10 have none to spare"
        );
        assert_eq!(reservable(10, None), None);
    }

    #[test]
    fn a_queue_of_runs_is_timed_in_waves() {
        let s = Duration::from_secs;
        assert_eq!(queue_time(1, Some(1), false), Some(s(5)));
        assert_eq!(queue_time(7, Some(7), true), Some(s(35)));
        assert_eq!(
            queue_time(40, Some(10), true),
            Some(s(140)),
            "four waves of ten: over a minute, under an hour"
        );
        assert_eq!(queue_time(40, Some(2), false), Some(s(100)));
        assert_eq!(queue_time(3, None, false), None);
    }

    #[test]
    fn concurrency_follows_the_tables_up_to_ten() {
        assert_eq!(concurrency_for(0), 1);
        assert_eq!(concurrency_for(1), 1, "the tutorial's stack never overlaps");
        assert_eq!(concurrency_for(7), 7);
        assert_eq!(concurrency_for(200), 10);
        let d = desired();
        let mut seven = deployed(&d);
        seven.concurrency = Some(7);
        assert_eq!(
            Function::diff(&d, &Some(seven)),
            Change::Update(vec![Field::Concurrency])
        );
    }

    #[test]
    fn a_function_without_the_stack_tags_is_a_conflict() {
        let d = desired();
        let mut foreign = deployed(&d);
        foreign.tags.clear();
        assert!(
            matches!(Function::diff(&d, &Some(foreign.clone())), Change::Conflict(why) if why.contains("not this stack's"))
        );
    }
}
