//! Escapes from a preopened directory, tried by a guest through the WASI
//! imports over the real filesystem (`WasiCtxBuilder::preopened_dir_path`,
//! `wasmkern::host::wasi_fs`): `..`, absolute paths, symbolic links
//! pointing out (absolute and relative, at the end of a path and in the
//! middle), link loops, renames and hard links out of the preopen and into
//! it from outside, creating, removing, stating and touching through links.
//! Every attempt must fail with the errno Wasmtime gives (`EPERM` for a
//! path that leaves the directory, `ELOOP` for a loop), and the host
//! filesystem outside the preopen must be exactly as before, file by file
//! (names, sizes, contents, modification times).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};
use wasmkern::wasi::{DirPerms, WasiCtx, WasiCtxBuilder};
use wasmkern::{Engine, Instance, Linker, Memory, Module, Store, Val};

const ERRNO_EXIST: i32 = 20;
const ERRNO_INVAL: i32 = 28;
const ERRNO_LOOP: i32 = 32;
const ERRNO_NOENT: i32 = 44;
const ERRNO_NOTDIR: i32 = 54;
const ERRNO_PERM: i32 = 63;

/// `lookupflags::symlink_follow`.
const FOLLOW: i32 = 1;
/// `oflags::creat`, `oflags::directory`.
const CREAT: i32 = 1;
const DIRECTORY: i32 = 2;
/// Every preview1 right.
const ALL_RIGHTS: i64 = (1 << 29) - 1;

/// The WASI functions the guest re-exports, with their parameter types.
const FUNCS: &[(&str, &str)] = &[
    ("path_open", "i32 i32 i32 i32 i32 i64 i64 i32 i32"),
    ("path_create_directory", "i32 i32 i32"),
    ("path_remove_directory", "i32 i32 i32"),
    ("path_unlink_file", "i32 i32 i32"),
    ("path_symlink", "i32 i32 i32 i32 i32"),
    ("path_rename", "i32 i32 i32 i32 i32 i32"),
    ("path_link", "i32 i32 i32 i32 i32 i32 i32"),
    ("path_filestat_get", "i32 i32 i32 i32 i32"),
    ("path_filestat_set_times", "i32 i32 i32 i32 i64 i64 i32"),
    ("path_readlink", "i32 i32 i32 i32 i32 i32"),
    ("fd_write", "i32 i32 i32 i32"),
    ("fd_close", "i32"),
];

/// A module whose exports call the WASI functions of [`FUNCS`] with their
/// arguments and return the errno.
fn guest_wat() -> String {
    let mut imports = String::new();
    let mut exports = String::new();
    for (name, params) in FUNCS {
        imports += &format!(
            "(import \"wasi_snapshot_preview1\" \"{name}\" (func ${name} (param {params}) (result i32)))\n"
        );
        let gets: String = (0..params.split(' ').count())
            .map(|i| format!("(local.get {i}) "))
            .collect();
        exports += &format!(
            "(func (export \"{name}\") (param {params}) (result i32) (call ${name} {gets}))\n"
        );
    }
    format!("(module {imports} (memory (export \"memory\") 1) {exports})")
}

/// A fresh directory under the system's temporary directory, removed on
/// drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "wasmkern-sandbox-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Everything under `root` except the folder `except`: path -> (kind,
/// size, contents or link target, mtime in ns).
fn snapshot(root: &Path, except: &Path) -> BTreeMap<PathBuf, (String, u64, Vec<u8>, i64)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p == except {
                continue;
            }
            let m = fs::symlink_metadata(&p).unwrap();
            let mtime = m.mtime() * 1_000_000_000 + m.mtime_nsec();
            let (kind, content) = if m.file_type().is_symlink() {
                (
                    "link",
                    fs::read_link(&p)
                        .unwrap()
                        .into_os_string()
                        .into_encoded_bytes(),
                )
            } else if m.is_dir() {
                stack.push(p.clone());
                ("dir", Vec::new())
            } else {
                ("file", fs::read(&p).unwrap())
            };
            out.insert(p, (kind.to_string(), m.len(), content, mtime));
        }
    }
    out
}

