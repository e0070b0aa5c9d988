//! The forward pass shared by the three families: embedding, the blocks, the output head.
//! Each family's differences are data in [`Config`], so there is one copy of the arithmetic.
//! Conventions follow llama.cpp's Gemma graphs (see research/GEMMA_GGUF.md): norm weights
//! carry their +1, embeddings scale by sqrt(n_embd) in f32, queries scale after RoPE,
//! attention soft-caps before the mask, GQA maps query head h to KV head h / group.

use crate::error::Result;
use crate::gguf::Gguf;
use crate::model::attention::{self, softcap, Attention};
use crate::model::config::Config;
use crate::model::kv_cache::{KvCache, LayerCache};
use crate::model::rope::{Rope, RopeAngles};
use crate::model::weights::{LayerWeights, Weight, Weights};
use crate::runtime::budget::{Scratch, ScratchMeter, Zeroed};
use crate::runtime::dispatch::Kernels;
use crate::runtime::matmul::{input_bytes, weight_rows_bytes, Input, QMatrix};
use crate::runtime::threads::ThreadPool;

/// The network of a loaded model: its config, where its weights lie in the mapped file, the
/// RoPE bases and the compute threads, and how to run tokens through them.
pub(crate) struct Network {
    pub file: Gguf,
    pub config: Config,
    pub weights: Weights,
    pub ropes: Vec<Rope>,
    pub pool: ThreadPool,
    pub kernels: Kernels,
    /// The scratch the passes have held, by kind.
    pub meter: ScratchMeter,
}

/// Scratch for one chunk of `n` tokens.
struct Buffers<'a> {
    x: &'a mut [f32],
    h: &'a mut [f32],
    q: &'a mut [f32],
    k: &'a mut [f32],
    v: &'a mut [f32],
    attn: &'a mut [f32],
    proj: &'a mut [f32],
    gate: &'a mut [f32],
    up: &'a mut [f32],
}

impl<'a> Buffers<'a> {
    /// Each buffer's length, in the order of the fields.
    fn lens(c: &Config, n: usize) -> [usize; 9] {
        let q_dim = c.n_head * c.head_dim;
        let kv_dim = c.n_head_kv * c.head_dim;
        let (d, ff) = (c.n_embd, c.n_ff);
        [d, d, q_dim, kv_dim, kv_dim, q_dim, d, ff, ff].map(|len| n * len)
    }

    /// The values all the buffers of `n` tokens hold.
    fn len(c: &Config, n: usize) -> usize {
        Buffers::lens(c, n).iter().sum()
    }

    fn bytes(c: &Config, n: usize) -> u64 {
        (Buffers::len(c, n) * std::mem::size_of::<f32>()) as u64
    }

    /// The buffers of `n` tokens, as consecutive parts of `all` ([`Buffers::len`] values).
    fn split(c: &Config, n: usize, all: &'a mut [f32]) -> Buffers<'a> {
        let mut rest = all;
        let [x, h, q, k, v, attn, proj, gate, up] = Buffers::lens(c, n).map(|len| {
            let (part, tail) = std::mem::take(&mut rest).split_at_mut(len);
            rest = tail;
            part
        });
        Buffers {
            x,
            h,
            q,
            k,
            v,
            attn,
            proj,
            gate,
            up,
        }
    }
}

/// The most scratch of each kind (per thread for the per-thread kinds; the sampler's aside)
/// that passes of up to `chunk` tokens over a context of `context` take: the sizes the code
/// below allocates, for the memory estimate.
pub(crate) fn scratch_sizes<'a>(
    c: &'a Config,
    weights: &Weights,
    threads: usize,
    chunk: usize,
    context: usize,
) -> impl Fn(Scratch) -> u64 + 'a {
    let f32s = |n: usize| (n * std::mem::size_of::<f32>()) as u64;
    let attention = attention::most_scratch(c, threads, chunk, context);
    let widest_products = |n: usize| {
        let pick = |w: &Weight| {
            let p = if n == 1 {
                w.kernels.decode
            } else {
                w.kernels.prefill
            };
            (p, w.dtype)
        };
        let mut inputs = vec![input_bytes(&[pick(&weights.output)], c.n_embd, 1)];
        let mut rows = vec![weight_rows_bytes(pick(&weights.output).0, c.n_embd)];
        for lw in &weights.layers {
            let sites: [(&[&Weight], usize); 4] = [
                (&[&lw.q, &lw.k, &lw.v], c.n_embd),
                (&[&lw.o], c.n_head * c.head_dim),
                (&[&lw.gate, &lw.up], c.n_embd),
                (&[&lw.down], c.n_ff),
            ];
            for (readers, cols) in sites {
                let readers: Vec<_> = readers.iter().map(|w| pick(w)).collect();
                inputs.push(input_bytes(&readers, cols, n));
                rows.extend(readers.iter().map(|&(p, _)| weight_rows_bytes(p, cols)));
            }
        }
        (inputs.into_iter().max(), rows.into_iter().max())
    };
    let (input_prefill, rows_prefill) = widest_products(chunk);
    let (input_decode, rows_decode) = widest_products(1);
    move |kind| match kind {
        Scratch::Activations => Buffers::bytes(c, chunk),
        Scratch::Rope => c.ropes.len() as u64 * RopeAngles::bytes(c.head_dim, chunk),
        Scratch::Input => input_prefill.max(input_decode).unwrap_or(0),
        Scratch::Logits => f32s(c.n_embd + c.vocab_size),
        Scratch::Sampler => 0,
        Scratch::Attention => f32s(attention),
        Scratch::WeightRows => rows_prefill.max(rows_decode).unwrap_or(0),
    }
}

