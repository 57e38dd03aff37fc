//! The encoding pool: chunking, hashing, compression and encryption of blobs run
//! on one process-wide pool of one thread per core, fed by a queue.
//!
//! Why a pool of its own rather than tokio's blocking pool under one permit per
//! core: there every job costs two thread hand-offs (the spawn, then waking the
//! async task so it can release its permit to the next one), and a core idles
//! through both. Pool threads take the next queued job the moment one ends, so
//! the queue, not the hand-offs, sets the pace. Measured on `scripts/bench-repo`
//! at 10× on 2 cores: put-dir went from about 170 % to 180 % CPU and from 4.3 s
//! to 4.0 s.

use std::sync::{Arc, Mutex, OnceLock, mpsc};

use tokio::sync::Semaphore;

use crate::error::{Error, Result};

/// Jobs one writer may have queued or running per pool thread: enough that a
/// thread finishing a job always finds the next one waiting, few enough that the
/// data they hold stays small.
const QUEUED_PER_THREAD: usize = 2;

type Job = Box<dyn FnOnce() + Send>;

/// The queue feeding the pool's threads, started on first use.
static POOL: OnceLock<std::result::Result<mpsc::Sender<Job>, String>> = OnceLock::new();

fn submit(job: Job) -> Result<()> {
    let queue = POOL
        .get_or_init(start)
        .as_ref()
        .map_err(|e| Error::Task(format!("cannot start the encoding threads: {e}")))?;
    queue
        .send(job)
        .map_err(|_| Error::Task("the encoding threads are gone".into()))
}

// Plain threads blocked on the queue: an idle pool costs nothing (rayon's
// workers spin looking for work, which took CPU from the async side here).
fn start() -> std::result::Result<mpsc::Sender<Job>, String> {
    let (tx, rx) = mpsc::channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..threads() {
        let rx = rx.clone();
        std::thread::Builder::new()
            .name(format!("cairn-encode-{i}"))
            .spawn(move || {
                loop {
                    // The lock is held only while waiting: one thread waits on
                    // the queue, the others on the lock.
                    let job = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    // A panicking job drops its result sender, so its caller
                    // gets an error; the thread lives on.
                    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
                        tracing::error!("an encoding job panicked");
                    }
                }
            })
            .map_err(|e| e.to_string())?;
    }
    Ok(tx)
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// One writer's (a session's) access to the pool: at most
/// `QUEUED_PER_THREAD` jobs per thread queued or running at a time, so memory
/// held by waiting jobs is bounded per writer.
#[derive(Debug, Clone)]
pub(crate) struct Encoder {
    slots: Arc<Semaphore>,
}

impl Encoder {
    pub(crate) fn new() -> Encoder {
        Encoder {
            slots: Arc::new(Semaphore::new(threads() * QUEUED_PER_THREAD)),
        }
    }

    /// Run `work` on the pool and await its result.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let slot = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| Error::Task(e.to_string()))?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        submit(Box::new(move || {
            let out = work();
            // The slot goes back before the result: the next job is queued while
            // this caller wakes up.
            drop(slot);
            // The caller may have gone (its task was cancelled): nothing to do.
            let _ = tx.send(out);
        }))?;
        rx.await
            .map_err(|_| Error::Task("an encoding job ended without a result".into()))?
    }
}
