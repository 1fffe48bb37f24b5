//! Memory a stage freed, given back to the system before the next stage allocates.
//!
//! glibc keeps what a thread frees in that thread's arena, in pieces between live blocks, and
//! hands it back to the system only from an arena's top. A large source leaves gigabytes of
//! such pieces behind its contract (the raw cells, the rows outside the periods), and the
//! next stage's allocations do not fit all of them: the process's resident size grows past
//! what it holds. On the 1 GB projects file (docs/benchmarks.md) the run's peak fell from
//! 6.03 to 5.24 GB with a release after ingest, after the indicators' inputs and after the
//! indicators, and the run took no longer (47-50 s either way). mimalloc instead of
//! glibc's allocator peaked at 5.71 GB and took 54.5 s, against 47-50 s.

/// Gives the memory freed so far back to the system, where the allocator allows it.
pub fn release() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    glibc::trim();
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc {
    extern "C" {
        /// glibc's `malloc_trim(3)`: returns free memory at the top of the heap and, since
        /// glibc 2.8, every free whole page inside every arena; 1 if any was released.
        fn malloc_trim(pad: usize) -> i32;
    }

    pub fn trim() {
        // SAFETY: malloc_trim takes no pointers and only walks the allocator's own free
        // lists under its locks; any thread may call it at any time.
        unsafe {
            malloc_trim(0);
        }
    }
}
