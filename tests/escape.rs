//! A guest cannot reach outside its sandbox: every memory access at every
//! boundary traps (and never touches host memory), `memory.fill` and
//! `memory.copy` too (writing nothing when they trap, copying like
//! `memmove`, keeping the registers they borrow), table and indirect-call
//! faults trap, host errors and deep traps come back as the right error with
//! the store usable, and no mapping is ever writable and executable.
//!
//! "Never touches host memory" is checked outside the linear memory too:
//! this test binary's global allocator ([`Redzone`]) surrounds every heap
//! allocation with [`RED`] bytes of canaries, and with explicit bounds
//! checks a linear memory is one heap allocation of exactly its size, so
//! after every access [`check_boundaries`] reads the 4 KiB before and after
//! the memory's bytes and requires them unchanged. (With guard regions the
//! bytes around the memory are an inaccessible reservation: an access there
//! faults, which the trap shows.)

use std::alloc::{GlobalAlloc, Layout, System};

use wasmkern::{Caller, Config, Engine, Error, Func, Instance, Linker, Module, Store, Trap, Val};

/// Canary bytes on each side of every heap allocation.
const RED: usize = 4096;
/// What the canary bytes hold.
const CANARY: u8 = 0xa5;
/// The last 16 bytes before an allocation: this magic number, then the
/// allocation's size.
const MAGIC: u64 = 0x7265_647a_6f6e_6521;

/// The system allocator, with [`RED`] canary bytes before and after each
/// allocation (the front zone ends with [`MAGIC`] and the size).
struct Redzone;

impl Redzone {
    /// The size of the zone on each side and the outer layout of an
    /// allocation of `layout`.
    fn outer(layout: Layout) -> Option<(usize, Layout)> {
        let red = RED.max(layout.align());
        let size = layout.size().checked_add(2 * red)?;
        Some((red, Layout::from_size_align(size, layout.align()).ok()?))
    }
}

// SAFETY: every block handed out is `layout.size()` bytes inside a larger
// block from `System` with the same alignment (`red` is a multiple of the
// alignment), and `dealloc` gives `System` back exactly the block and layout
// it returned.
unsafe impl GlobalAlloc for Redzone {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some((red, outer)) = Redzone::outer(layout) else {
            return std::ptr::null_mut();
        };
        // SAFETY: `outer` has a non-zero size.
        let base = unsafe { System.alloc(outer) };
        if base.is_null() {
            return base;
        }
        // SAFETY: `base` is valid for `outer.size()` = size + 2 * red bytes.
        unsafe {
            base.write_bytes(CANARY, red - 16);
            base.add(red - 16).cast::<u64>().write_unaligned(MAGIC);
            base.add(red - 8)
                .cast::<u64>()
                .write_unaligned(layout.size() as u64);
            base.add(red + layout.size()).write_bytes(CANARY, red);
            base.add(red)
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some((red, outer)) = Redzone::outer(layout) {
            // SAFETY: `ptr` came from `alloc` with this layout, `red` bytes
            // after the block `System` gave for `outer`.
            unsafe { System.dealloc(ptr.sub(red), outer) }
        }
    }
}

#[global_allocator]
static ALLOCATOR: Redzone = Redzone;

/// Whether the canaries around `data`, a whole heap allocation, are intact.
fn surroundings_intact(data: &[u8]) -> Result<(), String> {
    let ptr = data.as_ptr();
    // SAFETY: with explicit bounds checks a non-empty linear memory is a
    // `Vec<u8>` of exactly its length (`src/runtime/memory.rs`), so `data` is
    // a whole block from `Redzone::alloc` (alignment 1): the RED bytes before
    // and after it belong to the same `System` block and stay allocated
    // while `data` is borrowed. The header is checked before the zones are
    // trusted. The reads are volatile, so the compiler, which knows only
    // the inner block, performs them as written.
    unsafe {
        let magic = ptr.sub(16).cast::<u64>().read_unaligned();
        let size = ptr.sub(8).cast::<u64>().read_unaligned();
        let byte = |p: *const u8| p.read_volatile();
        if magic != MAGIC || size != data.len() as u64 {
            return Err(format!(
                "the header before the memory is {magic:#x}, size {size} \
                 (expected {MAGIC:#x}, {}): written, or not one allocation",
                data.len()
            ));
        }
        if let Some(i) = (17..=RED).find(|&i| byte(ptr.sub(i)) != CANARY) {
            return Err(format!("host byte {i} before the memory was written"));
        }
        if let Some(i) = (0..RED).find(|&i| byte(ptr.add(data.len() + i)) != CANARY) {
            return Err(format!("host byte {i} after the memory was written"));
        }
    }
    Ok(())
}

fn instance(wat: &str) -> (Store<()>, Instance) {
    instance_in(&Engine::default(), wat)
}

/// An engine whose memories use guard regions instead of explicit checks.
fn guard_region_engine() -> Engine {
    Engine::new(Config::new().guard_regions(true)).unwrap()
}

