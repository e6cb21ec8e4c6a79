//! Real programs over the core's WASI and the in-memory filesystem: C
//! programs built here with clang and wasi-libc, and a Rust program built
//! for `wasm32-wasip1`. Their output, exit status and what they leave in
//! the filesystem are compared with what the source says they do.
//!
//! Needs `clang` with the wasi-libc sysroot (Debian: clang lld wasi-libc
//! libclang-rt-14-dev-wasm32) and the `wasm32-wasip1` Rust target, which
//! the test adds with rustup when it is missing. When a tool is missing the
//! test prints that it did not run; with `CI=true` it fails instead.

mod wasi_util;

use std::path::PathBuf;
use std::process::Command;
use wasi_util::{run_program, run_with};
use wasmkern::wasi::memfs::MemFs;
use wasmkern::wasi::system::SystemClock;
use wasmkern::wasi::{DirPerms, InputBytes, WasiCtxBuilder};

fn missing(what: &str) {
    let msg = format!("{what} is not available: this test did not run");
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
    eprintln!("{msg}");
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("wasi-programs")
        .join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Builds C source with clang and wasi-libc; `None` when clang or the
/// sysroot is missing.
fn build_c(name: &str, source: &str) -> Option<Vec<u8>> {
    let dir = scratch(name);
    let src = dir.join(format!("{name}.c"));
    let out = dir.join(format!("{name}.wasm"));
    std::fs::write(&src, source).unwrap();
    let result = Command::new("clang")
        .args(["--target=wasm32-wasi", "--sysroot=/usr", "-O2", "-Wall"])
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .output();
    match result {
        Err(_) => {
            missing("clang");
            None
        }
        Ok(o) if !o.status.success() => {
            let err = String::from_utf8_lossy(&o.stderr);
            if err.contains("stdio.h") || err.contains("unable to find library") {
                missing("the wasi-libc sysroot (/usr/include/wasm32-wasi)");
                return None;
            }
            panic!("clang failed on {name}.c:\n{err}");
        }
        Ok(_) => Some(std::fs::read(out).unwrap()),
    }
}

fn memfs() -> MemFs {
    MemFs::new().with_clock(SystemClock::new())
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn c_hello_args_env_exit_status() {
    let Some(wasm) = build_c(
        "hello",
        r#"
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    printf("hello, %s!\n", argc > 1 ? argv[1] : "nobody");
    for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
    const char *v = getenv("GREETING");
    printf("GREETING=%s\n", v ? v : "(unset)");
    fprintf(stderr, "to stderr\n");
    return argc;
}
"#,
    ) else {
        return;
    };
    let env = vec![("GREETING".to_string(), "salut".to_string())];
    let out = run_program(&wasm, &strings(&["hello", "world", "x"]), &env, None);
    assert_eq!(out.status, Ok(3));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello, world!\nargv[0]=hello\nargv[1]=world\nargv[2]=x\nGREETING=salut\n"
    );
    assert_eq!(out.stderr, b"to stderr\n");
}