/// The guest, its store, and a bump allocator for strings in its memory.
struct Guest {
    store: Store<WasiCtx>,
    instance: Instance,
    memory: Memory,
    next: usize,
}

impl Guest {
    fn new(preopen: &Path) -> Guest {
        let engine = Engine::default();
        let mut linker: Linker<WasiCtx> = Linker::new(&engine);
        wasmkern::wasi::add_to_linker(&mut linker, |c| c).unwrap();
        let mut b = WasiCtxBuilder::new();
        b.preopened_dir_path(preopen, "/sandbox", DirPerms::ReadWrite)
            .unwrap();
        let mut store = Store::new(&engine, b.build());
        let module = Module::new(&engine, wat::parse_str(guest_wat()).unwrap()).unwrap();
        let instance = linker.instantiate(&mut store, &module).unwrap();
        let memory = instance.get_memory(&mut store, "memory").unwrap();
        Guest {
            store,
            instance,
            memory,
            next: 1024,
        }
    }

    /// Copies `s` into the guest's memory; returns its address and length.
    fn str(&mut self, s: &str) -> (i32, i32) {
        let at = self.next;
        self.memory
            .write(&mut self.store, at, s.as_bytes())
            .unwrap();
        self.next += s.len() + 8;
        (at as i32, s.len() as i32)
    }

    fn call(&mut self, name: &str, args: &[Val]) -> i32 {
        let f = self.instance.get_func(&mut self.store, name).unwrap();
        let mut out = [Val::I32(0)];
        f.call(&mut self.store, args, &mut out).unwrap();
        match out[0] {
            Val::I32(e) => e,
            _ => unreachable!("the wrappers return i32"),
        }
    }

    /// `path_open` on the preopen (descriptor 3); the errno.
    fn open(&mut self, lookup: i32, path: &str, oflags: i32) -> i32 {
        let (p, n) = self.str(path);
        let e = self.call(
            "path_open",
            &[
                Val::I32(3),
                Val::I32(lookup),
                Val::I32(p),
                Val::I32(n),
                Val::I32(oflags),
                Val::I64(ALL_RIGHTS),
                Val::I64(ALL_RIGHTS),
                Val::I32(0),
                Val::I32(0),
            ],
        );
        if e == 0 {
            let mut fd = [0u8; 4];
            self.memory.read(&self.store, 0, &mut fd).unwrap();
            assert_eq!(
                self.call("fd_close", &[Val::I32(i32::from_le_bytes(fd))]),
                0
            );
        }
        e
    }

    /// A function taking (fd 3, path, len).
    fn path_op(&mut self, name: &str, path: &str) -> i32 {
        let (p, n) = self.str(path);
        self.call(name, &[Val::I32(3), Val::I32(p), Val::I32(n)])
    }

    fn rename(&mut self, from: &str, to: &str) -> i32 {
        let ((a, an), (b, bn)) = (self.str(from), self.str(to));
        self.call(
            "path_rename",
            &[
                Val::I32(3),
                Val::I32(a),
                Val::I32(an),
                Val::I32(3),
                Val::I32(b),
                Val::I32(bn),
            ],
        )
    }

    fn link(&mut self, lookup: i32, from: &str, to: &str) -> i32 {
        let ((a, an), (b, bn)) = (self.str(from), self.str(to));
        self.call(
            "path_link",
            &[
                Val::I32(3),
                Val::I32(lookup),
                Val::I32(a),
                Val::I32(an),
                Val::I32(3),
                Val::I32(b),
                Val::I32(bn),
            ],
        )
    }

    fn symlink(&mut self, target: &str, name: &str) -> i32 {
        let ((a, an), (b, bn)) = (self.str(target), self.str(name));
        self.call(
            "path_symlink",
            &[
                Val::I32(a),
                Val::I32(an),
                Val::I32(3),
                Val::I32(b),
                Val::I32(bn),
            ],
        )
    }

