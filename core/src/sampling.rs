//! Choosing the next token from logits: a repetition penalty, then greedy, or temperature with
//! top-k, top-p and min-p, drawn from a seeded generator so the same seed and inputs give the
//! same output.

#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    /// 0 picks the most likely token; finite and not negative (a request checks it).
    pub temperature: f32,
    /// Keep only the k most likely tokens; 0 keeps all.
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches p (0 to 1); 1 keeps all.
    pub top_p: f32,
    /// Drop tokens less likely than `min_p` times the most likely one (0 to 1); 0 keeps all.
    pub min_p: f32,
    /// Divides positive logits (multiplies negative ones) of tokens seen in the last
    /// `repetition_window` tokens; above 0, and 1 is off.
    pub repetition_penalty: f32,
    pub repetition_window: usize,
    pub seed: u64,
}

impl Default for SamplingParams {
    fn default() -> Self {
        SamplingParams {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repetition_penalty: 1.0,
            repetition_window: 64,
            seed: 0,
        }
    }
}

impl SamplingParams {
    pub fn greedy() -> Self {
        SamplingParams {
            temperature: 0.0,
            ..SamplingParams::default()
        }
    }
}

/// xoshiro256** seeded through splitmix64: small, fast and the same on every platform.
#[derive(Debug, Clone)]
pub struct Rng([u64; 4]);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng([next(), next(), next(), next()])
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub struct Sampler {
    params: SamplingParams,
    rng: Rng,
    /// The bytes the last sample's candidates and probabilities took.
    held: usize,
}

/// The most a sample over a vocabulary of `vocab` tokens takes: every token a candidate, with
/// its probability (what [`Sampler::sample`] allocates when neither top-k nor a cut-off trims).
pub fn scratch_bytes(vocab: usize) -> u64 {
    (vocab * (std::mem::size_of::<(u32, f32)>() + std::mem::size_of::<f64>())) as u64
}

/// Index of the largest value; the lowest index wins a tie.
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

impl Sampler {
    /// The bytes the last [`Sampler::sample`] held for its candidates (none for greedy).
    pub fn held_bytes(&self) -> u64 {
        self.held as u64
    }

    pub fn new(params: SamplingParams) -> Sampler {
        let rng = Rng::new(params.seed);
        Sampler {
            params,
            rng,
            held: 0,
        }
    }

    /// The next token. `recent` is the sequence so far (only its last `repetition_window`
    /// tokens matter); the penalty is applied to `logits` in place.
    pub fn sample(&mut self, logits: &mut [f32], recent: &[u32]) -> u32 {
        let p = &self.params;
        if p.repetition_penalty != 1.0 && p.repetition_penalty > 0.0 {
            let mut seen: Vec<u32> =
                recent[recent.len().saturating_sub(p.repetition_window)..].to_vec();
            seen.sort_unstable();
            seen.dedup();
            for id in seen {
                if let Some(l) = logits.get_mut(id as usize) {
                    *l = if *l > 0.0 {
                        *l / p.repetition_penalty
                    } else {
                        *l * p.repetition_penalty
                    };
                }
            }
        }
        if p.temperature <= 0.0 || p.top_k == 1 {
            return argmax(logits) as u32;
        }
        let mut candidates: Vec<(u32, f32)> = Vec::with_capacity(logits.len());
        candidates.extend(
            logits
                .iter()
                .enumerate()
                .filter(|(_, l)| l.is_finite())
                .map(|(i, &l)| (i as u32, l)),
        );
        if candidates.is_empty() {
            return argmax(logits) as u32;
        }
        let by_logit = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if p.top_k > 0 && p.top_k < candidates.len() {
            candidates.select_nth_unstable_by(p.top_k - 1, by_logit);
            candidates.truncate(p.top_k);
        }
        candidates.sort_unstable_by(by_logit);

        let max = candidates[0].1;
        let mut probs: Vec<f64> = candidates
            .iter()
            .map(|&(_, l)| (((l - max) / p.temperature) as f64).exp())
            .collect();
        self.held = candidates.capacity() * std::mem::size_of::<(u32, f32)>()
            + probs.capacity() * std::mem::size_of::<f64>();
        let total: f64 = probs.iter().sum();
        probs.iter_mut().for_each(|q| *q /= total);
        if p.top_p < 1.0 {
            let mut mass = 0.0;
            let keep = probs
                .iter()
                .position(|&q| {
                    mass += q;
                    mass >= p.top_p as f64
                })
                .map_or(probs.len(), |i| i + 1);
            probs.truncate(keep);
        }
        if p.min_p > 0.0 {
            let floor = probs[0] * p.min_p as f64;
            let keep = probs.iter().take_while(|&&q| q >= floor).count().max(1);
            probs.truncate(keep);
        }
        self.held = candidates.capacity() * std::mem::size_of::<(u32, f32)>()
            + probs.capacity() * std::mem::size_of::<f64>();
        let total: f64 = probs.iter().sum();
        let mut r = self.rng.next_f64() * total;
        for (i, q) in probs.iter().enumerate() {
            r -= q;
            if r < 0.0 {
                return candidates[i].0;
            }
        }
        candidates[probs.len() - 1].0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_the_first_maximum() {
        let mut s = Sampler::new(SamplingParams::greedy());
        assert_eq!(s.sample(&mut [0.1, 3.0, -1.0, 3.0], &[]), 1);
    }

    #[test]
    fn same_seed_same_tokens() {
        let logits: Vec<f32> = (0..100).map(|i| ((i * 7919) % 97) as f32 / 10.0).collect();
        let run = |seed| {
            let mut s = Sampler::new(SamplingParams {
                seed,
                ..Default::default()
            });
            (0..50)
                .map(|_| s.sample(&mut logits.clone(), &[]))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn top_k_and_top_p_limit_the_choice() {
        let logits = [5.0, 4.9, 0.0, -1.0, -2.0];
        let open = SamplingParams {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            seed: 1,
            ..SamplingParams::default()
        };
        let draws = |params: SamplingParams| {
            let mut s = Sampler::new(params);
            (0..300)
                .map(|_| s.sample(&mut logits.clone(), &[]))
                .collect::<std::collections::BTreeSet<_>>()
        };
        assert_eq!(draws(open.clone()).len(), 5);
        assert_eq!(
            draws(SamplingParams {
                top_k: 2,
                ..open.clone()
            }),
            [0, 1].into()
        );
        assert_eq!(
            draws(SamplingParams {
                top_p: 0.5,
                ..open.clone()
            }),
            [0].into()
        );
        // e^0 / e^5 < 0.05: min-p keeps the two leaders only.
        assert_eq!(
            draws(SamplingParams {
                min_p: 0.05,
                ..open
            }),
            [0, 1].into()
        );
    }

    #[test]
    fn repetition_penalty_demotes_recent_tokens_only() {
        let mut s = Sampler::new(SamplingParams {
            repetition_penalty: 2.0,
            repetition_window: 2,
            ..SamplingParams::greedy()
        });
        let mut logits = [4.0, 3.0, -1.0];
        // Token 0 is within the last two tokens: 4 / 2 < 3.
        assert_eq!(s.sample(&mut logits, &[0, 2]), 1);
        assert_eq!(logits, [2.0, 3.0, -2.0]);
        // Token 0 fell out of the window.
        assert_eq!(s.sample(&mut [4.0, 3.0, -1.0], &[0, 2, 2]), 0);
    }
}
