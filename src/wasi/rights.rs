//! Preview1 rights (`rights` bits) and the sets the core grants.
//!
//! The core keeps wasi-common's capability model: each descriptor has base
//! rights (what it may do) and inheriting rights (what descriptors opened
//! through it may get); a new descriptor's rights are the requested ones
//! intersected with its directory's inheriting rights, and rights can only
//! be dropped (`fd_fdstat_set_rights`). An operation without its right
//! fails with [`Errno::Notcapable`](super::Errno::Notcapable), except
//! reading and writing, which fail with [`Errno::Badf`](super::Errno::Badf)
//! as POSIX and Wasmtime answer for a descriptor not open for them.

#![allow(missing_docs)]

pub const FD_DATASYNC: u64 = 1 << 0;
pub const FD_READ: u64 = 1 << 1;
pub const FD_SEEK: u64 = 1 << 2;
pub const FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
pub const FD_SYNC: u64 = 1 << 4;
pub const FD_TELL: u64 = 1 << 5;
pub const FD_WRITE: u64 = 1 << 6;
pub const FD_ADVISE: u64 = 1 << 7;
pub const FD_ALLOCATE: u64 = 1 << 8;
pub const PATH_CREATE_DIRECTORY: u64 = 1 << 9;
pub const PATH_CREATE_FILE: u64 = 1 << 10;
pub const PATH_LINK_SOURCE: u64 = 1 << 11;
pub const PATH_LINK_TARGET: u64 = 1 << 12;
pub const PATH_OPEN: u64 = 1 << 13;
pub const FD_READDIR: u64 = 1 << 14;
pub const PATH_READLINK: u64 = 1 << 15;
pub const PATH_RENAME_SOURCE: u64 = 1 << 16;
pub const PATH_RENAME_TARGET: u64 = 1 << 17;
pub const PATH_FILESTAT_GET: u64 = 1 << 18;
pub const PATH_FILESTAT_SET_SIZE: u64 = 1 << 19;
pub const PATH_FILESTAT_SET_TIMES: u64 = 1 << 20;
pub const FD_FILESTAT_GET: u64 = 1 << 21;
pub const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
pub const FD_FILESTAT_SET_TIMES: u64 = 1 << 23;
pub const PATH_SYMLINK: u64 = 1 << 24;
pub const PATH_REMOVE_DIRECTORY: u64 = 1 << 25;
pub const PATH_UNLINK_FILE: u64 = 1 << 26;
pub const POLL_FD_READWRITE: u64 = 1 << 27;
pub const SOCK_SHUTDOWN: u64 = 1 << 28;
pub const SOCK_ACCEPT: u64 = 1 << 29;
/// Every right preview1 defines.
pub const ALL: u64 = (1 << 30) - 1;

/// What a directory descriptor can do itself.
pub const DIR_BASE: u64 = PATH_CREATE_DIRECTORY
    | PATH_CREATE_FILE
    | PATH_LINK_SOURCE
    | PATH_LINK_TARGET
    | PATH_OPEN
    | FD_READDIR
    | PATH_READLINK
    | PATH_RENAME_SOURCE
    | PATH_RENAME_TARGET
    | PATH_FILESTAT_GET
    | PATH_FILESTAT_SET_SIZE
    | PATH_FILESTAT_SET_TIMES
    | FD_FILESTAT_GET
    | FD_FILESTAT_SET_TIMES
    | PATH_SYMLINK
    | PATH_REMOVE_DIRECTORY
    | PATH_UNLINK_FILE
    | FD_FDSTAT_SET_FLAGS
    | FD_SYNC
    | FD_DATASYNC;

/// What a regular file descriptor can do.
pub const FILE_BASE: u64 = FD_DATASYNC
    | FD_READ
    | FD_SEEK
    | FD_FDSTAT_SET_FLAGS
    | FD_SYNC
    | FD_TELL
    | FD_WRITE
    | FD_ADVISE
    | FD_ALLOCATE
    | FD_FILESTAT_GET
    | FD_FILESTAT_SET_SIZE
    | FD_FILESTAT_SET_TIMES
    | POLL_FD_READWRITE;

/// What descriptors opened beneath a directory may get.
pub const DIR_INHERITING: u64 = DIR_BASE | FILE_BASE;

/// Rights that change the filesystem (dropped for read-only preopens).
pub const WRITE_RIGHTS: u64 = FD_DATASYNC
    | FD_WRITE
    | FD_ALLOCATE
    | FD_FILESTAT_SET_SIZE
    | FD_FILESTAT_SET_TIMES
    | PATH_CREATE_DIRECTORY
    | PATH_CREATE_FILE
    | PATH_LINK_TARGET
    | PATH_RENAME_SOURCE
    | PATH_RENAME_TARGET
    | PATH_FILESTAT_SET_SIZE
    | PATH_FILESTAT_SET_TIMES
    | PATH_SYMLINK
    | PATH_REMOVE_DIRECTORY
    | PATH_UNLINK_FILE;
