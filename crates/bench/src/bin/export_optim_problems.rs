//! Writes the optimizer benchmark problems (NIST StRD data and the seeded smiles) as JSON, so
//! the Python peer script (`crates/bench/peers/least_squares_scipy.py`) solves exactly the same
//! data. Usage: `export_optim_problems OUT.json`.

use serde_json::json;
use volfit_bench::problems::standard::NIST;
use volfit_bench::problems::{
    Smile, HUBER_SCALE, OUTLIER_JUMP, SMILE_NOISE, SMILE_SEED, SVI_START, SVI_TRUE,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args().nth(1).ok_or("usage: export_optim_problems OUT.json")?;
    let nist: Vec<_> = NIST
        .iter()
        .map(|p| {
            json!({
                "name": p.name, "x": p.x, "y": p.y, "start1": p.start1, "start2": p.start2,
                "certified": p.certified, "rss": p.rss,
            })
        })
        .collect();
    let smile = Smile::noisy(SMILE_SEED, SMILE_NOISE);
    let outl = Smile::with_outliers(SMILE_SEED, SMILE_NOISE, OUTLIER_JUMP);
    let doc = json!({
        "nist": nist,
        "smile": { "k": smile.k, "w": smile.w, "start": SVI_START, "true": SVI_TRUE },
        "smile_outliers": { "k": outl.k, "w": outl.w, "start": SVI_START, "true": SVI_TRUE, "huber_scale": HUBER_SCALE },
    });
    std::fs::write(&out, serde_json::to_string_pretty(&doc)?)?;
    println!("wrote {out}");
    Ok(())
}
