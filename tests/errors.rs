//! Bad input gets a clear message and an exit code, never a panic, and loses nothing already produced.

mod common;

use common::*;
use siamtrack::tracklog::{read_records, LogFormat};
use std::path::Path;

#[test]
fn missing_input_and_non_video_file() {
    assert_fails(
        &run(&[
            "track",
            "/nonexistent/clip.mp4",
            "--bbox",
            "1,1,9,9",
            "--no-display",
        ]),
        1,
        "input /nonexistent/clip.mp4 not found",
    );
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("notes.mp4");
    std::fs::write(&fake, "this is not a video\n").unwrap();
    assert_fails(
        &run(&["track", s(&fake), "--bbox", "1,1,9,9", "--no-display"]),
        1,
        "as a video",
    );
}

#[test]
fn truncated_video_keeps_the_frames_before_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let (video, truth) = generated_clip(dir.path(), "clip.avi", small_spec(40, 4));
    let bytes = std::fs::read(&video).unwrap();
    std::fs::write(&video, &bytes[..bytes.len() / 2]).unwrap();
    let log = dir.path().join("log.csv");
    let out = run(&[
        "track",
        s(&video),
        "--init-gt",
        s(&truth),
        "--no-display",
        "--log",
        s(&log),
    ]);
    assert_fails(&out, 1, "cannot be decoded (truncated or corrupt video)");
    let rows = read_records(&log, LogFormat::Csv).unwrap();
    assert!(rows.len() > 5 && rows.len() < 40, "{} rows", rows.len());
    assert!(stderr(&out).contains(&format!("the outputs hold the {} frames", rows.len())));
}

#[test]
fn corrupt_image_and_empty_folder() {
    let dir = tempfile::tempdir().unwrap();
    let (seq, truth) = generated_clip(dir.path(), "seq", small_spec(10, 6));
    std::fs::write(seq.join("img/0006.jpg"), b"\xff\xd8 broken jpeg").unwrap();
    let log = dir.path().join("log.jsonl");
    let out = run(&[
        "track",
        s(&seq),
        "--init-gt",
        s(&truth),
        "--no-display",
        "--log",
        s(&log),
    ]);
    assert_fails(&out, 1, "cannot decode image");
    assert!(stderr(&out).contains("0006.jpg (frame 5)"));
    assert_eq!(read_records(&log, LogFormat::Jsonl).unwrap().len(), 5);

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_fails(
        &run(&["track", s(&empty), "--bbox", "1,1,9,9", "--no-display"]),
        1,
        "no images",
    );
}

#[test]
fn bad_boxes() {
    let dir = tempfile::tempdir().unwrap();
    let (video, _) = generated_clip(dir.path(), "clip.mp4", small_spec(3, 1));
    for (bbox, message) in [
        ("10,10,0,20", "width and height must be positive"),
        ("10,10,-5,20", "width and height must be positive"),
        ("10,NaN,5,20", "non-finite"),
        ("10,10,5", "expected 4 numbers"),
    ] {
        assert_fails(
            &run(&["track", s(&video), "--bbox", bbox, "--no-display"]),
            2,
            message,
        );
    }
    assert_fails(
        &run(&[
            "track",
            s(&video),
            "--bbox",
            "500,500,20,20",
            "--no-display",
        ]),
        1,
        "initial box 500,500,20,20 (x,y,w,h) lies outside the 320x180 frame",
    );
}

#[test]
fn bad_ground_truth_files() {
    let dir = tempfile::tempdir().unwrap();
    let (video, _) = generated_clip(dir.path(), "clip.mp4", small_spec(3, 1));
    let gt = dir.path().join("gt.txt");
    std::fs::write(&gt, "").unwrap();
    assert_fails(
        &run(&["track", s(&video), "--init-gt", s(&gt), "--no-display"]),
        1,
        "holds no box",
    );
    std::fs::write(&gt, "10,20,abc,40\n").unwrap();
    assert_fails(
        &run(&["track", s(&video), "--init-gt", s(&gt), "--no-display"]),
        1,
        "gt.txt:1: malformed line",
    );
    assert_fails(
        &run(&[
            "track",
            s(&video),
            "--init-gt",
            "/nonexistent/gt.txt",
            "--no-display",
        ]),
        1,
        "cannot read ground truth",
    );
}