fn instance_in(engine: &Engine, wat: &str) -> (Store<()>, Instance) {
    let module = Module::new(engine, wat::parse_str(wat).unwrap()).unwrap();
    let mut store = Store::new(engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    (store, instance)
}

/// Every load and store, each with a small and a huge static offset.
const ACCESS_OPS: &[(&str, &str, u32)] = &[
    ("i32.load", "i32", 4),
    ("i64.load", "i64", 8),
    ("f32.load", "f32", 4),
    ("f64.load", "f64", 8),
    ("i32.load8_s", "i32", 1),
    ("i32.load8_u", "i32", 1),
    ("i32.load16_s", "i32", 2),
    ("i32.load16_u", "i32", 2),
    ("i64.load8_s", "i64", 1),
    ("i64.load8_u", "i64", 1),
    ("i64.load16_s", "i64", 2),
    ("i64.load16_u", "i64", 2),
    ("i64.load32_s", "i64", 4),
    ("i64.load32_u", "i64", 4),
    ("i32.store", "i32", 4),
    ("i64.store", "i64", 8),
    ("f32.store", "f32", 4),
    ("f64.store", "f64", 8),
    ("i32.store8", "i32", 1),
    ("i32.store16", "i32", 2),
    ("i64.store8", "i64", 1),
    ("i64.store16", "i64", 2),
    ("i64.store32", "i64", 4),
];

const OFFSETS: &[u32] = &[0, 1, 0xffff, 0x1_0000, 0xffff_fff0, 0xffff_ffff];

/// A module with one memory of `pages` pages and one exported function per
/// (operator, static offset): `(param addr i32)`; stores write all ones.
fn access_module(pages: u32) -> String {
    let mut wat = format!("(module (memory (export \"mem\") {pages})\n");
    for (i, (op, ty, _)) in ACCESS_OPS.iter().enumerate() {
        for (j, off) in OFFSETS.iter().enumerate() {
            let body = if op.contains("store") {
                let ones = match *ty {
                    "i32" => "(i32.const -1)",
                    "i64" => "(i64.const -1)",
                    "f32" => "(f32.const -nan:0x7fffff)",
                    _ => "(f64.const -nan:0xfffffffffffff)",
                };
                format!("({op} offset={off} (local.get 0) {ones})")
            } else {
                format!("(drop ({op} offset={off} (local.get 0)))")
            };
            wat.push_str(&format!(
                "(func (export \"f{i}_{j}\") (param i32) {body})\n"
            ));
        }
    }
    wat.push_str("(func (export \"grow\") (param i32) (result i32) (memory.grow (local.get 0))))");
    wat
}

/// Checks every access against the memory size: in bounds runs, out of
/// bounds traps, and stores never write outside `[0, size)` (the whole
/// memory is compared with the expected contents, and with `canaries` the
/// 4 KiB of host memory on each side of it, [`surroundings_intact`]).
fn check_boundaries(store: &mut Store<()>, instance: Instance, size: u64, canaries: bool) {
    let mem = instance.get_memory(&*store, "mem").unwrap();
    let addrs: Vec<u32> = {
        let mut a = vec![0u32, 1, 7, 0xffff, 0x1_0000, 0x7fff_ffff, 0x8000_0000];
        a.extend([
            u32::MAX,
            u32::MAX - 1,
            u32::MAX - 3,
            u32::MAX - 7,
            u32::MAX - 16,
        ]);
        for d in 0..=9u64 {
            if size >= d {
                a.push((size - d) as u32);
            }
            a.push((size + d) as u32);
        }
        a
    };
    for (i, (op, _, width)) in ACCESS_OPS.iter().enumerate() {
        for (j, &off) in OFFSETS.iter().enumerate() {
            let f = instance.get_func(&*store, &format!("f{i}_{j}")).unwrap();
            for &addr in &addrs {
                let end = addr as u64 + off as u64 + *width as u64;
                mem.data_mut(&mut *store).fill(0);
                let r = f.call(&mut *store, &[Val::I32(addr as i32)], &mut []);
                if end <= size {
                    r.unwrap_or_else(|e| panic!("{op} offset={off} at {addr:#x}: {e}"));
                } else {
                    let err = r.expect_err(&format!("{op} offset={off} at {addr:#x}"));
                    assert_eq!(err.trap(), Some(Trap::MemoryOutOfBounds), "{op}");
                }
                let data = mem.data(&*store);
                assert_eq!(data.len() as u64, size);
                let written = data.iter().filter(|&&b| b != 0).count();
                let expected = if op.contains("store") && end <= size {
                    *width as usize
                } else {
                    0
                };
                assert_eq!(written, expected, "{op} offset={off} at {addr:#x}");
                if canaries && size > 0 {
                    surroundings_intact(data)
                        .unwrap_or_else(|e| panic!("{op} offset={off} at {addr:#x}: {e}"));
                }
            }
        }
    }
}

#[test]
fn every_access_width_at_every_boundary() {
    let (mut store, instance) = instance(&access_module(1));
    check_boundaries(&mut store, instance, 65536, true);
    // Right after memory.grow the new page is reachable and the next is not.
    let grow = instance.get_typed_func::<i32, i32>(&store, "grow").unwrap();
    assert_eq!(grow.call(&mut store, 1).unwrap(), 1);
    check_boundaries(&mut store, instance, 2 * 65536, true);
}

/// The same boundaries when accesses are unchecked and out-of-bounds ones
/// fault into the guard region.
#[test]
fn every_access_width_at_every_boundary_with_guard_regions() {
    let (mut store, instance) = instance_in(&guard_region_engine(), &access_module(1));
    check_boundaries(&mut store, instance, 65536, false);
    let grow = instance.get_typed_func::<i32, i32>(&store, "grow").unwrap();
    assert_eq!(grow.call(&mut store, 1).unwrap(), 1);
    check_boundaries(&mut store, instance, 2 * 65536, false);
    let (mut store, instance) = instance_in(&guard_region_engine(), &access_module(0));
    check_boundaries(&mut store, instance, 0, false);
}

#[test]
fn zero_page_memory_traps_every_access() {
    let (mut store, instance) = instance(&access_module(0));
    check_boundaries(&mut store, instance, 0, true);
    let grow = instance.get_typed_func::<i32, i32>(&store, "grow").unwrap();
    assert_eq!(grow.call(&mut store, 1).unwrap(), 0);
    check_boundaries(&mut store, instance, 65536, true);
}

#[test]
fn bulk_memory_bounds() {
    let (mut store, instance) = instance(
        r#"(module (memory (export "mem") 1)
            (data $d "abcd")
            (func (export "fill") (param i32 i32)
                (memory.fill (local.get 0) (i32.const 0xff) (local.get 1)))
            (func (export "copy") (param i32 i32 i32)
                (memory.copy (local.get 0) (local.get 1) (local.get 2)))
            (func (export "init") (param i32 i32 i32)
                (memory.init $d (local.get 0) (local.get 1) (local.get 2))))"#,
    );
    let fill = instance.get_func(&store, "fill").unwrap();
    let copy = instance.get_func(&store, "copy").unwrap();
    let init = instance.get_func(&store, "init").unwrap();
    let oob =
        |r: Result<(), Error>| assert_eq!(r.unwrap_err().trap(), Some(Trap::MemoryOutOfBounds));
    oob(fill.call(&mut store, &[Val::I32(65535), Val::I32(2)], &mut []));
    oob(fill.call(&mut store, &[Val::I32(-1), Val::I32(1)], &mut []));
    oob(copy.call(
        &mut store,
        &[Val::I32(0), Val::I32(65535), Val::I32(2)],
        &mut [],
    ));
    oob(copy.call(
        &mut store,
        &[Val::I32(-4), Val::I32(0), Val::I32(8)],
        &mut [],
    ));
    oob(init.call(
        &mut store,
        &[Val::I32(65534), Val::I32(0), Val::I32(4)],
        &mut [],
    ));
    oob(init.call(
        &mut store,
        &[Val::I32(0), Val::I32(2), Val::I32(3)],
        &mut [],
    ));
    let mem = instance.get_memory(&store, "mem").unwrap();
    assert!(mem.data(&store).iter().all(|&b| b == 0), "nothing written");
    fill.call(&mut store, &[Val::I32(65535), Val::I32(1)], &mut [])
        .unwrap();
    assert_eq!(mem.data(&store)[65535], 0xff);
}

