//! Faults users meet that must end a run promptly with a clear message, never hang, crash or destroy a file:
//! outputs that are inputs, a file another run writes, a full disk, an unreachable display, a closed pipe, signals
//! during `eval`.

mod common;

use common::*;
use siamtrack::tracklog::{read_records, LogFormat};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

#[test]
fn outputs_never_overwrite_inputs_or_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let (video, truth) = generated_clip(dir.path(), "clip.mp4", small_spec(5, 1));
    let (truth_text, video_bytes) = (
        std::fs::read_to_string(&truth).unwrap(),
        std::fs::read(&video).unwrap(),
    );
    let link = dir.path().join("link.mp4");
    std::os::unix::fs::symlink(&video, &link).unwrap();
    let other = dir.path().join("x.mp4");
    let base = ["track", s(&video), "--init-gt", s(&truth), "--no-display"];
    for (extra, message) in [
        (vec!["--log", s(&truth)], "the log"),
        (vec!["--out", s(&video)], "the video"),
        (vec!["--out", s(&link)], "the video"),
        (
            vec!["--log", s(&other), "--format", "csv", "--out", s(&other)],
            "the two would overwrite each other",
        ),
    ] {
        let out = run(&[&base[..], &extra[..]].concat());
        assert_fails(&out, 1, message);
        assert!(stderr(&out).contains("choose another file"));
    }
    assert_fails(
        &run(&[&base[..], &["--log", s(&truth)]].concat()),
        1,
        &format!(
            "is the ground truth {}: writing it would destroy an input",
            s(&truth)
        ),
    );
    assert_eq!(std::fs::read_to_string(&truth).unwrap(), truth_text);
    assert_eq!(std::fs::read(&video).unwrap(), video_bytes);
    assert!(!other.exists(), "nothing written");
}

#[test]
fn a_log_another_run_writes_is_refused_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (video, truth) = generated_clip(dir.path(), "clip.mp4", small_spec(5, 1));
    let log = dir.path().join("log.csv");
    std::fs::write(&log, "the other run's rows\n").unwrap();
    // Another run holds the file: this process stands in for it.
    let held = std::fs::File::open(&log).unwrap();
    held.lock().unwrap();
    let out = run(&[
        "track",
        s(&video),
        "--init-gt",
        s(&truth),
        "--no-display",
        "--log",
        s(&log),
    ]);
    assert_fails(&out, 1, "is being written by another run");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "the other run's rows\n"
    );
    held.unlock().unwrap();
    assert!(run(&[
        "track",
        s(&video),
        "--init-gt",
        s(&truth),
        "--no-display",
        "--log",
        s(&log)
    ])
    .status
    .success());
}

/// A tmpfs of 200 KiB, nearly full, for the duration of a test; `None` (and a note) when mounting is not allowed.
struct FullDisk {
    dir: tempfile::TempDir,
}

impl FullDisk {
    fn mount() -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=200k", "tmpfs", s(dir.path())])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !mounted {
            eprintln!(
                "skipped: a small tmpfs cannot be mounted here (the full-disk tests need root)"
            );
            return None;
        }
        std::fs::write(dir.path().join("fill"), vec![0u8; 196 * 1024]).unwrap();
        Some(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for FullDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

#[test]
fn a_full_disk_ends_the_run_at_once_with_valid_outputs() {
    let Some(disk) = FullDisk::mount() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (video, truth) = generated_clip(dir.path(), "clip.mp4", small_spec(200, 3));
    let log = disk.path().join("log.jsonl");
    let started = Instant::now();
    let out = run(&[
        "track",
        s(&video),
        "--init-gt",
        s(&truth),
        "--no-display",
        "--log",
        s(&log),
    ]);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "ended promptly"
    );
    assert_fails(
        &out,
        1,
        &format!("cannot write log {}: No space left on device", s(&log)),
    );
    // Every row written is whole: the log reads back, frames 0, 1, ... in order.
    let rows = read_records(&log, LogFormat::Jsonl).unwrap();
    assert!(!rows.is_empty() && rows.len() < 200, "{} rows", rows.len());
    assert!(rows.iter().enumerate().all(|(i, r)| r.frame == i as u64));
    std::fs::remove_file(&log).unwrap();

    // An annotated video that cannot be finished is an error, not a file that does not play.
    let annotated = disk.path().join("out.mp4");
    let kept = dir.path().join("kept.csv");
    let out = run(&[
        "track",
        s(&video),
        "--init-gt",
        s(&truth),
        "--no-display",
        "--out",
        s(&annotated),
        "--log",
        s(&kept),
    ]);
    assert_fails(&out, 1, "could not be finalised and will not play");
    assert_eq!(
        read_records(&kept, LogFormat::Csv).unwrap().len(),
        200,
        "the log on another disk is whole"
    );
}

