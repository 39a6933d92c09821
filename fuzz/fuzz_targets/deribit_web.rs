//! The deribit website-export reader, forced (`--format`), with the `--snapshot-time` it
//! requires, through the public entry point.
#![no_main]

use libfuzzer_sys::fuzz_target;
use volfit::market::{Format, ReadOptions};

fuzz_target!(|data: &[u8]| {
    let opts = ReadOptions {
        snapshot_time_ms: Some(volfit_fuzz::SNAPSHOT_TIME_MS),
        ..ReadOptions::default()
    };
    volfit_fuzz::read_bytes(data, Some(Format::DeribitWeb), opts);
});
