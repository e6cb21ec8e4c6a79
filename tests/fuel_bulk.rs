//! Fuel and interruption bound bulk work: `memory.fill/copy/init`,
//! `table.fill/copy/init`, `memory.grow` and `table.grow` cost fuel in
//! proportion to the bytes, elements or pages they touch, stop before
//! writing anything when that fuel is not there, and an interrupt lands
//! inside a long operation. Both stay resumable.
//!
//! The expected costs come from the documented rates
//! ([`Config::consume_fuel`]: one unit per 64 bytes, per 8 table elements,
//! 1,024 per page grown, rounded down), never from a run: each test
//! compares two calls of the same function that differ only in length, so
//! the operators' own cost cancels out.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};
use wasmkern::{
    CallOutcome, Caller, Config, Engine, ErrorKind, Instance, Linker, Memory, Module, PauseReason,
    Store, Val,
};

/// The documented rates.
const BYTES_PER_FUEL: u64 = 64;
const ELEMENTS_PER_FUEL: u64 = 8;
const FUEL_PER_PAGE: u64 = 1024;

const MIB: u32 = 1 << 20;

/// A module with one memory of `pages` pages and a table, exporting each
/// bulk operator with its operands as parameters. `$d` is a passive data
/// segment of 4,096 bytes, `$e` a passive element segment of
/// `elem_len` references to `$f`. `host.poke` is called before the
/// operation in the `*_after_host` functions.
fn module_text(pages: u32, elem_len: usize) -> String {
    let elems = "$f ".repeat(elem_len);
    let data = "a".repeat(4096);
    format!(
        r#"(module
    (import "host" "poke" (func $poke))
    (func $f)
    (memory (export "mem") {pages})
    (table $t 1024 funcref)
    (data $d "{data}")
    (elem $e func {elems})
    (func (export "fill") (param i32 i32 i32)
        (memory.fill (local.get 0) (local.get 1) (local.get 2)))
    (func (export "copy") (param i32 i32 i32)
        (memory.copy (local.get 0) (local.get 1) (local.get 2)))
    (func (export "copy_loop") (param i32 i32 i32)
        (loop $l (memory.copy (local.get 0) (local.get 1) (local.get 2)) (br $l)))
    (func (export "init") (param i32 i32 i32)
        (memory.init $d (local.get 0) (local.get 1) (local.get 2)))
    (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
    (func (export "table_fill") (param i32 i32)
        (table.fill $t (local.get 0) (ref.func $f) (local.get 1)))
    (func (export "table_copy") (param i32 i32 i32)
        (table.copy $t $t (local.get 0) (local.get 1) (local.get 2)))
    (func (export "table_init") (param i32 i32 i32)
        (table.init $t $e (local.get 0) (local.get 1) (local.get 2)))
    (func (export "table_grow") (param i32) (result i32)
        (table.grow $t (ref.null func) (local.get 0)))
    (func (export "fill_after_host") (param i32 i32 i32)
        (call $poke)
        (memory.fill (local.get 0) (local.get 1) (local.get 2)))
    (func (export "copy_after_host") (param i32 i32 i32)
        (call $poke)
        (memory.copy (local.get 0) (local.get 1) (local.get 2))))"#
    )
}

#[derive(Clone, Copy)]
struct Mode {
    fuel: bool,
    interruptible: bool,
    guard: bool,
}

const FUEL: Mode = Mode {
    fuel: true,
    interruptible: false,
    guard: false,
};

/// What `host.poke` does.
#[derive(Default)]
struct Host {
    /// Interrupts the store (the handle is set when wanted).
    interrupt: Option<wasmkern::InterruptHandle>,
    /// Signals that the guest is about to start its operation.
    started: Option<mpsc::Sender<()>>,
}

struct Setup {
    store: Store<Host>,
    instance: Instance,
    memory: Memory,
}

