//! The operating-system services the core uses, as traits the core owns.
//!
//! The core (everything but `host`) never calls the operating system. What
//! it needs beyond `alloc` it asks of a [`Platform`]:
//! - [`Platform::prefault`]: map in, ahead of use, a buffer that is about
//!   to be written whole (the compiler's code buffer);
//! - [`Platform::default_code_memory`]: executable memory for engines whose
//!   embedder gives none;
//! - [`Platform::guard_regions`]: for guard-region memories, address space
//!   to reserve and a fault handler that turns a memory fault of generated
//!   code into the out-of-bounds trap ([`GuardRegions`]);
//! - [`Platform::parallelism`] and [`Platform::run_parallel`]: threads for
//!   validating and compiling a module's functions at once (divided by
//!   [`job_ranges`] and run by [`run_jobs`]).
//!
//! On these the core builds what it owns itself: a growing reservation
//! ([`GuardedRegion`]) and the registry of wasm stacks on which a fault
//! belongs to generated code ([`FaultStack`], [`fault_landing`]).
//!
//! The crate root chooses the platform (`crate::default_platform`): the
//! Linux adapter (`host`) with the `std` feature, [`Bare`] (no services:
//! nothing is prefaulted, guard regions are unavailable) without. An engine
//! keeps the platform it was created with.

use crate::abi::GUARD_REGION_BYTES;
use crate::code_memory::CodeMemory;
use crate::error::{Error, Result};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::Cell;
use core::mem::MaybeUninit;
use core::ptr::NonNull;

/// Operating-system services of the core. Without the `compiler` feature
/// only the code memory and guard regions serve.
#[cfg_attr(not(feature = "compiler"), allow(dead_code))]
pub(crate) trait Platform: Sync {
    /// Maps in the pages lying wholly inside `buf`, which is about to be
    /// written, so that writing it takes no page fault per page. Contents
    /// are unchanged. A hint: doing nothing is correct.
    fn prefault(&self, buf: &mut [MaybeUninit<u8>]) {
        let _ = buf;
    }

    /// The code memory of engines whose `Config` names none.
    fn default_code_memory(&self) -> Option<Arc<dyn CodeMemory>> {
        None
    }

    /// The services guard-region memories need, if the platform has them.
    fn guard_regions(&self) -> Option<&'static dyn GuardRegions> {
        None
    }

    /// How many jobs [`Self::run_parallel`] runs at once at most (1: one
    /// after another on the calling thread).
    fn parallelism(&self) -> usize {
        1
    }

    /// Runs every job once and returns when all are done, on the calling
    /// thread and, where the platform has them, on other threads at once
    /// (in any order). Where the platform can catch panics, a job that
    /// panics is abandoned: whatever result it was to leave stays unset,
    /// and the others complete.
    fn run_parallel(&self, jobs: &mut [&mut (dyn FnMut() + Send)]) {
        for job in jobs {
            job();
        }
    }
}

/// A platform without services.
pub(crate) struct Bare;

impl Platform for Bare {}

/// How many jobs to divide `items` function bodies among: one per thread
/// the platform runs at once, with at least 16 functions each (starting a
/// thread costs about as much as compiling a few small functions), or one
/// when not `parallel`.
#[cfg(feature = "compiler")]
pub(crate) fn job_count(platform: &dyn Platform, parallel: bool, items: usize) -> usize {
    if parallel {
        platform.parallelism().min(items / 16).max(1)
    } else {
        1
    }
}

/// Divides items `0..n` into at most `parts` consecutive, non-empty ranges
/// of about equal total `weight` (a function body's size in bytes: the
/// work of validating or compiling it grows with it), in order. Dividing
/// by count instead leaves one thread with all the work when the large
/// functions come together, as they do in real programs. Consecutive
/// ranges keep the code of a module's functions in index order.
#[cfg(feature = "compiler")]
pub(crate) fn balanced_ranges(
    n: usize,
    parts: usize,
    weight: impl Fn(usize) -> usize,
) -> alloc::vec::Vec<core::ops::Range<usize>> {
    let shares = alloc::vec![1; parts.clamp(1, n.max(1))];
    shared_ranges(n, &shares, weight)
}

