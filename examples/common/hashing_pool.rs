//! A fixed set of threads for password hashing, with a bounded queue in front.
//!
//! Each argon2 verification holds 19 MiB. Tokio's blocking pool would start a thread per
//! concurrent login (up to 512), and the allocator keeps each thread's freed hash memory
//! for reuse, so a semaphore limiting hashes at once would not bound memory: the process
//! would keep the memory of every thread that ever hashed. A fixed number of threads
//! bounds both: each keeps one argon2 working memory (see `users.rs`), so hashing holds
//! at most `threads` times 19 MiB, for the life of the process.
#![allow(dead_code)]

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// Why a job did not give its result.
#[derive(Debug, PartialEq, Eq)]
pub enum PoolError {
    /// The queue is full: every thread is busy and `queue` jobs wait already.
    Busy,
    /// The job panicked.
    Failed,
}

/// `threads` hashing threads taking jobs from a queue of `queue` places.
pub struct HashingPool {
    jobs: SyncSender<Job>,
}

fn work(jobs: &Mutex<Receiver<Job>>) {
    loop {
        // The lock is held only while waiting for the next job, not while running it.
        let job = match jobs.lock() {
            Ok(jobs) => jobs.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        // A panicking job must not take a thread (and so capacity) away from the pool.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
    }
}

impl HashingPool {
    /// Starts `threads` (at least one) threads; they end when the pool is dropped.
    pub fn new(threads: usize, queue: usize) -> Self {
        let (jobs, receiver) = sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..threads.max(1) {
            let receiver = Arc::clone(&receiver);
            std::thread::Builder::new()
                .name(format!("password-hash-{n}"))
                .spawn(move || work(&receiver))
                .expect("starting a password-hashing thread");
        }
        Self { jobs }
    }

    /// Runs `job` on a pool thread, or refuses at once when the queue is full. A job whose
    /// caller has gone away (the client hung up) by the time a thread takes it is skipped.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PoolError> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            if !done.is_closed() {
                let _ = done.send(job());
            }
        });
        self.jobs.try_send(job).map_err(|_| PoolError::Busy)?;
        result.await.map_err(|_| PoolError::Failed)
    }
}
