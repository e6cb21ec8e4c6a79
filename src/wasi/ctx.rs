//! [`WasiCtx`], the state of one WASI program (arguments, environment,
//! descriptor table, clock, randomness, limits), and its builder.

use super::fs::{Clock, Dir, Errno, File, FsResult, Random};
use super::rights;
use super::stdio::{ClosedFile, NullFile};
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

/// Bounds on what a guest may make the host do (see the module docs of
/// [`crate::wasi`]). Exceeding one gives the guest an errno, never a host
/// failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WasiLimits {
    /// Most descriptors open at once, stdio and preopens included
    /// ([`Errno::Mfile`] beyond). Default [`WasiLimits::DEFAULT_MAX_OPEN_FDS`].
    pub max_open_fds: usize,
    /// Most bytes one `fd_read`/`fd_write`/`fd_pread`/`fd_pwrite`/
    /// `random_get`... call transfers; a larger request is served partially
    /// (short reads and writes are normal in POSIX). Default
    /// [`WasiLimits::DEFAULT_MAX_IO_BYTES`].
    pub max_io_bytes: usize,
    /// Most subscriptions of one `poll_oneoff` call ([`Errno::Inval`]
    /// beyond). Default [`WasiLimits::DEFAULT_MAX_POLL_SUBSCRIPTIONS`].
    pub max_poll_subscriptions: usize,
    /// Longest path a guest may pass, in bytes ([`Errno::Nametoolong`]
    /// beyond). Default [`WasiLimits::DEFAULT_MAX_PATH_BYTES`].
    pub max_path_bytes: usize,
}

impl WasiLimits {
    /// Default of [`WasiLimits::max_open_fds`].
    pub const DEFAULT_MAX_OPEN_FDS: usize = 1024;
    /// Default of [`WasiLimits::max_io_bytes`] (16 MiB).
    pub const DEFAULT_MAX_IO_BYTES: usize = 16 << 20;
    /// Default of [`WasiLimits::max_poll_subscriptions`].
    pub const DEFAULT_MAX_POLL_SUBSCRIPTIONS: usize = 4096;
    /// Default of [`WasiLimits::max_path_bytes`].
    pub const DEFAULT_MAX_PATH_BYTES: usize = 4096;
}

impl Default for WasiLimits {
    fn default() -> Self {
        WasiLimits {
            max_open_fds: Self::DEFAULT_MAX_OPEN_FDS,
            max_io_bytes: Self::DEFAULT_MAX_IO_BYTES,
            max_poll_subscriptions: Self::DEFAULT_MAX_POLL_SUBSCRIPTIONS,
            max_path_bytes: Self::DEFAULT_MAX_PATH_BYTES,
        }
    }
}

/// A directory descriptor.
pub(crate) struct DirFd {
    pub dir: Box<dyn Dir>,
    pub base: u64,
    pub inheriting: u64,
    /// The guest path of a preopened directory.
    pub preopen: Option<String>,
    /// The listing `fd_readdir` serves cookies from (taken anew at cookie 0).
    pub listing: Option<Vec<super::fs::DirEntry>>,
}

/// A file descriptor.
pub(crate) struct FileFd {
    pub file: Box<dyn File>,
    pub base: u64,
    pub inheriting: u64,
}

/// What a descriptor number refers to.
pub(crate) enum Desc {
    File(FileFd),
    Dir(DirFd),
}

impl Desc {
    pub fn rights(&self) -> (u64, u64) {
        match self {
            Desc::File(f) => (f.base, f.inheriting),
            Desc::Dir(d) => (d.base, d.inheriting),
        }
    }
}

/// The descriptor table (see [`FdTable::push`] for how numbers are chosen).
#[derive(Default)]
pub(crate) struct FdTable {
    pub slots: Vec<Option<Desc>>,
    pub open: usize,
}

impl FdTable {
    pub fn get(&self, fd: u32) -> FsResult<&Desc> {
        self.slots
            .get(fd as usize)
            .and_then(Option::as_ref)
            .ok_or(Errno::Badf)
    }

    pub fn get_mut(&mut self, fd: u32) -> FsResult<&mut Desc> {
        self.slots
            .get_mut(fd as usize)
            .and_then(Option::as_mut)
            .ok_or(Errno::Badf)
    }

