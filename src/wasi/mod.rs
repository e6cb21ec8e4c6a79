//! WASI preview1 (`wasi_snapshot_preview1`) in the `no_std` core.
//!
//! [`fs`] holds the traits an embedder implements (directories, files, a
//! clock, randomness); the rest of this module implements the 46 functions
//! once over them.

pub mod fs;

pub use fs::{
    Advice, Clock, ClockId, Dir, DirEntry, Errno, FdFlags, File, FileType, Filestat, FsResult,
    MAX_SYMLINK_FOLLOWS, OpenOptions, Random, Readiness, SeekFrom, SetTime,
};