#[test]
fn bad_models() {
    let dir = tempfile::tempdir().unwrap();
    let (video, truth) = generated_clip(dir.path(), "clip.mp4", small_spec(3, 1));
    let track = |model: &Path| {
        run(&[
            "track",
            s(&video),
            "--init-gt",
            s(&truth),
            "--no-display",
            "--model",
            s(model),
        ])
    };
    assert_fails(
        &track(Path::new("/nonexistent/m.json")),
        1,
        "model file /nonexistent/m.json not found",
    );

    let shipped = siamtrack::paths::find_shipped(siamtrack::paths::DEFAULT_MODEL).unwrap();
    let sidecar = std::fs::read_to_string(&shipped).unwrap();
    let onnx = std::fs::read(shipped.with_extension("onnx")).unwrap();
    let model = dir.path().join("m.json");
    let write = |json: &str, onnx: &[u8]| {
        let name = serde_json::from_str::<serde_json::Value>(json).unwrap()["onnx"]
            .as_str()
            .unwrap()
            .to_string();
        std::fs::write(&model, json).unwrap();
        std::fs::write(dir.path().join(name), onnx).unwrap();
    };
    write(&sidecar, b"not an onnx graph");
    assert_fails(&track(&model), 1, "not a loadable ONNX model");
    write(&sidecar.replace("\"input\"", "\"image\""), &onnx);
    assert_fails(&track(&model), 1, "does not match its sidecar");
    assert_fails(&track(&model), 1, "no input named \"image\"");
    let wider = sidecar.replace("\"channels\": 40", "\"channels\": 64");
    write(&wider, &onnx);
    assert_fails(&track(&model), 1, "template_metric must be 64 rows of 64");
    let mut unmixed: serde_json::Value = serde_json::from_str(&wider).unwrap();
    unmixed.as_object_mut().unwrap().remove("template_metric");
    write(&unmixed.to_string(), &onnx);
    assert_fails(&track(&model), 1, "the sidecar says [1, 64, 16, 16]");
    write(&sidecar.replace("\"total_stride\": 8,", ""), &onnx);
    assert_fails(&track(&model), 1, "missing field `total_stride`");

    // A parameter out of its range is named by its place in the parameter tree.
    write(
        &sidecar.replace("\"scale_vote_steps\": 2", "\"scale_vote_steps\": 9"),
        &onnx,
    );
    assert_fails(
        &track(&model),
        1,
        "tracker parameter scale.vote_steps: must be in 1..4",
    );
}

#[test]
fn unwritable_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let (video, truth) = generated_clip(dir.path(), "clip.mp4", small_spec(3, 1));
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "").unwrap();
    let under_file = blocker.join("log.csv");
    let base = ["track", s(&video), "--init-gt", s(&truth), "--no-display"];
    assert_fails(
        &run(&[&base[..], &["--log", s(&under_file)]].concat()),
        1,
        "for the log",
    );
    assert_fails(
        &run(&[&base[..], &["--out", s(&under_file.with_extension("mp4"))]].concat()),
        1,
        "for the video",
    );
    assert_fails(
        &run(&[&base[..], &["--log", "x.unknown"]].concat()),
        1,
        "cannot tell the log format",
    );
}

#[test]
fn missing_camera_and_invalid_pipeline() {
    assert_fails(
        &run(&[
            "track",
            "--camera",
            "9",
            "--bbox",
            "1,1,9,9",
            "--no-display",
        ]),
        1,
        "cannot open camera 9",
    );
    assert_fails(
        &run(&[
            "track",
            "--camera",
            "/dev/video9",
            "--bbox",
            "1,1,9,9",
            "--no-display",
        ]),
        1,
        "cannot open camera /dev/video9",
    );
    assert_fails(
        &run(&[
            "track",
            "nosuchelement ! appsink",
            "--bbox",
            "1,1,9,9",
            "--no-display",
        ]),
        1,
        "GStreamer has no element \"nosuchelement\"",
    );
}

/// Without a GPU build of ONNX Runtime (the tests run on the CPU-only library of scripts/setup.sh), `--device cuda`
/// and `--device tensorrt` say why and track on the CPU, with every frame logged.
#[test]
fn unavailable_gpu_falls_back_to_the_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let (video, truth) = generated_clip(dir.path(), "clip.mp4", small_spec(20, 5));
    for (device, name) in [("cuda", "CUDA"), ("tensorrt", "TensorRT")] {
        let log = dir.path().join(format!("{device}.csv"));
        let out = run(&[
            "track",
            s(&video),
            "--init-gt",
            s(&truth),
            "--no-display",
            "--device",
            device,
            "--log",
            s(&log),
        ]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{err}");
        assert!(
            err.contains(&format!("warning: {name} is not available"))
                && err.contains("the encoder runs on the CPU"),
            "{err}"
        );
        let records = read_records(&log, LogFormat::Csv).unwrap();
        assert_eq!(records.len(), 20, "{device}");
    }
}

/// Starts a run on an endless live source, signals it, and checks the outputs are complete and valid.
fn interrupted_run_keeps_outputs(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.csv");
    let video = dir.path().join("out.mp4");
    let child = siamtrack()
        .args(["track", "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240 ! videoconvert ! appsink"])
        .args(["--bbox", "140,100,40,40", "--no-display", "--log", s(&log), "--out", s(&video)])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until some frames are logged, then signal.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::fs::read_to_string(&log).map_or(0, |t| t.lines().count()) < 10 {
        assert!(std::time::Instant::now() < deadline, "no frames logged");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let kill = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert_fails(&out, 130, "interrupted: the outputs hold the");
    let rows = read_records(&log, LogFormat::Csv).unwrap();
    assert!(rows.len() >= 9);
    let capture =
        opencv::videoio::VideoCapture::from_file(&video, opencv::videoio::CAP_ANY).unwrap();
    use opencv::prelude::*;
    assert_eq!(
        capture.get(opencv::videoio::CAP_PROP_FRAME_COUNT).unwrap() as usize,
        rows.len(),
        "video finalised with every frame"
    );
}

#[test]
fn sigint_flushes_log_and_finalises_video() {
    interrupted_run_keeps_outputs("-INT");
}

#[test]
fn sigterm_flushes_log_and_finalises_video() {
    interrupted_run_keeps_outputs("-TERM");
}

#[test]
fn sighup_flushes_log_and_finalises_video() {
    interrupted_run_keeps_outputs("-HUP");
}
