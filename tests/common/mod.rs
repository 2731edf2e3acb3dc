//! Helpers shared by the integration tests: generated clips and running the binary.

#![allow(dead_code)] // each test file uses its own subset

use siamtrack::synth::{write_clip, Clip, ClipSpec};
use siamtrack::{parse_annotation, BBox};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn siamtrack() -> Command {
    Command::new(env!("CARGO_BIN_EXE_siamtrack"))
}

/// Runs siamtrack with `args`, returning its output; stdout and stderr are echoed for failing tests.
pub fn run(args: &[&str]) -> Output {
    let output = siamtrack().args(args).output().expect("siamtrack runs");
    eprintln!(
        "$ siamtrack {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts a failed run with `code` whose stderr contains `message`, and no panic.
pub fn assert_fails(out: &Output, code: i32, message: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(err.contains(message), "expected {message:?} in:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// A path as an argument.
pub fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

pub fn small_spec(frames: usize, seed: u64) -> ClipSpec {
    ClipSpec {
        width: 320,
        height: 180,
        frames,
        seed,
        absent: None,
        targets: 1,
        scene: siamtrack::synth::Scene::Crossing,
    }
}

/// Writes a generated clip (a video for `name.mp4`, an OTB folder otherwise) and returns (clip path, truth path).
pub fn generated_clip(dir: &Path, name: &str, spec: ClipSpec) -> (PathBuf, PathBuf) {
    let clip = Clip::new(spec).unwrap();
    let out = dir.join(name);
    let truth = if out.extension().is_some() {
        out.with_extension("txt")
    } else {
        out.join("groundtruth_rect.txt")
    };
    write_clip(&clip, &out, &truth).unwrap();
    (out, truth)
}

/// Ground-truth boxes (0-based; `None` = absent) of an OTB file.
pub fn read_truth(path: &Path) -> Vec<Option<BBox>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            parse_annotation(l)
                .unwrap()
                .map(|b| BBox::new(b.x - 1.0, b.y - 1.0, b.w, b.h))
        })
        .collect()
}

pub fn mean_iou(boxes: &[BBox], truth: &[Option<BBox>]) -> f64 {
    let ious: Vec<f64> = boxes
        .iter()
        .zip(truth)
        .filter_map(|(b, t)| t.map(|t| b.iou(&t)))
        .collect();
    ious.iter().sum::<f64>() / ious.len() as f64
}
