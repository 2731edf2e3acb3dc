//! A colour model of the target against its surroundings (as in Staple and CSRT's spatial reliability): joint
//! colour histograms of the box and of the ring around it give each pixel of a search crop a probability of
//! belonging to the target; the mean of that probability over a box-sized window is a response that does not care
//! how the target deforms, and that a template of ImageNet features blurred by the background lacks.

use crate::image::BgrImage;
use ndarray::Array2;

/// Bins per colour channel; the histogram is joint over the three (32^3 bins, as in Staple).
const BINS: usize = 32;

/// A box in crop pixels: centre (x, y) and size (width, height).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CropBox {
    pub centre: (f64, f64),
    pub size: (f64, f64),
}

pub struct ColourModel {
    /// Colour frequencies inside the box and in the ring around it, each summing to 1.
    foreground: Vec<f32>,
    background: Vec<f32>,
    learning_rate: f32,
    /// How well the first frame's colours told the target from its surroundings: the mean target probability
    /// inside the box minus that in the ring around it (0: not at all, 1: perfectly).
    separation: f32,
}

fn bin(px: &[u8]) -> usize {
    let q = |v: u8| v as usize * BINS / 256;
    (q(px[0]) * BINS + q(px[1])) * BINS + q(px[2])
}

fn pixels(crop: &BgrImage) -> (&[u8], usize, usize) {
    (&crop.data, crop.height, crop.width)
}

/// Normalised histograms of the pixels inside `target` and of those in the ring between it and the target grown
/// to twice its size (clipped to the crop). Pixels inside count with an Epanechnikov kernel's weight (1 at the
/// centre, 0 outside the ellipse the box inscribes), as in mean-shift tracking: a box's corners and edges hold
/// more of the background than its centre does.
fn histograms(crop: &BgrImage, target: CropBox) -> (Vec<f32>, Vec<f32>) {
    let (data, rows, cols) = pixels(crop);
    let (mut fg, mut bg) = (vec![0f32; BINS.pow(3)], vec![0f32; BINS.pow(3)]);
    let inside = |x: f64, y: f64, scale: f64| {
        (x - target.centre.0).abs() <= target.size.0 * scale / 2.0
            && (y - target.centre.1).abs() <= target.size.1 * scale / 2.0
    };
    for y in 0..rows {
        for x in 0..cols {
            let (fx, fy) = (x as f64, y as f64);
            let b = bin(&data[(y * cols + x) * 3..]);
            if inside(fx, fy, 1.0) {
                let dx = (fx - target.centre.0) / (target.size.0 / 2.0);
                let dy = (fy - target.centre.1) / (target.size.1 / 2.0);
                fg[b] += (1.0 - dx * dx - dy * dy).max(0.0) as f32;
            } else if inside(fx, fy, 2.0) {
                bg[b] += 1.0;
            }
        }
    }
    for h in [&mut fg, &mut bg] {
        let total: f32 = h.iter().sum();
        if total > 0.0 {
            h.iter_mut().for_each(|v| *v /= total);
        }
    }
    (fg, bg)
}

impl ColourModel {
    /// Learns the target's colours from a crop in which it fills `target`.
    pub fn new(crop: &BgrImage, target: CropBox, learning_rate: f64) -> Self {
        let (foreground, background) = histograms(crop, target);
        let mut model = Self {
            foreground,
            background,
            learning_rate: learning_rate as f32,
            separation: 0.0,
        };
        // The ring's mean probability is the histograms' overlap seen from the background's side, and the box's
        // from the target's: sum over colours of frequency x probability.
        let mean = |weights: &[f32]| -> f32 {
            weights
                .iter()
                .zip(model.foreground.iter().zip(&model.background))
                .map(|(w, (&f, &g))| if f + g > 0.0 { w * f / (f + g) } else { 0.0 })
                .sum()
        };
        model.separation = (mean(&model.foreground) - mean(&model.background)).max(0.0);
        model
    }

    /// See [`ColourModel::separation`]: how much the colour response can be trusted.
    pub fn separation(&self) -> f32 {
        self.separation
    }

    /// Blends in the colours of a crop where the target was found in `target`.
    pub fn update(&mut self, crop: &BgrImage, target: CropBox) {
        let (fg, bg) = histograms(crop, target);
        let rate = self.learning_rate;
        for (model, new) in [(&mut self.foreground, fg), (&mut self.background, bg)] {
            model
                .iter_mut()
                .zip(new)
                .for_each(|(m, n)| *m = (1.0 - rate) * *m + rate * n);
        }
    }