    /// Adds `desc` at the lowest free number.
    /// Adds `desc` and returns its number: the highest number freed
    /// earlier, or else one past the highest ever used, as Wasmtime numbers
    /// descriptors (a program that prints its descriptors prints the same).
    pub fn push(&mut self, desc: Desc, max_open: usize) -> FsResult<u32> {
        if self.open >= max_open {
            return Err(Errno::Mfile);
        }
        let index = match self.slots.iter().rposition(Option::is_none) {
            Some(i) => i,
            None => {
                self.slots.try_reserve(1).map_err(|_| Errno::Nomem)?;
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        let fd = u32::try_from(index).map_err(|_| Errno::Mfile)?;
        self.slots[index] = Some(desc);
        self.open += 1;
        Ok(fd)
    }

    pub fn remove(&mut self, fd: u32) -> FsResult<Desc> {
        let desc = self
            .slots
            .get_mut(fd as usize)
            .and_then(Option::take)
            .ok_or(Errno::Badf)?;
        self.open -= 1;
        Ok(desc)
    }
}

/// The state of one WASI program: give it to [`add_to_linker`]'s
/// accessor (usually as a field of the store's data).
///
/// [`add_to_linker`]: super::add_to_linker
pub struct WasiCtx {
    pub(crate) args: Vec<Vec<u8>>,
    pub(crate) env: Vec<Vec<u8>>,
    pub(crate) fds: FdTable,
    pub(crate) clock: Option<Box<dyn Clock>>,
    pub(crate) random: Option<Box<dyn Random>>,
    pub(crate) limits: WasiLimits,
}

impl core::fmt::Debug for WasiCtx {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WasiCtx")
            .field("args", &self.args.len())
            .field("env", &self.env.len())
            .field("open_fds", &self.fds.open)
            .field("limits", &self.limits)
            .finish()
    }
}

impl WasiCtx {
    /// A builder ([`WasiCtxBuilder::new`]).
    pub fn builder() -> WasiCtxBuilder {
        WasiCtxBuilder::new()
    }

    /// The limits in force.
    pub fn limits(&self) -> &WasiLimits {
        &self.limits
    }

    /// How many descriptors are open.
    pub fn open_fds(&self) -> usize {
        self.fds.open
    }

    /// Inserts a preopened directory after the context was built; returns
    /// its descriptor number.
    pub fn push_preopened_dir(
        &mut self,
        dir: Box<dyn Dir>,
        guest_path: &str,
        perms: DirPerms,
    ) -> Result<u32, Errno> {
        let (base, inheriting) = perms.rights();
        self.fds.push(
            Desc::Dir(DirFd {
                dir,
                base,
                inheriting,
                preopen: Some(String::from(guest_path)),
                listing: None,
            }),
            self.limits.max_open_fds,
        )
    }

    /// Inserts an open file; returns its descriptor number.
    pub fn push_file(&mut self, file: Box<dyn File>, perms: FilePerms) -> Result<u32, Errno> {
        let mut base = perms.rights();
        if file.is_tty() {
            base &= !(rights::FD_SEEK | rights::FD_TELL);
        }
        self.fds.push(
            Desc::File(FileFd {
                file,
                base,
                inheriting: 0,
            }),
            self.limits.max_open_fds,
        )
    }
}

/// What a preopened directory allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DirPerms {
    /// Reading and writing (creating, removing, renaming, writing files).
    ReadWrite,
    /// Only reading: listing, opening files for reading, stat, readlink.
    ReadOnly,
}

impl DirPerms {
    fn rights(self) -> (u64, u64) {
        match self {
            DirPerms::ReadWrite => (rights::DIR_BASE, rights::DIR_INHERITING),
            DirPerms::ReadOnly => (
                rights::DIR_BASE & !rights::WRITE_RIGHTS,
                rights::DIR_INHERITING & !rights::WRITE_RIGHTS,
            ),
        }
    }
}

/// What an open file given to [`WasiCtx::push_file`] allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FilePerms {
    /// Reading only.
    Read,
    /// Writing only.
    Write,
    /// Reading and writing.
    ReadWrite,
}

impl FilePerms {
    fn rights(self) -> u64 {
        let common = rights::FILE_BASE & !(rights::FD_READ | rights::WRITE_RIGHTS);
        match self {
            FilePerms::Read => common | rights::FD_READ,
            FilePerms::Write => common | (rights::FILE_BASE & rights::WRITE_RIGHTS),
            FilePerms::ReadWrite => rights::FILE_BASE,
        }
    }
}

/// Builds a [`WasiCtx`], as `wasmtime_wasi::WasiCtxBuilder` does.
///
/// Defaults: no arguments, no environment, stdin at end of file, stdout
/// and stderr discarded ([`NullFile`]), no preopened directories, the
/// default [`WasiLimits`]; with the `std` feature the system clock and the
/// operating system's random source, without it **no clock and no random
/// source**: `clock_*` and `random_get` then fail with [`Errno::Nosys`]
/// until [`WasiCtxBuilder::clock`] and [`WasiCtxBuilder::random`] provide
/// them (a made-up default would give guests predictable "random" keys).
pub struct WasiCtxBuilder {
    args: Vec<Vec<u8>>,
    env: Vec<Vec<u8>>,
    stdin: Box<dyn File>,
    stdout: Box<dyn File>,
    stderr: Box<dyn File>,
    preopens: Vec<(Box<dyn Dir>, String, DirPerms)>,
    clock: Option<Box<dyn Clock>>,
    random: Option<Box<dyn Random>>,
    limits: WasiLimits,
}

impl Default for WasiCtxBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for WasiCtxBuilder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WasiCtxBuilder")
            .field("args", &self.args.len())
            .field("env", &self.env.len())
            .field("preopens", &self.preopens.len())
            .finish()
    }
}

