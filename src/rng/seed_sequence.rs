//! NumPy's `SeedSequence` (numpy/random/bit_generator.pyx), which torchsde uses to derive one seed per
//! node of its Brownian tree.

const INIT_A: u32 = 0x43b0_d7e5;
const MULT_A: u32 = 0x931e_8875;
const INIT_B: u32 = 0x8b51_f9dd;
const MULT_B: u32 = 0x58f3_8ded;
const MIX_MULT_L: u32 = 0xca01_f9dd;
const MIX_MULT_R: u32 = 0x4973_f715;
const XSHIFT: u32 = 16;

/// `SeedSequence(entropy, spawn_key=spawn_key, pool_size=pool_size)`, reduced to its mixed pool.
#[derive(Debug, Clone)]
pub struct SeedSequence {
    pool: Vec<u32>,
}

/// `_int_to_uint32_array`: little-endian 32-bit words, `[0]` for zero.
fn words(mut n: u128, out: &mut Vec<u32>) {
    if n == 0 {
        out.push(0);
    }
    while n > 0 {
        out.push(n as u32);
        n >>= 32;
    }
}

fn hashmix(value: u32, hash_const: &mut u32) -> u32 {
    let mut v = value ^ *hash_const;
    *hash_const = hash_const.wrapping_mul(MULT_A);
    v = v.wrapping_mul(*hash_const);
    v ^ (v >> XSHIFT)
}

fn mix(x: u32, y: u32) -> u32 {
    let r = MIX_MULT_L.wrapping_mul(x).wrapping_sub(MIX_MULT_R.wrapping_mul(y));
    r ^ (r >> XSHIFT)
}

impl SeedSequence {
    /// `pool_size` must be at least 4 (NumPy's minimum); smaller values are raised to 4.
    pub fn new(entropy: u128, spawn_key: &[u128], pool_size: usize) -> Self {
        let pool_size = pool_size.max(4);
        let mut entropy_words = Vec::new();
        words(entropy, &mut entropy_words);
        let mut spawn_words = Vec::new();
        for &k in spawn_key {
            words(k, &mut spawn_words);
        }
        // get_assembled_entropy: with a spawn key, short entropy is padded with zeros to the pool size.
        if !spawn_words.is_empty() && entropy_words.len() < pool_size {
            entropy_words.resize(pool_size, 0);
        }
        entropy_words.extend(spawn_words);

        let mut pool = vec![0u32; pool_size];
        let mut hash_const = INIT_A;
        for (i, slot) in pool.iter_mut().enumerate() {
            *slot = hashmix(entropy_words.get(i).copied().unwrap_or(0), &mut hash_const);
        }
        for src in 0..pool_size {
            for dst in 0..pool_size {
                if src != dst {
                    let h = hashmix(pool[src], &mut hash_const);
                    pool[dst] = mix(pool[dst], h);
                }
            }
        }
        for &word in entropy_words.iter().skip(pool_size) {
            for slot in pool.iter_mut() {
                let h = hashmix(word, &mut hash_const);
                *slot = mix(*slot, h);
            }
        }
        Self { pool }
    }

    /// `generate_state(n_words)` with the default `dtype=np.uint32`.
    pub fn generate_state(&self, n_words: usize) -> Vec<u32> {
        let mut hash_const = INIT_B;
        self.pool
            .iter()
            .cycle()
            .take(n_words)
            .map(|&word| {
                let mut v = word ^ hash_const;
                hash_const = hash_const.wrapping_mul(MULT_B);
                v = v.wrapping_mul(hash_const);
                v ^ (v >> XSHIFT)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::fixtures::load;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Case {
        entropy: String,
        spawn_key: Vec<String>,
        pool_size: usize,
        state: Vec<u32>,
    }

    #[derive(Deserialize)]
    struct File {
        seed_sequence: Vec<Case>,
    }

    #[test]
    fn matches_numpy() {
        let file: File = load("brownian.json");
        assert!(file.seed_sequence.len() > 100);
        for case in file.seed_sequence {
            let entropy: u128 = case.entropy.parse().expect("entropy");
            let key: Vec<u128> = case.spawn_key.iter().map(|k| k.parse().expect("key")).collect();
            let got = SeedSequence::new(entropy, &key, case.pool_size).generate_state(case.state.len());
            assert_eq!(got, case.state, "entropy {entropy} key {key:?} pool {}", case.pool_size);
        }
    }
}
