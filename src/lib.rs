//! siamtrack: a real-time single-object tracker in the SiamFC family.
//!
//! One Siamese encoder (an ONNX model run by ONNX Runtime) embeds a template crop of the target and, each frame,
//! a few scaled search crops; the template features are cross-correlated over the search features in Rust and the
//! peak of the response map moves and resizes the box.
//!
//! ```no_run
//! use siamtrack::{BBox, ModelConfig, Tracker};
//! # fn main() -> anyhow::Result<()> {
//! let model = ModelConfig::load("models/effnet_lite0_s8_int8.json")?;
//! let mut tracker = Tracker::new(&model, &Default::default())?;
//! let first = opencv::imgcodecs::imread("frame0.jpg", opencv::imgcodecs::IMREAD_COLOR)?;
//! tracker.init(&first, BBox::new(10.0, 20.0, 40.0, 30.0))?;
//! let next = opencv::imgcodecs::imread("frame1.jpg", opencv::imgcodecs::IMREAD_COLOR)?;
//! let track = tracker.update(&next)?;
//! println!("{:?} score {}", track.bbox, track.score);
//! # Ok(()) }
//! ```
//!
//! Several targets share one encoder through a [`MultiTracker`] (ids 1, 2, ... in the order added):
//!
//! ```no_run
//! use siamtrack::{BBox, ModelConfig, MultiTracker};
//! # fn main() -> anyhow::Result<()> {
//! let model = ModelConfig::load("models/effnet_lite0_s8_int8.json")?;
//! let mut targets = MultiTracker::new(&model, &Default::default())?;
//! let first = opencv::imgcodecs::imread("frame0.jpg", opencv::imgcodecs::IMREAD_COLOR)?;
//! targets.add(&first, BBox::new(10.0, 20.0, 40.0, 30.0))?;
//! targets.add(&first, BBox::new(200.0, 50.0, 25.0, 60.0))?;
//! let next = opencv::imgcodecs::imread("frame1.jpg", opencv::imgcodecs::IMREAD_COLOR)?;
//! for (id, track) in (1..).zip(targets.update(&next)?) {
//!     println!("target {id}: {} {:?}", track.bbox, track.state);
//! }
//! # Ok(()) }
//! ```

pub mod bbox;
pub mod config;
pub mod crop;
pub mod eval;
pub mod fuzzing;
pub mod model;
pub mod paths;
pub mod pipeline;
pub mod sinks;
pub mod sources;
pub mod synth;
pub mod tracker;
pub mod tracklog;
pub mod xcorr;

pub use bbox::BBox;
pub use config::{ModelConfig, TrackerParams};
pub use model::{Device, EncoderOptions};
pub use tracker::{MultiTracker, Track, TrackState, Tracker};