/// The ranges the jobs of a parallel pass over `n` function bodies take
/// ([`run_jobs`]), one range with one thread (see [`job_count`]). With
/// `t` threads, `3 t` ranges of decreasing size when there are enough
/// bodies (at least 16 a range): the first `t` hold 70% of the weight,
/// the next `t` 20%, the last `t` 10%. The threads take the jobs in order
/// as they come free, so the last jobs, small, even out what the size of
/// a body does not predict of its work and a thread that started late or
/// was slowed by the machine: with `t` equal ranges, every thread waits
/// at the end for the slowest.
#[cfg(feature = "compiler")]
pub(crate) fn job_ranges(
    platform: &dyn Platform,
    parallel: bool,
    n: usize,
    weight: impl Fn(usize) -> usize,
) -> alloc::vec::Vec<core::ops::Range<usize>> {
    let threads = job_count(platform, parallel, n);
    if threads == 1 || n / 16 < 3 * threads {
        return balanced_ranges(n, threads, weight);
    }
    let shares: alloc::vec::Vec<u64> = [7, 2, 1]
        .iter()
        .flat_map(|&share| core::iter::repeat_n(share, threads))
        .collect();
    shared_ranges(n, &shares, weight)
}

/// Divides items `0..n` into at most `shares.len()` consecutive, non-empty
/// ranges, in order, range `k` of about `shares[k]` parts of the total
/// `weight`: range `k` ends once the items so far weigh the shares up to
/// its own; the last takes whatever is left.
#[cfg(feature = "compiler")]
fn shared_ranges(
    n: usize,
    shares: &[u64],
    weight: impl Fn(usize) -> usize,
) -> alloc::vec::Vec<core::ops::Range<usize>> {
    let total: u128 = (0..n).map(|i| weight(i) as u128).sum();
    let all: u128 = shares.iter().map(|&s| u128::from(s)).sum();
    let mut ranges = alloc::vec::Vec::with_capacity(shares.len());
    let (mut start, mut sum) = (0, 0u128);
    let mut upto = shares.first().map_or(0, |&s| u128::from(s));
    for i in 0..n {
        sum += weight(i) as u128;
        let k = ranges.len();
        if k + 1 < shares.len() && sum * all >= total * upto {
            ranges.push(start..i + 1);
            start = i + 1;
            upto += u128::from(shares[k + 1]);
        }
    }
    if start < n || ranges.is_empty() {
        ranges.push(start..n);
    }
    ranges
}

/// Runs `job(k)` for every `k` in `0..jobs`, on `platform`'s threads when
/// there are several, and returns the results in order of `k`: the first
/// error in that order if any (so that the error is the one an ordered
/// pass would meet first when the jobs take consecutive ranges), and an
/// internal error for a job whose thread panicked.
#[cfg(feature = "compiler")]
pub(crate) fn run_jobs<T: Send>(
    platform: &dyn Platform,
    jobs: usize,
    job: impl Fn(usize) -> Result<T> + Sync,
) -> Result<alloc::vec::Vec<T>> {
    let mut results: alloc::vec::Vec<Option<Result<T>>> = (0..jobs).map(|_| None).collect();
    if let [only] = &mut results[..] {
        *only = Some(job(0));
    } else {
        let job = &job;
        let mut closures: alloc::vec::Vec<_> = results
            .iter_mut()
            .enumerate()
            .map(|(k, result)| move || *result = Some(job(k)))
            .collect();
        let mut all: alloc::vec::Vec<&mut (dyn FnMut() + Send)> = closures
            .iter_mut()
            .map(|c| c as &mut (dyn FnMut() + Send))
            .collect();
        platform.run_parallel(&mut all);
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(Error::internal("a compiling thread panicked"))))
        .collect()
}

