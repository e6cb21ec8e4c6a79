//! The WASI part: runs a C program built with wasi-libc
//! (`wasm/wasi_hello.c`, committed as `wasm/wasi_hello.wasm`) through
//! wasmkern's `no_std` WASI preview1, and checks its exit status.
//!
//! What the kernel provides, through the traits of `wasmkern::wasi::fs`:
//! - **stdout and stderr**: [`SerialConsole`], a [`File`] that writes to
//!   COM1. It reports itself as a terminal (a character device that cannot
//!   seek), so wasi-libc line-buffers stdout and the program's lines come
//!   out in the order it prints them, stderr's included. stdin is at end of
//!   file ([`NullFile`]).
//! - **a filesystem**: a [`MemFs`] holding `message.txt`, whose bytes are
//!   `wasm/message.txt` baked into the image with `include_bytes!`,
//!   preopened read-only as `/data`.
//! - **a clock**: [`TscClock`], the time-stamp counter read as if it ticked
//!   at [`TSC_NOMINAL_HZ`]. Nothing calibrates it, so its times are
//!   approximate (under QEMU's TCG the counter's rate follows the host);
//!   realtime is a fixed date plus that. The program must not (and does
//!   not) depend on its values.
//! - **randomness**: [`CpuRandom`], `rdrand` when the CPU has it, else a
//!   xorshift generator seeded from the time-stamp counter. The fallback
//!   is predictable: fine for hash seeds in a demo, **not for secrets**.

use core::arch::x86_64::{__cpuid, _rdrand64_step, _rdtsc};

use wasmkern::code_memory::RegionCodeMemory;
use wasmkern::wasi::memfs::MemFs;
use wasmkern::wasi::{
    self, Clock, DirPerms, Errno, FdFlags, File, FileType, Filestat, FsResult, NullFile, Random,
    WasiCtx, WasiCtxBuilder,
};
use wasmkern::{Engine, Linker, Module, Store};

use crate::guest::{CODE_SIZE, Checks};
use crate::sprintln;

/// The C program, built from `wasm/wasi_hello.c` (the command is in its
/// header comment and the README).
#[cfg(feature = "compiler")]
static PROGRAM: &[u8] = include_bytes!("../wasm/wasi_hello.wasm");
/// The program compiled on the host by `build.rs`.
#[cfg(not(feature = "compiler"))]
static PROGRAM_CWASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/wasi_hello.cwasm"));

/// The file the program reads, as `/data/message.txt`.
static MESSAGE: &[u8] = include_bytes!("../wasm/message.txt");

/// What the program's exit status must be: the sum of the numbers in
/// `wasm/message.txt` ("17, 20 and 5"), added up by hand.
const EXPECTED_STATUS: i32 = 17 + 20 + 5;

/// The rate [`TscClock`] assumes for the time-stamp counter: 1 GHz, so one
/// tick reads as one nanosecond.
pub const TSC_NOMINAL_HZ: u64 = 1_000_000_000;

/// Where [`TscClock`]'s realtime starts: 2026-01-01T00:00:00Z, in
/// nanoseconds since the Unix epoch (the kernel reads no real-time clock).
const REALTIME_START_NS: u64 = 1_767_225_600 * 1_000_000_000;

/// stdout and stderr: every byte goes to the serial port.
pub struct SerialConsole;

impl File for SerialConsole {
    fn filetype(&self) -> FileType {
        FileType::CharacterDevice
    }

    fn read(&mut self, _buf: &mut [u8]) -> FsResult<usize> {
        Err(Errno::Badf)
    }

    fn write(&mut self, buf: &[u8]) -> FsResult<usize> {
        crate::serial::write_bytes(buf);
        Ok(buf.len())
    }

    fn stat(&self) -> FsResult<Filestat> {
        Ok(Filestat {
            filetype: FileType::CharacterDevice,
            nlink: 1,
            ..Filestat::default()
        })
    }

    fn is_tty(&self) -> bool {
        true
    }

    fn fdflags(&self) -> FdFlags {
        FdFlags::APPEND
    }

    /// Writes never block and always append; the flags change nothing.
    fn set_fdflags(&mut self, _flags: FdFlags) -> FsResult<()> {
        Ok(())
    }
}

/// Reads the time-stamp counter.
fn rdtsc() -> u64 {
    // SAFETY: `rdtsc` only reads the counter; every x86-64 CPU has it and
    // the kernel leaves `CR4.TSD` clear, so it is allowed here.
    unsafe { _rdtsc() }
}

/// Time from the time-stamp counter at an assumed rate
/// ([`TSC_NOMINAL_HZ`]): approximate, see the module docs.
pub struct TscClock {
    /// The counter when the clock was made: monotonic time 0.
    start: u64,
}

impl TscClock {
    /// A clock whose monotonic time starts now.
    pub fn new() -> Self {
        TscClock { start: rdtsc() }
    }
}