    fn filestat(&mut self, lookup: i32, path: &str) -> i32 {
        let (p, n) = self.str(path);
        self.call(
            "path_filestat_get",
            &[
                Val::I32(3),
                Val::I32(lookup),
                Val::I32(p),
                Val::I32(n),
                Val::I32(64),
            ],
        )
    }

    fn set_times(&mut self, lookup: i32, path: &str) -> i32 {
        let (p, n) = self.str(path);
        // atim and mtim set to 1 s (fstflags atim | mtim).
        self.call(
            "path_filestat_set_times",
            &[
                Val::I32(3),
                Val::I32(lookup),
                Val::I32(p),
                Val::I32(n),
                Val::I64(1_000_000_000),
                Val::I64(1_000_000_000),
                Val::I32(1 | 4),
            ],
        )
    }
}

/// The layout every test starts from:
/// ```text
/// T/outside.txt            "secret"
/// T/outdir/                (empty)
/// T/box/                   the preopen, guest path /sandbox
/// T/box/inside.txt         "hello"
/// T/box/sub/
/// T/box/abs     -> T/outside.txt (absolute)
/// T/box/rel     -> ../outside.txt
/// T/box/up      -> ..
/// T/box/absdir  -> T/outdir (absolute)
/// T/box/sub/deep-> ../../outdir
/// T/box/loop1   -> loop2, T/box/loop2 -> loop1, T/box/self -> self
/// ```
fn layout(tag: &str) -> (TempDir, PathBuf) {
    let t = TempDir::new(tag);
    let b = t.0.join("box");
    fs::write(t.0.join("outside.txt"), "secret").unwrap();
    fs::create_dir(t.0.join("outdir")).unwrap();
    fs::create_dir_all(b.join("sub")).unwrap();
    fs::write(b.join("inside.txt"), "hello").unwrap();
    symlink(t.0.join("outside.txt"), b.join("abs")).unwrap();
    symlink("../outside.txt", b.join("rel")).unwrap();
    symlink("..", b.join("up")).unwrap();
    symlink(t.0.join("outdir"), b.join("absdir")).unwrap();
    symlink("../../outdir", b.join("sub/deep")).unwrap();
    symlink("loop2", b.join("loop1")).unwrap();
    symlink("loop1", b.join("loop2")).unwrap();
    symlink("self", b.join("self")).unwrap();
    (t, b)
}

#[test]
fn opening_outside_the_preopen_is_refused() {
    let (t, b) = layout("open");
    let before = snapshot(&t.0, &b);
    let mut g = Guest::new(&b);
    // Inside works, through links that stay inside too.
    assert_eq!(g.open(0, "inside.txt", 0), 0);
    assert_eq!(g.open(0, "sub/../inside.txt", 0), 0);
    assert_eq!(g.open(0, "./sub/./..//inside.txt", 0), 0);
    for (path, lookup, oflags) in [
        ("..", 0, DIRECTORY),
        ("../outside.txt", 0, 0),
        ("sub/../../outside.txt", 0, 0),
        ("sub/../../box/inside.txt", 0, 0),
        ("/etc/passwd", 0, 0),
        ("/", 0, DIRECTORY),
        ("abs", FOLLOW, 0),
        ("rel", FOLLOW, 0),
        ("up/outside.txt", 0, 0),
        ("up/outside.txt", FOLLOW, 0),
        ("up", FOLLOW, DIRECTORY),
        ("absdir/new.txt", 0, CREAT),
        ("sub/deep/new.txt", 0, CREAT),
        ("sub/deep", FOLLOW, DIRECTORY),
        ("../new.txt", 0, CREAT),
        ("rel", FOLLOW, CREAT),
    ] {
        assert_eq!(
            g.open(lookup, path, oflags),
            ERRNO_PERM,
            "path_open {path:?} lookup {lookup} oflags {oflags}"
        );
    }
    // Without symlink_follow the last component is not followed: a link
    // cannot be opened as a file (ELOOP, as O_NOFOLLOW gives).
    assert_eq!(g.open(0, "abs", 0), ERRNO_LOOP);
    // Loops.
    for path in [
        "loop1",
        "loop2",
        "self",
        "loop1/x",
        "self/x",
        "sub/../loop1",
    ] {
        assert_eq!(g.open(FOLLOW, path, 0), ERRNO_LOOP, "path_open {path:?}");
    }
    assert_eq!(g.open(0, "loop1/x", CREAT), ERRNO_LOOP);
    assert_eq!(snapshot(&t.0, &b), before);
    assert!(!t.0.join("outdir/new.txt").exists());
    assert!(!t.0.join("new.txt").exists());
}

