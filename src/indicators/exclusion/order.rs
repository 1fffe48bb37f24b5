//! A population's income order: its persons sorted ascending by income, ties in file order,
//! as columns of incomes, weights, areas and (where something is gathered after the sort)
//! places in file order.
//!
//! The sort is a bucket sort over the income's bits. Incomes are first counted by the leading
//! bits of their place in the population's range (a histogram per piece of the file, side by
//! side); runs of those prefixes are joined into buckets of a few thousand persons, which the
//! histograms also tell each piece where to write. Each piece then writes its persons straight
//! into their buckets' parts of the columns, in file order, and each bucket is sorted on its
//! own, in cache, and written back in place. Against building every record, sorting them all,
//! settling ties and spreading them into columns, this is one pass that writes the columns and
//! one that reads and rewrites them, both side by side, and no memory beyond the columns.
//!
//! Equal incomes share a prefix, so a tie never crosses a bucket; a piece writes its persons
//! in file order and pieces lie in file order, so a bucket's persons lie in file order, and a
//! sort of a bucket that keeps ties in the order they lie in gives the order of (income,
//! place), whatever the pieces.

use std::ops::Range;

use rayon::prelude::*;

/// A person as the sort reads it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sorted {
    /// The income as [`ordered`] makes it.
    pub key: u64,
    pub weight: f64,
    /// The person's place in its population, in file order.
    pub k: u32,
    pub area: u32,
}

/// The income order as columns.
pub struct Order {
    pub income: Vec<f64>,
    pub weight: Vec<f64>,
    /// Where the population has areas.
    pub area: Option<Vec<u32>>,
    /// Each person's place in file order, where asked for.
    pub places: Option<Vec<u32>>,
}

/// Persons per bucket the buckets are joined up to: a bucket's records (24 bytes each) sort
/// in the core's own cache.
const BUCKET: u32 = 8192;
/// At most this many leading bits of an income's place in the range are counted (a histogram
/// of 4 MB a piece).
const MAX_PREFIX_BITS: u32 = 20;
/// Below this many persons the file is read in one piece.
const ONE_PIECE: usize = 1 << 16;
/// The most pieces a population is read in, whatever the cores: 64 MB of histograms.
const PIECES: usize = 16;

/// Which columns the order carries besides incomes and weights.
#[derive(Clone, Copy)]
pub struct Carry {
    pub area: bool,
    pub places: bool,
}

/// Sorts `n` persons by income: `key(k)` is person k's income as [`ordered`] makes it, and
/// `record(k)` its whole record.
pub fn by_income(
    n: usize,
    key: impl Fn(u32) -> u64 + Sync,
    record: impl Fn(u32) -> Sorted + Sync,
    carry: Carry,
) -> Order {
    let pieces = pieces(n);
    let range = Span::of(&pieces, &key);
    let histograms: Vec<Vec<u32>> = pieces
        .par_iter()
        .map(|piece| range.histogram(piece.clone(), &key))
        .collect();
    let buckets = Buckets::join(&histograms);
    let counts = buckets.counts(&histograms);
    drop(histograms);
    let mut columns = Columns::zeroed(n, carry);
    let (parts, starts) = columns.cut(&counts, buckets.len());
    pieces
        .into_par_iter()
        .zip(parts)
        .for_each(|(piece, mut parts)| {
            let mut at = vec![0usize; buckets.len()];
            for k in piece {
                let s = record(k);
                let b = buckets.of(range.prefix(s.key));
                parts[b].put(at[b], s);
                at[b] += 1;
            }
        });
    columns.sort_buckets(&starts);
    columns.into_order()
}

/// The file's persons in pieces of consecutive places, a few per core (at most [`PIECES`]:
/// each piece counts into a histogram of its own).
fn pieces(n: usize) -> Vec<Range<u32>> {
    let parts = match n < ONE_PIECE {
        true => 1,
        false => (rayon::current_num_threads() * 2).min(PIECES),
    };
    let n = n as u32;
    let step = n.div_ceil(parts as u32).max(1);
    (0..n)
        .step_by(step as usize)
        .map(|k| k..(k + step).min(n))
        .collect()
}

/// The range of the keys, and how many of the leading bits of a key's place in it are counted.
struct Span {
    low: u64,
    shift: u32,
    prefixes: usize,
}

