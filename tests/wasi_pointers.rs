//! Every preview1 function called from wasm with good arguments, then with
//! each of its pointer arguments at the end of memory and near 2^32
//! (`EFAULT`, memory unchanged), and some misaligned (`EINVAL`).
//!
//! Each call runs in a fresh store over an in-memory filesystem holding
//! `file` (4 bytes), `dir/` and `link -> file`; descriptor 3 is the
//! preopened root, 4 that file opened for reading and writing.

use wasmkern::wasi::memfs::MemFs;
use wasmkern::wasi::{self, DirPerms, Errno, FilePerms, OpenOptions, WasiCtx, WasiCtxBuilder};
use wasmkern::{Engine, Linker, Module, Store, Val, ValType};

const MEM: u64 = 65536;

/// (name, parameter types, baseline arguments, pointer parameter indices,
/// errno of the baseline call).
type Case = (
    &'static str,
    &'static str,
    &'static [u64],
    &'static [usize],
    Errno,
);

const CASES: &[Case] = &[
    ("args_get", "ii", &[1000, 1100], &[0, 1], Errno::Success),
    (
        "args_sizes_get",
        "ii",
        &[1000, 1008],
        &[0, 1],
        Errno::Success,
    ),
    ("environ_get", "ii", &[1000, 1100], &[0, 1], Errno::Success),
    (
        "environ_sizes_get",
        "ii",
        &[1000, 1008],
        &[0, 1],
        Errno::Success,
    ),
    ("clock_res_get", "ii", &[1, 1000], &[1], Errno::Success),
    ("clock_time_get", "iIi", &[1, 0, 1000], &[2], Errno::Success),
    ("fd_advise", "iIIi", &[4, 0, 4, 1], &[], Errno::Success),
    // As in Wasmtime, for every file.
    ("fd_allocate", "iII", &[4, 0, 8], &[], Errno::Notsup),
    ("fd_close", "i", &[4], &[], Errno::Success),
    ("fd_datasync", "i", &[4], &[], Errno::Success),
    ("fd_fdstat_get", "ii", &[1, 1000], &[1], Errno::Success),
    ("fd_fdstat_set_flags", "ii", &[4, 1], &[], Errno::Success),
    (
        "fd_fdstat_set_rights",
        "iII",
        &[4, 0, 0],
        &[],
        Errno::Success,
    ),
    ("fd_filestat_get", "ii", &[4, 1000], &[1], Errno::Success),
    ("fd_filestat_set_size", "iI", &[4, 2], &[], Errno::Success),
    (
        "fd_filestat_set_times",
        "iIIi",
        &[4, 5, 6, 5],
        &[],
        Errno::Success,
    ),
    (
        "fd_pread",
        "iiiIi",
        &[4, 200, 1, 0, 1000],
        &[1, 4],
        Errno::Success,
    ),
    ("fd_prestat_get", "ii", &[3, 1000], &[1], Errno::Success),
    (
        "fd_prestat_dir_name",
        "iii",
        &[3, 1000, 1],
        &[1],
        Errno::Success,
    ),
    (
        "fd_pwrite",
        "iiiIi",
        &[4, 200, 1, 0, 1000],
        &[1, 4],
        Errno::Success,
    ),
    (
        "fd_read",
        "iiii",
        &[4, 200, 1, 1000],
        &[1, 3],
        Errno::Success,
    ),
    (
        "fd_readdir",
        "iiiIi",
        &[3, 1000, 100, 0, 1200],
        &[1, 4],
        Errno::Success,
    ),
    ("fd_renumber", "ii", &[4, 3], &[], Errno::Success),
    ("fd_seek", "iIii", &[4, 1, 0, 1000], &[3], Errno::Success),
    ("fd_sync", "i", &[4], &[], Errno::Success),
    ("fd_tell", "ii", &[4, 1000], &[1], Errno::Success),
    (
        "fd_write",
        "iiii",
        &[1, 200, 1, 1000],
        &[1, 3],
        Errno::Success,
    ),
    (
        "path_create_directory",
        "iii",
        &[3, 120, 3],
        &[1],
        Errno::Success,
    ),
    (
        "path_filestat_get",
        "iiiii",
        &[3, 0, 100, 4, 1000],
        &[2, 4],
        Errno::Success,
    ),
    (
        "path_filestat_set_times",
        "iiiiIIi",
        &[3, 0, 100, 4, 1, 2, 5],
        &[2],
        Errno::Success,
    ),
    (
        "path_link",
        "iiiiiii",
        &[3, 0, 100, 4, 3, 120, 3],
        &[2, 5],
        Errno::Success,
    ),
    (
        "path_open",
        "iiiiiIIii",
        &[3, 0, 100, 4, 0, 2, 0, 0, 1000],
        &[2, 8],
        Errno::Success,
    ),
    (
        "path_readlink",
        "iiiiii",
        &[3, 130, 4, 1000, 10, 1012],
        &[1, 3, 5],
        Errno::Success,
    ),
    (
        "path_remove_directory",
        "iii",
        &[3, 110, 3],
        &[1],
        Errno::Success,
    ),
    (
        "path_rename",
        "iiiiii",
        &[3, 100, 4, 3, 120, 3],
        &[1, 4],
        Errno::Success,
    ),
    (
        "path_symlink",
        "iiiii",
        &[100, 4, 3, 120, 3],
        &[0, 3],
        Errno::Success,
    ),
    (
        "path_unlink_file",
        "iii",
        &[3, 100, 4],
        &[1],
        Errno::Success,
    ),
    (
        "poll_oneoff",
        "iiii",
        &[400, 512, 1, 1000],
        &[0, 1, 3],
        Errno::Success,
    ),
    ("proc_raise", "i", &[1], &[], Errno::Notsup),
    ("sched_yield", "", &[], &[], Errno::Success),
    ("random_get", "ii", &[1000, 16], &[0], Errno::Success),
    ("sock_accept", "iii", &[4, 0, 1000], &[2], Errno::Notsock),
    (
        "sock_recv",
        "iiiiii",
        &[4, 200, 1, 0, 1000, 1004],
        &[1, 4, 5],
        Errno::Notsock,
    ),
    (
        "sock_send",
        "iiiii",
        &[4, 200, 1, 0, 1000],
        &[1, 4],
        Errno::Notsock,
    ),
    ("sock_shutdown", "ii", &[4, 3], &[], Errno::Notsock),
];