impl Clock for TscClock {
    fn realtime(&self) -> FsResult<u64> {
        Ok(REALTIME_START_NS.saturating_add(self.monotonic()?))
    }

    fn monotonic(&self) -> FsResult<u64> {
        let ticks = rdtsc().saturating_sub(self.start);
        let ns = u128::from(ticks) * 1_000_000_000 / u128::from(TSC_NOMINAL_HZ);
        Ok(u64::try_from(ns).unwrap_or(u64::MAX))
    }
}

/// Random bytes from `rdrand`, or from a xorshift generator seeded from the
/// time-stamp counter when the CPU has no `rdrand` (predictable: not for
/// secrets).
pub enum CpuRandom {
    /// The CPU's `rdrand`.
    Rdrand,
    /// xorshift64* state (never 0).
    Xorshift(u64),
}

impl CpuRandom {
    /// `rdrand` if CPUID says the CPU has it (leaf 1, ECX bit 30).
    pub fn new() -> Self {
        let leaf1 = __cpuid(1);
        if leaf1.ecx & (1 << 30) != 0 {
            CpuRandom::Rdrand
        } else {
            CpuRandom::Xorshift(rdtsc() | 1)
        }
    }

    /// What the bytes come from, for the log.
    pub fn source(&self) -> &'static str {
        match self {
            CpuRandom::Rdrand => "rdrand",
            CpuRandom::Xorshift(_) => "xorshift seeded from rdtsc (not for secrets)",
        }
    }
}

/// One `rdrand` value, retried a few times as Intel advises when the
/// generator is momentarily out of entropy.
///
/// Calling it is `unsafe` outside code compiled for `rdrand`: the CPU
/// must have the instruction (CPUID leaf 1, ECX bit 30).
#[target_feature(enable = "rdrand")]
fn rdrand64() -> Option<u64> {
    for _ in 0..10 {
        let mut value = 0;
        if _rdrand64_step(&mut value) == 1 {
            return Some(value);
        }
    }
    None
}

impl Random for CpuRandom {
    fn fill(&mut self, buf: &mut [u8]) -> FsResult<()> {
        for chunk in buf.chunks_mut(8) {
            let value = match self {
                // SAFETY: `Rdrand` is only chosen when CPUID reports it.
                CpuRandom::Rdrand => unsafe { rdrand64() }.ok_or(Errno::Io)?,
                CpuRandom::Xorshift(state) => {
                    let mut x = *state;
                    x ^= x >> 12;
                    x ^= x << 25;
                    x ^= x >> 27;
                    *state = x;
                    x.wrapping_mul(0x2545_f491_4f6c_dd1d)
                }
            };
            chunk.copy_from_slice(&value.to_le_bytes()[..chunk.len()]);
        }
        Ok(())
    }
}

/// Compiles and runs the C program, checking its exit status.
pub fn run(
    engine: &Engine,
    code: &RegionCodeMemory,
    checks: &mut Checks,
) -> Result<(), wasmkern::Error> {
    #[cfg(feature = "compiler")]
    let module = Module::new(engine, PROGRAM)?;
    #[cfg(feature = "compiler")]
    sprintln!("wasi program compiled");
    #[cfg(not(feature = "compiler"))]
    let module = Module::deserialize_checked(engine, PROGRAM_CWASM)?;
    #[cfg(not(feature = "compiler"))]
    sprintln!("wasi program loaded, precompiled on the host");
    sprintln!(
        "code region: {} of {} KiB used",
        code.used().div_ceil(1024),
        CODE_SIZE >> 10
    );

    let fs = MemFs::new();
    fs.write_file("message.txt", MESSAGE)
        .and_then(|()| fs.set_read_only("message.txt", true))
        .map_err(|e| wasmkern::Error::msg("writing /data/message.txt").with_detail(e))?;
    let random = CpuRandom::new();
    sprintln!("wasi random source: {}", random.source());
    let ctx = WasiCtxBuilder::new()
        .arg("wasi_hello")
        .stdin(NullFile)
        .stdout(SerialConsole)
        .stderr(SerialConsole)
        .preopened_dir(fs.root(), "/data", DirPerms::ReadOnly)
        .clock(TscClock::new())
        .random(random)
        .build();

    let mut linker: Linker<WasiCtx> = Linker::new(engine);
    wasi::add_to_linker(&mut linker, |ctx| ctx)?;
    let mut store = Store::new(engine, ctx);
    let instance = linker.instantiate(&mut store, &module)?;
    sprintln!(
        "heap: {} KiB in use with the wasi instance",
        crate::ALLOCATOR.lock().used().div_ceil(1024)
    );
    let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
    match start.call(&mut store, ()) {
        // Returning from `_start` is exit status 0, as in a WASI runtime.
        Ok(()) => checks.check("wasi program exit status", 0, EXPECTED_STATUS),
        Err(e) => match e.exit_status() {
            Some(status) => checks.check("wasi program exit status", status, EXPECTED_STATUS),
            None => checks.fail("wasi program", e),
        },
    }
    Ok(())
}