#[test]
fn an_unreachable_display_means_headless_unless_a_window_is_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let (video, truth) = generated_clip(dir.path(), "clip.mp4", small_spec(5, 1));
    let log = dir.path().join("log.csv");
    let track = |extra: &[&str]| {
        let args = [
            &["track", s(&video), "--init-gt", s(&truth), "--log", s(&log)][..],
            extra,
        ]
        .concat();
        siamtrack()
            .args(&args)
            .env("DISPLAY", ":99")
            .env_remove("WAYLAND_DISPLAY")
            .output()
            .unwrap()
    };
    let headless = track(&[]);
    assert!(headless.status.success(), "{}", stderr(&headless));
    assert!(stderr(&headless)
        .contains("warning: the display :99 cannot be reached; tracking without a window"));
    assert_eq!(read_records(&log, LogFormat::Csv).unwrap().len(), 5);
    assert_fails(
        &track(&["--display"]),
        1,
        "cannot open a window: the display :99 cannot be reached",
    );
    let select = siamtrack()
        .args(["track", s(&video), "--select", "--log", s(&log)])
        .env("DISPLAY", ":99")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    assert_fails(
        &select,
        1,
        "cannot open a window: the display :99 cannot be reached",
    );
}

#[test]
fn a_closed_pipe_ends_quietly_with_the_log_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (video, truth) = generated_clip(dir.path(), "clip.mp4", small_spec(30, 1));
    let log = dir.path().join("log.csv");
    let mut child = siamtrack()
        .args([
            "track",
            s(&video),
            "--init-gt",
            s(&truth),
            "--no-display",
            "--log",
            s(&log),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // as `siamtrack track ... | true`
    let out = child.wait_with_output().unwrap();
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    // The summary comes last: the broken pipe ends the process (SIGPIPE, as for any Unix tool) after the log.
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{:?}", out.status);
    assert_eq!(read_records(&log, LogFormat::Csv).unwrap().len(), 30);
}

#[test]
fn too_many_threads_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (video, truth) = generated_clip(dir.path(), "clip.mp4", small_spec(3, 1));
    for threads in ["100000", "99999999999"] {
        let out = run(&[
            "track",
            s(&video),
            "--init-gt",
            s(&truth),
            "--no-display",
            "--threads",
            threads,
        ]);
        assert_fails(&out, 1, &format!("--threads {threads}: at most"));
    }
}

/// A dataset of `count` generated sequences of `frames` frames.
fn dataset(dir: &Path, count: usize, frames: usize) -> Vec<String> {
    let names: Vec<String> = (0..count).map(|k| format!("seq{k}")).collect();
    for (k, name) in names.iter().enumerate() {
        generated_clip(dir, name, small_spec(frames, 40 + k as u64));
    }
    std::fs::write(dir.join("list.txt"), names.join("\n") + "\n").unwrap();
    names
}

/// Starts `eval` on a dataset long enough to be interrupted, waits for its first result file, and sends `signals`
/// (one after the other, quickly).
fn interrupted_eval(signals: &[&str]) -> (Output, tempfile::TempDir, usize) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let names = dataset(&data, 8, 120);
    let results = dir.path().join("results");
    let child = siamtrack()
        .args(["eval", s(&data), "--results-dir", s(&results)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let first = results.join("siamtrack").join("seq0.txt");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !first.exists() {
        assert!(Instant::now() < deadline, "no sequence finished");
        std::thread::sleep(Duration::from_millis(20));
    }
    for signal in signals {
        let kill = std::process::Command::new("kill")
            .args([*signal, &child.id().to_string()])
            .status();
        assert!(kill.unwrap().success());
        std::thread::sleep(Duration::from_millis(10));
    }
    (child.wait_with_output().unwrap(), dir, names.len())
}

#[test]
fn eval_stops_on_a_signal_and_keeps_the_finished_sequences() {
    let (out, dir, count) = interrupted_eval(&["-TERM"]);
    assert_fails(
        &out,
        130,
        "interrupted: the report and the result files hold the",
    );
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("results/report.json")).unwrap(),
    )
    .unwrap();
    let scored = report["trackers"][0]["sequences"].as_array().unwrap().len();
    let files = std::fs::read_dir(dir.path().join("results/siamtrack"))
        .unwrap()
        .count();
    assert!(scored >= 1 && scored < count, "{scored} of {count} scored");
    assert_eq!(
        files, scored,
        "a result file for each finished sequence, none for the one cut short"
    );
}

#[test]
fn a_second_signal_ends_eval_at_once_without_a_crash() {
    let (out, _dir, _) = interrupted_eval(&["-INT", "-INT"]);
    assert_eq!(
        out.status.code(),
        Some(130),
        "{:?}: {}",
        out.status,
        stderr(&out)
    );
    assert!(!stderr(&out).contains("panicked"));
}

