//! The tracking pipeline: reader -> tracker -> sinks, one thread each, joined by bounded channels.
//!
//! A file or folder loses no frame: the reader blocks when the tracker is behind (backpressure). A live source never
//! lags: the reader replaces a frame the tracker has not taken yet with the newer one, and counts the drop.

use crate::frame::view;
use crate::sinks::{annotate, AnnotatedVideo, UserAction, Window};
use crate::sources::{Frame, Source, SourceSpec};
use crate::tracklog::{LogFormat, TrackLogWriter};
use anyhow::{anyhow, Context, Result};
use crossbeam_channel::{bounded, unbounded, TrySendError};
use opencv::core::Mat;
use siamtrack_core::BBox;
use siamtrack_core::EncoderOptions;
use siamtrack_core::ModelConfig;
use siamtrack_core::{MultiTracker, Track, TrackState};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How the targets are first given; they get ids 1, 2, ... in this order.
#[derive(Clone, Debug)]
pub enum InitBox {
    /// One box per target (at least one).
    Boxes(Vec<BBox>),
    /// Drawn with the mouse on the first frame, a drag per target (see [`Window::select`]).
    Select,
}

#[derive(Clone, Debug)]
pub struct TrackJob {
    pub source: SourceSpec,
    /// Overrides whether stale frames are dropped (`Some(true)`: a file played as a camera) or every frame is
    /// tracked (`Some(false)`: a camera or pipeline processed without loss); `None` follows the source.
    pub live: Option<bool>,
    pub init: InitBox,
    pub model: ModelConfig,
    pub encoder: EncoderOptions,
    pub log: Option<(PathBuf, LogFormat)>,
    pub video: Option<PathBuf>,
    pub display: bool,
    pub progress: bool,
    pub max_frames: Option<u64>,
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    EndOfInput,
    /// `q`, Esc or the window closed.
    UserQuit,
    /// The stop flag was raised (Ctrl-C, SIGTERM).
    Stopped,
}

#[derive(Debug)]
pub struct Summary {
    pub frames: u64,
    pub dropped: u64,
    pub seconds: f64,
    /// Mean time of an update of all targets, milliseconds.
    pub tracker_ms: f64,
    /// Start-up (not counted in `seconds`), milliseconds: loading the model.
    pub model_load_ms: f64,
    /// Start-up after the model (not counted in `seconds`), milliseconds: opening the source and the outputs,
    /// reading the first frame and starting every target, up to the first frame shown or logged (NaN for boxes
    /// drawn by hand, which wait for the user).
    pub first_frame_ms: f64,
    pub ending: Ending,
    /// An error that ended the run early; everything before it was written.
    pub error: Option<anyhow::Error>,
    /// Frames of each target (in id order) in each state, over every frame written (the first among them).
    pub states: Vec<StateCounts>,
}

/// Frames of a target in each [`TrackState`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StateCounts {
    pub tracking: u64,
    pub uncertain: u64,
    pub lost: u64,
}

impl StateCounts {
    fn add(&mut self, state: TrackState) {
        match state {
            TrackState::Tracking => self.tracking += 1,
            TrackState::Uncertain => self.uncertain += 1,
            TrackState::Lost => self.lost += 1,
        }
    }
}

impl std::fmt::Display for StateCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} tracking, {} uncertain, {} lost",
            self.tracking, self.uncertain, self.lost
        )
    }
}

impl Summary {
    pub fn fps(&self) -> f64 {
        if self.seconds > 0.0 {
            self.frames as f64 / self.seconds
        } else {
            0.0
        }
    }
}

struct Tracked {
    frame: Frame,
    /// One per target, in id order.
    tracks: Vec<Track>,
    update_ms: f64,
}

/// The consumers of tracked frames, on the calling thread (windows belong to it).
struct Sinks {
    log: Option<TrackLogWriter>,
    video: Option<AnnotatedVideo>,
    window: Option<Window>,
    progress: Option<indicatif::ProgressBar>,
    frames: u64,
    update_ms_total: f64,
    states: Vec<StateCounts>,
    started: Instant,
}

impl Sinks {
    fn consume(&mut self, tracked: &Tracked) -> Result<UserAction> {
        let Tracked {
            frame,
            tracks,
            update_ms,
        } = tracked;
        self.frames += 1;
        self.update_ms_total += update_ms;
        self.states.resize(tracks.len(), StateCounts::default());
        for (counts, track) in self.states.iter_mut().zip(tracks) {
            counts.add(track.state);
        }
        if let Some(log) = &mut self.log {
            log.write_frame(frame.index, frame.timestamp_ms, tracks)?;
        }
        if let Some(bar) = &self.progress {
            bar.inc(1);
        }
        if self.video.is_none() && self.window.is_none() {
            return Ok(UserAction::None);
        }
        // A rate once there is one: the first frame is the given boxes, no tracking measured yet.
        let fps = match self.frames {
            0 | 1 => String::new(),
            frames => format!(
                "  {:.1} fps",
                (frames - 1) as f64 / self.started.elapsed().as_secs_f64().max(1e-9)
            ),
        };
        let status = match tracks.as_slice() {
            [track] => format!(
                "frame {}  score {:.2}  {}{fps}",
                frame.index,
                track.score,
                track.state.name()
            ),
            _ => format!("frame {}  {} targets{fps}", frame.index, tracks.len()),
        };
        let canvas = annotate(&frame.image, tracks, &status)?;
        if let Some(video) = &mut self.video {
            video.write(&canvas)?;
        }
        match &self.window {
            Some(window) => window.show(&canvas, 1),
            None => Ok(UserAction::None),
        }
    }