#[test]
fn table_and_indirect_call_faults() {
    let (mut store, instance) = instance(
        r#"(module
            (type $i (func (result i32)))
            (type $l (func (result i64)))
            (table $t 4 funcref)
            (elem (table $t) (i32.const 0) func $one $wide)
            (func $one (result i32) (i32.const 1))
            (func $wide (result i64) (i64.const 2))
            (func (export "call") (param i32) (result i32)
                (call_indirect (type $i) (local.get 0)))
            (func (export "get") (param i32) (result funcref) (table.get $t (local.get 0)))
            (func (export "set") (param i32) (table.set $t (local.get 0) (ref.null func)))
            (func (export "fill") (param i32 i32)
                (table.fill $t (local.get 0) (ref.null func) (local.get 1))))"#,
    );
    let call = instance.get_typed_func::<i32, i32>(&store, "call").unwrap();
    assert_eq!(call.call(&mut store, 0).unwrap(), 1);
    let trap = |r: Result<i32, Error>| r.unwrap_err().trap();
    assert_eq!(
        trap(call.call(&mut store, 1)),
        Some(Trap::IndirectCallTypeMismatch)
    );
    assert_eq!(
        trap(call.call(&mut store, 2)),
        Some(Trap::UninitializedElement)
    );
    for i in [4, 5, i32::MAX, -1, i32::MIN] {
        assert_eq!(
            trap(call.call(&mut store, i)),
            Some(Trap::UndefinedElement),
            "{i}"
        );
    }
    let get = instance.get_func(&store, "get").unwrap();
    let set = instance.get_func(&store, "set").unwrap();
    let fill = instance.get_func(&store, "fill").unwrap();
    let mut r = [Val::FuncRef(None)];
    for i in [4, -1, i32::MIN] {
        let e = get.call(&mut store, &[Val::I32(i)], &mut r).unwrap_err();
        assert_eq!(e.trap(), Some(Trap::TableOutOfBounds));
        let e = set.call(&mut store, &[Val::I32(i)], &mut []).unwrap_err();
        assert_eq!(e.trap(), Some(Trap::TableOutOfBounds));
    }
    let e = fill
        .call(&mut store, &[Val::I32(3), Val::I32(2)], &mut [])
        .unwrap_err();
    assert_eq!(e.trap(), Some(Trap::TableOutOfBounds));
    // Nothing changed: element 0 still calls.
    assert_eq!(call.call(&mut store, 0).unwrap(), 1);
}

