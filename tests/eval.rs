//! `siamtrack eval`, `score` and `bench` on generated clips and tiny hand-written datasets.

mod common;

use common::*;
use siamtrack::eval::dataset::{Layout, Sequence};
use siamtrack::eval::metrics;
use siamtrack::BBox;
use std::path::Path;

/// A tiny 3-channel image, enough for the dataset readers (which list frames without decoding them).
fn write_frames(dir: &Path, names: &[&str]) {
    std::fs::create_dir_all(dir).unwrap();
    let image = opencv::core::Mat::new_rows_cols_with_default(
        24,
        32,
        opencv::core::CV_8UC3,
        opencv::core::Scalar::all(90.0),
    )
    .unwrap();
    for name in names {
        let path = dir.join(name);
        opencv::imgcodecs::imwrite(path.to_str().unwrap(), &image, &opencv::core::Vector::new())
            .unwrap();
    }
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn close(a: &serde_json::Value, b: f64) -> bool {
    (a.as_f64().unwrap() - b).abs() < 1e-9
}

#[test]
fn metrics_pin_otb_definitions() {
    let gt = Some(BBox::new(10.0, 10.0, 20.0, 20.0));
    // Identical boxes: IoU 1 exceeds 20 of the 21 thresholds (not t = 1).
    let s = metrics::score(&[gt, gt], &[gt, gt]).unwrap();
    assert!((s.auc - 20.0 / 21.0).abs() < 1e-12);
    // Shifted 10 px right and 10 px down on a 20x20 box: intersection 10*10 = 100, union 400+400-100 = 700,
    // IoU 1/7 = 0.143 > t for t = 0, 0.05, 0.10 -> AUC 3/21. Centre error hypot(10, 10) = 14.1 <= 20 -> precision 1.
    // Normalised error hypot(0.5, 0.5) = 0.707 > 0.5 -> normalised precision 0.
    let shifted = Some(BBox::new(20.0, 20.0, 20.0, 20.0));
    let s = metrics::score(&[shifted], &[gt]).unwrap();
    assert!((s.auc - 3.0 / 21.0).abs() < 1e-12, "{}", s.auc);
    assert_eq!(s.precision, 1.0);
    assert_eq!(s.norm_precision, 0.0);
}

#[test]
fn reads_otb_got10k_and_vot_layouts() {
    let dir = tempfile::tempdir().unwrap();
    // OTB: 1-based, NaN rows, tab and space separators.
    let otb = dir.path().join("otb");
    write_frames(&otb.join("img"), &["0001.jpg", "0002.jpg", "0003.jpg"]);
    std::fs::write(
        otb.join("groundtruth_rect.txt"),
        "11\t21\t30\t40\nNaN,NaN,NaN,NaN\n12 22 30 40\n",
    )
    .unwrap();
    let seq = Sequence::load(&otb).unwrap();
    assert_eq!(seq.layout, Layout::Otb);
    assert_eq!(seq.frames.len(), 3);
    assert_eq!(
        seq.truth,
        vec![
            Some(BBox::new(10.0, 20.0, 30.0, 40.0)),
            None,
            Some(BBox::new(11.0, 21.0, 30.0, 40.0))
        ]
    );
    // GOT-10k: frames beside groundtruth.txt, 0-based; a frame may start absent.
    let got = dir.path().join("got");
    write_frames(&got, &["00000001.jpg", "00000002.jpg"]);
    std::fs::write(got.join("groundtruth.txt"), "nan,nan,nan,nan\n5,6,7,8\n").unwrap();
    let seq = Sequence::load(&got).unwrap();
    assert_eq!(seq.layout, Layout::Got10k);
    assert_eq!(seq.truth, vec![None, Some(BBox::new(5.0, 6.0, 7.0, 8.0))]);
    assert_eq!(seq.init_frame(), Some(1));
    // VOT: 8-value polygons become their axis-aligned box; frames in color/.
    let vot = dir.path().join("vot");
    write_frames(&vot.join("color"), &["00000001.jpg", "00000002.jpg"]);
    std::fs::write(
        vot.join("groundtruth.txt"),
        "1,2,4,2,4,6,1,6\n10.5,20,30.5,25,25.5,45,5.5,40\n",
    )
    .unwrap();
    let seq = Sequence::load(&vot).unwrap();
    assert_eq!(seq.layout, Layout::Vot);
    assert_eq!(
        seq.truth,
        vec![
            Some(BBox::new(1.0, 2.0, 3.0, 4.0)),
            Some(BBox::new(5.5, 20.0, 25.0, 25.0))
        ]
    );
}

/// A dataset of two good sequences (`a` OTB, `b` GOT-10k) and three bad ones, with hand-made results.
fn tiny_dataset(root: &Path) {
    let a = root.join("data/a");
    write_frames(&a.join("img"), &["0001.jpg", "0002.jpg", "0003.jpg"]);
    std::fs::write(
        a.join("groundtruth_rect.txt"),
        "1,1,10,10\n1,1,10,10\nNaN,NaN,NaN,NaN\n",
    )
    .unwrap();
    let b = root.join("data/b");
    write_frames(&b, &["00000001.jpg", "00000002.jpg"]);
    std::fs::write(b.join("groundtruth.txt"), "0,0,10,10\n0,0,10,10\n").unwrap();
    // Bad: no ground truth; 2 frames for 3 boxes; no frames at all.
    write_frames(&root.join("data/nogt/img"), &["0001.jpg"]);
    let mismatch = root.join("data/mismatch");
    write_frames(&mismatch.join("img"), &["0001.jpg", "0002.jpg"]);
    std::fs::write(
        mismatch.join("groundtruth_rect.txt"),
        "1,1,5,5\n1,1,5,5\n1,1,5,5\n",
    )
    .unwrap();
    let empty = root.join("data/empty");
    std::fs::create_dir_all(empty.join("img")).unwrap();
    std::fs::write(empty.join("groundtruth_rect.txt"), "1,1,5,5\n").unwrap();
    // Results (OTB text, 1-based). a: identical, then 5 px right, then anything (not scored).
    let res = root.join("results/mytracker");
    std::fs::create_dir_all(&res).unwrap();
    std::fs::write(res.join("a.txt"), "1,1,10,10\n6,1,10,10\n50,50,3,3\n").unwrap();
    // b: identical, then 30 px right.
    std::fs::write(res.join("b.txt"), "1,1,10,10\n31,1,10,10\n").unwrap();
}

#[test]
fn score_reproduces_hand_computed_values() {
    let dir = tempfile::tempdir().unwrap();
    tiny_dataset(dir.path());
    let report = dir.path().join("out/report.json");
    let out = run(&[
        "score",
        dir.path().join("data").to_str().unwrap(),
        dir.path().join("results/mytracker").to_str().unwrap(),
        "--sequences",
        "a,b",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let r = json(&report);
    let t = &r["trackers"][0];
    assert_eq!(t["tracker"], "mytracker");
    let (a, b) = (&t["sequences"][0], &t["sequences"][1]);
    // a: 2 scored frames (NaN row skipped). Frame 1 identical (20 of 21 thresholds), frame 2 shifted 5 px on a
    // 10x10 box: IoU 50/150 = 1/3 > t for t = 0..0.30 (7 thresholds). AUC (20 + 7) / 42.
    // Centre errors 0 and 5 px: precision 1. Normalised errors 0 (51 of 51) and 0.5 (1 of 51): 52/102.
    assert_eq!(a["scored_frames"], 2);
    assert!(close(&a["auc"], 27.0 / 42.0));
    assert!(close(&a["precision"], 1.0));
    assert!(close(&a["norm_precision"], 52.0 / 102.0));
    // b (0-based GOT-10k truth; results 1-based): identical, then 30 px off (IoU 0, error 30 > 20, 3.0 > 0.5).
    assert!(close(&b["auc"], 20.0 / 42.0));
    assert!(close(&b["precision"], 0.5));
    assert!(close(&b["norm_precision"], 0.5));
    // Means over the two sequences.
    assert!(close(&t["mean"]["auc"], 47.0 / 84.0));
    assert!(close(&t["mean"]["precision"], 0.75));
    assert!(t["mean"]["tracker_fps"].is_null());
    assert!(dir.path().join("out/success.png").is_file());
    assert!(dir.path().join("out/precision.png").is_file());
}

#[test]
fn bad_sequences_are_named_and_the_others_still_scored() {
    let dir = tempfile::tempdir().unwrap();
    tiny_dataset(dir.path());
    let report = dir.path().join("score.json");
    let out = run(&[
        "score",
        dir.path().join("data").to_str().unwrap(),
        dir.path().join("results/mytracker").to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("sequence nogt") && err.contains("missing ground truth"),
        "{err}"
    );
    assert!(
        err.contains("sequence mismatch") && err.contains("2 frames"),
        "{err}"
    );
    assert!(
        err.contains("sequence empty") && err.contains("no frames"),
        "{err}"
    );
    let r = json(&report);
    assert_eq!(r["failures"].as_array().unwrap().len(), 3);
    let scored: Vec<&str> = r["trackers"][0]["sequences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sequence"].as_str().unwrap())
        .collect();
    assert_eq!(scored, ["a", "b"]);
    assert!(close(&r["trackers"][0]["mean"]["auc"], 47.0 / 84.0));
}

#[test]
fn eval_runs_siamtrack_and_kcf_on_identical_frames() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    generated_clip(&data, "first", small_spec(20, 3));
    generated_clip(&data, "second", small_spec(15, 4));
    // A bad sequence next to the good ones fails alone.
    write_frames(&data.join("broken/img"), &["0001.jpg"]);
    let results = dir.path().join("results");
    let out = run(&[
        "eval",
        data.to_str().unwrap(),
        "--tracker",
        "siamtrack,kcf",
        "--results-dir",
        results.to_str().unwrap(),
    ]);
    assert!(!out.status.success(), "the broken sequence fails the run");
    assert!(stderr(&out).contains("sequence broken"));
    for tracker in ["siamtrack", "kcf"] {
        for (seq, frames) in [("first", 20), ("second", 15)] {
            let file = results.join(tracker).join(format!("{seq}.txt"));
            let text = std::fs::read_to_string(&file).unwrap();
            assert_eq!(text.lines().count(), frames, "{}", file.display());
            // The first line is the initial (ground-truth) box, 1-based.
            let truth =
                std::fs::read_to_string(data.join(seq).join("groundtruth_rect.txt")).unwrap();
            let first = siamtrack::parse_annotation(text.lines().next().unwrap()).unwrap();
            let want = siamtrack::parse_annotation(truth.lines().next().unwrap()).unwrap();
            let (f, w) = (first.unwrap(), want.unwrap());
            assert!((f.x - w.x).abs() < 0.01 && (f.w - w.w).abs() < 0.01);
        }
    }
    let r = json(&results.join("report.json"));
    let names: Vec<&str> = r["trackers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tracker"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["siamtrack", "kcf"]);
    for t in r["trackers"].as_array().unwrap() {
        assert_eq!(t["mean"]["sequences"], 2);
        assert!(t["mean"]["tracker_fps"].as_f64().unwrap() > 0.0);
        assert!(t["mean"]["e2e_fps"].as_f64().unwrap() > 0.0);
    }
    // The generated clips are easy for siamtrack.
    assert!(r["trackers"][0]["mean"]["auc"].as_f64().unwrap() > 0.4);
    // The box's size is measured for every tracker; the confidence for siamtrack, which reports one.
    for t in r["trackers"].as_array().unwrap() {
        let m = &t["mean"];
        for field in ["success_75", "area_off"] {
            assert!(
                (0.0..=1.0).contains(&m[field].as_f64().unwrap()),
                "{field}: {m}"
            );
        }
        assert!(m["abs_log_area"].as_f64().unwrap() >= 0.0);
        assert!(t["sequences"][0]["size"]["log_area"].is_number());
    }
    let confidence = &r["trackers"][0]["confidence"];
    assert_eq!(
        confidence["frames"],
        19 + 14,
        "every frame after the first: {confidence}"
    );
    let shares: f64 = ["tracking", "uncertain", "lost"]
        .iter()
        .map(|s| confidence[s].as_f64().unwrap())
        .sum();
    assert!((shares - 1.0).abs() < 1e-9);
    // Whether the target is in the box, apart from its size: on these easy clips every box holds it and is
    // `tracking`, so the shares among other states and wrong boxes are undefined (null).
    let on_target = &confidence["on_target"];
    assert_eq!(on_target["given_tracking"], 1.0, "{on_target}");
    assert_eq!(on_target["tracking_given_on_target"], 1.0, "{on_target}");
    for field in ["auroc", "given_uncertain", "given_lost", "given_wrong"] {
        assert!(on_target.get(field).is_some(), "{field}: {on_target}");
    }
    assert!(r["trackers"][1].get("confidence").is_none());
    assert!(results.join("success.png").is_file());
    assert!(results.join("precision.png").is_file());
}

#[test]
fn bench_json_prints_every_stage() {
    let dir = tempfile::tempdir().unwrap();
    let (clip, truth) = generated_clip(dir.path(), "clip.mp4", small_spec(12, 9));
    let out = run(&[
        "bench",
        clip.to_str().unwrap(),
        "--init-gt",
        truth.to_str().unwrap(),
        "--json",
        "--warmup",
        "2",
    ]);
    assert!(out.status.success());
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["frames"], 9, "12 frames - init - 2 warm-up");
    for stage in [
        "decode", "crop", "encoder", "locate", "tracker", "sinks", "total",
    ] {
        let s = &r["stages"][stage];
        for key in ["mean_ms", "median_ms", "p95_ms"] {
            assert!(s[key].as_f64().unwrap() >= 0.0, "{stage}.{key}");
        }
    }
    assert!(r["fps"].as_f64().unwrap() > 0.0);
    assert!(r["latency"].is_null(), "a file is not live");
    assert_eq!(r["targets"], 1);

    // Several targets at once: the same statistics, for one MultiTracker update of all of them.
    let bench = |targets: &str| {
        run(&[
            "bench",
            clip.to_str().unwrap(),
            "--init-gt",
            truth.to_str().unwrap(),
            "--json",
            "--targets",
            targets,
        ])
    };
    let out = bench("3");
    assert!(out.status.success(), "{}", stderr(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["targets"], 3);
    assert_eq!(r["frames"], 8, "12 frames - init - 3 warm-up");
    let out = bench("0");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--targets must be 1 to 64, got 0"));

    // Distinct boxes: every one by default, the first N with --targets N, never more than given.
    let boxes = |extra: &[&str]| {
        let mut args = vec![
            "bench",
            clip.to_str().unwrap(),
            "--bbox",
            "10,10,30,30",
            "--bbox",
            "100,40,30,30",
            "--json",
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    for (extra, targets) in [(&[][..], 2), (&["--targets", "1"][..], 1)] {
        let out = boxes(extra);
        assert!(out.status.success(), "{}", stderr(&out));
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(r["targets"], targets, "{extra:?}");
    }
    let out = boxes(&["--targets", "3"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(
        "--targets 3 with 2 boxes: give at most as many targets as boxes, or one box to copy"
    ));
}

/// A folder with several targets (`groundtruth_rect.1.txt`, `.2.txt`, as OTB's Jogging) is scored as one
/// sequence per target, `<folder>-1`, `<folder>-2`, by `eval` (which tracks each from its own first box) and by
/// `score` (which reads `<folder>-1.txt`, ...).
#[test]
fn each_target_of_a_folder_is_its_own_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (pair, truth) = generated_clip(&data, "pair", small_spec(12, 5));
    // Target 1 is the clip's target; target 2 a patch of the background, 1-based and still for 12 frames.
    std::fs::rename(&truth, pair.join("groundtruth_rect.1.txt")).unwrap();
    std::fs::write(
        pair.join("groundtruth_rect.2.txt"),
        "11,11,30,30\n".repeat(12),
    )
    .unwrap();
    let results = dir.path().join("results");
    let out = run(&[
        "eval",
        data.to_str().unwrap(),
        "--tracker",
        "siamfc", // the former name, still accepted
        "--results-dir",
        results.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r = json(&results.join("report.json"));
    let sequences = r["trackers"][0]["sequences"].as_array().unwrap();
    let names: Vec<&str> = sequences
        .iter()
        .map(|s| s["sequence"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pair-1", "pair-2"]);
    for (name, first) in [
        ("pair-1", None),
        ("pair-2", Some("11.00,11.00,30.00,30.00")),
    ] {
        let text =
            std::fs::read_to_string(results.join("siamtrack").join(format!("{name}.txt"))).unwrap();
        assert_eq!(text.lines().count(), 12, "{name}");
        if let Some(first) = first {
            assert_eq!(
                text.lines().next().unwrap(),
                first,
                "each target starts from its own box"
            );
        }
    }
    // Both are easy: the clip's target, and a background patch that never moves.
    for s in sequences {
        assert!(s["auc"].as_f64().unwrap() > 0.4, "{s}");
    }

    // `score` pairs each target's results file with its own truth (hand-written results).
    let hand = dir.path().join("hand");
    std::fs::create_dir_all(&hand).unwrap();
    let one = std::fs::read_to_string(pair.join("groundtruth_rect.1.txt")).unwrap();
    std::fs::write(hand.join("pair-1.txt"), &one).unwrap();
    std::fs::write(hand.join("pair-2.txt"), "41,11,30,30\n".repeat(12)).unwrap();
    let report = dir.path().join("score.json");
    let out = run(&[
        "score",
        data.to_str().unwrap(),
        hand.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let t = &json(&report)["trackers"][0];
    // pair-1: its own truth, IoU 1 on every frame (20 of 21 thresholds). pair-2: 30 px right of a 30x30 box,
    // IoU 0 (0 thresholds).
    assert!(close(&t["sequences"][0]["auc"], 20.0 / 21.0));
    assert!(close(&t["sequences"][1]["auc"], 0.0));

    // One target selected by its name; a target the folder lacks is that sequence's failure.
    let out = run(&[
        "score",
        data.to_str().unwrap(),
        hand.to_str().unwrap(),
        "--sequences",
        "pair-2,pair-3",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("sequence pair-3: pair has no groundtruth_rect.3.txt"));
    let t = &json(&report)["trackers"][0];
    let names: Vec<&str> = t["sequences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sequence"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pair-2"]);
    assert!(close(&t["sequences"][0]["auc"], 0.0));
}

#[test]
fn size_only_keeps_the_truths_centres_and_sizes_the_box() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    generated_clip(&data, "clip", small_spec(20, 3));
    let results = dir.path().join("results");
    let out = run(&[
        "eval",
        s(&data),
        "--size-only",
        "--results-dir",
        s(&results),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let truth = read_truth(&data.join("clip/groundtruth_rect.txt"));
    let boxes = read_truth(&results.join("siamtrack/clip.txt"));
    assert_eq!(boxes.len(), truth.len());
    for (b, t) in boxes.iter().zip(&truth) {
        let (b, t) = (b.unwrap(), t.unwrap());
        let (bc, tc) = (b.center(), t.center());
        // The result file holds 1-based values rounded to 0.01 px.
        assert!(
            (bc.0 - tc.0).abs() < 0.02 && (bc.1 - tc.1).abs() < 0.02,
            "{b:?} {t:?}"
        );
    }
    // The size is the tracker's own: close to the target's on an easy clip, but not copied from the truth.
    let boxes: Vec<BBox> = boxes.into_iter().flatten().collect();
    assert!(mean_iou(&boxes, &truth) > 0.7);
    assert!(boxes
        .iter()
        .zip(&truth)
        .any(|(b, t)| (b.w - t.unwrap().w).abs() > 0.05));
    // Only siamtrack can be moved to the truth's centre.
    let other = dir.path().join("other");
    let out = run(&[
        "eval",
        s(&data),
        "--size-only",
        "--tracker",
        "kcf",
        "--results-dir",
        s(&other),
    ]);
    assert_fails(
        &out,
        1,
        "--size-only measures siamtrack's size estimate: kcf cannot be moved",
    );
}
