//! What can go wrong, as one error type whose variants say whose fault it is.

use std::path::PathBuf;

/// An error of the tracking core. Its message names the file, value or field at fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A frame that cannot be tracked on: empty, or a buffer that does not hold the pixels it claims.
    #[error("bad frame: {0}")]
    Frame(String),
    /// A box that cannot be a target: not finite, no area, or outside the frame.
    #[error("bad box: {0}")]
    Box(String),
    /// A tracker asked to update before it was given a target.
    #[error("{0}")]
    NotInitialised(String),
    /// A model file that does not exist.
    #[error("model file {} not found", .0.display())]
    ModelNotFound(PathBuf),
    /// A model sidecar or graph that cannot be used: unreadable, invalid, or not matching each other.
    #[error("{0}")]
    Model(String),
    /// A tracker parameter out of its range, named by its place in the parameter tree.
    #[error("tracker parameter {field}: {reason}")]
    Parameter { field: String, reason: String },
    /// Several tracker parameters out of their ranges: one line each.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Parameters(Vec<Error>),
    /// ONNX Runtime could not be loaded or failed to run the encoder.
    #[error("{0}")]
    Runtime(String),
    /// A crop that cannot be cut.
    #[error("{0}")]
    Crop(String),
    /// A target id that a [`crate::MultiTracker`] does not hold.
    #[error("no target with id {0}")]
    UnknownTarget(usize),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<ort::Error> for Error {
    fn from(e: ort::Error) -> Self {
        Error::Runtime(format!("ONNX Runtime: {e}"))
    }
}

impl From<ndarray::ShapeError> for Error {
    fn from(e: ndarray::ShapeError) -> Self {
        Error::Runtime(format!("unexpected encoder output shape: {e}"))
    }
}
