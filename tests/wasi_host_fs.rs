//! The real-filesystem backend (`wasmkern::host::wasi_fs`) on its own,
//! through the core's `Dir`/`File` traits: one name per operation, no link
//! ever followed, names that could leave the directory refused, and the
//! host's errno mapped to preview1's. Every check looks at the host
//! filesystem with `std::fs` as well.

use std::fs;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};
use wasmkern::host::HostDir;
use wasmkern::wasi::{Dir, Errno, FdFlags, FileType, OpenOptions, SeekFrom, SetTime};

/// A fresh directory under the system's temporary directory, removed on
/// drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "wasmkern-hostfs-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A sandbox `box/` with a file `outside` next to it, and a link in the
/// box to that file.
fn setup(tag: &str) -> (TempDir, HostDir) {
    let t = TempDir::new(tag);
    fs::create_dir(t.path().join("box")).unwrap();
    fs::write(t.path().join("outside"), b"secret").unwrap();
    fs::write(t.path().join("box/inside"), b"hello").unwrap();
    symlink(t.path().join("outside"), t.path().join("box/abs")).unwrap();
    symlink("../outside", t.path().join("box/rel")).unwrap();
    symlink("..", t.path().join("box/up")).unwrap();
    let dir = HostDir::open(t.path().join("box")).unwrap();
    (t, dir)
}

fn read_opts() -> OpenOptions {
    OpenOptions {
        read: true,
        ..Default::default()
    }
}

fn write_opts() -> OpenOptions {
    OpenOptions {
        read: true,
        write: true,
        create: true,
        truncate: true,
        ..Default::default()
    }
}

#[test]
fn names_that_could_leave_the_directory_are_refused() {
    let (t, dir) = setup("names");
    for name in ["", ".", "..", "../outside", "/etc/passwd", "a/b", "nul\0"] {
        assert_eq!(
            dir.stat_at(name).err(),
            Some(Errno::Inval),
            "stat_at {name:?}"
        );
        assert_eq!(
            dir.open_file(name, &write_opts()).err().map(|e| e as u16),
            Some(Errno::Inval as u16),
            "open_file {name:?}"
        );
        assert_eq!(
            dir.open_dir(name).err().map(|e| e as u16),
            Some(Errno::Inval as u16)
        );
        assert_eq!(dir.create_dir(name), Err(Errno::Inval));
        assert_eq!(dir.unlink_file(name), Err(Errno::Inval));
        assert_eq!(dir.remove_dir(name), Err(Errno::Inval));
        assert_eq!(dir.symlink("x", name), Err(Errno::Inval));
        assert_eq!(dir.read_link(name), Err(Errno::Inval));
        assert_eq!(dir.rename("inside", &dir, name), Err(Errno::Inval));
        assert_eq!(dir.hard_link("inside", &dir, name), Err(Errno::Inval));
        assert_eq!(
            dir.set_times_at(name, SetTime::Now, SetTime::Now),
            Err(Errno::Inval)
        );
    }
    // Nothing outside changed, nothing new inside.
    assert_eq!(fs::read(t.path().join("outside")).unwrap(), b"secret");
    let mut names: Vec<_> = fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["box", "outside"]);
}

