//! Structured logs: one JSON object per line on stdout, which Lambda sends to CloudWatch Logs.

use tracing::Level;

/// The level named by `AWS_LAMBDA_LOG_LEVEL` (Lambda's advanced logging controls) or `RUST_LOG`
/// (`error`, `warn`, `info`, `debug`, `trace`; default `info`).
fn level_from_env() -> Level {
    ["AWS_LAMBDA_LOG_LEVEL", "RUST_LOG"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find_map(|value| value.trim().parse::<Level>().ok())
        .unwrap_or(Level::INFO)
}

/// Installs the JSON log subscriber for the whole process. Lines logged during an invocation
/// carry the runtime's span, with the Lambda `requestId`.
pub fn init() {
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .with_max_level(level_from_env())
        .init();
}
