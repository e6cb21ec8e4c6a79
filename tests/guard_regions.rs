//! `Config::guard_regions`: loads and stores carry no bounds checks, an
//! out-of-bounds access faults and the fault handler turns it into the same
//! trap, with the same backtrace, as the explicit checks; on every thread;
//! and faults that are not a guest's still end the process.
//! (Every access width at every boundary: `tests/escape.rs`; the spec
//! suites' memory files: `spec_guard_regions` in `tests/spec.rs`.)

use wasmkern::{Caller, Config, Engine, Func, Instance, Linker, Module, Store, Trap};

fn engine(guard_regions: bool) -> Engine {
    Engine::new(Config::new().guard_regions(guard_regions)).unwrap()
}

const DEEP: &str = r#"(module
    (memory 1)
    (func $load (param i32) (result i32)
      (i32.load offset=8 (local.get 0)))
    (func $middle (param i32) (result i32)
      (i32.add (i32.const 1) (call $load (local.get 0))))
    (func (export "outer") (param i32) (result i32)
      (call $middle (local.get 0))))"#;

#[test]
fn a_fault_has_the_backtrace_of_an_explicit_check() {
    let bytes = wat::parse_str(DEEP).unwrap();
    let frames: Vec<_> = [false, true]
        .into_iter()
        .map(|guard| {
            let engine = engine(guard);
            let module = Module::new(&engine, &bytes).unwrap();
            let mut store = Store::new(&engine, ());
            let instance = Instance::new(&mut store, &module, &[]).unwrap();
            let outer = instance
                .get_typed_func::<i32, i32>(&store, "outer")
                .unwrap();
            assert_eq!(outer.call(&mut store, 65_524).unwrap(), 1);
            let err = outer.call(&mut store, 65_525).unwrap_err();
            assert_eq!(err.trap(), Some(Trap::MemoryOutOfBounds), "guard {guard}");
            // The store stays usable after the fault.
            assert_eq!(outer.call(&mut store, 0).unwrap(), 1);
            err.backtrace().to_vec()
        })
        .collect();
    assert_eq!(frames[0], frames[1]);
    let names: Vec<_> = frames[1].iter().map(|f| f.func_index).collect();
    assert_eq!(names, [0, 1, 2]);
    // The innermost frame points at the i32.load (0x28).
    assert_eq!(bytes[frames[1][0].module_offset as usize], 0x28);
}

/// Wasm calls the host, which calls wasm that faults: the inner call traps,
/// the host sees the error, and the outer call goes on.
#[test]
fn a_fault_in_a_nested_call() {
    let engine = engine(true);
    let wat = r#"(module
        (import "env" "host" (func $host (param i32) (result i32)))
        (memory (export "mem") 1)
        (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
        (func (export "outer") (param i32) (result i32)
          (i32.add (call $host (local.get 0)) (i32.load (i32.const 0)))))"#;
    let module = Module::new(&engine, wat::parse_str(wat).unwrap()).unwrap();
    let mut store = Store::new(&engine, None::<Func>);
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap(
            "env",
            "host",
            |mut caller: Caller<'_, Option<Func>>, addr: i32| -> i32 {
                let load = caller.data().unwrap();
                let load = load.typed::<i32, i32>(&caller).unwrap();
                match load.call(&mut caller, addr) {
                    Ok(v) => v,
                    Err(e) => {
                        assert_eq!(e.trap(), Some(Trap::MemoryOutOfBounds));
                        100
                    }
                }
            },
        )
        .unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let load = instance.get_func(&store, "load").unwrap();
    *store.data_mut() = Some(load);
    let memory = instance.get_memory(&store, "mem").unwrap();
    memory.write(&mut store, 0, &7u32.to_le_bytes()).unwrap();
    let outer = instance
        .get_typed_func::<i32, i32>(&store, "outer")
        .unwrap();
    assert_eq!(outer.call(&mut store, 0).unwrap(), 14);
    assert_eq!(outer.call(&mut store, 65_536).unwrap(), 107);
}