fn setup(mode: Mode, pages: u32, elem_len: usize) -> Setup {
    let mut config = Config::new();
    config
        .consume_fuel(mode.fuel)
        .interruptible(mode.interruptible)
        .guard_regions(mode.guard);
    let engine = Engine::new(&config).unwrap();
    let wasm = wat::parse_str(module_text(pages, elem_len)).unwrap();
    let module = Module::new(&engine, wasm).unwrap();
    let mut store = Store::new(&engine, Host::default());
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap("host", "poke", |caller: Caller<'_, Host>| {
            if let Some(h) = &caller.data().interrupt {
                h.interrupt();
            }
            if let Some(tx) = &caller.data().started {
                let _ = tx.send(());
            }
        })
        .unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let memory = instance.get_memory(&store, "mem").unwrap();
    Setup {
        store,
        instance,
        memory,
    }
}

impl Setup {
    fn call(&mut self, name: &str, args: &[i32]) -> wasmkern::Result<Vec<Val>> {
        let f = self.instance.get_func(&self.store, name).unwrap();
        let params: Vec<Val> = args.iter().map(|&a| Val::I32(a)).collect();
        let mut results = vec![Val::I32(0); f.ty(&self.store).results().len()];
        f.call(&mut self.store, &params, &mut results)?;
        Ok(results)
    }

    /// The fuel `name(args)` consumes, starting from plenty.
    fn cost(&mut self, name: &str, args: &[i32]) -> u64 {
        const PLENTY: u64 = 1 << 40;
        self.store.set_fuel(PLENTY).unwrap();
        self.call(name, args).unwrap();
        PLENTY - self.store.get_fuel().unwrap()
    }

    fn byte(&self, at: usize) -> u8 {
        let mut b = [0u8];
        self.memory.read(&self.store, at, &mut b).unwrap();
        b[0]
    }
}

fn bulk(units: u64, per_fuel: u64) -> u64 {
    units / per_fuel
}

/// The fuel of a call of `name` with `len` as its last operand minus that
/// of the same call with `len = 0`, for each length.
fn extra_costs(s: &mut Setup, name: &str, lead: &[i32], lens: &[u32]) -> Vec<u64> {
    let mut args = lead.to_vec();
    args.push(0);
    let base = s.cost(name, &args);
    lens.iter()
        .map(|&len| {
            *args.last_mut().unwrap() = len as i32;
            s.cost(name, &args) - base
        })
        .collect()
}

#[test]
fn memory_bulk_costs_follow_the_length() {
    for mode in [
        FUEL,
        Mode {
            interruptible: true,
            ..FUEL
        },
    ] {
        let mut s = setup(mode, 128, 16);
        let lens = [1, 63, 64, 65, 127, 128, MIB, 2 * MIB, 3 * MIB + 100];
        let want: Vec<u64> = lens
            .iter()
            .map(|&l| bulk(l.into(), BYTES_PER_FUEL))
            .collect();
        assert_eq!(extra_costs(&mut s, "fill", &[0, 7], &lens), want, "fill");
        // Forward, backward (overlapping) and disjoint copies.
        for (dst, src) in [(0, 100), (100, 0), (0, 3 * MIB as i32 + 200)] {
            assert_eq!(
                extra_costs(&mut s, "copy", &[dst, src], &lens),
                want,
                "copy {dst} <- {src}"
            );
        }
        // 2 MiB costs 16,384 more than 1 MiB: 1 MiB / 64.
        let one = s.cost("fill", &[0, 1, MIB as i32]);
        let two = s.cost("fill", &[0, 1, 2 * MIB as i32]);
        assert_eq!(two - one, 16_384);
        let init_lens = [1, 63, 64, 1024, 2048, 4096];
        let init_want: Vec<u64> = init_lens
            .iter()
            .map(|&l| bulk(l.into(), BYTES_PER_FUEL))
            .collect();
        assert_eq!(
            extra_costs(&mut s, "init", &[0, 0], &init_lens),
            init_want,
            "init"
        );
    }
}

