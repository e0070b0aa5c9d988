//! The forward pass shared by the three families: embedding, the blocks, the output head.
//! Each family's differences are data in [`Config`], so there is one copy of the arithmetic.
//! Conventions follow llama.cpp's Gemma graphs (see research/GEMMA_GGUF.md): norm weights
//! carry their +1, embeddings scale by sqrt(n_embd) in f32, queries scale after RoPE,
//! attention soft-caps before the mask, GQA maps query head h to KV head h / group.

use super::config::Config;
use super::kv_cache::{KvCache, LayerCache};
use super::rope::RopeTable;
use super::weights::{LayerWeights, Weight};
use super::Model;
use crate::quant::QMatrix;
use crate::threads::SharedMut;

/// Scratch for one chunk of `n` tokens.
struct Buffers {
    x: Vec<f32>,
    h: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    attn: Vec<f32>,
    proj: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
}

impl Buffers {
    fn new(c: &Config, n: usize) -> Buffers {
        let q_dim = c.n_head * c.head_dim;
        let kv_dim = c.n_head_kv * c.head_dim;
        Buffers {
            x: vec![0.0; n * c.n_embd],
            h: vec![0.0; n * c.n_embd],
            q: vec![0.0; n * q_dim],
            k: vec![0.0; n * kv_dim],
            v: vec![0.0; n * kv_dim],
            attn: vec![0.0; n * q_dim],
            proj: vec![0.0; n * c.n_embd],
            gate: vec![0.0; n * c.n_ff],
            up: vec![0.0; n * c.n_ff],
        }
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

/// GELU with the tanh approximation (HF's `gelu_pytorch_tanh`).
fn gelu_tanh(x: f32) -> f32 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    0.5 * x * (1.0 + (SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x)).tanh())
}

fn softcap(values: &mut [f32], cap: f32) {
    for v in values {
        *v = cap * (*v / cap).tanh();
    }
}

