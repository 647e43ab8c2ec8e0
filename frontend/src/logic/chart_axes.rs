//! The value axis of a small chart: a round top (1, 2 or 5 times a power of ten) at or above the largest value,
//! so the tick labels read as people write numbers, and the ticks between 0 and that top.

/// The smallest of 1, 2, 5 × 10ⁿ at or above `largest`; `floor` when that is higher (a CPU chart starts at 100 %).
pub fn round_top(largest: f64, floor: f64) -> f64 {
    let wanted = largest.max(floor);
    if !wanted.is_finite() || wanted <= 0.0 {
        return floor.max(1.0);
    }
    let power = 10_f64.powf(wanted.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|step| step * power)
        .find(|top| *top >= wanted * (1.0 - 1e-9))
        .unwrap_or(10.0 * power)
}

/// Tick values from 0 to `top` in `intervals` equal steps, lowest first.
pub fn ticks(top: f64, intervals: u32) -> Vec<f64> {
    let intervals = intervals.max(1);
    (0..=intervals).map(|index| top * f64::from(index) / f64::from(intervals)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn tops_are_round_and_cover_the_largest_value() {
        assert_eq!(round_top(37.0, 100.0), 100.0, "a quiet CPU chart still reaches 100 %");
        assert_eq!(round_top(160.0, 100.0), 200.0);
        assert_eq!(round_top(1234.0, 1.0), 2000.0);
        assert_eq!(round_top(4_800.0, 1.0), 5000.0);
        assert_eq!(round_top(5_000.0, 1.0), 5000.0, "an exact round value is its own top");
        assert_eq!(round_top(0.0, 1.0), 1.0, "nothing measured yet");
        assert_eq!(round_top(f64::NAN, 100.0), 100.0);
        assert_eq!(ticks(100.0, 2), vec![0.0, 50.0, 100.0]);
    }
}
