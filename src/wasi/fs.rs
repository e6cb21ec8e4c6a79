//! What an embedder provides to WASI: directories and files ([`Dir`],
//! [`File`]), a [`Clock`] and a source of randomness ([`Random`]), with the
//! value types they exchange with the core ([`Errno`], [`Filestat`], ...).
//!
//! # Decisions
//! - **The core resolves paths; backends never do.** A guest path is walked
//!   by the core one component at a time, beneath the directory descriptor
//!   it is relative to (openat2's `RESOLVE_BENEATH`, done portably): an
//!   absolute path, a `..` above that directory, a symbolic link whose
//!   target is absolute, and more than [`MAX_SYMLINK_FOLLOWS`] links are
//!   refused before any backend sees them. So a backend only implements
//!   operations on **one name relative to a directory handle** it gave out
//!   earlier, and it **never follows a symbolic link** itself: the core
//!   reads a link's target with [`Dir::read_link`] and continues the walk.
//!   A sandbox is then as strong as this one walk, the same for every
//!   backend, and a backend over a real filesystem needs nothing more than
//!   `openat`/`fstatat`/`readlinkat` with "no follow" flags.
//! - **A name given to a backend** is valid UTF-8, non-empty, contains no
//!   `/` and no NUL, and is neither `.` nor `..`.
//! - **Errors are preview1's [`Errno`]** with its exact numbering, so what a
//!   backend reports reaches the guest unchanged, and no translation table
//!   sits between them.
//! - **Cross-directory operations** ([`Dir::rename`], [`Dir::hard_link`])
//!   receive the other directory as `&dyn Dir`; a backend downcasts it
//!   through [`Dir::as_any`] to its own type and answers [`Errno::Xdev`]
//!   when it is another backend's.
//! - **Rights, descriptor numbers, `.`/`..` entries, readdir cookies and the
//!   guest's memory are the core's business**: backends see none of them.
//! - **Non-blocking readiness.** [`File::poll_readiness`] never blocks;
//!   `poll_oneoff` in the core asks every subscribed file and sleeps through
//!   [`Clock::sleep`] between rounds.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::any::Any;
use core::fmt;

/// Most symbolic links one path resolution follows before it fails with
/// [`Errno::Loop`] (Linux's limit).
pub const MAX_SYMLINK_FOLLOWS: u32 = 40;

