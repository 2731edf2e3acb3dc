//! The evaluation report: per tracker and sequence scores and speeds, their means, written as JSON and printed as
//! a table.

use super::metrics::{auroc, mean, mean_curve, SequenceScore, SizeErrors};
use anyhow::{Context, Result};
use serde::Serialize;
use siamtrack_core::TrackState;
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
    /// Each tracked frame's score and state, with whether its box was right (IoU > 0.5); empty for trackers
    /// without a confidence, or when scoring result files.
    pub confidences: Vec<FrameConfidence>,
}

/// A tracked frame's confidence and whether the box was right.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FrameConfidence {
    pub score: f32,
    pub state: TrackState,
    /// IoU with the ground truth above 0.5.
    pub good: bool,
    /// The box's centre inside the ground-truth box: the target is where the box is, whatever its size.
    pub on_target: bool,
}

/// How well the score and the states say whether the box is right, over every tracked frame with a ground-truth
/// box (the first frames, given, excluded), all sequences pooled.
#[derive(Clone, Debug, Serialize)]
pub struct ConfidenceStats {
    pub frames: usize,
    /// Area under the ROC curve of the score for IoU > 0.5.
    pub auroc: f64,
    /// P(IoU > 0.5 | tracking): how often a `tracking` box is right.
    pub good_given_tracking: f64,
    /// P(tracking | IoU > 0.5): how many right boxes are called `tracking`.
    pub tracking_given_good: f64,
    /// P(IoU > 0.5 | uncertain) and P(IoU > 0.5 | lost).
    pub good_given_uncertain: f64,
    pub good_given_lost: f64,
    /// Shares of the frames in each state.
    pub tracking: f64,
    pub uncertain: f64,
    pub lost: f64,
    /// The same for whether the target is in the box (the box's centre inside the ground-truth box): the score's
    /// AUROC, P(on target | each state) and P(tracking | on target).
    pub on_target: OnTargetStats,
}

/// How well the score and the states say whether the target is in the box, whatever the box's size.
#[derive(Clone, Debug, Serialize)]
pub struct OnTargetStats {
    pub auroc: f64,
    pub given_tracking: f64,
    pub given_uncertain: f64,
    pub given_lost: f64,
    pub tracking_given_on_target: f64,
    /// P(on target | IoU <= 0.5): how many wrong boxes are wrong in size, not in place.
    pub given_wrong: f64,
}

