//! Large arrays on transparent huge pages. Delivery jumps to a new synapse row for
//! every spike; with 4 KB pages each jump into hundreds of megabytes of rows is also a
//! TLB miss and a page walk. 2 MB pages (Linux THP, `madvise` mode on most clusters)
//! make those walks rare.

/// A vector of `n` copies of `value` whose pages the kernel is asked to back with huge
/// pages (before they are first touched). Elsewhere than Linux, a plain vector.
pub fn huge_vec<T: Copy>(n: usize, value: T) -> Vec<T> {
    let mut v: Vec<T> = Vec::with_capacity(n);
    #[cfg(target_os = "linux")]
    {
        let bytes = n * std::mem::size_of::<T>();
        const HUGE: usize = 2 << 20;
        if bytes >= HUGE {
            let start = v.as_ptr() as usize;
            let aligned = (start + 4095) & !4095;
            let len = (start + bytes).saturating_sub(aligned) & !4095;
            // SAFETY: the range lies inside the vector's allocation; MADV_HUGEPAGE only
            // changes how the kernel backs it and cannot fail in a way that matters.
            unsafe { libc::madvise(aligned as *mut libc::c_void, len, libc::MADV_HUGEPAGE) };
        }
    }
    v.resize(n, value);
    v
}
