//! WASI preview1 (`wasi_snapshot_preview1`) in the `no_std` core: all 46
//! functions, implemented once over traits the embedder provides, so a
//! unikernel runs the same programs as a Linux process.
//!
//! ```
//! use wasmkern::wasi::{self, DirPerms, OutputPipe, WasiCtx, WasiCtxBuilder, memfs::MemFs};
//! use wasmkern::{Engine, Linker, Module, Store};
//!
//! let engine = Engine::default();
//! let mut linker: Linker<WasiCtx> = Linker::new(&engine);
//! wasi::add_to_linker(&mut linker, |ctx| ctx)?;
//!
//! let fs = MemFs::new();
//! fs.write_file("greeting.txt", b"hello from memfs\n").unwrap();
//! let stdout = OutputPipe::new(1 << 20);
//! let ctx = WasiCtxBuilder::new()
//!     .arg("prog")
//!     .stdout(stdout.clone())
//!     .preopened_dir(fs.root(), "/", DirPerms::ReadWrite)
//!     .build();
//!
//! // Writes "hi\n" to stdout, then exits with status 3.
//! let wasm = wat::parse_str(r#"(module
//!     (import "wasi_snapshot_preview1" "fd_write"
//!         (func $fd_write (param i32 i32 i32 i32) (result i32)))
//!     (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
//!     (memory (export "memory") 1)
//!     (data (i32.const 16) "hi\n")
//!     (func (export "_start")
//!         (i32.store (i32.const 0) (i32.const 16))
//!         (i32.store (i32.const 4) (i32.const 3))
//!         (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
//!         (call $exit (i32.const 3))))"#).unwrap();
//! let module = Module::new(&engine, wasm)?;
//! let mut store = Store::new(&engine, ctx);
//! let instance = linker.instantiate(&mut store, &module)?;
//! let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
//! let err = start.call(&mut store, ()).unwrap_err();
//! assert_eq!(err.exit_status(), Some(3));
//! assert_eq!(stdout.contents(), b"hi\n");
//! # Ok::<(), wasmkern::Error>(())
//! ```
//!
//! # Layers
//! - [`fs`]: the traits an embedder implements: [`Dir`] and [`File`]
//!   (single-name operations relative to a directory handle, never following
//!   symbolic links), [`Clock`], [`Random`], and the value types they share
//!   with the core, errors being preview1's own [`Errno`].
//! - `path` (private): **every path is resolved here, once**, beneath the
//!   directory descriptor it is relative to, one component at a time, with
//!   openat2 `RESOLVE_BENEATH` semantics done portably: absolute paths, `..`
//!   above that directory and absolute symbolic-link targets fail with
//!   [`Errno::Perm`] (as Wasmtime's), link chains longer than
//!   [`MAX_SYMLINK_FOLLOWS`] with [`Errno::Loop`]. A backend never sees a
//!   path, only names, so no backend can be escaped through one.
//! - `preview1` (private): the functions, over a [`WasiCtx`] and the
//!   guest's memory. [`add_to_linker`] defines them in a [`Linker`].
//! - [`memfs`]: an in-memory filesystem (files, directories, symbolic and
//!   hard links, timestamps, read-only nodes, a byte budget).
//! - [`stdio`]: captured output ([`OutputPipe`]), input from bytes
//!   ([`InputBytes`]), a null device ([`NullFile`]), a closed stream
//!   ([`ClosedFile`]). The `std` adapter adds inherited stdio and the real
//!   filesystem.
//!
//! # Guest memory
//! Every pointer and length a guest passes is checked against its memory
//! (the module's export named `memory`, as Wasmtime requires) with 64-bit
//! arithmetic: out of bounds is [`Errno::Fault`], a pointer misaligned for
//! its type is [`Errno::Inval`], as Wasmtime's wiggle layer answers. Arrays
//! (iovecs, `argv`, subscriptions, events) are checked whole before
//! anything is read or written. (Wasmtime, following the witx documents'
//! "shall trap", traps instead; wasmkern answers with an errno, as this
//! crate's WASI was specified, so a guest can observe and report it. No
//! correct program passes such pointers, so the two agree on them.) A module without a `memory` export can only
//! call the functions that take no pointer; the others end the call with a
//! host error.
//!
//! # Rights
//! The core keeps preview1's rights as wasi-common did: each descriptor has
//! base and inheriting rights, a descriptor opened through a directory gets
//! the requested rights intersected with the directory's inheriting ones,
//! `fd_fdstat_set_rights` can only drop rights, and an operation without
//! its right fails with [`Errno::Notcapable`] (reading and writing with
//! [`Errno::Badf`], as in POSIX and Wasmtime; file operations on a
//! directory too). A read-only preopen
//! ([`DirPerms::ReadOnly`]) has no right that changes the filesystem.
//!
//! # Exit
//! `proc_exit(n)` returns [`Error::exit`](crate::Error::exit)`(n)` from the
//! host call, which unwinds every active wasm call (nested ones included)
//! through the normal host-error path: the caller of the outermost call
//! reads [`Error::exit_status`](crate::Error::exit_status). As in Wasmtime,
//! a status of 126 or more is not an exit but an error ("exit with invalid
//! exit status").
//!
//! # Clocks, randomness, poll
//! With the `std` feature the builder defaults to the system clock and the
//! operating system's random source. Without it there is **no default**:
//! `clock_*` fail with [`Errno::Nosys`] and so does `random_get`, until the
//! embedder provides them; a deterministic default would hand guests
//! predictable hash seeds and keys. `poll_oneoff` never blocks in a
//! backend: it checks each subscription ([`File::poll_readiness`]) and
//! sleeps through [`Clock::sleep`] until the first deadline, or 1 ms when
//! it waits for a file, in slices of at most 10 ms: between two, an
//! [`InterruptHandle`](crate::InterruptHandle) interrupt ends the wait and
//! the call with [`ErrorKind::Interrupted`](crate::ErrorKind::Interrupted)
//! (not resumable: the guest cannot be resumed inside a host call).
//!
//! # Limits
//! [`WasiLimits`], set with [`WasiCtxBuilder::limits`]: open descriptors
//! (default 1,024, [`Errno::Mfile`] beyond), bytes moved by one read, write
//! or `random_get` call (16 MiB; more is served as a short read/write),
//! subscriptions of one `poll_oneoff` (4,096), path length (4,096 bytes,
//! [`Errno::Nametoolong`]). [`OutputPipe`] has a byte cap and
//! [`MemFs`](memfs::MemFs) a total byte budget ([`Errno::Nospc`] beyond).
//! A guest that loops calling `poll_oneoff` is bounded like any loop, by
//! fuel or an interrupt, and one long wait by an interrupt (above).
//!
//! # Sockets
//! Preview1 cannot create sockets; no descriptor the core hands out is one,
//! so `sock_*` fail with [`Errno::Notsock`] on an open descriptor and
//! [`Errno::Badf`] otherwise.