#[test]
fn links_are_never_followed() {
    let (t, dir) = setup("nofollow");
    for link in ["abs", "rel", "up"] {
        // Opening, creating over, truncating through a link: ELOOP.
        assert_eq!(
            dir.open_file(link, &read_opts()).err().map(|e| e as u16),
            Some(Errno::Loop as u16)
        );
        assert_eq!(
            dir.open_file(link, &write_opts()).err().map(|e| e as u16),
            Some(Errno::Loop as u16)
        );
        let e = dir.open_dir(link).err().map(|e| e as u16);
        assert!(
            e == Some(Errno::Loop as u16) || e == Some(Errno::Notdir as u16),
            "open_dir {link}: {e:?}"
        );
        // stat_at describes the link itself.
        let st = dir.stat_at(link).unwrap();
        assert_eq!(st.filetype, FileType::SymbolicLink);
        // Times are set on the link, not on its target.
        let before = fs::metadata(t.path().join("outside")).unwrap().mtime();
        dir.set_times_at(link, SetTime::At(1_000_000_000), SetTime::At(1_000_000_000))
            .unwrap();
        assert_eq!(
            fs::metadata(t.path().join("outside")).unwrap().mtime(),
            before
        );
        assert_eq!(
            fs::symlink_metadata(t.path().join("box").join(link))
                .unwrap()
                .mtime(),
            1
        );
    }
    assert_eq!(
        dir.read_link("abs").unwrap(),
        t.path().join("outside").to_str().unwrap()
    );
    assert_eq!(dir.read_link("rel").unwrap(), "../outside");
    assert_eq!(dir.read_link("inside"), Err(Errno::Inval));
    // A hard link to a link is a link to the link, not to what it names.
    dir.hard_link("abs", &dir, "abs2").unwrap();
    let meta = fs::symlink_metadata(t.path().join("box/abs2")).unwrap();
    assert!(meta.file_type().is_symlink());
    assert_eq!(fs::metadata(t.path().join("outside")).unwrap().nlink(), 1);
    // Unlinking a link removes the link.
    dir.unlink_file("rel").unwrap();
    assert_eq!(fs::read(t.path().join("outside")).unwrap(), b"secret");
    // Removing `up` as a directory does not remove the parent.
    assert_eq!(dir.remove_dir("up"), Err(Errno::Notdir));
    assert!(t.path().join("box").is_dir());
    // A dangling link is not created through.
    dir.symlink("../created", "dangling").unwrap();
    assert_eq!(
        dir.open_file("dangling", &write_opts())
            .err()
            .map(|e| e as u16),
        Some(Errno::Loop as u16)
    );
    assert!(!t.path().join("created").exists());
}

#[test]
fn files_directories_and_errnos() {
    let (t, dir) = setup("ops");
    // A directory is not opened as a file, even read-only; nothing is
    // truncated or created.
    dir.create_dir("sub").unwrap();
    assert_eq!(dir.create_dir("sub"), Err(Errno::Exist));
    assert_eq!(
        dir.open_file("sub", &read_opts()).err().map(|e| e as u16),
        Some(Errno::Isdir as u16)
    );
    assert_eq!(
        dir.open_file("sub", &write_opts()).err().map(|e| e as u16),
        Some(Errno::Isdir as u16)
    );
    assert_eq!(
        dir.open_dir("inside").err().map(|e| e as u16),
        Some(Errno::Notdir as u16)
    );
    assert_eq!(
        dir.open_dir("missing").err().map(|e| e as u16),
        Some(Errno::Noent as u16)
    );
    assert_eq!(dir.unlink_file("sub"), Err(Errno::Isdir));
    assert_eq!(dir.remove_dir("inside"), Err(Errno::Notdir));
    let exclusive = OpenOptions {
        exclusive: true,
        ..write_opts()
    };
    assert_eq!(
        dir.open_file("inside", &exclusive).err().map(|e| e as u16),
        Some(Errno::Exist as u16)
    );
    assert_eq!(fs::read(t.path().join("box/inside")).unwrap(), b"hello");

    // Read, write, seek, pread/pwrite, size.
    let mut f = dir.open_file("new", &write_opts()).unwrap();
    assert_eq!(f.filetype(), FileType::RegularFile);
    assert_eq!(f.write(b"abcdef").unwrap(), 6);
    assert_eq!(f.seek(SeekFrom::Current(-2)).unwrap(), 4);
    let mut buf = [0u8; 8];
    assert_eq!(f.read(&mut buf).unwrap(), 2);
    assert_eq!(&buf[..2], b"ef");
    assert_eq!(f.pwrite(b"XY", 1).unwrap(), 2);
    assert_eq!(f.pread(&mut buf[..3], 0).unwrap(), 3);
    assert_eq!(&buf[..3], b"aXY");
    assert_eq!(f.seek(SeekFrom::Current(0)).unwrap(), 6);
    assert_eq!(f.seek(SeekFrom::Current(-7)), Err(Errno::Inval));
    f.set_size(3).unwrap();
    assert_eq!(f.stat().unwrap().size, 3);
    f.allocate(10, 5).unwrap();
    assert_eq!(f.stat().unwrap().size, 15);
    f.sync().unwrap();
    f.datasync().unwrap();
    assert!(!f.is_tty());
    drop(f);
    assert_eq!(fs::read(t.path().join("box/new")).unwrap().len(), 15);

    // Append.
    let append = OpenOptions {
        write: true,
        fdflags: FdFlags::APPEND,
        ..Default::default()
    };
    let mut f = dir.open_file("inside", &append).unwrap();
    assert!(f.fdflags().contains(FdFlags::APPEND));
    f.write(b"!").unwrap();
    f.set_fdflags(FdFlags::default()).unwrap();
    assert!(!f.fdflags().contains(FdFlags::APPEND));
    f.seek(SeekFrom::Start(0)).unwrap();
    f.write(b"J").unwrap();
    drop(f);
    assert_eq!(fs::read(t.path().join("box/inside")).unwrap(), b"Jello!");

    // Rename and hard links within the box; a non-empty directory stays.
    fs::write(t.path().join("box/sub/x"), b"x").unwrap();
    assert_eq!(dir.remove_dir("sub"), Err(Errno::Notempty));
    let sub = dir.open_dir("sub").unwrap();
    dir.rename("inside", &*sub, "moved").unwrap();
    assert_eq!(fs::read(t.path().join("box/sub/moved")).unwrap(), b"Jello!");
    sub.hard_link("moved", &dir, "again").unwrap();
    assert_eq!(fs::metadata(t.path().join("box/again")).unwrap().nlink(), 2);
    assert_eq!(dir.hard_link("sub", &dir, "sub2"), Err(Errno::Perm));

    // Directory listing: every entry once, without . and .., typed.
    let mut entries = dir.read_dir().unwrap();
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let got: Vec<_> = entries
        .iter()
        .map(|e| (e.name.as_str(), e.filetype))
        .collect();
    assert_eq!(
        got,
        [
            ("abs", FileType::SymbolicLink),
            ("again", FileType::RegularFile),
            ("new", FileType::RegularFile),
            ("rel", FileType::SymbolicLink),
            ("sub", FileType::Directory),
            ("up", FileType::SymbolicLink),
        ]
    );
    for e in &entries {
        assert_eq!(e.ino, dir.stat_at(&e.name).unwrap().ino, "{}", e.name);
    }
    // Timestamps.
    dir.set_times_at("again", SetTime::At(5_000_000_123), SetTime::Omit)
        .unwrap();
    let st = dir.stat_at("again").unwrap();
    assert_eq!(st.atim, 5_000_000_123);
    assert_eq!(st.nlink, 2);
    // A clone is the same directory.
    let clone = dir.try_clone().unwrap();
    assert_eq!(clone.stat().unwrap().ino, dir.stat().unwrap().ino);
    // The parent is untouched.
    assert_eq!(fs::read(t.path().join("outside")).unwrap(), b"secret");
}

