//! Mapping in, ahead of use, memory that is about to be written whole.
//!
//! The compiler writes a module's machine code into one buffer of a few
//! megabytes. Fresh from the allocator, its pages are not yet mapped, and
//! the first write to each 4 KiB takes a page fault, hundreds of them for
//! a large module's first compilation. `MADV_POPULATE_WRITE` (Linux 5.14)
//! maps them all in one system call. On older kernels the call fails and the pages fault
//! as before.

use core::mem::MaybeUninit;

/// Pages are assumed to be 4 KiB; with larger pages the range is not page
/// aligned, `madvise` refuses it, and nothing changes.
const PAGE: usize = 4096;

/// Maps in the pages lying wholly inside `buf` (write faults now, in one
/// system call, instead of one per page later). Contents are unchanged.
pub(crate) fn prefault(buf: &mut [MaybeUninit<u8>]) {
    let start = (buf.as_mut_ptr() as usize).next_multiple_of(PAGE);
    let end = (buf.as_mut_ptr() as usize + buf.len()) & !(PAGE - 1);
    if end <= start {
        return;
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
}
