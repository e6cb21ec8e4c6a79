//! The workloads of `benches/workloads/`: their wasm files and their native
//! builds (compiled by `build.rs` with each `run` renamed `wk_run_<name>`).

use std::path::PathBuf;

use crate::engines::Ret;

pub struct Workload {
    pub name: &'static str,
    pub what: &'static str,
    pub ret: Ret,
    pub native: Native,
}

#[derive(Clone, Copy)]
pub enum Native {
    I32(unsafe extern "C" fn() -> i32),
    I64(unsafe extern "C" fn() -> i64),
}

impl Native {
    /// Runs the native build once and returns its checksum.
    pub fn run(self) -> i64 {
        // SAFETY: the workloads are self-contained C functions without
        // arguments; they only touch their own static arrays.
        unsafe {
            match self {
                Native::I32(f) => i64::from(f()),
                Native::I64(f) => f(),
            }
        }
    }
}

unsafe extern "C" {
    fn wk_run_fib() -> i32;
    fn wk_run_sieve() -> i64;
    fn wk_run_matmul() -> i64;
    fn wk_run_nbody() -> i64;
    fn wk_run_hash() -> i64;
    fn wk_run_interp() -> i32;
    fn wk_run_sort() -> i64;
    fn wk_run_bulk() -> i64;
    fn wk_run_tail_vm() -> i64;
    fn wk_run_call_vm() -> i64;
}

pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "fib",
        what: "recursive calls (fib 39)",
        ret: Ret::I32,
        native: Native::I32(wk_run_fib),
    },
    Workload {
        name: "sieve",
        what: "memory-bound loops (sieve, prefix sums)",
        ret: Ret::I64,
        native: Native::I64(wk_run_sieve),
    },
    Workload {
        name: "matmul",
        what: "f64 matrix multiply 256x256",
        ret: Ret::I64,
        native: Native::I64(wk_run_matmul),
    },
    Workload {
        name: "nbody",
        what: "f64 n-body with sqrt",
        ret: Ret::I64,
        native: Native::I64(wk_run_nbody),
    },
    Workload {
        name: "hash",
        what: "integer hashing with rotates",
        ret: Ret::I64,
        native: Native::I64(wk_run_hash),
    },
    Workload {
        name: "interp",
        what: "switch-dispatch bytecode VM (br_table)",
        ret: Ret::I32,
        native: Native::I32(wk_run_interp),
    },
    Workload {
        name: "sort",
        what: "quicksort via comparator (call_indirect)",
        ret: Ret::I64,
        native: Native::I64(wk_run_sort),
    },
    Workload {
        name: "bulk",
        what: "memory.copy / memory.fill",
        ret: Ret::I64,
        native: Native::I64(wk_run_bulk),
    },
    // Written in the text format (tail_vm.wat, call_vm.wat); the native
    // baseline is the same VM in C (tail_vm.c with clang's musttail).
    Workload {
        name: "tail_vm",
        what: "threaded-code VM, handlers end in return_call_indirect",
        ret: Ret::I64,
        native: Native::I64(wk_run_tail_vm),
    },
    Workload {
        name: "call_vm",
        what: "the same VM with a call_indirect dispatch loop",
        ret: Ret::I64,
        native: Native::I64(wk_run_call_vm),
    },
];

pub fn find(name: &str) -> Option<&'static Workload> {
    WORKLOADS.iter().find(|w| w.name == name)
}

/// `benches/workloads/`.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../workloads")
}

/// The committed wasm file of workload `name` (or `calls`).
pub fn wasm_path(name: &str) -> PathBuf {
    dir().join(format!("{name}.wasm"))
}