impl Span {
    fn of(pieces: &[Range<u32>], key: &(impl Fn(u32) -> u64 + Sync)) -> Span {
        let (low, high) = pieces
            .par_iter()
            .map(|p| {
                p.clone()
                    .map(key)
                    .fold((u64::MAX, 0), |(lo, hi), x| (lo.min(x), hi.max(x)))
            })
            .reduce(|| (u64::MAX, 0), |a, b| (a.0.min(b.0), a.1.max(b.1)));
        let n: u32 = pieces.iter().map(|p| p.len() as u32).sum();
        // About eight persons a prefix: fine enough to join into even buckets.
        let bits = (n / 8)
            .max(2)
            .next_power_of_two()
            .ilog2()
            .min(MAX_PREFIX_BITS);
        let span = high.saturating_sub(low);
        let shift = (u64::BITS - span.leading_zeros()).saturating_sub(bits);
        Span {
            low: low.min(high),
            shift,
            prefixes: (span >> shift) as usize + 1,
        }
    }

    fn prefix(&self, key: u64) -> usize {
        ((key - self.low) >> self.shift) as usize
    }

    fn histogram(&self, piece: Range<u32>, key: &impl Fn(u32) -> u64) -> Vec<u32> {
        let mut h = vec![0u32; self.prefixes];
        for k in piece {
            h[self.prefix(key(k))] += 1;
        }
        h
    }
}

/// Consecutive prefixes joined into buckets of at least [`BUCKET`] persons (the last may hold
/// fewer): `bucket[prefix]`.
struct Buckets {
    bucket: Vec<u32>,
    len: usize,
}

impl Buckets {
    fn join(histograms: &[Vec<u32>]) -> Buckets {
        let prefixes = histograms.first().map_or(0, Vec::len);
        let mut bucket = Vec::with_capacity(prefixes);
        let (mut b, mut filled) = (0u32, 0u32);
        for p in 0..prefixes {
            bucket.push(b);
            filled += histograms.iter().map(|h| h[p]).sum::<u32>();
            if filled >= BUCKET {
                (b, filled) = (b + 1, 0);
            }
        }
        Buckets {
            bucket,
            len: b as usize + 1,
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn of(&self, prefix: usize) -> usize {
        self.bucket[prefix] as usize
    }

    /// Each piece's persons in each bucket.
    fn counts(&self, histograms: &[Vec<u32>]) -> Vec<Vec<usize>> {
        histograms
            .par_iter()
            .map(|h| {
                let mut c = vec![0; self.len];
                for (p, n) in h.iter().enumerate() {
                    c[self.bucket[p] as usize] += *n as usize;
                }
                c
            })
            .collect()
    }
}

/// The order's columns while they are written: incomes as [`ordered`] keys until each bucket
/// is sorted, then as the incomes' bits. Allocated zeroed, so no pass fills them before the
/// pieces write them.
struct Columns {
    key: Vec<u64>,
    weight: Vec<f64>,
    area: Option<Vec<u32>>,
    places: Option<Vec<u32>>,
}

/// One piece's part of one bucket, or one whole bucket, of every column.
struct Part<'s> {
    key: &'s mut [u64],
    weight: &'s mut [f64],
    area: Option<&'s mut [u32]>,
    places: Option<&'s mut [u32]>,
}

impl Part<'_> {
    fn put(&mut self, i: usize, s: Sorted) {
        self.key[i] = s.key;
        self.weight[i] = s.weight;
        if let Some(a) = self.area.as_deref_mut() {
            a[i] = s.area;
        }
        if let Some(p) = self.places.as_deref_mut() {
            p[i] = s.k;
        }
    }

    fn len(&self) -> usize {
        self.key.len()
    }
}

impl Columns {
    fn zeroed(n: usize, carry: Carry) -> Columns {
        Columns {
            key: vec![0; n],
            weight: vec![0.0; n],
            area: carry.area.then(|| vec![0; n]),
            places: carry.places.then(|| vec![0; n]),
        }
    }

