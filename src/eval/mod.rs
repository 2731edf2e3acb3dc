//! Benchmarking: run trackers over a dataset (`eval`), score existing results (`score`), and time the stages of
//! siamtrack's tracker (`bench`).
//!
//! `eval` decodes every frame once and feeds it to each tracker in turn, so all trackers see identical frames.
//! A tracker that fails to initialise or update on a frame reports its last box (or the initial box) for it; the
//! other trackers carry on. A sequence that cannot be read (missing ground truth, frame/ground-truth count
//! mismatch, no frames, an undecodable frame) is reported as failed, naming it, and the others still run.

pub mod bench;
pub mod dataset;
pub mod metrics;
pub mod peers;
pub mod plot;
pub mod report;

use crate::paths::check_outputs;
use crate::tracklog::otb_line;
use anyhow::{bail, Context, Result};
use dataset::{read_results, sequence_names, Sequence};
use indicatif::{ProgressBar, ProgressStyle};
use opencv::imgcodecs;
use opencv::prelude::*;
use peers::{make_tracker, SingleTracker, TrackerKind};
use report::{
    Failure, FrameConfidence, Report, SequenceResult, Timing, TrackerReport, DEFINITIONS,
};
use siamtrack_core::EncoderOptions;
use siamtrack_core::ModelConfig;
use siamtrack_core::{BBox, TrackState};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

pub struct EvalOptions {
    pub dataset: PathBuf,
    pub trackers: Vec<TrackerKind>,
    /// Sequences to run, in order; `None`: `list.txt` or every sub-folder.
    pub sequences: Option<Vec<String>>,
    /// Result files go to `<results_dir>/<tracker>/<sequence>.txt`.
    pub results_dir: PathBuf,
    pub report: PathBuf,
    /// Folder of the plots.
    pub plots_dir: PathBuf,
    /// Model and encoder options; needed for `siamtrack`.
    pub model: Option<(ModelConfig, EncoderOptions)>,
    /// Measure the size estimate on its own: after each frame the box is moved to the truth's centre, its size kept.
    pub size_only: bool,
    pub progress: bool,
}

pub struct ScoreOptions {
    pub dataset: PathBuf,
    /// One folder of `<sequence>.txt` files per tracker, named by the folder.
    pub results: Vec<PathBuf>,
    pub sequences: Option<Vec<String>>,
    pub report: PathBuf,
    pub plots_dir: PathBuf,
}

/// What `eval` and `score` produced; `failures` > 0 means some sequence (or some tracker's results) failed.
pub struct Outcome {
    pub report: Report,
    pub plots: Vec<PathBuf>,
    /// A signal stopped `eval`: the report holds the sequences finished before it.
    pub interrupted: bool,
}

impl Outcome {
    pub fn failed(&self) -> bool {
        !self.report.failures.is_empty()
    }
}

fn progress_bar(len: usize, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:30} {pos}/{len} sequences [{elapsed} < {eta}] {msg}")
    {
        bar.set_style(style);
    }
    bar
}

/// One tracker's state over a sequence.
struct Runner {
    kind: TrackerKind,
    tracker: Box<dyn SingleTracker>,
    boxes: Vec<BBox>,
    /// Each frame's score and state, for a tracker that reports them (`None` for the given first frames).
    confidences: Vec<Option<(f32, TrackState)>>,
    last: BBox,
    live: bool,
    timing: Timing,
    errors: usize,
    first_error: Option<String>,
}

impl Runner {
    fn reset(&mut self, init: BBox) {
        self.boxes.clear();
        self.confidences.clear();
        self.last = init;
        self.live = false;
        self.timing = Timing::default();
        self.errors = 0;
        self.first_error = None;
    }

    fn fail(&mut self, frame: usize, error: anyhow::Error) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(format!("frame {frame}: {error:#}"));
        }
    }
}

/// Frames decoded ahead and then tracked by each tracker in turn. Interleaving trackers frame by frame made each
/// pay for the others' worker threads still spinning on the 2 cores (siamtrack's update rate fell by 10-30 % next to
/// CSRT and MIL); in chunks, each runs as it would alone, on the same decoded frames, in bounded memory.
const FRAMES_PER_CHUNK: usize = 32;

