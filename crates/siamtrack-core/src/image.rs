//! Frames as borrowed views of 8-bit colour pixels, and the few image operations the tracker needs: square crops
//! padded with the frame's mean colour, their conversion to encoder input, grey levels, gradients and bicubic
//! upsampling. Each follows OpenCV's arithmetic (`warpAffine` bilinear with 1/32-pixel fixed point,
//! `cvtColor` to grey, `Sobel` 3x3, `resize` bicubic) so that the tracker's results do not depend on which library
//! cut the crops; the CLI's tests compare them with OpenCV's output.

use crate::error::{Error, Result};
use ndarray::{Array2, ArrayView2, ArrayViewMut3};
use serde::{Deserialize, Serialize};

/// The order of a pixel's three colour channels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelOrder {
    /// Blue, green, red: OpenCV's order (`cv2.imread`, `VideoCapture`).
    #[default]
    Bgr,
    /// Red, green, blue: PIL, imageio, most other libraries.
    Rgb,
}

/// A borrowed frame: `height` rows of `width` pixels of three 8-bit channels, read in place (a numpy array or an
/// OpenCV `Mat` needs no copy). A pixel's channels are adjacent; pixels lie `pixel_stride` bytes apart in a row and
/// rows `row_stride` bytes apart, so a view of every second pixel or a region of a larger image is a view too.
///
/// ```
/// use siamtrack_core::{ChannelOrder, ImageView};
/// let pixels = vec![0u8; 4 * 2 * 3]; // 4 x 2 pixels, packed
/// let frame = ImageView::new(&pixels, 4, 2, ChannelOrder::Bgr).unwrap();
/// assert_eq!((frame.width(), frame.height()), (4, 2));
/// // Every second pixel of the same buffer: 2 x 2 pixels.
/// let sparse = ImageView::with_strides(&pixels, 2, 2, 12, 6, ChannelOrder::Bgr).unwrap();
/// assert_eq!(sparse.width(), 2);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ImageView<'a> {
    data: &'a [u8],
    width: usize,
    height: usize,
    row_stride: usize,
    pixel_stride: usize,
    order: ChannelOrder,
}

impl<'a> ImageView<'a> {
    /// A frame of packed rows (`width * 3` bytes each, no padding).
    pub fn new(data: &'a [u8], width: usize, height: usize, order: ChannelOrder) -> Result<Self> {
        Self::with_strides(data, width, height, width * 3, 3, order)
    }

    /// A frame whose rows start `row_stride` bytes apart and whose pixels start `pixel_stride` bytes apart.
    pub fn with_strides(
        data: &'a [u8],
        width: usize,
        height: usize,
        row_stride: usize,
        pixel_stride: usize,
        order: ChannelOrder,
    ) -> Result<Self> {
        if width == 0 || height == 0 {
            return Err(Error::Frame(format!(
                "the frame is empty ({width}x{height} pixels)"
            )));
        }
        if pixel_stride < 3 {
            return Err(Error::Frame(format!(
                "pixels {pixel_stride} bytes apart cannot hold three channels"
            )));
        }
        let needed = (height - 1)
            .checked_mul(row_stride)
            .and_then(|rows| (width - 1).checked_mul(pixel_stride)?.checked_add(rows))
            .and_then(|last| last.checked_add(3));
        match needed {
            Some(needed) if needed <= data.len() => Ok(Self {
                data,
                width,
                height,
                row_stride,
                pixel_stride,
                order,
            }),
            _ => Err(Error::Frame(format!(
                "{} bytes cannot hold {width}x{height} pixels with rows {row_stride} and pixels \
                 {pixel_stride} bytes apart",
                data.len()
            ))),
        }
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn height(&self) -> usize {
        self.height
    }

    pub fn order(&self) -> ChannelOrder {
        self.order
    }
}

/// An owned, packed image of blue-green-red pixels: the crops the tracker cuts.
#[derive(Clone, Debug, PartialEq)]
pub struct BgrImage {
    pub width: usize,
    pub height: usize,
    /// `height` rows of `width` pixels, three bytes each.
    pub data: Vec<u8>,
}

impl BgrImage {
    /// This image as a frame.
    pub fn view(&self) -> ImageView<'_> {
        ImageView::new(&self.data, self.width, self.height, ChannelOrder::Bgr)
            .expect("an image's buffer holds its pixels")
    }
}

