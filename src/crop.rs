//! Square crops around the target, padded with the frame's mean colour, and their conversion to encoder input.

use crate::config::{ChannelOrder, ModelConfig};
use anyhow::{anyhow, ensure, Result};
use ndarray::{Array4, ArrayViewMut3};
use opencv::core::{self, Mat, Scalar, Size, BORDER_CONSTANT};
use opencv::imgproc;
use opencv::prelude::*;

/// The frame's mean colour, used to pad crops that reach outside it (SiamFC's convention). Over every pixel of a
/// frame of up to 4 x `MEAN_SAMPLES` pixels; over a grid of at least `MEAN_SAMPLES` of a larger one (every
/// second pixel of every second row, or sparser), as the exact mean of a 1080p frame took 0.7 ms of each update,
/// three times the crop's cutting and normalising.
pub fn mean_colour(frame: &Mat) -> Result<Scalar> {
    const MEAN_SAMPLES: f64 = 65536.0;
    let (cols, rows) = (frame.cols(), frame.rows());
    let step = (cols as f64 * rows as f64 / MEAN_SAMPLES).sqrt().floor();
    if step <= 1.0 {
        return Ok(core::mean(frame, &core::no_array())?);
    }
    let grid = Size::new(
        (cols as f64 / step).ceil() as i32,
        (rows as f64 / step).ceil() as i32,
    );
    let mut sampled = Mat::default();
    imgproc::resize(frame, &mut sampled, grid, 0.0, 0.0, imgproc::INTER_NEAREST)?;
    Ok(core::mean(&sampled, &core::no_array())?)
}

/// Crops the square of side `side` (pixels) centred on `center` (box coordinates, where pixel i spans [i, i+1))
/// and resizes it to `out` x `out`. Parts outside the frame are filled with `pad`.
pub fn crop_square(
    frame: &Mat,
    center: (f64, f64),
    side: f64,
    out: i32,
    pad: Scalar,
) -> Result<Mat> {
    crop_rect(frame, center, (side, side), (out, out), pad)
}

/// Crops the rectangle of `size` (width, height, pixels) centred on `center` and resizes it to `out` (width,
/// height). Parts outside the frame are filled with `pad`.
pub fn crop_rect(
    frame: &Mat,
    center: (f64, f64),
    size: (f64, f64),
    out: (i32, i32),
    pad: Scalar,
) -> Result<Mat> {
    ensure!(
        size.0.is_finite() && size.0 > 0.0 && size.1.is_finite() && size.1 > 0.0,
        "crop side must be positive, got {size:?}"
    );
    let (sx, sy) = (out.0 as f64 / size.0, out.1 as f64 / size.1);
    // Map the crop centre (pixel-centre coordinates: box coordinate - 0.5) onto the centre of the output.
    let (hx, hy) = ((out.0 as f64 - 1.0) / 2.0, (out.1 as f64 - 1.0) / 2.0);
    let affine = Mat::from_slice_2d(&[
        [sx, 0.0, hx - sx * (center.0 - 0.5)],
        [0.0, sy, hy - sy * (center.1 - 0.5)],
    ])?;
    let mut crop = Mat::default();
    imgproc::warp_affine(
        frame,
        &mut crop,
        &affine,
        Size::new(out.0, out.1),
        imgproc::INTER_LINEAR,
        BORDER_CONSTANT,
        pad,
    )?;
    Ok(crop)
}

/// Packs BGR u8 crops into one normalised NCHW float batch as the model's sidecar describes.
pub fn to_tensor(crops: &[Mat], model: &ModelConfig) -> Result<Array4<f32>> {
    let mut batch = Array4::<f32>::zeros((0, 3, 0, 0));
    fill_tensor(crops, model, &mut batch)?;
    Ok(batch)
}

/// [`to_tensor`] into `batch`, which is only reallocated when its shape differs: a tracker reuses one buffer for
/// every frame.
pub fn fill_tensor(crops: &[Mat], model: &ModelConfig, batch: &mut Array4<f32>) -> Result<()> {
    let side = crops.first().map_or(0, |c| c.cols()) as usize;
    let shape = (crops.len(), 3, side, side);
    if batch.dim() != shape {
        *batch = Array4::<f32>::zeros(shape);
    }
    for (crop, planes) in crops.iter().zip(batch.outer_iter_mut()) {
        fill_planes(crop, model, planes)?;
    }
    Ok(())
}

