//! `--bbox` strings: parsing never panics, and an accepted box is finite with positive size.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    siamtrack::fuzzing::check_box_text(text);
});