const NESTED: &str = r#"(module
    (import "host" "enter" (func $enter (param i32) (result i32)))
    (import "host" "fail" (func $fail (param i32) (result i32)))
    (memory (export "mem") 1)
    ;; recurse through the host: wasm -> host -> wasm ... until n = 0
    (func (export "down") (param $n i32) (result i32)
        (if (result i32) (i32.eqz (local.get $n))
            (then (i32.load (i32.const 70000)))  ;; out of bounds: trap
            (else (i32.add (i32.const 1)
                (call $enter (i32.sub (local.get $n) (i32.const 1)))))))
    (func (export "fails") (param i32) (result i32)
        (i32.store (i32.const 0) (i32.const 99))
        (i32.add (call $fail (local.get 0)) (i32.const 1)))
    (func (export "ok") (param i32) (result i32)
        (i32.add (local.get 0) (i32.const 1))))"#;

fn nested_store() -> (Store<Option<Func>>, Instance) {
    let engine = Engine::default();
    let module = Module::new(&engine, wat::parse_str(NESTED).unwrap()).unwrap();
    let mut store = Store::new(&engine, None);
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap(
            "host",
            "enter",
            |mut caller: Caller<'_, Option<Func>>, n: i32| -> Result<i32, Error> {
                let down = caller.data().expect("set");
                let mut r = [Val::I32(0)];
                down.call(&mut caller, &[Val::I32(n)], &mut r)?;
                Ok(r[0].unwrap_i32())
            },
        )
        .unwrap();
    linker
        .func_wrap("host", "fail", |x: i32| -> Result<i32, Error> {
            if x == 0 {
                Err(Error::msg("host says no"))
            } else {
                Ok(x)
            }
        })
        .unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let down = instance.get_func(&store, "down").unwrap();
    *store.data_mut() = Some(down);
    (store, instance)
}

#[test]
fn a_host_error_mid_call_ends_the_call() {
    let (mut store, instance) = nested_store();
    let fails = instance
        .get_typed_func::<i32, i32>(&store, "fails")
        .unwrap();
    let err = fails.call(&mut store, 0).unwrap_err();
    assert_eq!(err.to_string(), "host says no");
    assert_eq!(err.trap(), None);
    // What ran before the host call stays; the store is usable.
    let mem = instance.get_memory(&store, "mem").unwrap();
    assert_eq!(mem.data(&store)[0], 99);
    assert_eq!(fails.call(&mut store, 5).unwrap(), 6);
}

#[test]
fn a_deep_trap_through_nested_host_calls() {
    let (mut store, instance) = nested_store();
    let down = instance.get_typed_func::<i32, i32>(&store, "down").unwrap();
    let ok = instance.get_typed_func::<i32, i32>(&store, "ok").unwrap();
    for depth in [0, 1, 5, 50] {
        let err = down.call(&mut store, depth).unwrap_err();
        assert_eq!(err.trap(), Some(Trap::MemoryOutOfBounds), "depth {depth}");
        assert_eq!(ok.call(&mut store, depth).unwrap(), depth + 1);
    }
    // Too deep a nesting of host -> wasm calls is a stack overflow trap,
    // not a crash.
    let err = down.call(&mut store, 100_000).unwrap_err();
    assert_eq!(err.trap(), Some(Trap::StackOverflow));
    assert_eq!(ok.call(&mut store, 1).unwrap(), 2);
}

/// Mappings of this process that are both writable and executable.
fn wx_mappings() -> Vec<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    maps.lines()
        .filter(|l| {
            let perms = l.split_whitespace().nth(1).unwrap_or("");
            perms.contains('w') && perms.contains('x')
        })
        .map(String::from)
        .collect()
}

