//! Rotary position embedding, one per base and scale. The angles of a prefill chunk's
//! positions are computed when the chunk runs (a few hundred `sin_cos` per token), so nothing
//! sized to the context is kept: a table for 32k positions would cost 64 MB on Gemma 3.
//! NEOX pairing: element i rotates with element i + head_dim/2.

use super::config::RopeConfig;

pub(crate) struct Rope {
    inv_freq: Vec<f64>,
    scale: f64,
}

/// Cosines and sines of the angles of consecutive positions, `half` per position.
pub(crate) struct RopeAngles {
    half: usize,
    cos: Vec<f32>,
    sin: Vec<f32>,
}

impl Rope {
    pub fn new(rope: RopeConfig, head_dim: usize) -> Rope {
        let inv_freq = (0..head_dim / 2)
            .map(|i| (rope.base as f64).powf(-2.0 * i as f64 / head_dim as f64))
            .collect();
        Rope {
            inv_freq,
            scale: rope.scale as f64,
        }
    }

    /// The angles of positions `pos0..pos0 + n`.
    pub fn angles(&self, pos0: usize, n: usize) -> RopeAngles {
        let half = self.inv_freq.len();
        let mut cos = Vec::with_capacity(n * half);
        let mut sin = Vec::with_capacity(n * half);
        for pos in pos0..pos0 + n {
            let p = pos as f64 * self.scale;
            for f in &self.inv_freq {
                let (s, c) = (p * f).sin_cos();
                cos.push(c as f32);
                sin.push(s as f32);
            }
        }
        RopeAngles { half, cos, sin }
    }
}

impl RopeAngles {
    /// The bytes of the angles of `n` positions for heads of `head_dim` values: what
    /// [`Rope::angles`] allocates.
    pub fn bytes(head_dim: usize, n: usize) -> u64 {
        (2 * n * (head_dim / 2) * std::mem::size_of::<f32>()) as u64
    }

    /// Rotates one head (`2 * half` values) to the `t`-th position of these angles.
    pub fn apply(&self, head: &mut [f32], t: usize) {
        let cos = &self.cos[t * self.half..(t + 1) * self.half];
        let sin = &self.sin[t * self.half..(t + 1) * self.half];
        let (a, b) = head.split_at_mut(self.half);
        for i in 0..self.half {
            let (x0, x1) = (a[i], b[i]);
            a[i] = x0 * cos[i] - x1 * sin[i];
            b[i] = x0 * sin[i] + x1 * cos[i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_norm_and_relative_angle() {
        let t = Rope::new(
            RopeConfig {
                base: 10_000.0,
                scale: 1.0,
            },
            8,
        )
        .angles(0, 64);
        let q = [0.3f32, -1.0, 0.5, 2.0, 1.5, 0.1, -0.7, 0.9];
        let k = [1.0f32, 0.2, -0.4, 0.6, -1.1, 0.8, 0.3, -0.5];
        let dot_at = |pq: usize, pk: usize| {
            let (mut a, mut b) = (q, k);
            t.apply(&mut a, pq);
            t.apply(&mut b, pk);
            a.iter().zip(&b).map(|(x, y)| x * y).sum::<f32>()
        };
        // Scores depend only on the distance between positions.
        assert!((dot_at(10, 7) - dot_at(40, 37)).abs() < 1e-4);
        let mut a = q;
        t.apply(&mut a, 33);
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>();
        assert!((norm(&a) - norm(&q)).abs() < 1e-4);
    }

    #[test]
    fn scale_divides_positions() {
        let plain = Rope::new(
            RopeConfig {
                base: 100.0,
                scale: 1.0,
            },
            4,
        )
        .angles(0, 16);
        let scaled = Rope::new(
            RopeConfig {
                base: 100.0,
                scale: 0.5,
            },
            4,
        )
        .angles(0, 16);
        let (mut a, mut b) = ([1.0f32, 2.0, 3.0, 4.0], [1.0f32, 2.0, 3.0, 4.0]);
        plain.apply(&mut a, 3);
        scaled.apply(&mut b, 6);
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-6);
        }
    }

    #[test]
    fn a_chunk_has_the_angles_of_its_positions() {
        let rope = Rope::new(
            RopeConfig {
                base: 10_000.0,
                scale: 1.0,
            },
            8,
        );
        let (all, chunk) = (rope.angles(0, 40), rope.angles(30, 10));
        let (mut a, mut b) = ([0.5f32; 8], [0.5f32; 8]);
        all.apply(&mut a, 37);
        chunk.apply(&mut b, 7);
        assert_eq!(a, b);
    }
}
