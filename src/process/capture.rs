//! Capture of a running child's stdout and stderr into its output sink.
//!
//! The two pumps run inside the child's run future (no helper task): they are polled
//! alongside the supervision of the process, stop included, so a child that writes while it
//! stops never blocks on a full pipe. They never hold up the end of a run: once the leader has
//! exited and its group is killed, they get a short bounded [`drain`](Capture::drain) and the
//! pipes are dropped, so a process that escaped the group and keeps a pipe open cannot hang it.

use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::Instant;

use super::nap::NapTimer;
use super::output::{OutputSink, Stream};
use super::pipe::PacedPipe;

/// After the group is gone, the drain ends when no byte came for this long.
const DRAIN_IDLE: Duration = Duration::from_millis(100);
/// After the group is gone, the drain ends after this long whatever comes.
const DRAIN_MAX: Duration = Duration::from_secs(1);
/// Once the drain gives up, how long the pumps get to deliver what they hold (a last line
/// without its `\n`): they see the end of their streams at once, so this is only a bound.
const DRAIN_FINISH: Duration = Duration::from_millis(100);
/// The capacity asked for each captured pipe (Linux `F_SETPIPE_SZ`): room for the batches of
/// a [`PacedPipe`] under heavy output, and more room before a child would block.
#[cfg(any(target_os = "linux", target_os = "android"))]
const PIPE_SIZE: usize = 1024 * 1024;

type Pumps = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The pumps of one run; `None` when nothing is captured or both streams have ended.
pub(crate) struct Capture {
    pumps: Option<Pumps>,
    progress: Arc<Progress>,
}

/// Shared between the drain and the readers of the pumps.
#[derive(Default)]
struct Progress {
    /// Bytes read so far, so the drain can tell progress from silence.
    bytes: AtomicU64,
    /// Set when the drain gives up: the readers then report the end of their streams, so the
    /// pumps deliver what they hold (a last line without its `\n`) instead of losing it.
    give_up: AtomicBool,
}

impl Capture {
    /// Takes the read ends of the piped stdout and stderr of a process (those spawned with
    /// [`Output::Capture`](super::Output::Capture) and a sink, as
    /// [`Group::take_output`](super::group::Group::take_output) gives them) and prepares
    /// their pumps into `sink`. Nothing is read until the capture is polled.
    pub(crate) fn start(
        pipes: [Option<io::Result<OwnedFd>>; 2],
        sink: Option<&Arc<OutputSink>>,
    ) -> Self {
        let progress = Arc::new(Progress::default());
        let [stdout, stderr] = pipes;
        let stdout = stdout.and_then(paced);
        let stderr = stderr.and_then(paced);
        let pumps = match (sink, stdout.is_some() || stderr.is_some()) {
            (Some(sink), true) => {
                let (sink, counter) = (Arc::clone(sink), Arc::clone(&progress));
                let pumps: Pumps = Box::pin(async move {
                    tokio::join!(
                        pump(&sink, stdout, Stream::Stdout, &counter),
                        pump(&sink, stderr, Stream::Stderr, &counter)
                    );
                });
                Some(pumps)
            }
            _ => None,
        };
        Capture { pumps, progress }
    }

    /// Runs `fut` to completion while pumping the output.
    pub(crate) async fn alongside<F: Future>(&mut self, fut: F) -> F::Output {
        tokio::pin!(fut);
        loop {
            let Some(pumps) = self.pumps.as_mut() else {
                return fut.await;
            };
            tokio::select! {
                biased;
                out = &mut fut => return out,
                () = pumps => {}
            }
            // Both streams ended; the process may still run.
            self.pumps = None;
        }
    }

    /// Reads what is left after the process group is gone: until both streams end, or no
    /// byte came for [`DRAIN_IDLE`], or [`DRAIN_MAX`] passed. Then the pipes are dropped.
    pub(crate) async fn drain(mut self) {
        let Some(mut pumps) = self.pumps.take() else {
            return;
        };
        let deadline = Instant::now() + DRAIN_MAX;
        let mut seen = self.progress.bytes.load(Ordering::Relaxed);
        loop {
            let until = deadline.min(Instant::now() + DRAIN_IDLE);
            if tokio::time::timeout_at(until, &mut pumps).await.is_ok() {
                return;
            }
            let now = self.progress.bytes.load(Ordering::Relaxed);
            if now == seen || Instant::now() >= deadline {
                tracing::debug!(
                    "output still open after the process group ended (a process left the \
                     group?); dropping the pipes"
                );
                self.progress.give_up.store(true, Ordering::Relaxed);
                // Polled again, the readers see the end: the pumps deliver and return.
                let _ = tokio::time::timeout(DRAIN_FINISH, &mut pumps).await;
                return;
            }
            seen = now;
        }
    }
}

/// Pumps one pipe, if captured, into `sink`; a read error ends it (reported, not fatal).
async fn pump<R>(sink: &OutputSink, pipe: Option<R>, stream: Stream, progress: &Progress)
where
    R: AsyncRead + Unpin + Send,
{
    let Some(pipe) = pipe else { return };
    let reader = Counted {
        inner: pipe,
        progress,
    };
    if let Err(error) = sink.pump(reader, stream).await {
        tracing::warn!(%stream, %error, "cannot read the process output");
    }
}

/// Makes the read end of a captured pipe a [`PacedPipe`], first asking for a larger pipe
/// buffer (as early as possible: the child may already be writing). A larger buffer is
/// refused by a lowered `pipe-max-size` or a full per-user pipe quota: the pipe keeps its
/// size and is read without naps. `None`, logged as a warning, in the unlikely case that the
/// pipe cannot be taken off Tokio's reactor or made non-blocking: the pipe is then closed, so
/// the child's further writes to that stream fail (`EPIPE`, or `SIGPIPE` if it does not
/// ignore it).
fn paced(fd: io::Result<OwnedFd>) -> Option<PacedPipe> {
    let made = fd.and_then(|fd| {
        let capacity = enlarge(&fd);
        PacedPipe::new(fd, capacity, NapTimer::precise())
    });
    match made {
        Ok(pipe) => Some(pipe),
        Err(error) => {
            tracing::warn!(%error, "cannot read a captured pipe; its output is lost");
            None
        }
    }
}

/// Raises the pipe's capacity to [`PIPE_SIZE`] where the system allows it; returns the
/// capacity (0 where it cannot be known).
fn enlarge(fd: &OwnedFd) -> usize {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        match rustix::pipe::fcntl_setpipe_size(fd, PIPE_SIZE) {
            Ok(size) => size,
            Err(error) => {
                tracing::debug!(%error, "cannot enlarge the output pipe; keeping its size");
                rustix::pipe::fcntl_getpipe_size(fd).unwrap_or(0)
            }
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = fd;
        0
    }
}

/// A reader that counts the bytes read through it, so the drain can tell progress from
/// silence, and that reports the end of the stream once the drain has given up.
struct Counted<'a, R> {
    inner: R,
    progress: &'a Progress,
}

impl<R: AsyncRead + Unpin> AsyncRead for Counted<'_, R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.progress.give_up.load(Ordering::Relaxed) {
            // Nothing filled: the end of the stream.
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len().saturating_sub(before);
        if read > 0 {
            self.progress
                .bytes
                .fetch_add(read as u64, Ordering::Relaxed);
        }
        poll
    }
}
