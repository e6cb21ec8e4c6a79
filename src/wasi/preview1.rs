//! The 46 functions of `wasi_snapshot_preview1`, over a [`WasiCtx`] and
//! the guest's memory ([`Mem`]).
//!
//! Each function returns `Ok(())` or the errno the guest sees. Every guest
//! pointer is checked before use: past the end of memory is
//! [`Errno::Fault`], a pointer not aligned for its type is [`Errno::Inval`]
//! (where Wasmtime traps: see the module docs of [`crate::wasi`]); arrays
//! are checked whole, with 64-bit arithmetic, before anything is written,
//! so a failed call leaves the guest's memory untouched.
//!
//! Where preview1 leaves an answer open, the functions give Wasmtime's
//! (its `crates/wasi/src/p1.rs`): descriptor numbering, EBADF for file
//! operations on directories and stdio, `fd_allocate`'s ENOTSUP, the
//! `poll_oneoff` failures. Rights are wasi-common's (see [`super::rights`]),
//! which Wasmtime no longer enforces; programs built with wasi-libc or
//! Rust's standard library only ask for rights they are given, so the two
//! agree on them.

use super::ctx::{Desc, DirFd, FileFd, WasiCtx};
use super::fs::{
    Advice, ClockId, Dir, Errno, FdFlags, File, FileType, Filestat, FsResult, OpenOptions,
    Readiness, SeekFrom, SetTime,
};
use super::path::{self, Resolved};
use super::rights::*;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

/// The guest's linear memory, with checked accessors.
pub(crate) struct Mem<'a>(pub &'a mut [u8]);

impl Mem<'_> {
    /// Checks that `len` bytes at `ptr` (aligned to `align`) are in memory.
    fn check(&self, ptr: u32, len: u64, align: u32) -> FsResult<usize> {
        if !ptr.is_multiple_of(align) {
            return Err(Errno::Inval);
        }
        let end = u64::from(ptr).checked_add(len).ok_or(Errno::Fault)?;
        if end > self.0.len() as u64 {
            return Err(Errno::Fault);
        }
        Ok(ptr as usize)
    }

    fn bytes(&self, ptr: u32, len: u32) -> FsResult<&[u8]> {
        let start = self.check(ptr, u64::from(len), 1)?;
        Ok(&self.0[start..start + len as usize])
    }

    fn bytes_mut(&mut self, ptr: u32, len: u32) -> FsResult<&mut [u8]> {
        let start = self.check(ptr, u64::from(len), 1)?;
        Ok(&mut self.0[start..start + len as usize])
    }

    fn put(&mut self, ptr: u32, bytes: &[u8], align: u32) -> FsResult<()> {
        let start = self.check(ptr, bytes.len() as u64, align)?;
        self.0[start..start + bytes.len()].copy_from_slice(bytes);
        Ok(())
    }

    fn write_u32(&mut self, ptr: u32, v: u32) -> FsResult<()> {
        self.put(ptr, &v.to_le_bytes(), 4)
    }

    fn write_u64(&mut self, ptr: u32, v: u64) -> FsResult<()> {
        self.put(ptr, &v.to_le_bytes(), 8)
    }

    fn write_size(&mut self, ptr: u32, n: usize) -> FsResult<()> {
        self.write_u32(ptr, u32::try_from(n).map_err(|_| Errno::Overflow)?)
    }

    /// A guest string (UTF-8 required: [`Errno::Ilseq`]).
    fn str(&self, ptr: u32, len: u32, max: usize) -> FsResult<&str> {
        let bytes = self.bytes(ptr, len)?;
        if bytes.len() > max {
            return Err(Errno::Nametoolong);
        }
        core::str::from_utf8(bytes).map_err(|_| Errno::Ilseq)
    }

    /// The `(buf, len)` pairs of an iovec array, checked whole; up to
    /// [`IOVECS_INLINE`] of them are kept in `inline`, more in `heap`.
    fn iovecs<'b>(
        &self,
        iovs: u32,
        count: u32,
        inline: &'b mut [(u32, u32); IOVECS_INLINE],
        heap: &'b mut Vec<(u32, u32)>,
    ) -> FsResult<&'b [(u32, u32)]> {
        let start = self.check(iovs, u64::from(count) * 8, 4)?;
        let list: &mut [(u32, u32)] = if count as usize <= IOVECS_INLINE {
            &mut inline[..count as usize]
        } else {
            heap.try_reserve(count as usize).map_err(|_| Errno::Nomem)?;
            heap.resize(count as usize, (0, 0));
            heap
        };
        for (i, slot) in list.iter_mut().enumerate() {
            let at = start + i * 8;
            let word = |o: usize| {
                u32::from_le_bytes([
                    self.0[at + o],
                    self.0[at + o + 1],
                    self.0[at + o + 2],
                    self.0[at + o + 3],
                ])
            };
            let (buf, len) = (word(0), word(4));
            self.check(buf, u64::from(len), 1)?;
            *slot = (buf, len);
        }
        Ok(list)
    }
}

/// Iovecs a read or write call keeps on the host stack.
const IOVECS_INLINE: usize = 8;

fn filestat_bytes(st: &Filestat) -> [u8; 64] {
    let mut b = [0u8; 64];
    b[0..8].copy_from_slice(&st.dev.to_le_bytes());
    b[8..16].copy_from_slice(&st.ino.to_le_bytes());
    b[16] = st.filetype as u8;
    b[24..32].copy_from_slice(&st.nlink.to_le_bytes());
    b[32..40].copy_from_slice(&st.size.to_le_bytes());
    b[40..48].copy_from_slice(&st.atim.to_le_bytes());
    b[48..56].copy_from_slice(&st.mtim.to_le_bytes());
    b[56..64].copy_from_slice(&st.ctim.to_le_bytes());
    b
}

// ---- descriptor helpers ----