#[test]
fn no_mapping_is_writable_and_executable() {
    assert_eq!(wx_mappings(), Vec::<String>::new(), "before any module");
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        wat::parse_str(
            r#"(module
                (import "host" "check" (func $check (result i32)))
                (func (export "run") (result i32) (call $check)))"#,
        )
        .unwrap(),
    )
    .unwrap();
    // Many modules, so code memory has been allocated, written and
    // published many times.
    let others: Vec<Module> = (0..20)
        .map(|i| {
            let wat = format!("(module (func (export \"f\") (result i32) (i32.const {i})))");
            Module::new(&engine, wat::parse_str(wat).unwrap()).unwrap()
        })
        .collect();
    assert_eq!(wx_mappings(), Vec::<String>::new(), "modules loaded");
    let mut store = Store::new(&engine, Vec::<String>::new());
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap("host", "check", |mut caller: Caller<'_, Vec<String>>| {
            *caller.data_mut() = wx_mappings();
            1i32
        })
        .unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let run = instance.get_typed_func::<(), i32>(&store, "run").unwrap();
    assert_eq!(run.call(&mut store, ()).unwrap(), 1);
    assert_eq!(store.data(), &Vec::<String>::new(), "while wasm runs");
    drop(others);
    assert_eq!(wx_mappings(), Vec::<String>::new(), "after freeing modules");
}

// ----- memory.fill and memory.copy (inline `rep stosb`/`rep movsb`) -----

/// A module with `pages` pages and `fill`/`copy` taking their operands as
/// parameters, plus a few with constant operands at the boundary of one
/// page.
fn bulk_module(pages: u32) -> String {
    format!(
        r#"(module (memory (export "mem") {pages})
            (func (export "fill") (param i32 i32 i32)
                (memory.fill (local.get 0) (local.get 1) (local.get 2)))
            (func (export "copy") (param i32 i32 i32)
                (memory.copy (local.get 0) (local.get 1) (local.get 2)))
            (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
            (func (export "fill_last") (memory.fill (i32.const 65535) (i32.const 0x1234) (i32.const 1)))
            (func (export "fill_past") (memory.fill (i32.const 65535) (i32.const 0x1234) (i32.const 2)))
            (func (export "copy_end_empty") (memory.copy (i32.const 65536) (i32.const 65536) (i32.const 0)))
            (func (export "copy_past_empty") (memory.copy (i32.const 0) (i32.const 65537) (i32.const 0))))"#
    )
}

/// The contents every bulk test starts from: no two neighbours equal, so a
/// byte copied from the wrong place shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3 + i / 251) as u8).collect()
}

/// Runs `fill` or `copy` with `args` on memory reset to [`pattern`], and
/// checks the outcome against a model: in bounds iff every touched range
/// ends at or before the memory's size (in 64-bit arithmetic, zero lengths
/// included), out of bounds traps and writes nothing, `copy` is `memmove`.
fn check_bulk(store: &mut Store<()>, instance: Instance, op: &str, args: [u32; 3]) {
    let mem = instance.get_memory(&*store, "mem").unwrap();
    let size = mem.data_size(&*store);
    let mut expected = pattern(size);
    mem.data_mut(&mut *store).copy_from_slice(&expected);
    let [dst, second, len] = args.map(|a| a as usize);
    let in_bounds = |start: usize| start + len <= size;
    let ok = in_bounds(dst) && (op == "fill" || in_bounds(second));
    if ok {
        match op {
            "fill" => expected[dst..dst + len].fill(second as u8),
            _ => expected.copy_within(second..second + len, dst),
        }
    }
    let f = instance.get_func(&*store, op).unwrap();
    let r = f.call(&mut *store, &args.map(|a| Val::I32(a as i32)), &mut []);
    let what = format!("{op} {args:#x?} in {size:#x} bytes");
    match r {
        Ok(()) => assert!(ok, "{what} should trap"),
        Err(e) => {
            assert!(!ok, "{what}: {e}");
            assert_eq!(e.trap(), Some(Trap::MemoryOutOfBounds), "{what}");
        }
    }
    assert!(mem.data(&*store) == expected.as_slice(), "{what}: contents");
}

/// Every combination of boundary addresses and lengths.
fn check_bulk_boundaries(store: &mut Store<()>, instance: Instance) {
    let size = instance
        .get_memory(&*store, "mem")
        .unwrap()
        .data_size(&*store) as u32;
    let mut addrs = vec![0u32, 1, 0x7fff_ffff, 0x8000_0000, u32::MAX - 1, u32::MAX];
    for d in 0..=2 {
        addrs.push(size.wrapping_sub(d));
        addrs.push(size + d);
    }
    let lens = [
        0u32,
        1,
        2,
        17,
        size.wrapping_sub(1),
        size,
        size + 1,
        u32::MAX,
    ];
    for &dst in &addrs {
        for &len in &lens {
            check_bulk(store, instance, "fill", [dst, 0x1234_56ab, len]);
            for &src in &addrs {
                check_bulk(store, instance, "copy", [dst, src, len]);
            }
        }
    }
}

