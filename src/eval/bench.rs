//! Per-stage timing of the SiamFC tracker on one input: decode, crop/preprocess, encoder, cross-correlation + box
//! update, and the sinks (annotating the frame and writing a log row into a temporary file).

use crate::frame::view;
use crate::sinks::annotate;
use crate::sources::{Source, SourceSpec};
use crate::tracklog::{LogFormat, TrackLogWriter};
use anyhow::{bail, Context, Result};
use opencv::prelude::*;
use serde::Serialize;
use siamtrack_core::BBox;
use siamtrack_core::EncoderOptions;
use siamtrack_core::ModelConfig;
use siamtrack_core::MultiTracker;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

pub struct BenchOptions {
    pub source: SourceSpec,
    /// Boxes on the first frame, 0-based pixels.
    pub init: Vec<BBox>,
    pub model: ModelConfig,
    pub encoder: EncoderOptions,
    /// Frames to read, the first (init) frame included.
    pub max_frames: Option<u64>,
    /// Updates left out of the statistics at the start (session warm-up).
    pub warmup: usize,
    /// Targets tracked at once, through one [`MultiTracker`]: the first boxes of `init`, or a single box and
    /// copies of it side by side, each with all of a target's work.
    pub targets: usize,
}

/// Mean, median and 95th percentile (nearest rank) of one stage, milliseconds per frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct StageStats {
    pub mean_ms: f64,
    pub median_ms: f64,
    pub p95_ms: f64,
}