impl WasiCtx {
    /// The file open as `fd`, which must have `right`. As in Wasmtime, a
    /// directory is [`Errno::Badf`] for file operations, and so is reading
    /// or writing without the right (POSIX's answer for a descriptor not
    /// open for it); other missing rights are [`Errno::Notcapable`].
    fn file(&mut self, fd: u32, right: u64) -> FsResult<&mut FileFd> {
        match self.fds.get_mut(fd)? {
            Desc::File(f) if f.base & right == right => Ok(f),
            Desc::File(_) if right & (FD_READ | FD_WRITE) != 0 => Err(Errno::Badf),
            Desc::File(_) => Err(Errno::Notcapable),
            Desc::Dir(_) => Err(Errno::Badf),
        }
    }

    fn dir(&self, fd: u32, right: u64) -> FsResult<&DirFd> {
        match self.fds.get(fd)? {
            Desc::Dir(d) if d.base & right == right => Ok(d),
            Desc::Dir(_) => Err(Errno::Notcapable),
            // Wasmtime's answer for a path operation on a file descriptor
            // (path_open alone says ENOTDIR).
            Desc::File(_) => Err(Errno::Badf),
        }
    }

    fn clock(&self) -> FsResult<&dyn super::fs::Clock> {
        self.clock.as_deref().ok_or(Errno::Nosys)
    }

    fn path<'m>(&self, mem: &'m Mem<'_>, ptr: u32, len: u32) -> FsResult<&'m str> {
        mem.str(ptr, len, self.limits.max_path_bytes)
    }
}

// ---- args, environ ----

fn strings_sizes(list: &[Vec<u8>]) -> FsResult<(u32, u32)> {
    let count = u32::try_from(list.len()).map_err(|_| Errno::Overflow)?;
    let mut size = 0u32;
    for s in list {
        let n = u32::try_from(s.len() + 1).map_err(|_| Errno::Overflow)?;
        size = size.checked_add(n).ok_or(Errno::Overflow)?;
    }
    Ok((count, size))
}

fn strings_get(list: &[Vec<u8>], mem: &mut Mem<'_>, ptrs: u32, buf: u32) -> FsResult<()> {
    let (count, size) = strings_sizes(list)?;
    mem.check(ptrs, u64::from(count) * 4, 4)?;
    mem.check(buf, u64::from(size), 1)?;
    let mut at = buf;
    for (i, s) in list.iter().enumerate() {
        mem.write_u32(ptrs + 4 * i as u32, at)?;
        mem.put(at, s, 1)?;
        mem.put(at + s.len() as u32, &[0], 1)?;
        at = at.wrapping_add(s.len() as u32 + 1);
    }
    Ok(())
}

pub(crate) fn args_get(ctx: &mut WasiCtx, mem: &mut Mem<'_>, argv: u32, buf: u32) -> FsResult<()> {
    strings_get(&ctx.args, mem, argv, buf)
}

pub(crate) fn args_sizes_get(ctx: &mut WasiCtx, mem: &mut Mem<'_>, c: u32, s: u32) -> FsResult<()> {
    let (count, size) = strings_sizes(&ctx.args)?;
    mem.check(s, 4, 4)?;
    mem.write_u32(c, count)?;
    mem.write_u32(s, size)
}

pub(crate) fn environ_get(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    env: u32,
    buf: u32,
) -> FsResult<()> {
    strings_get(&ctx.env, mem, env, buf)
}

pub(crate) fn environ_sizes_get(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    c: u32,
    s: u32,
) -> FsResult<()> {
    let (count, size) = strings_sizes(&ctx.env)?;
    mem.check(s, 4, 4)?;
    mem.write_u32(c, count)?;
    mem.write_u32(s, size)
}

// ---- clocks, random, sched, proc ----

fn clock_id(id: u32) -> FsResult<ClockId> {
    match id {
        0 => Ok(ClockId::Realtime),
        1 => Ok(ClockId::Monotonic),
        2 => Ok(ClockId::ProcessCputime),
        3 => Ok(ClockId::ThreadCputime),
        _ => Err(Errno::Inval),
    }
}

pub(crate) fn clock_res_get(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    id: u32,
    out: u32,
) -> FsResult<()> {
    let id = clock_id(id)?;
    if matches!(id, ClockId::ProcessCputime | ClockId::ThreadCputime) {
        return Err(Errno::Badf);
    }
    let res = ctx.clock()?.resolution(id)?;
    mem.write_u64(out, res)
}

fn now(ctx: &WasiCtx, id: ClockId) -> FsResult<u64> {
    match id {
        ClockId::Realtime => ctx.clock()?.realtime(),
        ClockId::Monotonic => ctx.clock()?.monotonic(),
        _ => Err(Errno::Badf),
    }
}

pub(crate) fn clock_time_get(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    id: u32,
    _precision: u64,
    out: u32,
) -> FsResult<()> {
    let t = now(ctx, clock_id(id)?)?;
    mem.write_u64(out, t)
}

pub(crate) fn random_get(ctx: &mut WasiCtx, mem: &mut Mem<'_>, buf: u32, len: u32) -> FsResult<()> {
    let bytes = mem.bytes_mut(buf, len)?;
    let random = ctx.random.as_deref_mut().ok_or(Errno::Nosys)?;
    // Large requests are filled in pieces the limit allows, so that one
    // call's host work stays proportional to what the guest asked for.
    let step = ctx.limits.max_io_bytes.max(1);
    for chunk in bytes.chunks_mut(step) {
        random.fill(chunk)?;
    }
    Ok(())
}

// ---- descriptors ----

pub(crate) fn fd_advise(
    ctx: &mut WasiCtx,
    fd: u32,
    offset: u64,
    len: u64,
    advice: u32,
) -> FsResult<()> {
    let advice = match advice {
        0 => Advice::Normal,
        1 => Advice::Sequential,
        2 => Advice::Random,
        3 => Advice::WillNeed,
        4 => Advice::DontNeed,
        5 => Advice::NoReuse,
        _ => return Err(Errno::Inval),
    };
    let f = ctx.file(fd, FD_ADVISE)?;
    offset.checked_add(len).ok_or(Errno::Inval)?;
    f.file.advise(offset, len, advice)
}

