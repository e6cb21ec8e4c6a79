//! Streams for stdio in the core: a captured output pipe the embedder reads
//! ([`OutputPipe`]), an input from bytes ([`InputBytes`]), a null device
//! ([`NullFile`]) and a closed stream ([`ClosedFile`]).
//!
//! None is a terminal: like Wasmtime's captured and null stdio they report
//! [`FileType::Unknown`] and an all-zero [`Filestat`], so a guest's
//! `isatty()` is false and `fstat` shows no file behind them. Operations
//! only files have (sync, advise, truncate, set times) are [`Errno::Badf`]
//! on them, Wasmtime's answer for stdio.

use super::fs::{Advice, Errno, FdFlags, File, FileType, Filestat, FsResult, Readiness, SetTime};
use alloc::sync::Arc;
use alloc::vec::Vec;
use spin::Mutex;

/// What a stream that is no file reports: Wasmtime's answer for stdio that
/// is not a terminal (type unknown, every field 0).
fn stream_stat() -> Filestat {
    Filestat::default()
}

/// Captured output: what the guest writes is appended to a buffer shared
/// with the embedder (clones share it), up to a byte cap; a write beyond
/// the cap stores what fits, and one that fits nothing fails with
/// [`Errno::Nospc`].
#[derive(Clone, Debug)]
pub struct OutputPipe {
    buf: Arc<Mutex<Vec<u8>>>,
    capacity: usize,
}

impl OutputPipe {
    /// A pipe that keeps at most `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        OutputPipe {
            buf: Arc::new(Mutex::new(Vec::new())),
            capacity,
        }
    }

    /// A copy of everything written so far.
    pub fn contents(&self) -> Vec<u8> {
        self.buf.lock().clone()
    }

    /// Takes everything written so far, leaving the buffer empty.
    pub fn take(&self) -> Vec<u8> {
        core::mem::take(&mut *self.buf.lock())
    }
}

impl File for OutputPipe {
    fn filetype(&self) -> FileType {
        FileType::Unknown
    }
    fn read(&mut self, _buf: &mut [u8]) -> FsResult<usize> {
        Err(Errno::Badf)
    }
    fn write(&mut self, data: &[u8]) -> FsResult<usize> {
        let mut buf = self.buf.lock();
        let room = self.capacity.saturating_sub(buf.len());
        if room == 0 && !data.is_empty() {
            return Err(Errno::Nospc);
        }
        let n = data.len().min(room);
        buf.try_reserve(n).map_err(|_| Errno::Nomem)?;
        buf.extend_from_slice(&data[..n]);
        Ok(n)
    }
    fn stat(&self) -> FsResult<Filestat> {
        Ok(stream_stat())
    }
    fn set_size(&mut self, _size: u64) -> FsResult<()> {
        Err(Errno::Badf)
    }
    fn set_times(&mut self, _atim: SetTime, _mtim: SetTime) -> FsResult<()> {
        Err(Errno::Badf)
    }
    fn sync(&mut self) -> FsResult<()> {
        Err(Errno::Badf)
    }
    fn advise(&mut self, _offset: u64, _len: u64, _advice: Advice) -> FsResult<()> {
        Err(Errno::Badf)
    }
    fn fdflags(&self) -> FdFlags {
        FdFlags::APPEND
    }
    fn set_fdflags(&mut self, _flags: FdFlags) -> FsResult<()> {
        Ok(())
    }
}

/// Input from a byte buffer: reads return its bytes, then end of file.
#[derive(Clone, Debug)]
pub struct InputBytes {
    bytes: Arc<[u8]>,
    pos: usize,
}

impl InputBytes {
    /// An input that yields `bytes`.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        InputBytes {
            bytes: Arc::from(bytes.into()),
            pos: 0,
        }
    }
}

impl File for InputBytes {
    fn filetype(&self) -> FileType {
        FileType::Unknown
    }
    fn read(&mut self, buf: &mut [u8]) -> FsResult<usize> {
        let rest = self.bytes.get(self.pos..).unwrap_or(&[]);
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
    fn write(&mut self, _data: &[u8]) -> FsResult<usize> {
        Err(Errno::Badf)
    }
    fn stat(&self) -> FsResult<Filestat> {
        Ok(stream_stat())
    }
    fn set_size(&mut self, _size: u64) -> FsResult<()> {
        Err(Errno::Badf)
    }
    fn set_times(&mut self, _atim: SetTime, _mtim: SetTime) -> FsResult<()> {
        Err(Errno::Badf)
    }
    fn sync(&mut self) -> FsResult<()> {
        Err(Errno::Badf)
    }
    fn advise(&mut self, _offset: u64, _len: u64, _advice: Advice) -> FsResult<()> {
        Err(Errno::Badf)
    }
    fn set_fdflags(&mut self, _flags: FdFlags) -> FsResult<()> {
        Ok(())
    }
    fn poll_readiness(&mut self, write: bool) -> FsResult<Readiness> {
        let left = self.bytes.len().saturating_sub(self.pos) as u64;
        Ok(Readiness::Ready {
            nbytes: if write { 0 } else { left },
        })
    }
}

/// A null device: reads are at end of file, writes are discarded.
#[derive(Clone, Copy, Debug, Default)]
pub struct NullFile;

impl File for NullFile {
    fn filetype(&self) -> FileType {
        FileType::Unknown
    }
    fn read(&mut self, _buf: &mut [u8]) -> FsResult<usize> {
        Ok(0)
    }
    fn write(&mut self, data: &[u8]) -> FsResult<usize> {
        Ok(data.len())
    }
    fn stat(&self) -> FsResult<Filestat> {
        Ok(stream_stat())
    }
    fn set_size(&mut self, _size: u64) -> FsResult<()> {
        Err(Errno::Badf)
    }
    fn set_times(&mut self, _atim: SetTime, _mtim: SetTime) -> FsResult<()> {
        Err(Errno::Badf)
    }
    fn sync(&mut self) -> FsResult<()> {
        Err(Errno::Badf)
    }
    fn advise(&mut self, _offset: u64, _len: u64, _advice: Advice) -> FsResult<()> {
        Err(Errno::Badf)
    }
    fn set_fdflags(&mut self, _flags: FdFlags) -> FsResult<()> {
        Ok(())
    }
}

/// A closed stream: reads and writes fail with [`Errno::Badf`].
#[derive(Clone, Copy, Debug, Default)]
pub struct ClosedFile;

impl File for ClosedFile {
    fn filetype(&self) -> FileType {
        FileType::Unknown
    }
    fn read(&mut self, _buf: &mut [u8]) -> FsResult<usize> {
        Err(Errno::Badf)
    }
    fn write(&mut self, _data: &[u8]) -> FsResult<usize> {
        Err(Errno::Badf)
    }
    fn stat(&self) -> FsResult<Filestat> {
        Ok(Filestat::default())
    }
}