mod ctx;
pub mod fs;
pub mod memfs;
mod path;
mod preview1;
pub mod rights;
pub mod stdio;
#[cfg(feature = "std")]
pub mod system;

pub use ctx::{DirPerms, FilePerms, WasiCtx, WasiCtxBuilder, WasiLimits};
pub use fs::{
    Advice, Clock, ClockId, Dir, DirEntry, Errno, FdFlags, File, FileType, Filestat, FsResult,
    MAX_SYMLINK_FOLLOWS, OpenOptions, Random, Readiness, SeekFrom, SetTime,
};
pub use stdio::{ClosedFile, InputBytes, NullFile, OutputPipe};

use crate::error::{Error, Result};
use crate::runtime::{Caller, Extern, Linker};
use core::sync::atomic::Ordering;
use preview1::Mem;

/// The module name of every preview1 import.
pub const MODULE: &str = "wasi_snapshot_preview1";

/// The names of the 46 functions [`add_to_linker`] defines.
pub const FUNCTIONS: [&str; 46] = [
    "args_get",
    "args_sizes_get",
    "environ_get",
    "environ_sizes_get",
    "clock_res_get",
    "clock_time_get",
    "fd_advise",
    "fd_allocate",
    "fd_close",
    "fd_datasync",
    "fd_fdstat_get",
    "fd_fdstat_set_flags",
    "fd_fdstat_set_rights",
    "fd_filestat_get",
    "fd_filestat_set_size",
    "fd_filestat_set_times",
    "fd_pread",
    "fd_prestat_get",
    "fd_prestat_dir_name",
    "fd_pwrite",
    "fd_read",
    "fd_readdir",
    "fd_renumber",
    "fd_seek",
    "fd_sync",
    "fd_tell",
    "fd_write",
    "path_create_directory",
    "path_filestat_get",
    "path_filestat_set_times",
    "path_link",
    "path_open",
    "path_readlink",
    "path_remove_directory",
    "path_rename",
    "path_symlink",
    "path_unlink_file",
    "poll_oneoff",
    "proc_exit",
    "proc_raise",
    "sched_yield",
    "random_get",
    "sock_accept",
    "sock_recv",
    "sock_send",
    "sock_shutdown",
];

