//! End-to-end runs of `siamtrack track` on generated clips.

mod common;

use common::*;
use siamtrack::frame::view;
use siamtrack::tracklog::{read_records, LogFormat, LogRecord};
use siamtrack::{parse_annotation, BBox};
use std::path::Path;

/// Mean IoU a tracker must reach on the generated clip. On samples/orbit.mp4 a box that stays where it started
/// scores 0.04 (`--set window_influence=1 --set scale_lr=0`), the shipped model 0.81 and the untrained encoder 0.90,
/// so 0.4 separates following the target from losing it.
const MIN_MEAN_IOU: f64 = 0.4;

#[test]
fn tracks_a_generated_video_within_iou_bound() {
    let dir = tempfile::tempdir().unwrap();
    let (video, truth) = generated_clip(dir.path(), "clip.mp4", small_spec(90, 11));
    let log = dir.path().join("track.csv");
    let annotated = dir.path().join("annotated.mp4");
    let out = run(&[
        "track",
        video.to_str().unwrap(),
        "--init-gt",
        truth.to_str().unwrap(),
        "--no-display",
        "--log",
        log.to_str().unwrap(),
        "--out",
        annotated.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("tracked 90 frames"));
    let records = read_records(&log, LogFormat::Csv).unwrap();
    assert_eq!(records.len(), 90, "one log row per frame");
    let count = |state| records.iter().filter(|r| r.state == state).count();
    let states = format!(
        "states: {} tracking, {} uncertain, {} lost",
        count(siamtrack::TrackState::Tracking),
        count(siamtrack::TrackState::Uncertain),
        count(siamtrack::TrackState::Lost)
    );
    assert!(
        summary.lines().any(|l| l == states),
        "{states:?} in\n{summary}"
    );
    assert!(records.iter().enumerate().all(|(i, r)| r.frame == i as u64));
    let boxes: Vec<_> = records.iter().map(|r| r.bbox()).collect();
    let iou = mean_iou(&boxes, &read_truth(&truth));
    assert!(iou > MIN_MEAN_IOU, "mean IoU {iou:.3}");
    // The annotated video decodes to the same number of frames.
    let check =
        opencv::videoio::VideoCapture::from_file(&annotated, opencv::videoio::CAP_ANY).unwrap();
    use opencv::prelude::*;
    assert_eq!(
        check.get(opencv::videoio::CAP_PROP_FRAME_COUNT).unwrap() as usize,
        90
    );
}

/// Tracks `video` headless from its first ground-truth box with `extra` arguments (`--model`, `--set`, ...);
/// returns the log's rows.
fn track_clip(dir: &Path, video: &Path, truth: &Path, extra: &[&str]) -> Vec<LogRecord> {
    let log = dir.join("track.csv");
    let mut args = vec![
        "track",
        video.to_str().unwrap(),
        "--init-gt",
        truth.to_str().unwrap(),
        "--no-display",
        "--log",
        log.to_str().unwrap(),
    ];
    args.extend(extra);
    let out = run(&args);
    assert!(out.status.success(), "{extra:?}: {}", stderr(&out));
    read_records(&log, LogFormat::Csv).unwrap()
}

/// `--set KEY=VALUE` for each setting.
fn settings<'a>(values: &[&'a str]) -> Vec<&'a str> {
    values.iter().flat_map(|v| ["--set", v]).collect()
}

/// Tracks `video` from its first ground-truth box with the shipped model `name`; returns the logged boxes.
fn track_with_shipped_model(dir: &Path, video: &Path, truth: &Path, name: &str) -> Vec<BBox> {
    let model = siamtrack::paths::find_shipped(&format!("models/{name}.json")).unwrap();
    track_clip(dir, video, truth, &["--model", model.to_str().unwrap()])
        .iter()
        .map(|r| r.bbox())
        .collect()
}

/// The other shipped models that are meant for use (the float twin of the default among them) follow the generated
/// target as well.
#[test]
fn alternative_models_track_within_iou_bound() {
    let dir = tempfile::tempdir().unwrap();
    let (video, truth) = generated_clip(dir.path(), "clip.mp4", small_spec(90, 11));
    for name in [
        "effnet_lite0_s8",
        "effnet_lite0_s8_d8",
        "siamtrack_lite0_s8",
    ] {
        let boxes = track_with_shipped_model(dir.path(), &video, &truth, name);
        assert_eq!(boxes.len(), 90, "{name}");
        let iou = mean_iou(&boxes, &read_truth(&truth));
        assert!(iou > MIN_MEAN_IOU, "{name}: mean IoU {iou:.3}");
    }
}