/// A signal stopped the run before the sequence was finished.
#[derive(Debug)]
struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// Runs every tracker over `seq`, frames decoded once and shared; stops between chunks of frames when `stop` is
/// raised ([`Interrupted`]).
/// With `size_only`, each box found is moved to the truth's centre (where the frame has one), the tracker with it.
fn run_sequence(
    seq: &Sequence,
    runners: &mut [Runner],
    size_only: bool,
    stop: &AtomicBool,
) -> Result<()> {
    let init = seq.init_frame().context("no valid ground-truth box")?;
    let init_box = seq.truth[init].expect("init frame has a box");
    runners.iter_mut().for_each(|r| r.reset(init_box));
    // No box to start from before `init`: the initial box stands in (these frames are not scored).
    for r in runners.iter_mut() {
        r.boxes.extend(std::iter::repeat_n(init_box, init));
        r.confidences.extend(std::iter::repeat_n(None, init));
    }
    let tracked: Vec<(usize, &std::path::PathBuf)> =
        seq.frames.iter().enumerate().skip(init).collect();
    for chunk in tracked.chunks(FRAMES_PER_CHUNK) {
        if stop.load(Ordering::SeqCst) {
            return Err(Interrupted.into());
        }
        let mut images = Vec::with_capacity(chunk.len());
        for &(i, path) in chunk {
            let started = Instant::now();
            let image = imgcodecs::imread(path, imgcodecs::IMREAD_COLOR)?;
            if image.empty() {
                bail!("cannot decode frame {i} ({})", path.display());
            }
            images.push((i, image, started.elapsed().as_secs_f64()));
        }
        for r in runners.iter_mut() {
            for (i, image, decode_s) in &images {
                r.timing.frames += 1;
                r.timing.decode_s += decode_s;
                let started = Instant::now();
                if *i == init {
                    match r.tracker.init(image, init_box) {
                        Ok(()) => r.live = true,
                        Err(e) => r.fail(*i, e),
                    }
                    r.timing.init_s += started.elapsed().as_secs_f64();
                } else if r.live {
                    let result = r.tracker.update(image);
                    r.timing.update_s += started.elapsed().as_secs_f64();
                    r.timing.updates += 1;
                    let result = match (result, seq.truth[*i], size_only) {
                        (Ok(Some(b)), Some(truth), true) => {
                            let (cx, cy) = truth.center();
                            r.tracker
                                .recentre((cx, cy))
                                .map(|_| Some(BBox::from_center(cx, cy, b.w, b.h)))
                        }
                        (result, ..) => result,
                    };
                    match result {
                        Ok(Some(b)) => r.last = b,
                        Ok(None) => {}
                        Err(e) => r.fail(*i, e),
                    }
                }
                let last = r.last;
                r.boxes.push(last);
                let confidence = (*i != init && r.live)
                    .then(|| r.tracker.confidence())
                    .flatten();
                r.confidences.push(confidence);
            }
        }
    }
    Ok(())
}

fn write_results(path: &Path, boxes: &[BBox]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create folder {}", dir.display()))?;
    }
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?,
    );
    for b in boxes {
        writeln!(out, "{}", otb_line(b))?;
    }
    out.flush()?;
    Ok(())
}

fn dataset_title(dataset: &Path) -> String {
    dataset
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| dataset.display().to_string())
}

fn finish(
    command: &str,
    dataset: &Path,
    trackers: Vec<TrackerReport>,
    failures: Vec<Failure>,
    report_path: &Path,
    plots_dir: &Path,
) -> Result<Outcome> {
    let report = Report {
        command: command.to_string(),
        dataset: dataset.display().to_string(),
        created_unix: report::now_unix(),
        definitions: DEFINITIONS,
        trackers,
        failures,
    };
    report.write(report_path)?;
    let plots = if report.trackers.iter().any(|t| t.mean.sequences > 0) {
        plot::write_plots(plots_dir, &report.trackers, &dataset_title(dataset))?
    } else {
        Vec::new()
    };
    Ok(Outcome {
        report,
        plots,
        interrupted: false,
    })
}