/// The frame's mean colour (blue, green, red), which pads crops that reach outside it (SiamFC's convention). Over
/// every pixel of a frame of up to 4 x `MEAN_SAMPLES` pixels; over a grid of at least `MEAN_SAMPLES` of a larger
/// one (every second pixel of every second row, or sparser, as OpenCV's nearest-neighbour `resize` picks them), as
/// the exact mean of a 1080p frame took 0.7 ms of each update, three times the crop's cutting and normalising.
pub fn mean_colour(frame: &ImageView) -> [f64; 3] {
    const MEAN_SAMPLES: f64 = 65536.0;
    let (cols, rows) = (frame.width, frame.height);
    let step = (cols as f64 * rows as f64 / MEAN_SAMPLES).sqrt().floor();
    let (xs, ys): (Vec<usize>, Vec<usize>) = if step <= 1.0 {
        ((0..cols).collect(), (0..rows).collect())
    } else {
        let picks = |extent: usize| {
            let grid = (extent as f64 / step).ceil() as usize;
            let inverse = 1.0 / (grid as f64 / extent as f64);
            (0..grid)
                .map(|i| ((i as f64 * inverse).floor() as usize).min(extent - 1))
                .collect()
        };
        (picks(cols), picks(rows))
    };
    let mut sums = [0u64; 3];
    let packed = xs.len() == cols && frame.pixel_stride == 3;
    for &y in &ys {
        let row = &frame.data[y * frame.row_stride..];
        if packed {
            for px in row[..cols * 3].chunks_exact(3) {
                sums[0] += px[0] as u64;
                sums[1] += px[1] as u64;
                sums[2] += px[2] as u64;
            }
        } else {
            for &x in &xs {
                let px = &row[x * frame.pixel_stride..];
                for c in 0..3 {
                    sums[c] += px[c] as u64;
                }
            }
        }
    }
    let count = (xs.len() * ys.len()) as f64;
    let [first, second, third] = sums.map(|s| s as f64 / count);
    match frame.order {
        ChannelOrder::Bgr => [first, second, third],
        ChannelOrder::Rgb => [third, second, first],
    }
}

/// A colour as the 8-bit pixel that pads a crop (OpenCV rounds a border value to the nearest, ties to even).
pub fn pad_pixel(colour: [f64; 3]) -> [u8; 3] {
    colour.map(|v| v.round_ties_even().clamp(0.0, 255.0) as u8)
}

/// Bits of a coordinate's fraction in the bilinear interpolation (OpenCV's `INTER_BITS`).
const INTER_BITS: u32 = 5;
const INTER_TAB_SIZE: i64 = 1 << INTER_BITS;
/// Fixed-point bits of the mapped coordinates (OpenCV's `AB_BITS`).
const AB_BITS: u32 = 10;
const AB_SCALE: f64 = (1 << AB_BITS) as f64;

/// Crops the rectangle of `size` (width, height, pixels) centred on `centre` (box coordinates, where pixel i spans
/// [i, i+1)) and resizes it bilinearly to `out` (width, height) pixels. Parts outside the frame are `pad`.
pub fn crop_rect(
    frame: &ImageView,
    centre: (f64, f64),
    size: (f64, f64),
    out: (usize, usize),
    pad: [u8; 3],
) -> Result<BgrImage> {
    if !(size.0.is_finite() && size.0 > 0.0 && size.1.is_finite() && size.1 > 0.0) {
        return Err(Error::Crop(format!(
            "a crop's sides must be positive, got {size:?}"
        )));
    }
    let (sx, sy) = (out.0 as f64 / size.0, out.1 as f64 / size.1);
    // The crop centre (pixel-centre coordinates: box coordinate - 0.5) maps onto the centre of the output.
    let (hx, hy) = ((out.0 as f64 - 1.0) / 2.0, (out.1 as f64 - 1.0) / 2.0);
    let forward = [
        sx,
        0.0,
        hx - sx * (centre.0 - 0.5),
        0.0,
        sy,
        hy - sy * (centre.1 - 0.5),
    ];
    Ok(warp_affine(frame, invert_affine(forward), out, pad))
}

