//! Large arrays on transparent huge pages. Delivery jumps to a new synapse row for
//! every spike; with 4 KB pages each jump into hundreds of megabytes of rows is also a
//! TLB miss and a page walk. 2 MB pages (Linux THP, `madvise` mode on most clusters)
//! make those walks rare.

/// An allocation the process could not make: running out is an error the run reports
/// with the figures (exit 2), not an abort.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OutOfMemory {
    pub bytes: u64,
}

/// An empty vector with room for `n` values, or the bytes that could not be had.
fn with_room<T>(n: usize) -> Result<Vec<T>, OutOfMemory> {
    let mut v: Vec<T> = Vec::new();
    v.try_reserve_exact(n).map_err(|_| OutOfMemory { bytes: (n as u64).saturating_mul(std::mem::size_of::<T>() as u64) })?;
    Ok(v)
}

/// `vec![value; n]`, fallible.
pub fn try_vec<T: Clone>(n: usize, value: T) -> Result<Vec<T>, OutOfMemory> {
    let mut v = with_room(n)?;
    v.resize(n, value);
    Ok(v)
}

/// A vector of `n` copies of `value` whose pages the kernel is asked to back with huge
/// pages (before they are first touched), fallible. Elsewhere than Linux, a plain vector.
pub fn try_huge_vec<T: Copy>(n: usize, value: T) -> Result<Vec<T>, OutOfMemory> {
    let mut v: Vec<T> = with_room(n)?;
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
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_impossible_allocation_is_an_error_with_its_size() {
        assert_eq!(try_vec(usize::MAX / 8, 0u64).unwrap_err(), OutOfMemory { bytes: (usize::MAX / 8) as u64 * 8 });
        assert_eq!(try_huge_vec(3 << 20, 1u32).unwrap().len(), 3 << 20);
    }
}
