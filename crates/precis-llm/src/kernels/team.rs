//! Helper threads for the tiled matrix products and one-token attention. A decode step makes
//! about five matrix products per layer, each a few tens of microseconds long, and handing each
//! to a pool whose threads went to sleep after the last one costs a wake-up per product
//! (rayon's workers sleep within microseconds; a wake-up on a shared host takes longer than a
//! small product). The helpers here spin for a short while after each piece of work before
//! they sleep, so a step's back-to-back products find them awake; the calling thread takes a
//! share of every piece itself. Each calling thread has its own helpers: one fewer than rayon's
//! threads, and never more than the CPU's other cores.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

/// How long a helper waits for the next piece of work awake before it sleeps: longer than the
/// gaps between a step's products, short enough that an idle model costs no CPU.
const AWAKE: Duration = Duration::from_micros(400);
/// After this long awake, a waiting helper also offers its core to other threads between checks
/// (on a busy machine, the thread it waits for may need that core).
const SPIN_ONLY: Duration = Duration::from_micros(50);

/// One piece of work: `tasks` calls of `run`, claimed in runs by whichever thread is free.
/// The counters the threads change sit on cache lines of their own, apart from what they only
/// read.
struct Job<'a> {
    run: &'a (dyn Fn(usize) + Sync),
    tasks: usize,
    /// The calling thread and its helpers.
    threads: usize,
    next: CachePadded<AtomicUsize>,
    done: CachePadded<AtomicUsize>,
    panicked: AtomicBool,
}

impl Job<'_> {
    /// Claims and runs runs of tasks until none are left, then counts the ones it ran as done.
    /// A run is a share of what is left (`1 / (2 * threads)` of it): long runs while much is
    /// left, so the threads seldom meet on the counter and each reads its weights in order,
    /// and short ones at the end, so they finish together.
    fn work(&self) {
        let mut ran = 0;
        let mut at = self.next.load(SeqCst);
        while at < self.tasks {
            let step = ((self.tasks - at) / (2 * self.threads)).max(1);
            match self.next.compare_exchange_weak(at, at + step, SeqCst, SeqCst) {
                Ok(_) => {
                    for i in at..at + step {
                        if catch_unwind(AssertUnwindSafe(|| (self.run)(i))).is_err() {
                            self.panicked.store(true, SeqCst);
                        }
                    }
                    ran += step;
                    at = self.next.load(SeqCst);
                }
                Err(now) => at = now,
            }
        }
        if ran > 0 {
            self.done.fetch_add(ran, SeqCst);
        }
    }
}

/// What the calling thread and its helpers share.
struct Shared {
    /// The current job (type-erased `Job`), or null between jobs.
    job: AtomicPtr<()>,
    /// Counts the jobs handed out; a helper watches it for the next one.
    epoch: AtomicU64,
    /// Helpers that may be reading `job`: a job is not left until this is zero.
    reading: AtomicUsize,
    /// Helpers asleep on `wake`.
    sleeping: AtomicUsize,
    quit: AtomicBool,
    lock: Mutex<()>,
    wake: Condvar,
}

/// A calling thread's helpers.
struct Team {
    shared: Arc<Shared>,
    /// How many helpers were asked for (fewer run if the system refused a thread).
    wanted: usize,
    helpers: Vec<JoinHandle<()>>,
}

impl Team {
    fn new(wanted: usize) -> Team {
        let shared = Arc::new(Shared {
            job: AtomicPtr::new(std::ptr::null_mut()),
            epoch: AtomicU64::new(0),
            reading: AtomicUsize::new(0),
            sleeping: AtomicUsize::new(0),
            quit: AtomicBool::new(false),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        });
        let helpers = (0..wanted)
            .filter_map(|i| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new().name(format!("precis-helper-{i}")).spawn(move || help(&shared)).ok()
            })
            .collect();
        Team { shared, wanted, helpers }
    }

    /// Runs `run(0..tasks)` on this thread and the helpers, returning when all are done.
    fn run(&self, tasks: usize, run: &(dyn Fn(usize) + Sync)) {
        let job = Job {
            run,
            tasks,
            threads: self.helpers.len() + 1,
            next: CachePadded::new(AtomicUsize::new(0)),
            done: CachePadded::new(AtomicUsize::new(0)),
            panicked: AtomicBool::new(false),
        };
        let s = &*self.shared;
        s.job.store(&job as *const Job as *mut (), SeqCst);
        s.epoch.fetch_add(1, SeqCst);
        if s.sleeping.load(SeqCst) > 0 {
            let _held = s.lock.lock().unwrap_or_else(|e| e.into_inner());
            s.wake.notify_all();
        }
        job.work();
        wait_until(|| job.done.load(SeqCst) == tasks);
        // No helper may still hold the job once this function returns.
        s.job.store(std::ptr::null_mut(), SeqCst);
        wait_until(|| s.reading.load(SeqCst) == 0);
        if job.panicked.load(SeqCst) {
            panic!("a task of a shared product panicked");
        }
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        self.shared.quit.store(true, SeqCst);
        {
            let _held = self.shared.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.shared.wake.notify_all();
        }
        for helper in self.helpers.drain(..) {
            let _ = helper.join();
        }
    }
}