/// Crops the square of side `side` centred on `centre` and resizes it to `out` x `out` (see [`crop_rect`]).
pub fn crop_square(
    frame: &ImageView,
    centre: (f64, f64),
    side: f64,
    out: usize,
    pad: [u8; 3],
) -> Result<BgrImage> {
    crop_rect(frame, centre, (side, side), (out, out), pad)
}

/// The inverse of a 2x3 affine map, computed as OpenCV's `warpAffine` does (so the fixed-point coordinates below
/// come out the same).
fn invert_affine(m: [f64; 6]) -> [f64; 6] {
    let d = m[0] * m[4] - m[1] * m[3];
    let d = if d != 0.0 { 1.0 / d } else { 0.0 };
    let (a11, a22) = (m[4] * d, m[0] * d);
    let (m1, m3) = (m[1] * -d, m[3] * -d);
    let b1 = -a11 * m[2] - m1 * m[5];
    let b2 = -m3 * m[2] - a22 * m[5];
    [a11, m1, b1, m3, a22, b2]
}

/// `cvRound` into an `i32`, saturating.
fn round_i32(v: f64) -> i64 {
    v.round_ties_even().clamp(i32::MIN as f64, i32::MAX as f64) as i64
}

/// Output pixel (x, y) samples the frame at `inverse` (x, y), bilinearly, as OpenCV's `warpAffine` does for a
/// map without rotation or shear: coordinates in fixed point with 1/32-pixel steps, weights of 15 bits, neighbours
/// outside the frame `pad`. Without rotation a column's source column and a row's source row are the same for
/// every pixel, so they are worked out once.
fn warp_affine(
    frame: &ImageView,
    inverse: [f64; 6],
    out: (usize, usize),
    pad: [u8; 3],
) -> BgrImage {
    debug_assert!(
        inverse[1] == 0.0 && inverse[3] == 0.0,
        "a map without rotation"
    );
    let round_delta = (AB_SCALE / INTER_TAB_SIZE as f64 / 2.0) as i64;
    let shift = AB_BITS - INTER_BITS;
    // Each output column's source column (byte offset in a row, when inside the frame) and its two weights;
    // likewise each output row's.
    let x0 = round_i32(inverse[2] * AB_SCALE) + round_delta;
    let columns: Vec<Tap> = (0..out.0)
        .map(|x| {
            let fixed = (x0 + round_i32(inverse[0] * x as f64 * AB_SCALE)) >> shift;
            Tap::new(fixed, frame.width, frame.pixel_stride)
        })
        .collect();
    let rows: Vec<Tap> = (0..out.1)
        .map(|y| {
            let fixed =
                (round_i32((inverse[4] * y as f64 + inverse[5]) * AB_SCALE) + round_delta) >> shift;
            Tap::new(fixed, frame.height, frame.row_stride)
        })
        .collect();
    // Work in the frame's channel order; the output is blue, green, red.
    let order = |px: [u8; 3]| match frame.order {
        ChannelOrder::Bgr => px,
        ChannelOrder::Rgb => [px[2], px[1], px[0]],
    };
    let pad = order(pad);
    let mut data = vec![0u8; out.0 * out.1 * 3];
    for (row, out_row) in rows.iter().zip(data.chunks_exact_mut(out.0 * 3)) {
        let lines = row.at.map(|at| at.map(|at| &frame.data[at..]));
        for (column, out_px) in columns.iter().zip(out_row.chunks_exact_mut(3)) {
            let mut sums = [0u32; 3];
            if let ([Some(top), Some(bottom)], [Some(left), Some(right)]) = (lines, column.at) {
                // Inside the frame, as most pixels of most crops are.
                let ([wx0, wx1], [wy0, wy1]) = (column.weights, row.weights);
                let (top, bottom) = (&top[left..right + 3], &bottom[left..right + 3]);
                let step = right - left;
                for c in 0..3 {
                    let upper = top[c] as u32 * wx0 + top[step + c] as u32 * wx1;
                    let lower = bottom[c] as u32 * wx0 + bottom[step + c] as u32 * wx1;
                    sums[c] = upper * wy0 + lower * wy1;
                }
            } else {
                sums = border_sums(lines, column, row.weights, pad);
            }
            // OpenCV's weights are the products times 32, its rounding 2^14 >> 15: the same as 2^9 >> 10 here.
            let value = |c: usize| ((sums[c] + (1 << 9)) >> 10).min(255) as u8;
            let [first, second, third] = order([value(0), value(1), value(2)]);
            out_px.copy_from_slice(&[first, second, third]);
        }
    }
    BgrImage {
        width: out.0,
        height: out.1,
        data,
    }
}