/// A directory of another backend: renames and links to it are refused
/// with EXDEV by the host backend.
struct Foreign;

impl Dir for Foreign {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn try_clone(&self) -> Result<Box<dyn Dir>, Errno> {
        Ok(Box::new(Foreign))
    }
    fn stat(&self) -> Result<wasmkern::wasi::Filestat, Errno> {
        Err(Errno::Nosys)
    }
    fn stat_at(&self, _: &str) -> Result<wasmkern::wasi::Filestat, Errno> {
        Err(Errno::Nosys)
    }
    fn open_dir(&self, _: &str) -> Result<Box<dyn Dir>, Errno> {
        Err(Errno::Nosys)
    }
    fn open_file(&self, _: &str, _: &OpenOptions) -> Result<Box<dyn wasmkern::wasi::File>, Errno> {
        Err(Errno::Nosys)
    }
    fn read_link(&self, _: &str) -> Result<String, Errno> {
        Err(Errno::Nosys)
    }
    fn create_dir(&self, _: &str) -> Result<(), Errno> {
        Err(Errno::Nosys)
    }
    fn remove_dir(&self, _: &str) -> Result<(), Errno> {
        Err(Errno::Nosys)
    }
    fn unlink_file(&self, _: &str) -> Result<(), Errno> {
        Err(Errno::Nosys)
    }
    fn symlink(&self, _: &str, _: &str) -> Result<(), Errno> {
        Err(Errno::Nosys)
    }
    fn rename(&self, _: &str, _: &dyn Dir, _: &str) -> Result<(), Errno> {
        Err(Errno::Nosys)
    }
    fn hard_link(&self, _: &str, _: &dyn Dir, _: &str) -> Result<(), Errno> {
        Err(Errno::Nosys)
    }
    fn set_times_at(&self, _: &str, _: SetTime, _: SetTime) -> Result<(), Errno> {
        Err(Errno::Nosys)
    }
    fn set_times(&self, _: SetTime, _: SetTime) -> Result<(), Errno> {
        Err(Errno::Nosys)
    }
    fn read_dir(&self) -> Result<Vec<wasmkern::wasi::DirEntry>, Errno> {
        Err(Errno::Nosys)
    }
}

