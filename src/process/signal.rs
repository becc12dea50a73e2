//! The signals a process child can be configured to send.

use std::fmt;

use rustix::process::Signal as Raw;

/// A named Unix signal, as sent to a child's process group to stop or reload it.
///
/// Only named signals can be built (the constants, or [`from_raw`](Self::from_raw) for a
/// named number), so sending one never fails for a bad number. Copying is free.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signal(Raw);

impl std::hash::Hash for Signal {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_raw().hash(state);
    }
}

impl Signal {
    /// `SIGTERM`: the default stop signal.
    pub const TERM: Signal = Signal(Raw::TERM);
    /// `SIGKILL`: cannot be caught; sent to the group when a stop times out.
    pub const KILL: Signal = Signal(Raw::KILL);
    /// `SIGHUP`: the reload signal of most daemons ([`OnReload::Signal`](super::OnReload::Signal)).
    pub const HUP: Signal = Signal(Raw::HUP);
    /// `SIGINT`.
    pub const INT: Signal = Signal(Raw::INT);
    /// `SIGQUIT`.
    pub const QUIT: Signal = Signal(Raw::QUIT);
    /// `SIGUSR1`.
    pub const USR1: Signal = Signal(Raw::USR1);
    /// `SIGUSR2`.
    pub const USR2: Signal = Signal(Raw::USR2);
    /// `SIGWINCH`.
    pub const WINCH: Signal = Signal(Raw::WINCH);
    /// `SIGCONT`: sent after a stop signal so that stopped processes receive it.
    pub const CONT: Signal = Signal(Raw::CONT);

    /// The signal with this number, if it is a named one (real-time signals are not).
    pub fn from_raw(number: i32) -> Option<Signal> {
        Raw::from_named_raw(number).map(Signal)
    }

    /// The signal's number on this platform.
    pub fn as_raw(self) -> i32 {
        self.0.as_raw()
    }

    pub(crate) fn to_rustix(self) -> Raw {
        self.0
    }
}

/// The conventional name of a signal number (`SIGTERM`), or `signal N` for others.
pub(crate) fn name(number: i32) -> String {
    let known = [
        (Raw::HUP, "SIGHUP"),
        (Raw::INT, "SIGINT"),
        (Raw::QUIT, "SIGQUIT"),
        (Raw::ILL, "SIGILL"),
        (Raw::TRAP, "SIGTRAP"),
        (Raw::ABORT, "SIGABRT"),
        (Raw::BUS, "SIGBUS"),
        (Raw::FPE, "SIGFPE"),
        (Raw::KILL, "SIGKILL"),
        (Raw::USR1, "SIGUSR1"),
        (Raw::SEGV, "SIGSEGV"),
        (Raw::USR2, "SIGUSR2"),
        (Raw::PIPE, "SIGPIPE"),
        (Raw::ALARM, "SIGALRM"),
        (Raw::TERM, "SIGTERM"),
        (Raw::CHILD, "SIGCHLD"),
        (Raw::CONT, "SIGCONT"),
        (Raw::STOP, "SIGSTOP"),
        (Raw::TSTP, "SIGTSTP"),
        (Raw::TTIN, "SIGTTIN"),
        (Raw::TTOU, "SIGTTOU"),
        (Raw::URG, "SIGURG"),
        (Raw::XCPU, "SIGXCPU"),
        (Raw::XFSZ, "SIGXFSZ"),
        (Raw::VTALARM, "SIGVTALRM"),
        (Raw::PROF, "SIGPROF"),
        (Raw::WINCH, "SIGWINCH"),
        (Raw::SYS, "SIGSYS"),
    ];
    known
        .iter()
        .find(|(s, _)| s.as_raw() == number)
        .map_or_else(|| format!("signal {number}"), |(_, n)| (*n).to_string())
}

/// A signal name or number that names no signal (see [`Signal`]'s `FromStr`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a signal name (TERM, SIGTERM, HUP, …) or the number of a named signal")]
pub struct UnknownSignal(pub String);

impl std::str::FromStr for Signal {
    type Err = UnknownSignal;

    /// Parses `TERM`, `SIGTERM`, `sigterm` or `15` (a named signal's number).
    fn from_str(text: &str) -> Result<Signal, UnknownSignal> {
        let unknown = || UnknownSignal(text.to_owned());
        if let Ok(number) = text.parse::<i32>() {
            return Signal::from_raw(number).ok_or_else(unknown);
        }
        let upper = text.to_ascii_uppercase();
        let wanted = upper.strip_prefix("SIG").unwrap_or(&upper);
        (1..65)
            .filter_map(Signal::from_raw)
            .find(|signal| name(signal.as_raw()).strip_prefix("SIG") == Some(wanted))
            .ok_or_else(unknown)
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&name(self.as_raw()))
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_signal_round_trips_through_its_number() {
        assert_eq!(Signal::from_raw(Signal::HUP.as_raw()), Some(Signal::HUP));
        assert_eq!(Signal::TERM.to_string(), "SIGTERM");
    }

    #[test]
    fn a_signal_is_parsed_from_its_name_with_or_without_sig_in_any_case_or_its_number() {
        for text in ["TERM", "SIGTERM", "sigterm", "15"] {
            assert_eq!(text.parse::<Signal>(), Ok(Signal::TERM), "{text}");
        }
        assert_eq!("hup".parse::<Signal>(), Ok(Signal::HUP));
        assert_eq!(
            "TERMINATE".parse::<Signal>(),
            Err(UnknownSignal("TERMINATE".into()))
        );
        assert!("0".parse::<Signal>().is_err());
        assert!("".parse::<Signal>().is_err());
    }

    #[test]
    fn zero_is_not_a_signal() {
        assert_eq!(Signal::from_raw(0), None);
        assert_eq!(name(0), "signal 0");
    }
}