macro_rules! errnos {
    ($($(#[$doc:meta])* $name:ident = $n:literal, $text:literal;)*) => {
        /// A preview1 error number (`errno`), with the specification's
        /// numbering: `Errno::Badf as u16 == 8`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u16)]
        pub enum Errno {
            $($(#[$doc])* #[doc = $text] $name = $n,)*
        }

        impl Errno {
            /// The errno with number `n`, if there is one.
            pub fn from_u16(n: u16) -> Option<Errno> {
                match n {
                    $($n => Some(Errno::$name),)*
                    _ => None,
                }
            }

            /// The specification's one-line description.
            pub fn description(self) -> &'static str {
                match self {
                    $(Errno::$name => $text,)*
                }
            }
        }
    };
}

errnos! {
    Success = 0, "No error occurred.";
    TooBig = 1, "Argument list too long.";
    Acces = 2, "Permission denied.";
    Addrinuse = 3, "Address in use.";
    Addrnotavail = 4, "Address not available.";
    Afnosupport = 5, "Address family not supported.";
    Again = 6, "Resource unavailable, or operation would block.";
    Already = 7, "Connection already in progress.";
    Badf = 8, "Bad file descriptor.";
    Badmsg = 9, "Bad message.";
    Busy = 10, "Device or resource busy.";
    Canceled = 11, "Operation canceled.";
    Child = 12, "No child processes.";
    Connaborted = 13, "Connection aborted.";
    Connrefused = 14, "Connection refused.";
    Connreset = 15, "Connection reset.";
    Deadlk = 16, "Resource deadlock would occur.";
    Destaddrreq = 17, "Destination address required.";
    Dom = 18, "Mathematics argument out of domain of function.";
    Dquot = 19, "Reserved.";
    Exist = 20, "File exists.";
    Fault = 21, "Bad address.";
    Fbig = 22, "File too large.";
    Hostunreach = 23, "Host is unreachable.";
    Idrm = 24, "Identifier removed.";
    Ilseq = 25, "Illegal byte sequence.";
    Inprogress = 26, "Operation in progress.";
    Intr = 27, "Interrupted function.";
    Inval = 28, "Invalid argument.";
    Io = 29, "I/O error.";
    Isconn = 30, "Socket is connected.";
    Isdir = 31, "Is a directory.";
    Loop = 32, "Too many levels of symbolic links.";
    Mfile = 33, "File descriptor value too large.";
    Mlink = 34, "Too many links.";
    Msgsize = 35, "Message too large.";
    Multihop = 36, "Reserved.";
    Nametoolong = 37, "Filename too long.";
    Netdown = 38, "Network is down.";
    Netreset = 39, "Connection aborted by network.";
    Netunreach = 40, "Network unreachable.";
    Nfile = 41, "Too many files open in system.";
    Nobufs = 42, "No buffer space available.";
    Nodev = 43, "No such device.";
    Noent = 44, "No such file or directory.";
    Noexec = 45, "Executable file format error.";
    Nolck = 46, "No locks available.";
    Nolink = 47, "Reserved.";
    Nomem = 48, "Not enough space.";
    Nomsg = 49, "No message of the desired type.";
    Noprotoopt = 50, "Protocol not available.";
    Nospc = 51, "No space left on device.";
    Nosys = 52, "Function not supported.";
    Notconn = 53, "The socket is not connected.";
    Notdir = 54, "Not a directory or a symbolic link to a directory.";
    Notempty = 55, "Directory not empty.";
    Notrecoverable = 56, "State not recoverable.";
    Notsock = 57, "Not a socket.";
    Notsup = 58, "Not supported, or operation not supported on socket.";
    Notty = 59, "Inappropriate I/O control operation.";
    Nxio = 60, "No such device or address.";
    Overflow = 61, "Value too large to be stored in data type.";
    Ownerdead = 62, "Previous owner died.";
    Perm = 63, "Operation not permitted.";
    Pipe = 64, "Broken pipe.";
    Proto = 65, "Protocol error.";
    Protonosupport = 66, "Protocol not supported.";
    Prototype = 67, "Protocol wrong type for socket.";
    Range = 68, "Result too large.";
    Rofs = 69, "Read-only file system.";
    Spipe = 70, "Invalid seek.";
    Srch = 71, "No such process.";
    Stale = 72, "Reserved.";
    Timedout = 73, "Connection timed out.";
    Txtbsy = 74, "Text file busy.";
    Xdev = 75, "Cross-device link.";
    Notcapable = 76, "Extension: Capabilities insufficient.";
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "errno {} ({})", *self as u16, self.description())
    }
}

impl core::error::Error for Errno {}

/// What a backend operation returns.
pub type FsResult<T> = core::result::Result<T, Errno>;

/// The type of a file (preview1 `filetype`, same numbering).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum FileType {
    /// Unknown, or a type WASI has no name for.
    #[default]
    Unknown = 0,
    /// A block device.
    BlockDevice = 1,
    /// A character device (terminals, `/dev/null`).
    CharacterDevice = 2,
    /// A directory.
    Directory = 3,
    /// A regular file.
    RegularFile = 4,
    /// A datagram socket.
    SocketDgram = 5,
    /// A byte-stream socket.
    SocketStream = 6,
    /// A symbolic link.
    SymbolicLink = 7,
}

/// A file's attributes (preview1 `filestat`). Times are nanoseconds since
/// the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Filestat {
    /// Device the file lives on.
    pub dev: u64,
    /// File serial number (inode), unique on its device.
    pub ino: u64,
    /// The file's type.
    pub filetype: FileType,
    /// Number of hard links to the file.
    pub nlink: u64,
    /// Size in bytes (for a symbolic link: its target's length).
    pub size: u64,
    /// Last data access.
    pub atim: u64,
    /// Last data modification.
    pub mtim: u64,
    /// Last status change.
    pub ctim: u64,
}