impl ConfidenceStats {
    fn of(frames: &[FrameConfidence]) -> Option<Self> {
        if frames.is_empty() {
            return None;
        }
        let share = |of: &dyn Fn(&FrameConfidence) -> bool,
                     given: &dyn Fn(&FrameConfidence) -> bool| {
            let given: Vec<_> = frames.iter().filter(|f| given(f)).collect();
            given.iter().filter(|f| of(f)).count() as f64 / given.len() as f64
        };
        let in_state = |state: TrackState| move |f: &FrameConfidence| f.state == state;
        let scores: Vec<f64> = frames.iter().map(|f| f.score as f64).collect();
        let good: Vec<bool> = frames.iter().map(|f| f.good).collect();
        let on_target: Vec<bool> = frames.iter().map(|f| f.on_target).collect();
        Some(Self {
            frames: frames.len(),
            auroc: auroc(&scores, &good),
            good_given_tracking: share(&|f| f.good, &in_state(TrackState::Tracking)),
            tracking_given_good: share(&in_state(TrackState::Tracking), &|f| f.good),
            good_given_uncertain: share(&|f| f.good, &in_state(TrackState::Uncertain)),
            good_given_lost: share(&|f| f.good, &in_state(TrackState::Lost)),
            tracking: share(&in_state(TrackState::Tracking), &|_| true),
            uncertain: share(&in_state(TrackState::Uncertain), &|_| true),
            lost: share(&in_state(TrackState::Lost), &|_| true),
            on_target: OnTargetStats {
                auroc: auroc(&scores, &on_target),
                given_tracking: share(&|f| f.on_target, &in_state(TrackState::Tracking)),
                given_uncertain: share(&|f| f.on_target, &in_state(TrackState::Uncertain)),
                given_lost: share(&|f| f.on_target, &in_state(TrackState::Lost)),
                tracking_given_on_target: share(&in_state(TrackState::Tracking), &|f| f.on_target),
                given_wrong: share(&|f| f.on_target, &|f| !f.good),
            },
        })
    }
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
    pub success_75: f64,
    pub size: SizeErrors,
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
    pub success_75: f64,
    /// Mean over sequences of each sequence's median |log area ratio|.
    pub abs_log_area: f64,
    /// Mean over sequences of each sequence's median |log aspect error|.
    pub log_aspect: f64,
    /// Mean over sequences of the share of frames whose area is off by more than 1.5x.
    pub area_off: f64,
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
    /// For trackers that report a confidence (siamtrack in `eval`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<ConfidenceStats>,
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
                success_75: r.score.success_75,
                size: r.score.size,
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
                success_75: field(|s| s.success_75),
                abs_log_area: field(|s| s.size.log_area.abs()),
                log_aspect: field(|s| s.size.log_aspect),
                area_off: field(|s| s.size.area_off),
                tracker_fps: total.map(|t| t.tracker_fps()),
                e2e_fps: total.map(|t| t.e2e_fps()),
            },
            sequences,
            curves: Curves {
                success: mean_curve(results.iter().map(|r| r.score.success.as_slice())),
                precision: mean_curve(results.iter().map(|r| r.score.precision_curve.as_slice())),
                norm_precision: mean_curve(results.iter().map(|r| r.score.norm_curve.as_slice())),
            },
            confidence: ConfidenceStats::of(
                &results
                    .iter()
                    .flat_map(|r| r.confidences.clone())
                    .collect::<Vec<_>>(),
            ),
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
            "{:<12} {:>5} {:>7} {:>9} {:>9} {:>7} {:>11} {:>8}\n",
            "tracker", "seqs", "AUC", "prec@20", "norm prec", "S@0.75", "tracker fps", "e2e fps"
        );
        for t in &self.trackers {
            let m = &t.mean;
            out += &format!(
                "{:<12} {:>5} {:>7.3} {:>9.3} {:>9.3} {:>7.3} {:>11} {:>8}\n",
                t.tracker,
                m.sequences,
                m.auc,
                m.precision,
                m.norm_precision,
                m.success_75,
                fps(m.tracker_fps),
                fps(m.e2e_fps)
            );
        }
        for t in &self.trackers {
            let m = &t.mean;
            out += &format!(
                "{}: box size: median |log area ratio| {:.3}, |log aspect error| {:.3}, area off by > 1.5x on {:.1} % of frames\n",
                t.tracker,
                m.abs_log_area,
                m.log_aspect,
                100.0 * m.area_off
            );
            if let Some(c) = &t.confidence {
                out += &format!(
                    "{}: confidence: AUROC {:.3} for IoU > 0.5; P(IoU > 0.5 | tracking) {:.3}, P(tracking | IoU > 0.5) {:.3}; {:.1} % tracking, {:.1} % uncertain, {:.1} % lost\n",
                    t.tracker,
                    c.auroc,
                    c.good_given_tracking,
                    c.tracking_given_good,
                    100.0 * c.tracking,
                    100.0 * c.uncertain,
                    100.0 * c.lost
                );
                let o = &c.on_target;
                out += &format!(
                    "{}: target in the box (its centre inside the true box): AUROC {:.3}; P(in the box | tracking) {:.3}, | uncertain {:.3}, | lost {:.3}; P(tracking | in the box) {:.3}; P(in the box | IoU <= 0.5) {:.3}\n",
                    t.tracker,
                    o.auroc,
                    o.given_tracking,
                    o.given_uncertain,
                    o.given_lost,
                    o.tracking_given_on_target,
                    o.given_wrong
                );
            }
        }
        out
    }
}

pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_stats_pool_the_frames_by_state() {
        let frame = |score, state, good, on_target| FrameConfidence {
            score,
            state,
            good,
            on_target,
        };
        use TrackState::*;
        let frames = [
            frame(0.9, Tracking, true, true),
            frame(0.8, Tracking, false, true),
            frame(0.5, Uncertain, true, true),
            frame(0.4, Uncertain, false, true),
            frame(0.3, Uncertain, false, false),
            frame(0.1, Lost, false, false),
        ];
        let c = ConfidenceStats::of(&frames).unwrap();
        assert_eq!(c.frames, 6);
        assert_eq!(c.good_given_tracking, 0.5);
        assert_eq!(c.tracking_given_good, 0.5);
        assert_eq!(c.good_given_uncertain, 1.0 / 3.0);
        assert_eq!(c.good_given_lost, 0.0);
        assert_eq!((c.tracking, c.lost), (2.0 / 6.0, 1.0 / 6.0));
        // Good boxes score 0.9 and 0.5: above 3 of the 4 others and above all 4: AUROC 7 / 8.
        assert_eq!(c.auroc, 7.0 / 8.0);
        // On target: the four highest scores, so the score orders them perfectly.
        let o = &c.on_target;
        assert_eq!(o.auroc, 1.0);
        assert_eq!(
            (o.given_tracking, o.given_uncertain, o.given_lost),
            (1.0, 2.0 / 3.0, 0.0)
        );
        assert_eq!(o.tracking_given_on_target, 0.5);
        assert_eq!(
            o.given_wrong, 0.5,
            "two of the four wrong boxes hold the target"
        );
        assert!(ConfidenceStats::of(&[]).is_none());
    }
}