/// Wasmtime answers `ENOTSUP` for every file, and wasi-libc's
/// `posix_fallocate` callers then take their fallback path; doing the same
/// keeps their behaviour (and output) identical. [`File::allocate`] stays
/// for embedders.
pub(crate) fn fd_allocate(ctx: &mut WasiCtx, fd: u32, offset: u64, len: u64) -> FsResult<()> {
    ctx.file(fd, FD_ALLOCATE)?;
    let _ = (offset, len);
    Err(Errno::Notsup)
}

pub(crate) fn fd_close(ctx: &mut WasiCtx, fd: u32) -> FsResult<()> {
    ctx.fds.remove(fd).map(drop)
}

/// Like every file operation, EBADF on a directory (Wasmtime's answer).
pub(crate) fn fd_datasync(ctx: &mut WasiCtx, fd: u32) -> FsResult<()> {
    ctx.file(fd, FD_DATASYNC)?.file.datasync()
}

pub(crate) fn fd_sync(ctx: &mut WasiCtx, fd: u32) -> FsResult<()> {
    ctx.file(fd, FD_SYNC)?.file.sync()
}

pub(crate) fn fd_fdstat_get(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    fd: u32,
    out: u32,
) -> FsResult<()> {
    let desc = ctx.fds.get(fd)?;
    let (filetype, flags) = match desc {
        Desc::File(f) => (f.file.filetype(), f.file.fdflags()),
        Desc::Dir(_) => (FileType::Directory, FdFlags::default()),
    };
    let (base, inheriting) = desc.rights();
    let mut b = [0u8; 24];
    b[0] = filetype as u8;
    b[2..4].copy_from_slice(&flags.0.to_le_bytes());
    b[8..16].copy_from_slice(&base.to_le_bytes());
    b[16..24].copy_from_slice(&inheriting.to_le_bytes());
    mem.put(out, &b, 8)
}

pub(crate) fn fd_fdstat_set_flags(ctx: &mut WasiCtx, fd: u32, flags: u32) -> FsResult<()> {
    let flags = u16::try_from(flags)
        .ok()
        .filter(|f| f & !FdFlags::ALL.0 == 0)
        .ok_or(Errno::Inval)?;
    match ctx.fds.get_mut(fd)? {
        Desc::File(f) if f.base & FD_FDSTAT_SET_FLAGS != 0 => {
            // Only append and non-blocking can be set once open; the sync
            // flags are EINVAL, as in Wasmtime.
            let settable = FdFlags::APPEND.0 | FdFlags::NONBLOCK.0;
            if flags & !settable != 0 {
                return Err(Errno::Inval);
            }
            let kept = f.file.fdflags().0 & !settable;
            f.file.set_fdflags(FdFlags(flags | kept))
        }
        Desc::Dir(_) => Err(Errno::Badf),
        _ => Err(Errno::Notcapable),
    }
}

pub(crate) fn fd_fdstat_set_rights(
    ctx: &mut WasiCtx,
    fd: u32,
    base: u64,
    inheriting: u64,
) -> FsResult<()> {
    let desc = ctx.fds.get_mut(fd)?;
    let (cur_base, cur_inh) = desc.rights();
    if base & !cur_base != 0 || inheriting & !cur_inh != 0 {
        return Err(Errno::Notcapable);
    }
    match desc {
        Desc::File(f) => (f.base, f.inheriting) = (base, inheriting),
        Desc::Dir(d) => (d.base, d.inheriting) = (base, inheriting),
    }
    Ok(())
}

pub(crate) fn fd_filestat_get(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    fd: u32,
    out: u32,
) -> FsResult<()> {
    let st = match ctx.fds.get(fd)? {
        Desc::File(f) if f.base & FD_FILESTAT_GET != 0 => f.file.stat()?,
        Desc::Dir(d) if d.base & FD_FILESTAT_GET != 0 => d.dir.stat()?,
        _ => return Err(Errno::Notcapable),
    };
    mem.put(out, &filestat_bytes(&st), 8)
}

pub(crate) fn fd_filestat_set_size(ctx: &mut WasiCtx, fd: u32, size: u64) -> FsResult<()> {
    let f = ctx.file(fd, FD_FILESTAT_SET_SIZE)?;
    if size > i64::MAX as u64 {
        return Err(Errno::Inval);
    }
    f.file.set_size(size)
}

const ATIM: u32 = 1 << 0;
const ATIM_NOW: u32 = 1 << 1;
const MTIM: u32 = 1 << 2;
const MTIM_NOW: u32 = 1 << 3;

fn set_times(atim: u64, mtim: u64, flags: u32) -> FsResult<(SetTime, SetTime)> {
    if flags & !0xf != 0
        || (flags & ATIM != 0 && flags & ATIM_NOW != 0)
        || (flags & MTIM != 0 && flags & MTIM_NOW != 0)
    {
        return Err(Errno::Inval);
    }
    let pick = |set: u32, now: u32, t: u64| {
        if flags & now != 0 {
            SetTime::Now
        } else if flags & set != 0 {
            SetTime::At(t)
        } else {
            SetTime::Omit
        }
    };
    Ok((pick(ATIM, ATIM_NOW, atim), pick(MTIM, MTIM_NOW, mtim)))
}

pub(crate) fn fd_filestat_set_times(
    ctx: &mut WasiCtx,
    fd: u32,
    atim: u64,
    mtim: u64,
    flags: u32,
) -> FsResult<()> {
    let (a, m) = set_times(atim, mtim, flags)?;
    match ctx.fds.get_mut(fd)? {
        Desc::File(f) if f.base & FD_FILESTAT_SET_TIMES != 0 => f.file.set_times(a, m),
        Desc::Dir(d) if d.base & FD_FILESTAT_SET_TIMES != 0 => d.dir.set_times(a, m),
        _ => Err(Errno::Notcapable),
    }
}

