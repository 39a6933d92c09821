//! The deribit book reader, forced (`--format`), through the public entry point.
#![no_main]

use libfuzzer_sys::fuzz_target;
use volfit::market::{Format, ReadOptions};

fuzz_target!(|data: &[u8]| {
    volfit_fuzz::read_bytes(data, Some(Format::DeribitBook), ReadOptions::default());
});
