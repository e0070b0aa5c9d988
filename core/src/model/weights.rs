//! Where each weight lives in the mapped file, with its shape checked against the config.
//! Matrices stay in the file; only the small 1-D norm vectors are read into f32.

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::gguf::Gguf;
use crate::model::config::Config;
use crate::runtime::dispatch::{Kernels, WeightKernels};
use crate::runtime::matmul::QMatrix;

/// A matrix of `rows × cols` in the file at `offset..offset + size`, and the products it runs.
#[derive(Clone, Copy)]
pub(crate) struct Weight {
    pub dtype: DType,
    pub rows: usize,
    pub cols: usize,
    offset: usize,
    size: usize,
    pub kernels: WeightKernels,
}

impl Weight {
    pub fn view<'a>(&self, file: &'a [u8]) -> QMatrix<'a> {
        QMatrix {
            dtype: self.dtype,
            rows: self.rows,
            cols: self.cols,
            data: &file[self.offset..self.offset + self.size],
        }
    }
}

pub(crate) struct LayerWeights {
    pub attn_norm: Vec<f32>,
    pub q: Weight,
    pub k: Weight,
    pub v: Weight,
    pub o: Weight,
    pub q_norm: Option<Vec<f32>>,
    pub k_norm: Option<Vec<f32>>,
    pub post_attn_norm: Option<Vec<f32>>,
    pub ffn_norm: Vec<f32>,
    pub gate: Weight,
    pub up: Weight,
    pub down: Weight,
    pub post_ffn_norm: Option<Vec<f32>>,
}

pub(crate) struct Weights {
    pub embed: Weight,
    /// The output head: `output.weight` if the file has one, else the tied embedding.
    pub output: Weight,
    pub output_norm: Vec<f32>,
    pub layers: Vec<LayerWeights>,
}

fn shape_error(name: &str, expected: &[usize], found: &[u64]) -> Error {
    Error::TensorShape {
        tensor: name.to_owned(),
        expected: expected.iter().map(|&d| d as u64).collect(),
        found: found.to_vec(),
    }
}

fn matrix<B: AsRef<[u8]>>(
    g: &Gguf<B>,
    kernels: &Kernels,
    name: &str,
    cols: usize,
    rows: usize,
) -> Result<Weight> {
    let t = g
        .tensor(name)
        .ok_or_else(|| Error::MissingTensor(name.to_owned()))?;
    if t.dims != [cols as u64, rows as u64] {
        return Err(shape_error(name, &[cols, rows], &t.dims));
    }
    Ok(Weight {
        dtype: t.dtype,
        rows,
        cols,
        offset: t.offset,
        size: t.size,
        kernels: kernels.weight(t.dtype, rows, cols),
    })
}

fn vector<B: AsRef<[u8]>>(g: &Gguf<B>, name: &str, len: usize) -> Result<Vec<f32>> {
    let t = g
        .tensor(name)
        .ok_or_else(|| Error::MissingTensor(name.to_owned()))?;
    if t.dims != [len as u64] {
        return Err(shape_error(name, &[len], &t.dims));
    }
    let m = QMatrix {
        dtype: t.dtype,
        rows: 1,
        cols: len,
        data: g.tensor_data(t),
    };
    let mut out = vec![0f32; len];
    m.dequantize_row(0, &mut out);
    Ok(out)
}

fn opt_vector<B: AsRef<[u8]>>(
    g: &Gguf<B>,
    name: &str,
    len: usize,
    wanted: bool,
) -> Result<Option<Vec<f32>>> {
    wanted.then(|| vector(g, name, len)).transpose()
}

impl Weights {
    /// Finds every tensor the config calls for, checks its shape and chooses its products.
    /// Also sets `config.vocab_size` from the embedding table.
    pub fn locate<B: AsRef<[u8]>>(
        g: &Gguf<B>,
        config: &mut Config,
        kernels: &Kernels,
    ) -> Result<Weights> {
        let matrix = |name: &str, cols, rows| matrix(g, kernels, name, cols, rows);
        let d = config.n_embd;
        let embd = g
            .tensor("token_embd.weight")
            .ok_or_else(|| Error::MissingTensor("token_embd.weight".into()))?;
        let vocab = match embd.dims.as_slice() {
            [cols, rows] if *cols == d as u64 && *rows <= 1 << 24 => *rows as usize,
            found => return Err(shape_error("token_embd.weight", &[d, 0], found)),
        };
        config.vocab_size = vocab;
        let embed = matrix("token_embd.weight", d, vocab)?;
        let output = match g.tensor("output.weight") {
            Some(_) => matrix("output.weight", d, vocab)?,
            None => embed,
        };
        let q_dim = config.n_head * config.head_dim;
        let kv_dim = config.n_head_kv * config.head_dim;
        let (hd, ff, post) = (config.head_dim, config.n_ff, config.post_norms);
        let layers = (0..config.layers.len())
            .map(|il| {
                let n = |s: &str| format!("blk.{il}.{s}.weight");
                Ok(LayerWeights {
                    attn_norm: vector(g, &n("attn_norm"), d)?,
                    q: matrix(&n("attn_q"), d, q_dim)?,
                    k: matrix(&n("attn_k"), d, kv_dim)?,
                    v: matrix(&n("attn_v"), d, kv_dim)?,
                    o: matrix(&n("attn_output"), q_dim, d)?,
                    q_norm: opt_vector(g, &n("attn_q_norm"), hd, config.qk_norm)?,
                    k_norm: opt_vector(g, &n("attn_k_norm"), hd, config.qk_norm)?,
                    post_attn_norm: opt_vector(g, &n("post_attention_norm"), d, post)?,
                    ffn_norm: vector(g, &n("ffn_norm"), d)?,
                    gate: matrix(&n("ffn_gate"), d, ff)?,
                    up: matrix(&n("ffn_up"), d, ff)?,
                    down: matrix(&n("ffn_down"), ff, d)?,
                    post_ffn_norm: opt_vector(g, &n("post_ffw_norm"), d, post)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Weights {
            embed,
            output,
            output_norm: vector(g, "output_norm.weight", d)?,
            layers,
        })
    }
}
