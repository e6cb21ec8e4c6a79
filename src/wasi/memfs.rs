//! An in-memory filesystem implementing [`Dir`] and [`File`]: regular
//! files, directories, symbolic links, hard links, timestamps and
//! read-only nodes, within a total byte budget.
//!
//! # Decisions
//! - **One lock, one table.** The whole filesystem is one
//!   `spin::Mutex<State>` holding a table of nodes by inode number; a
//!   directory maps names to inode numbers (in a `BTreeMap`, so listings
//!   come in a stable, sorted order). Handles ([`MemFs::root`], what
//!   `open_dir`/`open_file` return) are the shared state plus an inode
//!   number. A node is freed when its last link is gone and no handle has
//!   it open, as in POSIX (an unlinked file stays readable through an open
//!   descriptor).
//! - **Timestamps** come from the [`Clock`] given to
//!   [`MemFs::with_clock`] (realtime); without one they are all 0.
//! - **Read-only nodes** ([`MemFs::set_read_only`]): a read-only file cannot
//!   be opened for writing or truncated, a read-only directory cannot gain
//!   or lose entries; both fail with [`Errno::Acces`].
//! - **Budget**: the bytes of all files together are limited
//!   ([`MemFs::DEFAULT_CAPACITY`] unless [`MemFs::with_capacity`] says
//!   otherwise); a write beyond it stores what fits, then fails with
//!   [`Errno::Nospc`]. Host allocation failures are [`Errno::Nomem`].
//! - Like every backend, it never follows symbolic links: the core does.

use super::fs::{
    Advice, Clock, Dir, DirEntry, Errno, FdFlags, File, FileType, Filestat, FsResult, OpenOptions,
    Readiness, SeekFrom, SetTime,
};
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicU64, Ordering};
use spin::Mutex;

enum Kind {
    File(Vec<u8>),
    Dir {
        entries: BTreeMap<String, u64>,
        parent: u64,
    },
    Symlink(String),
}

struct Node {
    kind: Kind,
    nlink: u64,
    /// Open handles to this node.
    open: u64,
    atim: u64,
    mtim: u64,
    ctim: u64,
    read_only: bool,
}

struct State {
    nodes: BTreeMap<u64, Node>,
    next_ino: u64,
    used: u64,
    capacity: u64,
    clock: Option<Box<dyn Clock>>,
    dev: u64,
}

const ROOT: u64 = 1;

impl State {
    fn now(&self) -> u64 {
        self.clock
            .as_ref()
            .and_then(|c| c.realtime().ok())
            .unwrap_or(0)
    }

    fn node(&self, ino: u64) -> FsResult<&Node> {
        self.nodes.get(&ino).ok_or(Errno::Noent)
    }

    fn node_mut(&mut self, ino: u64) -> FsResult<&mut Node> {
        self.nodes.get_mut(&ino).ok_or(Errno::Noent)
    }

    /// The entries of live directory `ino`.
    fn entries(&self, ino: u64) -> FsResult<&BTreeMap<String, u64>> {
        match &self.node(ino)?.kind {
            Kind::Dir { entries, .. } => Ok(entries),
            _ => Err(Errno::Notdir),
        }
    }

    fn lookup(&self, dir: u64, name: &str) -> FsResult<u64> {
        self.entries(dir)?.get(name).copied().ok_or(Errno::Noent)
    }

    /// Checks that directory `dir` may gain or lose entries.
    fn writable_dir(&self, dir: u64) -> FsResult<()> {
        let node = self.node(dir)?;
        if node.nlink == 0 {
            return Err(Errno::Noent);
        }
        if node.read_only {
            return Err(Errno::Acces);
        }
        Ok(())
    }

    fn new_node(&mut self, kind: Kind) -> u64 {
        let now = self.now();
        let ino = self.next_ino;
        self.next_ino += 1;
        self.nodes.insert(
            ino,
            Node {
                kind,
                nlink: 1,
                open: 0,
                atim: now,
                mtim: now,
                ctim: now,
                read_only: false,
            },
        );
        ino
    }