/// Descriptor flags (preview1 `fdflags`, same bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct FdFlags(pub u16);

impl FdFlags {
    /// Each write appends to the end of the file.
    pub const APPEND: FdFlags = FdFlags(1 << 0);
    /// Writes complete only once data is durable (`O_DSYNC`).
    pub const DSYNC: FdFlags = FdFlags(1 << 1);
    /// Operations that would block fail with [`Errno::Again`].
    pub const NONBLOCK: FdFlags = FdFlags(1 << 2);
    /// Reads see durable data (`O_RSYNC`).
    pub const RSYNC: FdFlags = FdFlags(1 << 3);
    /// Writes complete once data and metadata are durable (`O_SYNC`).
    pub const SYNC: FdFlags = FdFlags(1 << 4);
    /// Every flag the specification defines.
    pub const ALL: FdFlags = FdFlags(0x1f);

    /// True when every flag of `other` is set.
    pub fn contains(self, other: FdFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl core::ops::BitOr for FdFlags {
    type Output = FdFlags;
    fn bitor(self, rhs: FdFlags) -> FdFlags {
        FdFlags(self.0 | rhs.0)
    }
}

/// How [`Dir::open_file`] opens a file (from `path_open`'s `oflags`, rights
/// and `fdflags`; the core has checked that `exclusive` and `truncate`
/// come with what they need).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct OpenOptions {
    /// Create the file if it does not exist (`O_CREAT`).
    pub create: bool,
    /// With `create`: fail with [`Errno::Exist`] if it exists (`O_EXCL`).
    pub exclusive: bool,
    /// Truncate it to size 0 (`O_TRUNC`; comes with `write`).
    pub truncate: bool,
    /// Open for reading.
    pub read: bool,
    /// Open for writing.
    pub write: bool,
    /// The descriptor's initial flags.
    pub fdflags: FdFlags,
}

/// A new value for a timestamp ([`Dir::set_times_at`], [`File::set_times`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetTime {
    /// Leave it unchanged.
    Omit,
    /// The backend's current time.
    Now,
    /// This time, in nanoseconds since the Unix epoch.
    At(u64),
}

/// Where [`File::seek`] counts from (preview1 `whence`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeekFrom {
    /// From the start of the file.
    Start(u64),
    /// From the current position.
    Current(i64),
    /// From the end of the file.
    End(i64),
}

/// Expected access pattern ([`File::advise`], preview1 `advice`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Advice {
    /// No advice.
    Normal = 0,
    /// Sequential access.
    Sequential = 1,
    /// Random access.
    Random = 2,
    /// The data will be needed soon.
    WillNeed = 3,
    /// The data will not be needed soon.
    DontNeed = 4,
    /// The data will be accessed once.
    NoReuse = 5,
}

/// One entry of [`Dir::read_dir`] (not `.` or `..`: the core adds those).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// The entry's name.
    pub name: String,
    /// Its type (not followed: a link is [`FileType::SymbolicLink`]).
    pub filetype: FileType,
    /// Its inode number ([`Filestat::ino`]).
    pub ino: u64,
}

/// What a readiness check found ([`File::poll_readiness`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// The operation would not block; `nbytes` is how many bytes can be
    /// read (or written) at once, 0 when unknown.
    Ready {
        /// Bytes available.
        nbytes: u64,
    },
    /// The operation would block now.
    NotReady,
}

/// A directory handle of a backend.
///
/// Every `name` is one component (see the module docs: no `/`, not `.` or
/// `..`), relative to this directory. **No method follows a symbolic link**
/// at `name`; the core does that. Methods take `&self` so that one
/// directory can be both ends of a rename; a backend with mutable state
/// uses interior mutability.
pub trait Dir: Send {
    /// This value as [`Any`], for [`Dir::rename`] and [`Dir::hard_link`] to
    /// downcast the other directory to their own type.
    fn as_any(&self) -> &dyn Any;

    /// Another handle to this same directory.
    fn try_clone(&self) -> FsResult<Box<dyn Dir>>;