/// Where a memory fault on a registered stack continues: given the
/// context that the stack's running cell holds and the address of the
/// faulting instruction, the address of the trap stub it should call, or
/// `None` when the instruction is not a load or store of the running
/// generated code.
pub(crate) type FaultLanding = fn(*const (), usize) -> Option<usize>;

/// Virtual memory and fault handling for guard-region memories.
///
/// # Safety
/// Implementations must keep these promises, on which the soundness of
/// guard-region memories rests:
/// - [`reserve`](Self::reserve) returns the start of `bytes` of address
///   space that nothing else uses, inaccessible;
///   [`commit`](Self::commit) makes a prefix of it readable and writable,
///   its never-written bytes zero; [`release`](Self::release) unmaps it.
/// - Once [`install_fault_handler`](Self::install_fault_handler) succeeded,
///   a memory fault of an instruction at `pc` with the stack pointer `sp`
///   for which [`fault_landing`]`(pc, sp)` returns `Some(stub)` continues
///   at `stub` as if the instruction had called it (`pc` pushed as the
///   return address, on the interrupted stack); every other fault is
///   handled as without the handler. The handler calls [`fault_landing`]
///   only on the faulting thread.
pub(crate) unsafe trait GuardRegions: Sync {
    /// Installs the process-wide fault handler (once; later calls do
    /// nothing).
    fn install_fault_handler(&self) -> Result<()>;

    /// Reserves `bytes` of inaccessible address space.
    fn reserve(&self, bytes: usize) -> Result<NonNull<u8>>;

    /// Makes the first `len` bytes at `base` readable and writable.
    ///
    /// # Safety
    /// `base` is a reservation of this platform at least `len` bytes long.
    unsafe fn commit(&self, base: NonNull<u8>, len: usize) -> Result<()>;

    /// Unmaps the reservation of `bytes` at `base`.
    ///
    /// # Safety
    /// `base` and `bytes` are those of a reservation of this platform, and
    /// nothing accesses it any more.
    unsafe fn release(&self, base: NonNull<u8>, bytes: usize);

    /// Prepares the calling thread for the fault handler (an alternate
    /// signal stack, say). The core calls it when a store allocates its
    /// wasm stack, not per call: a thread that runs generated code without
    /// it must still be handled (on the interrupted stack, whose margin
    /// below the stack limit leaves room).
    fn prepare_thread(&self);
}

/// A linear memory's reservation: `len` accessible bytes at `base`, then
/// inaccessible address space up to [`GUARD_REGION_BYTES`].
pub(crate) struct GuardedRegion {
    base: NonNull<u8>,
    len: usize,
    os: &'static dyn GuardRegions,
}

// SAFETY: the region owns its mapping exclusively, like a `Vec` owns its
// buffer; access goes through `&`/`&mut` of the region.
unsafe impl Send for GuardedRegion {}
// SAFETY: as above; shared access only reads.
unsafe impl Sync for GuardedRegion {}

impl GuardedRegion {
    /// Reserves a region with `len` accessible (zeroed) bytes.
    pub(crate) fn new(os: &'static dyn GuardRegions, len: usize) -> Result<GuardedRegion> {
        let reserve = usize::try_from(GUARD_REGION_BYTES)
            .map_err(|_| Error::runtime("guard regions need a 64-bit address space"))?;
        let mut region = GuardedRegion {
            base: os.reserve(reserve)?,
            len: 0,
            os,
        };
        region.grow(len)?;
        Ok(region)
    }

    /// Makes the first `new_len` bytes accessible (new bytes read as zero:
    /// they were never touched). `new_len` must not shrink the region.
    pub(crate) fn grow(&mut self, new_len: usize) -> Result<()> {
        if new_len as u64 > GUARD_REGION_BYTES / 2 || new_len < self.len {
            return Err(Error::runtime("guard-region memory size out of range"));
        }
        if new_len == self.len {
            return Ok(());
        }
        // SAFETY: `[base, base + new_len)` lies inside our reservation (at
        // most half of it, checked above).
        unsafe { self.os.commit(self.base, new_len)? };
        self.len = new_len;
        Ok(())
    }
}

