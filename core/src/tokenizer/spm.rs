//! The SentencePiece ("llama" vocab type) machinery: an exact-match index from piece text to id,
//! the special-token partition, and the score-driven bigram merge. Each part reproduces the
//! corresponding piece of llama.cpp (`llama-vocab.cpp`: `tokenizer_st_partition` and
//! `llm_tokenizer_spm_session`) so that the ids come out identical.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::packed::Packed;

const EMPTY: u32 = u32::MAX;

/// Hash of a byte string (FxHash-style, 8 bytes at a time). Only used for the in-memory index.
#[inline]
fn hash_bytes(b: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h: u64 = (b.len() as u64).wrapping_mul(K);
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut buf = [0u8; 8];
        buf[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(buf)).wrapping_mul(K);
    }
    h ^ (h >> 32)
}

/// Open-addressing table from token text to id that borrows the texts from the token list, so
/// building it for 262k tokens costs no allocation per token. When two tokens share a text the
/// later id wins, like llama.cpp's `token_to_id[word] = i`.
pub(crate) struct PieceIndex {
    slots: Vec<u32>,
    mask: usize,
}

impl PieceIndex {
    pub(crate) fn build(tokens: &Packed) -> (PieceIndex, usize) {
        let cap = (tokens.len().max(1) * 2).next_power_of_two();
        let mut idx = PieceIndex {
            slots: vec![EMPTY; cap],
            mask: cap - 1,
        };
        let mut duplicates = 0;
        for id in 0..tokens.len() {
            let key = tokens.get(id);
            let mut pos = hash_bytes(key) as usize & idx.mask;
            loop {
                let s = idx.slots[pos];
                if s == EMPTY {
                    idx.slots[pos] = id as u32;
                    break;
                }
                if tokens.get(s as usize) == key {
                    idx.slots[pos] = id as u32;
                    duplicates += 1;
                    break;
                }
                pos = (pos + 1) & idx.mask;
            }
        }
        (idx, duplicates)
    }

