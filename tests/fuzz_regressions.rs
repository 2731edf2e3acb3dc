//! Replays the fuzz seeds and every input kept in tests/fuzz_regressions/ against the fuzz targets' invariants.

use siamtrack::fuzzing::{check_box_text, check_ground_truth, check_sidecar};
use std::path::Path;

fn replay(target: &str, check: fn(&str)) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut count = 0;
    for dir in [
        root.join("fuzz/seeds").join(target),
        root.join("tests/fuzz_regressions").join(target),
    ] {
        for entry in std::fs::read_dir(&dir).into_iter().flatten() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            // The targets take &str; libFuzzer skips inputs that are not UTF-8, so do the same.
            if let Ok(text) = std::str::from_utf8(&bytes) {
                check(text);
                count += 1;
            }
        }
    }
    count
}

#[test]
fn box_text_inputs() {
    assert!(replay("box_text", check_box_text) >= 3);
}

#[test]
fn ground_truth_inputs() {
    assert!(replay("ground_truth", check_ground_truth) >= 1);
}

#[test]
fn sidecar_inputs() {
    assert!(replay("sidecar", check_sidecar) >= 3);
}

#[test]
fn absurd_sidecar_sizes_are_rejected_not_allocated() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fuzz_regressions/sidecar/huge_response_window.json"
    ))
    .unwrap();
    let err = siamtrack::ModelConfig::from_json(&text).unwrap_err();
    assert!(err.to_string().contains("search.response_up"), "{err}");
}