#[test]
fn c_files_over_memfs() {
    let Some(wasm) = build_c(
        "files",
        r#"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECK(c) do { if (!(c)) { printf("FAILED line %d: %s (errno %d)\n", __LINE__, #c, errno); return 1; } } while (0)

static int cmp(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

int main(void) {
    /* Read what the embedder put there. */
    FILE *in = fopen("/data/input.txt", "r");
    CHECK(in);
    char line[64];
    CHECK(fgets(line, sizeof line, in));
    fclose(in);
    printf("input: %s", line);

    /* Create, write, seek, read back. */
    int fd = open("/work.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, "0123456789", 10) == 10);
    CHECK(lseek(fd, 3, SEEK_SET) == 3);
    char buf[8] = {0};
    CHECK(read(fd, buf, 4) == 4);
    printf("read at 3: %s\n", buf);
    CHECK(lseek(fd, -2, SEEK_END) == 8);
    CHECK(pwrite(fd, "AB", 2, 0) == 2);
    struct stat st;
    CHECK(fstat(fd, &st) == 0);
    printf("size %lld regular %d\n", (long long)st.st_size, S_ISREG(st.st_mode));
    CHECK(ftruncate(fd, 5) == 0);
    close(fd);

    /* Append mode. */
    FILE *f = fopen("/work.txt", "a");
    CHECK(f);
    fputs("xyz", f);
    fclose(f);

    /* Directories, rename, symlink, readlink. */
    CHECK(mkdir("/sub", 0755) == 0);
    CHECK(mkdir("/sub", 0755) == -1 && errno == EEXIST);
    CHECK(rename("/work.txt", "/sub/moved.txt") == 0);
    CHECK(access("/work.txt", F_OK) == -1 && errno == ENOENT);
    CHECK(symlink("moved.txt", "/sub/link") == 0);
    char target[32] = {0};
    CHECK(readlink("/sub/link", target, sizeof target - 1) == 9);
    printf("link -> %s\n", target);
    FILE *l = fopen("/sub/link", "r");
    CHECK(l);
    char content[16] = {0};
    CHECK(fread(content, 1, sizeof content - 1, l) == 8);
    fclose(l);
    printf("through link: %s\n", content);
    CHECK(lstat("/sub/link", &st) == 0 && S_ISLNK(st.st_mode));

    /* Escapes are refused. */
    CHECK(open("/../etc/passwd", O_RDONLY) == -1);
    CHECK(symlink("/etc", "/sub/abs") == -1 || open("/sub/abs/passwd", O_RDONLY) == -1);

    /* List a directory. */
    for (int i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof name, "/sub/f%d", i);
        FILE *g = fopen(name, "w");
        CHECK(g);
        fclose(g);
    }
    DIR *d = opendir("/sub");
    CHECK(d);
    char *names[16];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 16) names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, cmp);
    printf("entries:");
    for (int i = 0; i < n; i++) printf(" %s", names[i]);
    printf("\n");

    /* Removal. */
    CHECK(rmdir("/sub") == -1 && errno == ENOTEMPTY);
    CHECK(unlink("/sub/f0") == 0);
    CHECK(unlink("/sub/f0") == -1 && errno == ENOENT);
    CHECK(open("/missing", O_RDONLY) == -1 && errno == ENOENT);
    return 7;
}
"#,
    ) else {
        return;
    };
    let fs = memfs();
    fs.write_file("data/input.txt", b"from the embedder\n")
        .unwrap();
    let out = run_program(&wasm, &strings(&["files"]), &[], Some(fs.root()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status, Ok(7), "{stdout}");
    assert_eq!(
        stdout,
        "input: from the embedder\n\
         read at 3: 3456\n\
         size 10 regular 1\n\
         link -> moved.txt\n\
         through link: AB234xyz\n\
         entries: . .. f0 f1 f2 f3 f4 link moved.txt\n"
    );
    // What the program left behind, seen from the host.
    assert_eq!(fs.read_file("sub/moved.txt").unwrap(), b"AB234xyz");
    assert!(fs.read_file("work.txt").is_err());
    assert!(fs.stat("sub/f0").is_err());
    assert!(fs.stat("sub/f1").is_ok());
}