    fn touch_dir(&mut self, dir: u64) {
        let now = self.now();
        if let Ok(n) = self.node_mut(dir) {
            n.mtim = now;
            n.ctim = now;
        }
    }

    fn entries_mut(&mut self, dir: u64) -> FsResult<&mut BTreeMap<String, u64>> {
        match &mut self.node_mut(dir)?.kind {
            Kind::Dir { entries, .. } => Ok(entries),
            _ => Err(Errno::Notdir),
        }
    }

    /// Drops one link to `ino`, freeing it when nothing refers to it.
    fn unlink_node(&mut self, ino: u64) {
        let now = self.now();
        let Ok(node) = self.node_mut(ino) else {
            return;
        };
        node.nlink = node.nlink.saturating_sub(1);
        node.ctim = now;
        if matches!(node.kind, Kind::Dir { .. }) {
            node.nlink = 0;
        }
        self.maybe_free(ino);
    }

    fn maybe_free(&mut self, ino: u64) {
        let free = matches!(self.nodes.get(&ino), Some(n) if n.nlink == 0 && n.open == 0);
        if free
            && let Some(node) = self.nodes.remove(&ino)
            && let Kind::File(data) = node.kind
        {
            self.used -= data.len() as u64;
        }
    }

    fn stat(&self, ino: u64) -> FsResult<Filestat> {
        let n = self.node(ino)?;
        let (filetype, size) = match &n.kind {
            Kind::File(d) => (FileType::RegularFile, d.len() as u64),
            Kind::Dir { .. } => (FileType::Directory, 0),
            Kind::Symlink(t) => (FileType::SymbolicLink, t.len() as u64),
        };
        Ok(Filestat {
            dev: self.dev,
            ino,
            filetype,
            nlink: n.nlink,
            size,
            atim: n.atim,
            mtim: n.mtim,
            ctim: n.ctim,
        })
    }

    fn set_times(&mut self, ino: u64, atim: SetTime, mtim: SetTime) -> FsResult<()> {
        let now = self.now();
        let node = self.node_mut(ino)?;
        let pick = |t: SetTime, old: u64| match t {
            SetTime::Omit => old,
            SetTime::Now => now,
            SetTime::At(t) => t,
        };
        node.atim = pick(atim, node.atim);
        node.mtim = pick(mtim, node.mtim);
        node.ctim = now;
        Ok(())
    }

    /// Resizes file `ino` to `len` bytes within the budget (zero-filled).
    fn resize(&mut self, ino: u64, len: u64) -> FsResult<()> {
        let (used, capacity) = (self.used, self.capacity);
        let now = self.now();
        let node = self.node_mut(ino)?;
        let Kind::File(data) = &mut node.kind else {
            return Err(Errno::Isdir);
        };
        let old = data.len() as u64;
        if len > old {
            if used.saturating_add(len - old) > capacity {
                return Err(Errno::Nospc);
            }
            let len = usize::try_from(len).map_err(|_| Errno::Fbig)?;
            data.try_reserve(len - data.len())
                .map_err(|_| Errno::Nomem)?;
            data.resize(len, 0);
        } else {
            data.truncate(len as usize);
            data.shrink_to_fit();
        }
        node.mtim = now;
        node.ctim = now;
        self.used = used + len - old;
        Ok(())
    }

