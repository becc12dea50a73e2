#![doc = include_str!("../docs/crate.md")]
// The crate docs link to items behind a feature; when it is off, to the list of features.
#![cfg_attr(
    not(all(feature = "process", unix)),
    doc = "",
    doc = "[`process::Command`]: #features"
)]
#![cfg_attr(
    not(all(feature = "signal", unix)),
    doc = "",
    doc = "[`builtin::Signals`]: #features"
)]
#![cfg_attr(
    not(all(feature = "systemd", unix)),
    doc = "",
    doc = "[`builtin::Systemd`]: #features"
)]
#![cfg_attr(
    not(all(feature = "process", target_os = "linux")),
    doc = "",
    doc = "[`process::init`]: #features",
    doc = "[`process::InitMode::Always`]: #features"
)]
#![cfg_attr(
    not(feature = "metrics"),
    doc = "",
    doc = "[`builtin::HttpEndpoints`]: #features"
)]
#![cfg_attr(
    not(feature = "watch"),
    doc = "",
    doc = "[`ChildSpec::watch`]: #features",
    doc = "[`watch::Watch`]: #features",
    doc = "[`watch::WatchAction::Restart`]: #features",
    doc = "[`watch::WatchAction::Reload`]: #features",
    doc = "[`watch::WatchError`]: #features"
)]
#![deny(missing_docs, unreachable_pub)]
#![deny(clippy::print_stdout, clippy::print_stderr, clippy::dbg_macro)]
#![warn(rust_2018_idioms)]

pub mod builtin;
mod child;
mod control;
mod deadline;
mod error;
mod event;
mod handle;
pub mod health;
mod id;
#[cfg(all(feature = "jobs", target_os = "linux"))]
pub mod jobs;
#[cfg(feature = "serde")]
pub mod json;
mod lock;
mod mailbox;
mod manager;
mod path;
mod policy;
#[cfg(all(feature = "process", unix))]
pub mod process;
mod reconfigured;
pub mod recipes {
    #![doc = include_str!("../docs/recipes.md")]
    #![cfg_attr(
        all(feature = "process", unix),
        doc = "",
        doc = "[`process::Command`]: crate::process::Command"
    )]
    #![cfg_attr(
        not(all(feature = "process", unix)),
        doc = "",
        doc = "[`process::Command`]: crate#features"
    )]
}
mod runnable;
mod snapshot;
mod spec;
#[cfg(feature = "watch")]
pub mod watch;

pub use async_trait::async_trait;
pub use child::Context;
pub use control::{Control, CustomMessage, INBOX_CAPACITY};
pub use error::{
    BoxError, Cause, ControlError, ExitStatus, Failure, RunResult, SharedError, SpecError,
    TreeError, UnmetDependency,
};
pub use event::{Event, EventKind, Events};
pub use handle::Handle;
pub use manager::{ProcessManager, ProcessManagerBuilder};
pub use path::ChildPath;
pub use policy::{AutoShutdown, Backoff, Intensity, Lifetime, StopOrder, Strategy};
pub use reconfigured::Reconfigured;
pub use runnable::{ChildKind, Runnable, Task, task};
pub use snapshot::{ChildState, IntensityUse, Resources, Snapshot};
pub use spec::{ChildSpec, Condition, Restart, Shutdown};

/// The names most programs need: `use overseer::prelude::*;`.
pub mod prelude {
    pub use crate::{
        AutoShutdown, Backoff, ChildSpec, Condition, Context, Control, Handle, ProcessManager,
        Restart, RunResult, Runnable, Shutdown, StopOrder, Strategy,
    };
}
