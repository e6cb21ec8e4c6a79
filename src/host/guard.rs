//! Guard regions on Linux: the [`GuardRegions`] services behind
//! `Config::guard_regions` (the core's `platform` module owns the
//! reservation and the registry of wasm stacks built on them).
//!
//! - Reservations are `PROT_NONE` anonymous mappings (`MAP_NORESERVE`);
//!   committing a prefix `mprotect`s it readable and writable, so a memory
//!   grows in place and its base never moves.
//! - [`install_fault_handler`] installs a process-wide `SIGSEGV`/`SIGBUS`
//!   handler once. A fault is generated code's when the interrupted stack
//!   pointer lies in a wasm stack whose code is running (the core's
//!   `platform::fault_landing`: a store names itself for each run of its
//!   code, not while its host functions run) and that code maps the
//!   faulting instruction to a trap stub. Then the handler
//!   makes the faulting instruction appear to `call` that stub: it pushes
//!   the faulting address (the backtrace's trap site) and continues at the
//!   stub, which leaves through the exit protocol like any trap. Every other
//!   fault goes to the handler installed before ours.
//! - The handler runs on an alternate signal stack: threads started by
//!   Rust's `std` have one, and a thread that creates an engine or a
//!   store's wasm stack without one (threads not started by `std`) gets
//!   one. Elsewhere it runs on the wasm stack, whose margin below the stack
//!   limit holds the kernel's signal frame and the handler.

use crate::error::{Error, Result};
use crate::platform::GuardRegions;
use core::ptr::{self, NonNull};
use std::sync::OnceLock;

/// The guard-region services of Linux (see the module docs).
pub(crate) struct LinuxGuardRegions;

// SAFETY: `reserve`, `commit` and `release` map, protect and unmap exactly
// the ranges they are given; the handler installed by
// `install_fault_handler` redirects a fault only where
// `platform::fault_landing` names a stub (`on_fault`) and forwards every
// other one.
unsafe impl GuardRegions for LinuxGuardRegions {
    fn install_fault_handler(&self) -> Result<()> {
        self.prepare_thread();
        install_fault_handler()
    }

    fn reserve(&self, bytes: usize) -> Result<NonNull<u8>> {
        // SAFETY: a fresh anonymous mapping at an address of the kernel's
        // choosing touches no existing memory.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                bytes,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(Error::runtime(
                "cannot reserve 8 GiB of address space for a guard-region memory",
            ));
        }
        NonNull::new(base.cast()).ok_or_else(|| Error::runtime("mmap returned null"))
    }

    unsafe fn commit(&self, base: NonNull<u8>, len: usize) -> Result<()> {
        // SAFETY: the caller guarantees `[base, base + len)` lies inside a
        // reservation of ours; bytes already accessible keep their contents.
        let rc = unsafe {
            libc::mprotect(
                base.as_ptr().cast(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
            )
        };
        if rc != 0 {
            return Err(Error::runtime(
                "out of memory growing a guard-region memory",
            ));
        }
        Ok(())
    }

    unsafe fn release(&self, base: NonNull<u8>, bytes: usize) {
        // SAFETY: the caller guarantees this is a whole reservation of ours
        // that nothing uses any more.
        unsafe { libc::munmap(base.as_ptr().cast(), bytes) };
    }

    fn prepare_thread(&self) {
        if !HAS_ALT_STACK.get() {
            ensure_alt_stack();
        }
    }
}

std::thread_local! {
    /// Whether this thread is known to have an alternate signal stack.
    static HAS_ALT_STACK: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
    /// The alternate signal stack this module made for this thread, if any.
    static OWN_ALT_STACK: core::cell::RefCell<Option<AltStack>> =
        const { core::cell::RefCell::new(None) };
}

/// Size of the alternate signal stacks this module allocates.
const ALT_STACK_BYTES: usize = 64 << 10;

/// An alternate signal stack this module mapped for its thread.
struct AltStack {
    base: *mut libc::c_void,
}

impl Drop for AltStack {
    fn drop(&mut self) {
        let disable = libc::stack_t {
            ss_sp: ptr::null_mut(),
            ss_flags: libc::SS_DISABLE,
            ss_size: 0,
        };
        // SAFETY: the thread stops using the stack before it is unmapped;
        // the mapping is ours.
        unsafe {
            libc::sigaltstack(&disable, ptr::null_mut());
            libc::munmap(self.base, ALT_STACK_BYTES);
        }
    }
}

