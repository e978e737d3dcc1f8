//! Splitting a fill over a few scoped threads (the generators are counter-based or have a cheap
//! sequential part, so chunks are independent and the result does not depend on the thread count).

use std::sync::{Mutex, OnceLock, PoisonError};

/// Below this many elements per thread, another thread is not worth its start-up.
const MIN_CHUNK: usize = 16_384;

/// The default number of threads a fill may use: the machine's parallelism, at most 8.
pub fn default_threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8))
}

/// Calls `f(start, chunk)` on consecutive chunks of `out` (each a multiple of `align` long, except the
/// last), on up to `threads` threads.
pub fn for_chunks<F>(out: &mut [f32], threads: usize, align: usize, f: F)
where
    F: Fn(usize, &mut [f32]) + Sync,
{
    let align = align.max(1);
    let threads = threads.min(out.len() / MIN_CHUNK).max(1);
    if threads == 1 {
        f(0, out);
        return;
    }
    let chunk = out.len().div_ceil(threads).div_ceil(align) * align;
    // Workers take chunks from a shared queue; this thread works too, so a thread that cannot be
    // started only costs parallelism.
    let queue = Mutex::new(out.chunks_mut(chunk).enumerate());
    let work = || {
        loop {
            let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
            let Some((k, part)) = next else { break };
            f(k * chunk, part);
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..threads {
            if let Err(e) = std::thread::Builder::new().spawn_scoped(scope, work) {
                tracing::debug!("rng: could not start a fill thread ({e})");
                break;
            }
        }
        work();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_everything_once() {
        for threads in [1, 2, 3, 8] {
            let mut v = vec![0f32; 100_003];
            for_chunks(&mut v, threads, 16, |start, chunk| {
                for (j, x) in chunk.iter_mut().enumerate() {
                    *x += (start + j) as f32;
                }
            });
            assert!(v.iter().enumerate().all(|(i, &x)| x == i as f32));
        }
    }
}
