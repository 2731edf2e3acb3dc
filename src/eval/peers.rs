//! The trackers `eval` compares: siamtrack's SiamFC and the classic OpenCV trackers KCF, CSRT and MIL, behind one
//! interface.

use crate::frame::view;
use anyhow::{anyhow, bail, Result};
use opencv::core::{Mat, Ptr, Rect};
use opencv::prelude::*;
use opencv::{tracking, video};
use siamtrack_core::BBox;
use siamtrack_core::EncoderOptions;
use siamtrack_core::ModelConfig;
use siamtrack_core::{Track, TrackState, Tracker};
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrackerKind {
    Siamtrack,
    Kcf,
    Csrt,
    Mil,
}

impl TrackerKind {
    pub const ALL: [TrackerKind; 4] = [Self::Siamtrack, Self::Kcf, Self::Csrt, Self::Mil];

    pub fn name(self) -> &'static str {
        match self {
            Self::Siamtrack => "siamtrack",
            Self::Kcf => "kcf",
            Self::Csrt => "csrt",
            Self::Mil => "mil",
        }
    }

    /// Parses a comma-separated list such as `siamtrack,kcf`; duplicates are dropped.
    pub fn parse_list(text: &str) -> Result<Vec<Self>> {
        let mut kinds = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let kind: Self = part.parse()?;
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        if kinds.is_empty() {
            bail!("no tracker given");
        }
        Ok(kinds)
    }
}

impl FromStr for TrackerKind {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s))
            // The name siamtrack's tracker had in earlier reports and scripts.
            .or_else(|| s.eq_ignore_ascii_case("siamfc").then_some(Self::Siamtrack))
            .ok_or_else(|| anyhow!("unknown tracker {s:?}: expected siamtrack, kcf, csrt or mil"))
    }
}

/// A single-object tracker as the evaluation drives it.
pub trait SingleTracker {
    /// Starts on `frame` with `bbox` (0-based pixels), forgetting any earlier target.
    fn init(&mut self, frame: &Mat, bbox: BBox) -> Result<()>;
    /// The box in the next frame; `Ok(None)` when the tracker reports the target lost.
    fn update(&mut self, frame: &Mat) -> Result<Option<BBox>>;
    /// The last update's score and state, for a tracker that reports them.
    fn confidence(&self) -> Option<(f32, TrackState)> {
        None
    }
    /// Moves the box to `centre`, keeping its size, for a tracker that can be corrected (`Ok(false)`: cannot).
    fn recentre(&mut self, _centre: (f64, f64)) -> Result<bool> {
        Ok(false)
    }
}

/// siamtrack's tracker.
pub struct Siamtrack {
    tracker: Tracker,
    last: Option<Track>,
}

impl SingleTracker for Siamtrack {
    fn init(&mut self, frame: &Mat, bbox: BBox) -> Result<()> {
        self.last = None;
        Ok(self.tracker.init(&view(frame)?, bbox)?)
    }

    fn update(&mut self, frame: &Mat) -> Result<Option<BBox>> {
        let track = self.tracker.update(&view(frame)?)?;
        self.last = Some(track);
        Ok(Some(track.bbox))
    }

    fn confidence(&self) -> Option<(f32, TrackState)> {
        self.last.map(|t| (t.score, t.state))
    }

    fn recentre(&mut self, centre: (f64, f64)) -> Result<bool> {
        self.tracker.recentre(centre)?;
        Ok(true)
    }
}

/// An OpenCV tracker (`cv::Tracker` API) with OpenCV's default parameters; a fresh instance is made at each `init`.
/// When `update` reports the target lost (OpenCV's KCF does so whenever its response peak is below
/// `detect_thresh` = 0.5, and then leaves its model where it was) the previous box is reported.
pub struct OpenCvTracker {
    kind: TrackerKind,
    inner: Option<Ptr<video::Tracker>>,
}

impl OpenCvTracker {
    pub fn new(kind: TrackerKind) -> Self {
        Self { kind, inner: None }
    }

    fn create(&self) -> Result<Ptr<video::Tracker>> {
        Ok(match self.kind {
            TrackerKind::Kcf => {
                tracking::TrackerKCF::create(tracking::TrackerKCF_Params::default()?)?.into()
            }
            TrackerKind::Csrt => {
                tracking::TrackerCSRT::create(&tracking::TrackerCSRT_Params::default()?)?.into()
            }
            TrackerKind::Mil => {
                video::TrackerMIL::create(video::TrackerMIL_Params::default()?)?.into()
            }
            TrackerKind::Siamtrack => bail!("siamtrack is not an OpenCV tracker"),
        })
    }
}

/// The integer rectangle of `bbox` clipped to a `width` x `height` frame; `None` when nothing is left.
fn clipped_rect(bbox: &BBox, width: i32, height: i32) -> Option<Rect> {
    let x0 = (bbox.x.round() as i32).clamp(0, width);
    let y0 = (bbox.y.round() as i32).clamp(0, height);
    let x1 = ((bbox.x + bbox.w).round() as i32).clamp(0, width);
    let y1 = ((bbox.y + bbox.h).round() as i32).clamp(0, height);
    (x1 > x0 && y1 > y0).then(|| Rect::new(x0, y0, x1 - x0, y1 - y0))
}

impl SingleTracker for OpenCvTracker {
    fn init(&mut self, frame: &Mat, bbox: BBox) -> Result<()> {
        self.inner = None;
        let rect = clipped_rect(&bbox, frame.cols(), frame.rows())
            .ok_or_else(|| anyhow!("initial box {bbox} (x,y,w,h) lies outside the frame"))?;
        let mut tracker = self.create()?;
        tracker.init(frame, rect)?;
        self.inner = Some(tracker);
        Ok(())
    }

    fn update(&mut self, frame: &Mat) -> Result<Option<BBox>> {
        let tracker = self
            .inner
            .as_mut()
            .ok_or_else(|| anyhow!("{} was not initialised", self.kind.name()))?;
        let mut rect = Rect::default();
        if !tracker.update(frame, &mut rect)? || rect.width <= 0 || rect.height <= 0 {
            return Ok(None);
        }
        Ok(Some(BBox::new(
            rect.x as f64,
            rect.y as f64,
            rect.width as f64,
            rect.height as f64,
        )))
    }
}

/// Makes the tracker of `kind`; `siamtrack` needs the model.
pub fn make_tracker(
    kind: TrackerKind,
    model: Option<&(ModelConfig, EncoderOptions)>,
) -> Result<Box<dyn SingleTracker>> {
    Ok(match kind {
        TrackerKind::Siamtrack => {
            let (model, options) =
                model.ok_or_else(|| anyhow!("the siamtrack tracker needs a model"))?;
            Box::new(Siamtrack {
                tracker: Tracker::new(model, options)?,
                last: None,
            })
        }
        other => Box::new(OpenCvTracker::new(other)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tracker_lists() {
        assert_eq!(
            TrackerKind::parse_list("siamtrack, KCF,kcf,mil,siamfc").unwrap(),
            vec![TrackerKind::Siamtrack, TrackerKind::Kcf, TrackerKind::Mil]
        );
        assert!(TrackerKind::parse_list("siamtrack,goturn").is_err());
        assert!(TrackerKind::parse_list("").is_err());
    }

    #[test]
    fn clips_rectangles_to_the_frame() {
        let r = clipped_rect(&BBox::new(-5.0, 10.0, 20.0, 300.0), 100, 200).unwrap();
        assert_eq!(r, Rect::new(0, 10, 15, 190));
        assert!(clipped_rect(&BBox::new(150.0, 10.0, 20.0, 30.0), 100, 200).is_none());
    }
}