#[test]
fn a_box_without_an_input_is_an_error_not_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    let out = siamtrack()
        .args(["track", "--bbox", "1,2,3,4"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_fails(&out, 1, "--bbox, --init-gt and --select need an input");
    assert!(
        !dir.path().join("out").exists(),
        "the sample's outputs are not written"
    );
}

#[test]
fn a_video_that_is_not_one_fails_with_siamtracks_message_alone() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        ("empty.mp4", &b""[..]),
        ("garbage.mp4", &b"not a video"[..]),
    ] {
        let video = dir.path().join(name);
        std::fs::write(&video, bytes).unwrap();
        let out = run(&["track", s(&video), "--bbox", "1,1,10,10", "--no-display"]);
        assert_fails(&out, 1, &format!("cannot open {} as a video", s(&video)));
        // The libraries' own warnings (OpenCV, FFmpeg, GStreamer) stay out of the way without --verbose.
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    }
}

#[test]
fn frames_that_change_size_are_all_logged_and_in_the_video() {
    let dir = tempfile::tempdir().unwrap();
    let (folder, truth) = generated_clip(dir.path(), "seq", small_spec(8, 2));
    // The last four frames at half the size.
    let frames = folder.join("img");
    for k in 5..=8 {
        let path = frames.join(format!("{k:04}.jpg"));
        let image = opencv::imgcodecs::imread(s(&path), opencv::imgcodecs::IMREAD_COLOR).unwrap();
        let mut half = opencv::core::Mat::default();
        opencv::imgproc::resize(
            &image,
            &mut half,
            opencv::core::Size::new(160, 90),
            0.0,
            0.0,
            1,
        )
        .unwrap();
        opencv::imgcodecs::imwrite(s(&path), &half, &opencv::core::Vector::new()).unwrap();
    }
    let (log, video) = (dir.path().join("log.csv"), dir.path().join("out.mp4"));
    let out = run(&[
        "track",
        s(&folder),
        "--init-gt",
        s(&truth),
        "--no-display",
        "--log",
        s(&log),
        "--out",
        s(&video),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("warning: the frames change size (320x180 to 160x90)"));
    assert_eq!(read_records(&log, LogFormat::Csv).unwrap().len(), 8);
    let capture =
        opencv::videoio::VideoCapture::from_file(s(&video), opencv::videoio::CAP_ANY).unwrap();
    use opencv::prelude::*;
    assert_eq!(
        capture.get(opencv::videoio::CAP_PROP_FRAME_COUNT).unwrap() as usize,
        8
    );
}

#[test]
fn score_scores_the_sequences_that_have_results() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let names = dataset(&data, 3, 10);
    let (ours, theirs) = (dir.path().join("ours"), dir.path().join("theirs"));
    for folder in [&ours, &theirs] {
        std::fs::create_dir_all(folder).unwrap();
    }
    let truth =
        |name: &str| std::fs::read_to_string(data.join(name).join("groundtruth_rect.txt")).unwrap();
    // Both folders hold seq0; only ours holds seq1; nobody holds seq2.
    for (folder, name) in [(&ours, &names[0]), (&theirs, &names[0]), (&ours, &names[1])] {
        std::fs::write(folder.join(format!("{name}.txt")), truth(name)).unwrap();
    }
    let report = dir.path().join("report.json");
    let out = run(&["score", s(&data), s(&ours), "--report", s(&report)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out)
        .contains("note: 1 sequence(s) of the dataset have no result file in any folder"));
    let out = run(&[
        "score",
        s(&data),
        s(&ours),
        s(&theirs),
        "--report",
        s(&report),
    ]);
    assert_fails(
        &out,
        1,
        &format!(
            "sequence seq1: no theirs result file {}",
            s(&theirs.join("seq1.txt"))
        ),
    );
    assert!(!stderr(&out).contains("ground truth"), "{}", stderr(&out));
}

#[test]
fn values_that_make_no_sense_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["synth", s(&dir.path().join("w.mp4")), "--width", "0"]);
    assert_fails(
        &out,
        1,
        "a clip's width and height must be 64 to 8192 pixels, got 0x270",
    );
    let (clip, clip_truth) = generated_clip(dir.path(), "c.mp4", small_spec(3, 1));
    let png = dir.path().join("first.png");
    let out = run(&[
        "track",
        s(&clip),
        "--init-gt",
        s(&clip_truth),
        "--no-display",
        "--out",
        s(&png),
    ]);
    assert_fails(&out, 1, "the annotated video needs a video file name");
    assert!(!png.exists());
    let out = run(&["synth", s(&dir.path().join("w.mp4")), "--width", "0"]);
    assert_fails(
        &out,
        1,
        "a clip's width and height must be 64 to 8192 pixels, got 0x270",
    );
    let (video, truth) = generated_clip(dir.path(), "clip.mp4", small_spec(5, 1));
    let out = run(&[
        "bench",
        s(&video),
        "--init-gt",
        s(&truth),
        "--max-frames",
        "0",
    ]);
    assert_fails(
        &out,
        1,
        "--max-frames 0 leaves 0 frame(s) after the init frame",
    );
    let out = run(&[
        "track",
        s(&video),
        "--bbox",
        "10,10,40,40",
        "--bbox",
        "10,10,40,40",
        "--no-display",
    ]);
    assert!(out.status.success());
    assert!(stderr(&out).contains("warning: targets 1 and 2 start from the same box 10,10,40,40"));
}

