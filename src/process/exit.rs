//! From an exit status to a run's result.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use super::error::ProcessError;

/// `Ok` when the process exited with one of `success_codes`; otherwise the typed failure.
pub(crate) fn check(
    status: ExitStatus,
    success_codes: &[i32],
    command: &str,
) -> Result<(), ProcessError> {
    match (status.code(), status.signal()) {
        (Some(code), _) if success_codes.contains(&code) => Ok(()),
        (Some(code), _) => Err(ProcessError::Exited {
            command: command.to_string(),
            code,
            output: Vec::new(),
        }),
        (None, Some(signal)) => Err(ProcessError::Signaled {
            command: command.to_string(),
            signal,
            output: Vec::new(),
        }),
        // Neither a code nor a signal: a stopped or continued status, which `wait` does not
        // return. Reported as the raw status.
        (None, None) => Err(ProcessError::Exited {
            command: command.to_string(),
            code: status.into_raw(),
            output: Vec::new(),
        }),
    }
}

/// [`describe`], or why the status is not known.
pub(crate) fn describe_result(status: &std::io::Result<ExitStatus>) -> String {
    match status {
        Ok(status) => describe(status),
        Err(e) => format!("status unknown: {e}"),
    }
}

/// An exit status as a log line says it: `exited with code 3`, `terminated by SIGTERM`.
pub(crate) fn describe(status: &ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => format!("terminated by {}", super::signal::name(signal)),
        (None, None) => format!("ended with wait status {}", status.into_raw()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_success_code_is_ok_and_others_carry_the_code() {
        let codes = [0, 3];
        assert!(check(ExitStatus::from_raw(0), &codes, "p").is_ok());
        assert!(check(ExitStatus::from_raw(3 << 8), &codes, "p").is_ok());
        let err = check(ExitStatus::from_raw(2 << 8), &codes, "p").unwrap_err();
        assert_eq!(err.code(), Some(2));
    }

    #[test]
    fn a_signal_is_a_failure_carrying_the_signal() {
        let err = check(ExitStatus::from_raw(9), &[0], "p").unwrap_err();
        assert_eq!(err.signal(), Some(9));
        assert_eq!(err.to_string(), "`p` was killed by SIGKILL");
    }

    #[test]
    fn a_status_reads_as_a_code_or_the_signal_that_ended_it() {
        assert_eq!(
            describe(&ExitStatus::from_raw(3 << 8)),
            "exited with code 3"
        );
        assert_eq!(describe(&ExitStatus::from_raw(15)), "terminated by SIGTERM");
    }
}