    /// The mean target probability over a window of `window` (width, height, crop pixels) centred on each cell of
    /// a `cells` x `cells` grid whose cell (i, j) lies at `centre + (j, i) * stride` crop pixels from the crop's
    /// centre minus `(cells - 1) / 2` strides: the response grid of the Siamese maps.
    pub fn respond(
        &self,
        crop: &BgrImage,
        window: (f64, f64),
        cells: usize,
        stride: f64,
    ) -> Array2<f32> {
        let (data, rows, cols) = pixels(crop);
        // Integral image of the per-pixel probability.
        let mut integral = vec![0f64; (rows + 1) * (cols + 1)];
        for y in 0..rows {
            let mut row_sum = 0.0;
            for x in 0..cols {
                let b = bin(&data[(y * cols + x) * 3..]);
                let (f, g) = (self.foreground[b], self.background[b]);
                let p = if f + g > 0.0 { f / (f + g) } else { 0.5 };
                row_sum += p as f64;
                integral[(y + 1) * (cols + 1) + x + 1] = integral[y * (cols + 1) + x + 1] + row_sum;
            }
        }
        let sum = |x0: usize, y0: usize, x1: usize, y1: usize| {
            integral[y1 * (cols + 1) + x1]
                - integral[y0 * (cols + 1) + x1]
                - integral[y1 * (cols + 1) + x0]
                + integral[y0 * (cols + 1) + x0]
        };
        let half = (cells as f64 - 1.0) / 2.0;
        let (cx, cy) = ((cols as f64 - 1.0) / 2.0, (rows as f64 - 1.0) / 2.0);
        let span = |centre: f64, extent: f64, limit: usize| {
            let lo = (centre - extent / 2.0).round().clamp(0.0, limit as f64) as usize;
            let hi = (centre + extent / 2.0).round().clamp(0.0, limit as f64) as usize;
            (lo, hi.max(lo))
        };
        Array2::from_shape_fn((cells, cells), |(i, j)| {
            let (x0, x1) = span(cx + (j as f64 - half) * stride, window.0, cols);
            let (y0, y1) = span(cy + (i as f64 - half) * stride, window.1, rows);
            let area = ((x1 - x0) * (y1 - y0)) as f64;
            if area > 0.0 {
                (sum(x0, y0, x1, y1) / area) as f32
            } else {
                0.0
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A grey 64x64 crop with a red 10x10 square centred at (x, y) and a green one elsewhere.
    fn crop_with(red: (i32, i32), green: (i32, i32)) -> BgrImage {
        let mut crop = BgrImage {
            width: 64,
            height: 64,
            data: vec![128; 64 * 64 * 3],
        };
        for (centre, colour) in [(red, [0, 0, 255]), (green, [0, 255, 0])] {
            for y in centre.1 - 5..centre.1 + 5 {
                for x in centre.0 - 5..centre.0 + 5 {
                    if (0..64).contains(&x) && (0..64).contains(&y) {
                        let at = (y as usize * 64 + x as usize) * 3;
                        crop.data[at..at + 3].copy_from_slice(&colour);
                    }
                }
            }
        }
        crop
    }

    #[test]
    fn the_box_centre_counts_more_than_its_edges() {
        // A 20x20 box, grey but for a red 10x10 square at its centre: a quarter of its pixels, more than a third
        // of its kernel weight.
        let crop = crop_with((32, 32), (-20, -20));
        let target = CropBox {
            centre: (31.5, 31.5),
            size: (20.0, 20.0),
        };
        let (foreground, _) = histograms(&crop, target);
        let red = foreground[bin(&[0, 0, 255])];
        assert!(red > 0.35, "red share {red}");
    }

    #[test]
    fn the_target_colour_wins_wherever_it_moves() {
        let first = crop_with((32, 32), (10, 10));
        let target = CropBox {
            centre: (31.5, 31.5),
            size: (10.0, 10.0),
        };
        let model = ColourModel::new(&first, target, 0.04);
        // Next crop: the red target moved right by 16 px, the green square sits at the centre.
        let next = crop_with((48, 32), (32, 32));
        let response = model.respond(&next, (10.0, 10.0), 9, 8.0);
        let best = response
            .indexed_iter()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        // Cell (4, 6) lies 2 strides = 16 px right of the centre.
        assert_eq!(best, (4, 6), "{response:?}");
        assert!(
            response[[4, 6]] > 0.8 && response[[4, 4]] <= 0.5,
            "{response:?}"
        );
    }
}