#[test]
fn bulk_memory_at_every_boundary() {
    let (mut store, one) = instance(&bulk_module(1));
    check_bulk_boundaries(&mut store, one);
    // The length is read at run time: after growing, the new page counts.
    let grow = one.get_typed_func::<i32, i32>(&store, "grow").unwrap();
    assert_eq!(grow.call(&mut store, 1).unwrap(), 1);
    check_bulk_boundaries(&mut store, one);
    let (mut store, empty) = instance(&bulk_module(0));
    check_bulk_boundaries(&mut store, empty);
}

#[test]
fn bulk_memory_with_constant_operands() {
    let (mut store, instance) = instance(&bulk_module(1));
    let mem = instance.get_memory(&store, "mem").unwrap();
    let call = |store: &mut Store<()>, name: &str| {
        instance
            .get_func(&*store, name)
            .unwrap()
            .call(&mut *store, &[], &mut [])
    };
    call(&mut store, "fill_last").unwrap();
    call(&mut store, "copy_end_empty").unwrap();
    let err = call(&mut store, "fill_past").unwrap_err();
    assert_eq!(err.trap(), Some(Trap::MemoryOutOfBounds));
    let err = call(&mut store, "copy_past_empty").unwrap_err();
    assert_eq!(err.trap(), Some(Trap::MemoryOutOfBounds));
    let data = mem.data(&store);
    assert_eq!(data[65535], 0x34);
    assert!(
        data[..65535].iter().all(|&b| b == 0),
        "nothing else written"
    );
}

/// Overlapping copies in both directions, at distances around the 16-byte
/// steps and the 1 KiB blocks of the backward copy, against `copy_within`
/// (a `memmove`).
#[test]
fn bulk_memory_overlapping_copies() {
    let (mut store, instance) = instance(&bulk_module(1));
    let base = 20_000i64;
    let distances = [
        -5000i64, -1024, -1000, -33, -17, -16, -15, -2, -1, 0, 1, 2, 15, 16, 17, 33, 1000, 1023,
        1024, 1025, 5000,
    ];
    let lens = [
        0u32, 1, 2, 15, 16, 17, 31, 32, 33, 100, 1025, 2047, 2048, 2049, 4096, 10_000, 20_001,
    ];
    for d in distances {
        for len in lens {
            let src = base as u32;
            let dst = (base + d) as u32;
            check_bulk(&mut store, instance, "copy", [dst, src, len]);
        }
    }
}

/// Copies and fills of a few MiB, overlapping by one byte both ways (and
/// by 5000 bytes backwards, in blocks).
#[test]
fn bulk_memory_large() {
    let (mut store, instance) = instance(&bulk_module(80));
    const MIB: u32 = 1 << 20;
    for args in [
        [3 * MIB, 0, 2 * MIB],
        [0, 3 * MIB, 2 * MIB],
        [MIB + 1, MIB, 3 * MIB],
        [MIB + 5000, MIB, 3 * MIB],
        [MIB, MIB + 1, 3 * MIB],
        [80 * 65536 - 3 * MIB - 5, 7, 3 * MIB + 5],
    ] {
        check_bulk(&mut store, instance, "copy", args);
    }
    check_bulk(&mut store, instance, "fill", [5, 0xee, 4 * MIB + 3]);
}

/// Locals pinned in the registers the string instructions use (`rsi`,
/// `rdi`) and operands live below the bulk operator's own survive it: the
/// function uses seven locals in a loop (the first five get registers,
/// `$x` and `$y` the string registers) with values on the stack across
/// `memory.copy` and `memory.fill`.
#[test]
fn bulk_memory_keeps_live_registers() {
    let (mut store, instance) = instance(
        r#"(module (memory (export "mem") 1)
            (func (export "live") (param $a i32) (param $b i32) (param $c i32)
                (result i32 i32 i32 i32 i32 i32 i32 i32)
                (local $x i32) (local $y i32) (local $z i32) (local $i i32)
                (local.set $x (i32.add (local.get $a) (i32.const 1)))
                (local.set $y (i32.add (local.get $b) (i32.const 2)))
                (local.set $z (i32.add (local.get $c) (i32.const 3)))
                (loop $l
                    (i32.mul (local.get $x) (i32.const 3))
                    (local.get $y)
                    (memory.copy
                        (i32.add (local.get $a) (local.get $i))
                        (i32.add (local.get $b) (i32.const 1000))
                        (local.get $c))
                    (i32.add)
                    (local.get $z)
                    (memory.fill
                        (i32.add (local.get $x) (i32.const 2000))
                        (local.get $y)
                        (i32.add (local.get $i) (i32.const 1)))
                    (i32.add)
                    (local.set $z)
                    (local.set $i (i32.add (local.get $i) (i32.const 1)))
                    (br_if $l (i32.lt_u (local.get $i) (i32.const 3))))
                (local.get $a) (local.get $b) (local.get $c) (local.get $x)
                (local.get $y) (local.get $z) (local.get $i)
                (i32.load8_u (i32.const 2008))))"#,
    );
    let mem = instance.get_memory(&store, "mem").unwrap();
    mem.data_mut(&mut store).copy_from_slice(&pattern(65536));
    let (a, b, c) = (5u32, 7u32, 64u32);
    let live = instance.get_func(&store, "live").unwrap();
    let mut results = vec![Val::I32(0); 8];
    live.call(
        &mut store,
        &[Val::I32(a as i32), Val::I32(b as i32), Val::I32(c as i32)],
        &mut results,
    )
    .unwrap();
    // The same computation and memory effects in Rust.
    let mut model = pattern(65536);
    let (x, y, mut z) = (a + 1, b + 2, c + 3);
    for i in 0..3 {
        let (dst, src) = ((a + i) as usize, (b + 1000) as usize);
        model.copy_within(src..src + c as usize, dst);
        let dst = (x + 2000) as usize;
        model[dst..dst + i as usize + 1].fill(y as u8);
        z += x * 3 + y;
    }
    let expected: Vec<Val> = [a, b, c, x, y, z, 3, model[2008] as u32]
        .iter()
        .map(|&v| Val::I32(v as i32))
        .collect();
    assert_eq!(results, expected);
    assert!(mem.data(&store) == model.as_slice(), "memory contents");
}