/// Moves bytes between `file` and the iovecs, in order, until one moves
/// short; a read from anything but a regular file also stops after its
/// first non-empty read (a regular file may fill several iovecs). An I/O
/// error after some bytes moved ends the transfer with those bytes, as
/// `readv`/`writev` report them; a bad iovec is an error at once.
fn move_iovecs(
    file: &mut dyn File,
    mem: &mut Mem<'_>,
    way: Transfer,
    iovs: &[(u32, u32)],
    mut offset: Option<u64>,
    limit: usize,
) -> FsResult<usize> {
    let one_read = way == Transfer::Read && file.filetype() != FileType::RegularFile;
    let mut total = 0usize;
    for &(buf, len) in iovs {
        let want = (len as usize).min(limit - total);
        if want == 0 {
            if total >= limit {
                break;
            }
            continue;
        }
        let n = match (way, offset) {
            (Transfer::Read, Some(off)) => file.pread(mem.bytes_mut(buf, want as u32)?, off),
            (Transfer::Read, None) => file.read(mem.bytes_mut(buf, want as u32)?),
            (Transfer::Write, Some(off)) => file.pwrite(mem.bytes(buf, want as u32)?, off),
            (Transfer::Write, None) => file.write(mem.bytes(buf, want as u32)?),
        };
        let n = match n {
            Ok(n) => n.min(want),
            Err(e) if total == 0 => return Err(e),
            Err(_) => break,
        };
        total += n;
        if let Some(off) = &mut offset {
            *off = off.saturating_add(n as u64);
        }
        if n < want || one_read {
            break;
        }
    }
    Ok(total)
}

pub(crate) fn fd_read(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    fd: u32,
    iovs: u32,
    count: u32,
    out: u32,
) -> FsResult<()> {
    transfer(ctx, mem, Transfer::Read, fd, iovs, count, None, out)
}

pub(crate) fn fd_pread(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    fd: u32,
    iovs: u32,
    count: u32,
    offset: u64,
    out: u32,
) -> FsResult<()> {
    transfer(ctx, mem, Transfer::Read, fd, iovs, count, Some(offset), out)
}

pub(crate) fn fd_write(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    fd: u32,
    iovs: u32,
    count: u32,
    out: u32,
) -> FsResult<()> {
    transfer(ctx, mem, Transfer::Write, fd, iovs, count, None, out)
}

pub(crate) fn fd_pwrite(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    fd: u32,
    iovs: u32,
    count: u32,
    offset: u64,
    out: u32,
) -> FsResult<()> {
    transfer(
        ctx,
        mem,
        Transfer::Write,
        fd,
        iovs,
        count,
        Some(offset),
        out,
    )
}

/// Which way [`transfer`] moves bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Transfer {
    Read,
    Write,
}

/// `fd_read`, `fd_pread` (with an `offset`), `fd_write` and `fd_pwrite`:
/// checks the descriptor's rights, the iovec list and the result pointer,
/// then the offset, before moving any byte, and stores the count moved.
#[allow(clippy::too_many_arguments)]
fn transfer(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    way: Transfer,
    fd: u32,
    iovs: u32,
    count: u32,
    offset: Option<u64>,
    out: u32,
) -> FsResult<()> {
    let limit = ctx.limits.max_io_bytes;
    let right = match way {
        Transfer::Read => FD_READ,
        Transfer::Write => FD_WRITE,
    };
    let seek = if offset.is_some() { FD_SEEK } else { 0 };
    let f = ctx.file(fd, right | seek)?;
    let (mut inline, mut heap) = ([(0, 0); IOVECS_INLINE], Vec::new());
    let iovs = mem.iovecs(iovs, count, &mut inline, &mut heap)?;
    mem.check(out, 4, 4)?;
    if offset.is_some_and(|o| o > i64::MAX as u64) {
        return Err(Errno::Inval);
    }
    let n = move_iovecs(&mut *f.file, mem, way, iovs, offset, limit)?;
    mem.write_size(out, n)
}

pub(crate) fn fd_prestat_get(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    fd: u32,
    out: u32,
) -> FsResult<()> {
    let name = match ctx.fds.get(fd)? {
        Desc::Dir(DirFd {
            preopen: Some(p), ..
        }) => p,
        _ => return Err(Errno::Badf),
    };
    let len = u32::try_from(name.len()).map_err(|_| Errno::Overflow)?;
    let mut b = [0u8; 8];
    b[4..8].copy_from_slice(&len.to_le_bytes());
    mem.put(out, &b, 4)
}

pub(crate) fn fd_prestat_dir_name(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    fd: u32,
    buf: u32,
    len: u32,
) -> FsResult<()> {
    let name = match ctx.fds.get(fd)? {
        Desc::Dir(DirFd {
            preopen: Some(p), ..
        }) => p,
        // Wasmtime's answer for an open descriptor that is not a preopen.
        _ => return Err(Errno::Notdir),
    };
    if (len as usize) < name.len() {
        return Err(Errno::Nametoolong);
    }
    mem.put(buf, name.as_bytes(), 1)
}

/// Size of a `dirent` header.
const DIRENT_SIZE: usize = 24;