impl core::ops::Deref for GuardedRegion {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: the first `len` bytes are committed (readable and
        // writable) and owned by this region.
        unsafe { core::slice::from_raw_parts(self.base.as_ptr(), self.len) }
    }
}

impl core::ops::DerefMut for GuardedRegion {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and `&mut self` makes the access exclusive.
        unsafe { core::slice::from_raw_parts_mut(self.base.as_ptr(), self.len) }
    }
}

impl Drop for GuardedRegion {
    fn drop(&mut self) {
        // SAFETY: the reservation is ours, of that size (`new` converted it
        // without loss), and nothing refers to it once the region is dropped
        // (the store drops memories after its instances).
        unsafe { self.os.release(self.base, GUARD_REGION_BYTES as usize) };
    }
}

/// A wasm stack registered for the fault handler: a fault whose stack
/// pointer lies in `[bottom, top)` happened in generated code running on
/// it, and `landing(running, pc)` says where it continues while the
/// `running` cell names the code's context (it is null between runs).
/// Only the `std` platform's fault handler reads the entries.
#[cfg_attr(not(feature = "std"), allow(dead_code))]
struct FaultStackEntry {
    bottom: usize,
    top: usize,
    running: NonNull<Cell<*const ()>>,
    landing: FaultLanding,
}

// SAFETY: an entry is only read by the fault handler of the thread whose
// stack pointer lies in the entry's stack, which is the thread running that
// stack's code, the one that sets its `running` cell.
unsafe impl Send for FaultStackEntry {}
// SAFETY: as above.
unsafe impl Sync for FaultStackEntry {}

/// Every registered wasm stack. Written when a store allocates its stack
/// and when it is dropped; read by the fault handler, which may have to
/// wait for a writer on another thread (never for its own thread, which
/// writes only from Rust code, not from generated code).
static FAULT_STACKS: spin::RwLock<Vec<FaultStackEntry>> = spin::RwLock::new(Vec::new());

/// The registration of a wasm stack with the fault handler: while it
/// lives, faults of generated code running on the stack become traps.
/// Faults are told apart by the stack pointer, not by a thread-local
/// value, so that entering generated code costs no thread-local access.
pub(crate) struct FaultStack {
    bottom: usize,
}

impl FaultStack {
    /// Registers the stack `[bottom, top)`.
    ///
    /// # Safety
    /// `running` must stay valid until the registration drops, and the
    /// stack must not be freed before. While generated code runs on the
    /// stack, the cell must hold a context `c` for which `landing(c, pc)`
    /// is sound to call from the fault handler on that thread, and null
    /// whenever Rust code uses what `c` points to.
    pub(crate) unsafe fn register(
        bottom: usize,
        top: usize,
        running: NonNull<Cell<*const ()>>,
        landing: FaultLanding,
    ) -> FaultStack {
        FAULT_STACKS.write().push(FaultStackEntry {
            bottom,
            top,
            running,
            landing,
        });
        FaultStack { bottom }
    }
}

impl Drop for FaultStack {
    fn drop(&mut self) {
        FAULT_STACKS.write().retain(|e| e.bottom != self.bottom);
    }
}

/// Where a memory fault at `pc` with stack pointer `sp` continues: the trap
/// stub of the faulting instruction when `sp` lies in a registered stack
/// whose generated code is running, else `None`. For the platform's fault
/// handler, on the faulting thread.
#[cfg_attr(not(feature = "std"), allow(dead_code))]
pub(crate) fn fault_landing(pc: usize, sp: usize) -> Option<usize> {
    let stacks = FAULT_STACKS.read();
    let entry = stacks.iter().find(|e| e.bottom <= sp && sp < e.top)?;
    // SAFETY: the registration keeps the cell valid while the entry is
    // listed (`FaultStack::register`), and the read lock keeps it listed.
    let running = unsafe { entry.running.as_ref() }.get();
    if running.is_null() {
        return None;
    }
    (entry.landing)(running, pc)
}
