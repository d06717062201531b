//! `installer`: deploys scheduled DynamoDB backups with retention. Parses the command line, sets
//! up logging and the one-line error report, and hands the subcommand to
//! [`installer::commands::run`].

use installer::commands::summary::{Failed, FailedError, FailureKind};

fn main() -> miette::Result<std::process::ExitCode> {
    let cli = installer::cli::parse();
    let json = cli.output == installer::cli::Output::Json;
    installer::cli::init_logging(cli.verbose);
    // Errors are one line each, whatever the terminal width: each message names the problem and
    // the fix and already includes its cause.
    miette::set_hook(Box::new(|_| {
        Box::new(
            miette::MietteHandlerOpts::new()
                .wrap_lines(false)
                .without_cause_chain()
                .build(),
        )
    }))?;
    if cli.quiet {
        installer::report::set_quiet();
    }
    if json {
        installer::report::set_json_on_stdout();
    }
    match installer::commands::run(cli.command, &cli.connect, cli.output) {
        Ok(code) => Ok(code),
        Err(report) => {
            // A flag (or its environment variable) found invalid before any AWS call: one line
            // and exit 2, as clap reports the usage errors it finds itself.
            let usage = report
                .downcast_ref::<installer::commands::CommandError>()
                .is_some_and(installer::commands::CommandError::is_usage);
            let message = report.to_string();
            if json {
                Failed {
                    command: installer::cli::command_name(),
                    error: FailedError {
                        kind: if usage {
                            FailureKind::Usage
                        } else {
                            FailureKind::Failure
                        },
                        message: message.clone(),
                    },
                }
                .print();
            }
            if usage {
                eprintln!("{}", installer::cli::usage_error_message(&message));
                Ok(std::process::ExitCode::from(2))
            } else {
                Err(report)
            }
        }
    }
}