    /// The directory's own attributes.
    fn stat(&self) -> FsResult<Filestat>;

    /// Attributes of `name`, not following a symbolic link (`lstat`).
    fn stat_at(&self, name: &str) -> FsResult<Filestat>;

    /// Opens the directory `name`. [`Errno::Noent`] when missing,
    /// [`Errno::Notdir`] when it is not a directory; a symbolic link gives
    /// [`Errno::Loop`] or [`Errno::Notdir`] (the core then reads the link).
    fn open_dir(&self, name: &str) -> FsResult<Box<dyn Dir>>;

    /// Opens (or creates) the regular file or other non-directory `name`.
    /// A directory there gives [`Errno::Isdir`] (nothing is created or
    /// truncated), a symbolic link [`Errno::Loop`].
    fn open_file(&self, name: &str, options: &OpenOptions) -> FsResult<Box<dyn File>>;

    /// The target of the symbolic link `name`; [`Errno::Inval`] when `name`
    /// is not a symbolic link.
    fn read_link(&self, name: &str) -> FsResult<String>;

    /// Creates the directory `name`; [`Errno::Exist`] if anything is there.
    fn create_dir(&self, name: &str) -> FsResult<()>;

    /// Removes the empty directory `name` ([`Errno::Notempty`],
    /// [`Errno::Notdir`] when it is not a directory).
    fn remove_dir(&self, name: &str) -> FsResult<()>;

    /// Removes the non-directory `name` (a link itself, not its target);
    /// [`Errno::Isdir`] for a directory.
    fn unlink_file(&self, name: &str) -> FsResult<()>;

    /// Creates the symbolic link `name` pointing to `target` (stored as
    /// given); [`Errno::Exist`] if anything is there.
    fn symlink(&self, target: &str, name: &str) -> FsResult<()>;

    /// Renames `from` to `to` in `to_dir`, as POSIX `renameat` (replacing a
    /// file, or an empty directory by a directory). [`Errno::Xdev`] when
    /// `to_dir` is of another backend or device.
    fn rename(&self, from: &str, to_dir: &dyn Dir, to: &str) -> FsResult<()>;

    /// Makes `to` in `to_dir` another hard link to the file `from` (not
    /// following a link at `from`). [`Errno::Xdev`] as for [`Dir::rename`];
    /// [`Errno::Perm`] when `from` is a directory.
    fn hard_link(&self, from: &str, to_dir: &dyn Dir, to: &str) -> FsResult<()>;

    /// Sets the access and modification times of `name` (not following a
    /// link).
    fn set_times_at(&self, name: &str, atim: SetTime, mtim: SetTime) -> FsResult<()>;

    /// Sets this directory's own access and modification times.
    fn set_times(&self, atim: SetTime, mtim: SetTime) -> FsResult<()>;

    /// The entries, without `.` and `..`, in a stable order (the core
    /// numbers them for readdir cookies).
    fn read_dir(&self) -> FsResult<Vec<DirEntry>>;

    /// Flushes the directory to durable storage.
    fn sync(&self) -> FsResult<()> {
        Ok(())
    }
}

/// An open file: a regular file of a backend, or a stream such as stdio.
///
/// The core calls it with byte buffers in the guest's memory (one buffer
/// per call: scatter/gather lists are split by the core). Methods a kind of
/// file does not support have defaults that fail as preview1 expects.
pub trait File: Send {
    /// The file's type (cheap: [`File::stat`] may cost a system call).
    fn filetype(&self) -> FileType;

    /// Reads at the current position into `buf`; 0 at end of file.
    fn read(&mut self, buf: &mut [u8]) -> FsResult<usize>;

    /// Writes `buf` at the current position (at the end with
    /// [`FdFlags::APPEND`]); returns how many bytes were written.
    fn write(&mut self, buf: &[u8]) -> FsResult<usize>;

    /// Reads at `offset` without moving the position.
    fn pread(&mut self, buf: &mut [u8], offset: u64) -> FsResult<usize> {
        let _ = (buf, offset);
        Err(Errno::Spipe)
    }