    /// Writes `buf` at `offset` of file `ino`, within the budget.
    fn write_at(&mut self, ino: u64, offset: u64, buf: &[u8]) -> FsResult<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let len = match &self.node(ino)?.kind {
            Kind::File(d) => d.len() as u64,
            _ => return Err(Errno::Isdir),
        };
        let end = offset.checked_add(buf.len() as u64).ok_or(Errno::Fbig)?;
        let room = self.capacity.saturating_sub(self.used);
        let end = if end > len {
            let grow = (end - len).min(room);
            if grow == 0 && !buf.is_empty() {
                return Err(Errno::Nospc);
            }
            len + grow
        } else {
            end
        };
        if end <= offset {
            return Err(Errno::Nospc);
        }
        if end > len {
            self.resize(ino, end)?;
        }
        let now = self.now();
        let node = self.node_mut(ino)?;
        let Kind::File(data) = &mut node.kind else {
            return Err(Errno::Isdir);
        };
        let n = (end - offset) as usize;
        data[offset as usize..end as usize].copy_from_slice(&buf[..n]);
        node.mtim = now;
        node.ctim = now;
        Ok(n)
    }
}

/// An in-memory filesystem; clones share it.
#[derive(Clone)]
pub struct MemFs {
    state: Arc<Mutex<State>>,
}

impl core::fmt::Debug for MemFs {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let s = self.state.lock();
        f.debug_struct("MemFs")
            .field("nodes", &s.nodes.len())
            .field("used", &s.used)
            .field("capacity", &s.capacity)
            .finish()
    }
}

impl Default for MemFs {
    fn default() -> Self {
        Self::new()
    }
}

impl MemFs {
    /// Default byte budget of a filesystem: 256 MiB of file contents.
    pub const DEFAULT_CAPACITY: u64 = 256 << 20;