fn errno(r: FsResult<()>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => i32::from(e as u16),
    }
}

/// Runs `f` over the context and the calling instance's memory.
fn with_mem<T: 'static>(
    caller: &mut Caller<'_, T>,
    get: impl Fn(&mut T) -> &mut WasiCtx,
    f: impl FnOnce(&mut WasiCtx, &mut Mem<'_>) -> FsResult<()>,
) -> Result<i32> {
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        return Err(Error::msg(
            "wasi: the calling module exports no memory named `memory`",
        ));
    };
    let (bytes, data) = memory.data_and_store_mut(caller);
    Ok(errno(f(get(data), &mut Mem(bytes))))
}

/// Defines the 46 functions of `wasi_snapshot_preview1` in `linker`;
/// `get` finds the [`WasiCtx`] in the store's data (Wasmtime's
/// `wasmtime_wasi::preview1::add_to_linker_sync` shape).
pub fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    get: impl Fn(&mut T) -> &mut WasiCtx + Send + Sync + Copy + 'static,
) -> Result<()> {
    macro_rules! mem_fn {
        ($name:ident ($($a:ident : $t:ty),*)) => {
            linker.func_wrap(MODULE, stringify!($name),
                move |mut caller: Caller<'_, T>, $($a: $t),*| -> Result<i32> {
                    with_mem(&mut caller, get, |ctx, mem| preview1::$name(ctx, mem, $($a),*))
                })?;
        };
    }
    macro_rules! ctx_fn {
        ($name:ident ($($a:ident : $t:ty),*)) => {
            linker.func_wrap(MODULE, stringify!($name),
                move |mut caller: Caller<'_, T>, $($a: $t),*| -> i32 {
                    errno(preview1::$name(get(caller.data_mut()), $($a),*))
                })?;
        };
    }
    mem_fn!(args_get(a: u32, b: u32));
    mem_fn!(args_sizes_get(a: u32, b: u32));
    mem_fn!(environ_get(a: u32, b: u32));
    mem_fn!(environ_sizes_get(a: u32, b: u32));
    mem_fn!(clock_res_get(id: u32, out: u32));
    mem_fn!(clock_time_get(id: u32, precision: u64, out: u32));
    ctx_fn!(fd_advise(fd: u32, offset: u64, len: u64, advice: u32));
    ctx_fn!(fd_allocate(fd: u32, offset: u64, len: u64));
    ctx_fn!(fd_close(fd: u32));
    ctx_fn!(fd_datasync(fd: u32));
    mem_fn!(fd_fdstat_get(fd: u32, out: u32));
    ctx_fn!(fd_fdstat_set_flags(fd: u32, flags: u32));
    ctx_fn!(fd_fdstat_set_rights(fd: u32, base: u64, inheriting: u64));
    mem_fn!(fd_filestat_get(fd: u32, out: u32));
    ctx_fn!(fd_filestat_set_size(fd: u32, size: u64));
    ctx_fn!(fd_filestat_set_times(fd: u32, atim: u64, mtim: u64, flags: u32));
    mem_fn!(fd_pread(fd: u32, iovs: u32, count: u32, offset: u64, out: u32));
    mem_fn!(fd_prestat_get(fd: u32, out: u32));
    mem_fn!(fd_prestat_dir_name(fd: u32, buf: u32, len: u32));
    mem_fn!(fd_pwrite(fd: u32, iovs: u32, count: u32, offset: u64, out: u32));
    mem_fn!(fd_read(fd: u32, iovs: u32, count: u32, out: u32));
    mem_fn!(fd_readdir(fd: u32, buf: u32, len: u32, cookie: u64, out: u32));
    ctx_fn!(fd_renumber(from: u32, to: u32));
    mem_fn!(fd_seek(fd: u32, offset: i64, whence: u32, out: u32));
    ctx_fn!(fd_sync(fd: u32));
    mem_fn!(fd_tell(fd: u32, out: u32));
    mem_fn!(fd_write(fd: u32, iovs: u32, count: u32, out: u32));
    mem_fn!(path_create_directory(fd: u32, ptr: u32, len: u32));
    mem_fn!(path_filestat_get(fd: u32, flags: u32, ptr: u32, len: u32, out: u32));
    mem_fn!(path_filestat_set_times(
        fd: u32,
        flags: u32,
        ptr: u32,
        len: u32,
        atim: u64,
        mtim: u64,
        fst: u32
    ));
    mem_fn!(path_link(
        old_fd: u32,
        old_flags: u32,
        old_ptr: u32,
        old_len: u32,
        new_fd: u32,
        new_ptr: u32,
        new_len: u32
    ));
    mem_fn!(path_open(
        fd: u32,
        dirflags: u32,
        ptr: u32,
        len: u32,
        oflags: u32,
        base: u64,
        inheriting: u64,
        fdflags: u32,
        out: u32
    ));
    mem_fn!(path_readlink(
        fd: u32,
        ptr: u32,
        len: u32,
        buf: u32,
        buf_len: u32,
        out: u32
    ));
    mem_fn!(path_remove_directory(fd: u32, ptr: u32, len: u32));
    mem_fn!(path_rename(
        fd: u32,
        old_ptr: u32,
        old_len: u32,
        new_fd: u32,
        new_ptr: u32,
        new_len: u32
    ));
    mem_fn!(path_symlink(
        old_ptr: u32,
        old_len: u32,
        fd: u32,
        new_ptr: u32,
        new_len: u32
    ));
    mem_fn!(path_unlink_file(fd: u32, ptr: u32, len: u32));
    linker.func_wrap(
        MODULE,
        "poll_oneoff",
        move |mut caller: Caller<'_, T>, subs: u32, events: u32, n: u32, out: u32| {
            let flag = caller.store.inner.interrupt.clone();
            let interrupted = || flag.load(Ordering::Acquire) != 0;
            let errno = with_mem(&mut caller, get, |ctx, mem| {
                preview1::poll_oneoff(ctx, mem, subs, events, n, out, &interrupted)
            })?;
            if errno == i32::from(Errno::Intr as u16) && interrupted() {
                // Reported like an interrupt of wasm code: the flag is
                // cleared and the call ends with ErrorKind::Interrupted.
                flag.store(0, Ordering::Release);
                return Err(Error::interrupted());
            }
            Ok(errno)
        },
    )?;
    linker.func_wrap(MODULE, "proc_exit", |status: u32| -> Result<()> {
        Err(if status < 126 {
            Error::exit(status as i32)
        } else {
            Error::msg("exit with invalid exit status outside of [0..126)").with_detail(status)
        })
    })?;
    linker.func_wrap(MODULE, "proc_raise", |_signal: u32| -> i32 {
        i32::from(Errno::Notsup as u16)
    })?;
    linker.func_wrap(MODULE, "sched_yield", || -> i32 { 0 })?;
    mem_fn!(random_get(buf: u32, len: u32));
    linker.func_wrap(
        MODULE,
        "sock_accept",
        move |mut caller: Caller<'_, T>, fd: u32, flags: u32, _out: u32| -> i32 {
            errno(preview1::sock_accept(get(caller.data_mut()), fd, flags))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "sock_recv",
        move |mut caller: Caller<'_, T>, fd: u32, _a: u32, _b: u32, _c: u32, _d: u32, _e: u32| {
            errno(preview1::sock_recv(get(caller.data_mut()), fd))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "sock_send",
        move |mut caller: Caller<'_, T>, fd: u32, _a: u32, _b: u32, _c: u32, _d: u32| {
            errno(preview1::sock_send(get(caller.data_mut()), fd))
        },
    )?;
    ctx_fn!(sock_shutdown(fd: u32, how: u32));
    Ok(())
}
