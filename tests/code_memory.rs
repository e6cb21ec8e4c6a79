//! Code memory end to end: write machine code, publish it, run it.
//!
//! Both implementations are driven through the `CodeMemory` trait (as the
//! engine holds them, `Arc<dyn CodeMemory>`). `MmapCodeMemory` is also
//! checked against the kernel's own view in `/proc/self/maps`: `rw-` before
//! publishing, `r-x` (never `rwx`) after, unmapped or kept read-write for
//! reuse after `free`.
#![cfg(all(feature = "std", target_arch = "x86_64", target_os = "linux"))]

use std::sync::{Arc, Mutex, MutexGuard};

use wasmkern::code_memory::{
    CODE_ALIGN, CodeBlock, CodeMemory, CodeMemoryError, PublishedCode, RegionCodeMemory,
};
use wasmkern::host::MmapCodeMemory;

/// `mov eax, 42; ret`
const RETURN_42: [u8; 6] = [0xB8, 0x2A, 0x00, 0x00, 0x00, 0xC3];
/// `mov eax, 7; ret`
const RETURN_7: [u8; 6] = [0xB8, 0x07, 0x00, 0x00, 0x00, 0xC3];

/// Tests that look at or change the process's mappings take this lock, so
/// that a mapping of another test cannot appear at an address one of them
/// has just unmapped.
fn maps_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Calls the published code at the start of `block` as `fn() -> i32`.
fn call_i32(block: &CodeBlock) -> i32 {
    let entry = block.exec_ptr().expect("block is published");
    // SAFETY: the block is published (executable) and starts with a complete
    // function of this test (`mov eax, imm32; ret`) that follows the sysv64
    // convention for `fn() -> i32`; the block stays allocated during the call.
    let f: extern "sysv64" fn() -> i32 = unsafe { std::mem::transmute(entry.as_ptr()) };
    f()
}

/// The permission string (`rwxp` style, first three letters) of the mapping
/// containing `addr`, from `/proc/self/maps`.
fn perms_at(addr: *const u8) -> Option<String> {
    let addr = addr as usize;
    let maps = std::fs::read_to_string("/proc/self/maps").expect("read /proc/self/maps");
    maps.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let (range, perms) = (fields.next()?, fields.next()?);
        let (lo, hi) = range.split_once('-')?;
        let (lo, hi) = (
            usize::from_str_radix(lo, 16).ok()?,
            usize::from_str_radix(hi, 16).ok()?,
        );
        (lo <= addr && addr < hi).then(|| perms[..3].to_owned())
    })
}

/// A region of `len` bytes mapped read-write-execute, as a bare-metal
/// embedder would provide it. Leaked: it lives until the process ends.
fn rwx_region(len: usize) -> RegionCodeMemory {
    // SAFETY: a fresh anonymous private mapping touches no existing memory.
    let addr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(addr, libc::MAP_FAILED, "mmap of a RWX test region failed");
    // SAFETY: the mapping is `len` bytes, readable, writable and executable,
    // never unmapped, and nothing but the returned value uses it.
    unsafe { RegionCodeMemory::new(addr.cast(), len) }
}

/// Allocates, writes `code`, publishes and runs it through `memory`.
fn run_through(memory: &dyn CodeMemory, code: &[u8]) -> i32 {
    let mut block = memory.allocate(code.len()).unwrap();
    assert_eq!(block.as_ptr() as usize % CODE_ALIGN, 0);
    assert!(block.exec_ptr().is_none(), "unpublished code has no entry");
    block.write(0, code).unwrap();
    memory.publish(&mut block).unwrap();
    assert_eq!(block.write(0, code), Err(CodeMemoryError::Published));
    assert_eq!(block.as_slice(), code);
    let result = call_i32(&block);
    memory.free(block);
    result
}

#[test]
fn region_runs_code() {
    let _guard = maps_lock();
    let memory = rwx_region(64 * 1024);
    assert_eq!(run_through(&memory, &RETURN_42), 42);
    assert_eq!(run_through(&memory, &RETURN_7), 7);
    assert_eq!(memory.used(), 0);
}

#[test]
fn mmap_runs_code() {
    let _guard = maps_lock();
    let memory = MmapCodeMemory::new();
    assert_eq!(run_through(&memory, &RETURN_42), 42);
    assert_eq!(run_through(&memory, &RETURN_7), 7);
}