/// The weighted sums of a pixel whose neighbours reach outside the frame (`pad` there).
fn border_sums(
    lines: [Option<&[u8]>; 2],
    column: &Tap,
    row_weights: [u32; 2],
    pad: [u8; 3],
) -> [u32; 3] {
    let mut sums = [0u32; 3];
    for (line, wy) in lines.iter().zip(row_weights) {
        let mut across = [0u32; 3];
        for (at, wx) in column.at.iter().zip(column.weights) {
            let px = match (line, at) {
                (Some(line), Some(at)) => &line[*at..*at + 3],
                _ => &pad[..],
            };
            for c in 0..3 {
                across[c] += px[c] as u32 * wx;
            }
        }
        for c in 0..3 {
            sums[c] += across[c] * wy;
        }
    }
    sums
}

/// Where an output column (or row) samples the frame: the byte offsets of its two source columns (rows), `None`
/// outside the frame, and their weights in 1/32 steps.
struct Tap {
    at: [Option<usize>; 2],
    weights: [u32; 2],
}

impl Tap {
    /// From the fixed-point coordinate (1/32 pixel) on an axis of `extent` pixels `stride` bytes apart.
    fn new(fixed: i64, extent: usize, stride: usize) -> Self {
        let (index, fraction) = (fixed >> INTER_BITS, (fixed & (INTER_TAB_SIZE - 1)) as u32);
        let inside = |i: i64| (i >= 0 && (i as usize) < extent).then(|| i as usize * stride);
        Tap {
            at: [inside(index), inside(index + 1)],
            weights: [INTER_TAB_SIZE as u32 - fraction, fraction],
        }
    }
}

/// One crop into its normalised planes [3, rows, cols] (contiguous) of an encoder batch, in `order`:
/// `(pixel / 255 - mean) / std` per channel, with `mean` and `std` given in that order.
pub fn fill_planes(
    crop: &BgrImage,
    order: ChannelOrder,
    mean: [f32; 3],
    std: [f32; 3],
    mut planes: ArrayViewMut3<f32>,
) -> Result<()> {
    let (_, rows, cols) = planes.dim();
    if crop.height != rows || crop.width != cols {
        return Err(Error::Crop(format!(
            "a {}x{} crop cannot fill {cols}x{rows} planes",
            crop.width, crop.height
        )));
    }
    let gain: [f32; 3] = std::array::from_fn(|c| 1.0 / (255.0 * std[c]));
    let offset: [f32; 3] = std::array::from_fn(|c| mean[c] / std[c]);
    let values = planes
        .as_slice_mut()
        .ok_or_else(|| Error::Crop("encoder input planes must be contiguous".into()))?;
    let (first, rest) = values.split_at_mut(rows * cols);
    let (second, third) = rest.split_at_mut(rows * cols);
    let planes = [first, second, third];
    match order {
        ChannelOrder::Rgb => normalise(&crop.data, planes, gain, offset, |[b, g, r]| [r, g, b]),
        ChannelOrder::Bgr => normalise(&crop.data, planes, gain, offset, |px| px),
    }
    Ok(())
}

