//! RoPE tables, one per base and scale, sized to the context limit and shared by the layers
//! that use them. NEOX pairing: element i rotates with element i + head_dim/2.

use super::config::RopeConfig;

pub(crate) struct RopeTable {
    half: usize,
    /// `positions × half` angles' cosines and sines.
    cos: Vec<f32>,
    sin: Vec<f32>,
}

impl RopeTable {
    pub fn new(rope: RopeConfig, head_dim: usize, positions: usize) -> RopeTable {
        let half = head_dim / 2;
        let mut cos = Vec::with_capacity(positions * half);
        let mut sin = Vec::with_capacity(positions * half);
        let inv_freq: Vec<f64> = (0..half)
            .map(|i| (rope.base as f64).powf(-2.0 * i as f64 / head_dim as f64))
            .collect();
        for pos in 0..positions {
            let p = pos as f64 * rope.scale as f64;
            for f in &inv_freq {
                let (s, c) = (p * f).sin_cos();
                cos.push(c as f32);
                sin.push(s as f32);
            }
        }
        RopeTable { half, cos, sin }
    }

    pub fn bytes(&self) -> usize {
        (self.cos.len() + self.sin.len()) * 4
    }

    /// Rotates one head (`2 * half` values) to position `pos` (below the table's size).
    pub fn apply(&self, head: &mut [f32], pos: usize) {
        let cos = &self.cos[pos * self.half..(pos + 1) * self.half];
        let sin = &self.sin[pos * self.half..(pos + 1) * self.half];
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
        let t = RopeTable::new(
            RopeConfig {
                base: 10_000.0,
                scale: 1.0,
            },
            8,
            64,
        );
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
        let plain = RopeTable::new(
            RopeConfig {
                base: 100.0,
                scale: 1.0,
            },
            4,
            16,
        );
        let scaled = RopeTable::new(
            RopeConfig {
                base: 100.0,
                scale: 0.5,
            },
            4,
            16,
        );
        let (mut a, mut b) = ([1.0f32, 2.0, 3.0, 4.0], [1.0f32, 2.0, 3.0, 4.0]);
        plain.apply(&mut a, 3);
        scaled.apply(&mut b, 6);
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-6);
        }
    }
}
