//! OS processes as children (feature `process`, Unix only).
//!
//! A [`Command`] describes a program to run and is itself the [`Runnable`](crate::Runnable)
//! that runs it: each run spawns the program as the leader of a new process group, waits for
//! it, stops the whole group on shutdown and reloads it on [`Control::Reload`](crate::Control).
//! See [`Command`] for the guarantees.
//!
//! A group of processes that start, stop and restart as one is a nested
//! [`ProcessManager`](crate::ProcessManager) whose children are commands.
//!
//! ```no_run
//! use overseer::process::Command;
//! use overseer::ProcessManager;
//!
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let web = ProcessManager::builder("web")
//!     .child(Command::new("nginx").arg("-g").arg("daemon off;").into_spec("nginx"))
//!     .child(Command::shell("exec php-fpm --nodaemonize").into_spec("php"))
//!     .build()?;
//! let tree = ProcessManager::builder("root")
//!     .child(overseer::ChildSpec::new("web", web))
//!     .build()?;
//! tree.run().await?;
//! # Ok(())
//! # }
//! ```

mod capture;
mod child;
mod command;
mod command_line;
mod containment;
mod ends;
mod envfile;
mod error;
pub(crate) mod exit;
mod group;
#[cfg(target_os = "linux")]
mod init;
mod nap;
pub mod output;
#[cfg(any(target_os = "linux", target_os = "android"))]
mod pdeathsig;
#[cfg(target_os = "linux")]
pub(crate) mod pidfd;
mod pipe;
pub(crate) mod prestart;
pub(crate) mod signal;
pub(crate) mod signal_mask;
pub(crate) mod spawn;
#[cfg(any(target_os = "linux", target_os = "android"))]
mod spawner;
mod stats;
mod stdio;

pub use command::{Command, OnReload};
pub use containment::Containment;
pub use envfile::EnvFileError;
pub use error::ProcessError;
#[cfg(target_os = "linux")]
pub use init::{InitError, InitMode, init};
pub use signal::{Signal, UnknownSignal};
pub use stats::ProcessStats;
pub use stdio::Output;
