//! The tracking core's image operations against OpenCV's, which cut the crops before the core had its own: the
//! same pixels and values, so results do not depend on which library cut them.

use ndarray::Array2;
use opencv::core::{self, Mat, Scalar, Size, Vec3b, BORDER_CONSTANT, CV_32F, CV_8UC3};
use opencv::imgproc;
use opencv::prelude::*;
use siamtrack::frame::view;
use siamtrack_core::image::{
    crop_rect, grey, mean_colour, pad_pixel, upsample_cubic, BgrImage, Plane,
};

/// A deterministic textured frame: smooth gradients and noise, so interpolation differences show.
fn frame(width: i32, height: i32, seed: u32) -> Mat {
    let mut state = seed;
    let mut frame =
        Mat::new_rows_cols_with_default(height, width, CV_8UC3, Scalar::all(0.0)).unwrap();
    for y in 0..height {
        for x in 0..width {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = (state >> 26) as i32;
            let px = [
                ((x * 3 + noise) % 256) as u8,
                ((y * 5 + x + noise) % 256) as u8,
                ((x * y / 7 + noise * 2) % 256) as u8,
            ];
            *frame.at_2d_mut::<Vec3b>(y, x).unwrap() = Vec3b::from(px);
        }
    }
    frame
}

fn image_of(mat: &Mat) -> BgrImage {
    BgrImage {
        width: mat.cols() as usize,
        height: mat.rows() as usize,
        data: mat.data_bytes().unwrap().to_vec(),
    }
}

/// OpenCV's crop as the tracker cut it: `warpAffine`, bilinear, constant border.
fn opencv_crop(
    frame: &Mat,
    centre: (f64, f64),
    size: (f64, f64),
    out: (i32, i32),
    pad: Scalar,
) -> Mat {
    let (sx, sy) = (out.0 as f64 / size.0, out.1 as f64 / size.1);
    let (hx, hy) = ((out.0 as f64 - 1.0) / 2.0, (out.1 as f64 - 1.0) / 2.0);
    let affine = Mat::from_slice_2d(&[
        [sx, 0.0, hx - sx * (centre.0 - 0.5)],
        [0.0, sy, hy - sy * (centre.1 - 0.5)],
    ])
    .unwrap();
    let mut crop = Mat::default();
    imgproc::warp_affine(
        frame,
        &mut crop,
        &affine,
        Size::new(out.0, out.1),
        imgproc::INTER_LINEAR,
        BORDER_CONSTANT,
        pad,
    )
    .unwrap();
    crop
}

#[test]
fn crops_equal_opencv_warp_affine() {
    let mat = frame(320, 200, 1);
    let view = view(&mat).unwrap();
    let mut state = 5u32;
    let mut next = || {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (state >> 8) as f64 / (1u32 << 24) as f64
    };
    for case in 0..300 {
        let centre = (next() * 400.0 - 40.0, next() * 280.0 - 40.0);
        let size = (5.0 + next() * 300.0, 5.0 + next() * 300.0);
        let out = match case % 3 {
            0 => (255, 255),
            1 => (127, 127),
            _ => ((4.0 + next() * 40.0) as i32, (4.0 + next() * 40.0) as i32),
        };
        let pad = [next() * 255.0, next() * 255.0, next() * 255.0];
        let theirs = opencv_crop(
            &mat,
            centre,
            size,
            out,
            Scalar::new(pad[0], pad[1], pad[2], 0.0),
        );
        let ours = crop_rect(
            &view,
            centre,
            size,
            (out.0 as usize, out.1 as usize),
            pad_pixel(pad),
        )
        .unwrap();
        assert_eq!(
            ours,
            image_of(&theirs),
            "case {case}: centre {centre:?} size {size:?} out {out:?}"
        );
    }
}

#[test]
fn the_mean_colour_equals_opencv_on_small_and_large_frames() {
    for (width, height) in [(320, 200), (640, 410), (1280, 720)] {
        let mat = frame(width, height, 2);
        let ours = mean_colour(&view(&mat).unwrap());
        let step = ((width as f64 * height as f64) / 65536.0).sqrt().floor();
        let theirs = if step <= 1.0 {
            core::mean(&mat, &core::no_array()).unwrap()
        } else {
            let grid = Size::new(
                (width as f64 / step).ceil() as i32,
                (height as f64 / step).ceil() as i32,
            );
            let mut sampled = Mat::default();
            imgproc::resize(&mat, &mut sampled, grid, 0.0, 0.0, imgproc::INTER_NEAREST).unwrap();
            core::mean(&sampled, &core::no_array()).unwrap()
        };
        assert_eq!(ours, [theirs[0], theirs[1], theirs[2]], "{width}x{height}");
    }
}

#[test]
fn grey_levels_and_gradients_equal_opencv() {
    // Every width the scale filter's patches take (4 to 64 pixels), so OpenCV's vector and scalar loops and
    // their seams are all covered.
    for width in 4..=64 {
        let height = 4 + (width * 7) % 29;
        let mat = frame(width, height, width as u32);
        let levels = grey(&image_of(&mat));
        let mut theirs = Mat::default();
        imgproc::cvt_color_def(&mat, &mut theirs, imgproc::COLOR_BGR2GRAY).unwrap();
        assert_eq!(
            levels,
            theirs.data_bytes().unwrap(),
            "grey {width}x{height}"
        );
        let plane = Plane::from_grey(&levels, height as usize, width as usize);
        let mut scaled = Mat::default();
        theirs
            .convert_to(&mut scaled, CV_32F, 1.0 / 255.0, -0.5)
            .unwrap();
        assert_eq!(
            plane.values,
            scaled.data_typed::<f32>().unwrap(),
            "scaled {width}x{height}"
        );
        for along_columns in [true, false] {
            let mut gradient = Mat::default();
            let (dx, dy) = if along_columns { (1, 0) } else { (0, 1) };
            imgproc::sobel_def(&scaled, &mut gradient, CV_32F, dx, dy).unwrap();
            assert_eq!(
                plane.sobel(along_columns).values,
                gradient.data_typed::<f32>().unwrap(),
                "sobel dx={dx} {width}x{height}"
            );
        }
    }
}

#[test]
fn bicubic_upsampling_equals_opencv_resize() {
    let mut state = 9u32;
    for (rows, cols, up) in [(6, 6, 16), (4, 6, 16), (17, 17, 16), (5, 3, 4)] {
        let map = Array2::from_shape_simple_fn((rows, cols), || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1u32 << 20) as f32 - 8.0
        });
        let small = Mat::new_rows_cols_with_data(rows as i32, cols as i32, map.as_slice().unwrap())
            .unwrap();
        let mut theirs = Mat::default();
        imgproc::resize(
            &small,
            &mut theirs,
            Size::new((cols * up) as i32, (rows * up) as i32),
            0.0,
            0.0,
            imgproc::INTER_CUBIC,
        )
        .unwrap();
        let ours = upsample_cubic(map.view(), up);
        assert_eq!(
            ours.as_slice().unwrap(),
            theirs.data_typed::<f32>().unwrap(),
            "{rows}x{cols} x{up}"
        );
    }
}