#[test]
fn a_pipeline_with_a_typo_fails_at_once() {
    if std::process::Command::new("gst-inspect-1.0")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: GStreamer's tools (gstreamer1.0-tools) are not installed");
        return;
    }
    let started = Instant::now();
    let out = run(&[
        "track",
        "videotestsrcc ! videoconvert ! appsink",
        "--bbox",
        "1,1,10,10",
        "--no-display",
    ]);
    assert_fails(&out, 1, "GStreamer has no element \"videotestsrcc\"");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn every_flag_of_every_command_has_help() {
    for command in ["track", "synth", "eval", "score", "bench"] {
        let out = run(&[command, "--help"]);
        let help = String::from_utf8_lossy(&out.stdout).into_owned();
        let lines: Vec<&str> = help.lines().collect();
        let indent = |l: &str| l.len() - l.trim_start().len();
        for (k, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start();
            // A flag (`--name` or `-h,`), not an item of a list of possible values (`- csv: ...`).
            if !(trimmed.starts_with('-')
                && trimmed[1..].starts_with(|c: char| c == '-' || c.is_alphabetic()))
            {
                continue;
            }
            // The text beside the flag (after two spaces) and on the more indented lines below it, without the
            // bracketed defaults and value lists.
            let mut text = trimmed
                .split_once("  ")
                .map_or("", |(_, rest)| rest)
                .to_string();
            for next in lines[k + 1..]
                .iter()
                .take_while(|n| !n.trim().is_empty() && indent(n) > indent(line))
            {
                text.push(' ');
                text.push_str(next.trim());
            }
            let mut words = String::new();
            let mut depth = 0;
            for c in text.chars() {
                match c {
                    '[' => depth += 1,
                    ']' => depth -= 1,
                    c if depth == 0 => words.push(c),
                    _ => {}
                }
            }
            assert!(
                words.chars().any(char::is_alphabetic),
                "siamtrack {command}: no help for {trimmed:?}"
            );
        }
    }
}

#[test]
fn the_summary_names_every_log_file_written() {
    let dir = tempfile::tempdir().unwrap();
    let (video, _) = generated_clip(dir.path(), "clip.mp4", small_spec(3, 1));
    let log = dir.path().join("multi.txt");
    let out = run(&[
        "track",
        s(&video),
        "--bbox",
        "10,10,40,40",
        "--bbox",
        "200,60,40,40",
        "--no-display",
        "--log",
        s(&log),
    ]);
    assert!(out.status.success());
    let summary = String::from_utf8_lossy(&out.stdout).into_owned();
    let (first, second) = (
        dir.path().join("multi.1.txt"),
        dir.path().join("multi.2.txt"),
    );
    assert!(
        summary.contains(&format!("log: {}, {} (Otb)", s(&first), s(&second))),
        "{summary}"
    );
    assert!(first.is_file() && second.is_file() && !log.exists());
}

#[test]
fn eval_never_writes_a_result_over_the_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    dataset(&data, 2, 6);
    let truth = data.join("seq0/groundtruth_rect.txt");
    let before = std::fs::read_to_string(&truth).unwrap();
    // A result file left as a link to the ground truth it was scored against.
    let results = dir.path().join("results");
    std::fs::create_dir_all(results.join("siamtrack")).unwrap();
    std::os::unix::fs::symlink(&truth, results.join("siamtrack/seq0.txt")).unwrap();
    let out = run(&["eval", s(&data), "--results-dir", s(&results)]);
    assert_fails(&out, 1, "writing it would destroy an input");
    assert_eq!(
        std::fs::read_to_string(&truth).unwrap(),
        before,
        "the ground truth is untouched"
    );
    assert!(
        results.join("siamtrack/seq1.txt").is_file(),
        "the other sequence is still evaluated"
    );
}

#[test]
fn a_stream_that_sends_nothing_ends_at_the_time_limit() {
    let started = Instant::now();
    let out = run(&[
        "track",
        "udp://127.0.0.1:9",
        "--bbox",
        "1,1,10,10",
        "--no-display",
    ]);
    assert_fails(&out, 1, "udp://127.0.0.1:9 gave no frame within 20 s");
    assert!(started.elapsed() < Duration::from_secs(40));
}