#[test]
fn cross_backend_rename_and_link_are_exdev() {
    let (t, dir) = setup("xdev");
    assert_eq!(dir.rename("inside", &Foreign, "x"), Err(Errno::Xdev));
    assert_eq!(dir.hard_link("inside", &Foreign, "x"), Err(Errno::Xdev));
    assert_eq!(fs::read(t.path().join("box/inside")).unwrap(), b"hello");
}

#[test]
fn host_errnos_map_to_preview1() {
    use wasmkern::host::wasi_fs::errno_from_host;
    // Numbers from the preview1 specification's errno table.
    let table = [
        (libc::EACCES, 2),
        (libc::EAGAIN, 6),
        (libc::EBADF, 8),
        (libc::EEXIST, 20),
        (libc::EINVAL, 28),
        (libc::EIO, 29),
        (libc::EISDIR, 31),
        (libc::ELOOP, 32),
        (libc::EMFILE, 33),
        (libc::ENAMETOOLONG, 37),
        (libc::ENOENT, 44),
        (libc::ENOSPC, 51),
        (libc::ENOTDIR, 54),
        (libc::ENOTEMPTY, 55),
        (libc::ENOTSUP, 58),
        (libc::EPERM, 63),
        (libc::EPIPE, 64),
        (libc::EROFS, 69),
        (libc::ESPIPE, 70),
        (libc::EXDEV, 75),
        (libc::EFBIG, 22),
        (libc::EOVERFLOW, 61),
    ];
    for (host, wasi) in table {
        assert_eq!(errno_from_host(host) as u16, wasi, "host errno {host}");
    }
    // One with no preview1 name.
    assert_eq!(errno_from_host(libc::EHWPOISON) as u16, 29);
}

#[test]
fn inherited_args_and_env_are_the_processs() {
    use wasmkern::wasi::{WasiCtx, WasiCtxBuilder};
    use wasmkern::{Engine, Linker, Module, Store};
    let engine = Engine::default();
    let mut linker: Linker<WasiCtx> = Linker::new(&engine);
    wasmkern::wasi::add_to_linker(&mut linker, |c| c).unwrap();
    // Returns argc * 65536 + environ count, then the sizes of their strings.
    let wasm = wat::parse_str(
        r#"(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $a (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $e (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "counts") (result i32 i32 i32)
    (drop (call $a (i32.const 0) (i32.const 4)))
    (drop (call $e (i32.const 8) (i32.const 12)))
    (i32.add (i32.shl (i32.load (i32.const 0)) (i32.const 16)) (i32.load (i32.const 8)))
    (i32.load (i32.const 4))
    (i32.load (i32.const 12))))"#,
    )
    .unwrap();
    let module = Module::new(&engine, wasm).unwrap();
    let mut b = WasiCtxBuilder::new();
    b.inherit_args().inherit_env().inherit_stdio();
    let mut store = Store::new(&engine, b.build());
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let counts = instance
        .get_typed_func::<(), (i32, i32, i32)>(&mut store, "counts")
        .unwrap();
    let (n, arg_bytes, env_bytes) = counts.call(&mut store, ()).unwrap();
    let args: Vec<String> = std::env::args().collect();
    let vars: Vec<(String, String)> = std::env::vars().collect();
    assert_eq!(n >> 16, args.len() as i32);
    assert_eq!(n & 0xffff, vars.len() as i32);
    let want_args: usize = args.iter().map(|a| a.len() + 1).sum();
    let want_env: usize = vars.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    assert_eq!(arg_bytes as usize, want_args);
    assert_eq!(env_bytes as usize, want_env);
}

#[test]
fn a_fifo_without_a_peer_does_not_hang_the_open() {
    let t = TempDir::new("fifo");
    let fifo = std::ffi::CString::new(t.path().join("pipe").to_str().unwrap()).unwrap();
    // SAFETY: `fifo` is a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let dir = HostDir::open(t.path()).unwrap();
    // Without O_NONBLOCK at open, both would block until a peer came.
    let mut r = dir.open_file("pipe", &read_opts()).unwrap();
    assert_eq!(r.filetype(), FileType::Unknown);
    // No writer: end of file at once.
    assert_eq!(r.read(&mut [0u8; 4]).unwrap(), 0);
    let w = OpenOptions {
        write: true,
        ..Default::default()
    };
    drop(r);
    assert_eq!(
        dir.open_file("pipe", &w).err().map(|e| e as u16),
        Some(Errno::Nxio as u16)
    );
}
