//! The threads an engine compiles on: started at its first parallel
//! compilation, kept for the next ones, and gone once the engine (and
//! every module holding it) is dropped. The threads are recognized by
//! their name in `/proc/self/task/*/comm`, so threads of the test harness
//! do not count. One test, so that no other test's engines start
//! threads meanwhile.

use std::time::{Duration, Instant};
use wasmkern::{Config, Engine, Instance, Module, Store};

/// The thread ids of this process's compiling threads.
fn compiling_threads() -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task lists this process's threads")
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let comm = std::fs::read_to_string(entry.path().join("comm")).ok()?;
            (comm.trim_end() == "wasmkern-worker")
                .then(|| entry.file_name().to_string_lossy().into_owned())
        })
        .collect();
    ids.sort();
    ids
}

/// The compiling threads once their number is `n`, waiting a little for
/// exited threads to leave `/proc` (a joined thread may linger there a
/// moment) and new ones to take their name; the last count if it never
/// gets there.
fn compiling_threads_settled(n: usize) -> Vec<String> {
    let start = Instant::now();
    loop {
        let threads = compiling_threads();
        if threads.len() == n || start.elapsed() > Duration::from_secs(5) {
            return threads;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// 64 functions, function `i` returning `i` plus function `i + 1`'s
/// result: enough for every core to get a share.
fn module_bytes() -> Vec<u8> {
    let mut wat = String::from("(module");
    for i in 0..64 {
        let body = if i < 63 {
            format!("(i32.add (i32.const {i}) (call {}))", i + 1)
        } else {
            format!("(i32.const {i})")
        };
        wat.push_str(&format!("(func (result i32) {body})"));
    }
    wat.push_str("(export \"f0\" (func 0)))");
    wat::parse_str(&wat).expect("valid text")
}

fn run(engine: &Engine, module: &Module) -> i32 {
    let mut store = Store::new(engine, ());
    let instance = Instance::new(&mut store, module, &[]).expect("instantiates");
    let f0 = instance
        .get_typed_func::<(), i32>(&mut store, "f0")
        .expect("f0 is exported");
    f0.call(&mut store, ()).expect("runs")
}

#[test]
fn engines_keep_their_compiling_threads_and_stop_them_when_dropped() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = cores - 1;
    let bytes = module_bytes();
    let sum: i32 = (0..64).sum();
    assert!(compiling_threads().is_empty(), "no engine yet");
    for round in 0..20 {
        let engine = Engine::new(Config::new().parallel_compilation(true)).expect("engine");
        assert!(
            compiling_threads().is_empty(),
            "round {round}: threads before any compilation"
        );
        let module = Module::new(&engine, &bytes).expect("compiles");
        // A new thread takes its name once it first runs.
        let first = compiling_threads_settled(workers);
        assert_eq!(first.len(), workers, "round {round}: threads kept");
        let again = Module::new(&engine, &bytes).expect("compiles");
        assert_eq!(
            compiling_threads(),
            first,
            "round {round}: the same threads"
        );
        assert_eq!(run(&engine, &module), sum);
        assert_eq!(run(&engine, &again), sum);
        drop(engine);
        // The modules hold the engine: its threads stay until they go.
        assert_eq!(compiling_threads(), first, "round {round}: held by modules");
        drop((module, again));
        assert_eq!(
            compiling_threads_settled(0),
            Vec::<String>::new(),
            "round {round}: threads left after the engine was dropped"
        );
    }
    // An engine compiling on one thread starts none.
    let engine = Engine::new(Config::new().parallel_compilation(false)).expect("engine");
    let module = Module::new(&engine, &bytes).expect("compiles");
    assert!(compiling_threads().is_empty(), "sequential engine");
    assert_eq!(run(&engine, &module), sum);

    // Engines on several threads at once, each compiling and dropped.
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..5 {
                    let engine =
                        Engine::new(Config::new().parallel_compilation(true)).expect("engine");
                    let module = Module::new(&engine, &bytes).expect("compiles");
                    assert_eq!(run(&engine, &module), sum);
                }
            });
        }
    });
    assert_eq!(
        compiling_threads_settled(0),
        Vec::<String>::new(),
        "threads left by the concurrent engines"
    );
}