/// Runs the trackers over the dataset, writes result files, the report and the plots. When `stop` is raised it
/// stops within a chunk of frames; the sequences finished before keep their result files, and the report and plots
/// cover them.
pub fn run_eval(opts: &EvalOptions, stop: &AtomicBool) -> Result<Outcome> {
    let names = sequence_names(&opts.dataset, opts.sequences.as_deref())?;
    if let Some(kind) = opts
        .trackers
        .iter()
        .find(|&&k| opts.size_only && k != TrackerKind::Siamtrack)
    {
        bail!(
            "--size-only measures siamtrack's size estimate: {} cannot be moved to the truth's centre",
            kind.name()
        );
    }
    let mut runners = opts
        .trackers
        .iter()
        .map(|&kind| {
            Ok(Runner {
                kind,
                tracker: make_tracker(kind, opts.model.as_ref())?,
                boxes: Vec::new(),
                confidences: Vec::new(),
                last: BBox::new(0.0, 0.0, 0.0, 0.0),
                live: false,
                timing: Timing::default(),
                errors: 0,
                first_error: None,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut results: Vec<Vec<SequenceResult>> = vec![Vec::new(); runners.len()];
    let mut failures = Vec::new();
    let bar = progress_bar(names.len(), opts.progress);
    let mut interrupted = false;
    for name in &names {
        if stop.load(Ordering::SeqCst) {
            interrupted = true;
            break;
        }
        bar.set_message(name.clone());
        let outcome = Sequence::load_named(&opts.dataset, name).and_then(|targets| {
            for seq in &targets {
                run_sequence(seq, &mut runners, opts.size_only, stop)
                    .with_context(|| format!("sequence {}", seq.name))?;
                record_sequence(seq, &runners, &mut results, &opts.results_dir, &bar)?;
            }
            Ok(())
        });
        if let Err(e) = &outcome {
            if e.downcast_ref::<Interrupted>().is_some() {
                interrupted = true;
                break;
            }
        }
        if let Err(e) = outcome {
            bar.suspend(|| eprintln!("error: {e:#}"));
            failures.push(Failure {
                sequence: name.clone(),
                tracker: None,
                error: format!("{e:#}"),
            });
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let trackers = runners
        .iter()
        .zip(&results)
        .map(|(r, res)| TrackerReport::new(r.kind.name(), res))
        .collect();
    let mut outcome = finish(
        "eval",
        &opts.dataset,
        trackers,
        failures,
        &opts.report,
        &opts.plots_dir,
    )?;
    outcome.interrupted = interrupted;
    Ok(outcome)
}

/// The files a sequence is read from: its frames and the ground-truth files beside them (a result file must be
/// none of them).
fn sequence_files(seq: &Sequence) -> Vec<(&'static str, PathBuf)> {
    let mut files: Vec<(&str, PathBuf)> = seq.frames.iter().map(|f| ("frame", f.clone())).collect();
    let folders = seq
        .frames
        .first()
        .and_then(|f| f.parent())
        .into_iter()
        .flat_map(|d| [Some(d), d.parent()]);
    for folder in folders.flatten() {
        let truths = std::fs::read_dir(folder)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path());
        files.extend(
            truths
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("groundtruth"))
                })
                .map(|p| ("ground truth", p)),
        );
    }
    files
}

/// Writes each runner's result file for `seq` (just run) and scores it.
fn record_sequence(
    seq: &Sequence,
    runners: &[Runner],
    results: &mut [Vec<SequenceResult>],
    results_dir: &Path,
    bar: &ProgressBar,
) -> Result<()> {
    let name = &seq.name;
    for (r, out) in runners.iter().zip(results.iter_mut()) {
        if let Some(error) = &r.first_error {
            bar.suspend(|| {
                eprintln!(
                    "warning: {} on {name}: {} frame(s) failed, the previous box was reported; first: {error}",
                    r.kind.name(),
                    r.errors
                )
            });
        }
        let file = results_dir.join(r.kind.name()).join(format!("{name}.txt"));
        check_outputs(&sequence_files(seq), &[("result file", file.clone())])?;
        write_results(&file, &r.boxes)?;
        let pred: Vec<Option<BBox>> = r.boxes.iter().copied().map(Some).collect();
        let score =
            metrics::score(&pred, &seq.truth).with_context(|| format!("sequence {name}"))?;
        out.push(SequenceResult {
            sequence: name.clone(),
            frames: seq.frames.len(),
            score,
            timing: Some(r.timing),
            tracker_errors: r.errors,
            confidences: r
                .confidences
                .iter()
                .zip(&r.boxes)
                .zip(&seq.truth)
                .filter_map(|((c, b), t)| {
                    let ((score, state), truth) = ((*c)?, (*t)?);
                    let (cx, cy) = b.center();
                    Some(FrameConfidence {
                        score,
                        state,
                        good: b.iou(&truth) > 0.5,
                        on_target: (truth.x..=truth.x + truth.w).contains(&cx)
                            && (truth.y..=truth.y + truth.h).contains(&cy),
                    })
                })
                .collect(),
        });
    }
    Ok(())
}

/// Scores existing result files against the dataset's ground truth, writes the report and the plots.
pub fn run_score(opts: &ScoreOptions) -> Result<Outcome> {
    let names = sequence_names(&opts.dataset, opts.sequences.as_deref())?;
    if opts.results.is_empty() {
        bail!("no results folder given");
    }
    let mut trackers: Vec<String> = Vec::new();
    for dir in &opts.results {
        if !dir.is_dir() {
            bail!("results folder {} not found", dir.display());
        }
        let name = dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| dir.display().to_string());
        trackers.push(if trackers.contains(&name) {
            dir.display().to_string()
        } else {
            name
        });
    }
    let mut results: Vec<Vec<SequenceResult>> = vec![Vec::new(); trackers.len()];
    let mut failures = Vec::new();
    let mut unscored = Vec::new();
    for name in &names {
        let targets = match Sequence::load_named(&opts.dataset, name) {
            Ok(targets) => targets,
            Err(e) => {
                eprintln!("error: {e:#}");
                failures.push(Failure {
                    sequence: name.clone(),
                    tracker: None,
                    error: format!("{e:#}"),
                });
                continue;
            }
        };
        for seq in &targets {
            let name = &seq.name;
            let files: Vec<PathBuf> = opts
                .results
                .iter()
                .map(|d| d.join(format!("{name}.txt")))
                .collect();
            // A sequence no folder has results for is not part of this scoring (a run on some sequences).
            if !files.iter().any(|f| f.exists()) {
                unscored.push(name.clone());
                continue;
            }
            for ((tracker, file), out) in trackers.iter().zip(&files).zip(results.iter_mut()) {
                if !file.exists() {
                    let error = format!(
                        "sequence {name}: no {tracker} result file {}",
                        file.display()
                    );
                    eprintln!("error: {error}");
                    failures.push(Failure {
                        sequence: name.clone(),
                        tracker: Some(tracker.clone()),
                        error,
                    });
                    continue;
                }
                let scored = read_results(file)
                    .and_then(|pred| metrics::score(&pred, &seq.truth))
                    .with_context(|| {
                        format!("sequence {name}, {tracker} results {}", file.display())
                    });
                match scored {
                    Ok(score) => out.push(SequenceResult {
                        sequence: name.clone(),
                        frames: seq.frames.len(),
                        score,
                        timing: None,
                        tracker_errors: 0,
                        confidences: Vec::new(),
                    }),
                    Err(e) => {
                        eprintln!("error: {e:#}");
                        failures.push(Failure {
                            sequence: name.clone(),
                            tracker: Some(tracker.clone()),
                            error: format!("{e:#}"),
                        });
                    }
                }
            }
        }
    }
    if !unscored.is_empty() {
        if results.iter().all(Vec::is_empty) && failures.is_empty() {
            bail!(
                "none of the {} sequence(s) of {} has a result file in the folders given",
                unscored.len(),
                opts.dataset.display()
            );
        }
        eprintln!(
            "note: {} sequence(s) of the dataset have no result file in any folder and are not scored: {}",
            unscored.len(),
            unscored.join(", ")
        );
    }
    let reports = trackers
        .iter()
        .zip(&results)
        .map(|(t, res)| TrackerReport::new(t, res))
        .collect();
    finish(
        "score",
        &opts.dataset,
        reports,
        failures,
        &opts.report,
        &opts.plots_dir,
    )
}