fn wat_type(c: char) -> &'static str {
    if c == 'I' { "i64" } else { "i32" }
}

/// A module importing every case's function, with an exported wrapper
/// `t_NAME` for each, and memory laid out as the module docs say.
fn module_text() -> String {
    let mut imports = String::new();
    let mut wrappers = String::new();
    for (name, params, ..) in CASES {
        let ps: Vec<&str> = params.chars().map(wat_type).collect();
        let plist = ps.join(" ");
        imports.push_str(&format!(
            "(import \"wasi_snapshot_preview1\" \"{name}\" (func ${name} (param {plist}) (result i32)))\n"
        ));
        let gets: String = (0..ps.len()).map(|i| format!("(local.get {i})")).collect();
        wrappers.push_str(&format!(
            "(func (export \"t_{name}\") (param {plist}) (result i32) (call ${name} {gets}))\n"
        ));
    }
    format!(
        r#"(module
        {imports}
        (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
        (memory (export "memory") 1)
        (data (i32.const 100) "file")
        (data (i32.const 110) "dir")
        (data (i32.const 120) "new")
        (data (i32.const 130) "link")
        ;; iovec {{buf 300, len 4}}; a second one pointing out of memory
        (data (i32.const 200) "\2c\01\00\00\04\00\00\00")
        (data (i32.const 208) "\f0\ff\00\00\40\00\00\00")
        (data (i32.const 300) "abcd")
        ;; subscription: userdata 7, clock, monotonic, relative timeout 0
        (data (i32.const 400) "\07\00\00\00\00\00\00\00\00")
        (data (i32.const 416) "\01\00\00\00")
        ;; subscription: userdata 8, fd_read of descriptor 99 (not open)
        (data (i32.const 448) "\08\00\00\00\00\00\00\00\01")
        (data (i32.const 464) "\63\00\00\00")
        {wrappers}
        (func (export "exit") (param i32) (call $proc_exit (local.get 0)))
        (func (export "nested") (param i32) (call $proc_exit (local.get 0)))
        )"#
    )
}