#[test]
fn host_path_charges_like_the_inline_path() {
    // With interruption checks, fills and copies above 16 MiB go through
    // the host in chunks; their cost follows the same formula.
    let mode = Mode {
        interruptible: true,
        ..FUEL
    };
    let mut s = setup(mode, 1024, 16);
    let lens = [16 * MIB, 16 * MIB + 64, 40 * MIB + 1];
    let want: Vec<u64> = lens
        .iter()
        .map(|&l| bulk(l.into(), BYTES_PER_FUEL))
        .collect();
    assert_eq!(extra_costs(&mut s, "fill", &[0, 9], &lens), want);
    assert_eq!(extra_costs(&mut s, "copy", &[5, 0], &lens), want);
    assert_eq!(
        extra_costs(&mut s, "copy", &[0, 20 * MIB as i32], &[40 * MIB]),
        [bulk(40 * MIB as u64, BYTES_PER_FUEL)]
    );
}

#[test]
fn table_bulk_costs_follow_the_length() {
    let mut s = setup(FUEL, 1, 1000);
    let lens = [1, 7, 8, 9, 500, 1000];
    let want: Vec<u64> = lens
        .iter()
        .map(|&l| bulk(l.into(), ELEMENTS_PER_FUEL))
        .collect();
    assert_eq!(extra_costs(&mut s, "table_fill", &[0], &lens), want);
    assert_eq!(extra_costs(&mut s, "table_copy", &[0, 24], &lens), want);
    assert_eq!(extra_costs(&mut s, "table_copy", &[24, 0], &lens), want);
    assert_eq!(extra_costs(&mut s, "table_init", &[0, 0], &lens), want);
}

#[test]
fn growth_costs_follow_the_pages_and_elements() {
    let mut s = setup(FUEL, 1, 16);
    let base = s.cost("grow", &[0]);
    let one = s.cost("grow", &[1]);
    let three = s.cost("grow", &[3]);
    assert_eq!(one - base, FUEL_PER_PAGE);
    assert_eq!(three - base, 3 * FUEL_PER_PAGE);
    // A growth past the maximum is refused (-1) and charged nothing extra.
    assert_eq!(s.call("grow", &[65_536]).unwrap(), [Val::I32(-1)]);
    assert_eq!(s.cost("grow", &[65_536]), base);
    let base = s.cost("table_grow", &[0]);
    assert_eq!(s.cost("table_grow", &[8]) - base, 1);
    assert_eq!(s.cost("table_grow", &[1000]) - base, 125);
    assert_eq!(s.cost("table_grow", &[1007]) - base, 125);
}

/// Asserts that `name(args)` stops with `OutOfFuel` within `bound`.
fn stops_out_of_fuel(s: &mut Setup, name: &str, args: &[i32], bound: Duration) {
    let start = Instant::now();
    let err = s.call(name, args).unwrap_err();
    let took = start.elapsed();
    assert_eq!(err.kind(), ErrorKind::OutOfFuel, "{name}{args:?}: {err}");
    assert!(took < bound, "{name}{args:?} took {took:?}");
}

#[test]
fn a_4_gib_fill_with_little_fuel_stops_before_writing() {
    let mode = Mode {
        guard: true,
        ..FUEL
    };
    let mut s = setup(mode, 65_536, 16);
    s.store.set_fuel(200).unwrap();
    stops_out_of_fuel(&mut s, "fill", &[0, 0xAB, -1], Duration::from_secs(1));
    for at in [0, 1 << 20, (1 << 32) - 2] {
        assert_eq!(s.byte(at), 0, "byte {at:#x} was written");
    }
    // The fuel the fill needs was not taken: only the operators' own.
    assert!(s.store.get_fuel().unwrap() > 150);
}

#[test]
fn a_loop_of_2_gib_copies_with_little_fuel_stops_before_copying() {
    let mode = Mode {
        guard: true,
        ..FUEL
    };
    let mut s = setup(mode, 65_536, 16);
    s.memory.write(&mut s.store, 1 << 31, &[0x5A]).unwrap();
    s.store.set_fuel(200).unwrap();
    stops_out_of_fuel(
        &mut s,
        "copy_loop",
        &[0, 1 << 31, 1 << 31],
        Duration::from_secs(1),
    );
    assert_eq!(s.byte(0), 0, "the copy ran");
}