impl StageStats {
    pub fn of(samples: &[f64]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        let rank = ((0.95 * n as f64).ceil() as usize).clamp(1, n);
        Self {
            mean_ms: sorted.iter().sum::<f64>() / n as f64,
            median_ms: median,
            p95_ms: sorted[rank - 1],
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Stages {
    /// Reading and decoding the frame (for live input: includes waiting for it).
    pub decode: StageStats,
    /// Search crops and their normalisation (`StageTimings::crop_ms`).
    pub crop: StageStats,
    /// The encoder on the search crops (`StageTimings::encoder_ms`).
    pub encoder: StageStats,
    /// Cross-correlation, response calibration, peak, box head and box update (`StageTimings::locate_ms`).
    pub locate: StageStats,
    /// The whole update call (`MultiTracker::update`, all targets).
    pub tracker: StageStats,
    /// Annotating the frame and writing a CSV log row per target.
    pub sinks: StageStats,
    /// decode + tracker + sinks.
    pub total: StageStats,
}

#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub input: String,
    pub model: String,
    pub targets: usize,
    pub live: bool,
    /// Frames in the statistics (after the init frame and the warm-up updates).
    pub frames: usize,
    pub warmup: usize,
    pub stages: Stages,
    /// Frames per second over the timed frames (decode + tracker + sinks).
    pub fps: f64,
    /// Tracker updates per second (1000 / mean tracker ms).
    pub tracker_fps: f64,
    /// Live input only: from the frame's capture (`Frame::captured`) to its box being ready.
    pub latency: Option<StageStats>,
}

impl BenchReport {
    pub fn table(&self) -> String {
        let s = &self.stages;
        let mut out = format!(
            "{} on {}, {} target(s): {} frames timed ({} warm-up updates skipped)\n{:<10} {:>9} {:>9} {:>9}\n",
            self.model,
            self.input,
            self.targets,
            self.frames,
            self.warmup,
            "stage",
            "mean ms",
            "median",
            "p95"
        );
        let mut rows = vec![
            ("decode", s.decode),
            ("crop", s.crop),
            ("encoder", s.encoder),
            ("locate", s.locate),
            ("tracker", s.tracker),
            ("sinks", s.sinks),
            ("total", s.total),
        ];
        if let Some(l) = self.latency {
            rows.push(("latency", l));
        }
        for (name, st) in rows {
            out += &format!(
                "{name:<10} {:>9.2} {:>9.2} {:>9.2}\n",
                st.mean_ms, st.median_ms, st.p95_ms
            );
        }
        out += &format!(
            "{:.1} fps end to end, tracker {:.1} fps\n",
            self.fps, self.tracker_fps
        );
        out
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// Runs the tracker over the input and times each stage. `stop` ends the run early (Ctrl-C).
pub fn run_bench(opts: &BenchOptions, stop: &AtomicBool) -> Result<BenchReport> {
    let mut source = Source::open(&opts.source)?;
    let live = opts.source.is_live();
    if !(1..=64).contains(&opts.targets) {
        bail!("--targets must be 1 to 64, got {}", opts.targets);
    }
    let mut tracker = MultiTracker::new(&opts.model, &opts.encoder)?;
    let Some(first) = source.read()? else {
        bail!("{} holds no frame", opts.source.name());
    };
    let width = first.image.cols().max(1) as f64;
    let boxes = match opts.init.as_slice() {
        // Copies of the box side by side, each twice its width further right (round the frame's width): with
        // every target on its own patch of the frame none hides another (a copy on top of another would be its
        // known distractor, and lost).
        [b] => (0..opts.targets)
            .map(|k| {
                BBox::new(
                    (b.x + 2.0 * b.w * k as f64).rem_euclid(width),
                    b.y,
                    b.w,
                    b.h,
                )
            })
            .collect(),
        boxes if opts.targets <= boxes.len() => boxes[..opts.targets].to_vec(),
        boxes => bail!(
            "--targets {} with {} boxes: give at most as many targets as boxes, or one box to copy",
            opts.targets,
            boxes.len()
        ),
    };
    for b in boxes {
        tracker.add(&view(&first.image)?, b)?;
    }
    let log_path = std::env::temp_dir().join(format!("siamtrack-bench-{}.csv", std::process::id()));
    let mut log = TrackLogWriter::create(&log_path, LogFormat::Csv, opts.targets)
        .context("cannot create the bench's temporary log")?;
    let mut samples: [Vec<f64>; 8] = Default::default();
    let mut wall_ms = 0.0;
    let mut updates = 0usize;
    let limit = opts.max_frames.unwrap_or(u64::MAX);
    let result = (|| -> Result<()> {
        while !stop.load(Ordering::SeqCst) && (updates as u64) + 1 < limit {
            let started = Instant::now();
            let Some(frame) = source.read()? else {
                break;
            };
            let decode = ms(started);
            let tracked = Instant::now();
            let tracks = tracker.update(&view(&frame.image)?)?;
            let tracker_ms = ms(tracked);
            let latency = ms(frame.captured);
            let timings = tracker.last_timings();
            let sinks_started = Instant::now();
            let annotated = annotate(&frame.image, &tracks, "bench")?;
            std::hint::black_box(&annotated);
            log.write_frame(frame.index, frame.timestamp_ms, &tracks)?;
            let sinks = ms(sinks_started);
            updates += 1;
            if updates <= opts.warmup {
                continue;
            }
            let total = decode + tracker_ms + sinks;
            wall_ms += total;
            for (k, v) in [
                decode,
                timings.crop_ms,
                timings.encoder_ms,
                timings.locate_ms,
                tracker_ms,
                sinks,
                total,
                latency,
            ]
            .into_iter()
            .enumerate()
            {
                samples[k].push(v);
            }
        }
        Ok(())
    })();
    drop(log);
    let _ = std::fs::remove_file(&log_path);
    result?;
    let frames = samples[0].len();
    if frames == 0 {
        match opts.max_frames {
            Some(limit) if updates as u64 + 1 >= limit => bail!(
                "no frame was timed: --max-frames {limit} leaves {updates} frame(s) after the init frame, and the \
                 first {} are warm-up (--warmup)",
                opts.warmup
            ),
            _ => bail!(
                "no frame was timed: {} has {} frame(s) after the init frame, {} of them warm-up",
                opts.source.name(),
                updates,
                opts.warmup
            ),
        }
    }
    let stats = |k: usize| StageStats::of(&samples[k]);
    let tracker_stats = stats(4);
    Ok(BenchReport {
        input: opts.source.name(),
        model: opts.model.name.clone(),
        targets: opts.targets,
        live,
        frames,
        warmup: opts.warmup.min(updates),
        stages: Stages {
            decode: stats(0),
            crop: stats(1),
            encoder: stats(2),
            locate: stats(3),
            tracker: tracker_stats,
            sinks: stats(5),
            total: stats(6),
        },
        fps: frames as f64 * 1000.0 / wall_ms,
        tracker_fps: 1000.0 / tracker_stats.mean_ms,
        latency: live.then(|| stats(7)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_statistics() {
        let s = StageStats::of(&[4.0, 1.0, 3.0, 2.0]);
        assert_eq!(s.mean_ms, 2.5);
        assert_eq!(s.median_ms, 2.5);
        // Nearest rank: ceil(0.95 * 4) = 4th smallest.
        assert_eq!(s.p95_ms, 4.0);
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = StageStats::of(&samples);
        assert_eq!(s.median_ms, 50.5);
        assert_eq!(s.p95_ms, 95.0);
    }
}
