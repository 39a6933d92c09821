//! The perpetual-price file reader (`hedge`'s hedge instrument).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    volfit_fuzz::read_perps(data);
});