#[test]
fn an_expensive_fill_pauses_and_resumes() {
    for mode in [
        FUEL,
        Mode {
            interruptible: true,
            ..FUEL
        },
    ] {
        let len = 48 * MIB;
        let mut s = setup(mode, 1024, 16);
        s.store.set_fuel(1000).unwrap();
        let fill = s.instance.get_func(&s.store, "fill").unwrap();
        let args = [Val::I32(0), Val::I32(0xCD), Val::I32(len as i32)];
        let outcome = fill.call_resumable(&mut s.store, &args, &mut []).unwrap();
        let CallOutcome::Paused(call) = outcome else {
            panic!("a fill needing {} fuel finished on 1000", len / 64)
        };
        assert_eq!(call.reason(), PauseReason::OutOfFuel);
        assert_eq!(s.byte(0), 0, "written before its fuel was there");
        let need = bulk(len.into(), BYTES_PER_FUEL);
        // Enough for the fill but one unit: it pauses again, unchanged.
        let left = s.store.get_fuel().unwrap();
        s.store.set_fuel(need - 1).unwrap();
        let CallOutcome::Paused(call) = call.resume(&mut s.store, &mut []).unwrap() else {
            panic!("finished one unit short")
        };
        assert!(left < 1000);
        assert_eq!(s.byte(0), 0);
        s.store.set_fuel(need + 100).unwrap();
        assert!(call.resume(&mut s.store, &mut []).unwrap().is_finished());
        for at in [0, len as usize / 2, len as usize - 1] {
            assert_eq!(s.byte(at), 0xCD);
        }
        assert_eq!(s.byte(len as usize), 0);
        assert!(s.store.get_fuel().unwrap() <= 100);
    }
}

#[test]
fn growing_by_65535_pages_with_little_fuel_commits_nothing() {
    let mut s = setup(FUEL, 1, 16);
    s.store.set_fuel(1000).unwrap();
    stops_out_of_fuel(&mut s, "grow", &[65_535], Duration::from_secs(1));
    assert_eq!(s.memory.size(&s.store), 1);
    // Resumable: with the fuel of 1,000 pages (64 MiB) it grows.
    let grow = s.instance.get_func(&s.store, "grow").unwrap();
    s.store.set_fuel(1000).unwrap();
    let mut result = [Val::I32(0)];
    let outcome = grow
        .call_resumable(&mut s.store, &[Val::I32(1000)], &mut result)
        .unwrap();
    let CallOutcome::Paused(call) = outcome else {
        panic!("grew without its fuel")
    };
    assert_eq!(call.reason(), PauseReason::OutOfFuel);
    assert_eq!(s.memory.size(&s.store), 1);
    s.store.set_fuel(1000 * FUEL_PER_PAGE).unwrap();
    assert!(
        call.resume(&mut s.store, &mut result)
            .unwrap()
            .is_finished()
    );
    assert_eq!(result, [Val::I32(1)]);
    assert_eq!(s.memory.size(&s.store), 1001);
    assert_eq!(s.store.get_fuel().unwrap(), 0);
}

#[test]
fn table_init_of_nothing_from_a_huge_segment_is_cheap_and_charged() {
    let mut s = setup(FUEL, 1, 1_000_000);
    let base = s.cost("table_init", &[0, 999_990, 0]);
    assert_eq!(s.cost("table_init", &[0, 999_990, 8]) - base, 1);
    // Past the segment's end: a trap, whatever the length.
    s.store.set_fuel(1000).unwrap();
    let err = s.call("table_init", &[0, 999_999, 2]).unwrap_err();
    assert_eq!(err.trap(), Some(wasmkern::abi::TrapCode::TableOutOfBounds));
    s.store.set_fuel(1 << 40).unwrap();
    let start = Instant::now();
    for _ in 0..200 {
        s.call("table_init", &[0, 500_000, 0]).unwrap();
    }
    let took = start.elapsed();
    // Two hundred calls that each evaluated the whole segment took
    // about 0.4 s; each now touches none of it.
    assert!(took < Duration::from_millis(100), "took {took:?}");
}