#[test]
fn c_read_only_preopen_refuses_writes() {
    let Some(wasm) = build_c(
        "readonly",
        r#"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
int main(void) {
    int r = open("/ro/file.txt", O_RDONLY);
    int w = open("/ro/file.txt", O_WRONLY);
    int c = open("/ro/new.txt", O_CREAT | O_WRONLY, 0644);
    int u = unlink("/ro/file.txt");
    /* As in Wasmtime, wasi-libc asks only for the rights the directory
       passes on, so the open succeeds without the right to write. */
    int wr = write(w, "x", 1);
    int m = mkdir("/ro/sub", 0755);
    printf("%d %d %d %d %d %d\n", r >= 0, w >= 0, wr == -1, c >= 0, u == 0, m == 0);
    char buf[8] = {0};
    printf("%zd %s\n", read(r, buf, 7), buf);
    return 0;
}
"#,
    ) else {
        return;
    };
    let fs = memfs();
    fs.write_file("file.txt", b"content").unwrap();
    let mut b = WasiCtxBuilder::new();
    b.arg("readonly")
        .preopened_dir(fs.root(), "/ro", DirPerms::ReadOnly);
    let out = run_with(&wasm, b);
    assert_eq!(out.status, Ok(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "1 1 1 0 0 0\n7 content\n"
    );
    assert_eq!(fs.read_file("file.txt").unwrap(), b"content");
    assert!(fs.stat("new.txt").is_err());
}

#[test]
fn c_stdin_from_bytes() {
    let Some(wasm) = build_c(
        "cat",
        r#"
#include <stdio.h>
int main(void) {
    int c, n = 0;
    while ((c = getchar()) != EOF) { putchar(c >= 'a' && c <= 'z' ? c - 32 : c); n++; }
    printf("[%d]\n", n);
    return 0;
}
"#,
    ) else {
        return;
    };
    let mut b = WasiCtxBuilder::new();
    b.arg("cat").stdin(InputBytes::new(&b"shout this\n"[..]));
    let out = run_with(&wasm, b);
    assert_eq!(out.status, Ok(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "SHOUT THIS\n[11]\n");
}

const RUST_GUEST: &str = r#"
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    println!("args {:?}", args);
    println!("env {:?}", std::env::var("MODE").ok());

    let mut f = std::fs::File::create("/out/notes.txt").unwrap();
    writeln!(f, "line one").unwrap();
    writeln!(f, "line two").unwrap();
    drop(f);
    let mut f = std::fs::OpenOptions::new().read(true).write(true).open("/out/notes.txt").unwrap();
    f.seek(SeekFrom::Start(5)).unwrap();
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    println!("tail {:?}", s);
    println!("len {}", std::fs::metadata("/out/notes.txt").unwrap().len());

    std::fs::create_dir_all("/out/a/b").unwrap();
    std::fs::write("/out/a/b/c.txt", b"deep").unwrap();
    std::fs::rename("/out/a/b/c.txt", "/out/a/c.txt").unwrap();
    let mut names: Vec<String> = std::fs::read_dir("/out/a")
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    println!("dir {:?}", names);
    println!("missing {:?}", std::fs::read("/out/nope").map_err(|e| e.kind()));

    // HashMap seeds come from random_get; Instant from the monotonic clock.
    let mut m = HashMap::new();
    m.insert("k", 1);
    let t = std::time::Instant::now();
    std::thread::sleep(std::time::Duration::from_millis(20));
    println!("map {} slept {}", m["k"], t.elapsed() >= std::time::Duration::from_millis(20));
    std::process::exit(5);
}
"#;

/// Builds [`RUST_GUEST`] for `wasm32-wasip1`; `None` when the target is
/// not installed.
fn build_rust_guest() -> Option<Vec<u8>> {
    let dir = scratch("rust-guest");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"guest\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[workspace]\n\n[profile.release]\nopt-level = 1\n",
    )
    .unwrap();
    std::fs::write(dir.join("src/main.rs"), RUST_GUEST).unwrap();
    let target_ok = || {
        Command::new("rustc")
            .args(["--print", "sysroot"])
            .output()
            .ok()
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
            .is_some_and(|sysroot| sysroot.join("lib/rustlib/wasm32-wasip1").is_dir())
    };
    if !target_ok() {
        // rustup is there wherever cargo came from rustup; it adds a
        // `rust-toolchain.toml` target only when it installs the toolchain.
        eprintln!("wasi_programs: running `rustup target add wasm32-wasip1`");
        let _ = Command::new("rustup")
            .args(["target", "add", "wasm32-wasip1"])
            .status();
    }
    if !target_ok() {
        missing("the wasm32-wasip1 Rust target (rustup target add wasm32-wasip1)");
        return None;
    }
    let out = Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "--offline",
            "--target",
            "wasm32-wasip1",
        ])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo build of the guest failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(std::fs::read(dir.join("target/wasm32-wasip1/release/guest.wasm")).unwrap())
}