struct Fixture {
    engine: Engine,
    module: Module,
    linker: Linker<WasiCtx>,
}

impl Fixture {
    fn new() -> Fixture {
        let engine = Engine::default();
        let module = Module::new(&engine, wat::parse_str(module_text()).unwrap()).unwrap();
        let mut linker = Linker::new(&engine);
        wasi::add_to_linker(&mut linker, |ctx| ctx).unwrap();
        Fixture {
            engine,
            module,
            linker,
        }
    }

    /// Calls `t_NAME` with `args` in a fresh store; returns the errno and
    /// the memory before and after.
    fn call(&self, name: &str, params: &str, args: &[u64]) -> (u32, Vec<u8>, Vec<u8>) {
        let (mut store, instance) = self.instance();
        let memory = instance.get_memory(&mut store, "memory").unwrap();
        let before = memory.data(&store).to_vec();
        let f = instance.get_func(&mut store, &format!("t_{name}")).unwrap();
        let vals: Vec<Val> = params
            .chars()
            .zip(args)
            .map(|(t, &a)| {
                if t == 'I' {
                    Val::I64(a as i64)
                } else {
                    Val::I32(a as u32 as i32)
                }
            })
            .collect();
        let mut out = [Val::I32(0)];
        f.call(&mut store, &vals, &mut out).unwrap();
        assert_eq!(out[0].ty(), ValType::I32);
        let after = memory.data(&store).to_vec();
        (out[0].unwrap_i32() as u32, before, after)
    }

    /// A fresh store over the fixture's filesystem, and the instance.
    fn instance(&self) -> (Store<WasiCtx>, wasmkern::Instance) {
        let fs = MemFs::new();
        fs.write_file("file", b"0123").unwrap();
        fs.create_dir_all("dir").unwrap();
        fs.symlink("file", "link").unwrap();
        let file = fs
            .root()
            .open_file(
                "file",
                &OpenOptions {
                    read: true,
                    write: true,
                    ..OpenOptions::default()
                },
            )
            .unwrap();
        let mut ctx = WasiCtxBuilder::new()
            .args(["prog", "a1"])
            .env("K", "V")
            .preopened_dir(fs.root(), "/", DirPerms::ReadWrite)
            .build();
        assert_eq!(ctx.push_file(file, FilePerms::ReadWrite).unwrap(), 4);
        let mut store = Store::new(&self.engine, ctx);
        let instance = self.linker.instantiate(&mut store, &self.module).unwrap();
        (store, instance)
    }
}

#[test]
fn covers_all_46_functions() {
    let mut names: Vec<&str> = CASES.iter().map(|c| c.0).collect();
    names.push("proc_exit");
    names.sort();
    let mut all = wasi::FUNCTIONS.to_vec();
    all.sort();
    assert_eq!(names, all);
}

#[test]
fn good_arguments() {
    let fx = Fixture::new();
    for (name, params, args, _, want) in CASES {
        let (errno, before, after) = fx.call(name, params, args);
        assert_eq!(errno, *want as u32, "{name}{args:?}");
        // Calls that only take inputs leave memory alone.
        if ![
            "args",
            "environ",
            "clock",
            "fd_fdstat_get",
            "fd_filestat_get",
            "fd_pread",
            "fd_prestat",
            "fd_pwrite",
            "fd_read",
            "fd_readdir",
            "fd_seek",
            "fd_tell",
            "fd_write",
            "path_filestat_get",
            "path_open",
            "path_readlink",
            "poll_oneoff",
            "random_get",
        ]
        .iter()
        .any(|p| name.starts_with(p))
        {
            assert!(before == after, "{name} wrote memory");
        }
    }
}