/// The shipped tracker is one search crop (a smaller one while confident) with a template masked to the first box
/// and mixed by the learned channel metric, the online target model (its filter bound to the target's box), the colour model, the scale vote of templates at
/// five scales and the scale filter, on the int8 encoder. Each part switched off, and the three-crop template
/// tracker it replaced, follow the generated target as well as the default must.
#[test]
fn tracker_variants_track_within_iou_bound() {
    let dir = tempfile::tempdir().unwrap();
    let (video, truth) = generated_clip(dir.path(), "clip.mp4", small_spec(90, 11));
    let variants: [(&str, &[&str]); 11] = [
        ("no target model", &["target_weight=0"]),
        (
            "target model over the whole crop",
            &["target_support=0", "target_solve_every=1"],
        ),
        ("no scale vote", &["scale_vote=false"]),
        ("scale vote at three scales", &["scale_vote_steps=1"]),
        ("size from the scale vote alone", &["scale_filter_scales=0"]),
        ("no colour model", &["colour_weight=0"]),
        ("square template", &["template_box_mask=false"]),
        ("plain dot product", &["learned_metric=false"]),
        ("full crop always", &["confident_search_size=0"]),
        (
            "three template crops",
            &[
                "target_weight=0",
                "colour_weight=0",
                "scale_num=3",
                "scale_filter_scales=0",
                "confident_search_size=0",
                "template_box_mask=false",
                "learned_metric=false",
            ],
        ),
        ("no scale filter", &["scale_num=3", "scale_filter_scales=0"]),
    ];
    for (name, sets) in variants {
        let boxes: Vec<_> = track_clip(dir.path(), &video, &truth, &settings(sets))
            .iter()
            .map(|r| r.bbox())
            .collect();
        assert_eq!(boxes.len(), 90, "{name}");
        let iou = mean_iou(&boxes, &read_truth(&truth));
        assert!(iou > MIN_MEAN_IOU, "{name}: mean IoU {iou:.3}");
    }
}

/// A match too weak to trust still moves the box: with `lost_below` above any score every frame is weak, and with
/// `lost_after` past the clip's end the target is never declared lost, so the box must follow the fused maps while
/// each row says `uncertain`. A box that waited on weak frames stays where it started (mean IoU 0.25 here).
#[test]
fn weak_frames_still_follow_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let (video, truth) = generated_clip(dir.path(), "clip.mp4", small_spec(90, 11));
    let rows = track_clip(
        dir.path(),
        &video,
        &truth,
        &settings(&["uncertain_below=1", "lost_below=1", "lost_after=1000"]),
    );
    assert!(
        rows[1..]
            .iter()
            .all(|r| r.state == siamtrack::TrackState::Uncertain),
        "every frame after the first is weak"
    );
    let boxes: Vec<_> = rows.iter().map(|r| r.bbox()).collect();
    let iou = mean_iou(&boxes, &read_truth(&truth));
    assert!(iou > MIN_MEAN_IOU, "mean IoU {iou:.3}");
}

#[test]
fn every_log_format_parses_back() {
    let dir = tempfile::tempdir().unwrap();
    let (folder, truth) = generated_clip(dir.path(), "seq", small_spec(12, 5));
    let first = read_truth(&truth)[0].unwrap();
    let bbox = format!("{},{},{},{}", first.x, first.y, first.w, first.h);
    let mut boxes = Vec::new();
    for (name, format) in [
        ("log.csv", None),
        ("log.jsonl", None),
        ("log.txt", None),
        ("mot.txt", Some("mot")),
    ] {
        let log = dir.path().join(name);
        let mut args = vec![
            "track",
            folder.to_str().unwrap(),
            "--bbox",
            &bbox,
            "--no-display",
        ];
        args.extend(["--log", log.to_str().unwrap()]);
        if let Some(f) = format {
            args.extend(["--format", f]);
        }
        assert!(run(&args).status.success());
        let text = std::fs::read_to_string(&log).unwrap();
        let parsed: Vec<_> = match name {
            "log.csv" => read_records(&log, LogFormat::Csv)
                .unwrap()
                .iter()
                .map(|r| r.bbox())
                .collect(),
            "log.jsonl" => read_records(&log, LogFormat::Jsonl)
                .unwrap()
                .iter()
                .map(|r| r.bbox())
                .collect(),
            "log.txt" => text
                .lines()
                .map(|l| {
                    let b = parse_annotation(l).unwrap().unwrap();
                    siamtrack::BBox::new(b.x - 1.0, b.y - 1.0, b.w, b.h)
                })
                .collect(),
            _ => text
                .lines()
                .enumerate()
                .map(|(i, l)| {
                    let f: Vec<f64> = l.split(',').map(|v| v.parse().unwrap()).collect();
                    assert_eq!((f[0], f[1]), ((i + 1) as f64, 1.0), "MOT frame and id");
                    assert_eq!(&f[7..], &[-1.0, -1.0, -1.0]);
                    siamtrack::BBox::new(f[2] - 1.0, f[3] - 1.0, f[4], f[5])
                })
                .collect(),
        };
        assert_eq!(parsed.len(), 12, "{name}");
        assert_eq!(parsed[0], first, "{name}: the first row is the given box");
        boxes.push(parsed);
    }
    // The same run in every format gives the same boxes (to the 2 decimals the text formats keep).
    for other in &boxes[1..] {
        for (a, b) in boxes[0].iter().zip(other) {
            assert!(
                (a.x - b.x).abs() < 0.006 && (a.w - b.w).abs() < 0.006,
                "{a:?} vs {b:?}"
            );
        }
    }
}