#[test]
fn rust_program_over_memfs() {
    let Some(wasm) = build_rust_guest() else {
        return;
    };
    let fs = memfs();
    let mut b = WasiCtxBuilder::new();
    b.args(["guest", "--flag"])
        .env("MODE", "test")
        .preopened_dir(fs.root(), "/out", DirPerms::ReadWrite);
    let out = run_with(&wasm, b);
    assert_eq!(
        out.status,
        Ok(5),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "args [\"guest\", \"--flag\"]\n\
         env Some(\"test\")\n\
         tail \"one\\nline two\\n\"\n\
         len 18\n\
         dir [\"b\", \"c.txt\"]\n\
         missing Err(NotFound)\n\
         map 1 slept true\n"
    );
    assert_eq!(fs.read_file("a/c.txt").unwrap(), b"deep");
    assert_eq!(fs.read_file("notes.txt").unwrap(), b"line one\nline two\n");
}

/// Captured output that says it is a terminal.
struct Terminal(wasmkern::wasi::OutputPipe);

impl wasmkern::wasi::File for Terminal {
    fn filetype(&self) -> wasmkern::wasi::FileType {
        wasmkern::wasi::FileType::CharacterDevice
    }
    fn read(&mut self, _: &mut [u8]) -> wasmkern::wasi::FsResult<usize> {
        Err(wasmkern::wasi::Errno::Badf)
    }
    fn write(&mut self, buf: &[u8]) -> wasmkern::wasi::FsResult<usize> {
        self.0.write(buf)
    }
    fn stat(&self) -> wasmkern::wasi::FsResult<wasmkern::wasi::Filestat> {
        self.0.stat()
    }
    fn is_tty(&self) -> bool {
        true
    }
}

#[test]
fn c_isatty_follows_the_stream() {
    let Some(wasm) = build_c(
        "isatty",
        r#"
#include <stdio.h>
#include <unistd.h>
int main(void) {
    fprintf(stderr, "%d %d\n", isatty(1), isatty(2));
    return 0;
}
"#,
    ) else {
        return;
    };
    let term = wasmkern::wasi::OutputPipe::new(1 << 10);
    let err = wasmkern::wasi::OutputPipe::new(1 << 10);
    let mut b = WasiCtxBuilder::new();
    b.arg("isatty");
    let out = wasi_util::run_with_stdio(&wasm, b, Box::new(Terminal(term.clone())), err.clone());
    assert_eq!(out, Ok(0));
    assert_eq!(String::from_utf8_lossy(&err.contents()), "1 0\n");
}