/// `value * gain - offset` of each pixel's channels, taken in `order`, into three planes: one pass over the
/// pixels, the order fixed at compile time (a pass per channel, with the channel looked up per pixel, took about
/// 0.06 ms more a 191-px crop).
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

/// Grey levels of an image as OpenCV's `cvtColor(BGR2GRAY)` computes them (0.299 R + 0.587 G + 0.114 B in 15-bit
/// fixed point), one row after another.
pub fn grey(image: &BgrImage) -> Vec<u8> {
    const SHIFT: u32 = 15;
    const B: u32 = 3735;
    const G: u32 = 19235;
    const R: u32 = 9798;
    image
        .data
        .chunks_exact(3)
        .map(|px| {
            let sum = px[0] as u32 * B + px[1] as u32 * G + px[2] as u32 * R + (1 << (SHIFT - 1));
            (sum >> SHIFT) as u8
        })
        .collect()
}

/// A plane of float values, `rows` x `cols`, one row after another.
#[derive(Clone, Debug, PartialEq)]
pub struct Plane {
    pub rows: usize,
    pub cols: usize,
    pub values: Vec<f32>,
}

impl Plane {
    /// Grey levels scaled to -0.5..0.5 (`level / 255 - 0.5`, one rounding, as OpenCV's `convertTo` computes it).
    pub fn from_grey(levels: &[u8], rows: usize, cols: usize) -> Plane {
        // Built once: the scale filter converts about 34 patches a frame.
        static TABLE: std::sync::LazyLock<[f32; 256]> = std::sync::LazyLock::new(|| {
            let (scale, shift) = (1.0f32 / 255.0, -0.5f32);
            std::array::from_fn(|v| (v as f32).mul_add(scale, shift))
        });
        let table = &*TABLE;
        Plane {
            rows,
            cols,
            values: levels.iter().map(|&v| table[v as usize]).collect(),
        }
    }

    #[inline]
    fn at(&self, row: usize, col: usize) -> f32 {
        self.values[row * self.cols + col]
    }

    /// OpenCV's default border: the neighbour of an edge is mirrored without repeating the edge (`-1` is `1`).
    #[inline]
    fn reflect(i: isize, extent: usize) -> usize {
        let n = extent as isize;
        if n == 1 {
            return 0;
        }
        let mut i = i;
        while i < 0 || i >= n {
            i = if i < 0 { -i } else { 2 * n - 2 - i };
        }
        i as usize
    }

    /// The 3x3 Sobel derivative along the columns (`dx`) or the rows (`dy`), as OpenCV's `Sobel` computes it
    /// in floats (a difference along the axis, then the 1-2-1 smoothing across it), borders mirrored. The
    /// smoothing adds its three terms in the order OpenCV's x86-64 build does (see `smooth_order`), so the
    /// values are the same to the last bit.
    pub fn sobel(&self, along_columns: bool) -> Plane {
        let (rows, cols) = (self.rows, self.cols);
        let near = |i: usize, d: isize, extent: usize| Self::reflect(i as isize + d, extent);
        let mut first = vec![0f32; rows * cols];
        // The horizontal pass.
        for r in 0..rows {
            for c in 0..cols {
                let (left, right) = (self.at(r, near(c, -1, cols)), self.at(r, near(c, 1, cols)));
                first[r * cols + c] = match along_columns {
                    true => right - left,
                    false => smooth_order(c, cols, true).sum(left, self.at(r, c), right),
                };
            }
        }
        // The vertical pass.
        let mut values = vec![0f32; rows * cols];
        for r in 0..rows {
            let (up, down) = (near(r, -1, rows), near(r, 1, rows));
            for c in 0..cols {
                let (a, b, d) = (
                    first[up * cols + c],
                    first[r * cols + c],
                    first[down * cols + c],
                );
                values[r * cols + c] = match along_columns {
                    true => smooth_order(c, cols, false).sum(a, b, d),
                    false => d - a,
                };
            }
        }
        Plane { rows, cols, values }
    }
}