    /// The columns cut into consecutive parts of `sizes`.
    fn parts(&mut self, sizes: impl Iterator<Item = usize>) -> Vec<Part<'_>> {
        let mut key = self.key.as_mut_slice();
        let mut weight = self.weight.as_mut_slice();
        let mut area = self.area.as_deref_mut();
        let mut places = self.places.as_deref_mut();
        let mut parts = Vec::new();
        for size in sizes {
            let (k, rest) = std::mem::take(&mut key).split_at_mut(size);
            key = rest;
            let (w, rest) = std::mem::take(&mut weight).split_at_mut(size);
            weight = rest;
            parts.push(Part {
                key: k,
                weight: w,
                area: take(&mut area, size),
                places: take(&mut places, size),
            });
        }
        parts
    }

    /// The columns cut bucket by bucket, each bucket piece by piece: each piece's part of
    /// every bucket (`parts[piece][bucket]`), and where each bucket starts and ends.
    fn cut(&mut self, counts: &[Vec<usize>], buckets: usize) -> (Vec<Vec<Part<'_>>>, Vec<usize>) {
        let mut starts = vec![0];
        for b in 0..buckets {
            starts.push(starts[starts.len() - 1] + counts.iter().map(|c| c[b]).sum::<usize>());
        }
        let sizes = (0..buckets).flat_map(|b| counts.iter().map(move |c| c[b]));
        let mut parts: Vec<Vec<Part>> = counts.iter().map(|_| Vec::new()).collect();
        for (i, part) in self.parts(sizes).into_iter().enumerate() {
            parts[i % counts.len()].push(part);
        }
        (parts, starts)
    }

    /// Sorts each bucket (between consecutive `starts`) by income, ties in the order they lie
    /// in, buckets side by side, and writes the incomes' bits where their keys were.
    fn sort_buckets(&mut self, starts: &[usize]) {
        let n = self.key.len();
        let sizes = starts.windows(2).map(|w| w[1] - w[0]);
        self.parts(sizes)
            .into_par_iter()
            .for_each_init(Scratch::default, |scratch, mut bucket| {
                scratch.sort(&mut bucket, n)
            });
    }

    fn into_order(self) -> Order {
        Order {
            income: bytemuck::allocation::cast_vec(self.key),
            weight: self.weight,
            area: self.area,
            places: self.places,
        }
    }
}

/// The first `size` of `rest`'s values, leaving it the others.
fn take<'s, T>(rest: &mut Option<&'s mut [T]>, size: usize) -> Option<&'s mut [T]> {
    let (part, after) = rest.take()?.split_at_mut(size);
    *rest = Some(after);
    Some(part)
}

/// Buffers a core reuses from bucket to bucket.
#[derive(Default)]
struct Scratch {
    records: Vec<Sorted>,
    packed: Vec<u64>,
    sorted: Vec<Sorted>,
}

impl Scratch {
    /// Sorts one bucket of a population of `n` and writes it back in place.
    fn sort(&mut self, bucket: &mut Part, n: usize) {
        self.records.clear();
        self.records.extend((0..bucket.len()).map(|i| Sorted {
            key: bucket.key[i],
            weight: bucket.weight[i],
            k: bucket.places.as_deref().map_or(0, |p| p[i]),
            area: bucket.area.as_deref().map_or(0, |a| a[i]),
        }));
        let sorted = match self.packed_sort() {
            true => &self.sorted,
            false => {
                // A bucket of one income tied many times (zero incomes) is sorted at once.
                match self.records.len() > n / 4 && self.records.len() > ONE_PIECE {
                    true => self.records.par_sort_by_key(|s| s.key),
                    false => self.records.sort_by_key(|s| s.key),
                }
                &self.records
            }
        };
        for (i, s) in sorted.iter().enumerate() {
            bucket.key[i] = unordered(s.key).to_bits();
            bucket.weight[i] = s.weight;
        }
        if let Some(a) = bucket.area.as_deref_mut() {
            a.iter_mut().zip(sorted).for_each(|(a, s)| *a = s.area);
        }
        if let Some(p) = bucket.places.as_deref_mut() {
            p.iter_mut().zip(sorted).for_each(|(p, s)| *p = s.k);
        }
    }

    /// Sorts the records into `sorted` by income, ties in the order they lie in, where each
    /// record's income (less the bucket's lowest) and place in the bucket fit in one integer
    /// together: an unstable sort of those integers, then the records moved to their places,
    /// takes half the time of a stable sort of the records. False where they do not fit.
    fn packed_sort(&mut self) -> bool {
        let by = &self.records;
        let Some(low) = by.iter().map(|s| s.key).min() else {
            self.sorted.clear();
            return true;
        };
        let high = by.iter().map(|s| s.key).max().unwrap_or(low);
        let place_bits = usize::BITS - (by.len() - 1).leading_zeros();
        if u64::BITS - (high - low).leading_zeros() + place_bits > u64::BITS {
            return false;
        }
        let place = (1u64 << place_bits) - 1;
        self.packed.clear();
        self.packed.extend(
            by.iter()
                .enumerate()
                .map(|(i, s)| (s.key - low) << place_bits | i as u64),
        );
        self.packed.sort_unstable();
        self.sorted.clear();
        self.sorted
            .extend(self.packed.iter().map(|p| by[(p & place) as usize]));
        true
    }
}