    /// An empty filesystem (only its root directory), timestamps 0.
    pub fn new() -> Self {
        static NEXT_DEV: AtomicU64 = AtomicU64::new(1);
        let mut state = State {
            nodes: BTreeMap::new(),
            next_ino: ROOT,
            used: 0,
            capacity: Self::DEFAULT_CAPACITY,
            clock: None,
            dev: NEXT_DEV.fetch_add(1, Ordering::Relaxed),
        };
        state.new_node(Kind::Dir {
            entries: BTreeMap::new(),
            parent: ROOT,
        });
        MemFs {
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// Takes timestamps from `clock` (its realtime).
    pub fn with_clock(self, clock: impl Clock + 'static) -> Self {
        self.state.lock().clock = Some(Box::new(clock));
        self
    }

    /// Limits the bytes of all files together.
    pub fn with_capacity(self, bytes: u64) -> Self {
        self.state.lock().capacity = bytes;
        self
    }

    /// Bytes used by file contents.
    pub fn used_bytes(&self) -> u64 {
        self.state.lock().used
    }

    /// A handle to the root directory, to preopen
    /// ([`WasiCtxBuilder::preopened_dir`](super::WasiCtxBuilder::preopened_dir)).
    pub fn root(&self) -> Box<dyn Dir> {
        Box::new(MemDir::open(self.state.clone(), ROOT))
    }

    /// The inode of `path` (components separated by `/`, from the root; no
    /// link is followed).
    fn find(&self, path: &str) -> FsResult<u64> {
        let s = self.state.lock();
        let mut ino = ROOT;
        for comp in path.split('/').filter(|c| !c.is_empty() && *c != ".") {
            ino = s.lookup(ino, comp)?;
        }
        Ok(ino)
    }

    /// The parent directory of `path` (created with its ancestors) and the
    /// last name.
    fn parent_of<'p>(&self, path: &'p str) -> FsResult<(u64, &'p str)> {
        let path = path.trim_end_matches('/');
        let (dir, name) = match path.rfind('/') {
            Some(i) => (&path[..i], &path[i + 1..]),
            None => ("", path),
        };
        if name.is_empty() || name == "." || name == ".." {
            return Err(Errno::Inval);
        }
        self.create_dir_all(dir)?;
        Ok((self.find(dir)?, name))
    }

    /// Creates directory `path` and its missing ancestors.
    pub fn create_dir_all(&self, path: &str) -> FsResult<()> {
        let mut s = self.state.lock();
        let mut ino = ROOT;
        for comp in path.split('/').filter(|c| !c.is_empty() && *c != ".") {
            if comp == ".." {
                return Err(Errno::Inval);
            }
            ino = match s.lookup(ino, comp) {
                Ok(child) => child,
                Err(Errno::Noent) => {
                    let child = s.new_node(Kind::Dir {
                        entries: BTreeMap::new(),
                        parent: ino,
                    });
                    s.entries_mut(ino)?.insert(comp.to_string(), child);
                    child
                }
                Err(e) => return Err(e),
            };
        }
        Ok(())
    }

    /// Creates (or replaces the contents of) file `path`, creating its
    /// directories.
    pub fn write_file(&self, path: &str, data: &[u8]) -> FsResult<()> {
        let (dir, name) = self.parent_of(path)?;
        let mut s = self.state.lock();
        let ino = match s.lookup(dir, name) {
            Ok(ino) => ino,
            Err(Errno::Noent) => {
                let ino = s.new_node(Kind::File(Vec::new()));
                s.entries_mut(dir)?.insert(name.to_string(), ino);
                ino
            }
            Err(e) => return Err(e),
        };
        s.resize(ino, 0)?;
        let n = s.write_at(ino, 0, data)?;
        if n < data.len() {
            return Err(Errno::Nospc);
        }
        Ok(())
    }

    /// The contents of file `path`.
    pub fn read_file(&self, path: &str) -> FsResult<Vec<u8>> {
        let ino = self.find(path)?;
        let s = self.state.lock();
        match &s.node(ino)?.kind {
            Kind::File(d) => Ok(d.clone()),
            Kind::Dir { .. } => Err(Errno::Isdir),
            Kind::Symlink(_) => Err(Errno::Loop),
        }
    }

    /// Creates the symbolic link `path` to `target`.
    pub fn symlink(&self, target: &str, path: &str) -> FsResult<()> {
        let (dir, name) = self.parent_of(path)?;
        MemDir::open(self.state.clone(), dir).symlink(target, name)
    }

    /// Makes `path` read-only (or writable again).
    pub fn set_read_only(&self, path: &str, read_only: bool) -> FsResult<()> {
        let ino = self.find(path)?;
        self.state.lock().node_mut(ino)?.read_only = read_only;
        Ok(())
    }

    /// The attributes of `path` (not following a final link).
    pub fn stat(&self, path: &str) -> FsResult<Filestat> {
        let ino = self.find(path)?;
        self.state.lock().stat(ino)
    }
}

/// A directory handle of a [`MemFs`].
pub struct MemDir {
    state: Arc<Mutex<State>>,
    ino: u64,
}

impl MemDir {
    fn open(state: Arc<Mutex<State>>, ino: u64) -> MemDir {
        if let Some(n) = state.lock().nodes.get_mut(&ino) {
            n.open += 1;
        }
        MemDir { state, ino }
    }
}

impl Drop for MemDir {
    fn drop(&mut self) {
        let mut s = self.state.lock();
        if let Some(n) = s.nodes.get_mut(&self.ino) {
            n.open = n.open.saturating_sub(1);
        }
        s.maybe_free(self.ino);
    }
}

impl Dir for MemDir {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn try_clone(&self) -> FsResult<Box<dyn Dir>> {
        Ok(Box::new(MemDir::open(self.state.clone(), self.ino)))
    }

    fn stat(&self) -> FsResult<Filestat> {
        self.state.lock().stat(self.ino)
    }

    fn stat_at(&self, name: &str) -> FsResult<Filestat> {
        let s = self.state.lock();
        let ino = s.lookup(self.ino, name)?;
        s.stat(ino)
    }

    fn open_dir(&self, name: &str) -> FsResult<Box<dyn Dir>> {
        let ino = {
            let s = self.state.lock();
            let ino = s.lookup(self.ino, name)?;
            match s.node(ino)?.kind {
                Kind::Dir { .. } => ino,
                Kind::Symlink(_) => return Err(Errno::Loop),
                Kind::File(_) => return Err(Errno::Notdir),
            }
        };
        Ok(Box::new(MemDir::open(self.state.clone(), ino)))
    }

