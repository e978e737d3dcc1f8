//! Seeds as the WebUI picks them (modules/processing.py).

use rand::Rng;

/// `random.randrange(4294967294)` draws below this.
pub const RANDOM_SEED_BOUND: u64 = 4_294_967_294;

/// A seed for a request that asked for -1: uniform in `0..4294967294` like the WebUI's
/// `int(random.randrange(4294967294))` (the exact Python draw does not matter).
pub fn random_seed() -> u64 {
    rand::rng().random_range(0..RANDOM_SEED_BOUND)
}

/// `get_fixed_seed`: -1 becomes a random seed; any other value is kept (negative ones included).
pub fn fixed_seed(seed: i64) -> i64 {
    if seed == -1 { random_seed() as i64 } else { seed }
}

/// The 64-bit seed torch's `manual_seed` makes of a Python int seed: negative values wrap to
/// `2^64 + seed` (two's complement), so `-2` is `0xffff_ffff_ffff_fffe`.
pub fn torch_seed(seed: i64) -> u64 {
    seed as u64
}

/// `p.all_seeds` / `p.all_subseeds` for `count` images (batch_size × n_iter): seeds run `seed, seed+1,
/// …` unless a variation strength is set, in which case every image keeps `seed` and only the subseeds
/// run `subseed, subseed+1, …`. Callers pass seeds already resolved by [`fixed_seed`].
pub fn all_seeds(seed: i64, subseed: i64, subseed_strength: f64, count: usize) -> (Vec<i64>, Vec<i64>) {
    let seeds = (0..count)
        .map(|x| {
            if subseed_strength == 0.0 {
                seed.wrapping_add(x as i64)
            } else {
                seed
            }
        })
        .collect();
    let subseeds = (0..count).map(|x| subseed.wrapping_add(x as i64)).collect();
    (seeds, subseeds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_seeds_are_in_range_and_kept_seeds_are_not_touched() {
        for _ in 0..1000 {
            assert!(random_seed() < RANDOM_SEED_BOUND);
            assert!((0..RANDOM_SEED_BOUND as i64).contains(&fixed_seed(-1)));
        }
        assert_eq!(fixed_seed(-2), -2);
        assert_eq!(fixed_seed(1234), 1234);
        assert_eq!(torch_seed(-1), u64::MAX);
        assert_eq!(torch_seed(-2), 0xffff_ffff_ffff_fffe);
    }

    #[test]
    fn batch_seed_lists() {
        assert_eq!(all_seeds(10, 20, 0.0, 3), (vec![10, 11, 12], vec![20, 21, 22]));
        assert_eq!(all_seeds(10, 20, 0.5, 3), (vec![10, 10, 10], vec![20, 21, 22]));
    }
}
