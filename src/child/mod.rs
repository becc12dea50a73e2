//! The runtime of one child: what a run sees ([`Context`]) and what its task holds.
//!
//! A manager owns its children's slots; everything a child's run shares with its manager is
//! here, so that the manager's insides (`crate::manager`) stay out of user-facing code:
//!
//! - [`record`]: the child's record ([`ChildRecord`](record::ChildRecord)), shared by the
//!   manager's slot and every run of the child, and the manager's run as children see it
//!   ([`ParentRun`](record::ParentRun));
//! - [`stop_signal`]: how a run is asked to stop (one mark per slot, no allocation per run),
//!   with the child's inbox and its on-demand shutdown token;
//! - [`inbox`]: the queue of control messages a run reads;
//! - [`task`]: the Tokio task of one run, which catches panics and always reports the exit;
//! - [`report`]: what a run tells its manager (ready, exited);
//! - [`env`]: what keeps a manager waiting until every task below it is gone;
//! - [`companion`]: what runs beside a child's runs (health probes, file watches).

pub(crate) mod companion;
pub(crate) mod context;
pub(crate) mod env;
pub(crate) mod inbox;
pub(crate) mod record;
pub(crate) mod report;
pub(crate) mod stop_signal;
pub(crate) mod task;

pub use context::Context;
