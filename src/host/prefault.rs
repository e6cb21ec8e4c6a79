//! Mapping in, ahead of use, memory that is about to be written whole.
//!
//! The compiler writes a module's machine code into one buffer of a few
//! megabytes. Fresh from the allocator, its pages are not yet mapped, and
//! the first write to each 4 KiB takes a page fault, hundreds of them for
//! a large module's first compilation. `MADV_POPULATE_WRITE` (Linux 5.14)
//! maps them all in one system call. On older kernels the call fails and the pages fault
//! as before.
//!
//! Where the buffer holds whole 2 MiB huge pages, they are first advised
//! as such (`MADV_HUGEPAGE`): the kernel then maps each in as one page,
//! at a fraction of the cost of 512 small ones. Where transparent huge
//! pages are off, the advice changes nothing.

use core::mem::MaybeUninit;

/// Pages are assumed to be 4 KiB; with larger pages the range is not page
/// aligned, `madvise` refuses it, and nothing changes.
const PAGE: usize = 4096;

/// A transparent huge page (x86-64).
const HUGE_PAGE: usize = 2 << 20;

/// The range of whole `align`-byte units inside `[addr, addr + len)`, as
/// `(start, end)`; `None` if it holds none.
fn whole_units(addr: usize, len: usize, align: usize) -> Option<(usize, usize)> {
    let start = addr.checked_next_multiple_of(align)?;
    let end = addr.checked_add(len)? & !(align - 1);
    (start < end).then_some((start, end))
}

/// Maps in the pages lying wholly inside `buf` (write faults now, in one
/// system call, instead of one per page later). Contents are unchanged.
pub(crate) fn prefault(buf: &mut [MaybeUninit<u8>]) {
    let (addr, len) = (buf.as_mut_ptr() as usize, buf.len());
    let Some((start, end)) = whole_units(addr, len, PAGE) else {
        return;
    };
    if let Some((huge_start, huge_end)) = whole_units(addr, len, HUGE_PAGE) {
        // SAFETY: `[huge_start, huge_end)` is whole huge pages inside `buf`,
        // which we borrow exclusively; the advice only changes how the
        // kernel backs those pages (their contents stay), and a failure
        // leaves everything as it was.
        let rc = unsafe {
            libc::madvise(
                huge_start as *mut libc::c_void,
                huge_end - huge_start,
                libc::MADV_HUGEPAGE,
            )
        };
        // Failing only means small pages.
        let _ = rc;
    }
    // SAFETY: `[start, end)` is whole pages inside `buf`, which we borrow
    // exclusively; MADV_POPULATE_WRITE only faults pages in (as a write
    // would, without writing), so no memory changes and nothing else
    // is affected. A failure leaves everything as it was.
    let rc = unsafe {
        libc::madvise(
            start as *mut libc::c_void,
            end - start,
            libc::MADV_POPULATE_WRITE,
        )
    };
    // Failing only means the pages fault one by one later.
    let _ = rc;
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn prefaulting_keeps_what_the_memory_holds() {
        let mut buf: Vec<u8> = Vec::with_capacity(64 * PAGE + 123);
        for (i, b) in buf.spare_capacity_mut().iter_mut().enumerate() {
            b.write(i as u8 ^ 0x5a);
        }
        prefault(buf.spare_capacity_mut());
        let len = buf.capacity();
        // SAFETY: every byte up to the capacity was written above.
        unsafe { buf.set_len(len) };
        assert!(buf.iter().enumerate().all(|(i, &b)| b == i as u8 ^ 0x5a));
        // An empty or sub-page range is fine too.
        prefault(&mut []);
        prefault(&mut buf.spare_capacity_mut()[..0]);
    }

    #[test]
    fn huge_pages_are_advised_only_where_whole() {
        // A buffer of more than two huge pages holds one whole wherever it
        // starts, and its contents survive the advice.
        let mut buf: Vec<u8> = Vec::with_capacity(2 * HUGE_PAGE + 3 * PAGE);
        for (i, b) in buf.spare_capacity_mut().iter_mut().enumerate() {
            b.write(i as u8 ^ 0xa5);
        }
        prefault(buf.spare_capacity_mut());
        let len = buf.capacity();
        // SAFETY: every byte up to the capacity was written above.
        unsafe { buf.set_len(len) };
        assert!(buf.iter().enumerate().all(|(i, &b)| b == i as u8 ^ 0xa5));

        let h = HUGE_PAGE;
        assert_eq!(whole_units(h, h, h), Some((h, 2 * h)));
        assert_eq!(whole_units(h + 1, 2 * h, h), Some((2 * h, 3 * h)));
        assert_eq!(whole_units(h + 1, 2 * h - 2, h), None);
        assert_eq!(whole_units(h - 1, h, h), None);
        assert_eq!(
            whole_units(PAGE + 5, 3 * PAGE, PAGE),
            Some((2 * PAGE, 4 * PAGE))
        );
        assert_eq!(whole_units(5, 0, PAGE), None);
        assert_eq!(whole_units(usize::MAX - 3, 2, PAGE), None);
    }
}
