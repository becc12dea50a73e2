//! A child's stop signal: one per slot, shared by all of the slot's runs.
//!
//! Each run of a child has a generation (1, 2, …). Asking run `g` to stop raises the signal's
//! mark to at least `g`; run `g` has been asked once the mark is `g` or more. The mark only
//! grows, so a late request for an old run can never reach a newer one, and a run never misses
//! a request made for it.
//!
//! This replaces a `CancellationToken` per run: a run costs no allocation for its stop signal.
//! A `CancellationToken` is still made, on demand, for a context that asks for one
//! ([`Context::shutdown_token`](crate::Context::shutdown_token)); the signal cancels it.
//!
//! The signal also keeps the child's control inbox (see [`InboxState`]): the token and the
//! inbox are both rarely used, so they share one lock and one box, made on first use. A child
//! that never asks for a token and never gets a message costs one pointer for both, which
//! keeps the child's shared record ([`ChildRecord`]) at 120 bytes: an allocation that glibc's
//! allocator keeps in a fast bin when freed, see `ChildRecord`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Notify;
use tokio::sync::futures::Notified;
use tokio_util::sync::CancellationToken;

use super::inbox::InboxState;
use super::record::ChildRecord;
use crate::lock::lock;

#[derive(Default)]
pub(crate) struct StopSignal {
    /// The highest generation asked to stop (0: none).
    mark: AtomicU64,
    /// Wakes the runs waiting for a request.
    notify: Notify,
    /// Rarely used parts, under one lock.
    links: Mutex<Links>,
}

#[derive(Default)]
struct Links {
    /// The sibling (and its generation) to ask to stop as soon as this child's run ends: the
    /// next link of a one-at-a-time stop sequence, set up by the manager ahead of time so
    /// that the sequence does not wait for the manager between two children.
    next: Option<(Arc<ChildRecord>, u64)>,
    /// The token and the inbox, made on first use.
    rare: Option<Box<Rare>>,
}

#[derive(Default)]
struct Rare {
    /// The token handed out for one generation, if any was asked for.
    token: Option<(u64, CancellationToken)>,
    inbox: InboxState,
    /// The latest run that said its outcome was settled before any stop was asked of it
    /// (see [`StopSignal::ended_on_its_own`]); 0 for none.
    ended_on_its_own: u64,
}

impl StopSignal {
    /// Asks run `generation` to stop. Idempotent; a request for an older run does nothing.
    pub(crate) fn request(&self, generation: u64) {
        if self.mark.fetch_max(generation, Ordering::AcqRel) >= generation {
            return;
        }
        self.notify.notify_waiters();
        // A token made after the mark was raised cancels itself (see `token`).
        if let Some(rare) = lock(&self.links).rare.as_deref()
            && let Some((g, token)) = rare.token.as_ref()
            && *g == generation
        {
            token.cancel();
        }
    }

    pub(crate) fn is_requested(&self, generation: u64) -> bool {
        self.mark.load(Ordering::Acquire) >= generation
    }

    /// Run `generation` says that its outcome was settled on its own, before any stop was
    /// asked of it, although the run goes on for a while (a process child whose leader has
    /// exited, while the rest of its group gets its grace period). A stop asked after this
    /// does not make its end a stop (see [`end_of_run`](Self::end_of_run)). Once the run has
    /// been asked to stop, does nothing and returns `false`: its end is a stop. The look and
    /// the mark are one step under the lock, so that a caller deciding between "stop" and "my
    /// own end" by the result cannot disagree with the manager. Costs the rare parts' box on
    /// first use.
    #[cfg_attr(not(feature = "process"), allow(dead_code))]
    pub(crate) fn ended_on_its_own(&self, generation: u64) -> bool {
        let mut links = lock(&self.links);
        // Under the lock, as `end_of_run` reads it: a request made before this check is seen
        // here, and one made after it finds the run's end settled.
        if self.is_requested(generation) {
            return false;
        }
        links
            .rare
            .get_or_insert_with(Default::default)
            .ended_on_its_own = generation;
        true
    }

