//! The in-memory filesystem's semantics through the backend traits (`Dir`,
//! `File`), as the core and other embedders use them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use wasmkern::wasi::memfs::MemFs;
use wasmkern::wasi::{
    Clock, Errno, FdFlags, File, FileType, FsResult, OpenOptions, SeekFrom, SetTime,
};

/// A clock the test moves by hand.
#[derive(Clone, Default)]
struct FakeClock(Arc<AtomicU64>);

impl Clock for FakeClock {
    fn realtime(&self) -> FsResult<u64> {
        Ok(self.0.load(Ordering::Relaxed))
    }
    fn monotonic(&self) -> FsResult<u64> {
        Ok(self.0.load(Ordering::Relaxed))
    }
}

fn rw() -> OpenOptions {
    OpenOptions {
        read: true,
        write: true,
        ..OpenOptions::default()
    }
}

fn create() -> OpenOptions {
    OpenOptions {
        create: true,
        ..rw()
    }
}

fn read_all(f: &mut dyn File) -> Vec<u8> {
    f.seek(SeekFrom::Start(0)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 7];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn files_read_write_seek_truncate() {
    let fs = MemFs::new();
    let root = fs.root();
    let mut f = root.open_file("a", &create()).unwrap();
    assert_eq!(f.write(b"hello world").unwrap(), 11);
    assert_eq!(f.seek(SeekFrom::Current(-5)).unwrap(), 6);
    assert_eq!(f.write(b"WORLD!").unwrap(), 6);
    assert_eq!(read_all(&mut *f), b"hello WORLD!");
    assert_eq!(f.pwrite(b"J", 0).unwrap(), 1);
    let mut two = [0u8; 2];
    assert_eq!(f.pread(&mut two, 10).unwrap(), 2);
    assert_eq!(&two, b"D!");
    assert_eq!(f.seek(SeekFrom::End(0)).unwrap(), 12);
    assert_eq!(f.seek(SeekFrom::Current(-13)), Err(Errno::Inval));
    // Writing past the end zero-fills the gap.
    assert_eq!(f.pwrite(b"x", 14).unwrap(), 1);
    assert_eq!(read_all(&mut *f), b"Jello WORLD!\0\0x");
    f.set_size(3).unwrap();
    assert_eq!(read_all(&mut *f), b"Jel");
    assert_eq!(f.stat().unwrap().size, 3);
    assert_eq!(fs.used_bytes(), 3);
    // Exclusive creation of an existing file, truncation on open.
    let excl = OpenOptions {
        exclusive: true,
        ..create()
    };
    assert_eq!(root.open_file("a", &excl).err(), Some(Errno::Exist));
    let trunc = OpenOptions {
        truncate: true,
        ..rw()
    };
    let mut g = root.open_file("a", &trunc).unwrap();
    assert_eq!(read_all(&mut *g), b"");
    assert_eq!(root.open_file("missing", &rw()).err(), Some(Errno::Noent));
}

#[test]
fn read_only_and_write_only_handles() {
    let fs = MemFs::new();
    fs.write_file("f", b"data").unwrap();
    let root = fs.root();
    let ro = OpenOptions {
        read: true,
        ..OpenOptions::default()
    };
    let mut r = root.open_file("f", &ro).unwrap();
    assert_eq!(r.write(b"x"), Err(Errno::Badf));
    assert_eq!(r.set_size(0), Err(Errno::Badf));
    let wo = OpenOptions {
        write: true,
        ..OpenOptions::default()
    };
    let mut w = root.open_file("f", &wo).unwrap();
    assert_eq!(w.read(&mut [0; 4]), Err(Errno::Badf));
    assert_eq!(fs.read_file("f").unwrap(), b"data");
}

#[test]
fn append_mode_writes_at_the_end() {
    let fs = MemFs::new();
    fs.write_file("log", b"one\n").unwrap();
    let opts = OpenOptions {
        fdflags: FdFlags::APPEND,
        ..rw()
    };
    let mut f = fs.root().open_file("log", &opts).unwrap();
    f.seek(SeekFrom::Start(0)).unwrap();
    f.write(b"two\n").unwrap();
    assert_eq!(f.fdflags(), FdFlags::APPEND);
    f.set_fdflags(FdFlags::default()).unwrap();
    f.seek(SeekFrom::Start(0)).unwrap();
    f.write(b"ONE").unwrap();
    assert_eq!(fs.read_file("log").unwrap(), b"ONE\ntwo\n");
}

#[test]
fn directories_and_listing() {
    let fs = MemFs::new();
    let root = fs.root();
    root.create_dir("d").unwrap();
    assert_eq!(root.create_dir("d"), Err(Errno::Exist));
    let d = root.open_dir("d").unwrap();
    for name in ["c", "a", "b"] {
        d.open_file(name, &create()).unwrap();
    }
    d.create_dir("sub").unwrap();
    d.symlink("a", "ln").unwrap();
    let names: Vec<(String, FileType)> = d
        .read_dir()
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.filetype))
        .collect();
    assert_eq!(
        names,
        [
            ("a".into(), FileType::RegularFile),
            ("b".into(), FileType::RegularFile),
            ("c".into(), FileType::RegularFile),
            ("ln".into(), FileType::SymbolicLink),
            ("sub".into(), FileType::Directory),
        ]
    );
    assert_eq!(root.remove_dir("d"), Err(Errno::Notempty));
    assert_eq!(d.remove_dir("a"), Err(Errno::Notdir));
    assert_eq!(d.unlink_file("sub"), Err(Errno::Isdir));
    assert_eq!(root.open_dir("d/sub").err(), Some(Errno::Noent));
    assert_eq!(d.open_dir("a").err(), Some(Errno::Notdir));
    assert_eq!(d.open_dir("ln").err(), Some(Errno::Loop));
    assert_eq!(d.open_file("ln", &rw()).err(), Some(Errno::Loop));
    assert_eq!(d.open_file("sub", &rw()).err(), Some(Errno::Isdir));
    assert_eq!(d.read_link("ln").unwrap(), "a");
    assert_eq!(d.read_link("a"), Err(Errno::Inval));
    assert_eq!(d.stat_at("ln").unwrap().filetype, FileType::SymbolicLink);
    assert_eq!(d.stat_at("ln").unwrap().size, 1);
    for name in ["a", "b", "c", "ln"] {
        d.unlink_file(name).unwrap();
    }
    d.remove_dir("sub").unwrap();
    root.remove_dir("d").unwrap();
    // A removed directory's handle can no longer gain entries.
    assert_eq!(d.create_dir("x"), Err(Errno::Noent));
    assert!(root.read_dir().unwrap().is_empty());
}

