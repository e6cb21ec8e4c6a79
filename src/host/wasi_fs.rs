//! WASI over the host's real filesystem and stdio (Linux): [`HostDir`] and
//! [`HostFile`] implement the core's [`Dir`] and [`File`] with directory
//! file descriptors, [`HostStdio`] is an inherited descriptor 0, 1 or 2, and
//! `std`-only methods of [`WasiCtxBuilder`] (`preopened_dir_path`,
//! `inherit_stdio`, `inherit_env`, `inherit_args`) build a context from them.
//!
//! # Decisions
//! - **A directory is an open descriptor, and every operation is one `*at`
//!   system call on one name beneath it** (`openat`, `fstatat`,
//!   `readlinkat`, `mkdirat`, `unlinkat`, `symlinkat`, `renameat`,
//!   `linkat`, `utimensat`), **never following a symbolic link**:
//!   `O_NOFOLLOW`, `AT_SYMLINK_NOFOLLOW`, and `linkat` without
//!   `AT_SYMLINK_FOLLOW`. The core walks paths component by component and
//!   follows links itself, beneath the preopen (see [`crate::wasi::fs`]);
//!   this layer cannot be led out of a directory it was given, because it
//!   never resolves more than one name and never a link.
//! - **Names are checked again here** (defence in depth): a name that is
//!   empty, `.`, `..`, or contains `/` or NUL is refused with
//!   [`Errno::Inval`] before any system call, although the core never
//!   passes one.
//! - **Opening a file never blocks and never opens a directory**: the open
//!   is made with `O_NONBLOCK` (a FIFO without a writer would otherwise hang
//!   the guest), which is cleared afterwards unless the guest asked for it;
//!   a directory opened for reading is closed again and reported as
//!   [`Errno::Isdir`].
//! - **Host errno values map one to one onto preview1's** (`EACCES` to
//!   [`Errno::Acces`], ...), as Wasmtime maps them; a host error preview1 has
//!   no name for becomes [`Errno::Io`].
//! - **Stdio is the process's descriptors 0, 1 and 2**, unbuffered (each
//!   `fd_write` is one `write(2)`): nothing is lost when the guest exits or
//!   traps. Like Wasmtime, stdio is a character device when it is a
//!   terminal and of unknown type otherwise.

use crate::wasi::fs::{
    Advice, Dir, DirEntry, Errno, FdFlags, File, FileType, Filestat, FsResult, OpenOptions,
    Readiness, SeekFrom, SetTime,
};
use crate::wasi::{DirPerms, WasiCtxBuilder};
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::any::Any;
use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