#[test]
fn region_exhaustion_then_reuse_runs_code() {
    let _guard = maps_lock();
    let region_len = 4096;
    let memory = rwx_region(region_len);
    let mut blocks = Vec::new();
    let err = loop {
        match memory.allocate(256) {
            Ok(block) => blocks.push(block),
            Err(err) => break err,
        }
    };
    assert_eq!(
        err,
        CodeMemoryError::Exhausted {
            requested: 256,
            region: region_len
        }
    );
    assert!(
        err.to_string()
            .contains("requested 256 bytes, region of 4096 bytes")
    );
    assert!(
        blocks.len() >= 8,
        "only {} blocks of 256 in 4096 bytes",
        blocks.len()
    );

    // Free one, and the next allocation succeeds, in the freed place.
    let freed = blocks.remove(3);
    let freed_addr = freed.as_ptr();
    memory.free(freed);
    let mut block = memory.allocate(256).unwrap();
    assert_eq!(block.as_ptr(), freed_addr);
    block.write(0, &RETURN_42).unwrap();
    memory.publish(&mut block).unwrap();
    assert_eq!(call_i32(&block), 42);
    blocks.push(block);
    assert!(memory.allocate(256).is_err());
    for block in blocks {
        memory.free(block);
    }
    assert_eq!(memory.used(), 0);
}

#[test]
fn bad_requests_are_errors_not_panics() {
    let _guard = maps_lock();
    let region = rwx_region(4096);
    let mmap = MmapCodeMemory::new();
    let memories: [&dyn CodeMemory; 2] = [&region, &mmap];
    for memory in memories {
        assert_eq!(memory.allocate(0).unwrap_err(), CodeMemoryError::ZeroLength);
        assert!(memory.allocate(usize::MAX).is_err());
        assert!(memory.allocate(usize::MAX / 2).is_err());
        assert!(memory.allocate(isize::MAX as usize + 1).is_err());
    }
    assert!(matches!(
        region.allocate(4097),
        Err(CodeMemoryError::Exhausted {
            requested: 4097,
            region: 4096
        })
    ));
    assert_eq!(
        mmap.allocate(usize::MAX).unwrap_err(),
        CodeMemoryError::TooLarge {
            requested: usize::MAX
        }
    );
    // Too large for the address space: the kernel refuses with ENOMEM.
    assert_eq!(
        mmap.allocate(1 << 60).unwrap_err(),
        CodeMemoryError::Os {
            operation: "mmap",
            errno: libc::ENOMEM
        }
    );
}

#[test]
fn mmap_is_rw_then_rx_then_unmapped() {
    let _guard = maps_lock();
    let memory = MmapCodeMemory::new();
    let mut block = memory.allocate(100).unwrap();
    let addr = block.as_ptr();
    assert_eq!(addr as usize % memory.page_size(), 0);
    assert_eq!(perms_at(addr).as_deref(), Some("rw-"));

    block.write(0, &RETURN_42).unwrap();
    memory.publish(&mut block).unwrap();
    assert_eq!(
        perms_at(addr).as_deref(),
        Some("r-x"),
        "published code must be read-execute, never rwx"
    );
    assert_eq!(call_i32(&block), 42);

    memory.free(block);
    let after = perms_at(addr);
    assert!(
        after.as_deref().is_none_or(|p| !p.contains('x')),
        "free must unmap the block or keep it not executable, found {after:?}"
    );
}

#[test]
fn mmap_reuses_a_freed_mapping_never_executable() {
    let _guard = maps_lock();
    let memory = MmapCodeMemory::new();
    let page = memory.page_size();
    let mut first = memory.allocate(3 * page).unwrap();
    first.as_mut_slice().unwrap().fill(0x90);
    first.write(0, &RETURN_42).unwrap();
    memory.publish(&mut first).unwrap();
    assert_eq!(call_i32(&first), 42);
    let addr = first.as_ptr();
    memory.free(first);
    // Kept for reuse, but no longer executable.
    assert_eq!(perms_at(addr).as_deref(), Some("rw-"));

    // A smaller block reuses it, cut to one page; the old code past the
    // block's end in that page is gone (`int3`).
    let mut second = memory.allocate(100).unwrap();
    assert_eq!(second.as_ptr(), addr);
    assert_eq!(perms_at(addr.wrapping_add(page)), None);
    // SAFETY: the block's page is readable and ours until freed.
    let tail = unsafe { std::slice::from_raw_parts(addr.add(100), page - 100) };
    assert!(tail.iter().all(|&b| b == 0xcc));
    second.write(0, &RETURN_7).unwrap();
    memory.publish(&mut second).unwrap();
    assert_eq!(perms_at(addr).as_deref(), Some("r-x"));
    assert_eq!(call_i32(&second), 7);
    memory.free(second);

    // A larger block than the spare gets a new mapping; the spare goes.
    let third = memory.allocate(2 * page).unwrap();
    assert_eq!(perms_at(third.as_ptr()).as_deref(), Some("rw-"));
    if third.as_ptr() != addr {
        assert_eq!(perms_at(addr), None);
    }
    memory.free(third);
    let kept = memory.allocate(1).unwrap();
    let kept_addr = kept.as_ptr();
    memory.free(kept);
    // Dropping the memory unmaps its spare.
    drop(memory);
    assert_eq!(perms_at(kept_addr), None);
}