pub(crate) fn fd_readdir(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    fd: u32,
    buf: u32,
    len: u32,
    cookie: u64,
    out: u32,
) -> FsResult<()> {
    let d = match ctx.fds.get_mut(fd)? {
        Desc::Dir(d) if d.base & FD_READDIR != 0 => d,
        Desc::Dir(_) => return Err(Errno::Notcapable),
        Desc::File(_) => return Err(Errno::Badf),
    };
    mem.check(buf, u64::from(len), 1)?;
    mem.check(out, 4, 4)?;
    if cookie == 0 || d.listing.is_none() {
        d.listing = Some(d.dir.read_dir()?);
    }
    let self_ino = d.dir.stat()?.ino;
    let listing = d.listing.as_deref().unwrap_or(&[]);
    let dst = mem.bytes_mut(buf, len)?;
    let mut used = 0usize;
    // Entry i has cookie i + 1: `.` is 0, `..` is 1, then the listing.
    let total = listing.len() as u64 + 2;
    let mut index = cookie;
    while index < total && used < dst.len() {
        let (name, ino, filetype) = match index {
            0 => (".", self_ino, FileType::Directory),
            // Wasmtime gives `..` the directory's own inode too: the
            // parent may be outside what the guest can see.
            1 => ("..", self_ino, FileType::Directory),
            i => {
                let e = &listing[(i - 2) as usize];
                (e.name.as_str(), e.ino, e.filetype)
            }
        };
        let mut header = [0u8; DIRENT_SIZE];
        header[0..8].copy_from_slice(&(index + 1).to_le_bytes());
        header[8..16].copy_from_slice(&ino.to_le_bytes());
        header[16..20].copy_from_slice(&(name.len() as u32).to_le_bytes());
        header[20] = filetype as u8;
        // The last entry is cut at the buffer's end: a full buffer tells the
        // guest to ask again from that entry's cookie with a bigger buffer.
        for part in [&header[..], name.as_bytes()] {
            let n = part.len().min(dst.len() - used);
            dst[used..used + n].copy_from_slice(&part[..n]);
            used += n;
        }
        index += 1;
    }
    mem.write_size(out, used)
}

pub(crate) fn fd_renumber(ctx: &mut WasiCtx, from: u32, to: u32) -> FsResult<()> {
    ctx.fds.get(from)?;
    ctx.fds.get(to)?;
    if from == to {
        return Ok(());
    }
    let desc = ctx.fds.remove(from)?;
    if let Some(slot) = ctx.fds.slots.get_mut(to as usize) {
        // `to` was checked open: replacing it closes the old descriptor.
        *slot = Some(desc);
    }
    Ok(())
}

pub(crate) fn fd_seek(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    fd: u32,
    offset: i64,
    whence: u32,
    out: u32,
) -> FsResult<()> {
    let pos = match whence {
        0 => SeekFrom::Start(u64::try_from(offset).map_err(|_| Errno::Inval)?),
        1 => SeekFrom::Current(offset),
        2 => SeekFrom::End(offset),
        _ => return Err(Errno::Inval),
    };
    // Asking for the position only needs `fd_tell`.
    let right = if matches!(pos, SeekFrom::Current(0)) {
        FD_TELL
    } else {
        FD_SEEK
    };
    let (base, _) = ctx.fds.get(fd)?.rights();
    if base & (right | FD_SEEK) == 0 {
        return Err(match ctx.fds.get(fd)? {
            Desc::Dir(_) => Errno::Badf,
            Desc::File(_) => Errno::Notcapable,
        });
    }
    let f = ctx.file(fd, 0)?;
    mem.check(out, 8, 8)?;
    let new = f.file.seek(pos)?;
    mem.write_u64(out, new)
}

pub(crate) fn fd_tell(ctx: &mut WasiCtx, mem: &mut Mem<'_>, fd: u32, out: u32) -> FsResult<()> {
    let f = ctx.file(fd, FD_TELL)?;
    mem.check(out, 8, 8)?;
    let pos = f.file.seek(SeekFrom::Current(0))?;
    mem.write_u64(out, pos)
}

// ---- paths ----

const LOOKUP_SYMLINK_FOLLOW: u32 = 1;

fn follow_flag(flags: u32) -> FsResult<bool> {
    if flags & !LOOKUP_SYMLINK_FOLLOW != 0 {
        return Err(Errno::Inval);
    }
    Ok(flags & LOOKUP_SYMLINK_FOLLOW != 0)
}

/// Resolves a guest path beneath directory descriptor `fd` that has `right`.
fn resolve<'c>(
    ctx: &'c WasiCtx,
    mem: &Mem<'_>,
    fd: u32,
    right: u64,
    ptr: u32,
    len: u32,
    follow: bool,
) -> FsResult<Resolved<'c>> {
    let d = ctx.dir(fd, right)?;
    let p = ctx.path(mem, ptr, len)?;
    path::resolve(&*d.dir, p, follow)
}

/// The attributes of what `r` names (following nothing more).
fn stat_resolved(r: &Resolved<'_>) -> FsResult<Filestat> {
    let st = match &r.name {
        Some(name) => r.dir().stat_at(name)?,
        None => r.dir().stat()?,
    };
    if r.trailing_slash && st.filetype != FileType::Directory {
        return Err(Errno::Notdir);
    }
    Ok(st)
}

pub(crate) fn path_create_directory(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    fd: u32,
    ptr: u32,
    len: u32,
) -> FsResult<()> {
    let r = resolve(ctx, mem, fd, PATH_CREATE_DIRECTORY, ptr, len, false)?;
    let name = r.name_or(Errno::Exist)?;
    r.dir().create_dir(name)
}