#[test]
fn creating_and_removing_outside_the_preopen_is_refused() {
    let (t, b) = layout("mkdir");
    let before = snapshot(&t.0, &b);
    let mut g = Guest::new(&b);
    for path in [
        "../escape",
        "/escape",
        "up/escape",
        "absdir/escape",
        "sub/deep/escape",
    ] {
        assert_eq!(
            g.path_op("path_create_directory", path),
            ERRNO_PERM,
            "mkdir {path:?}"
        );
    }
    for path in ["../outdir", "up/outdir", "/tmp"] {
        assert_eq!(
            g.path_op("path_remove_directory", path),
            ERRNO_PERM,
            "rmdir {path:?}"
        );
    }
    // Removing a link to a directory as a directory: ENOTDIR, nothing removed.
    assert_eq!(g.path_op("path_remove_directory", "absdir"), ERRNO_NOTDIR);
    for path in [
        "../outside.txt",
        "up/outside.txt",
        "/etc/hostname",
        "absdir/../outside.txt",
    ] {
        assert_eq!(
            g.path_op("path_unlink_file", path),
            ERRNO_PERM,
            "unlink {path:?}"
        );
    }
    // Unlinking a link inside removes the link, not its target.
    assert_eq!(g.path_op("path_unlink_file", "abs"), 0);
    assert_eq!(g.path_op("path_unlink_file", "rel"), 0);
    assert!(!b.join("abs").exists() && fs::symlink_metadata(b.join("abs")).is_err());
    // A symlink with an absolute target is refused outright (as
    // Wasmtime's); one whose relative target leaves the box may be created
    // (it is only text), but nothing can be reached through it.
    assert_eq!(g.symlink("/etc", "etc"), ERRNO_PERM);
    assert!(fs::symlink_metadata(b.join("etc")).is_err());
    assert_eq!(g.symlink("../../../../../../etc", "etc"), 0);
    assert_eq!(g.symlink("../outside.txt", "again"), 0);
    assert_eq!(g.open(FOLLOW, "etc/passwd", 0), ERRNO_PERM);
    assert_eq!(g.open(0, "etc/passwd", 0), ERRNO_PERM);
    assert_eq!(g.open(FOLLOW, "again", 0), ERRNO_PERM);
    // Nor can a link be created outside.
    assert_eq!(g.symlink("inside.txt", "../made"), ERRNO_PERM);
    assert_eq!(g.symlink("inside.txt", "up/made"), ERRNO_PERM);
    assert_eq!(g.symlink("inside.txt", "absdir/made"), ERRNO_PERM);
    // Creating over an existing link does not go through it.
    assert_eq!(g.path_op("path_create_directory", "absdir"), ERRNO_EXIST);
    assert_eq!(snapshot(&t.0, &b), before);
}