    #[inline]
    pub(crate) fn get(&self, tokens: &Packed, key: &[u8]) -> Option<u32> {
        let mut pos = hash_bytes(key) as usize & self.mask;
        loop {
            let s = self.slots[pos];
            if s == EMPTY {
                return None;
            }
            if tokens.get(s as usize) == key {
                return Some(s);
            }
            pos = (pos + 1) & self.mask;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Special-token partition
// ---------------------------------------------------------------------------------------------

/// A piece of the input after the special-token partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fragment {
    /// Byte range of the input that still has to go through the SPM merge.
    Text(usize, usize),
    /// A special token matched literally.
    Token(u32),
}

struct TrieNode {
    /// Range into `SpecialMatcher::edges`, sorted by byte.
    edges_start: u32,
    edges_len: u32,
    /// Token ending here that is partitioned when parse_special is on (control, unknown or
    /// user-defined), or EMPTY.
    term_all: u32,
    /// Token ending here that is partitioned even when parse_special is off (user-defined and
    /// neither control nor unknown), or EMPTY.
    term_user: u32,
}

/// Finds special tokens in text with the exact semantics of llama.cpp's
/// `tokenizer_st_partition`: the special tokens are taken one after the other, longest first,
/// and each one cuts every leftmost non-overlapping occurrence of itself out of the text that no
/// earlier token claimed. Occurrences are found with a byte trie in one pass, so the cost is
/// O(text length x longest special token) instead of O(text length x number of special tokens).
pub(crate) struct SpecialMatcher {
    nodes: Vec<TrieNode>,
    edges: Vec<(u8, u32)>,
    any_all: bool,
    any_user: bool,
}

/// Lengths up to this many bytes are tracked in a per-position bit mask; longer matches go to a
/// side list.
const MASK_BITS: usize = 64;

impl SpecialMatcher {
    /// `specials` holds (token id, text, partitioned_without_parse_special) in llama.cpp's
    /// processing order: longest first, then ascending id.
    pub(crate) fn build(specials: &[(u32, &[u8], bool)]) -> SpecialMatcher {
        // Build with per-node child lists, then flatten.
        let mut children: Vec<Vec<(u8, u32)>> = vec![Vec::new()];
        let mut term_all: Vec<u32> = vec![EMPTY];
        let mut term_user: Vec<u32> = vec![EMPTY];
        let mut any_all = false;
        let mut any_user = false;
        for &(id, text, user) in specials {
            if text.is_empty() {
                continue;
            }
            let mut node = 0usize;
            for &b in text {
                let next = match children[node].binary_search_by_key(&b, |e| e.0) {
                    Ok(i) => children[node][i].1 as usize,
                    Err(i) => {
                        let n = children.len();
                        children[node].insert(i, (b, n as u32));
                        children.push(Vec::new());
                        term_all.push(EMPTY);
                        term_user.push(EMPTY);
                        n
                    }
                };
                node = next;
            }
            // With duplicate texts the first in processing order wins: llama.cpp would cut every
            // occurrence out with that one before it reaches the second.
            if term_all[node] == EMPTY {
                term_all[node] = id;
                any_all = true;
            }
            if user && term_user[node] == EMPTY {
                term_user[node] = id;
                any_user = true;
            }
        }
        let mut nodes = Vec::with_capacity(children.len());
        let mut edges = Vec::with_capacity(children.len());
        for (i, ch) in children.into_iter().enumerate() {
            nodes.push(TrieNode {
                edges_start: edges.len() as u32,
                edges_len: ch.len() as u32,
                term_all: term_all[i],
                term_user: term_user[i],
            });
            edges.extend(ch);
        }
        SpecialMatcher {
            nodes,
            edges,
            any_all,
            any_user,
        }
    }

    #[inline]
    fn child(&self, node: u32, b: u8) -> Option<u32> {
        let n = &self.nodes[node as usize];
        let e = &self.edges[n.edges_start as usize..(n.edges_start + n.edges_len) as usize];
        if e.len() <= 8 {
            e.iter().find(|x| x.0 == b).map(|x| x.1)
        } else {
            e.binary_search_by_key(&b, |x| x.0).ok().map(|i| e[i].1)
        }
    }

    #[inline]
    fn term(&self, node: u32, parse_special: bool) -> u32 {
        let n = &self.nodes[node as usize];
        if parse_special {
            n.term_all
        } else {
            n.term_user
        }
    }

    /// The token whose text is exactly `text[pos..pos + len]`, if it is an eligible special.
    fn token_at(&self, text: &[u8], pos: usize, len: usize, parse_special: bool) -> u32 {
        let mut node = 0u32;
        for &b in &text[pos..pos + len] {
            match self.child(node, b) {
                Some(n) => node = n,
                None => return EMPTY,
            }
        }
        self.term(node, parse_special)
    }

    /// Splits `text` into fragments. Among special tokens of the same byte length, lower ids go
    /// first (llama.cpp's `std::sort` leaves that order unspecified; it only matters when two
    /// distinct special tokens of equal length overlap in the text, which cannot happen with the
    /// Gemma vocabularies).
    pub(crate) fn partition(&self, text: &[u8], parse_special: bool) -> Vec<Fragment> {
        let n = text.len();
        let any = if parse_special {
            self.any_all
        } else {
            self.any_user
        };
        if n == 0 {
            return Vec::new();
        }
        if !any {
            return vec![Fragment::Text(0, n)];
        }

        // 1. Every occurrence of every eligible special token: a bit mask of match lengths per
        //    start position (sparse), plus a side list for matches longer than MASK_BITS.
        let mut hits: Vec<(u32, u64)> = Vec::new();
        let mut long_hits: Vec<(u32, u32, u32)> = Vec::new(); // (len, pos, id)
        let mut lengths_seen: u64 = 0;
        for start in 0..n {
            let mut node = 0u32;
            let mut mask = 0u64;
            let mut depth = 0usize;
            for &b in &text[start..] {
                match self.child(node, b) {
                    Some(c) => node = c,
                    None => break,
                }
                depth += 1;
                let t = self.term(node, parse_special);
                if t != EMPTY {
                    if depth <= MASK_BITS {
                        mask |= 1u64 << (depth - 1);
                    } else {
                        long_hits.push((depth as u32, start as u32, t));
                    }
                }
            }
            if mask != 0 {
                lengths_seen |= mask;
                hits.push((start as u32, mask));
            }
        }
        if hits.is_empty() && long_hits.is_empty() {
            return vec![Fragment::Text(0, n)];
        }

        // 2. Replay llama.cpp's order: lengths descending; within a length, token by token
        //    (by id) and each token's occurrences left to right, keeping an occurrence only if
        //    none of its bytes was claimed before. Because every earlier claim is at least as long
        //    as the current candidate, a claimed run can only overlap the candidate by covering
        //    its first or its last byte, so checking the two ends is exact.
        let mut claimed = vec![false; n];
        let mut matches: Vec<(u32, u32, u32)> = Vec::new(); // (pos, len, id)
        let mut cands: Vec<(u32, u32, u32)> = Vec::new(); // (order key, pos, id)
        long_hits.sort_unstable_by_key(|h| std::cmp::Reverse(h.0));
        let mut long_i = 0;
        let mut lengths: Vec<usize> = long_hits.iter().map(|h| h.0 as usize).collect();
        lengths.dedup();
        for l in (1..=MASK_BITS).rev() {
            if lengths_seen & (1u64 << (l - 1)) != 0 {
                lengths.push(l);
            }
        }
        for &len in &lengths {
            cands.clear();
            if len > MASK_BITS {
                while long_i < long_hits.len() && long_hits[long_i].0 as usize == len {
                    let (_, pos, id) = long_hits[long_i];
                    cands.push((id, pos, id));
                    long_i += 1;
                }
            } else {
                let bit = 1u64 << (len - 1);
                for &(pos, mask) in &hits {
                    let p = pos as usize;
                    // Claims only grow, so a candidate already blocked stays blocked.
                    if mask & bit != 0 && !claimed[p] && !claimed[p + len - 1] {
                        let id = self.token_at(text, p, len, parse_special);
                        if id != EMPTY {
                            cands.push((id, pos, id));
                        }
                    }
                }
            }
            cands.sort_unstable();
            for &(_, pos, id) in &cands {
                let p = pos as usize;
                if claimed[p] || claimed[p + len - 1] {
                    continue;
                }
                claimed[p..p + len].iter_mut().for_each(|c| *c = true);
                matches.push((pos, len as u32, id));
            }
        }

        // 3. Fragments in text order.
        matches.sort_unstable();
        let mut out = Vec::with_capacity(matches.len() * 2 + 1);
        let mut at = 0usize;
        for (pos, len, id) in matches {
            let p = pos as usize;
            if p > at {
                out.push(Fragment::Text(at, p));
            }
            out.push(Fragment::Token(id));
            at = p + len as usize;
        }
        if at < n {
            out.push(Fragment::Text(at, n));
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Bigram merge
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
struct Symbol {
    start: u32,
    len: u32,
    prev: i32,
    next: i32,
}

#[derive(Clone, Copy)]
struct Bigram {
    score: f32,
    left: i32,
    right: i32,
    size: u32,
}

impl PartialEq for Bigram {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Bigram {}
impl PartialOrd for Bigram {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Bigram {
    /// Max-heap order of llama.cpp's `llm_bigram_spm::comparator`: higher score first, then the
    /// leftmost pair. Scores are never NaN here (they are sanitized when the tokenizer is built).
    fn cmp(&self, o: &Self) -> Ordering {
        self.score
            .partial_cmp(&o.score)
            .unwrap_or(Ordering::Equal)
            .then_with(|| o.left.cmp(&self.left))
            .then_with(|| o.right.cmp(&self.right))
            .then_with(|| o.size.cmp(&self.size))
    }
}

/// What the merge needs from the vocabulary.
pub(crate) struct MergeVocab<'a> {
    pub tokens: &'a Packed,
    pub scores: &'a [f32],
    pub index: &'a PieceIndex,
    /// Token for each byte value in byte fallback (`<0xXX>`, else the one-byte piece), if any.
    pub byte_tokens: &'a [Option<u32>; 256],
}

/// Reusable buffers for one encode call.
#[derive(Default)]
pub(crate) struct MergeScratch {
    symbols: Vec<Symbol>,
    heap: BinaryHeap<Bigram>,
}

/// Tokenizes one already-escaped text fragment (spaces replaced by U+2581) exactly like
/// llama.cpp's `llm_tokenizer_spm_session::tokenize`, appending ids to `out`. A character that is
/// not a piece and has a byte without a byte-fallback token becomes one `unk`; without `unk` the
/// call fails with that byte.
pub(crate) fn spm_tokenize(
    v: &MergeVocab<'_>,
    text: &str,
    unk: Option<u32>,
    scratch: &mut MergeScratch,
    out: &mut Vec<u32>,
) -> Result<(), u8> {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return Ok(());
    }
    let symbols = &mut scratch.symbols;
    let heap = &mut scratch.heap;
    symbols.clear();
    heap.clear();

    // One symbol per UTF-8 character.
    for (idx, (off, ch)) in (0i32..).zip(text.char_indices()) {
        let len = ch.len_utf8();
        symbols.push(Symbol {
            start: off as u32,
            len: len as u32,
            prev: idx - 1,
            next: if off + len == bytes.len() {
                -1
            } else {
                idx + 1
            },
        });
    }

    let try_add = |symbols: &Vec<Symbol>, heap: &mut BinaryHeap<Bigram>, left: i32, right: i32| {
        if left < 0 || right < 0 {
            return;
        }
        let l = symbols[left as usize];
        let r = symbols[right as usize];
        let start = l.start as usize;
        let size = (l.len + r.len) as usize;
        if let Some(id) = v.index.get(v.tokens, &bytes[start..start + size]) {
            heap.push(Bigram {
                score: v.scores[id as usize],
                left,
                right,
                size: size as u32,
            });
        }
    };

    for i in 1..symbols.len() as i32 {
        try_add(symbols, heap, i - 1, i);
    }

    while let Some(bg) = heap.pop() {
        let l = symbols[bg.left as usize];
        let r = symbols[bg.right as usize];
        // Skip pairs made stale by an earlier merge.
        if l.len == 0 || r.len == 0 || l.len + r.len != bg.size {
            continue;
        }
        {
            let ls = &mut symbols[bg.left as usize];
            ls.len += r.len;
            ls.next = r.next;
        }
        symbols[bg.right as usize].len = 0;
        if r.next >= 0 {
            symbols[r.next as usize].prev = bg.left;
        }
        let lprev = symbols[bg.left as usize].prev;
        let lnext = symbols[bg.left as usize].next;
        try_add(symbols, heap, lprev, bg.left);
        try_add(symbols, heap, bg.left, lnext);
    }

    // Emit. A surviving symbol is either a merged piece (always in the vocabulary) or a single
    // character; llama.cpp's `resegment` falls back to one token per byte for characters that are
    // not pieces (its rev_merge lookup can never hit for a single valid UTF-8 character).
    let mut first_missing = None;
    let mut i: i32 = 0;
    while i != -1 {
        let s = symbols[i as usize];
        let piece = &bytes[s.start as usize..(s.start + s.len) as usize];
        if let Some(id) = v.index.get(v.tokens, piece) {
            out.push(id);
        } else if piece.iter().all(|&b| v.byte_tokens[b as usize].is_some()) {
            out.extend(piece.iter().filter_map(|&b| v.byte_tokens[b as usize]));
        } else {
            // llama.cpp throws here (`token_to_id.at`); we emit one unknown token for the whole
            // character, or report the byte when there is no unknown token.
            let missing = piece
                .iter()
                .copied()
                .find(|&b| v.byte_tokens[b as usize].is_none());
            if let (None, Some(b)) = (first_missing, missing) {
                first_missing = Some(b);
            }
            if let Some(u) = unk {
                out.push(u);
            }
        }
        i = s.next;
    }
    match first_missing {
        Some(b) if unk.is_none() => Err(b),
        _ => Ok(()),
    }
}