#[test]
fn c_limits_bound_the_guest() {
    let Some(wasm) = build_c(
        "limits",
        r#"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(void) {
    /* 10,000 files open at once. */
    int opened = 0, err = 0;
    for (int i = 0; i < 10000; i++) {
        char name[32];
        snprintf(name, sizeof name, "/f%d", i);
        int fd = open(name, O_CREAT | O_WRONLY, 0644);
        if (fd < 0) { err = errno; break; }
        opened++;
    }
    fprintf(stderr, "opened %d errno %s\n", opened, err == EMFILE ? "EMFILE" : strerror(err));
    /* 100 MB to stdout. */
    static char block[1 << 20];
    memset(block, 'x', sizeof block);
    long long total = 0;
    for (int i = 0; i < 100; i++) {
        ssize_t n = write(1, block, sizeof block);
        if (n < 0) { err = errno; break; }
        total += n;
    }
    fprintf(stderr, "wrote %lld errno %s\n", total, err == ENOSPC ? "ENOSPC" : strerror(err));
    /* A file bigger than the filesystem's budget. */
    close(4); /* the table is full: free the first file's descriptor */
    int fd = open("/big", O_CREAT | O_WRONLY, 0644);
    long long big = 0;
    for (int i = 0; i < 100; i++) {
        ssize_t n = write(fd, block, sizeof block);
        if (n < 0) { err = errno; break; }
        big += n;
    }
    fprintf(stderr, "file %lld errno %s\n", big, err == ENOSPC ? "ENOSPC" : strerror(err));
    return 0;
}
"#,
    ) else {
        return;
    };
    let fs = memfs().with_capacity(4 << 20);
    let mut b = WasiCtxBuilder::new();
    b.arg("limits")
        .preopened_dir(fs.root(), "/", DirPerms::ReadWrite);
    let out = run_with(&wasm, b);
    assert_eq!(
        out.status,
        Ok(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 1,024 descriptors: stdio and the preopen take 4. The output pipe of
    // run_with keeps 16 MiB; the filesystem 4 MiB.
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "opened 1020 errno EMFILE\nwrote 16777216 errno ENOSPC\nfile 4194304 errno ENOSPC\n"
    );
    assert_eq!(out.stdout.len(), 16 << 20);
    assert_eq!(fs.used_bytes(), 4 << 20);
}

#[test]
fn c_escapes_are_refused() {
    let Some(wasm) = build_c(
        "escapes",
        r#"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
static void try_open(const char *p) {
    int fd = open(p, O_RDONLY);
    printf("open %s: %s\n", p, fd >= 0 ? "OPENED" : strerror(errno));
}
int main(void) {
    mkdir("/box/d", 0755);
    symlink("../..", "/box/d/up");
    printf("symlink abs: %s\n", symlink("/other/secret", "/box/abs") == 0 ? "DONE" : strerror(errno));
    close(open("/box/f", O_CREAT | O_WRONLY, 0644));
    symlink("loop2", "/box/loop1");
    symlink("loop1", "/box/loop2");
    symlink("d/../d/../../other", "/box/sneaky");
    try_open("/box/../other/secret");
    try_open("/box/d/up/other/secret");
    try_open("/box/loop1");
    try_open("/box/sneaky/secret");
    try_open("/box/d/../d/./../d/..");
    printf("rename out: %s\n", rename("/box/d", "/other/d") == 0 ? "DONE" : strerror(errno));
    printf("link out: %s\n", link("/box/f", "/other/l") == 0 ? "DONE" : strerror(errno));
    int dir = open("/box/d", O_RDONLY | O_DIRECTORY);
    int fd = openat(dir, "../../other/secret", O_RDONLY);
    printf("openat up: %s\n", fd >= 0 ? "OPENED" : strerror(errno));
    return 0;
}
"#,
    ) else {
        return;
    };
    let inside = memfs();
    let outside = memfs();
    outside.write_file("secret", b"do not read").unwrap();
    let mut b = WasiCtxBuilder::new();
    b.arg("escapes")
        .preopened_dir(inside.root(), "/box", DirPerms::ReadWrite)
        .preopened_dir(outside.root(), "/other", DirPerms::ReadWrite);
    let out = run_with(&wasm, b);
    assert_eq!(out.status, Ok(0));
    // wasi-libc hands "/box/.." to the core as ".." beneath /box, and the
    // core refuses every walk above the directory it starts from; two
    // preopens are two devices.
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "symlink abs: Operation not permitted\n\
         open /box/../other/secret: Operation not permitted\n\
         open /box/d/up/other/secret: Operation not permitted\n\
         open /box/loop1: Symbolic link loop\n\
         open /box/sneaky/secret: Operation not permitted\n\
         open /box/d/../d/./../d/..: OPENED\n\
         rename out: Cross-device link\n\
         link out: Cross-device link\n\
         openat up: Operation not permitted\n"
    );
    assert_eq!(outside.read_file("secret").unwrap(), b"do not read");
    assert!(outside.stat("d").is_err() && outside.stat("l").is_err());
}