#[test]
fn good_results_land_where_asked() {
    let fx = Fixture::new();
    let (e, _, m) = fx.call("args_sizes_get", "ii", &[1000, 1008]);
    assert_eq!(e, 0);
    assert_eq!(&m[1000..1004], &2u32.to_le_bytes());
    assert_eq!(&m[1008..1012], &8u32.to_le_bytes()); // "prog\0a1\0"
    let (e, _, m) = fx.call("args_get", "ii", &[1000, 1100]);
    assert_eq!(e, 0);
    assert_eq!(&m[1000..1008], &[76, 4, 0, 0, 81, 4, 0, 0]);
    assert_eq!(&m[1100..1108], b"prog\0a1\0");
    let (e, _, m) = fx.call("fd_read", "iiii", &[4, 200, 1, 1000]);
    assert_eq!(e, 0);
    assert_eq!(&m[1000..1004], &4u32.to_le_bytes());
    assert_eq!(&m[300..304], b"0123");
    let (e, _, m) = fx.call("path_readlink", "iiiiii", &[3, 130, 4, 1000, 10, 1012]);
    assert_eq!(e, 0);
    assert_eq!(&m[1000..1004], b"file");
    assert_eq!(&m[1004..1010], &[0; 6]);
    assert_eq!(&m[1012..1016], &4u32.to_le_bytes());
    let (e, _, m) = fx.call("fd_prestat_get", "ii", &[3, 1000]);
    assert_eq!(e, 0);
    assert_eq!(&m[1000..1008], &[0, 0, 0, 0, 1, 0, 0, 0]);
    let (e, _, m) = fx.call("poll_oneoff", "iiii", &[400, 512, 1, 1000]);
    assert_eq!(e, 0);
    assert_eq!(&m[1000..1004], &1u32.to_le_bytes());
    assert_eq!(&m[512..520], &7u64.to_le_bytes());
    assert_eq!(m[522], 0, "clock event");
}