    fn open_file(&self, name: &str, options: &OpenOptions) -> FsResult<Box<dyn File>> {
        let ino = {
            let mut s = self.state.lock();
            match s.lookup(self.ino, name) {
                Ok(ino) => {
                    let node = s.node(ino)?;
                    match node.kind {
                        Kind::Dir { .. } => return Err(Errno::Isdir),
                        Kind::Symlink(_) => return Err(Errno::Loop),
                        Kind::File(_) => {}
                    }
                    if options.create && options.exclusive {
                        return Err(Errno::Exist);
                    }
                    if (options.write || options.truncate) && node.read_only {
                        return Err(Errno::Acces);
                    }
                    if options.truncate {
                        s.resize(ino, 0)?;
                    }
                    ino
                }
                Err(Errno::Noent) if options.create => {
                    s.writable_dir(self.ino)?;
                    let ino = s.new_node(Kind::File(Vec::new()));
                    s.entries_mut(self.ino)?.insert(name.to_string(), ino);
                    s.touch_dir(self.ino);
                    ino
                }
                Err(e) => return Err(e),
            }
        };
        let file = MemFile {
            dir: MemDir::open(self.state.clone(), ino),
            pos: 0,
            read: options.read,
            write: options.write || options.truncate,
            flags: FdFlags(options.fdflags.0 & FdFlags::ALL.0),
        };
        Ok(Box::new(file))
    }

    fn read_link(&self, name: &str) -> FsResult<String> {
        let s = self.state.lock();
        let ino = s.lookup(self.ino, name)?;
        match &s.node(ino)?.kind {
            Kind::Symlink(t) => Ok(t.clone()),
            _ => Err(Errno::Inval),
        }
    }

    fn create_dir(&self, name: &str) -> FsResult<()> {
        let mut s = self.state.lock();
        if s.lookup(self.ino, name).is_ok() {
            return Err(Errno::Exist);
        }
        s.writable_dir(self.ino)?;
        let ino = s.new_node(Kind::Dir {
            entries: BTreeMap::new(),
            parent: self.ino,
        });
        s.entries_mut(self.ino)?.insert(name.to_string(), ino);
        s.touch_dir(self.ino);
        Ok(())
    }

    fn remove_dir(&self, name: &str) -> FsResult<()> {
        let mut s = self.state.lock();
        let ino = s.lookup(self.ino, name)?;
        match &s.node(ino)?.kind {
            Kind::Dir { entries, .. } if entries.is_empty() => {}
            Kind::Dir { .. } => return Err(Errno::Notempty),
            _ => return Err(Errno::Notdir),
        }
        s.writable_dir(self.ino)?;
        s.entries_mut(self.ino)?.remove(name);
        s.touch_dir(self.ino);
        s.unlink_node(ino);
        Ok(())
    }

    fn unlink_file(&self, name: &str) -> FsResult<()> {
        let mut s = self.state.lock();
        let ino = s.lookup(self.ino, name)?;
        if matches!(s.node(ino)?.kind, Kind::Dir { .. }) {
            return Err(Errno::Isdir);
        }
        s.writable_dir(self.ino)?;
        s.entries_mut(self.ino)?.remove(name);
        s.touch_dir(self.ino);
        s.unlink_node(ino);
        Ok(())
    }

    fn symlink(&self, target: &str, name: &str) -> FsResult<()> {
        let mut s = self.state.lock();
        if s.lookup(self.ino, name).is_ok() {
            return Err(Errno::Exist);
        }
        s.writable_dir(self.ino)?;
        let ino = s.new_node(Kind::Symlink(target.to_string()));
        s.entries_mut(self.ino)?.insert(name.to_string(), ino);
        s.touch_dir(self.ino);
        Ok(())
    }