pub(crate) fn path_filestat_get(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    fd: u32,
    flags: u32,
    ptr: u32,
    len: u32,
    out: u32,
) -> FsResult<()> {
    let follow = follow_flag(flags)?;
    let r = resolve(ctx, mem, fd, PATH_FILESTAT_GET, ptr, len, follow)?;
    let st = stat_resolved(&r)?;
    drop(r);
    mem.put(out, &filestat_bytes(&st), 8)
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn path_filestat_set_times(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    fd: u32,
    flags: u32,
    ptr: u32,
    len: u32,
    atim: u64,
    mtim: u64,
    fst: u32,
) -> FsResult<()> {
    let (a, m) = set_times(atim, mtim, fst)?;
    let follow = follow_flag(flags)?;
    let r = resolve(ctx, mem, fd, PATH_FILESTAT_SET_TIMES, ptr, len, follow)?;
    if r.trailing_slash {
        stat_resolved(&r)?;
    }
    match &r.name {
        Some(name) => r.dir().set_times_at(name, a, m),
        None => r.dir().set_times(a, m),
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn path_link(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    old_fd: u32,
    old_flags: u32,
    old_ptr: u32,
    old_len: u32,
    new_fd: u32,
    new_ptr: u32,
    new_len: u32,
) -> FsResult<()> {
    if follow_flag(old_flags)? {
        // Linking what a symbolic link points to is not supported, as in
        // Wasmtime.
        return Err(Errno::Inval);
    }
    let from = resolve(ctx, mem, old_fd, PATH_LINK_SOURCE, old_ptr, old_len, false)?;
    let to = resolve(ctx, mem, new_fd, PATH_LINK_TARGET, new_ptr, new_len, false)?;
    let from_name = from.name_or(Errno::Perm)?;
    let to_name = to.name_or(Errno::Exist)?;
    let st = from.dir().stat_at(from_name)?;
    if st.filetype == FileType::Directory {
        return Err(Errno::Perm);
    }
    if from.trailing_slash {
        return Err(Errno::Notdir);
    }
    if to.trailing_slash {
        return match to.dir().stat_at(to_name) {
            Ok(_) => Err(Errno::Exist),
            Err(Errno::Noent) => Err(Errno::Noent),
            Err(e) => Err(e),
        };
    }
    from.dir().hard_link(from_name, to.dir(), to_name)
}

/// `oflags` bits.
const O_CREAT: u32 = 1;
const O_DIRECTORY: u32 = 2;
const O_EXCL: u32 = 4;
const O_TRUNC: u32 = 8;

#[allow(clippy::too_many_arguments)]
pub(crate) fn path_open(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    fd: u32,
    dirflags: u32,
    ptr: u32,
    len: u32,
    oflags: u32,
    base: u64,
    inheriting: u64,
    fdflags: u32,
    out: u32,
) -> FsResult<()> {
    let follow = follow_flag(dirflags)?;
    if oflags & !0xf != 0 {
        return Err(Errno::Inval);
    }
    let fdflags = u16::try_from(fdflags)
        .ok()
        .filter(|f| f & !FdFlags::ALL.0 == 0)
        .map(FdFlags)
        .ok_or(Errno::Inval)?;
    let d = match ctx.dir(fd, PATH_OPEN) {
        Err(Errno::Badf) if ctx.fds.get(fd).is_ok() => return Err(Errno::Notdir),
        r => r?,
    };
    let mut needed = PATH_OPEN;
    if oflags & O_CREAT != 0 {
        needed |= PATH_CREATE_FILE;
    }
    if oflags & O_TRUNC != 0 {
        needed |= PATH_FILESTAT_SET_SIZE;
    }
    if d.base & needed != needed {
        return Err(Errno::Notcapable);
    }
    let dir_inh = d.inheriting;
    let base = base & dir_inh;
    let inheriting = inheriting & dir_inh;
    mem.check(out, 4, 4)?;
    let p = ctx.path(mem, ptr, len)?;
    let r = path::resolve(&*d.dir, p, follow)?;
    let desc = open_resolved(r, follow, oflags, base, inheriting, fdflags)?;
    let max = ctx.limits.max_open_fds;
    let new_fd = ctx.fds.push(desc, max)?;
    mem.write_u32(out, new_fd)
}

/// Opens what `r` names for `path_open`.
fn open_resolved(
    r: Resolved<'_>,
    follow: bool,
    oflags: u32,
    base: u64,
    inheriting: u64,
    fdflags: FdFlags,
) -> FsResult<Desc> {
    let want_dir = oflags & O_DIRECTORY != 0;
    let write =
        base & (FD_WRITE | FD_ALLOCATE | FD_FILESTAT_SET_SIZE) != 0 || oflags & O_TRUNC != 0;
    let read = base & (FD_READ | FD_READDIR) != 0 || !write;

    let open_dir = |r: Resolved<'_>| -> FsResult<Box<dyn Dir>> {
        if oflags & (O_CREAT | O_TRUNC) != 0 || base & FD_WRITE != 0 {
            return Err(if oflags & O_CREAT != 0 && oflags & O_EXCL != 0 {
                Errno::Exist
            } else {
                Errno::Isdir
            });
        }
        match &r.name {
            None => r.take_dir(),
            Some(name) => {
                let dir = r.dir().open_dir(name)?;
                Ok(dir)
            }
        }
    };
    let desc = if r.name.is_none() {
        Desc::Dir(new_dir_fd(open_dir(r)?, base, inheriting))
    } else if want_dir || r.trailing_slash {
        if oflags & O_CREAT != 0 {
            // Creating a directory is path_create_directory's job.
            let name = r.name_or(Errno::Inval)?;
            return match r.dir().stat_at(name) {
                Ok(st) if st.filetype == FileType::Directory && oflags & O_EXCL != 0 => {
                    Err(Errno::Exist)
                }
                Ok(st) if st.filetype == FileType::Directory => Err(Errno::Isdir),
                Ok(st) if st.filetype == FileType::SymbolicLink => Err(Errno::Loop),
                Ok(_) => Err(if oflags & O_EXCL != 0 {
                    Errno::Exist
                } else {
                    Errno::Notdir
                }),
                Err(e) => Err(e),
            };
        }
        let name = r.name_or(Errno::Inval)?;
        match r.dir().open_dir(name) {
            Ok(dir) => {
                if oflags & O_TRUNC != 0 || base & FD_WRITE != 0 {
                    return Err(Errno::Isdir);
                }
                Desc::Dir(new_dir_fd(dir, base, inheriting))
            }
            Err(Errno::Loop) if follow || r.trailing_slash => return Err(Errno::Loop),
            Err(e @ (Errno::Loop | Errno::Notdir)) => {
                // A link not followed, or something else than a directory.
                return match r.dir().stat_at(name) {
                    Ok(st) if st.filetype == FileType::SymbolicLink => Err(Errno::Loop),
                    Ok(_) => Err(Errno::Notdir),
                    Err(_) => Err(e),
                };
            }
            Err(e) => return Err(e),
        }
    } else {
        let name = r.name_or(Errno::Inval)?;
        let options = OpenOptions {
            create: oflags & O_CREAT != 0,
            exclusive: oflags & O_CREAT != 0 && oflags & O_EXCL != 0,
            truncate: oflags & O_TRUNC != 0,
            read,
            write,
            fdflags,
        };
        match r.dir().open_file(name, &options) {
            Ok(file) => {
                let kind = file.filetype();
                let mask = if kind == FileType::Directory {
                    DIR_BASE
                } else {
                    FILE_BASE
                };
                Desc::File(FileFd {
                    file,
                    base: base & mask,
                    inheriting: 0,
                })
            }
            Err(Errno::Isdir) => {
                let dir = r.dir().open_dir(name)?;
                if options.create && options.exclusive {
                    return Err(Errno::Exist);
                }
                // open(2) with O_CREAT on a directory is EISDIR.
                if options.create || write || base & FD_WRITE != 0 {
                    return Err(Errno::Isdir);
                }
                Desc::Dir(new_dir_fd(dir, base, inheriting))
            }
            Err(e) => return Err(e),
        }
    };
    Ok(desc)
}

fn new_dir_fd(dir: Box<dyn Dir>, base: u64, inheriting: u64) -> DirFd {
    DirFd {
        dir,
        base: base & DIR_BASE,
        inheriting,
        preopen: None,
        listing: None,
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn path_readlink(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    fd: u32,
    ptr: u32,
    len: u32,
    buf: u32,
    buf_len: u32,
    out: u32,
) -> FsResult<()> {
    let r = resolve(ctx, mem, fd, PATH_READLINK, ptr, len, false)?;
    let name = r.name_or(Errno::Inval)?;
    let target = r.dir().read_link(name)?;
    drop(r);
    mem.check(buf, u64::from(buf_len), 1)?;
    mem.check(out, 4, 4)?;
    let n = target.len().min(buf_len as usize);
    mem.put(buf, &target.as_bytes()[..n], 1)?;
    mem.write_size(out, n)
}

pub(crate) fn path_remove_directory(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    fd: u32,
    ptr: u32,
    len: u32,
) -> FsResult<()> {
    let r = resolve(ctx, mem, fd, PATH_REMOVE_DIRECTORY, ptr, len, false)?;
    match &r.name {
        Some(name) => r.dir().remove_dir(name),
        // `.` or a path ending in `..`: POSIX refuses both.
        None => Err(Errno::Inval),
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn path_rename(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    fd: u32,
    old_ptr: u32,
    old_len: u32,
    new_fd: u32,
    new_ptr: u32,
    new_len: u32,
) -> FsResult<()> {
    let from = resolve(ctx, mem, fd, PATH_RENAME_SOURCE, old_ptr, old_len, false)?;
    let to = resolve(
        ctx,
        mem,
        new_fd,
        PATH_RENAME_TARGET,
        new_ptr,
        new_len,
        false,
    )?;
    let from_name = from.name_or(Errno::Busy)?;
    let to_name = to.name_or(Errno::Busy)?;
    if from.trailing_slash || to.trailing_slash {
        // A trailing slash is only allowed on directories.
        let st = from.dir().stat_at(from_name)?;
        if st.filetype != FileType::Directory {
            return Err(Errno::Notdir);
        }
    }
    from.dir().rename(from_name, to.dir(), to_name)
}

pub(crate) fn path_symlink(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    old_ptr: u32,
    old_len: u32,
    fd: u32,
    new_ptr: u32,
    new_len: u32,
) -> FsResult<()> {
    let target = String::from(ctx.path(mem, old_ptr, old_len)?);
    let r = resolve(ctx, mem, fd, PATH_SYMLINK, new_ptr, new_len, false)?;
    let name = r.name_or(Errno::Exist)?;
    if target.starts_with('/') {
        // Such a link could never be followed beneath a preopen.
        return Err(Errno::Perm);
    }
    if target.contains('\0') {
        return Err(Errno::Inval);
    }
    if r.trailing_slash {
        return match r.dir().stat_at(name) {
            Ok(st) if st.filetype == FileType::Directory => Err(Errno::Exist),
            Ok(_) => Err(Errno::Notdir),
            Err(e) => Err(e),
        };
    }
    r.dir().symlink(&target, name)
}

pub(crate) fn path_unlink_file(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    fd: u32,
    ptr: u32,
    len: u32,
) -> FsResult<()> {
    let r = resolve(ctx, mem, fd, PATH_UNLINK_FILE, ptr, len, false)?;
    let name = r.name_or(Errno::Isdir)?;
    if r.trailing_slash {
        let st = r.dir().stat_at(name)?;
        return Err(if st.filetype == FileType::Directory {
            Errno::Isdir
        } else {
            Errno::Notdir
        });
    }
    r.dir().unlink_file(name)
}

// ---- poll ----

const SUBSCRIPTION_SIZE: u64 = 48;
const EVENT_SIZE: usize = 32;
const EVENT_CLOCK: u8 = 0;
const EVENT_FD_READ: u8 = 1;
const EVENT_FD_WRITE: u8 = 2;
/// `eventrwflags`: a regular file read to its end.
const EVENT_FD_READWRITE_HANGUP: u8 = 1;
/// How long `poll_oneoff` sleeps between two checks of its files.
const POLL_INTERVAL_NS: u64 = 1_000_000;
/// Longest single sleep of `poll_oneoff`, between two checks for an
/// interrupt.
pub(crate) const POLL_SLICE_NS: u64 = 10_000_000;

enum Sub {
    /// Deadline on the monotonic clock (or realtime for realtime clocks).
    Clock {
        deadline: u64,
        id: ClockId,
    },
    Fd {
        fd: u32,
        write: bool,
    },
}

fn event(userdata: u64, error: Errno, kind: u8, nbytes: u64) -> [u8; EVENT_SIZE] {
    let mut e = [0u8; EVENT_SIZE];
    e[0..8].copy_from_slice(&userdata.to_le_bytes());
    e[8..10].copy_from_slice(&(error as u16).to_le_bytes());
    e[10] = kind;
    e[16..24].copy_from_slice(&nbytes.to_le_bytes());
    e
}

/// `interrupted` tells whether the store was interrupted: a long wait is
/// cut into slices of at most [`POLL_SLICE_NS`] and gives up with
/// [`Errno::Intr`] when it says so (the caller turns that into the store's
/// interruption).
pub(crate) fn poll_oneoff(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    subs_ptr: u32,
    events_ptr: u32,
    n: u32,
    out: u32,
    interrupted: &dyn Fn() -> bool,
) -> FsResult<()> {
    if n == 0 {
        return Err(Errno::Inval);
    }
    if n as usize > ctx.limits.max_poll_subscriptions {
        return Err(Errno::Inval);
    }
    let start = mem.check(subs_ptr, u64::from(n) * SUBSCRIPTION_SIZE, 8)?;
    mem.check(events_ptr, u64::from(n) * EVENT_SIZE as u64, 8)?;
    mem.check(out, 4, 4)?;
    let mut subs = Vec::new();
    subs.try_reserve(n as usize).map_err(|_| Errno::Nomem)?;
    let mut events: Vec<[u8; EVENT_SIZE]> = Vec::new();
    for i in 0..n as usize {
        let s = &mem.0[start + i * 48..start + i * 48 + 48];
        let u64_at = |o: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&s[o..o + 8]);
            u64::from_le_bytes(b)
        };
        let u32_at = |o: usize| u64_at(o) as u32;
        let userdata = u64_at(0);
        match s[8] {
            0 => {
                let id = clock_id(u32_at(16))?;
                let timeout = u64_at(24);
                let abstime = u16::from_le_bytes([s[40], s[41]]) & 1 != 0;
                let deadline = match id {
                    ClockId::Realtime | ClockId::Monotonic => {
                        if abstime {
                            timeout
                        } else if timeout == 0 {
                            0
                        } else {
                            now(ctx, id)?.saturating_add(timeout)
                        }
                    }
                    _ => return Err(Errno::Inval),
                };
                subs.push((userdata, Sub::Clock { deadline, id }));
            }
            tag @ (1 | 2) => {
                // As in Wasmtime, a descriptor that cannot be polled fails
                // the whole call.
                let fd = u32_at(16);
                if !matches!(ctx.fds.get(fd)?, Desc::File(_)) {
                    return Err(Errno::Badf);
                }
                subs.push((
                    userdata,
                    Sub::Fd {
                        fd,
                        write: tag == 2,
                    },
                ));
            }
            _ => return Err(Errno::Inval),
        }
    }
    loop {
        for (userdata, sub) in &subs {
            match *sub {
                Sub::Clock { deadline, id } => {
                    if deadline == 0 || now(ctx, id)? >= deadline {
                        events.push(event(*userdata, Errno::Success, EVENT_CLOCK, 0));
                    }
                }
                Sub::Fd { fd, write } => {
                    let kind = if write { EVENT_FD_WRITE } else { EVENT_FD_READ };
                    let right = if write { FD_WRITE } else { FD_READ };
                    match ctx.file(fd, right) {
                        Ok(f) => match f.file.poll_readiness(write) {
                            Ok(Readiness::Ready { nbytes }) => {
                                let mut e = event(*userdata, Errno::Success, kind, nbytes);
                                let regular = f.file.filetype() == FileType::RegularFile;
                                if !write && regular && nbytes == 0 {
                                    e[24] = EVENT_FD_READWRITE_HANGUP;
                                }
                                events.push(e);
                            }
                            Ok(Readiness::NotReady) => {}
                            Err(e) => events.push(event(*userdata, e, kind, 0)),
                        },
                        Err(e) => events.push(event(*userdata, e, kind, 0)),
                    }
                }
            }
        }
        if !events.is_empty() {
            break;
        }
        // Nothing is ready: sleep until the first deadline, or a polling
        // interval when files are waited for.
        let mut wait = u64::MAX;
        for (_, sub) in &subs {
            match *sub {
                Sub::Clock { deadline, id } => {
                    let left = deadline.saturating_sub(now(ctx, id)?);
                    wait = wait.min(left);
                }
                Sub::Fd { .. } => wait = wait.min(POLL_INTERVAL_NS),
            }
        }
        if interrupted() {
            return Err(Errno::Intr);
        }
        ctx.clock()?.sleep(wait.clamp(1, POLL_SLICE_NS))?;
    }
    let count = events.len().min(n as usize);
    for (i, e) in events.iter().take(count).enumerate() {
        mem.put(events_ptr + (i * EVENT_SIZE) as u32, e, 8)?;
    }
    mem.write_size(out, count)
}

// ---- sockets ----

fn not_a_socket(ctx: &WasiCtx, fd: u32) -> Errno {
    match ctx.fds.get(fd) {
        Ok(_) => Errno::Notsock,
        Err(e) => e,
    }
}

pub(crate) fn sock_accept(ctx: &mut WasiCtx, fd: u32, flags: u32) -> FsResult<()> {
    if flags & !FdFlags::NONBLOCK.0 as u32 != 0 {
        return Err(Errno::Inval);
    }
    Err(not_a_socket(ctx, fd))
}

pub(crate) fn sock_recv(ctx: &mut WasiCtx, fd: u32) -> FsResult<()> {
    Err(not_a_socket(ctx, fd))
}

pub(crate) fn sock_send(ctx: &mut WasiCtx, fd: u32) -> FsResult<()> {
    Err(not_a_socket(ctx, fd))
}

pub(crate) fn sock_shutdown(ctx: &mut WasiCtx, fd: u32, how: u32) -> FsResult<()> {
    if how & !3 != 0 {
        return Err(Errno::Inval);
    }
    Err(not_a_socket(ctx, fd))
}