    /// Writes at `offset` without moving the position.
    fn pwrite(&mut self, buf: &[u8], offset: u64) -> FsResult<usize> {
        let _ = (buf, offset);
        Err(Errno::Spipe)
    }

    /// Moves the position; returns the new one. [`Errno::Inval`] for a
    /// negative result.
    fn seek(&mut self, pos: SeekFrom) -> FsResult<u64> {
        let _ = pos;
        Err(Errno::Spipe)
    }

    /// The file's attributes.
    fn stat(&self) -> FsResult<Filestat>;

    /// Truncates or zero-extends the file to `size` bytes.
    fn set_size(&mut self, size: u64) -> FsResult<()> {
        let _ = size;
        Err(Errno::Inval)
    }

    /// Sets the access and modification times.
    fn set_times(&mut self, atim: SetTime, mtim: SetTime) -> FsResult<()> {
        let _ = (atim, mtim);
        Err(Errno::Notsup)
    }

    /// Flushes data and metadata to durable storage.
    fn sync(&mut self) -> FsResult<()> {
        Ok(())
    }

    /// Flushes data to durable storage.
    fn datasync(&mut self) -> FsResult<()> {
        self.sync()
    }

    /// The descriptor's flags.
    fn fdflags(&self) -> FdFlags {
        FdFlags::default()
    }

    /// Changes the descriptor's flags ([`FdFlags::APPEND`] and
    /// [`FdFlags::NONBLOCK`]; the core refuses the others).
    fn set_fdflags(&mut self, flags: FdFlags) -> FsResult<()> {
        let _ = flags;
        Err(Errno::Notsup)
    }

    /// Advice about the access pattern; backends may ignore it.
    fn advise(&mut self, offset: u64, len: u64, advice: Advice) -> FsResult<()> {
        let _ = (offset, len, advice);
        Ok(())
    }

    /// Ensures storage for bytes `offset..offset + len` (extending the
    /// file's size if needed). Preview1's `fd_allocate` does not call it: it
    /// answers [`Errno::Notsup`] as Wasmtime does; it is here for
    /// embedders.
    fn allocate(&mut self, offset: u64, len: u64) -> FsResult<()> {
        let _ = (offset, len);
        Err(Errno::Notsup)
    }

    /// True when this is a terminal.
    fn is_tty(&self) -> bool {
        false
    }

    /// Whether a read (`write == false`) or a write would block now.
    /// Must not block.
    fn poll_readiness(&mut self, write: bool) -> FsResult<Readiness> {
        let _ = write;
        Ok(Readiness::Ready { nbytes: 0 })
    }
}

/// Which clock (preview1 `clockid`, same numbering).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ClockId {
    /// Wall-clock time since the Unix epoch.
    Realtime = 0,
    /// A clock that never goes back, from an arbitrary start.
    Monotonic = 1,
    /// CPU time of the process.
    ProcessCputime = 2,
    /// CPU time of the thread.
    ThreadCputime = 3,
}

/// The clocks WASI reads. Times are in nanoseconds.
pub trait Clock: Send {
    /// Nanoseconds since the Unix epoch.
    fn realtime(&self) -> FsResult<u64>;

    /// Nanoseconds from an arbitrary fixed start; never decreases.
    fn monotonic(&self) -> FsResult<u64>;

    /// The resolution of clock `id`, in nanoseconds (at least 1).
    fn resolution(&self, id: ClockId) -> FsResult<u64> {
        let _ = id;
        Ok(1)
    }

    /// Waits `ns` nanoseconds (used by `poll_oneoff`). The default spins on
    /// [`Clock::monotonic`]; a host with a scheduler should sleep.
    fn sleep(&self, ns: u64) -> FsResult<()> {
        let start = self.monotonic()?;
        while self.monotonic()?.saturating_sub(start) < ns {
            core::hint::spin_loop();
        }
        Ok(())
    }
}

/// A source of random bytes for `random_get` (and so for the guest's hash
/// seeds and key material: it should be cryptographically secure).
pub trait Random: Send {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]) -> FsResult<()>;
}