#[test]
fn renames_and_links_across_the_preopen_are_refused() {
    let (t, b) = layout("rename");
    let before = snapshot(&t.0, &b);
    let mut g = Guest::new(&b);
    for (from, to) in [
        ("inside.txt", "../stolen.txt"),
        ("inside.txt", "up/stolen.txt"),
        ("inside.txt", "absdir/stolen.txt"),
        ("inside.txt", "sub/deep/stolen.txt"),
        ("inside.txt", "/tmp/stolen.txt"),
        ("../outside.txt", "taken.txt"),
        ("up/outside.txt", "taken.txt"),
        ("absdir", "../outdir2"),
        ("sub", "up/sub"),
    ] {
        assert_eq!(g.rename(from, to), ERRNO_PERM, "rename {from:?} {to:?}");
    }
    for (lookup, from, to) in [
        (0, "inside.txt", "../linked.txt"),
        (0, "inside.txt", "up/linked.txt"),
        (0, "inside.txt", "absdir/linked.txt"),
        (0, "../outside.txt", "linked.txt"),
        (0, "up/outside.txt", "linked.txt"),
    ] {
        assert_eq!(
            g.link(lookup, from, to),
            ERRNO_PERM,
            "link {from:?} {to:?} lookup {lookup}"
        );
    }
    // Following a link at the source is refused whatever it names, as
    // Wasmtime refuses it (EINVAL): the outside file cannot be linked in.
    for from in ["abs", "rel", "loop1", "inside.txt"] {
        assert_eq!(
            g.link(FOLLOW, from, "linked.txt"),
            ERRNO_INVAL,
            "link {from:?} follow"
        );
    }
    // Renaming a link moves the link, never what it points to.
    assert_eq!(g.rename("abs", "sub/abs-moved"), 0);
    assert!(
        fs::symlink_metadata(b.join("sub/abs-moved"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // A hard link of a link (no follow) is a link to the link.
    assert_eq!(g.link(0, "rel", "rel-hard"), 0);
    assert!(
        fs::symlink_metadata(b.join("rel-hard"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::metadata(t.0.join("outside.txt")).unwrap().nlink(), 1);
    assert_eq!(snapshot(&t.0, &b), before);
    assert!(!t.0.join("stolen.txt").exists() && !t.0.join("linked.txt").exists());
    assert!(!b.join("taken.txt").exists() && !b.join("linked.txt").exists());
}

#[test]
fn stat_and_times_do_not_reach_outside() {
    let (t, b) = layout("stat");
    let before = snapshot(&t.0, &b);
    let mut g = Guest::new(&b);
    for (lookup, path) in [
        (0, "../outside.txt"),
        (0, "up/outside.txt"),
        (FOLLOW, "abs"),
        (FOLLOW, "rel"),
        (FOLLOW, "absdir"),
        (0, "/etc/passwd"),
    ] {
        assert_eq!(g.filestat(lookup, path), ERRNO_PERM, "filestat {path:?}");
        assert_eq!(g.set_times(lookup, path), ERRNO_PERM, "set_times {path:?}");
    }
    assert_eq!(g.filestat(FOLLOW, "self"), ERRNO_LOOP);
    assert_eq!(g.filestat(0, "missing/x"), ERRNO_NOENT);
    // Without follow, the link itself is stated and touched.
    assert_eq!(g.filestat(0, "abs"), 0);
    let mut filetype = [0u8; 1];
    g.memory.read(&g.store, 64 + 16, &mut filetype).unwrap();
    assert_eq!(filetype[0], 7, "symbolic_link");
    assert_eq!(g.set_times(0, "abs"), 0);
    assert_eq!(fs::symlink_metadata(b.join("abs")).unwrap().mtime(), 1);
    // readlink gives the link's text, even when it points out (Wasmtime
    // does the same): reading it reaches nothing.
    let (p, n) = g.str("rel");
    let e = g.call(
        "path_readlink",
        &[
            Val::I32(3),
            Val::I32(p),
            Val::I32(n),
            Val::I32(4096),
            Val::I32(100),
            Val::I32(8),
        ],
    );
    assert_eq!(e, 0);
    let mut used = [0u8; 4];
    g.memory.read(&g.store, 8, &mut used).unwrap();
    let mut text = vec![0u8; u32::from_le_bytes(used) as usize];
    g.memory.read(&g.store, 4096, &mut text).unwrap();
    assert_eq!(text, b"../outside.txt");
    assert_eq!(snapshot(&t.0, &b), before);
}