impl WasiCtxBuilder {
    /// A builder with the defaults above.
    pub fn new() -> Self {
        #[cfg(feature = "std")]
        let clock: Option<Box<dyn Clock>> = Some(Box::new(super::system::SystemClock::new()));
        #[cfg(feature = "std")]
        let random: Option<Box<dyn Random>> = Some(Box::new(super::system::OsRandom));
        #[cfg(not(feature = "std"))]
        let (clock, random) = (None, None);
        WasiCtxBuilder {
            args: Vec::new(),
            env: Vec::new(),
            stdin: Box::new(NullFile),
            stdout: Box::new(NullFile),
            stderr: Box::new(NullFile),
            preopens: Vec::new(),
            clock,
            random,
            limits: WasiLimits::default(),
        }
    }

    /// Appends one argument (the first is the program's name, `argv[0]`).
    pub fn arg(&mut self, arg: impl AsRef<str>) -> &mut Self {
        self.args.push(arg.as_ref().as_bytes().to_vec());
        self
    }

    /// Appends arguments.
    pub fn args(&mut self, args: impl IntoIterator<Item = impl AsRef<str>>) -> &mut Self {
        for a in args {
            self.arg(a);
        }
        self
    }

    /// Adds the environment variable `key=value`.
    pub fn env(&mut self, key: impl AsRef<str>, value: impl AsRef<str>) -> &mut Self {
        let mut kv = key.as_ref().as_bytes().to_vec();
        kv.push(b'=');
        kv.extend_from_slice(value.as_ref().as_bytes());
        self.env.push(kv);
        self
    }

    /// Adds environment variables.
    pub fn envs(
        &mut self,
        vars: impl IntoIterator<Item = (impl AsRef<str>, impl AsRef<str>)>,
    ) -> &mut Self {
        for (k, v) in vars {
            self.env(k, v);
        }
        self
    }

    /// The guest's stdin (descriptor 0).
    pub fn stdin(&mut self, file: impl File + 'static) -> &mut Self {
        self.stdin = Box::new(file);
        self
    }

    /// The guest's stdout (descriptor 1).
    pub fn stdout(&mut self, file: impl File + 'static) -> &mut Self {
        self.stdout = Box::new(file);
        self
    }

    /// The guest's stderr (descriptor 2).
    pub fn stderr(&mut self, file: impl File + 'static) -> &mut Self {
        self.stderr = Box::new(file);
        self
    }

    /// Closes stdin, stdout and stderr: the guest gets [`Errno::Badf`]-like
    /// failures ([`ClosedFile`]).
    pub fn closed_stdio(&mut self) -> &mut Self {
        self.stdin = Box::new(ClosedFile);
        self.stdout = Box::new(ClosedFile);
        self.stderr = Box::new(ClosedFile);
        self
    }

    /// Preopens `dir` as the guest's `guest_path` (descriptors 3, 4, ...
    /// in the order given). With [`DirPerms::ReadOnly`] nothing beneath it
    /// can be created, removed, renamed, written or truncated.
    pub fn preopened_dir(
        &mut self,
        dir: Box<dyn Dir>,
        guest_path: impl AsRef<str>,
        perms: DirPerms,
    ) -> &mut Self {
        self.preopens
            .push((dir, String::from(guest_path.as_ref()), perms));
        self
    }

    /// The clock (realtime, monotonic; `poll_oneoff` sleeps through it).
    pub fn clock(&mut self, clock: impl Clock + 'static) -> &mut Self {
        self.clock = Some(Box::new(clock));
        self
    }

    /// The source of `random_get`.
    pub fn random(&mut self, random: impl Random + 'static) -> &mut Self {
        self.random = Some(Box::new(random));
        self
    }

    /// The limits ([`WasiLimits`]).
    pub fn limits(&mut self, limits: WasiLimits) -> &mut Self {
        self.limits = limits;
        self
    }

    /// The context. The builder is left with the defaults.
    pub fn build(&mut self) -> WasiCtx {
        let b = core::mem::take(self);
        let mut ctx = WasiCtx {
            args: b.args,
            env: b.env,
            fds: FdTable::default(),
            clock: b.clock,
            random: b.random,
            limits: b.limits,
        };
        let stdio_limit = usize::MAX;
        for (file, perms) in [
            (b.stdin, FilePerms::Read),
            (b.stdout, FilePerms::Write),
            (b.stderr, FilePerms::Write),
        ] {
            let mut base = perms.rights() | rights::FD_FDSTAT_SET_FLAGS;
            if file.is_tty() {
                // wasi-libc's isatty() is "a character device that cannot
                // seek", as Wasmtime reports terminals.
                base &= !(rights::FD_SEEK | rights::FD_TELL);
            }
            // Three pushes into an empty table cannot fail.
            let _ = ctx.fds.push(
                Desc::File(FileFd {
                    file,
                    base,
                    inheriting: 0,
                }),
                stdio_limit,
            );
        }
        for (dir, path, perms) in b.preopens {
            let (base, inheriting) = perms.rights();
            let _ = ctx.fds.push(
                Desc::Dir(DirFd {
                    dir,
                    base,
                    inheriting,
                    preopen: Some(path),
                    listing: None,
                }),
                usize::MAX,
            );
        }
        ctx
    }
}