    /// Waits while paused; returns what ended the pause.
    fn pause(&self) -> Result<UserAction> {
        let Some(window) = &self.window else {
            return Ok(UserAction::None);
        };
        loop {
            match window.poll(30)? {
                UserAction::None => continue,
                action => return Ok(action),
            }
        }
    }

    fn finish(&mut self) -> Result<()> {
        if let Some(bar) = &self.progress {
            bar.finish_and_clear();
        }
        if let Some(video) = &mut self.video {
            video.finish()?;
        }
        Ok(())
    }
}

/// Runs `work` on a pipeline thread; a panic becomes the run's failure (named by `thread`) instead of taking the
/// process down.
fn guarded(fail: &(dyn Fn(anyhow::Error) + Sync), thread: &str, work: impl FnOnce()) {
    if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        fail(anyhow!("{thread} failed unexpectedly (a bug): {message}"));
    }
}

/// Runs a tracking job until the input ends, the user quits or `stop` is raised.
pub fn run(job: &TrackJob, stop: &AtomicBool) -> Result<Summary> {
    let loading = Instant::now();
    let mut tracker = MultiTracker::new(&job.model, &job.encoder)?;
    let model_load_ms = loading.elapsed().as_secs_f64() * 1000.0;
    let opening = Instant::now();
    let mut source = Source::open(&job.source)?;
    let live = job.live.unwrap_or_else(|| job.source.is_live());
    let window = job.display.then(|| Window::open("siamtrack")).transpose()?;
    // Given boxes fix the number of targets, so a log that cannot be written fails before anything else.
    let create_log = |targets: usize| {
        job.log
            .as_ref()
            .map(|(path, format)| TrackLogWriter::create(path, *format, targets))
            .transpose()
    };
    let mut log = match &job.init {
        InitBox::Boxes(boxes) => create_log(boxes.len())?,
        InitBox::Select => None,
    };
    let video = job
        .video
        .as_ref()
        .map(|path| AnnotatedVideo::create(path, source.fps()))
        .transpose()?;

    let first = source
        .read()?
        .ok_or_else(|| anyhow!("{} has no frames", job.source.name()))?;
    let boxes = match (&job.init, &window) {
        (InitBox::Boxes(boxes), _) => boxes.clone(),
        (InitBox::Select, Some(w)) => w.select(&first.image)?,
        (InitBox::Select, None) => {
            return Err(anyhow!(
                "--select needs a window, and --no-display was given"
            ))
        }
    };
    if boxes.is_empty() {
        return Err(anyhow!("no box was selected"));
    }
    for (k, bbox) in boxes.iter().enumerate() {
        tracker
            .add(&view(&first.image)?, *bbox)
            .with_context(|| format!("cannot start tracking target {}", k + 1))?;
    }
    let targets = boxes.len();
    if log.is_none() {
        log = create_log(targets)?;
    }
    // Boxes drawn by hand wait for the user, which is not start-up time.
    let first_frame_ms = match job.init {
        InitBox::Boxes(_) => opening.elapsed().as_secs_f64() * 1000.0,
        InitBox::Select => f64::NAN,
    };

    let progress = (job.progress && !live && window.is_none())
        .then(|| source.frame_count())
        .flatten()
        .map(|count| {
            indicatif::ProgressBar::new(count.min(job.max_frames.unwrap_or(u64::MAX))).with_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} frames  {per_sec}  eta {eta}",
                )
                .expect("valid template"),
            )
        });
    let mut sinks = Sinks {
        log,
        video,
        window,
        progress,
        frames: 0,
        update_ms_total: 0.0,
        states: Vec::new(),
        started: Instant::now(),
    };
    let mut ending = Ending::EndOfInput;
    // The first frame's result is the given boxes.
    let first = Tracked {
        frame: first,
        tracks: boxes
            .iter()
            .map(|&bbox| Track {
                bbox,
                score: 1.0,
                state: TrackState::Tracking,
            })
            .collect(),
        update_ms: 0.0,
    };
    // Raised to end the run from inside: the user quit, or the tracker stopped.
    let halt = AtomicBool::new(false);
    if sinks.consume(&first)? == UserAction::Quit {
        ending = Ending::UserQuit;
        halt.store(true, Ordering::SeqCst);
    }

    let (frame_tx, frame_rx) = bounded::<Frame>(if live { 1 } else { 4 });
    let (result_tx, result_rx) = bounded::<Tracked>(4);
    let (reinit_tx, reinit_rx) = unbounded::<(Mat, Vec<BBox>)>();
    let dropped = AtomicU64::new(0);
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let fail = |e: anyhow::Error| {
        failure
            .lock()
            .expect("no thread panics holding it")
            .get_or_insert(e);
    };
    let max_frames = job.max_frames.unwrap_or(u64::MAX);

    let sink_result = std::thread::scope(|scope| {
        // Only a live reader holds a receiver, to take back a stale frame; a file reader must see the tracker go.
        let stale = live.then(|| frame_rx.clone());
        let (halt, dropped, fail, source) = (&halt, &dropped, &fail, &mut source);
        scope.spawn(move || {
            guarded(fail, "the reader", || {
                let tx = frame_tx;
                let mut read = 1;
                let paced = live && !source.spec().is_live();
                let started = Instant::now();
                while read < max_frames
                    && !stop.load(Ordering::SeqCst)
                    && !halt.load(Ordering::SeqCst)
                {
                    let frame = match source.read() {
                        Ok(Some(frame)) => frame,
                        Ok(None) => break,
                        Err(e) => {
                            fail(e);
                            break;
                        }
                    };
                    read += 1;
                    if paced {
                        // A file played as live arrives at its own frame rate, as a camera would deliver it.
                        let due = started + Duration::from_secs_f64(frame.timestamp_ms / 1000.0);
                        std::thread::sleep(due.saturating_duration_since(Instant::now()));
                    }
                    let Some(stale) = &stale else {
                        if tx.send(frame).is_err() {
                            break;
                        }
                        continue;
                    };
                    match tx.try_send(frame) {
                        Ok(()) => {}
                        Err(TrySendError::Full(frame)) => {
                            if stale.try_recv().is_ok() {
                                dropped.fetch_add(1, Ordering::Relaxed);
                            }
                            let _ = tx.try_send(frame);
                        }
                        Err(TrySendError::Disconnected(_)) => break,
                    }
                }
            })
        });
        let tracker = &mut tracker;
        scope.spawn(move || {
            guarded(fail, "the tracker", || {
                let (tx, rx) = (result_tx, frame_rx);
                for frame in rx.iter() {
                    if let Some((image, boxes)) = reinit_rx.try_iter().last() {
                        if let Err(e) =
                            view(&image).and_then(|image| Ok(tracker.restart(&image, &boxes)?))
                        {
                            fail(e);
                            break;
                        }
                    }
                    let started = Instant::now();
                    let tracks = match view(&frame.image)
                        .and_then(|image| Ok(tracker.update(&image)?))
                    {
                        Ok(tracks) => tracks,
                        Err(e) => {
                            fail(e.context(format!("tracking failed at frame {}", frame.index)));
                            break;
                        }
                    };
                    let update_ms = started.elapsed().as_secs_f64() * 1000.0;
                    if tx
                        .send(Tracked {
                            frame,
                            tracks,
                            update_ms,
                        })
                        .is_err()
                    {
                        break;
                    }
                }
                // Dropping the receiver here unblocks a reader waiting on a full queue.
                halt.store(true, Ordering::SeqCst);
            })
        });

        // The sinks own the results' receiver: however they end (an error included), dropping it releases a
        // tracker waiting to hand over a frame, whose end releases the reader in turn.
        let result_rx = result_rx;
        let mut paused = false;
        let consumed = (|| -> Result<()> {
            loop {
                let tracked = match result_rx.recv_timeout(Duration::from_millis(100)) {
                    Ok(tracked) => tracked,
                    Err(crossbeam_channel::RecvTimeoutError::Timeout) => continue,
                    Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
                };
                let mut action = sinks.consume(&tracked)?;
                loop {
                    match action {
                        UserAction::Quit => {
                            ending = Ending::UserQuit;
                            halt.store(true, Ordering::SeqCst);
                            break;
                        }
                        UserAction::TogglePause => paused = !paused,
                        UserAction::Reselect => {
                            if let Some(window) = &sinks.window {
                                let mut boxes = window.select(&tracked.frame.image)?;
                                boxes.truncate(targets);
                                if !boxes.is_empty() {
                                    let _ = reinit_tx.send((tracked.frame.image.clone(), boxes));
                                }
                            }
                        }
                        UserAction::None => {}
                    }
                    if !paused || stop.load(Ordering::SeqCst) || halt.load(Ordering::SeqCst) {
                        break;
                    }
                    action = sinks.pause()?;
                    if action == UserAction::TogglePause {
                        paused = false;
                        break;
                    }
                }
            }
            Ok(())
        })();
        halt.store(true, Ordering::SeqCst);
        drop(result_rx);
        consumed
    });
    let finished = sinks.finish();
    sink_result?;
    finished?;
    if ending == Ending::EndOfInput && stop.load(Ordering::SeqCst) {
        ending = Ending::Stopped;
    }
    let error = failure.into_inner().expect("no thread panics holding it");
    Ok(Summary {
        frames: sinks.frames,
        dropped: dropped.load(Ordering::Relaxed),
        seconds: sinks.started.elapsed().as_secs_f64(),
        tracker_ms: sinks.update_ms_total / (sinks.frames.saturating_sub(1)).max(1) as f64,
        model_load_ms,
        first_frame_ms,
        ending,
        error,
        states: sinks.states,
    })
}
