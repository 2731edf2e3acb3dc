//! siamtrack's tracking core: a real-time single-object tracker in the SiamFC family, without OpenCV.
//!
//! One Siamese encoder (an ONNX model run by ONNX Runtime) embeds a template crop of the target once and a search
//! crop each frame; the template features are cross-correlated over the search features, fused with the responses
//! of a target model learned online and of a colour model, and the fused peak moves the box; a sizing step (the
//! templates' scale vote and a scale filter) resizes it.
//!
//! Frames come in as [`ImageView`]s: borrowed 8-bit pixels, BGR or RGB, with any row and pixel stride, so a
//! decoder's buffer, a numpy array or an OpenCV `Mat` is read in place. ONNX Runtime is loaded at run time: name
//! its library with [`set_runtime_library`] (or `ORT_DYLIB_PATH`).
//!
//! ```
//! use siamtrack_core::{BBox, ChannelOrder, EncoderOptions, ImageView, ModelConfig, Tracker};
//! # fn main() -> Result<(), siamtrack_core::Error> {
//! // ONNX Runtime from ORT_DYLIB_PATH, or: siamtrack_core::set_runtime_library("/path/to/libonnxruntime.so")?;
//! let mut tracker = Tracker::new(&ModelConfig::shipped(), &EncoderOptions::default())?;
//! let (width, height) = (640, 480);
//! let first = vec![0u8; width * height * 3]; // a decoded frame, BGR
//! tracker.init(&ImageView::new(&first, width, height, ChannelOrder::Bgr)?, BBox::new(10.0, 20.0, 40.0, 30.0))?;
//! let next = vec![0u8; width * height * 3];
//! let track = tracker.update(&ImageView::new(&next, width, height, ChannelOrder::Bgr)?)?;
//! println!("{} score {:.2} {}", track.bbox, track.score, track.state.name());
//! # Ok(()) }
//! ```
//!
//! Several targets share one encoder through a [`MultiTracker`] (ids 1, 2, ... in the order added):
//!
//! ```
//! use siamtrack_core::{BBox, ChannelOrder, EncoderOptions, ImageView, ModelConfig, MultiTracker};
//! # fn main() -> Result<(), siamtrack_core::Error> {
//! let mut targets = MultiTracker::new(&ModelConfig::shipped(), &EncoderOptions::default())?;
//! let pixels = vec![0u8; 640 * 480 * 3];
//! let frame = ImageView::new(&pixels, 640, 480, ChannelOrder::Bgr)?;
//! targets.add(&frame, BBox::new(10.0, 20.0, 40.0, 30.0))?;
//! targets.add(&frame, BBox::new(200.0, 50.0, 25.0, 60.0))?;
//! for (id, track) in targets.ids().into_iter().zip(targets.update(&frame)?) {
//!     println!("target {id}: {} {}", track.bbox, track.state.name());
//! }
//! # Ok(()) }
//! ```

mod bbox;
pub mod config;
mod error;
pub mod image;
mod model;
mod tracker;
mod xcorr;

pub use bbox::{parse_annotation, BBox, BoxError};
pub use config::{ModelConfig, TrackerParams};
pub use error::{Error, Result};
pub use image::{ChannelOrder, ImageView};
pub use model::{set_runtime_library, Device, EncoderOptions};
pub use tracker::{MultiTracker, StageTimings, Track, TrackState, Tracker};
