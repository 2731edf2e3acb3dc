//! The siamtrack command line: video, image-folder, camera and stream sources (OpenCV), the thread pipeline that
//! feeds the tracking core ([`siamtrack_core`]), the window, annotated video and track logs, and the evaluation
//! toolkit (datasets, metrics, reports, OpenCV's classic trackers as peers).

pub mod eval;
pub mod frame;
pub mod fuzzing;
pub mod paths;
pub mod pipeline;
pub mod sinks;
pub mod sources;
pub mod synth;
pub mod tracklog;

pub use siamtrack_core::{
    parse_annotation, BBox, ChannelOrder, Device, EncoderOptions, Error, ImageView, ModelConfig,
    MultiTracker, StageTimings, Track, TrackState, Tracker, TrackerParams,
};