/// The order in which a 1-2-1 smoothing adds its terms.
#[derive(Clone, Copy)]
enum SmoothOrder {
    /// `(a + c) + 2b`: OpenCV's vectorised loops.
    OutersFirst,
    /// `a + 2b + c`: its scalar loops.
    LeftToRight,
}

impl SmoothOrder {
    fn sum(self, a: f32, b: f32, c: f32) -> f32 {
        match self {
            Self::OutersFirst => (a + c) + b * 2.0,
            Self::LeftToRight => a + b * 2.0 + c,
        }
    }
}

/// How OpenCV's 3x3 filters add the 1-2-1 terms of column `c` of `cols`: runs of 8 floats in vector registers,
/// then the rest in scalar code; the row filter's scalar code takes pairs of columns, and a last column left
/// over by them in vector order.
fn smooth_order(c: usize, cols: usize, row_filter: bool) -> SmoothOrder {
    const LANES: usize = 8;
    let vectorised = cols / LANES * LANES;
    let paired = vectorised + (cols - vectorised) / 2 * 2;
    if c < vectorised || (row_filter && c >= paired) {
        SmoothOrder::OutersFirst
    } else {
        SmoothOrder::LeftToRight
    }
}

/// Keys's cubic convolution weights (a = -0.75) of the four neighbours of a point `x` past the second, in floats
/// as OpenCV's `resize` computes them.
fn cubic_weights(x: f32) -> [f32; 4] {
    const A: f32 = -0.75;
    let w0 = ((A * (x + 1.0) - 5.0 * A) * (x + 1.0) + 8.0 * A) * (x + 1.0) - 4.0 * A;
    let w1 = ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    let w2 = ((A + 2.0) * (1.0 - x) - (A + 3.0)) * (1.0 - x) * (1.0 - x) + 1.0;
    [w0, w1, w2, 1.0 - w0 - w1 - w2]
}

/// For each of `out` samples over `extent` source cells: the first of its four source cells (clamped to the
/// source at its edges) and their weights. Output cell u samples the source at (u + 0.5) / up - 0.5.
fn cubic_taps(extent: usize, out: usize) -> Vec<([usize; 4], [f32; 4])> {
    let scale = 1.0 / (out as f64 / extent as f64);
    (0..out)
        .map(|u| {
            let f = ((u as f64 + 0.5) * scale - 0.5) as f32;
            let floor = f.floor();
            let weights = cubic_weights(f - floor);
            let clamp = |k: isize| (floor as isize - 1 + k).clamp(0, extent as isize - 1) as usize;
            ([clamp(0), clamp(1), clamp(2), clamp(3)], weights)
        })
        .collect()
}