    /// Completes once `run` has been asked to stop.
    pub(crate) fn requested<R: OneRun + ?Sized>(run: &R) -> Requested<'_, R> {
        Requested {
            run,
            notified: run.stop_signal().notify.notified(),
        }
    }

    /// A token cancelled when run `generation` is asked to stop (the same token for every
    /// call in one run). A context of an older run (moved out of it and kept) gets a token
    /// of its own, never kept here: it must not displace the token of a newer run, which
    /// that run's request must still cancel.
    pub(crate) fn token(&self, generation: u64) -> CancellationToken {
        let mut links = lock(&self.links);
        let rare = links.rare.get_or_insert_with(Default::default);
        if let Some((g, token)) = rare.token.as_ref() {
            if *g == generation {
                return token.clone();
            }
            if *g > generation {
                let token = CancellationToken::new();
                if self.is_requested(generation) {
                    token.cancel();
                }
                return token;
            }
        }
        let token = CancellationToken::new();
        // Checked under the lock: a request either sees this token or came before the check.
        if self.is_requested(generation) {
            token.cancel();
        }
        rare.token = Some((generation, token.clone()));
        token
    }

    /// Runs `f` on the child's inbox (made on first use), under the signal's lock.
    pub(crate) fn with_inbox<T>(&self, f: impl FnOnce(&mut InboxState) -> T) -> T {
        f(&mut lock(&self.links)
            .rare
            .get_or_insert_with(Default::default)
            .inbox)
    }

    /// Empties the inbox at the end of a run; returns how many messages were never read.
    pub(crate) fn clear_inbox(&self) -> usize {
        lock(&self.links)
            .rare
            .as_deref_mut()
            .map_or(0, |rare| std::mem::take(&mut rare.inbox).unread())
    }

    /// Sets (or, with `None`, clears) the sibling to stop when this child's run ends.
    pub(crate) fn chain(&self, next: Option<(Arc<ChildRecord>, u64)>) {
        lock(&self.links).next = next;
    }

    /// Run by a child's task as its run `generation` ends, before it reports the exit: passes
    /// the stop on down the chain, and returns whether the run ended because it was asked to
    /// stop (it had been asked, and had not said before that its outcome was settled on its
    /// own, see [`ended_on_its_own`](Self::ended_on_its_own)). One lock for both.
    ///
    /// Only a run that was asked to stop passes it on: one that ended on its own, ahead of its
    /// turn, must not hurry the next child ahead of the children before it; the manager asks
    /// that one in turn.
    pub(crate) fn end_of_run(&self, generation: u64) -> bool {
        let requested = self.is_requested(generation);
        let (next, asked) = {
            let mut links = lock(&self.links);
            let asked = requested
                && links
                    .rare
                    .as_deref()
                    .is_none_or(|rare| rare.ended_on_its_own != generation);
            (links.next.take(), asked)
        };
        if let Some((child, next_generation)) = next
            && requested
        {
            child.stop.request(next_generation);
        }
        asked
    }
}

/// One run of a child: its stop signal and its generation.
pub(crate) trait OneRun {
    fn stop_signal(&self) -> &StopSignal;
    fn generation(&self) -> u64;
}

pin_project! {
    /// The future of [`StopSignal::requested`]. Written out rather than as an `async fn`,
    /// which would take about twice the room in every waiting child's task; it keeps one
    /// reference to the run (a `Context`) rather than the signal and the generation, which
    /// is 8 bytes less in every future that waits for a stop.
    pub(crate) struct Requested<'a, R: ?Sized> {
        run: &'a R,
        #[pin]
        notified: Notified<'a>,
    }
}

impl<R: OneRun + ?Sized> Future for Requested<'_, R> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        let (signal, generation) = (this.run.stop_signal(), this.run.generation());
        loop {
            if signal.is_requested(generation) {
                return Poll::Ready(());
            }
            match this.notified.as_mut().poll(cx) {
                // Woken by a request (or a request for another run): look again.
                Poll::Ready(()) => this.notified.set(signal.notify.notified()),
                // Now registered: a request made since the look above wakes us; one made
                // before it is seen by looking once more.
                Poll::Pending if signal.is_requested(generation) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settling_an_end_on_its_own_says_whether_a_stop_was_asked_first() {
        let s = StopSignal::default();
        assert!(
            s.ended_on_its_own(1),
            "no request yet: the end is the run's own"
        );
        s.request(2);
        assert!(!s.ended_on_its_own(2), "asked first: the end is a stop");
    }

    #[test]
    fn a_request_reaches_its_run_and_every_older_one_but_no_newer_one() {
        let s = StopSignal::default();
        s.request(2);
        assert!(s.is_requested(1));
        assert!(s.is_requested(2));
        assert!(!s.is_requested(3));
    }

    #[test]
    fn a_late_request_for_an_old_run_does_not_reach_the_new_run() {
        let s = StopSignal::default();
        s.request(1);
        assert!(!s.is_requested(2));
        s.request(1);
        assert!(!s.is_requested(2));
    }

    #[test]
    fn a_token_made_after_the_request_is_already_cancelled() {
        let s = StopSignal::default();
        s.request(1);
        assert!(s.token(1).is_cancelled());
        assert!(!s.token(2).is_cancelled());
    }

    #[test]
    fn a_token_made_before_the_request_is_cancelled_by_it() {
        let s = StopSignal::default();
        let token = s.token(1);
        assert!(!token.is_cancelled());
        s.request(1);
        assert!(token.is_cancelled());
        assert!(s.token(1).is_cancelled());
    }

    #[test]
    fn a_token_asked_for_by_an_older_run_does_not_displace_the_current_runs_token() {
        let s = StopSignal::default();
        let current = s.token(2);
        let stale = s.token(1);
        assert!(!stale.is_cancelled());
        s.request(2);
        assert!(
            current.is_cancelled(),
            "the current run's token is still cancelled"
        );
        assert!(s.token(2).is_cancelled());
    }

    struct Run(Arc<StopSignal>, u64);

    impl OneRun for Run {
        fn stop_signal(&self) -> &StopSignal {
            &self.0
        }
        fn generation(&self) -> u64 {
            self.1
        }
    }

    #[tokio::test]
    async fn every_waiter_of_a_run_wakes_on_its_request() {
        let s = Arc::new(StopSignal::default());
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let run = Run(s.clone(), 1);
                tokio::spawn(async move { StopSignal::requested(&run).await })
            })
            .collect();
        tokio::task::yield_now().await;
        s.request(1);
        for w in waiters {
            w.await.unwrap();
        }
    }
}