/// Runs `name(args)` resumably on a store whose host function interrupts
/// it right before the operation; returns how many times it paused.
fn run_interrupted(s: &mut Setup, name: &str, args: &[i32]) -> usize {
    s.store.data_mut().interrupt = Some(s.store.interrupt_handle());
    let f = s.instance.get_func(&s.store, name).unwrap();
    let params: Vec<Val> = args.iter().map(|&a| Val::I32(a)).collect();
    let mut outcome = f.call_resumable(&mut s.store, &params, &mut []).unwrap();
    s.store.data_mut().interrupt = None;
    let mut pauses = 0;
    while let CallOutcome::Paused(call) = outcome {
        assert_eq!(call.reason(), PauseReason::Interrupted);
        pauses += 1;
        outcome = call.resume(&mut s.store, &mut []).unwrap();
    }
    pauses
}

#[test]
fn interrupted_bulk_operations_resume_to_the_right_result() {
    const LEN: usize = 64 << 20;
    let mode = Mode {
        fuel: true,
        interruptible: true,
        guard: false,
    };
    let pattern: Vec<u8> = (0..LEN).map(|i| (i * 7 % 251) as u8).collect();
    // (function, dst, src or value, len): a fill, a forward copy, an
    // overlapping copy upwards (done from the end down) and one downwards.
    let cases: [(&str, usize, usize, usize); 4] = [
        ("fill_after_host", 3, 0x77, 40 << 20),
        ("copy_after_host", 1000, 20 << 20, 40 << 20),
        ("copy_after_host", (1 << 20) + 5, 5, 48 << 20),
        ("copy_after_host", 5, (1 << 20) + 5, 48 << 20),
    ];
    for (name, dst, second, len) in cases {
        let mut s = setup(mode, (LEN >> 16) as u32, 16);
        s.memory.write(&mut s.store, 0, &pattern).unwrap();
        let mut model = pattern.clone();
        if name == "fill_after_host" {
            model[dst..dst + len].fill(second as u8);
        } else {
            model.copy_within(second..second + len, dst);
        }
        let args = [dst as i32, second as i32, len as i32];
        let uninterrupted = {
            let mut t = setup(mode, (LEN >> 16) as u32, 16);
            t.cost(name, &args)
        };
        s.store.set_fuel(1 << 40).unwrap();
        let pauses = run_interrupted(&mut s, name, &args);
        assert_eq!(pauses, 1, "{name}{args:?}");
        assert!(
            s.memory.data(&s.store) == &model[..],
            "{name}{args:?}: memory differs from the model"
        );
        // Interrupted or not, the operation costs the same.
        assert_eq!((1 << 40) - s.store.get_fuel().unwrap(), uninterrupted);
    }
}

#[test]
fn an_interrupt_lands_inside_a_1_gib_fill() {
    let mode = Mode {
        fuel: false,
        interruptible: true,
        guard: true,
    };
    let mut s = setup(mode, 16_384, 16);
    let (tx, rx) = mpsc::channel();
    s.store.data_mut().started = Some(tx);
    let handle = s.store.interrupt_handle();
    let interrupter = thread::spawn(move || {
        rx.recv().unwrap();
        thread::sleep(Duration::from_millis(20));
        let at = Instant::now();
        handle.interrupt();
        at
    });
    let err = s.call("fill_after_host", &[0, 0xEE, 1 << 30]).unwrap_err();
    let stopped = Instant::now();
    let at = interrupter.join().unwrap();
    assert_eq!(err.kind(), ErrorKind::Interrupted);
    let latency = stopped.saturating_duration_since(at);
    assert!(
        latency < Duration::from_millis(100),
        "landed after {latency:?}"
    );
    // It stopped inside the fill: begun, not finished.
    assert_eq!(s.byte(0), 0xEE);
    assert_eq!(s.byte((1 << 30) - 1), 0, "the fill finished");
}