/// One BGR u8 crop into its normalised planes [3, rows, cols] (contiguous) of an encoder batch, in the sidecar's
/// channel order.
pub fn fill_planes(crop: &Mat, model: &ModelConfig, mut planes: ArrayViewMut3<f32>) -> Result<()> {
    let (_, rows, cols) = planes.dim();
    ensure!(
        crop.rows() as usize == rows && crop.cols() as usize == cols && crop.channels() == 3,
        "crops must be {cols}x{rows} BGR images"
    );
    let gain: [f32; 3] = std::array::from_fn(|c| 1.0 / (255.0 * model.std[c]));
    let offset: [f32; 3] = std::array::from_fn(|c| model.mean[c] / model.std[c]);
    // Crops from warp_affine are continuous; copy only one that is not (a view into a larger image).
    let copy;
    let crop = if crop.is_continuous() {
        crop
    } else {
        copy = crop.try_clone()?;
        &copy
    };
    let pixels = crop.data_bytes()?;
    let values = planes
        .as_slice_mut()
        .ok_or_else(|| anyhow!("encoder input planes must be contiguous"))?;
    let (first, rest) = values.split_at_mut(rows * cols);
    let (second, third) = rest.split_at_mut(rows * cols);
    let planes = [first, second, third];
    match model.channel_order {
        ChannelOrder::Rgb => normalise(pixels, planes, gain, offset, |[b, g, r]| [r, g, b]),
        ChannelOrder::Bgr => normalise(pixels, planes, gain, offset, |px| px),
    }
    Ok(())
}