    fn rename(&self, from: &str, to_dir: &dyn Dir, to: &str) -> FsResult<()> {
        let other = to_dir
            .as_any()
            .downcast_ref::<MemDir>()
            .filter(|d| Arc::ptr_eq(&d.state, &self.state))
            .ok_or(Errno::Xdev)?;
        let mut s = self.state.lock();
        let src = s.lookup(self.ino, from)?;
        s.entries(other.ino)?;
        let src_is_dir = matches!(s.node(src)?.kind, Kind::Dir { .. });
        let existing = s.lookup(other.ino, to).ok();
        if existing == Some(src) {
            return Ok(());
        }
        if let Some(dst) = existing {
            match (&s.node(dst)?.kind, src_is_dir) {
                (Kind::Dir { entries, .. }, true) if !entries.is_empty() => {
                    return Err(Errno::Notempty);
                }
                (Kind::Dir { .. }, true) => {}
                (Kind::Dir { .. }, false) => return Err(Errno::Isdir),
                (_, true) => return Err(Errno::Notdir),
                (_, false) => {}
            }
        }
        if src_is_dir {
            // A directory cannot move beneath itself.
            let mut at = other.ino;
            loop {
                if at == src {
                    return Err(Errno::Inval);
                }
                match s.node(at)?.kind {
                    Kind::Dir { parent, .. } if parent != at => at = parent,
                    _ => break,
                }
            }
        }
        s.writable_dir(self.ino)?;
        s.writable_dir(other.ino)?;
        s.entries_mut(self.ino)?.remove(from);
        s.entries_mut(other.ino)?.insert(to.to_string(), src);
        if let Kind::Dir { parent, .. } = &mut s.node_mut(src)?.kind {
            *parent = other.ino;
        }
        if let Some(dst) = existing {
            s.unlink_node(dst);
        }
        let now = s.now();
        s.node_mut(src)?.ctim = now;
        s.touch_dir(self.ino);
        s.touch_dir(other.ino);
        Ok(())
    }

    fn hard_link(&self, from: &str, to_dir: &dyn Dir, to: &str) -> FsResult<()> {
        let other = to_dir
            .as_any()
            .downcast_ref::<MemDir>()
            .filter(|d| Arc::ptr_eq(&d.state, &self.state))
            .ok_or(Errno::Xdev)?;
        let mut s = self.state.lock();
        let src = s.lookup(self.ino, from)?;
        if matches!(s.node(src)?.kind, Kind::Dir { .. }) {
            return Err(Errno::Perm);
        }
        if s.lookup(other.ino, to).is_ok() {
            return Err(Errno::Exist);
        }
        s.writable_dir(other.ino)?;
        s.entries_mut(other.ino)?.insert(to.to_string(), src);
        let now = s.now();
        let node = s.node_mut(src)?;
        node.nlink += 1;
        node.ctim = now;
        s.touch_dir(other.ino);
        Ok(())
    }

    fn set_times_at(&self, name: &str, atim: SetTime, mtim: SetTime) -> FsResult<()> {
        let mut s = self.state.lock();
        let ino = s.lookup(self.ino, name)?;
        s.set_times(ino, atim, mtim)
    }

    fn set_times(&self, atim: SetTime, mtim: SetTime) -> FsResult<()> {
        self.state.lock().set_times(self.ino, atim, mtim)
    }

