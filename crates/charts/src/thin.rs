//! Series thinning before drawing: a screen cannot show more than about two
//! values per pixel column of a line (its lowest and highest), so the charts
//! keep at most those two per column and drop the rest. Peaks and troughs
//! survive; the exact values are all in the chart's table.

/// Whether a chart thins its lines (always, except in the benchmark's
/// baseline, which shows what thinning saves).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Thinning {
    MinMaxPerPixel,
    Off,
}

/// Indices of the points to draw, ascending: in each pixel column
/// (`floor(x)`), the first point holding the column's lowest `y` and the
/// first holding its highest. `xs` must be ascending; `ys` has the same
/// length (pixel or data units: only the order of `y` matters).
pub fn min_max_per_pixel(xs: &[f64], ys: &[f64]) -> Vec<usize> {
    assert_eq!(xs.len(), ys.len(), "one y per x");
    let mut keep = Vec::with_capacity(xs.len().min(1 << 16));
    let mut start = 0;
    while start < xs.len() {
        let column = xs[start].floor();
        let mut end = start + 1;
        while end < xs.len() && xs[end].floor() == column {
            end += 1;
        }
        let (mut low, mut high) = (start, start);
        for i in start + 1..end {
            if ys[i] < ys[low] {
                low = i;
            }
            if ys[i] > ys[high] {
                high = i;
            }
        }
        keep.push(low.min(high));
        if low != high {
            keep.push(low.max(high));
        }
        start = end;
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_two_points_per_column_and_every_extreme() {
        // 3,661 points (ten years of days) over 300 pixel columns.
        let n = 3_661;
        let xs: Vec<f64> = (0..n).map(|i| i as f64 * 300.0 / n as f64).collect();
        let mut ys: Vec<f64> = (0..n).map(|i| ((i as f64) / 37.0).sin() * 100.0).collect();
        ys[1_234] = 1_000.0; // a one-day spike
        ys[2_345] = -1_000.0; // and a dip
        let keep = min_max_per_pixel(&xs, &ys);
        assert!(keep.len() <= 2 * 300, "{} points kept", keep.len());
        assert!(keep.windows(2).all(|w| w[0] < w[1]), "ascending, no duplicates");
        assert!(keep.contains(&1_234) && keep.contains(&2_345), "the spike and the dip survive");
        for column in 0..300 {
            let in_column: Vec<usize> = (0..n).filter(|&i| xs[i].floor() as usize == column).collect();
            let kept: Vec<usize> = keep.iter().copied().filter(|&i| xs[i].floor() as usize == column).collect();
            let max = in_column.iter().map(|&i| ys[i]).fold(f64::MIN, f64::max);
            let min = in_column.iter().map(|&i| ys[i]).fold(f64::MAX, f64::min);
            assert!(kept.iter().any(|&i| ys[i] == max) && kept.iter().any(|&i| ys[i] == min), "column {column}");
        }
    }

    #[test]
    fn sparse_series_are_untouched() {
        let xs = [0.0, 2.5, 5.0, 7.5];
        let ys = [1.0, 3.0, 2.0, 2.0];
        assert_eq!(min_max_per_pixel(&xs, &ys), [0, 1, 2, 3]);
        assert_eq!(min_max_per_pixel(&[], &[]), Vec::<usize>::new());
        // A flat column keeps one point.
        assert_eq!(min_max_per_pixel(&[0.1, 0.2, 0.3], &[5.0, 5.0, 5.0]), [0]);
    }
}