/// Gives this thread an alternate signal stack unless it has one.
#[cold]
fn ensure_alt_stack() {
    // SAFETY: an all-zero `stack_t` is a valid value (null pointer, no
    // flags, size 0).
    let mut current: libc::stack_t = unsafe { core::mem::zeroed() };
    // SAFETY: `sigaltstack` with a null new stack only reads the current
    // one into `current`.
    let rc = unsafe { libc::sigaltstack(ptr::null(), &mut current) };
    if rc == 0 && current.ss_flags & libc::SS_DISABLE == 0 {
        HAS_ALT_STACK.set(true);
        return;
    }
    // SAFETY: a fresh anonymous mapping touches no existing memory.
    let base = unsafe {
        libc::mmap(
            ptr::null_mut(),
            ALT_STACK_BYTES,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        // Without it a fault kills the process instead of trapping; try
        // again on the next call.
        return;
    }
    let stack = libc::stack_t {
        ss_sp: base,
        ss_flags: 0,
        ss_size: ALT_STACK_BYTES,
    };
    // SAFETY: `base` is a mapping of `ALT_STACK_BYTES` that this thread owns
    // until `AltStack` unmaps it at thread exit.
    if unsafe { libc::sigaltstack(&stack, ptr::null_mut()) } != 0 {
        // SAFETY: the mapping was never handed out.
        unsafe { libc::munmap(base, ALT_STACK_BYTES) };
        return;
    }
    OWN_ALT_STACK.with(|own| *own.borrow_mut() = Some(AltStack { base }));
    HAS_ALT_STACK.set(true);
}

/// The handlers that were installed before ours, for `SIGSEGV` and
/// `SIGBUS`.
static PREVIOUS: OnceLock<[libc::sigaction; 2]> = OnceLock::new();

const SIGNALS: [libc::c_int; 2] = [libc::SIGSEGV, libc::SIGBUS];

/// Installs the fault handler (once per process).
fn install_fault_handler() -> Result<()> {
    let mut result = Ok(());
    PREVIOUS.get_or_init(|| {
        // SAFETY: an all-zero `sigaction` is a valid "default action" value.
        let mut previous: [libc::sigaction; 2] = unsafe { core::mem::zeroed() };
        for (sig, old) in SIGNALS.iter().zip(previous.iter_mut()) {
            // SAFETY: querying with a null new action changes nothing.
            if unsafe { libc::sigaction(*sig, ptr::null(), old) } != 0 {
                result = Err(Error::runtime("cannot query the SIGSEGV/SIGBUS handlers"));
            }
        }
        previous
    });
    result?;
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    let ok = *INSTALLED.get_or_init(|| {
        SIGNALS.iter().all(|&sig| {
            // SAFETY: zeroed is a valid `sigaction`; we fill in a handler
            // with the `SA_SIGINFO` signature and an empty mask.
            let mut action: libc::sigaction = unsafe { core::mem::zeroed() };
            action.sa_sigaction = on_fault as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
            // SAFETY: `action.sa_mask` is a valid signal set to empty, and
            // installing a handler is what this function is for.
            unsafe {
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(sig, &action, ptr::null_mut()) == 0
            }
        })
    });
    if ok {
        Ok(())
    } else {
        Err(Error::runtime(
            "cannot install the guard-region fault handler",
        ))
    }
}

/// The fault handler (see the module docs).
extern "C" fn on_fault(sig: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let uc = context.cast::<libc::ucontext_t>();
    // SAFETY: the kernel passes a valid `ucontext_t` to `SA_SIGINFO`
    // handlers.
    let gregs = unsafe { &mut (*uc).uc_mcontext.gregs };
    let pc = gregs[libc::REG_RIP as usize] as usize;
    let sp = gregs[libc::REG_RSP as usize] as usize;
    if let Some(stub) = crate::platform::fault_landing(pc, sp) {
        // Emulate `call stub` at the faulting instruction. The wasm stack
        // has room: generated code may call a trap stub at any point.
        let rsp = gregs[libc::REG_RSP as usize] as usize - 8;
        // SAFETY: `rsp` is below the interrupted wasm code's stack pointer,
        // inside the wasm stack's margin (see above).
        unsafe { (rsp as *mut u64).write(pc as u64) };
        gregs[libc::REG_RSP as usize] = rsp as i64;
        gregs[libc::REG_RIP as usize] = stub as i64;
        return;
    }
    forward(sig, info, context);
}

/// Passes a fault that is not ours to the handler installed before.
fn forward(sig: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let Some(previous) = PREVIOUS.get() else {
        return;
    };
    let Some(old) = SIGNALS.iter().position(|&s| s == sig).map(|i| &previous[i]) else {
        return;
    };
    match old.sa_sigaction {
        libc::SIG_DFL | libc::SIG_IGN => {
            // Restore the default action and return: the instruction faults
            // again and the process ends the way it would have without us.
            // SAFETY: `old` is a handler value the kernel gave us.
            unsafe { libc::sigaction(sig, old, ptr::null_mut()) };
            if old.sa_sigaction == libc::SIG_IGN {
                // SAFETY: an all-zero action is the default action.
                let default: libc::sigaction = unsafe { core::mem::zeroed() };
                // SAFETY: installing the default action for `sig`.
                unsafe { libc::sigaction(sig, &default, ptr::null_mut()) };
            }
        }
        handler if old.sa_flags & libc::SA_SIGINFO != 0 => {
            // SAFETY: with `SA_SIGINFO` the value is a three-argument
            // handler, called with the kernel's own arguments.
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                unsafe { core::mem::transmute(handler) };
            f(sig, info, context);
        }
        handler => {
            // SAFETY: without `SA_SIGINFO` the value is a one-argument
            // handler.
            let f: extern "C" fn(libc::c_int) = unsafe { core::mem::transmute(handler) };
            f(sig);
        }
    }
}