/// Spins until `ready`, yielding the core after a while (another thread may need it to finish).
fn wait_until(ready: impl Fn() -> bool) {
    let mut spins = 0u32;
    while !ready() {
        spins = spins.saturating_add(1);
        if spins < 1 << 14 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// A helper's life: wait for the next job (awake for `AWAKE`, then asleep), take tasks of it.
fn help(s: &Shared) {
    let mut seen = s.epoch.load(SeqCst);
    loop {
        let since = Instant::now();
        let mut spins = 0u32;
        while s.epoch.load(SeqCst) == seen && !s.quit.load(SeqCst) {
            spins = spins.wrapping_add(1);
            std::hint::spin_loop();
            if !spins.is_multiple_of(128) {
                continue;
            }
            let waited = since.elapsed();
            if waited > SPIN_ONLY {
                std::thread::yield_now();
            }
            if waited > AWAKE {
                let mut held = s.lock.lock().unwrap_or_else(|e| e.into_inner());
                s.sleeping.fetch_add(1, SeqCst);
                while s.epoch.load(SeqCst) == seen && !s.quit.load(SeqCst) {
                    held = s.wake.wait(held).unwrap_or_else(|e| e.into_inner());
                }
                s.sleeping.fetch_sub(1, SeqCst);
            }
        }
        if s.quit.load(SeqCst) {
            return;
        }
        seen = s.epoch.load(SeqCst);
        s.reading.fetch_add(1, SeqCst);
        let job = s.job.load(SeqCst) as *const Job;
        if !job.is_null() {
            // SAFETY: `Team::run` keeps the job alive until `reading` is back to zero after it
            // cleared `job`; this thread counted itself in `reading` before it loaded `job`.
            unsafe { (*job).work() };
        }
        s.reading.fetch_sub(1, SeqCst);
    }
}

thread_local! {
    static TEAM: RefCell<Option<Team>> = const { RefCell::new(None) };
}

/// The threads that share a piece of work on this thread: itself and its helpers.
pub(crate) fn threads() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    let cores = *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    rayon::current_num_threads().min(cores).max(1)
}

/// Runs `run(i)` for every `i < tasks` on this thread and its helpers, in no set order, and
/// returns when all have run. There is one helper fewer than rayon's threads, or than the CPU's
/// cores when rayon has more threads than those: more would spin where the others must work.
/// A panic in a task becomes a panic here once all are done.
pub(crate) fn run(tasks: usize, run: impl Fn(usize) + Sync) {
    let helpers = threads() - 1;
    if tasks < 2 || helpers == 0 {
        (0..tasks).for_each(run);
        return;
    }
    TEAM.with(|team| {
        // A task that itself calls `run` runs its tasks alone.
        let Ok(mut team) = team.try_borrow_mut() else {
            (0..tasks).for_each(&run);
            return;
        };
        if team.as_ref().map(|t| t.wanted) != Some(helpers) {
            *team = None;
            *team = Some(Team::new(helpers));
        }
        match team.as_ref() {
            Some(t) if !t.helpers.is_empty() => t.run(tasks, &run),
            _ => (0..tasks).for_each(&run),
        }
    });
}

/// Splits `data` into chunks of `chunk` values and runs `run(i, chunk_i)` for each, as `run` does.
pub(crate) fn chunks_mut<T: Send>(data: &mut [T], chunk: usize, run: impl Fn(usize, &mut [T]) + Sync) {
    let chunk = chunk.max(1);
    let len = data.len();
    let base = SendPtr(data.as_mut_ptr());
    self::run(len.div_ceil(chunk), |i| {
        let start = i * chunk;
        let end = (start + chunk).min(len);
        let base = &base;
        // SAFETY: each task index comes once, so the chunks `start..end` handed out are
        // disjoint and inside `data`, which stays borrowed until `run` returns.
        let part = unsafe { std::slice::from_raw_parts_mut(base.0.add(start), end - start) };
        run(i, part);
    });
}

/// A pointer the tasks of `chunks_mut` share; each touches only its own chunk.
struct SendPtr<T>(*mut T);
// SAFETY: see `chunks_mut`: the tasks write disjoint chunks.
unsafe impl<T: Send> Sync for SendPtr<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool")
    }

    #[test]
    fn every_task_runs_once_across_many_jobs() {
        pool(3).install(|| {
            for tasks in [0, 1, 2, 7, 64, 1000] {
                let counts: Vec<AtomicUsize> = (0..tasks).map(|_| AtomicUsize::new(0)).collect();
                run(tasks, |i| {
                    counts[i].fetch_add(1, SeqCst);
                });
                assert!(counts.iter().all(|c| c.load(SeqCst) == 1), "{tasks} tasks");
            }
        });
    }

    #[test]
    fn chunks_cover_the_data_once_also_after_the_helpers_slept() {
        pool(2).install(|| {
            for round in 0..3 {
                let mut data = vec![0usize; 1003];
                chunks_mut(&mut data, 16, |i, part| {
                    for (j, v) in part.iter_mut().enumerate() {
                        *v += i * 16 + j + round;
                    }
                });
                assert!(data.iter().enumerate().all(|(i, &v)| v == i + round));
                std::thread::sleep(AWAKE * 3);
            }
        });
    }

    #[test]
    fn a_panicking_task_panics_the_caller_and_the_team_still_works() {
        pool(2).install(|| {
            let caught = catch_unwind(|| run(8, |i| assert!(i != 5, "task five")));
            assert!(caught.is_err());
            let sum = AtomicUsize::new(0);
            run(10, |i| {
                sum.fetch_add(i, SeqCst);
            });
            assert_eq!(sum.load(SeqCst), 45);
        });
    }
}