#[test]
fn hard_links_and_unlinked_open_files() {
    let fs = MemFs::new();
    fs.write_file("f", b"shared").unwrap();
    let root = fs.root();
    root.hard_link("f", &*root, "g").unwrap();
    assert_eq!(root.stat_at("f").unwrap().nlink, 2);
    assert_eq!(
        root.stat_at("f").unwrap().ino,
        root.stat_at("g").unwrap().ino
    );
    assert_eq!(root.hard_link("f", &*root, "g"), Err(Errno::Exist));
    root.create_dir("d").unwrap();
    assert_eq!(root.hard_link("d", &*root, "d2"), Err(Errno::Perm));
    let mut open = root.open_file("g", &rw()).unwrap();
    root.unlink_file("f").unwrap();
    root.unlink_file("g").unwrap();
    assert_eq!(root.stat_at("g").err(), Some(Errno::Noent));
    // Still readable and writable through the open handle, as in POSIX.
    assert_eq!(read_all(&mut *open), b"shared");
    assert_eq!(open.stat().unwrap().nlink, 0);
    assert_eq!(fs.used_bytes(), 6);
    drop(open);
    assert_eq!(fs.used_bytes(), 0, "freed with its last handle");
}

#[test]
fn rename_rules() {
    let fs = MemFs::new();
    let root = fs.root();
    fs.write_file("a/file", b"1").unwrap();
    fs.write_file("b/other", b"2").unwrap();
    fs.create_dir_all("a/inner/deeper").unwrap();
    fs.create_dir_all("empty").unwrap();
    let a = root.open_dir("a").unwrap();
    let b = root.open_dir("b").unwrap();
    // File over file, across directories.
    a.rename("file", &*b, "other").unwrap();
    assert_eq!(fs.read_file("b/other").unwrap(), b"1");
    assert_eq!(fs.used_bytes(), 1);
    // File over directory, directory over file, directory over non-empty.
    assert_eq!(b.rename("other", &*root, "empty"), Err(Errno::Isdir));
    assert_eq!(root.rename("empty", &*b, "other"), Err(Errno::Notdir));
    assert_eq!(root.rename("empty", &*root, "a"), Err(Errno::Notempty));
    // A directory into itself or beneath itself.
    let deeper = a.open_dir("inner").unwrap().open_dir("deeper").unwrap();
    assert_eq!(root.rename("a", &*deeper, "x"), Err(Errno::Inval));
    // Directory over empty directory.
    a.rename("inner", &*root, "empty").unwrap();
    assert!(fs.stat("empty/deeper").is_ok());
    assert_eq!(a.rename("missing", &*root, "x"), Err(Errno::Noent));
    // Another filesystem is another device.
    let other = MemFs::new();
    assert_eq!(root.rename("b", &*other.root(), "b"), Err(Errno::Xdev));
    assert_eq!(b.hard_link("other", &*other.root(), "x"), Err(Errno::Xdev));
}