/// The preview1 errno for the host's `errno` value `e`.
pub fn errno_from_host(e: i32) -> Errno {
    match e {
        libc::EPERM => Errno::Perm,
        libc::ENOENT => Errno::Noent,
        libc::ESRCH => Errno::Srch,
        libc::EINTR => Errno::Intr,
        libc::EIO => Errno::Io,
        libc::ENXIO => Errno::Nxio,
        libc::E2BIG => Errno::TooBig,
        libc::ENOEXEC => Errno::Noexec,
        libc::EBADF => Errno::Badf,
        libc::ECHILD => Errno::Child,
        libc::EAGAIN => Errno::Again,
        libc::ENOMEM => Errno::Nomem,
        libc::EACCES => Errno::Acces,
        libc::EFAULT => Errno::Fault,
        libc::EBUSY => Errno::Busy,
        libc::EEXIST => Errno::Exist,
        libc::EXDEV => Errno::Xdev,
        libc::ENODEV => Errno::Nodev,
        libc::ENOTDIR => Errno::Notdir,
        libc::EISDIR => Errno::Isdir,
        libc::EINVAL => Errno::Inval,
        libc::ENFILE => Errno::Nfile,
        libc::EMFILE => Errno::Mfile,
        libc::ENOTTY => Errno::Notty,
        libc::ETXTBSY => Errno::Txtbsy,
        libc::EFBIG => Errno::Fbig,
        libc::ENOSPC => Errno::Nospc,
        libc::ESPIPE => Errno::Spipe,
        libc::EROFS => Errno::Rofs,
        libc::EMLINK => Errno::Mlink,
        libc::EPIPE => Errno::Pipe,
        libc::EDOM => Errno::Dom,
        libc::ERANGE => Errno::Range,
        libc::EDEADLK => Errno::Deadlk,
        libc::ENAMETOOLONG => Errno::Nametoolong,
        libc::ENOLCK => Errno::Nolck,
        libc::ENOSYS => Errno::Nosys,
        libc::ENOTEMPTY => Errno::Notempty,
        libc::ELOOP => Errno::Loop,
        libc::ENOMSG => Errno::Nomsg,
        libc::EIDRM => Errno::Idrm,
        libc::ENOLINK => Errno::Nolink,
        libc::EPROTO => Errno::Proto,
        libc::EMULTIHOP => Errno::Multihop,
        libc::EBADMSG => Errno::Badmsg,
        libc::EOVERFLOW => Errno::Overflow,
        libc::EILSEQ => Errno::Ilseq,
        libc::ENOTSOCK => Errno::Notsock,
        libc::EDESTADDRREQ => Errno::Destaddrreq,
        libc::EMSGSIZE => Errno::Msgsize,
        libc::EPROTOTYPE => Errno::Prototype,
        libc::ENOPROTOOPT => Errno::Noprotoopt,
        libc::EPROTONOSUPPORT => Errno::Protonosupport,
        libc::EOPNOTSUPP => Errno::Notsup,
        libc::EAFNOSUPPORT => Errno::Afnosupport,
        libc::EADDRINUSE => Errno::Addrinuse,
        libc::EADDRNOTAVAIL => Errno::Addrnotavail,
        libc::ENETDOWN => Errno::Netdown,
        libc::ENETUNREACH => Errno::Netunreach,
        libc::ENETRESET => Errno::Netreset,
        libc::ECONNABORTED => Errno::Connaborted,
        libc::ECONNRESET => Errno::Connreset,
        libc::ENOBUFS => Errno::Nobufs,
        libc::EISCONN => Errno::Isconn,
        libc::ENOTCONN => Errno::Notconn,
        libc::ETIMEDOUT => Errno::Timedout,
        libc::ECONNREFUSED => Errno::Connrefused,
        libc::EHOSTUNREACH => Errno::Hostunreach,
        libc::EALREADY => Errno::Already,
        libc::EINPROGRESS => Errno::Inprogress,
        libc::ESTALE => Errno::Stale,
        libc::EDQUOT => Errno::Dquot,
        libc::ECANCELED => Errno::Canceled,
        libc::EOWNERDEAD => Errno::Ownerdead,
        libc::ENOTRECOVERABLE => Errno::Notrecoverable,
        _ => Errno::Io,
    }
}

/// The preview1 errno of the last failed system call of this thread.
fn last_errno() -> Errno {
    errno_from_host(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

/// Runs a system call returning -1 on failure, again while it is
/// interrupted by a signal.
fn retry<T: PartialEq + From<i8>>(mut call: impl FnMut() -> T) -> FsResult<T> {
    loop {
        let r = call();
        if r != T::from(-1) {
            return Ok(r);
        }
        let e = last_errno();
        if e != Errno::Intr {
            return Err(e);
        }
    }
}

/// `name` as a C string, after the checks of the module docs.
fn c_name(name: &str) -> FsResult<CString> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(Errno::Inval);
    }
    CString::new(name).map_err(|_| Errno::Inval)
}

fn filetype_of_mode(mode: libc::mode_t) -> FileType {
    match mode & libc::S_IFMT {
        libc::S_IFREG => FileType::RegularFile,
        libc::S_IFDIR => FileType::Directory,
        libc::S_IFLNK => FileType::SymbolicLink,
        libc::S_IFCHR => FileType::CharacterDevice,
        libc::S_IFBLK => FileType::BlockDevice,
        libc::S_IFSOCK => FileType::SocketStream,
        _ => FileType::Unknown,
    }
}

