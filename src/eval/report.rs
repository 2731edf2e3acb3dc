//! The evaluation report: per tracker and sequence scores and speeds, their means, written as JSON and printed as
//! a table.

use super::metrics::{mean, mean_curve, SequenceScore};
use anyhow::{Context, Result};
use serde::Serialize;
use std::path::Path;

/// Where one tracker's time went on one sequence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Timing {
    /// Frames decoded and fed (the init frame and every later one).
    pub frames: usize,
    /// Calls of `update` (every frame after the init frame).
    pub updates: usize,
    pub decode_s: f64,
    pub init_s: f64,
    pub update_s: f64,
}

impl Timing {
    /// Tracker speed: updates per second of update time.
    pub fn tracker_fps(&self) -> f64 {
        self.updates as f64 / self.update_s
    }

    /// End-to-end speed: frames per second of decode + init + update time.
    pub fn e2e_fps(&self) -> f64 {
        self.frames as f64 / (self.decode_s + self.init_s + self.update_s)
    }

    fn add(&mut self, other: &Timing) {
        self.frames += other.frames;
        self.updates += other.updates;
        self.decode_s += other.decode_s;
        self.init_s += other.init_s;
        self.update_s += other.update_s;
    }
}

/// One tracker on one sequence.
#[derive(Clone, Debug)]
pub struct SequenceResult {
    pub sequence: String,
    /// Frames in the sequence.
    pub frames: usize,
    pub score: SequenceScore,
    /// `None` when scoring existing results.
    pub timing: Option<Timing>,
    /// Frames on which the tracker failed to init or update (its previous box was reported).
    pub tracker_errors: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct SequenceEntry {
    pub sequence: String,
    pub frames: usize,
    /// Frames with a valid ground-truth box.
    pub scored_frames: usize,
    pub auc: f64,
    pub precision: f64,
    pub norm_precision: f64,
    pub tracker_fps: Option<f64>,
    pub e2e_fps: Option<f64>,
    pub tracker_errors: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct MeanScores {
    /// Sequences scored.
    pub sequences: usize,
    /// Frames scored, all sequences together.
    pub scored_frames: usize,
    /// Means over sequences (every sequence weighs the same).
    pub auc: f64,
    pub precision: f64,
    pub norm_precision: f64,
    /// Speeds over all frames of all sequences (total frames / total time), so long sequences weigh more.
    pub tracker_fps: Option<f64>,
    pub e2e_fps: Option<f64>,
}

/// Mean curves over sequences, for the plots.
#[derive(Clone, Debug, Serialize)]
pub struct Curves {
    /// Success rate at IoU thresholds 0, 0.05, ..., 1.
    pub success: Vec<f64>,
    /// Precision at centre-error thresholds 0, 1, ..., 50 px.
    pub precision: Vec<f64>,
    /// Normalised precision at thresholds 0, 0.01, ..., 0.5.
    pub norm_precision: Vec<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TrackerReport {
    pub tracker: String,
    pub mean: MeanScores,
    pub sequences: Vec<SequenceEntry>,
    pub curves: Curves,
}

#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    pub sequence: String,
    /// The tracker whose results could not be scored; `None` when the sequence itself failed.
    pub tracker: Option<String>,
    pub error: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// `eval` or `score`.
    pub command: String,
    pub dataset: String,
    /// Seconds since the Unix epoch.
    pub created_unix: u64,
    pub definitions: Definitions,
    pub trackers: Vec<TrackerReport>,
    pub failures: Vec<Failure>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Definitions {
    pub auc: &'static str,
    pub precision: &'static str,
    pub norm_precision: &'static str,
    pub tracker_fps: &'static str,
    pub e2e_fps: &'static str,
}

pub const DEFINITIONS: Definitions = Definitions {
    auc: "OTB one-pass success AUC: mean over t = 0, 0.05, ..., 1 of the share of frames with IoU > t; every frame with a valid ground-truth box counts, the first included",
    precision: "share of frames whose centre error is <= 20 px",
    norm_precision: "LaSOT/TrackingNet normalised precision: centre offsets divided by the ground-truth width/height, mean over t = 0, 0.01, ..., 0.5 of the share of frames with normalised error <= t",
    tracker_fps: "update calls per second of update time (decode and init excluded)",
    e2e_fps: "frames per second of decode + init + update time (frames decoded once per call and shared by all trackers; each tracker is charged the full decode time)",
};

impl TrackerReport {
    pub fn new(tracker: &str, results: &[SequenceResult]) -> Self {
        let sequences = results
            .iter()
            .map(|r| SequenceEntry {
                sequence: r.sequence.clone(),
                frames: r.frames,
                scored_frames: r.score.frames,
                auc: r.score.auc,
                precision: r.score.precision,
                norm_precision: r.score.norm_precision,
                tracker_fps: r.timing.map(|t| t.tracker_fps()),
                e2e_fps: r.timing.map(|t| t.e2e_fps()),
                tracker_errors: r.tracker_errors,
            })
            .collect::<Vec<_>>();
        let timed: Vec<Timing> = results.iter().filter_map(|r| r.timing).collect();
        let total = (!timed.is_empty()).then(|| {
            let mut total = Timing::default();
            timed.iter().for_each(|t| total.add(t));
            total
        });
        let field =
            |f: fn(&SequenceEntry) -> f64| mean(&sequences.iter().map(f).collect::<Vec<_>>());
        Self {
            tracker: tracker.to_string(),
            mean: MeanScores {
                sequences: results.len(),
                scored_frames: results.iter().map(|r| r.score.frames).sum(),
                auc: field(|s| s.auc),
                precision: field(|s| s.precision),
                norm_precision: field(|s| s.norm_precision),
                tracker_fps: total.map(|t| t.tracker_fps()),
                e2e_fps: total.map(|t| t.e2e_fps()),
            },
            sequences,
            curves: Curves {
                success: mean_curve(results.iter().map(|r| r.score.success.as_slice())),
                precision: mean_curve(results.iter().map(|r| r.score.precision_curve.as_slice())),
                norm_precision: mean_curve(results.iter().map(|r| r.score.norm_curve.as_slice())),
            },
        }
    }
}

impl Report {
    pub fn write(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create folder {}", dir.display()))?;
        }
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write report {}", path.display()))
    }

    /// A fixed-width summary table, one row per tracker.
    pub fn table(&self) -> String {
        let fps = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
        let mut out = format!(
            "{:<12} {:>5} {:>7} {:>9} {:>9} {:>11} {:>8}\n",
            "tracker", "seqs", "AUC", "prec@20", "norm prec", "tracker fps", "e2e fps"
        );
        for t in &self.trackers {
            let m = &t.mean;
            out += &format!(
                "{:<12} {:>5} {:>7.3} {:>9.3} {:>9.3} {:>11} {:>8}\n",
                t.tracker,
                m.sequences,
                m.auc,
                m.precision,
                m.norm_precision,
                fps(m.tracker_fps),
                fps(m.e2e_fps)
            );
        }
        out
    }
}

pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