#[test]
fn read_only_nodes() {
    let fs = MemFs::new();
    fs.write_file("ro/file", b"keep").unwrap();
    fs.set_read_only("ro/file", true).unwrap();
    fs.set_read_only("ro", true).unwrap();
    let root = fs.root();
    let ro = root.open_dir("ro").unwrap();
    assert_eq!(ro.open_file("file", &rw()).err(), Some(Errno::Acces));
    let read = OpenOptions {
        read: true,
        ..OpenOptions::default()
    };
    assert!(ro.open_file("file", &read).is_ok());
    assert_eq!(ro.open_file("new", &create()).err(), Some(Errno::Acces));
    assert_eq!(ro.create_dir("d"), Err(Errno::Acces));
    assert_eq!(ro.unlink_file("file"), Err(Errno::Acces));
    assert_eq!(ro.symlink("file", "l"), Err(Errno::Acces));
    assert_eq!(ro.rename("file", &*root, "out"), Err(Errno::Acces));
    assert_eq!(fs.read_file("ro/file").unwrap(), b"keep");
}

#[test]
fn byte_budget() {
    let fs = MemFs::new().with_capacity(10);
    let mut f = fs.root().open_file("f", &create()).unwrap();
    assert_eq!(f.write(b"12345678").unwrap(), 8);
    // What fits is written, then the filesystem is full.
    assert_eq!(f.write(b"abcd").unwrap(), 2);
    assert_eq!(f.write(b"x"), Err(Errno::Nospc));
    assert_eq!(f.set_size(11), Err(Errno::Nospc));
    assert_eq!(f.allocate(0, 20), Err(Errno::Nospc));
    // Overwriting in place needs no new bytes.
    assert_eq!(f.pwrite(b"AB", 0).unwrap(), 2);
    f.set_size(4).unwrap();
    assert_eq!(fs.used_bytes(), 4);
    assert_eq!(fs.write_file("g", b"0123456789"), Err(Errno::Nospc));
}

#[test]
fn timestamps_follow_the_clock() {
    let clock = FakeClock::default();
    clock.0.store(1_000, Ordering::Relaxed);
    let fs = MemFs::new().with_clock(clock.clone());
    let root = fs.root();
    let mut f = root.open_file("f", &create()).unwrap();
    let st = f.stat().unwrap();
    assert_eq!((st.atim, st.mtim, st.ctim), (1_000, 1_000, 1_000));
    assert_eq!(root.stat().unwrap().mtim, 1_000, "directory changed");
    clock.0.store(2_000, Ordering::Relaxed);
    f.write(b"x").unwrap();
    let st = f.stat().unwrap();
    assert_eq!((st.atim, st.mtim, st.ctim), (1_000, 2_000, 2_000));
    clock.0.store(3_000, Ordering::Relaxed);
    f.set_times(SetTime::At(5), SetTime::Omit).unwrap();
    let st = f.stat().unwrap();
    assert_eq!((st.atim, st.mtim, st.ctim), (5, 2_000, 3_000));
    root.set_times_at("f", SetTime::Omit, SetTime::Now).unwrap();
    assert_eq!(root.stat_at("f").unwrap().mtim, 3_000);
    // Without a clock every time is 0.
    let plain = MemFs::new();
    plain.write_file("f", b"x").unwrap();
    assert_eq!(plain.stat("f").unwrap().mtim, 0);
}

#[test]
fn handles_are_independent_and_shareable() {
    let fs = MemFs::new();
    let root = fs.root();
    let clone = root.try_clone().unwrap();
    assert_eq!(clone.stat().unwrap().ino, root.stat().unwrap().ino);
    let mut a = root.open_file("f", &create()).unwrap();
    let mut b = clone.open_file("f", &rw()).unwrap();
    a.write(b"abc").unwrap();
    // Each handle has its own position.
    let mut one = [0u8; 1];
    b.read(&mut one).unwrap();
    assert_eq!(&one, b"a");
    assert_eq!(a.seek(SeekFrom::Current(0)).unwrap(), 3);
    // The `dev` of two filesystems differs; inodes are unique within one.
    let other = MemFs::new();
    assert_ne!(other.root().stat().unwrap().dev, root.stat().unwrap().dev);
}

#[test]
fn contexts_and_filesystems_move_between_threads() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<wasmkern::wasi::WasiCtx>();
    send::<wasmkern::Store<wasmkern::wasi::WasiCtx>>();
    send::<MemFs>();
    sync::<MemFs>();
    send::<wasmkern::wasi::OutputPipe>();
    sync::<wasmkern::wasi::OutputPipe>();
    // A filesystem filled on one thread is read on another.
    let fs = MemFs::new();
    let other = fs.clone();
    std::thread::spawn(move || other.write_file("t", b"from a thread").unwrap())
        .join()
        .unwrap();
    assert_eq!(fs.read_file("t").unwrap(), b"from a thread");
}