#[test]
fn live_gstreamer_source_is_tracked() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("live.jsonl");
    let pipeline =
        "videotestsrc num-buffers=60 pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 ! videoconvert ! appsink";
    let out = run(&[
        "track",
        pipeline,
        "--bbox",
        "140,100,40,40",
        "--no-display",
        "--log",
        log.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let frames: u64 = stdout.split_whitespace().nth(1).unwrap().parse().unwrap();
    let dropped: u64 = stdout
        .lines()
        .next()
        .unwrap()
        .split(", ")
        .last()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // Every frame the pipeline made was either tracked or dropped as stale.
    assert_eq!(frames + dropped, 60, "{stdout}");
    let records = read_records(&log, LogFormat::Jsonl).unwrap();
    assert_eq!(records.len() as u64, frames);
    assert!(records
        .windows(2)
        .all(|w| w[0].frame < w[1].frame && w[0].timestamp_ms <= w[1].timestamp_ms));
}

#[test]
fn window_path_runs_under_xvfb() {
    let dir = tempfile::tempdir().unwrap();
    let (video, truth) = generated_clip(dir.path(), "clip.mp4", small_spec(20, 2));
    let log = dir.path().join("track.csv");
    let out = std::process::Command::new("xvfb-run")
        .args(["-a", env!("CARGO_BIN_EXE_siamtrack"), "track"])
        .args([
            video.to_str().unwrap(),
            "--init-gt",
            truth.to_str().unwrap(),
            "--display",
        ])
        .args(["--log", log.to_str().unwrap()])
        .output()
        .expect("xvfb-run is installed (scripts/setup.sh)");
    eprintln!("{}", stderr(&out));
    assert!(out.status.success());
    assert_eq!(read_records(&log, LogFormat::Csv).unwrap().len(), 20);
}

/// Runs `siamtrack track` with a window under Xvfb and a window manager, then does `user_action` (a shell command
/// that can use $WID, the window) once the window shows. Returns the output and the number of log rows.
fn windowed_run_with(user_action: &str) -> (std::process::Output, usize) {
    let dir = tempfile::tempdir().unwrap();
    let (video, truth) = generated_clip(dir.path(), "clip.mp4", small_spec(600, 8));
    let log = dir.path().join("track.csv");
    let script = format!(
        "openbox >/dev/null 2>&1 & \
         \"$BIN\" track \"$VIDEO\" --init-gt \"$TRUTH\" --display --log \"$LOG\" & pid=$!; \
         WID=$(xdotool search --sync --name siamtrack | head -1); sleep 1; {user_action}; wait $pid"
    );
    let out = std::process::Command::new("xvfb-run")
        .args(["-a", "bash", "-c", &script])
        .env("BIN", env!("CARGO_BIN_EXE_siamtrack"))
        .env("VIDEO", &video)
        .env("TRUTH", &truth)
        .env("LOG", &log)
        .output()
        .expect("xvfb-run, openbox, xdotool and wmctrl are installed (scripts/setup.sh)");
    eprintln!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    let rows = read_records(&log, LogFormat::Csv).unwrap().len();
    (out, rows)
}

#[test]
fn closing_the_window_ends_the_run_with_outputs() {
    let (out, rows) = windowed_run_with("wmctrl -c siamtrack");
    assert!(out.status.success());
    assert!(!stderr(&out).contains("panicked at"));
    assert!(
        rows > 1 && rows < 600,
        "stopped early with a valid log, {rows} rows"
    );
}

#[test]
fn q_key_quits() {
    let (out, rows) = windowed_run_with("xdotool key --window $WID q");
    assert!(out.status.success());
    assert!(
        rows > 1 && rows < 600,
        "stopped early with a valid log, {rows} rows"
    );
}

/// Frames after the target's return within which it must be tracked again.
const MAX_REACQUIRE_FRAMES: usize = 15;

#[test]
fn target_that_leaves_is_reported_lost_and_reacquired() {
    let dir = tempfile::tempdir().unwrap();
    let spec = siamtrack::synth::ClipSpec {
        absent: Some(60..100),
        ..small_spec(200, 7)
    };
    let (video, truth_path) = generated_clip(dir.path(), "gone.mp4", spec);
    // The mechanism under test, with thresholds that fit this clip: the default encoder scores the target about
    // 0.7 here and the blob background at most 0.35. The sidecars' thresholds are lower (set on dev, where
    // declaring a visible target lost costs more than noticing a vanished one late; docs/confidence.md). With the
    // target model on, a re-detection must also be verified by it. The template alone runs on the plain dot
    // product: with the learned metric (trained on real footage) it matches this clip's blob target back only 82
    // frames after its return (frame 182) under these thresholds; with the target model it is back within 15.
    let thresholds = [
        "uncertain_below=0.5",
        "lost_below=0.45",
        "lost_after=3",
        "recover_above=0.55",
    ];
    let variants: [(&str, &[&str]); 2] = [
        ("template", &["target_weight=0", "learned_metric=false"]),
        ("template + target model", &["target_weight=0.5"]),
    ];
    for (name, model) in variants {
        let mut values = thresholds.to_vec();
        values.extend_from_slice(model);
        let rows = track_clip(dir.path(), &video, &truth_path, &settings(&values));
        let truth = read_truth(&truth_path);
        let lost = (60..100)
            .filter(|&i| rows[i].state == siamtrack::TrackState::Lost)
            .count();
        assert!(
            lost >= 32,
            "{name}: lost on only {lost} of the 40 frames without target"
        );
        let first = rows[0].bbox();
        assert!(
            rows.iter()
                .all(|r| r.w <= 5.0 * first.w && r.h <= 5.0 * first.h),
            "{name}: the box never grows without bound"
        );
        let back = (100..100 + MAX_REACQUIRE_FRAMES).find(|&i| {
            rows[i].state != siamtrack::TrackState::Lost
                && rows[i].bbox().iou(&truth[i].unwrap()) > 0.5
        });
        assert!(
            back.is_some(),
            "{name}: not re-acquired within {MAX_REACQUIRE_FRAMES} frames"
        );
        // And it keeps the target afterwards.
        let boxes: Vec<_> = rows[100..].iter().map(|r| r.bbox()).collect();
        let iou = mean_iou(&boxes, &truth[100..]);
        assert!(
            iou > MIN_MEAN_IOU,
            "{name}: mean IoU {iou:.3} after the return"
        );
    }
}

/// A lost target's box keeps following the best match around it: with thresholds no match reaches, the target is
/// declared lost after the first frames and never taken back, yet the box stays on it (a box that waited where
/// the target was last seen would score near 0 here).
#[test]
fn a_lost_target_is_still_followed() {
    let dir = tempfile::tempdir().unwrap();
    let (video, truth_path) = generated_clip(dir.path(), "clip.mp4", small_spec(90, 5));
    let never = [
        "uncertain_below=1",
        "lost_below=1",
        "lost_after=2",
        "recover_above=1",
    ];
    let rows = track_clip(dir.path(), &video, &truth_path, &settings(&never));
    assert!(
        rows[2..]
            .iter()
            .all(|r| r.state == siamtrack::TrackState::Lost),
        "lost from the third frame on"
    );
    let boxes: Vec<_> = rows.iter().map(|r| r.bbox()).collect();
    let iou = mean_iou(&boxes, &read_truth(&truth_path));
    assert!(iou > MIN_MEAN_IOU, "mean IoU {iou:.3} while lost");
}

/// The scale vote alone (no scale filter) follows the generated target's size, which swings by 30 % either way:
/// the sides of its boxes stay nearer the truth's than those of boxes that keep the first size.
#[test]
fn the_scale_vote_alone_follows_the_target_size() {
    let dir = tempfile::tempdir().unwrap();
    let (video, truth_path) = generated_clip(dir.path(), "clip.mp4", small_spec(90, 11));
    let truth = read_truth(&truth_path);
    let size_error = |sets: &[&str]| {
        let rows = track_clip(dir.path(), &video, &truth_path, &settings(sets));
        let errors: Vec<f64> = rows
            .iter()
            .zip(&truth)
            .filter_map(|(row, t)| {
                let (b, t) = (row.bbox(), (*t)?);
                Some((b.w * b.h / (t.w * t.h)).sqrt().ln().abs())
            })
            .collect();
        errors.iter().sum::<f64>() / errors.len() as f64
    };
    let voted = size_error(&["scale_filter_scales=0"]);
    let fixed = size_error(&["scale_filter_scales=0", "scale_vote=false"]);
    assert!(
        voted < 0.5 * fixed,
        "mean |log side ratio| {voted:.3} with the vote, {fixed:.3} without"
    );
}

/// The frames of three generated clips side by side (320 px each, different seeds): three moving targets, each
/// in its own third, and each target's truth in the joined frame.
struct Triptych {
    clips: Vec<siamtrack::synth::Clip>,
}

impl Triptych {
    fn new(frames: usize) -> Self {
        let clips = (0..3)
            .map(|k| siamtrack::synth::Clip::new(small_spec(frames, 21 + k)).unwrap())
            .collect();
        Self { clips }
    }

    fn frame(&self, index: usize) -> opencv::core::Mat {
        let parts: opencv::core::Vector<opencv::core::Mat> =
            self.clips.iter().map(|c| c.frame(index).unwrap()).collect();
        let mut joined = opencv::core::Mat::default();
        opencv::core::hconcat(&parts, &mut joined).unwrap();
        joined
    }

    fn truth(&self, target: usize, index: usize) -> Option<BBox> {
        let clip = &self.clips[target];
        let offset = (target as i32 * clip.spec().width) as f64;
        clip.truth(index)
            .map(|b| BBox::new(b.x + offset, b.y, b.w, b.h))
    }
}

fn shipped_model() -> siamtrack::ModelConfig {
    let path = siamtrack::paths::find_shipped(siamtrack::paths::DEFAULT_MODEL).unwrap();
    siamtrack::ModelConfig::load(path).unwrap()
}

/// Three targets in one `MultiTracker`: ids in the order added, one track per target per frame, each following
/// its own target (the held targets' crops go through the encoder as one batch).
#[test]
fn multi_tracker_follows_each_target_under_its_id() {
    let frames = 60;
    let clip = Triptych::new(frames);
    let options = siamtrack::EncoderOptions::default();
    let mut multi = siamtrack::MultiTracker::new(&shipped_model(), &options).unwrap();
    let first = clip.frame(0);
    let ids: Vec<usize> = (0..3)
        .map(|k| {
            multi
                .add(&view(&first).unwrap(), clip.truth(k, 0).unwrap())
                .unwrap()
        })
        .collect();
    assert_eq!(ids, [1, 2, 3]);
    let mut boxes: Vec<Vec<BBox>> = (0..3).map(|k| vec![clip.truth(k, 0).unwrap()]).collect();
    for i in 1..frames {
        let tracks = multi.update(&view(&clip.frame(i)).unwrap()).unwrap();
        assert_eq!(tracks.len(), 3);
        for (k, track) in tracks.iter().enumerate() {
            boxes[k].push(track.bbox);
        }
    }
    for (k, b) in boxes.iter().enumerate() {
        let truth: Vec<_> = (0..frames).map(|i| clip.truth(k, i)).collect();
        let iou = mean_iou(b, &truth);
        assert!(iou > MIN_MEAN_IOU, "target {}: mean IoU {iou:.3}", k + 1);
    }
}

/// With one target, the `MultiTracker` is the `Tracker`: the same tracks, frame by frame, also while the target
/// is away and lost (its search and the recovery scan's tiles then go through the encoder together).
#[test]
fn multi_tracker_with_one_target_tracks_as_the_tracker() {
    let frames = 80;
    let leaving = siamtrack::synth::ClipSpec {
        absent: Some(30..60),
        ..small_spec(frames, 7)
    };
    let mut strict = shipped_model();
    for (key, value) in [
        ("uncertain_below", "0.5"),
        ("lost_below", "0.45"),
        ("lost_after", "3"),
    ] {
        strict.set_tracker_param(key, value).unwrap();
    }
    for (spec, model, lost_frames) in [
        (small_spec(frames, 11), shipped_model(), 0..=0),
        (leaving, strict, 20..=frames),
    ] {
        let clip = siamtrack::synth::Clip::new(spec).unwrap();
        let options = siamtrack::EncoderOptions::default();
        let mut single = siamtrack::Tracker::new(&model, &options).unwrap();
        let mut multi = siamtrack::MultiTracker::new(&model, &options).unwrap();
        let first = clip.frame(0).unwrap();
        single
            .init(&view(&first).unwrap(), clip.truth(0).unwrap())
            .unwrap();
        multi
            .add(&view(&first).unwrap(), clip.truth(0).unwrap())
            .unwrap();
        let mut lost = 0;
        for i in 1..frames {
            let frame = clip.frame(i).unwrap();
            let track = single.update(&view(&frame).unwrap()).unwrap();
            assert_eq!(
                multi.update(&view(&frame).unwrap()).unwrap(),
                [track],
                "frame {i}"
            );
            lost += usize::from(track.state == siamtrack::TrackState::Lost);
        }
        assert!(lost_frames.contains(&lost), "{lost} frames lost");
    }
}

/// `track` with several `--bbox` (or `--init-gt`) tracks each target under its id, and every log format carries
/// the ids: a `target` column in CSV, the MOTChallenge id, one OTB file per target.
#[test]
fn track_cli_logs_several_targets_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let frames = 40;
    let clip = Triptych::new(frames);
    let images = dir.path().join("img");
    std::fs::create_dir_all(&images).unwrap();
    for i in 0..frames {
        let path = images.join(format!("{:04}.png", i + 1));
        opencv::imgcodecs::imwrite(
            path.to_str().unwrap(),
            &clip.frame(i),
            &opencv::core::Vector::new(),
        )
        .unwrap();
    }
    let boxes: Vec<String> = (0..3)
        .map(|k| {
            let b = clip.truth(k, 0).unwrap();
            format!("{},{},{},{}", b.x, b.y, b.w, b.h)
        })
        .collect();
    let track = |log: &Path, extra: &[&str]| {
        let mut args = vec![
            "track",
            images.to_str().unwrap(),
            "--no-display",
            "--log",
            log.to_str().unwrap(),
        ];
        for b in &boxes {
            args.extend(["--bbox", b.as_str()]);
        }
        args.extend(extra);
        let out = run(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let csv = dir.path().join("out.csv");
    let summary = track(&csv, &[]);
    let records = read_records(&csv, LogFormat::Csv).unwrap();
    assert_eq!(records.len(), 3 * frames, "a row per frame and target");
    // The summary counts each target's frames in each state, as the log has them.
    for k in 1..=3 {
        let count = |state| {
            records
                .iter()
                .filter(|r| r.target == k && r.state == state)
                .count()
        };
        let line = format!(
            "target {k}: {} tracking, {} uncertain, {} lost",
            count(siamtrack::TrackState::Tracking),
            count(siamtrack::TrackState::Uncertain),
            count(siamtrack::TrackState::Lost)
        );
        assert!(summary.lines().any(|l| l == line), "{line:?} in\n{summary}");
    }
    for (i, r) in records.iter().enumerate() {
        assert_eq!(
            (r.frame, r.target),
            ((i / 3) as u64, i % 3 + 1),
            "rows by frame, then id"
        );
    }
    for k in 0..3 {
        let own: Vec<BBox> = records
            .iter()
            .filter(|r| r.target == k + 1)
            .map(|r| r.bbox())
            .collect();
        let truth: Vec<_> = (0..frames).map(|i| clip.truth(k, i)).collect();
        let iou = mean_iou(&own, &truth);
        assert!(iou > MIN_MEAN_IOU, "target {}: mean IoU {iou:.3}", k + 1);
    }

    let mot = dir.path().join("out.mot");
    track(&mot, &["--format", "mot"]);
    let ids: Vec<String> = std::fs::read_to_string(&mot)
        .unwrap()
        .lines()
        .take(3)
        .map(|l| l.split(',').take(2).collect::<Vec<_>>().join(","))
        .collect();
    assert_eq!(ids, ["1,1", "1,2", "1,3"]);

    // --init-gt, repeated: the targets in the order of the files.
    let truths: Vec<_> = [2, 0]
        .iter()
        .map(|&k| {
            let b = clip.truth(k, 0).unwrap();
            let path = dir.path().join(format!("truth{k}.txt"));
            std::fs::write(
                &path,
                format!("{},{},{},{}\n", b.x + 1.0, b.y + 1.0, b.w, b.h),
            )
            .unwrap();
            (path, b)
        })
        .collect();
    let from_files = dir.path().join("from_files.csv");
    let out = run(&[
        "track",
        images.to_str().unwrap(),
        "--no-display",
        "--max-frames",
        "2",
        "--log",
        from_files.to_str().unwrap(),
        "--init-gt",
        truths[0].0.to_str().unwrap(),
        "--init-gt",
        truths[1].0.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let records = read_records(&from_files, LogFormat::Csv).unwrap();
    assert_eq!(records.len(), 4);
    assert_eq!(
        (records[0].bbox(), records[1].bbox()),
        (truths[0].1, truths[1].1)
    );

    let otb = dir.path().join("out.txt");
    track(&otb, &[]);
    assert!(!otb.exists(), "OTB text takes one file per target");
    for k in 1..=3 {
        let file = dir.path().join(format!("out.{k}.txt"));
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(text.lines().count(), frames, "{}", file.display());
        let first = parse_annotation(text.lines().next().unwrap())
            .unwrap()
            .unwrap();
        let b = clip.truth(k - 1, 0).unwrap();
        assert!(
            (first.x - (b.x + 1.0)).abs() < 0.01,
            "1-based first box of target {k}"
        );
    }
}

/// Every target of a generated clip tracked by one `MultiTracker` from its first box: per target, a track per
/// frame (the first frame's is the given box).
fn track_targets(
    model: &siamtrack::ModelConfig,
    clip: &siamtrack::synth::Clip,
    frames: usize,
) -> Vec<Vec<siamtrack::Track>> {
    let options = siamtrack::EncoderOptions::default();
    let mut multi = siamtrack::MultiTracker::new(model, &options).unwrap();
    let first = clip.frame(0).unwrap();
    let mut tracks: Vec<Vec<siamtrack::Track>> = (0..clip.spec().targets)
        .map(|k| {
            let bbox = clip.target_truth(k, 0).unwrap();
            multi.add(&view(&first).unwrap(), bbox).unwrap();
            let state = siamtrack::TrackState::Tracking;
            vec![siamtrack::Track {
                bbox,
                score: 1.0,
                state,
            }]
        })
        .collect();
    for i in 1..frames {
        let frame = clip.frame(i).unwrap();
        for (k, track) in multi
            .update(&view(&frame).unwrap())
            .unwrap()
            .into_iter()
            .enumerate()
        {
            tracks[k].push(track);
        }
    }
    tracks
}

/// A generated clip whose three targets cross paths (a later target passes in front of an earlier one): each
/// keeps its id through the crossings, its boxes following its own truth.
#[test]
fn crossing_targets_keep_their_ids() {
    let frames = 150;
    let spec = siamtrack::synth::ClipSpec {
        targets: 3,
        ..small_spec(frames, 5)
    };
    let clip = siamtrack::synth::Clip::new(spec).unwrap();
    let truth =
        |k: usize| -> Vec<Option<BBox>> { (0..frames).map(|i| clip.target_truth(k, i)).collect() };
    // The paths do cross: frames where two targets' boxes overlap.
    let crossings = (0..frames)
        .filter(|&i| {
            let b: Vec<BBox> = (0..3).map(|k| clip.target_truth(k, i).unwrap()).collect();
            b[0].iou(&b[1]) > 0.0 || b[0].iou(&b[2]) > 0.0 || b[1].iou(&b[2]) > 0.0
        })
        .count();
    assert!(
        crossings >= 10,
        "only {crossings} frames with overlapping targets"
    );
    let boxes: Vec<Vec<BBox>> = track_targets(&shipped_model(), &clip, frames)
        .iter()
        .map(|tracks| tracks.iter().map(|t| t.bbox).collect())
        .collect();
    for (k, b) in boxes.iter().enumerate() {
        let iou = mean_iou(b, &truth(k));
        assert!(iou > MIN_MEAN_IOU, "target {}: mean IoU {iou:.3}", k + 1);
        // Not swapped: each follows its own target more than any other.
        for other in (0..3).filter(|&o| o != k) {
            let swapped = mean_iou(b, &truth(other));
            assert!(
                iou > 2.0 * swapped,
                "target {}: IoU {iou:.3} with its own truth, {swapped:.3} with target {}'s",
                k + 1,
                other + 1
            );
        }
    }
}

/// Mean IoU of each target of `clip` over `frames`: tracked all together by one `MultiTracker`, and each alone by
/// a `Tracker` of its own (the same clip, the other targets in it but unknown to the tracker).
fn together_and_alone(clip: &siamtrack::synth::Clip, frames: usize) -> Vec<(f64, f64)> {
    let model = shipped_model();
    let truth =
        |k: usize| -> Vec<Option<BBox>> { (0..frames).map(|i| clip.target_truth(k, i)).collect() };
    let together = track_targets(&model, clip, frames);
    (0..clip.spec().targets)
        .map(|k| {
            let mut alone =
                siamtrack::Tracker::new(&model, &siamtrack::EncoderOptions::default()).unwrap();
            let first = clip.target_truth(k, 0).unwrap();
            alone
                .init(&view(&clip.frame(0).unwrap()).unwrap(), first)
                .unwrap();
            let boxes: Vec<BBox> = std::iter::once(first)
                .chain((1..frames).map(|i| {
                    let frame = clip.frame(i).unwrap();
                    alone.update(&view(&frame).unwrap()).unwrap().bbox
                }))
                .collect();
            let joint: Vec<BBox> = together[k].iter().map(|t| t.bbox).collect();
            (mean_iou(&joint, &truth(k)), mean_iou(&boxes, &truth(k)))
        })
        .collect()
}

/// How much lower a target's mean IoU may be tracked with the others than alone.
const TOGETHER_MARGIN: f64 = 0.05;

/// Every target of `clip` tracked with the others within `TOGETHER_MARGIN` of its mean IoU alone, and above
/// `MIN_MEAN_IOU`.
fn assert_tracked_as_well_as_alone(clip: &siamtrack::synth::Clip, frames: usize, seed: u64) {
    for (k, (together, alone)) in together_and_alone(clip, frames).into_iter().enumerate() {
        assert!(
            together >= alone - TOGETHER_MARGIN && together > MIN_MEAN_IOU,
            "seed {seed}, target {}: mean IoU {together:.3} with the other, {alone:.3} alone",
            k + 1
        );
    }
}

/// One target sweeps across another that stands still, slowing down in front of it (sometimes larger, hiding it
/// whole): each is tracked through, about as well as alone. Muting the core of the other's box outright loses
/// the one in front where it covers the other (seed 5: mean IoU 0.90 against 0.96 alone).
#[test]
fn a_target_passing_in_front_of_a_still_one_is_tracked_through() {
    let frames = 150;
    for seed in [5, 11] {
        let spec = siamtrack::synth::ClipSpec {
            targets: 2,
            scene: siamtrack::synth::Scene::Passing,
            ..small_spec(frames, seed)
        };
        let clip = siamtrack::synth::Clip::new(spec).unwrap();
        // The one passing does cover the still one's middle.
        let covered = (0..frames)
            .filter(|&i| {
                let (still, passing) = (
                    clip.target_truth(0, i).unwrap(),
                    clip.target_truth(1, i).unwrap(),
                );
                let (x, y) = still.center();
                (passing.x..passing.x + passing.w).contains(&x)
                    && (passing.y..passing.y + passing.h).contains(&y)
            })
            .count();
        assert!(covered >= 20, "seed {seed}: covered on {covered} frames");
        assert_tracked_as_well_as_alone(&clip, frames, seed);
    }
}

/// A small target moving about inside a large one's box (a rider on a horse): both tracked as well as alone. Muting
/// the core of the other's box outright lost the inner one (seed 5: mean IoU 0.24 against 0.97 alone).
#[test]
fn a_target_inside_another_is_tracked_as_well_as_alone() {
    let frames = 150;
    for seed in [5, 7] {
        let spec = siamtrack::synth::ClipSpec {
            targets: 2,
            scene: siamtrack::synth::Scene::Nested,
            ..small_spec(frames, seed)
        };
        let clip = siamtrack::synth::Clip::new(spec).unwrap();
        let inside = (0..frames).all(|i| {
            let (outer, inner) = (
                clip.target_truth(0, i).unwrap(),
                clip.target_truth(1, i).unwrap(),
            );
            inner.x >= outer.x
                && inner.y >= outer.y
                && inner.x + inner.w <= outer.x + outer.w
                && inner.y + inner.h <= outer.y + outer.h
        });
        assert!(
            inside,
            "seed {seed}: the small target leaves the large one's box"
        );
        assert_tracked_as_well_as_alone(&clip, frames, seed);
    }
}

/// In a `MultiTracker` a target that leaves is reported lost and taken back by the recovery scan, while the
/// other target is tracked on (the lost-target path of the multi-target update).
#[test]
fn multi_tracker_recovers_a_target_that_leaves() {
    let frames = 200;
    let spec = siamtrack::synth::ClipSpec {
        targets: 2,
        absent: Some(60..100),
        ..small_spec(frames, 7)
    };
    let clip = siamtrack::synth::Clip::new(spec).unwrap();
    // The thresholds of `target_that_leaves_is_reported_lost_and_reacquired`, with the target model.
    let mut model = shipped_model();
    for (key, value) in [
        ("uncertain_below", "0.5"),
        ("lost_below", "0.45"),
        ("lost_after", "3"),
        ("recover_above", "0.55"),
        ("target_weight", "0.5"),
    ] {
        model.set_tracker_param(key, value).unwrap();
    }
    let tracks = track_targets(&model, &clip, frames);
    let at = |k: usize, i: usize| tracks[k][i];
    let lost = (60..100)
        .filter(|&i| at(0, i).state == siamtrack::TrackState::Lost)
        .count();
    assert!(
        lost >= 32,
        "target 1 lost on only {lost} of its 40 frames away"
    );
    let back = (100..100 + MAX_REACQUIRE_FRAMES).find(|&i| {
        at(0, i).state != siamtrack::TrackState::Lost
            && at(0, i).bbox.iou(&clip.target_truth(0, i).unwrap()) > 0.5
    });
    assert!(
        back.is_some(),
        "target 1 not re-acquired within {MAX_REACQUIRE_FRAMES} frames"
    );
    let second: Vec<BBox> = tracks[1].iter().map(|t| t.bbox).collect();
    let truth: Vec<_> = (0..frames).map(|i| clip.target_truth(1, i)).collect();
    let iou = mean_iou(&second, &truth);
    assert!(iou > MIN_MEAN_IOU, "target 2: mean IoU {iou:.3}");
}

/// Runs `track VIDEO --select --display --log LOG` under xvfb (on a `WxH` screen if `screen` says, else
/// xvfb-run's default) and drags a 40x40 box of
/// the screen at each of `drags` (x and y from the window's top-left, shell arithmetic that may use the window's
/// WIDTH), confirming each with Enter, then starts tracking with Enter; the log's records.
fn select_by_dragging(
    video: &Path,
    log: &Path,
    screen: Option<&str>,
    drags: &[&str],
) -> Vec<LogRecord> {
    let drags: String = drags.iter().map(|d| format!("drag {d}; ")).collect();
    let script = format!(
        "openbox >/dev/null 2>&1 & sleep 0.5; \
         \"$BIN\" track \"$VIDEO\" --select --display --log \"$LOG\" & pid=$!; \
         WID=$(xdotool search --sync --name siamtrack | head -1); sleep 1.5; \
         xdotool windowactivate --sync $WID; eval $(xdotool getwindowgeometry --shell $WID); \
         drag() {{ xdotool mousemove --sync $((X+$1)) $((Y+$2)); sleep 0.3; xdotool mousedown 1; sleep 0.3; \
           for s in 1 2 3 4 5; do xdotool mousemove --sync $((X+$1+40*s/5)) $((Y+$2+40*s/5)); sleep 0.1; done; \
           xdotool mouseup 1; sleep 0.5; xdotool key Return; sleep 0.8; }}; \
         {drags}xdotool key Return; wait $pid"
    );
    let mut args = vec!["-a".to_string()];
    if let Some(screen) = screen {
        args.extend(["-s".to_string(), format!("-screen 0 {screen}x24")]);
    }
    args.extend(["bash".into(), "-c".into(), script]);
    let out = std::process::Command::new("xvfb-run")
        .args(&args)
        .env("BIN", env!("CARGO_BIN_EXE_siamtrack"))
        .env("VIDEO", video)
        .env("LOG", log)
        .output()
        .expect("xvfb-run, openbox and xdotool are installed (scripts/setup.sh)");
    assert!(out.status.success(), "{}", stderr(&out));
    read_records(log, LogFormat::Csv).unwrap()
}

/// A frame larger than the display is shown shrunk (1920x1080 at two thirds), and a box dragged on it is in the
/// frame's own pixels: 40x40 screen pixels are 60x60 of the frame.
#[test]
fn select_on_a_shrunk_frame_gives_frame_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let spec = siamtrack::synth::ClipSpec {
        width: 1920,
        height: 1080,
        ..small_spec(20, 8)
    };
    let (video, _) = generated_clip(dir.path(), "clip.mp4", spec);
    let log = dir.path().join("select.csv");
    let records = select_by_dragging(&video, &log, Some("1600x1000"), &["$((WIDTH/2-100)) 300"]);
    assert_eq!(records.len(), 20, "one target on every frame");
    let first = &records[0];
    assert_eq!(
        (first.w, first.h),
        (60.0, 60.0),
        "the dragged box, in frame pixels"
    );
    assert!(
        first.x > 640.0 && first.y > 300.0,
        "where it was dragged: {first:?}"
    );
}

/// `--select` takes a drag per target, each confirmed with Enter; Enter with no new box starts tracking them all.
#[test]
fn select_takes_several_drags() {
    let dir = tempfile::tempdir().unwrap();
    let (video, _) = generated_clip(dir.path(), "clip.mp4", small_spec(60, 8));
    let log = dir.path().join("select.csv");
    // The window shows the 320x180 frame centred in its width; each drag is 40x40 pixels of the frame.
    let drags = ["$((WIDTH/2-130)) 60", "$((WIDTH/2+40)) 100"];
    let records = select_by_dragging(&video, &log, None, &drags);
    assert_eq!(records.len(), 2 * 60, "two targets on every frame");
    let first: Vec<_> = records
        .iter()
        .take(2)
        .map(|r| (r.target, r.w, r.h))
        .collect();
    assert_eq!(
        first,
        [(1, 40.0, 40.0), (2, 40.0, 40.0)],
        "the dragged boxes"
    );
    assert!(records[0].x < records[1].x, "in the order dragged");
}
