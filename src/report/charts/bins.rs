//! Log-scale bins of gaps, anchored at the TIME_WAIT window: one bin edge is exactly the
//! window, so no bin straddles the dashed line (the reuse-gap histograms of `gaps` and the
//! TIME_WAIT evidence of `evidence` bin their gaps here; `input` counts into them).

use crate::report::human_secs;

/// Bins per decade of the gap histogram.
pub const PER_DECADE: i32 = 4;
/// Bins per decade of the TIME_WAIT evidence charts (finer: the bracket sits in them).
pub const EVIDENCE_PER_DECADE: i32 = 8;
/// Bins reach down to window × 10^-LOW_DECADES (24 µs for 240 s) and up to
/// window × 10^HIGH_DECADES; gaps beyond go into the end bins.
const LOW_DECADES: i32 = 7;
const HIGH_DECADES: i32 = 3;

/// The lower edge of bin `k` in nanoseconds: window × 10^(k / per), exactly the window for
/// k = 0. Edges grow strictly with k.
pub fn edge_ns(k: i32, window_ns: i64, per: i32) -> i64 {
    if k == 0 {
        return window_ns;
    }
    (window_ns as f64 * 10f64.powf(f64::from(k) / f64::from(per))).round() as i64
}

/// The bin of a gap: `edge_ns(k) <= gap < edge_ns(k + 1)`, clamped to the end bins. A gap
/// equal to the window is in bin 0, beyond the window (a reuse is in the window when its
/// gap is below it).
pub fn bin(gap_ns: i64, window_ns: i64, per: i32) -> i32 {
    let (lo, hi) = bin_range(per);
    if gap_ns <= 0 {
        return lo;
    }
    let guess = (f64::from(per) * (gap_ns as f64 / window_ns as f64).log10()).floor();
    let mut k = (guess.clamp(f64::from(lo), f64::from(hi))) as i32;
    // The float guess may be one off next to an edge: settle it on the integer edges.
    while k > lo && edge_ns(k, window_ns, per) > gap_ns {
        k -= 1;
    }
    while k < hi && edge_ns(k + 1, window_ns, per) <= gap_ns {
        k += 1;
    }
    k
}

/// The lowest and highest bin.
pub fn bin_range(per: i32) -> (i32, i32) {
    (-LOW_DECADES * per, HIGH_DECADES * per - 1)
}

/// A bin's range for hover texts: `1.3–2.4 s`.
pub fn bin_text(k: i32, window_ns: i64, per: i32) -> String {
    let (lo, hi) = bin_range(per);
    let (a, b) = (edge_ns(k, window_ns, per), edge_ns(k + 1, window_ns, per));
    if k == lo {
        format!("below {}", human_secs(b))
    } else if k == hi {
        format!("{} or more", human_secs(a))
    } else {
        format!("{} – {}", human_secs(a), human_secs(b))
    }
}

/// The bins to draw: those with data, and the window's bin, so the dashed line shows.
pub fn shown_bins(keys: impl Iterator<Item = i32>) -> (i32, i32) {
    keys.fold((-1, 0), |(a, b), k| (a.min(k), b.max(k)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn the_window_is_a_bin_edge() {
        for w in [240 * S, 60 * S, 1_200_000_000, 7 * S + 3] {
            for per in [PER_DECADE, EVIDENCE_PER_DECADE] {
                assert_eq!(edge_ns(0, w, per), w);
                assert_eq!(bin(w, w, per), 0, "the window itself is beyond the window");
                assert_eq!(bin(w - 1, w, per), -1, "just inside the window");
                // No bin straddles the window: every bin lies wholly on one side.
                let (lo, hi) = bin_range(per);
                for k in lo..hi {
                    let (a, b) = (edge_ns(k, w, per), edge_ns(k + 1, w, per));
                    assert!(a < b, "edges grow");
                    assert!(b <= w || a >= w, "bin {k} straddles the window");
                }
            }
        }
    }

    #[test]
    fn gaps_fall_between_their_edges() {
        let w = 240 * S;
        for gap in [
            1,
            999,
            1_000_000,
            1_200_000_000,
            2_744_953_000,
            232 * S,
            239_999_999_999,
            500 * S,
        ] {
            let k = bin(gap, w, PER_DECADE);
            let (lo, hi) = bin_range(PER_DECADE);
            assert!(k == lo || edge_ns(k, w, PER_DECADE) <= gap, "{gap}");
            assert!(
                k == lo || k == hi || gap < edge_ns(k + 1, w, PER_DECADE),
                "{gap}"
            );
        }
        // Four bins per decade: 240 s × 10^(-1/4) = 135 s.
        assert_eq!(edge_ns(-1, w, PER_DECADE), 134_961_918_046);
        assert_eq!(bin(0, w, PER_DECADE), bin_range(PER_DECADE).0);
        assert_eq!(bin(i64::MAX, w, PER_DECADE), bin_range(PER_DECADE).1);
        assert_eq!(bin_text(-1, w, PER_DECADE), "135 s – 240 s");
    }

    #[test]
    fn shown_bins_include_the_window() {
        assert_eq!(shown_bins([-5, -3].into_iter()), (-5, 0));
        assert_eq!(shown_bins([2].into_iter()), (-1, 2));
    }
}