fn nanos(sec: i64, nsec: i64) -> u64 {
    // Times before 1970 are clamped to the epoch: preview1's timestamps are
    // unsigned.
    u64::try_from(sec)
        .ok()
        .and_then(|s| s.checked_mul(1_000_000_000))
        .and_then(|ns| ns.checked_add(u64::try_from(nsec).unwrap_or(0)))
        .unwrap_or(0)
}

fn filestat_of(st: &libc::stat) -> Filestat {
    Filestat {
        dev: st.st_dev,
        ino: st.st_ino,
        filetype: filetype_of_mode(st.st_mode),
        nlink: st.st_nlink,
        size: u64::try_from(st.st_size).unwrap_or(0),
        atim: nanos(st.st_atime, st.st_atime_nsec),
        mtim: nanos(st.st_mtime, st.st_mtime_nsec),
        ctim: nanos(st.st_ctime, st.st_ctime_nsec),
    }
}

fn fstat_fd(fd: RawFd) -> FsResult<libc::stat> {
    let mut st = core::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is valid for writes of one `stat`; `fstat` fills it on
    // success (return value 0), which is the only case it is read.
    retry(|| unsafe { libc::fstat(fd, st.as_mut_ptr()) })?;
    // SAFETY: `fstat` succeeded, so it initialised `st`.
    Ok(unsafe { st.assume_init() })
}

fn timespec(t: SetTime) -> libc::timespec {
    match t {
        SetTime::Omit => libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
        SetTime::Now => libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_NOW,
        },
        SetTime::At(ns) => libc::timespec {
            tv_sec: (ns / 1_000_000_000) as libc::time_t,
            tv_nsec: (ns % 1_000_000_000) as libc::c_long,
        },
    }
}

fn set_times_fd(fd: RawFd, atim: SetTime, mtim: SetTime) -> FsResult<()> {
    let times = [timespec(atim), timespec(mtim)];
    // SAFETY: `times` is an array of two valid `timespec`s, as `futimens`
    // reads.
    retry(|| unsafe { libc::futimens(fd, times.as_ptr()) })?;
    Ok(())
}

fn duplicate(fd: RawFd) -> FsResult<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC on a descriptor we own creates a new
    // descriptor and touches no memory.
    let new = retry(|| unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) })?;
    // SAFETY: `new` was just returned by fcntl, open, and owned by nobody
    // else.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// A directory of the host's filesystem, held open by its descriptor.
#[derive(Debug)]
pub struct HostDir {
    fd: OwnedFd,
}