/// An income as an integer in `f64::total_cmp`'s order, which integer comparisons sort faster.
pub fn ordered(x: f64) -> u64 {
    let bits = x.to_bits();
    match bits >> 63 {
        0 => bits | 1 << 63,
        _ => !bits,
    }
}

/// The income [`ordered`] was made from.
pub fn unordered(key: u64) -> f64 {
    f64::from_bits(match key >> 63 {
        1 => key & !(1 << 63),
        _ => !key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sort(incomes: &[f64], areas: bool) -> Order {
        let record = |k: u32| Sorted {
            key: ordered(incomes[k as usize]),
            weight: k as f64 + 0.5,
            k,
            area: k % 3,
        };
        let carry = Carry {
            area: areas,
            places: true,
        };
        by_income(
            incomes.len(),
            |k| ordered(incomes[k as usize]),
            record,
            carry,
        )
    }

    /// The order a stable sort of (income, place) gives, and the columns spread from it.
    fn holds(incomes: &[f64]) {
        let order = sort(incomes, true);
        let mut places: Vec<u32> = (0..incomes.len() as u32).collect();
        places.sort_by(|a, b| incomes[*a as usize].total_cmp(&incomes[*b as usize]));
        assert_eq!(order.places.unwrap(), places, "{} persons", incomes.len());
        for (t, &k) in places.iter().enumerate() {
            assert_eq!(order.income[t].to_bits(), incomes[k as usize].to_bits());
            assert_eq!(order.weight[t], k as f64 + 0.5);
            assert_eq!(order.area.as_ref().unwrap()[t], k % 3);
        }
    }

    /// By hand: 12 persons in 4 runs of equal incomes; each run in file order.
    #[test]
    fn ties_keep_file_order() {
        let incomes = [
            30.0, 10.0, 20.0, 30.0, 10.0, -5.0, 20.0, 10.0, 30.0, 0.0, -5.0, 20.0,
        ];
        let order = sort(&incomes, false);
        assert_eq!(
            order.places.unwrap(),
            [5, 10, 9, 1, 4, 7, 2, 6, 11, 0, 3, 8]
        );
        assert_eq!(
            order.income,
            [-5.0, -5.0, 0.0, 10.0, 10.0, 10.0, 20.0, 20.0, 20.0, 30.0, 30.0, 30.0]
        );
        assert_eq!(order.weight[..3], [5.5, 10.5, 9.5]);
        assert!(order.area.is_none());
        assert!(sort(&[], true).income.is_empty());
        holds(&[7.0]);
    }

    /// Large populations, read in several pieces with many buckets: runs of ties (a household's
    /// members share an income) across pieces' edges, negative and zero incomes, infinities, a
    /// narrow range, and one income tied by most persons (a bucket of its own, sorted at once).
    #[test]
    fn large_populations_sort_as_a_stable_sort_does() {
        let mut rng = crate::indicators::stats::SplitMix64::stream(7, 1);
        let n = 3 * ONE_PIECE + 17;
        let households: Vec<f64> = (0..n)
            .map(|k| {
                let x = (k / 3) as f64;
                (rng.below(1_000_000) as f64 - 1000.0) * 0.25 + (x % 5.0)
            })
            .collect();
        holds(&households);
        let mut wide = households.clone();
        wide[10] = f64::INFINITY;
        wide[n - 1] = f64::NEG_INFINITY;
        wide[500] = -0.0;
        wide[501] = 0.0;
        wide[502] = 5e-324;
        holds(&wide);
        let narrow: Vec<f64> = (0..n).map(|k| 1000.0 + (k % 7) as f64 * 1e-12).collect();
        holds(&narrow);
        let zeros: Vec<f64> = (0..n)
            .map(|k| if k % 10 < 8 { 0.0 } else { k as f64 })
            .collect();
        holds(&zeros);
    }

    #[test]
    fn incomes_as_integers_sort_as_total_cmp_does() {
        let xs = [
            3.5,
            -0.0,
            0.0,
            -2.0,
            1e300,
            -1e-300,
            5e-324,
            -5e-324,
            3.5,
            f64::MAX,
            -f64::MAX,
            f64::INFINITY,
            f64::NEG_INFINITY,
            21000.5,
            9000.0,
        ];
        for a in xs {
            assert_eq!(unordered(ordered(a)).to_bits(), a.to_bits());
            for b in xs {
                assert_eq!(ordered(a).cmp(&ordered(b)), a.total_cmp(&b), "{a} {b}");
            }
        }
    }
}