/// The compiler skips a bounds check when the same local's current value
/// already passed one reaching as far. It must not carry that knowledge
/// past a change of the local, into a merge point reached by a path that
/// did not check, or to a larger offset.
#[test]
fn skipped_bounds_checks_only_where_they_cannot_fail() {
    for engine in [Engine::default(), guard_region_engine()] {
        let (mut store, instance) = instance_in(
            &engine,
            r#"(module (memory 1)
            (func (export "after_set") (param $p i32) (param $q i32) (result i32)
              (drop (i32.load (local.get $p)))
              (local.set $p (local.get $q))
              (i32.load (local.get $p)))
            (func (export "after_tee") (param $p i32) (param $q i32) (result i32)
              (drop (i32.load (local.get $p)))
              (drop (local.tee $p (local.get $q)))
              (i32.load (local.get $p)))
            (func (export "after_if") (param $p i32) (param $c i32) (result i32)
              (if (local.get $c) (then (drop (i32.load offset=100 (local.get $p)))))
              (i32.load offset=50 (local.get $p)))
            (func (export "further") (param $p i32) (result i32)
              (drop (i32.load offset=8 (local.get $p)))
              (i32.load offset=12 (local.get $p)))
            (func (export "tee_then_set") (param $p i32) (param $q i32) (result i32)
              ;; The tee's result is p + 4; $p changes before the load uses it.
              local.get $p
              i32.const 4
              i32.add
              local.tee $p
              local.get $q
              local.set $p
              i32.load)
            (func (export "tee_checked") (param $p i32) (result i32)
              ;; The first load checks p + 8 (through the tee) up to + 4.
              (drop (i32.load (local.tee $p (i32.add (local.get $p) (i32.const 8)))))
              (i32.load offset=4 (local.get $p)))
            (func (export "in_loop") (param $p i32) (result i32)
              (local $n i32)
              (loop $l
                (drop (i32.load (local.get $p)))
                (local.set $p (i32.add (local.get $p) (i32.const 8192)))
                (local.set $n (i32.add (local.get $n) (i32.const 1)))
                (br_if $l (i32.lt_u (local.get $n) (i32.const 100))))
              (local.get $n)))"#,
        );
        let oob = |r: Result<i32, Error>| {
            assert_eq!(r.unwrap_err().trap(), Some(Trap::MemoryOutOfBounds));
        };
        let pair = |store: &mut Store<()>, name: &str| {
            instance
                .get_typed_func::<(i32, i32), i32>(&*store, name)
                .unwrap()
        };
        let after_set = pair(&mut store, "after_set");
        assert_eq!(after_set.call(&mut store, (0, 65532)).unwrap(), 0);
        oob(after_set.call(&mut store, (0, 65533)));
        let after_tee = pair(&mut store, "after_tee");
        oob(after_tee.call(&mut store, (0, 65533)));
        // The tee's result keeps its value when the local changes: p = 0
        // loads at 4 (in bounds) whatever $q is.
        let tee_then_set = pair(&mut store, "tee_then_set");
        assert_eq!(tee_then_set.call(&mut store, (0, 65533)).unwrap(), 0);
        oob(tee_then_set.call(&mut store, (65533, 0)));
        let tee_checked = instance
            .get_typed_func::<i32, i32>(&store, "tee_checked")
            .unwrap();
        // Loads at p + 8 and p + 12: the second needs its own check.
        assert_eq!(tee_checked.call(&mut store, 65_520).unwrap(), 0);
        oob(tee_checked.call(&mut store, 65_521));
        oob(tee_checked.call(&mut store, 65_525));
        let after_if = pair(&mut store, "after_if");
        // Taken: offset 100 at 65450 is out of bounds already.
        oob(after_if.call(&mut store, (65_450, 1)));
        assert_eq!(after_if.call(&mut store, (65_400, 1)).unwrap(), 0);
        // Not taken: the access at offset 50 is checked on its own.
        oob(after_if.call(&mut store, (65_483, 0)));
        assert_eq!(after_if.call(&mut store, (65_482, 0)).unwrap(), 0);
        let further = instance
            .get_typed_func::<i32, i32>(&store, "further")
            .unwrap();
        assert_eq!(further.call(&mut store, 65_520).unwrap(), 0);
        oob(further.call(&mut store, 65_521));
        let in_loop = instance
            .get_typed_func::<i32, i32>(&store, "in_loop")
            .unwrap();
        // The eighth iteration reads at 7 * 8192 + 4 = 57348; the ninth at
        // 65540 is out of bounds.
        oob(in_loop.call(&mut store, 4));
    }
}

