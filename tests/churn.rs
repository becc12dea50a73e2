//! A million short-lived temporary children, one after another, do not grow the manager's
//! memory. Measured with a counting global allocator: live heap bytes after 1,000,000 children
//! are compared with live heap bytes after the first 10,000.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use overseer::{ChildSpec, ProcessManager, Restart, builtin::Idle};
use tokio::sync::mpsc;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - layout.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const WARM_UP: usize = 10_000;
const TOTAL: usize = 1_000_000;

#[tokio::test]
async fn a_million_short_lived_temporary_children_do_not_grow_the_managers_memory() {
    let tree = ProcessManager::builder("root")
        .child(ChildSpec::new("idle", Idle))
        .build()
        .unwrap();
    let handle = tree.handle();
    let run = tokio::spawn(async move { tree.run().await });
    let (done_tx, mut done) = mpsc::unbounded_channel::<()>();
    let job = ChildSpec::task("job", move |_ctx| {
        let done = done_tx.clone();
        async move {
            let _ = done.send(());
            Ok(())
        }
    })
    .restart(Restart::Temporary);

    let mut after_warm_up = 0;
    for i in 0..TOTAL {
        // The same id every time: each child is gone before the next is added.
        handle.add(job.clone()).await.unwrap();
        done.recv().await.unwrap();
        if i + 1 == WARM_UP {
            after_warm_up = settle(&handle).await;
        }
    }
    let after_all = settle(&handle).await;
    handle.shutdown().unwrap();
    run.await.unwrap().unwrap();

    let growth = after_all - after_warm_up;
    assert!(
        growth < 16 * 1024,
        "live heap grew by {growth} bytes over {} more children",
        TOTAL - WARM_UP
    );
}

/// Waits until the manager has processed every exit (a snapshot round trip comes after them)
/// and returns the live heap bytes.
async fn settle(handle: &overseer::Handle) -> isize {
    loop {
        let snap = handle.snapshot().await.unwrap();
        if snap.children.len() == 1 {
            return LIVE.load(Ordering::Relaxed);
        }
        tokio::task::yield_now().await;
    }
}