/// `map` upsampled `up` times each way by bicubic interpolation (OpenCV's `resize` with `INTER_CUBIC`: rows first,
/// edges replicated).
pub fn upsample_cubic(map: ArrayView2<f32>, up: usize) -> Array2<f32> {
    let (rows, cols) = map.dim();
    let (out_rows, out_cols) = (rows * up, cols * up);
    let across = cubic_taps(cols, out_cols);
    let down = cubic_taps(rows, out_rows);
    // Each source row resampled along its columns.
    let horizontal = Array2::from_shape_fn((rows, out_cols), |(r, u)| {
        let (taps, w) = &across[u];
        map[[r, taps[0]]] * w[0]
            + map[[r, taps[1]]] * w[1]
            + map[[r, taps[2]]] * w[2]
            + map[[r, taps[3]]] * w[3]
    });
    // The rows combined last term first, as OpenCV's vectorised vertical pass sums them.
    Array2::from_shape_fn((out_rows, out_cols), |(v, u)| {
        let (taps, w) = &down[v];
        horizontal[[taps[0], u]] * w[0]
            + (horizontal[[taps[1], u]] * w[1]
                + (horizontal[[taps[2], u]] * w[2] + horizontal[[taps[3], u]] * w[3]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame whose pixel (x, y) holds (x, y, 7) in BGR, so crops reveal where they came from.
    fn coordinate_frame(width: usize, height: usize) -> BgrImage {
        let mut data = Vec::with_capacity(width * height * 3);
        for y in 0..height {
            for x in 0..width {
                data.extend([x as u8, y as u8, 7]);
            }
        }
        BgrImage {
            width,
            height,
            data,
        }
    }

    fn pixel(image: &BgrImage, x: usize, y: usize) -> [u8; 3] {
        read(&image.view(), x, y)
    }

    /// A frame's pixel as blue, green, red: the one-pixel crop around it.
    fn read(view: &ImageView, x: usize, y: usize) -> [u8; 3] {
        let crop = crop_square(view, (x as f64 + 0.5, y as f64 + 0.5), 1.0, 1, [0; 3]).unwrap();
        [crop.data[0], crop.data[1], crop.data[2]]
    }

    #[test]
    fn views_check_their_extent_and_read_strided_and_rgb_pixels() {
        let frame = coordinate_frame(6, 4);
        assert!(ImageView::new(&frame.data, 6, 5, ChannelOrder::Bgr).is_err());
        assert!(ImageView::new(&frame.data, 0, 4, ChannelOrder::Bgr).is_err());
        assert!(ImageView::with_strides(&frame.data, 6, 4, 18, 2, ChannelOrder::Bgr).is_err());
        // Every second pixel of every second row.
        let sparse = ImageView::with_strides(&frame.data, 3, 2, 36, 6, ChannelOrder::Bgr).unwrap();
        assert_eq!(read(&sparse, 2, 1), [4, 2, 7]);
        let rgb = ImageView::new(&frame.data, 6, 4, ChannelOrder::Rgb).unwrap();
        assert_eq!(read(&rgb, 5, 3), [7, 3, 5]);
        // Read as RGB, the same bytes' mean has its first and last channels swapped.
        let [b, g, r] = mean_colour(&frame.view());
        assert_eq!(mean_colour(&rgb), [r, g, b]);
    }

    #[test]
    fn mean_colour_is_exact_on_small_frames_and_sampled_close_on_large_ones() {
        // Left third (0, 90, 200), the rest (30, 60, 240): on 640 x 410 = 262,400 pixels, just above 4 x 65,536.
        let frame = |cols: usize, rows: usize| {
            let mut data = Vec::with_capacity(cols * rows * 3);
            for _ in 0..rows {
                for x in 0..cols {
                    data.extend(if x < cols / 3 {
                        [0, 90, 200]
                    } else {
                        [30, 60, 240]
                    });
                }
            }
            BgrImage {
                width: cols,
                height: rows,
                data,
            }
        };
        let exact = |cols: usize| {
            let third = (cols / 3) as f64 / cols as f64;
            [
                30.0 * (1.0 - third),
                90.0 * third + 60.0 * (1.0 - third),
                200.0 * third + 240.0 * (1.0 - third),
            ]
        };
        let small = frame(480, 360);
        let mean = mean_colour(&small.view());
        for c in 0..3 {
            assert!((mean[c] - exact(480)[c]).abs() < 1e-9, "{mean:?}");
        }
        for (cols, rows) in [(640, 410), (1920, 1080)] {
            let sampled = mean_colour(&frame(cols, rows).view());
            for c in 0..3 {
                assert!(
                    (sampled[c] - exact(cols)[c]).abs() < 0.5,
                    "{cols}x{rows}: {sampled:?}"
                );
            }
        }
    }

    #[test]
    fn unscaled_crop_copies_the_pixels_around_the_centre() {
        let frame = coordinate_frame(100, 80);
        // Centre (50.5, 40.5) is the middle of pixel (50, 40); an 11-px crop spans pixels 45..=55, 35..=45.
        let crop = crop_square(&frame.view(), (50.5, 40.5), 11.0, 11, [0; 3]).unwrap();
        assert_eq!(pixel(&crop, 0, 0), [45, 35, 7]);
        assert_eq!(pixel(&crop, 5, 5), [50, 40, 7]);
        assert_eq!(pixel(&crop, 10, 10), [55, 45, 7]);
    }

    #[test]
    fn scaled_crop_halves_coordinates() {
        let frame = coordinate_frame(100, 80);
        // A 20-px square starting at pixel 30 resized to 10: output pixel j samples source 30.5 + 2j.
        let crop = crop_square(&frame.view(), (40.0, 40.0), 20.0, 10, [0; 3]).unwrap();
        assert!((pixel(&crop, 0, 0)[0] as i32 - 31).abs() <= 1);
        assert!((pixel(&crop, 9, 9)[0] as i32 - 49).abs() <= 1);
    }

    #[test]
    fn outside_the_frame_is_padded_with_the_given_colour() {
        let frame = coordinate_frame(20, 20);
        let crop = crop_square(&frame.view(), (0.0, 0.0), 10.0, 10, [1, 2, 3]).unwrap();
        // Top-left quarter lies outside the frame, bottom-right inside.
        assert_eq!(pixel(&crop, 0, 0), [1, 2, 3]);
        assert_eq!(pixel(&crop, 9, 9), [4, 4, 7]);
        let far = crop_square(&frame.view(), (500.0, 500.0), 10.0, 10, [1, 2, 3]).unwrap();
        assert_eq!(pixel(&far, 5, 5), [1, 2, 3]);
        assert!(crop_square(&frame.view(), (5.0, 5.0), 0.0, 10, [0; 3]).is_err());
    }

    #[test]
    fn tensor_is_normalised_in_the_model_order() {
        let crop = BgrImage {
            width: 2,
            height: 1,
            data: vec![255, 0, 51, 0, 0, 0],
        };
        let mut planes = ndarray::Array3::zeros((3, 1, 2));
        fill_planes(
            &crop,
            ChannelOrder::Rgb,
            [0.5; 3],
            [0.5; 3],
            planes.view_mut(),
        )
        .unwrap();
        // BGR (255, 0, 51) -> RGB (0.2, 0, 1) -> (v - 0.5) / 0.5.
        assert!((planes[[0, 0, 0]] - (-0.6)).abs() < 1e-6);
        assert!((planes[[1, 0, 0]] - (-1.0)).abs() < 1e-6);
        assert!((planes[[2, 0, 0]] - 1.0).abs() < 1e-6);
        assert!(fill_planes(
            &crop,
            ChannelOrder::Rgb,
            [0.5; 3],
            [0.5; 3],
            ndarray::Array3::zeros((3, 2, 2)).view_mut()
        )
        .is_err());
    }

    #[test]
    fn grey_weighs_green_most() {
        let image = BgrImage {
            width: 3,
            height: 1,
            data: vec![255, 0, 0, 0, 255, 0, 0, 0, 255],
        };
        assert_eq!(grey(&image), [29, 150, 76]); // 0.114, 0.587, 0.299 of 255
    }

    #[test]
    fn sobel_finds_a_vertical_edge_and_mirrors_the_border() {
        // Columns 0 0 1 1: dx is 4 (= 2 x the 1-2-1 sum of 1) beside the edge, 0 at the mirrored borders.
        let plane = Plane {
            rows: 3,
            cols: 4,
            values: [0.0, 0.0, 1.0, 1.0].repeat(3),
        };
        let dx = plane.sobel(true);
        assert_eq!(&dx.values[4..8], &[0.0, 4.0, 4.0, 0.0]);
        assert!(plane.sobel(false).values.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn cubic_upsampling_keeps_a_constant_and_a_ramp() {
        let flat = Array2::from_elem((3, 4), 2.5f32);
        assert!(upsample_cubic(flat.view(), 4)
            .iter()
            .all(|&v| (v - 2.5).abs() < 1e-6));
        // A ramp along the columns: output u sits at (u + 0.5) / 4 - 0.5.
        let ramp = Array2::from_shape_fn((2, 5), |(_, c)| c as f32);
        let up = upsample_cubic(ramp.view(), 4);
        assert_eq!(up.dim(), (8, 20));
        // Keys's a = -0.75 follows a ramp closely, not exactly.
        assert!((up[[3, 10]] - 2.125).abs() < 0.05, "{}", up[[3, 10]]);
        assert!(up.row(3).windows(2).into_iter().all(|w| w[1] >= w[0]));
    }
}