impl Model {
    fn matrix(&self, w: &Weight) -> QMatrix<'_> {
        w.view(self.file.bytes())
    }

    fn matmul(&self, w: &Weight, x: &[f32], n: usize, y: &mut [f32]) {
        self.matrix(w).matmul(x, n, y, self.precision, &self.pool);
    }

    /// Runs `tokens` (at most one prefill chunk) at positions `cache.len()..`, appends their
    /// keys and values to `cache`, and returns the logits of the last `n_logits` tokens.
    /// The caller has checked the ids and the room left in the cache.
    pub(crate) fn forward_chunk(
        &self,
        cache: &mut KvCache,
        tokens: &[u32],
        n_logits: usize,
    ) -> Vec<f32> {
        let c = &self.config;
        let n = tokens.len();
        let d = c.n_embd;
        let pos0 = cache.len;
        let mut b = Buffers::new(c, n);

        let embed = self.matrix(&self.weights.embed);
        let embed_scale = (d as f32).sqrt();
        for (row, &id) in b.x.chunks_exact_mut(d).zip(tokens) {
            embed.dequantize_row(id as usize, row);
            row.iter_mut().for_each(|v| *v *= embed_scale);
        }

        for (il, lw) in self.weights.layers.iter().enumerate() {
            let rope = &self.ropes[c.layers[il].rope];
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
        self.matmul(&self.weights.output, &xn, n_logits, &mut logits);
        if let Some(cap) = c.final_softcap {
            softcap(&mut logits, cap);
        }
        logits
    }

    fn attention_block(
        &self,
        lw: &LayerWeights,
        rope: &RopeTable,
        layer: &mut LayerCache,
        pos0: usize,
        n: usize,
        b: &mut Buffers,
    ) {
        let c = &self.config;
        let hd = c.head_dim;
        rms_norm(&b.x, &lw.attn_norm, c.rms_eps, &mut b.h);
        self.matmul(&lw.q, &b.h, n, &mut b.q);
        self.matmul(&lw.k, &b.h, n, &mut b.k);
        self.matmul(&lw.v, &b.h, n, &mut b.v);
        if let (Some(qn), Some(kn)) = (&lw.q_norm, &lw.k_norm) {
            rms_norm_in_place(&mut b.q, qn, c.rms_eps);
            rms_norm_in_place(&mut b.k, kn, c.rms_eps);
        }
        for (t, (q, k)) in
            b.q.chunks_exact_mut(c.n_head * hd)
                .zip(b.k.chunks_exact_mut(c.n_head_kv * hd))
                .enumerate()
        {
            q.chunks_exact_mut(hd).for_each(|h| rope.apply(h, pos0 + t));
            k.chunks_exact_mut(hd).for_each(|h| rope.apply(h, pos0 + t));
            q.iter_mut().for_each(|v| *v *= c.attn_scale);
        }
        let kv_dim = c.n_head_kv * hd;
        for t in 0..n {
            let row = t * kv_dim..(t + 1) * kv_dim;
            layer.write(pos0 + t, &b.k[row.clone()], &b.v[row]);
        }
        self.attend(layer, pos0, n, &b.q, &mut b.attn);

        self.matmul(&lw.o, &b.attn, n, &mut b.proj);
        if let Some(w) = &lw.post_attn_norm {
            rms_norm_in_place(&mut b.proj, w, c.rms_eps);
        }
        b.x.iter_mut().zip(&b.proj).for_each(|(x, p)| *x += p);
    }

    /// Softmax attention of each query head over the keys it may see. A task takes one token
    /// and one KV head with the query heads that share it (GQA), so each cached key and value
    /// row is converted once for all of them; when that gives too few tasks to keep the
    /// threads busy (decode), the group is split across tasks.
    fn attend(&self, layer: &LayerCache, pos0: usize, n: usize, q: &[f32], out: &mut [f32]) {
        let c = &self.config;
        let hd = c.head_dim;
        let group = c.n_head / c.n_head_kv;
        let threads = self.pool.n_threads();
        let heads_per_task = if threads > 1 && n * c.n_head_kv < 2 * threads {
            1
        } else {
            group
        };
        let tasks_per_token = c.n_head / heads_per_task;
        let out = SharedMut::new(out);
        self.pool.run(n * tasks_per_token, &|task| {
            let (t, first_head) = (
                task / tasks_per_token,
                (task % tasks_per_token) * heads_per_task,
            );
            let pos = pos0 + t;
            let first = layer.first_visible(pos);
            let len = pos + 1 - first;
            let kv_offset = (first_head / group) * hd;
            let qs = &q[(t * c.n_head + first_head) * hd..][..heads_per_task * hd];
            let mut row = vec![0f32; hd];
            let mut scores = vec![0f32; heads_per_task * len];
            for (i, j) in (first..=pos).enumerate() {
                layer.read_key(j, kv_offset, &mut row);
                for (h, qh) in qs.chunks_exact(hd).enumerate() {
                    scores[h * len + i] = crate::quant::dot_f32(qh, &row);
                }
            }
            for s in scores.chunks_exact_mut(len) {
                if let Some(cap) = c.attn_softcap {
                    softcap(s, cap);
                }
                let max = s.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                let mut sum = 0f32;
                for v in s.iter_mut() {
                    *v = (*v - max).exp();
                    sum += *v;
                }
                s.iter_mut().for_each(|v| *v /= sum);
            }
            // SAFETY: this task alone writes these heads of token t.
            let o = unsafe { out.slice_mut((t * c.n_head + first_head) * hd, heads_per_task * hd) };
            o.fill(0.0);
            for (i, j) in (first..=pos).enumerate() {
                layer.read_value(j, kv_offset, &mut row);
                for (h, oh) in o.chunks_exact_mut(hd).enumerate() {
                    let w = scores[h * len + i];
                    oh.iter_mut().zip(&row).for_each(|(o, v)| *o += w * v);
                }
            }
        });
    }

    fn ffn_block(&self, lw: &LayerWeights, n: usize, b: &mut Buffers) {
        let c = &self.config;
        rms_norm(&b.x, &lw.ffn_norm, c.rms_eps, &mut b.h);
        self.matmul(&lw.gate, &b.h, n, &mut b.gate);
        self.matmul(&lw.up, &b.h, n, &mut b.up);
        for (g, u) in b.gate.iter_mut().zip(&b.up) {
            *g = gelu_tanh(*g) * u;
        }
        self.matmul(&lw.down, &b.gate, n, &mut b.proj);
        if let Some(w) = &lw.post_ffn_norm {
            rms_norm_in_place(&mut b.proj, w, c.rms_eps);
        }
        b.x.iter_mut().zip(&b.proj).for_each(|(x, p)| *x += p);
    }
}
