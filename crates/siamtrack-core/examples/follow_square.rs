//! Tracks a red square that crosses a grey frame, with the shipped model and no other file: the frames are made
//! here, in memory. Needs ONNX Runtime's library: `ORT_DYLIB_PATH=/path/to/libonnxruntime.so cargo run --release
//! --example follow_square` (inside the siamtrack repository `.cargo/config.toml` names it).

use siamtrack_core::{BBox, ChannelOrder, EncoderOptions, ImageView, ModelConfig, Tracker};

const WIDTH: usize = 320;
const HEIGHT: usize = 240;
const SIDE: usize = 30;

/// Frame `index`: the square's top-left corner moves 3 pixels right and 1 down per frame.
fn frame(index: usize) -> (Vec<u8>, BBox) {
    let (left, top) = (40 + 3 * index, 60 + index);
    let mut pixels = vec![110u8; WIDTH * HEIGHT * 3];
    for y in top..top + SIDE {
        for x in left..left + SIDE {
            let at = (y * WIDTH + x) * 3;
            // A square with a darker core, in BGR.
            let core = (x - left).abs_diff(SIDE / 2) < 6 && (y - top).abs_diff(SIDE / 2) < 6;
            pixels[at..at + 3].copy_from_slice(if core { &[20, 20, 120] } else { &[40, 40, 220] });
        }
    }
    let truth = BBox::new(left as f64, top as f64, SIDE as f64, SIDE as f64);
    (pixels, truth)
}

fn main() -> Result<(), siamtrack_core::Error> {
    let mut tracker = Tracker::new(&ModelConfig::shipped(), &EncoderOptions::default())?;
    let (first, truth) = frame(0);
    tracker.init(
        &ImageView::new(&first, WIDTH, HEIGHT, ChannelOrder::Bgr)?,
        truth,
    )?;
    for index in 1..60 {
        let (pixels, truth) = frame(index);
        let track = tracker.update(&ImageView::new(&pixels, WIDTH, HEIGHT, ChannelOrder::Bgr)?)?;
        if index % 10 == 0 {
            let b = track.bbox;
            println!(
                "frame {index}: box {:.1},{:.1},{:.1},{:.1} score {:.2} {} (IoU with the truth {:.2})",
                b.x,
                b.y,
                b.w,
                b.h,
                track.score,
                track.state.name(),
                track.bbox.iou(&truth)
            );
        }
    }
    Ok(())
}