/// `value * gain - offset` of each pixel's channels, taken in the model's `order`, into three planes: one pass
/// over the pixels, the order fixed at compile time (a pass per channel, with the channel looked up per pixel,
/// took about 0.06 ms more a 191-px crop).
fn normalise(
    pixels: &[u8],
    [first, second, third]: [&mut [f32]; 3],
    gain: [f32; 3],
    offset: [f32; 3],
    order: impl Fn([u8; 3]) -> [u8; 3],
) {
    let planes = first
        .iter_mut()
        .zip(second.iter_mut())
        .zip(third.iter_mut());
    for (px, ((a, b), c)) in pixels.chunks_exact(3).zip(planes) {
        let [x, y, z] = order([px[0], px[1], px[2]]);
        *a = x as f32 * gain[0] - offset[0];
        *b = y as f32 * gain[1] - offset[1];
        *c = z as f32 * gain[2] - offset[2];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opencv::core::{Vec3b, CV_8UC3};

    /// A frame whose pixel (x, y) holds (x, y, 7) in BGR, so crops reveal where they came from.
    fn coordinate_frame(width: i32, height: i32) -> Mat {
        let mut frame =
            Mat::new_rows_cols_with_default(height, width, CV_8UC3, Scalar::all(0.0)).unwrap();
        for y in 0..height {
            for x in 0..width {
                *frame.at_2d_mut::<Vec3b>(y, x).unwrap() = Vec3b::from([x as u8, y as u8, 7]);
            }
        }
        frame
    }

    #[test]
    fn mean_colour_is_exact_on_small_frames_and_sampled_close_on_large_ones() {
        // Left third (0, 90, 200), the rest (30, 60, 240): on 640 x 410 = 262,400 pixels, just above 4 x 65,536.
        let frame = |cols: i32, rows: i32| {
            let mut frame = Mat::new_rows_cols_with_default(
                rows,
                cols,
                CV_8UC3,
                Scalar::new(30.0, 60.0, 240.0, 0.0),
            )
            .unwrap();
            for y in 0..rows {
                for x in 0..cols / 3 {
                    *frame.at_2d_mut::<Vec3b>(y, x).unwrap() = Vec3b::from([0, 90, 200]);
                }
            }
            frame
        };
        let small = frame(480, 360);
        assert_eq!(
            mean_colour(&small).unwrap(),
            core::mean(&small, &core::no_array()).unwrap()
        );
        for (cols, rows) in [(640, 410), (1920, 1080)] {
            let large = frame(cols, rows);
            let (sampled, exact) = (
                mean_colour(&large).unwrap(),
                core::mean(&large, &core::no_array()).unwrap(),
            );
            for c in 0..3 {
                assert!(
                    (sampled[c] - exact[c]).abs() < 0.5,
                    "{cols}x{rows}: {sampled:?} vs {exact:?}"
                );
            }
        }
    }

    #[test]
    fn unscaled_crop_copies_the_pixels_around_the_centre() {
        let frame = coordinate_frame(100, 80);
        // Centre (50.5, 40.5) is the middle of pixel (50, 40); an 11-px crop spans pixels 45..=55, 35..=45.
        let crop = crop_square(&frame, (50.5, 40.5), 11.0, 11, Scalar::all(0.0)).unwrap();
        assert_eq!(
            *crop.at_2d::<Vec3b>(0, 0).unwrap(),
            Vec3b::from([45, 35, 7])
        );
        assert_eq!(
            *crop.at_2d::<Vec3b>(5, 5).unwrap(),
            Vec3b::from([50, 40, 7])
        );
        assert_eq!(
            *crop.at_2d::<Vec3b>(10, 10).unwrap(),
            Vec3b::from([55, 45, 7])
        );
    }

    #[test]
    fn scaled_crop_halves_coordinates() {
        let frame = coordinate_frame(100, 80);
        // A 20-px square starting at pixel 30 resized to 10: output pixel j samples source 30.5 + 2j.
        let crop = crop_square(&frame, (40.0, 40.0), 20.0, 10, Scalar::all(0.0)).unwrap();
        let first = *crop.at_2d::<Vec3b>(0, 0).unwrap();
        assert!((first[0] as i32 - 31).abs() <= 1, "got {first:?}");
        let last = *crop.at_2d::<Vec3b>(9, 9).unwrap();
        assert!((last[0] as i32 - 49).abs() <= 1, "got {last:?}");
    }

    #[test]
    fn outside_the_frame_is_padded_with_the_given_colour() {
        let frame = coordinate_frame(20, 20);
        let pad = Scalar::new(1.0, 2.0, 3.0, 0.0);
        let crop = crop_square(&frame, (0.0, 0.0), 10.0, 10, pad).unwrap();
        // Top-left quarter lies outside the frame, bottom-right inside.
        assert_eq!(*crop.at_2d::<Vec3b>(0, 0).unwrap(), Vec3b::from([1, 2, 3]));
        assert_eq!(*crop.at_2d::<Vec3b>(9, 9).unwrap(), Vec3b::from([4, 4, 7]));
        let far = crop_square(&frame, (500.0, 500.0), 10.0, 10, pad).unwrap();
        assert_eq!(*far.at_2d::<Vec3b>(5, 5).unwrap(), Vec3b::from([1, 2, 3]));
    }

    #[test]
    fn tensor_is_normalised_rgb_nchw() {
        let model = ModelConfig::from_json(crate::config::tests::SIDECAR).unwrap();
        let crop =
            Mat::new_rows_cols_with_default(4, 4, CV_8UC3, Scalar::new(255.0, 0.0, 51.0, 0.0))
                .unwrap();
        let t = to_tensor(&[crop.clone(), crop], &model).unwrap();
        assert_eq!(t.shape(), &[2, 3, 4, 4]);
        // BGR (255, 0, 51) -> RGB (0.2, 0, 1) -> (v - 0.5) / 0.5.
        assert!((t[[1, 0, 3, 3]] - (-0.6)).abs() < 1e-6);
        assert!((t[[1, 1, 0, 0]] - (-1.0)).abs() < 1e-6);
        assert!((t[[0, 2, 2, 1]] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn a_reused_tensor_holds_only_the_latest_crops() {
        let model = ModelConfig::from_json(crate::config::tests::SIDECAR).unwrap();
        let grey = |v: f64, side: i32| {
            Mat::new_rows_cols_with_default(side, side, CV_8UC3, Scalar::all(v)).unwrap()
        };
        let mut batch = Array4::zeros((0, 3, 0, 0));
        fill_tensor(&[grey(255.0, 4)], &model, &mut batch).unwrap();
        let before = batch.as_ptr();
        fill_tensor(&[grey(0.0, 4)], &model, &mut batch).unwrap();
        assert_eq!(batch.as_ptr(), before, "same shape: the buffer is reused");
        assert!(batch.iter().all(|&v| v == -1.0), "every value rewritten");
        fill_tensor(&[grey(0.0, 6), grey(255.0, 6)], &model, &mut batch).unwrap();
        assert_eq!(batch.shape(), &[2, 3, 6, 6]);
        assert_eq!(
            batch,
            to_tensor(&[grey(0.0, 6), grey(255.0, 6)], &model).unwrap()
        );
    }
}