#[test]
fn mmap_never_maps_rwx() {
    let _guard = maps_lock();
    let memory = MmapCodeMemory::new();
    // Several blocks, some published: no block page is ever `rwx`.
    let mut blocks: Vec<_> = (0..4)
        .map(|i| memory.allocate(8 + i * 5000).unwrap())
        .collect();
    for block in blocks.iter_mut().step_by(2) {
        block.write(0, &RETURN_7).unwrap();
        memory.publish(block).unwrap();
    }
    for block in &blocks {
        let expected = if block.is_published() { "r-x" } else { "rw-" };
        let pages = block.len().div_ceil(memory.page_size());
        for page in 0..pages {
            let addr = block.as_ptr().wrapping_add(page * memory.page_size());
            assert_eq!(perms_at(addr).as_deref(), Some(expected));
        }
    }
    for block in blocks {
        memory.free(block);
    }
}

#[test]
fn foreign_blocks_are_refused() {
    let _guard = maps_lock();
    let (region, mmap) = (rwx_region(4096), MmapCodeMemory::new());
    let mut from_region = region.allocate(16).unwrap();
    let mut from_mmap = mmap.allocate(16).unwrap();
    assert_eq!(
        mmap.publish(&mut from_region),
        Err(CodeMemoryError::ForeignBlock)
    );
    assert_eq!(
        region.publish(&mut from_mmap),
        Err(CodeMemoryError::ForeignBlock)
    );
    let addr = from_mmap.as_ptr();
    region.free(from_mmap); // leaked, not unmapped
    assert_eq!(perms_at(addr).as_deref(), Some("rw-"));
    region.free(from_region);
    assert_eq!(region.used(), 0);
}

/// Publishes `RETURN_42` through `memory` as a `PublishedCode`, runs it,
/// drops it, and returns the address it had.
fn publish_run_drop(memory: Arc<dyn CodeMemory>) -> *const u8 {
    let mut block = memory.allocate(RETURN_42.len()).unwrap();
    block.as_mut_slice().unwrap().copy_from_slice(&RETURN_42);
    let addr = block.as_ptr();
    let holders = Arc::strong_count(&memory);
    let code = PublishedCode::publish(Arc::clone(&memory), block).unwrap();
    assert_eq!(code.exec_ptr().as_ptr().cast_const(), addr);
    assert_eq!(code.as_slice(), &RETURN_42);
    // SAFETY: `code` is published, starts with `mov eax, 42; ret` and lives
    // across the call.
    let f: extern "sysv64" fn() -> i32 = unsafe { std::mem::transmute(code.exec_ptr().as_ptr()) };
    assert_eq!(f(), 42);
    // The handle keeps the memory alive even if the engine lets go.
    assert_eq!(Arc::strong_count(&memory), holders + 1);
    drop(code);
    assert_eq!(Arc::strong_count(&memory), holders);
    addr
}

#[test]
fn published_code_frees_on_drop() {
    let _guard = maps_lock();
    let mmap = Arc::new(MmapCodeMemory::new());
    let addr = publish_run_drop(mmap);
    // Unmapped; another thread's allocation may reuse the address at once
    // (as read-write data), but it must never stay executable code.
    let after = perms_at(addr);
    assert!(
        after.as_deref().is_none_or(|p| !p.contains('x')),
        "dropping PublishedCode must unmap it, found {after:?}"
    );

    let region = Arc::new(rwx_region(4096));
    let addr = publish_run_drop(Arc::clone(&region) as Arc<dyn CodeMemory>);
    assert_eq!(region.used(), 0, "dropping PublishedCode must free it");
    let again = region.allocate(RETURN_42.len()).unwrap();
    assert_eq!(again.as_ptr(), addr);
    region.free(again);
}

#[test]
fn published_code_refuses_foreign_blocks() {
    let _guard = maps_lock();
    let region = rwx_region(4096);
    let used_before = region.used();
    let block = region.allocate(16).unwrap();
    let mmap: Arc<dyn CodeMemory> = Arc::new(MmapCodeMemory::new());
    let err = PublishedCode::publish(mmap, block).unwrap_err();
    assert_eq!(err, CodeMemoryError::ForeignBlock);
    // The block was leaked, not freed into the wrong memory.
    assert!(region.used() > used_before);
}

#[test]
fn code_memory_is_shareable() {
    let _guard = maps_lock();
    let memory: Arc<dyn CodeMemory> = Arc::new(rwx_region(64 * 1024));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let memory = Arc::clone(&memory);
            std::thread::spawn(move || {
                let code = [0xB8, i, 0, 0, 0, 0xC3];
                for _ in 0..50 {
                    let mut block = memory.allocate(code.len()).unwrap();
                    block.write(0, &code).unwrap();
                    let code = PublishedCode::publish(Arc::clone(&memory), block).unwrap();
                    // SAFETY: published, `mov eax, i; ret`, alive during the call.
                    let f: extern "sysv64" fn() -> i32 =
                        unsafe { std::mem::transmute(code.exec_ptr().as_ptr()) };
                    assert_eq!(f(), i32::from(i));
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
}