const GROWING: &str = r#"(module
    (memory (export "mem") 1 4)
    (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
    (func (export "store") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
    (func (export "load") (param i32) (result i32) (i32.load (local.get 0))))"#;

/// Growing makes the next pages accessible in place; the maximum holds.
#[test]
fn growth_moves_the_boundary() {
    let engine = engine(true);
    let module = Module::new(&engine, wat::parse_str(GROWING).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let grow = instance.get_typed_func::<i32, i32>(&store, "grow").unwrap();
    let store_fn = instance
        .get_typed_func::<(i32, i32), ()>(&store, "store")
        .unwrap();
    let load = instance.get_typed_func::<i32, i32>(&store, "load").unwrap();
    store_fn.call(&mut store, (65_532, 5)).unwrap();
    let oob = store_fn.call(&mut store, (65_536, 6)).unwrap_err();
    assert_eq!(oob.trap(), Some(Trap::MemoryOutOfBounds));
    assert_eq!(grow.call(&mut store, 2).unwrap(), 1);
    store_fn.call(&mut store, (65_536, 6)).unwrap();
    store_fn.call(&mut store, (3 * 65_536 - 4, 7)).unwrap();
    assert_eq!(load.call(&mut store, 65_532).unwrap(), 5);
    assert_eq!(load.call(&mut store, 65_536).unwrap(), 6);
    assert_eq!(load.call(&mut store, 3 * 65_536 - 4).unwrap(), 7);
    assert!(load.call(&mut store, 3 * 65_536 - 3).is_err());
    assert_eq!(grow.call(&mut store, 2).unwrap(), -1);
    assert_eq!(grow.call(&mut store, 1).unwrap(), 3);
    let memory = instance.get_memory(&store, "mem").unwrap();
    assert_eq!(memory.data_size(&store), 4 * 65_536);
    assert!(memory.data(&store)[3 * 65_536..].iter().all(|&b| b == 0));
}

/// Each store on its own thread, faulting over and over; one thread without
/// an alternate signal stack of its own (the engine gives it one).
#[test]
fn faults_on_many_threads() {
    let engine = engine(true);
    let module = Module::new(&engine, wat::parse_str(GROWING).unwrap()).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (engine, module) = (engine.clone(), module.clone());
            std::thread::spawn(move || {
                if t == 0 {
                    let disable = libc::stack_t {
                        ss_sp: std::ptr::null_mut(),
                        ss_flags: libc::SS_DISABLE,
                        ss_size: 0,
                    };
                    // SAFETY: turning off this thread's alternate signal
                    // stack; nothing is using it.
                    assert_eq!(
                        unsafe { libc::sigaltstack(&disable, std::ptr::null_mut()) },
                        0
                    );
                }
                let mut store = Store::new(&engine, ());
                let instance = Instance::new(&mut store, &module, &[]).unwrap();
                let load = instance.get_typed_func::<i32, i32>(&store, "load").unwrap();
                for i in 0..2_000 {
                    let err = load.call(&mut store, 65_536 + i).unwrap_err();
                    assert_eq!(err.trap(), Some(Trap::MemoryOutOfBounds));
                    assert_eq!(load.call(&mut store, i).unwrap(), 0);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

/// Set in the child process of `a_host_fault_still_crashes`.
const CRASH_CHILD: &str = "WASMKERN_GUARD_CRASH_CHILD";

/// With the handler installed, a fault outside generated code is not
/// swallowed: the process dies of SIGSEGV as it would without wasmkern.
#[test]
fn a_host_fault_still_crashes() {
    if std::env::var_os(CRASH_CHILD).is_some() {
        let engine = engine(true);
        let module = Module::new(&engine, wat::parse_str(GROWING).unwrap()).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let load = instance.get_typed_func::<i32, i32>(&store, "load").unwrap();
        assert!(load.call(&mut store, 1 << 20).is_err());
        // SAFETY: deliberately violated: this child process exists to
        // fault at an address no mapping covers.
        unsafe { std::ptr::read_volatile(16 as *const u64) };
        std::process::exit(0);
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "a_host_fault_still_crashes", "--nocapture"])
        .env(CRASH_CHILD, "1")
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "{out:?}");
}

/// A host function instantiates a module while wasm code is suspended, and
/// puts its faulting function in the caller's table; when the suspended
/// code resumes and calls it, its fault is a trap: the fault handler knows
/// the instances made while the call was under way.
#[test]
fn a_fault_in_an_instance_made_during_the_call() {
    let engine = engine(true);
    let faulting = Module::new(
        &engine,
        wat::parse_str(
            r#"(module (memory 1)
                (func (export "load") (param i32) (result i32) (i32.load (local.get 0))))"#,
        )
        .unwrap(),
    )
    .unwrap();
    let caller_wat = r#"(module
        (import "env" "make" (func $make))
        (type $t (func (param i32) (result i32)))
        (table (export "t") 1 funcref)
        (func (export "run") (param i32) (result i32)
          (call $make)
          (call_indirect (type $t) (local.get 0) (i32.const 0))))"#;
    let module = Module::new(&engine, wat::parse_str(caller_wat).unwrap()).unwrap();
    let mut store = Store::new(&engine, None::<wasmkern::Table>);
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap(
            "env",
            "make",
            move |mut caller: Caller<'_, Option<wasmkern::Table>>| {
                let table = caller.data().unwrap();
                let instance = Instance::new(&mut caller, &faulting, &[]).unwrap();
                let load = instance.get_func(&caller, "load").unwrap();
                table
                    .set(&mut caller, 0, wasmkern::Val::FuncRef(Some(load)))
                    .unwrap();
            },
        )
        .unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    *store.data_mut() = instance.get_table(&store, "t");
    let run = instance.get_typed_func::<i32, i32>(&store, "run").unwrap();
    assert_eq!(run.call(&mut store, 0).unwrap(), 0);
    let err = run.call(&mut store, 65_534).unwrap_err();
    assert_eq!(err.trap(), Some(Trap::MemoryOutOfBounds), "{err}");
    assert_eq!(run.call(&mut store, 8).unwrap(), 0);
}

/// A fault in a host function that wasm called is the host's, not a trap:
/// the process dies of SIGSEGV as it would without wasmkern, although the
/// call into wasm (and its fault scope) is still under way.
#[test]
fn a_fault_in_a_host_function_still_crashes() {
    const CHILD: &str = "WASMKERN_GUARD_HOST_FN_CRASH_CHILD";
    if std::env::var_os(CHILD).is_some() {
        let engine = engine(true);
        let wat = r#"(module
            (import "env" "bad" (func $bad))
            (memory 1)
            (func (export "run") (drop (i32.load (i32.const 0))) (call $bad)))"#;
        let module = Module::new(&engine, wat::parse_str(wat).unwrap()).unwrap();
        let mut store = Store::new(&engine, ());
        let mut linker = Linker::new(&engine);
        linker
            .func_wrap("env", "bad", || {
                // SAFETY: deliberately violated: this child process exists
                // to fault at an address no mapping covers.
                unsafe { std::ptr::read_volatile(16 as *const u64) };
            })
            .unwrap();
        let instance = linker.instantiate(&mut store, &module).unwrap();
        let run = instance.get_typed_func::<(), ()>(&store, "run").unwrap();
        let _ = run.call(&mut store, ());
        std::process::exit(0);
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_fault_in_a_host_function_still_crashes",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "{out:?}");
}