#[test]
fn every_pointer_out_of_bounds_is_efault_and_touches_nothing() {
    let fx = Fixture::new();
    let mut checked = 0;
    for (name, params, args, ptrs, base) in CASES {
        for &i in ptrs.iter() {
            for bad in [MEM, MEM + 8, 0xffff_fff8] {
                let mut a = args.to_vec();
                a[i] = bad;
                let (errno, before, after) = fx.call(name, params, &a);
                let want = if name.starts_with("sock_") {
                    *base
                } else {
                    Errno::Fault
                };
                assert_eq!(errno, want as u32, "{name} with argument {i} = {bad:#x}");
                assert!(
                    before == after,
                    "{name} with argument {i} = {bad:#x} wrote memory"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 90, "{checked}");
}

#[test]
fn buffers_inside_iovecs_are_checked() {
    let fx = Fixture::new();
    // The iovec at 208 points at 0xfff0 with length 64: past the end.
    for (name, params, args) in [
        ("fd_read", "iiii", &[4u64, 208, 1, 1000][..]),
        ("fd_write", "iiii", &[1, 208, 1, 1000]),
        ("fd_pread", "iiiIi", &[4, 208, 1, 0, 1000]),
        ("fd_pwrite", "iiiIi", &[4, 208, 1, 0, 1000]),
        // Two iovecs, the second bad: nothing is transferred at all.
        ("fd_read", "iiii", &[4, 200, 2, 1000]),
        ("fd_write", "iiii", &[1, 200, 2, 1000]),
    ] {
        let (errno, before, after) = fx.call(name, params, args);
        assert_eq!(errno, Errno::Fault as u32, "{name}{args:?}");
        assert!(before == after, "{name} wrote memory");
    }
    // Lengths whose sums overflow 32 bits.
    let (errno, ..) = fx.call("fd_write", "iiii", &[1, 200, 0x2000_0000, 1000]);
    assert_eq!(errno, Errno::Fault as u32);
    let (errno, ..) = fx.call(
        "path_open",
        "iiiiiIIii",
        &[3, 0, 100, u32::MAX as u64, 0, 0, 0, 0, 1000],
    );
    assert_eq!(errno, Errno::Fault as u32);
}

#[test]
fn misaligned_results_are_einval() {
    let fx = Fixture::new();
    for (name, params, args) in [
        ("fd_filestat_get", "ii", &[4u64, 1001][..]),
        ("fd_fdstat_get", "ii", &[1, 1004]),
        ("clock_time_get", "iIi", &[1, 0, 1004]),
        ("args_sizes_get", "ii", &[1001, 1008]),
        ("fd_read", "iiii", &[4, 201, 1, 1000]),
    ] {
        let (errno, before, after) = fx.call(name, params, args);
        assert_eq!(errno, Errno::Inval as u32, "{name}{args:?}");
        assert!(before == after, "{name} wrote memory");
    }
}

#[test]
fn proc_exit_ends_the_call_with_its_status() {
    let fx = Fixture::new();
    let mut store = Store::new(&fx.engine, WasiCtxBuilder::new().build());
    let instance = fx.linker.instantiate(&mut store, &fx.module).unwrap();
    let exit = instance
        .get_typed_func::<i32, ()>(&mut store, "exit")
        .unwrap();
    let err = exit.call(&mut store, 42).unwrap_err();
    assert_eq!(err.exit_status(), Some(42));
    assert_eq!(err.kind(), wasmkern::ErrorKind::Exit);
    assert!(err.trap().is_none());
    // The store stays usable after the exit unwound the call.
    let err = exit.call(&mut store, 0).unwrap_err();
    assert_eq!(err.exit_status(), Some(0));
    // Statuses of 126 and more are errors, not exits (as in Wasmtime).
    let err = exit.call(&mut store, 126).unwrap_err();
    assert_eq!(err.exit_status(), None);
    assert!(err.to_string().contains("invalid exit status"), "{err}");
}

#[test]
fn proc_exit_from_a_nested_call_unwinds_every_level() {
    let engine = Engine::default();
    let mut linker: Linker<WasiCtx> = Linker::new(&engine);
    wasi::add_to_linker(&mut linker, |ctx| ctx).unwrap();
    // The host calls wasm `outer`, which calls the host function `reenter`,
    // which calls wasm `inner`, which exits.
    linker
        .func_wrap(
            "env",
            "reenter",
            |mut caller: wasmkern::Caller<'_, WasiCtx>| -> wasmkern::Result<()> {
                let inner = caller.get_export("inner").unwrap().into_func().unwrap();
                inner.call(&mut caller, &[], &mut [])
            },
        )
        .unwrap();
    let wasm = wat::parse_str(
        r#"(module
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (import "env" "reenter" (func $reenter))
        (memory (export "memory") 1)
        (func (export "inner") (call $exit (i32.const 7)) unreachable)
        (func (export "outer") (call $reenter) unreachable)
        (func (export "ok") (result i32) (i32.const 5)))"#,
    )
    .unwrap();
    let module = Module::new(&engine, wasm).unwrap();
    let mut store = Store::new(&engine, WasiCtxBuilder::new().build());
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let outer = instance
        .get_typed_func::<(), ()>(&mut store, "outer")
        .unwrap();
    let err = outer.call(&mut store, ()).unwrap_err();
    assert_eq!(err.exit_status(), Some(7), "{err}");
    let ok = instance
        .get_typed_func::<(), i32>(&mut store, "ok")
        .unwrap();
    assert_eq!(ok.call(&mut store, ()).unwrap(), 5);
}

#[test]
fn wrong_descriptors_and_values() {
    let fx = Fixture::new();
    for (name, params, args, want) in [
        // stdout is write-only, the preopen a directory, 99 not open.
        ("fd_read", "iiii", &[1u64, 200, 1, 1000][..], Errno::Badf),
        ("fd_write", "iiii", &[3, 200, 1, 1000], Errno::Badf),
        ("fd_write", "iiii", &[99, 200, 1, 1000], Errno::Badf),
        ("fd_seek", "iIii", &[3, 0, 0, 1000], Errno::Badf),
        ("fd_close", "i", &[99], Errno::Badf),
        ("fd_renumber", "ii", &[4, 99], Errno::Badf),
        ("fd_prestat_get", "ii", &[4, 1000], Errno::Badf),
        (
            "fd_prestat_dir_name",
            "iii",
            &[3, 1000, 0],
            Errno::Nametoolong,
        ),
        ("fd_prestat_dir_name", "iii", &[4, 1000, 10], Errno::Notdir),
        // File-only operations on stdout (the null device), as Wasmtime.
        ("fd_sync", "i", &[1], Errno::Badf),
        ("fd_advise", "iIIi", &[1, 0, 0, 0], Errno::Badf),
        ("fd_filestat_set_size", "iI", &[1, 0], Errno::Badf),
        ("fd_filestat_set_times", "iIIi", &[1, 0, 0, 2], Errno::Badf),
        ("fd_seek", "iIii", &[1, 0, 1, 1000], Errno::Spipe),
        ("fd_pwrite", "iiiIi", &[1, 200, 1, 0, 1000], Errno::Spipe),
        // O_CREAT of an existing directory; O_CREAT|O_EXCL of one.
        (
            "path_open",
            "iiiiiIIii",
            &[3, 0, 110, 3, 1, 0, 0, 0, 1000],
            Errno::Isdir,
        ),
        (
            "path_open",
            "iiiiiIIii",
            &[3, 0, 110, 3, 5, 0, 0, 0, 1000],
            Errno::Exist,
        ),
        // O_DIRECTORY of a file, of a link to a file (followed or not).
        (
            "path_open",
            "iiiiiIIii",
            &[3, 0, 100, 4, 2, 0, 0, 0, 1000],
            Errno::Notdir,
        ),
        (
            "path_open",
            "iiiiiIIii",
            &[3, 1, 130, 4, 2, 0, 0, 0, 1000],
            Errno::Notdir,
        ),
        (
            "path_open",
            "iiiiiIIii",
            &[3, 0, 130, 4, 2, 0, 0, 0, 1000],
            Errno::Loop,
        ),
        (
            "path_open",
            "iiiiiIIii",
            &[3, 0, 130, 4, 0, 0, 0, 0, 1000],
            Errno::Loop,
        ),
        ("poll_oneoff", "iiii", &[448, 512, 1, 1000], Errno::Badf),
        ("sock_shutdown", "ii", &[4, 4], Errno::Inval),
        ("sock_shutdown", "ii", &[4, 0], Errno::Notsock),
        ("fd_readdir", "iiiIi", &[4, 1000, 100, 0, 1200], Errno::Badf),
        ("path_create_directory", "iii", &[4, 120, 3], Errno::Badf),
        ("fd_sync", "i", &[3], Errno::Badf),
        ("fd_fdstat_set_flags", "ii", &[3, 0], Errno::Badf),
        (
            "path_open",
            "iiiiiIIii",
            &[4, 0, 100, 4, 0, 0, 0, 0, 1000],
            Errno::Notdir,
        ),
        ("sock_shutdown", "ii", &[99, 3], Errno::Badf),
        // Values out of their enumerations or flags.
        ("clock_time_get", "iIi", &[9, 0, 1000], Errno::Inval),
        ("fd_advise", "iIIi", &[4, 0, 4, 9], Errno::Inval),
        ("fd_seek", "iIii", &[4, 0, 3, 1000], Errno::Inval),
        ("fd_seek", "iIii", &[4, -1i64 as u64, 0, 1000], Errno::Inval),
        (
            "path_open",
            "iiiiiIIii",
            &[3, 0, 100, 4, 0x10, 0, 0, 0, 1000],
            Errno::Inval,
        ),
        (
            "path_open",
            "iiiiiIIii",
            &[3, 2, 100, 4, 0, 0, 0, 0, 1000],
            Errno::Inval,
        ),
        ("fd_filestat_set_times", "iIIi", &[4, 1, 1, 3], Errno::Inval),
        ("fd_fdstat_set_flags", "ii", &[4, 0x20], Errno::Inval),
        ("poll_oneoff", "iiii", &[400, 512, 0, 1000], Errno::Inval),
        // Rights can only be dropped.
        (
            "fd_fdstat_set_rights",
            "iII",
            &[4, u64::MAX >> 34, 0],
            Errno::Notcapable,
        ),
        // Paths: escapes, links, missing.
        (
            "path_open",
            "iiiiiIIii",
            &[3, 0, 120, 3, 0, 0, 0, 0, 1000],
            Errno::Noent,
        ),
        ("path_create_directory", "iii", &[3, 110, 3], Errno::Exist),
        ("path_remove_directory", "iii", &[3, 100, 4], Errno::Notdir),
        ("path_unlink_file", "iii", &[3, 110, 3], Errno::Isdir),
        (
            "path_readlink",
            "iiiiii",
            &[3, 100, 4, 1000, 10, 1012],
            Errno::Inval,
        ),
    ] {
        let (errno, ..) = fx.call(name, params, args);
        assert_eq!(errno, want as u32, "{name}{args:?}");
    }
}

#[test]
fn descriptor_numbers_follow_wasmtime() {
    let fx = Fixture::new();
    let (mut store, instance) = fx.instance();
    let open = instance.get_func(&mut store, "t_path_open").unwrap();
    let close = instance
        .get_typed_func::<i32, i32>(&mut store, "t_fd_close")
        .unwrap();
    let memory = instance.get_memory(&mut store, "memory").unwrap();
    let open_file = |store: &mut Store<WasiCtx>| -> u32 {
        let args = [3, 0, 100, 4, 0].map(Val::I32);
        let args = [
            &args[..],
            &[Val::I64(2), Val::I64(0), Val::I32(0), Val::I32(1000)],
        ]
        .concat();
        let mut out = [Val::I32(-1)];
        open.call(&mut *store, &args, &mut out).unwrap();
        assert_eq!(out[0].unwrap_i32(), 0);
        let mut fd = [0u8; 4];
        memory.read(&*store, 1000, &mut fd).unwrap();
        u32::from_le_bytes(fd)
    };
    // 0-2 stdio, 3 the preopen, 4 the fixture's file.
    let a = open_file(&mut store);
    let b = open_file(&mut store);
    assert_eq!((a, b), (5, 6));
    assert_eq!(close.call(&mut store, a as i32).unwrap(), 0);
    assert_eq!(close.call(&mut store, b as i32).unwrap(), 0);
    // The highest freed number first, then the next one down, then new.
    assert_eq!(open_file(&mut store), 6);
    assert_eq!(open_file(&mut store), 5);
    assert_eq!(open_file(&mut store), 7);
}

#[test]
fn a_long_poll_oneoff_wait_is_interruptible() {
    let engine = Engine::default();
    let mut linker: Linker<WasiCtx> = Linker::new(&engine);
    wasi::add_to_linker(&mut linker, |ctx| ctx).unwrap();
    // One subscription: the monotonic clock, relative, one hour.
    let wasm = wat::parse_str(
        r#"(module
        (import "wasi_snapshot_preview1" "poll_oneoff"
            (func $poll (param i32 i32 i32 i32) (result i32)))
        (memory (export "memory") 1)
        (func (export "wait") (result i32)
            (i64.store (i32.const 0) (i64.const 1))
            (i32.store (i32.const 16) (i32.const 1))
            (i64.store (i32.const 24) (i64.const 3600000000000))
            (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128))))"#,
    )
    .unwrap();
    let module = Module::new(&engine, wasm).unwrap();
    let mut store = Store::new(&engine, WasiCtxBuilder::new().build());
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let wait = instance
        .get_typed_func::<(), i32>(&mut store, "wait")
        .unwrap();
    let handle = store.interrupt_handle();
    let interrupter = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(50));
        handle.interrupt();
    });
    let start = std::time::Instant::now();
    let err = wait.call(&mut store, ()).unwrap_err();
    interrupter.join().unwrap();
    assert_eq!(err.kind(), wasmkern::ErrorKind::Interrupted, "{err}");
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
    // The flag was cleared: the store runs again.
    assert!(!store.interrupt_handle().is_pending());
}
