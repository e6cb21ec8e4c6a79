//! The `std` defaults of [`WasiCtxBuilder`](super::WasiCtxBuilder): the
//! system clock and the operating system's random source.

use super::fs::{Clock, ClockId, Errno, FsResult, Random};

/// Wall-clock time from `std::time::SystemTime`, monotonic time from
/// `std::time::Instant` (counted from when the clock was made).
#[derive(Debug)]
pub struct SystemClock {
    start: std::time::Instant,
}

impl SystemClock {
    /// A clock whose monotonic time starts at 0 now.
    pub fn new() -> Self {
        SystemClock {
            start: std::time::Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn realtime(&self) -> FsResult<u64> {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|_| Errno::Overflow)?;
        u64::try_from(d.as_nanos()).map_err(|_| Errno::Overflow)
    }

    fn monotonic(&self) -> FsResult<u64> {
        u64::try_from(self.start.elapsed().as_nanos()).map_err(|_| Errno::Overflow)
    }

    fn resolution(&self, _id: ClockId) -> FsResult<u64> {
        Ok(1)
    }

    fn sleep(&self, ns: u64) -> FsResult<()> {
        std::thread::sleep(std::time::Duration::from_nanos(ns));
        Ok(())
    }
}

/// Random bytes from the operating system (`getrandom(2)`).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) -> FsResult<()> {
        let mut done = 0;
        while done < buf.len() {
            let rest = &mut buf[done..];
            // SAFETY: `rest` is a valid writable buffer of `rest.len()` bytes.
            let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
            if n < 0 {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(Errno::Io);
            }
            done += n as usize;
        }
        Ok(())
    }
}