/// `1 / sqrt(mean(x²) + eps)`, the sum taken in f64 as llama.cpp does.
fn rms_scale(row: &[f32], eps: f32) -> f32 {
    let sum: f64 = row.iter().map(|&v| (v as f64) * (v as f64)).sum();
    1.0 / ((sum / row.len() as f64) as f32 + eps).sqrt()
}

/// `out = x / sqrt(mean(x²) + eps) · w` for each row of `w.len()` values.
pub(crate) fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    for (xr, or) in x.chunks_exact(w.len()).zip(out.chunks_exact_mut(w.len())) {
        let scale = rms_scale(xr, eps);
        for ((o, &v), &wi) in or.iter_mut().zip(xr).zip(w) {
            *o = v * scale * wi;
        }
    }
}

fn rms_norm_in_place(x: &mut [f32], w: &[f32], eps: f32) {
    for row in x.chunks_exact_mut(w.len()) {
        let scale = rms_scale(row, eps);
        row.iter_mut()
            .zip(w)
            .for_each(|(v, &wi)| *v = *v * scale * wi);
    }
}

/// `e^x` within about 2e-7 relative error, in plain arithmetic that vectorizes (libm's `expf`
/// and `tanhf` are calls, one value at a time). Cephes' `expf` reduction and polynomial.
#[inline(always)]
pub(crate) fn exp_approx(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5 * 2^23 rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2_E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = ((((1.987_569_1e-4 * r + 1.398_2e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 0.166_666_65)
        * r
        + 0.5;
    let e = p * r * r + r + 1.0;
    e * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// GELU with the tanh approximation (HF's `gelu_pytorch_tanh`), written as
/// `x · sigmoid(2u)`, which equals `x/2 · (1 + tanh u)`.
#[inline(always)]
fn gelu_tanh(x: f32) -> f32 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    let u = SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x);
    x / (1.0 + exp_approx(-2.0 * u))
}

impl Network {
    fn matrix(&self, w: &Weight) -> QMatrix<'_> {
        w.view(self.file.bytes())
    }

    fn matmul(&self, w: &Weight, input: &Input, y: &mut [f32]) {
        self.matrix(w).matmul(input, y, w.kernels, &self.pool);
    }

    fn input<'x>(&'x self, x: &'x [f32], n: usize) -> Input<'x> {
        Input::new(x, n, &self.kernels.quantizers, &self.meter)
    }

    /// Room for the activations of chunks of up to `n` tokens, in fresh pages given back when
    /// it is dropped (heap blocks this large would stay with the allocator after a long
    /// prefill, and count against the app). Every buffer in it is written before it is read.
    pub(crate) fn activations(&self, n: usize) -> Result<Zeroed<f32>> {
        Zeroed::new(Buffers::len(&self.config, n), "the activations")
    }

    /// Runs `tokens` (at most one prefill chunk) at positions `cache.len()..`, appends their
    /// keys and values to `cache`, and returns the logits of the last `n_logits` tokens.
    /// The caller has checked the ids and the room left in the cache, and gives the room for
    /// the activations ([`Network::activations`] of at least `tokens.len()`).
    pub(crate) fn forward_chunk(
        &self,
        cache: &mut KvCache,
        tokens: &[u32],
        n_logits: usize,
        activations: &mut [f32],
    ) -> Vec<f32> {
        let c = &self.config;
        let n = tokens.len();
        let d = c.n_embd;
        let pos0 = cache.len;
        let mut b = Buffers::split(c, n, &mut activations[..Buffers::len(c, n)]);
        self.meter
            .record(Scratch::Activations, Buffers::bytes(c, n));

        let embed = self.matrix(&self.weights.embed);
        let embed_scale = (d as f32).sqrt();
        for (row, &id) in b.x.chunks_exact_mut(d).zip(tokens) {
            embed.dequantize_row(id as usize, row);
            row.iter_mut().for_each(|v| *v *= embed_scale);
        }

        let angles: Vec<RopeAngles> = self.ropes.iter().map(|r| r.angles(pos0, n)).collect();
        let rope_bytes = angles.len() as u64 * RopeAngles::bytes(c.head_dim, n);
        self.meter.record(Scratch::Rope, rope_bytes);
        for (il, lw) in self.weights.layers.iter().enumerate() {
            let rope = &angles[c.layers[il].rope];
            self.attention_block(lw, rope, &mut cache.layers[il], pos0, n, &mut b);
            self.ffn_block(lw, n, &mut b);
        }
        cache.len += n;
        if n_logits == 0 {
            return Vec::new();
        }

        let first = n - n_logits;
        let mut xn = vec![0f32; n_logits * d];
        rms_norm(
            &b.x[first * d..],
            &self.weights.output_norm,
            c.rms_eps,
            &mut xn,
        );
        let mut logits = vec![0f32; n_logits * c.vocab_size];
        let logit_bytes =
            std::mem::size_of_val(xn.as_slice()) + std::mem::size_of_val(logits.as_slice());
        self.meter.record(Scratch::Logits, logit_bytes as u64);
        self.matmul(
            &self.weights.output,
            &self.input(&xn, n_logits),
            &mut logits,
        );
        if let Some(cap) = c.final_softcap {
            softcap(&mut logits, cap);
        }
        logits
    }

    fn attention_block(
        &self,
        lw: &LayerWeights,
        rope: &RopeAngles,
        layer: &mut LayerCache,
        pos0: usize,
        n: usize,
        b: &mut Buffers,
    ) {
        let c = &self.config;
        let hd = c.head_dim;
        rms_norm(b.x, &lw.attn_norm, c.rms_eps, b.h);
        let h = self.input(b.h, n);
        self.matmul(&lw.q, &h, b.q);
        self.matmul(&lw.k, &h, b.k);
        self.matmul(&lw.v, &h, b.v);
        if let (Some(qn), Some(kn)) = (&lw.q_norm, &lw.k_norm) {
            rms_norm_in_place(b.q, qn, c.rms_eps);
            rms_norm_in_place(b.k, kn, c.rms_eps);
        }
        for (t, (q, k)) in
            b.q.chunks_exact_mut(c.n_head * hd)
                .zip(b.k.chunks_exact_mut(c.n_head_kv * hd))
                .enumerate()
        {
            q.chunks_exact_mut(hd).for_each(|h| rope.apply(h, t));
            k.chunks_exact_mut(hd).for_each(|h| rope.apply(h, t));
            q.iter_mut().for_each(|v| *v *= c.attn_scale);
        }
        let kv_dim = c.n_head_kv * hd;
        for t in 0..n {
            let row = t * kv_dim..(t + 1) * kv_dim;
            layer.write(pos0 + t, &b.k[row.clone()], &b.v[row]);
        }
        let attention = Attention {
            config: c,
            layer,
            pos0,
            n,
            q: b.q,
            isa: self.kernels.isa(),
            meter: &self.meter,
        };
        attention.run(&self.pool, b.attn);

        self.matmul(&lw.o, &self.input(b.attn, n), b.proj);
        if let Some(w) = &lw.post_attn_norm {
            rms_norm_in_place(b.proj, w, c.rms_eps);
        }
        b.x.iter_mut().zip(b.proj.iter()).for_each(|(x, p)| *x += p);
    }

    fn ffn_block(&self, lw: &LayerWeights, n: usize, b: &mut Buffers) {
        let c = &self.config;
        rms_norm(b.x, &lw.ffn_norm, c.rms_eps, b.h);
        let h = self.input(b.h, n);
        self.matmul(&lw.gate, &h, b.gate);
        self.matmul(&lw.up, &h, b.up);
        for (g, u) in b.gate.iter_mut().zip(b.up.iter()) {
            *g = gelu_tanh(*g) * u;
        }
        self.matmul(&lw.down, &self.input(b.gate, n), b.proj);
        if let Some(w) = &lw.post_ffn_norm {
            rms_norm_in_place(b.proj, w, c.rms_eps);
        }
        b.x.iter_mut().zip(b.proj.iter()).for_each(|(x, p)| *x += p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_approx_is_within_a_few_ulps_of_exp() {
        for i in -8700..=8800 {
            let x = i as f32 / 100.0;
            let (want, got) = ((x as f64).exp(), exp_approx(x) as f64);
            assert!(
                ((got - want) / want).abs() < 4e-7,
                "exp({x}): {got} vs {want}"
            );
        }
        assert_eq!(exp_approx(f32::NEG_INFINITY), exp_approx(-87.0));
    }

    #[test]
    fn gelu_matches_its_tanh_form() {
        for i in -2000..=2000 {
            let x = i as f32 / 100.0;
            let u = 0.797_884_6 * (x as f64 + 0.044_715 * (x as f64).powi(3));
            let want = 0.5 * x as f64 * (1.0 + u.tanh());
            assert!(
                (gelu_tanh(x) as f64 - want).abs() < 1e-6 * (1.0 + want.abs()),
                "gelu({x})"
            );
        }
    }
}
