//! OpenCV's frames as the tracking core's image views, read in place.

use anyhow::{ensure, Result};
use opencv::core::{Mat, CV_8UC3};
use opencv::prelude::*;
use siamtrack_core::{ChannelOrder, ImageView};

/// A decoded BGR frame as a view of its pixels (no copy; rows may be padded, as in a region of a larger `Mat`).
pub fn view(frame: &Mat) -> Result<ImageView<'_>> {
    ensure!(
        !frame.empty() && frame.typ() == CV_8UC3,
        "frames must be non-empty 8-bit BGR images"
    );
    let rows = frame.rows() as usize;
    let cols = frame.cols() as usize;
    let step = frame.step1(0)? * frame.elem_size1();
    // SAFETY-free: the bytes from the first pixel to the last row's end, as the Mat lays them out.
    let len = (rows - 1) * step + cols * 3;
    let data = unsafe { std::slice::from_raw_parts(frame.data(), len) };
    Ok(ImageView::with_strides(
        data,
        cols,
        rows,
        step,
        3,
        ChannelOrder::Bgr,
    )?)
}
