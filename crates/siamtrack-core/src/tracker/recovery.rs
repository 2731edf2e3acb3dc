//! Re-detection of a lost target. While the target is lost, a region around where it was last seen, growing with each
//! lost frame until it covers the frame, is tiled with search crops at the target's size times each of `scan_scales`;
//! at most `max_scan_tiles` crops go through the encoder per frame, taking turns, so a lost frame costs a bounded
//! amount (the shipped sidecars embed two tiles per lost frame, plus one crop to verify a candidate, besides the box's
//! own search crop: a lost frame costs three to four tracked ones). The template's response scores the tiles; with the
//! target model on, a candidate must also be the model's own peak, so a look-alike that it has learned to reject does
//! not take the target back.

use super::siamese::Motion;
use crate::config::RecoveryParams;
use ndarray::Array2;

/// Spacing of the tiles as a share of the span of target centres one tile's response sees: they overlap by a
/// quarter, so a target is never only on the edges of the tiles that see it, where the template matches it
/// weakly (the generated clip of `tests/track.rs`, whose target comes back on such a seam, was found 80 frames
/// late with abutting tiles and after 3 with these).
const TILE_STEP: f64 = 0.75;

/// One tile: its centre in frame pixels and its scale relative to the nominal search crop.
pub type Tile = ((f64, f64), f64);

/// The geometry of the nominal search crop the tiles are laid out with.
pub struct ScanGeometry {
    /// Side of the nominal search crop, frame pixels.
    pub search_side: f64,
    /// One response cell of the nominal crop, frame pixels.
    pub cell: f64,
    /// Side of a response map, cells.
    pub response_size: usize,
}

impl ScanGeometry {
    /// The tiles to embed this frame, and the cursor for the next one. Every scan scale gets a grid over the
    /// region, spaced by [`TILE_STEP`] of the span of target centres one tile's response sees.
    pub fn tiles(
        &self,
        centre: (f64, f64),
        (width, height): (f64, f64),
        lost_frames: u32,
        cursor: usize,
        p: &RecoveryParams,
    ) -> (Vec<Tile>, usize) {
        let region =
            (self.search_side * p.search_growth.powi(lost_frames as i32)).min(width.max(height));
        let mut grid: Vec<Tile> = Vec::new();
        for &scale in &p.scan_scales {
            let span = (self.response_size as f64 - 1.0).max(1.0) * self.cell * scale * TILE_STEP;
            let axis = |centre: f64, extent: f64| -> Vec<f64> {
                let side = region.min(extent);
                let start = (centre - side / 2.0).clamp(0.0, extent - side);
                let n = (side / span).ceil().max(1.0) as usize;
                (0..n)
                    .map(|i| start + side * (i as f64 + 0.5) / n as f64)
                    .collect()
            };
            let (xs, ys) = (axis(centre.0, width), axis(centre.1, height));
            grid.extend(
                ys.iter()
                    .flat_map(|&y| xs.iter().map(move |&x| ((x, y), scale))),
            );
        }
        let count = grid.len().min(p.max_scan_tiles.max(1));
        let first = cursor % grid.len();
        let tiles = (0..count).map(|i| grid[(first + i) % grid.len()]).collect();
        (tiles, first + count)
    }

    /// The best cell over all tiles' fused maps, as a motion from `centre` (the last known position); `None` when
    /// no map holds a finite value.
    pub fn best_match(
        &self,
        fused: &[Array2<f32>],
        tiles: &[Tile],
        centre: (f64, f64),
    ) -> Option<Motion> {
        let mut best: Option<Motion> = None;
        for (tile, (map, &(tile_centre, scale))) in fused.iter().zip(tiles).enumerate() {
            let cell = self.cell * scale;
            let half = (map.nrows() as f64 - 1.0) / 2.0;
            for ((i, j), &response) in map.indexed_iter() {
                if response.is_finite() && best.is_none_or(|b| response > b.response) {
                    best = Some(Motion {
                        dx: tile_centre.0 + (j as f64 - half) * cell - centre.0,
                        dy: tile_centre.1 + (i as f64 - half) * cell - centre.1,
                        crop_scale: scale,
                        response,
                        map: tile,
                        cell: (i as f64, j as f64),
                    });
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::SIDECAR;
    use crate::config::ModelConfig;

    fn geometry() -> ScanGeometry {
        ScanGeometry {
            search_side: 100.0,
            cell: 100.0 / 255.0 * 8.0,
            response_size: 25,
        }
    }

    #[test]
    fn the_scan_grows_to_cover_the_frame_and_takes_turns() {
        let p = ModelConfig::from_json(SIDECAR).unwrap().tracker.recovery;
        let g = geometry();
        let frame = (640.0, 360.0);
        let (first, cursor) = g.tiles((320.0, 180.0), frame, 1, 0, &p);
        // First a region 1.5 search crops wide around the last position.
        for ((x, y), _) in &first {
            assert!(
                (x - 320.0).abs() <= 75.0 && (y - 180.0).abs() <= 75.0,
                "{x}, {y}"
            );
        }
        // After many lost frames the region is the whole frame: more tiles than one frame may embed.
        let (many, next) = g.tiles((320.0, 180.0), frame, 20, cursor, &p);
        assert_eq!(many.len(), p.max_scan_tiles);
        let (after, _) = g.tiles((320.0, 180.0), frame, 20, next, &p);
        assert_ne!(many, after, "the next frame scans other tiles");
        for ((x, y), _) in many.iter().chain(&after) {
            assert!((0.0..=640.0).contains(x) && (0.0..=360.0).contains(y));
        }
    }

    #[test]
    fn the_best_cell_becomes_a_motion_from_the_last_position() {
        let g = geometry();
        let mut weak = Array2::from_elem((25, 25), 0.1f32);
        let mut strong = weak.clone();
        strong[[12, 14]] = 0.9;
        weak[[0, 0]] = 0.5;
        let tiles = [((50.0, 50.0), 1.0), ((200.0, 80.0), 1.25)];
        let m = g.best_match(&[weak, strong], &tiles, (50.0, 50.0)).unwrap();
        assert_eq!((m.map, m.response), (1, 0.9));
        assert!((m.dx - (150.0 + 2.0 * g.cell * 1.25)).abs() < 1e-9, "{m:?}");
        assert!((m.dy - 30.0).abs() < 1e-9, "{m:?}");
        assert_eq!(m.crop_scale, 1.25);
        let nan = Array2::from_elem((25, 25), f32::NAN);
        assert!(g.best_match(&[nan], &tiles[..1], (0.0, 0.0)).is_none());
    }
}