impl HostDir {
    /// Opens the host directory `path` (following links in `path`: the
    /// embedder chose it) as a preopen.
    pub fn open(path: impl AsRef<Path>) -> std::io::Result<HostDir> {
        use std::os::unix::ffi::OsStrExt;
        let path = CString::new(path.as_ref().as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
        // SAFETY: `path` is a NUL-terminated string that outlives the call.
        let fd = unsafe { libc::open(path.as_ptr(), flags) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` was just opened and is owned by nobody else.
        Ok(HostDir {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// `openat` of one checked name, with `O_NOFOLLOW | O_CLOEXEC` added.
    fn open_at(&self, name: &str, flags: i32, mode: libc::mode_t) -> FsResult<OwnedFd> {
        let name = c_name(name)?;
        let flags = flags | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        // SAFETY: `name` is a NUL-terminated string that outlives the call;
        // the mode is passed as the variadic `c_uint` openat reads.
        let fd = retry(|| unsafe {
            libc::openat(self.raw(), name.as_ptr(), flags, libc::c_uint::from(mode))
        })?;
        // SAFETY: `fd` was just opened and is owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// The other directory of a rename or link, if it is a host directory.
    fn peer(other: &dyn Dir) -> FsResult<&HostDir> {
        other.as_any().downcast_ref::<HostDir>().ok_or(Errno::Xdev)
    }
}

impl Dir for HostDir {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn try_clone(&self) -> FsResult<Box<dyn Dir>> {
        Ok(Box::new(HostDir {
            fd: duplicate(self.raw())?,
        }))
    }

    fn stat(&self) -> FsResult<Filestat> {
        Ok(filestat_of(&fstat_fd(self.raw())?))
    }

    fn stat_at(&self, name: &str) -> FsResult<Filestat> {
        let name = c_name(name)?;
        let mut st = core::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: `name` is NUL-terminated and `st` is valid for writes of
        // one `stat`, read only after success.
        retry(|| unsafe {
            libc::fstatat(
                self.raw(),
                name.as_ptr(),
                st.as_mut_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        })?;
        // SAFETY: `fstatat` succeeded, so it initialised `st`.
        Ok(filestat_of(&unsafe { st.assume_init() }))
    }

    fn open_dir(&self, name: &str) -> FsResult<Box<dyn Dir>> {
        let fd = self.open_at(name, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
        Ok(Box::new(HostDir { fd }))
    }

    fn open_file(&self, name: &str, options: &OpenOptions) -> FsResult<Box<dyn File>> {
        let mut flags = match (options.read, options.write) {
            (_, false) => libc::O_RDONLY,
            (false, true) => libc::O_WRONLY,
            (true, true) => libc::O_RDWR,
        };
        if options.create {
            flags |= libc::O_CREAT;
        }
        if options.create && options.exclusive {
            flags |= libc::O_EXCL;
        }
        if options.truncate {
            flags |= libc::O_TRUNC;
        }
        let f = options.fdflags;
        if f.contains(FdFlags::APPEND) {
            flags |= libc::O_APPEND;
        }
        if f.contains(FdFlags::DSYNC) {
            flags |= libc::O_DSYNC;
        }
        if f.contains(FdFlags::SYNC) {
            flags |= libc::O_SYNC;
        }
        if f.contains(FdFlags::RSYNC) {
            flags |= libc::O_RSYNC;
        }
        let fd = self.open_at(name, flags | libc::O_NONBLOCK, 0o666)?;
        let st = fstat_fd(fd.as_raw_fd())?;
        if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            return Err(Errno::Isdir);
        }
        if !f.contains(FdFlags::NONBLOCK) {
            set_status_flags(fd.as_raw_fd(), flags & !libc::O_NONBLOCK)?;
        }
        Ok(Box::new(HostFile {
            fd,
            filetype: filetype_of_mode(st.st_mode),
            flags: f,
        }))
    }

    fn read_link(&self, name: &str) -> FsResult<String> {
        let name = c_name(name)?;
        let mut buf = alloc::vec![0u8; 256];
        loop {
            // SAFETY: `name` is NUL-terminated; `buf` is valid for writes
            // of `buf.len()` bytes.
            let n = retry(|| unsafe {
                libc::readlinkat(
                    self.raw(),
                    name.as_ptr(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                )
            })? as usize;
            if n < buf.len() {
                buf.truncate(n);
                return String::from_utf8(buf).map_err(|_| Errno::Ilseq);
            }
            // The target may be longer than the buffer: try a larger one
            // (links are at most PATH_MAX long on Linux).
            if buf.len() >= 1 << 16 {
                return Err(Errno::Nametoolong);
            }
            buf.resize(buf.len() * 4, 0);
        }
    }

    fn create_dir(&self, name: &str) -> FsResult<()> {
        let name = c_name(name)?;
        // SAFETY: `name` is NUL-terminated and outlives the call.
        retry(|| unsafe { libc::mkdirat(self.raw(), name.as_ptr(), 0o777) })?;
        Ok(())
    }

    fn remove_dir(&self, name: &str) -> FsResult<()> {
        let name = c_name(name)?;
        // SAFETY: `name` is NUL-terminated and outlives the call.
        retry(|| unsafe { libc::unlinkat(self.raw(), name.as_ptr(), libc::AT_REMOVEDIR) })?;
        Ok(())
    }

    fn unlink_file(&self, name: &str) -> FsResult<()> {
        let name = c_name(name)?;
        // SAFETY: `name` is NUL-terminated and outlives the call.
        retry(|| unsafe { libc::unlinkat(self.raw(), name.as_ptr(), 0) })?;
        Ok(())
    }

    fn symlink(&self, target: &str, name: &str) -> FsResult<()> {
        let name = c_name(name)?;
        let target = CString::new(target).map_err(|_| Errno::Inval)?;
        // SAFETY: both strings are NUL-terminated and outlive the call.
        retry(|| unsafe { libc::symlinkat(target.as_ptr(), self.raw(), name.as_ptr()) })?;
        Ok(())
    }

    fn rename(&self, from: &str, to_dir: &dyn Dir, to: &str) -> FsResult<()> {
        let to_dir = Self::peer(to_dir)?;
        let (from, to) = (c_name(from)?, c_name(to)?);
        // SAFETY: both names are NUL-terminated and outlive the call.
        retry(|| unsafe { libc::renameat(self.raw(), from.as_ptr(), to_dir.raw(), to.as_ptr()) })?;
        Ok(())
    }

    fn hard_link(&self, from: &str, to_dir: &dyn Dir, to: &str) -> FsResult<()> {
        let to_dir = Self::peer(to_dir)?;
        let (from, to) = (c_name(from)?, c_name(to)?);
        // SAFETY: both names are NUL-terminated and outlive the call; flags
        // 0 (no AT_SYMLINK_FOLLOW) links a symbolic link itself.
        retry(|| unsafe { libc::linkat(self.raw(), from.as_ptr(), to_dir.raw(), to.as_ptr(), 0) })?;
        Ok(())
    }

    fn set_times_at(&self, name: &str, atim: SetTime, mtim: SetTime) -> FsResult<()> {
        let name = c_name(name)?;
        let times = [timespec(atim), timespec(mtim)];
        // SAFETY: `name` is NUL-terminated; `times` holds the two
        // `timespec`s utimensat reads.
        retry(|| unsafe {
            libc::utimensat(
                self.raw(),
                name.as_ptr(),
                times.as_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        })?;
        Ok(())
    }

    fn set_times(&self, atim: SetTime, mtim: SetTime) -> FsResult<()> {
        set_times_fd(self.raw(), atim, mtim)
    }

    fn read_dir(&self) -> FsResult<Vec<DirEntry>> {
        // A new descriptor of its own, so the listing starts at the
        // beginning and `closedir` does not close `self.fd`.
        let fd = self.open_at_dot()?;
        // SAFETY: `fd` is an open directory descriptor; on success the DIR
        // stream owns it (closed by `closedir` below).
        let dir = unsafe { libc::fdopendir(fd.as_raw_fd()) };
        if dir.is_null() {
            return Err(last_errno());
        }
        // The stream owns the descriptor now.
        core::mem::forget(fd);
        let mut entries = Vec::new();
        let result = loop {
            // SAFETY: `__errno_location` returns this thread's errno; set
            // to 0 so that end of stream and an error can be told apart.
            unsafe { *libc::__errno_location() = 0 };
            // SAFETY: `dir` is a valid stream until `closedir`.
            let ent = unsafe { libc::readdir64(dir) };
            if ent.is_null() {
                // SAFETY: as above.
                let e = unsafe { *libc::__errno_location() };
                break if e == 0 {
                    Ok(())
                } else {
                    Err(errno_from_host(e))
                };
            }
            // SAFETY: a non-null entry from readdir64 is valid until the
            // next call on `dir`; `d_name` is NUL-terminated.
            let (name, d_type, ino) = unsafe {
                let ent = &*ent;
                (
                    CStr::from_ptr(ent.d_name.as_ptr()).to_bytes().to_vec(),
                    ent.d_type,
                    ent.d_ino,
                )
            };
            if name == b"." || name == b".." {
                continue;
            }
            let Ok(name) = String::from_utf8(name) else {
                // preview1 names are UTF-8 in wasi-libc and Rust's std;
                // an entry without a UTF-8 name cannot be named by the
                // guest, so it is left out.
                continue;
            };
            let filetype = match d_type {
                libc::DT_REG => FileType::RegularFile,
                libc::DT_DIR => FileType::Directory,
                libc::DT_LNK => FileType::SymbolicLink,
                libc::DT_CHR => FileType::CharacterDevice,
                libc::DT_BLK => FileType::BlockDevice,
                libc::DT_SOCK => FileType::SocketStream,
                libc::DT_FIFO => FileType::Unknown,
                _ => self
                    .stat_at(&name)
                    .map(|s| s.filetype)
                    .unwrap_or(FileType::Unknown),
            };
            entries.push(DirEntry {
                name,
                filetype,
                ino,
            });
        };
        // SAFETY: `dir` came from fdopendir and is closed exactly once.
        unsafe { libc::closedir(dir) };
        result.map(|()| entries)
    }

    fn sync(&self) -> FsResult<()> {
        // SAFETY: fsync on an owned descriptor touches no memory.
        retry(|| unsafe { libc::fsync(self.raw()) })?;
        Ok(())
    }
}

impl HostDir {
    fn open_at_dot(&self) -> FsResult<OwnedFd> {
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
        // SAFETY: the path is a NUL-terminated literal.
        let fd = retry(|| unsafe { libc::openat(self.raw(), c".".as_ptr(), flags) })?;
        // SAFETY: `fd` was just opened and is owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

fn set_status_flags(fd: RawFd, flags: i32) -> FsResult<()> {
    // SAFETY: F_SETFL takes an integer argument and touches no memory.
    retry(|| unsafe { libc::fcntl(fd, libc::F_SETFL, flags) })?;
    Ok(())
}

fn status_flags(fd: RawFd) -> FsResult<i32> {
    // SAFETY: F_GETFL touches no memory.
    retry(|| unsafe { libc::fcntl(fd, libc::F_GETFL) })
}

fn read_fd(fd: RawFd, buf: &mut [u8]) -> FsResult<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
    let n = retry(|| unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) })?;
    Ok(n as usize)
}

fn write_fd(fd: RawFd, buf: &[u8]) -> FsResult<usize> {
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes.
    let n = retry(|| unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) })?;
    Ok(n as usize)
}

fn offset(x: u64) -> FsResult<i64> {
    i64::try_from(x).map_err(|_| Errno::Inval)
}

fn poll_fd(fd: RawFd, write: bool) -> FsResult<Readiness> {
    let mut p = libc::pollfd {
        fd,
        events: if write { libc::POLLOUT } else { libc::POLLIN },
        revents: 0,
    };
    // SAFETY: `p` is one valid pollfd; timeout 0 never blocks.
    let n = retry(|| unsafe { libc::poll(&mut p, 1, 0) })?;
    if n == 0 {
        return Ok(Readiness::NotReady);
    }
    let mut nbytes: libc::c_int = 0;
    if !write {
        // SAFETY: FIONREAD writes one c_int to `nbytes`; on failure (not a
        // stream) it is left 0, "unknown".
        unsafe { libc::ioctl(fd, libc::FIONREAD, &mut nbytes) };
    }
    Ok(Readiness::Ready {
        nbytes: u64::try_from(nbytes).unwrap_or(0),
    })
}

/// A file of the host's filesystem opened by [`HostDir::open_file`].
#[derive(Debug)]
pub struct HostFile {
    fd: OwnedFd,
    filetype: FileType,
    flags: FdFlags,
}

impl HostFile {
    fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl File for HostFile {
    fn filetype(&self) -> FileType {
        self.filetype
    }

    fn read(&mut self, buf: &mut [u8]) -> FsResult<usize> {
        read_fd(self.raw(), buf)
    }

    fn write(&mut self, buf: &[u8]) -> FsResult<usize> {
        write_fd(self.raw(), buf)
    }

    fn pread(&mut self, buf: &mut [u8], offset: u64) -> FsResult<usize> {
        let at = self::offset(offset)?;
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
        let n =
            retry(|| unsafe { libc::pread64(self.raw(), buf.as_mut_ptr().cast(), buf.len(), at) })?;
        Ok(n as usize)
    }

    fn pwrite(&mut self, buf: &[u8], offset: u64) -> FsResult<usize> {
        let at = self::offset(offset)?;
        // SAFETY: `buf` is valid for reads of `buf.len()` bytes.
        let n =
            retry(|| unsafe { libc::pwrite64(self.raw(), buf.as_ptr().cast(), buf.len(), at) })?;
        Ok(n as usize)
    }

    fn seek(&mut self, pos: SeekFrom) -> FsResult<u64> {
        let (off, whence) = match pos {
            SeekFrom::Start(x) => (offset(x)?, libc::SEEK_SET),
            SeekFrom::Current(x) => (x, libc::SEEK_CUR),
            SeekFrom::End(x) => (x, libc::SEEK_END),
        };
        // SAFETY: lseek touches no memory.
        let at = retry(|| unsafe { libc::lseek64(self.raw(), off, whence) })?;
        u64::try_from(at).map_err(|_| Errno::Inval)
    }

    fn stat(&self) -> FsResult<Filestat> {
        Ok(filestat_of(&fstat_fd(self.raw())?))
    }

    fn set_size(&mut self, size: u64) -> FsResult<()> {
        let size = i64::try_from(size).map_err(|_| Errno::Fbig)?;
        // SAFETY: ftruncate touches no memory.
        retry(|| unsafe { libc::ftruncate64(self.raw(), size) })?;
        Ok(())
    }

    fn set_times(&mut self, atim: SetTime, mtim: SetTime) -> FsResult<()> {
        set_times_fd(self.raw(), atim, mtim)
    }

    fn sync(&mut self) -> FsResult<()> {
        // SAFETY: fsync touches no memory.
        retry(|| unsafe { libc::fsync(self.raw()) })?;
        Ok(())
    }

    fn datasync(&mut self) -> FsResult<()> {
        // SAFETY: fdatasync touches no memory.
        retry(|| unsafe { libc::fdatasync(self.raw()) })?;
        Ok(())
    }

    fn fdflags(&self) -> FdFlags {
        self.flags
    }

    fn set_fdflags(&mut self, flags: FdFlags) -> FsResult<()> {
        let mut host = status_flags(self.raw())? & !(libc::O_APPEND | libc::O_NONBLOCK);
        if flags.contains(FdFlags::APPEND) {
            host |= libc::O_APPEND;
        }
        if flags.contains(FdFlags::NONBLOCK) {
            host |= libc::O_NONBLOCK;
        }
        set_status_flags(self.raw(), host)?;
        let kept = FdFlags(self.flags.0 & !(FdFlags::APPEND.0 | FdFlags::NONBLOCK.0));
        self.flags = kept | FdFlags(flags.0 & (FdFlags::APPEND.0 | FdFlags::NONBLOCK.0));
        Ok(())
    }

    fn advise(&mut self, offset: u64, len: u64, advice: Advice) -> FsResult<()> {
        let (offset, len) = (self::offset(offset)?, self::offset(len)?);
        let advice = match advice {
            Advice::Normal => libc::POSIX_FADV_NORMAL,
            Advice::Sequential => libc::POSIX_FADV_SEQUENTIAL,
            Advice::Random => libc::POSIX_FADV_RANDOM,
            Advice::WillNeed => libc::POSIX_FADV_WILLNEED,
            Advice::DontNeed => libc::POSIX_FADV_DONTNEED,
            Advice::NoReuse => libc::POSIX_FADV_NOREUSE,
        };
        // SAFETY: posix_fadvise touches no memory; it returns the error
        // number instead of setting errno.
        match unsafe { libc::posix_fadvise64(self.raw(), offset, len, advice) } {
            0 => Ok(()),
            e => Err(errno_from_host(e)),
        }
    }

    fn allocate(&mut self, offset: u64, len: u64) -> FsResult<()> {
        let (offset, len) = (self::offset(offset)?, self::offset(len)?);
        loop {
            // SAFETY: posix_fallocate touches no memory; it returns the
            // error number instead of setting errno.
            match unsafe { libc::posix_fallocate64(self.raw(), offset, len) } {
                0 => return Ok(()),
                libc::EINTR => continue,
                e => return Err(errno_from_host(e)),
            }
        }
    }

    fn is_tty(&self) -> bool {
        // SAFETY: isatty touches no memory.
        unsafe { libc::isatty(self.raw()) == 1 }
    }

    fn poll_readiness(&mut self, write: bool) -> FsResult<Readiness> {
        poll_fd(self.raw(), write)
    }
}

/// The process's own stdin, stdout or stderr, given to the guest
/// ([`WasiCtxBuilder::inherit_stdio`]). The descriptor stays the process's:
/// dropping this value does not close it.
#[derive(Debug, Clone, Copy)]
pub struct HostStdio {
    fd: RawFd,
}

impl HostStdio {
    /// Descriptor 0.
    pub fn stdin() -> HostStdio {
        HostStdio { fd: 0 }
    }

    /// Descriptor 1.
    pub fn stdout() -> HostStdio {
        HostStdio { fd: 1 }
    }

    /// Descriptor 2.
    pub fn stderr() -> HostStdio {
        HostStdio { fd: 2 }
    }
}

impl File for HostStdio {
    fn filetype(&self) -> FileType {
        if self.is_tty() {
            FileType::CharacterDevice
        } else {
            FileType::Unknown
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> FsResult<usize> {
        read_fd(self.fd, buf)
    }

    fn write(&mut self, buf: &[u8]) -> FsResult<usize> {
        write_fd(self.fd, buf)
    }

    fn stat(&self) -> FsResult<Filestat> {
        let st = fstat_fd(self.fd)?;
        Ok(Filestat {
            filetype: self.filetype(),
            ..filestat_of(&st)
        })
    }

    fn is_tty(&self) -> bool {
        // SAFETY: isatty touches no memory.
        unsafe { libc::isatty(self.fd) == 1 }
    }

    fn poll_readiness(&mut self, write: bool) -> FsResult<Readiness> {
        poll_fd(self.fd, write)
    }
}

/// The `std` conveniences of the builder, over the host's filesystem,
/// stdio, environment and arguments.
impl WasiCtxBuilder {
    /// Preopens the host directory `host_path` as the guest's `guest_path`
    /// (as `wasmtime run --dir HOST::GUEST` does). Fails when `host_path` is
    /// not a directory that can be opened.
    pub fn preopened_dir_path(
        &mut self,
        host_path: impl AsRef<Path>,
        guest_path: impl AsRef<str>,
        perms: DirPerms,
    ) -> std::io::Result<&mut Self> {
        let dir = HostDir::open(host_path)?;
        Ok(self.preopened_dir(Box::new(dir), guest_path, perms))
    }

    /// Gives the guest the process's stdin, stdout and stderr.
    pub fn inherit_stdio(&mut self) -> &mut Self {
        self.stdin(HostStdio::stdin())
            .stdout(HostStdio::stdout())
            .stderr(HostStdio::stderr())
    }

    /// Gives the guest the process's environment variables (those whose
    /// name and value are UTF-8).
    pub fn inherit_env(&mut self) -> &mut Self {
        self.envs(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    /// Gives the guest the process's arguments, its name first (those that
    /// are UTF-8).
    pub fn inherit_args(&mut self) -> &mut Self {
        self.args(std::env::args_os().filter_map(|a| a.into_string().ok()))
    }
}
