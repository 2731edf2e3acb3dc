//! The invariants the fuzz targets in `fuzz/` check, kept here so the regression tests in `tests/fuzz_regressions.rs`
//! replay the inputs the fuzzer found against exactly the same checks.

use crate::eval::dataset::parse_truth;
use siamtrack_core::BBox;
use siamtrack_core::ModelConfig;

/// `--bbox` text: never panics; an accepted box is finite with positive size.
pub fn check_box_text(text: &str) {
    if let Ok(b) = BBox::parse(text) {
        assert!(b.is_finite() && b.w > 0.0 && b.h > 0.0, "accepted {b:?}");
    }
}

/// A ground-truth file: never panics; every box read is finite with positive size.
pub fn check_ground_truth(text: &str) {
    if let Ok((boxes, _)) = parse_truth(text, true, "fuzz") {
        for b in boxes.iter().flatten() {
            assert!(b.is_finite() && b.w > 0.0 && b.h > 0.0, "accepted {b:?}");
        }
    }
}

/// A model sidecar: never panics; one that validates gives a usable response geometry.
pub fn check_sidecar(text: &str) {
    if let Ok(model) = ModelConfig::from_json(text) {
        assert!(model.response_size() >= 1);
        assert!(model.response_size_for(model.confident_search_size()) >= 1);
    }
}