    fn read_dir(&self) -> FsResult<Vec<DirEntry>> {
        let s = self.state.lock();
        let entries = s.entries(self.ino)?;
        let mut out = Vec::new();
        out.try_reserve(entries.len()).map_err(|_| Errno::Nomem)?;
        for (name, &ino) in entries {
            let filetype = match s.node(ino)?.kind {
                Kind::File(_) => FileType::RegularFile,
                Kind::Dir { .. } => FileType::Directory,
                Kind::Symlink(_) => FileType::SymbolicLink,
            };
            out.push(DirEntry {
                name: name.clone(),
                filetype,
                ino,
            });
        }
        Ok(out)
    }
}

/// An open file of a [`MemFs`].
pub struct MemFile {
    /// Keeps the node open (a handle on the file's inode).
    dir: MemDir,
    pos: u64,
    read: bool,
    write: bool,
    flags: FdFlags,
}

impl MemFile {
    fn ino(&self) -> u64 {
        self.dir.ino
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> FsResult<usize> {
        if !self.read {
            return Err(Errno::Badf);
        }
        let s = self.dir.state.lock();
        let Kind::File(data) = &s.node(self.ino())?.kind else {
            return Err(Errno::Isdir);
        };
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(data.len());
        let n = (data.len() - start).min(buf.len());
        buf[..n].copy_from_slice(&data[start..start + n]);
        Ok(n)
    }

    fn size(&self) -> FsResult<u64> {
        Ok(self.dir.state.lock().stat(self.ino())?.size)
    }
}

impl File for MemFile {
    fn filetype(&self) -> FileType {
        FileType::RegularFile
    }

    fn read(&mut self, buf: &mut [u8]) -> FsResult<usize> {
        let n = self.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }

    fn write(&mut self, buf: &[u8]) -> FsResult<usize> {
        if !self.write {
            return Err(Errno::Badf);
        }
        if self.flags.contains(FdFlags::APPEND) {
            self.pos = self.size()?;
        }
        let n = self.dir.state.lock().write_at(self.ino(), self.pos, buf)?;
        self.pos += n as u64;
        Ok(n)
    }

    fn pread(&mut self, buf: &mut [u8], offset: u64) -> FsResult<usize> {
        self.read_at(buf, offset)
    }

    fn pwrite(&mut self, buf: &[u8], offset: u64) -> FsResult<usize> {
        if !self.write {
            return Err(Errno::Badf);
        }
        // POSIX leaves pwrite under O_APPEND to the system; Linux appends.
        let offset = if self.flags.contains(FdFlags::APPEND) {
            self.size()?
        } else {
            offset
        };
        self.dir.state.lock().write_at(self.ino(), offset, buf)
    }

    fn seek(&mut self, pos: SeekFrom) -> FsResult<u64> {
        let new = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.size()?.checked_add_signed(d),
        };
        let new = new.filter(|&n| n <= i64::MAX as u64).ok_or(Errno::Inval)?;
        self.pos = new;
        Ok(new)
    }

    fn stat(&self) -> FsResult<Filestat> {
        self.dir.state.lock().stat(self.ino())
    }

    fn set_size(&mut self, size: u64) -> FsResult<()> {
        if !self.write {
            return Err(Errno::Badf);
        }
        self.dir.state.lock().resize(self.ino(), size)
    }

    fn set_times(&mut self, atim: SetTime, mtim: SetTime) -> FsResult<()> {
        self.dir.state.lock().set_times(self.ino(), atim, mtim)
    }

    fn fdflags(&self) -> FdFlags {
        self.flags
    }

    fn set_fdflags(&mut self, flags: FdFlags) -> FsResult<()> {
        self.flags = FdFlags(flags.0 & FdFlags::ALL.0);
        Ok(())
    }

    fn advise(&mut self, _offset: u64, _len: u64, _advice: Advice) -> FsResult<()> {
        Ok(())
    }

    fn allocate(&mut self, offset: u64, len: u64) -> FsResult<()> {
        if !self.write {
            return Err(Errno::Badf);
        }
        let end = offset.checked_add(len).ok_or(Errno::Fbig)?;
        let mut s = self.dir.state.lock();
        if end > s.stat(self.ino())?.size {
            s.resize(self.ino(), end)?;
        }
        Ok(())
    }

    fn poll_readiness(&mut self, write: bool) -> FsResult<Readiness> {
        let nbytes = if write {
            0
        } else {
            self.size()?.saturating_sub(self.pos)
        };
        Ok(Readiness::Ready { nbytes })
    }
}