/// With explicit checks, a function whose loads dominate keeps their bound
/// in a register. The bound follows the memory: an 8-byte load across the
/// first page's end traps before growth and succeeds after it, whether the
/// memory grew in the function itself, in a wasm callee or in the host; a
/// load past the grown end still traps.
#[test]
fn register_held_bounds_follow_growth() {
    let wat = r#"(module
        (import "host" "grow" (func $host_grow (param i32) (result i32)))
        (memory (export "mem") 1)
        (func $grow_callee (param i32) (result i32) (memory.grow (local.get 0)))
        ;; Grows the memory by a page as `how` says (0: not at all, 1: here,
        ;; 2: in a wasm callee, 3: in the host), then sums `count` i64
        ;; loads from `addr` on.
        (func (export "sum") (param $addr i32) (param $count i32) (param $how i32)
            (result i64) (local $s i64)
            (if (i32.eq (local.get $how) (i32.const 1))
                (then (drop (memory.grow (i32.const 1)))))
            (if (i32.eq (local.get $how) (i32.const 2))
                (then (drop (call $grow_callee (i32.const 1)))))
            (if (i32.eq (local.get $how) (i32.const 3))
                (then (drop (call $host_grow (i32.const 1)))))
            (loop $l
                (local.set $s (i64.add (local.get $s) (i64.load (local.get $addr))))
                (local.set $addr (i32.add (local.get $addr) (i32.const 8)))
                (br_if $l (local.tee $count (i32.sub (local.get $count) (i32.const 1)))))
            (local.get $s)))"#;
    let engine = Engine::default();
    let module = Module::new(&engine, wat::parse_str(wat).unwrap()).unwrap();
    for how in 0..4 {
        let mut store = Store::new(&engine, ());
        let mut linker = Linker::new(&engine);
        linker
            .func_wrap(
                "host",
                "grow",
                |mut caller: wasmkern::Caller<'_, ()>, delta: i32| {
                    let Some(wasmkern::Extern::Memory(mem)) = caller.get_export("mem") else {
                        return -1;
                    };
                    mem.grow(&mut caller, u64::from(delta as u32))
                        .map_or(-1, |old| old as i32)
                },
            )
            .unwrap();
        let instance = linker.instantiate(&mut store, &module).unwrap();
        let mem = instance.get_memory(&store, "mem").unwrap();
        mem.data_mut(&mut store)[65528..65536].copy_from_slice(&5u64.to_le_bytes());
        let sum = instance
            .get_typed_func::<(i32, i32, i32), i64>(&mut store, "sum")
            .unwrap();
        let across = sum.call(&mut store, (65528, 2, how));
        if how == 0 {
            assert_eq!(across.unwrap_err().trap(), Some(Trap::MemoryOutOfBounds));
            continue;
        }
        assert_eq!(across.unwrap(), 5, "grown by way {how}");
        assert_eq!(mem.size(&store), 2);
        // The last 8 bytes of the second page, then one past.
        assert_eq!(sum.call(&mut store, (131064, 1, 0)).unwrap(), 0);
        assert_eq!(
            sum.call(&mut store, (131064, 2, 0)).unwrap_err().trap(),
            Some(Trap::MemoryOutOfBounds),
            "grown by way {how}"
        );
    }
}

/// The canary check can fail: a write just outside a heap block is seen.
#[test]
fn canaries_see_a_write_outside_the_block() {
    let mut block = vec![0u8; 64];
    assert_eq!(surroundings_intact(&block), Ok(()));
    let ptr = block.as_mut_ptr();
    // SAFETY: the byte after the block is the first canary of the same
    // `Redzone` allocation, which stays allocated while `block` lives.
    unsafe { ptr.add(64).write_volatile(0) };
    assert!(surroundings_intact(&block).is_err());
    // SAFETY: as above; the canary is restored before the block is freed.
    unsafe { ptr.add(64).write_volatile(CANARY) };
    assert_eq!(surroundings_intact(&block), Ok(()));
}
