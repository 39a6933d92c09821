//! Seeded weight initialisation. Biases start at zero.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Uniform};

/// How the weights of a dense layer with `fan_in` inputs and `fan_out` outputs are drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Init {
    /// He et al. (2015): `N(0, 2/fan_in)`, for ReLU/ELU layers.
    #[default]
    He,
    /// Glorot & Bengio (2010): `U(±√(6/(fan_in + fan_out)))`, for tanh/sigmoid layers.
    Glorot,
    /// `N(0, std²)` whatever the layer's size (to study poor initialisations).
    Normal {
        /// Standard deviation.
        std: f64,
    },
}

impl Init {
    /// Fills `w` (a `fan_out × fan_in` block) from `rng`.
    pub(crate) fn fill(self, w: &mut [f64], fan_in: usize, fan_out: usize, rng: &mut ChaCha8Rng) {
        let (fi, fo) = (fan_in.max(1) as f64, fan_out.max(1) as f64);
        match self {
            Init::He => sample(w, Normal::new(0.0, (2.0 / fi).sqrt()).ok(), rng),
            Init::Glorot => {
                let l = (6.0 / (fi + fo)).sqrt();
                sample(w, Uniform::new_inclusive(-l, l).ok(), rng);
            }
            Init::Normal { std } => sample(w, Normal::new(0.0, std.abs()).ok(), rng),
        }
    }

    /// A generator for `seed`.
    pub(crate) fn rng(seed: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(seed)
    }
}

fn sample<D: Distribution<f64>>(w: &mut [f64], d: Option<D>, rng: &mut ChaCha8Rng) {
    match d {
        Some(d) => w.iter_mut().for_each(|v| *v = d.sample(rng)),
        // A non-finite standard deviation: no valid distribution, start from zero.
        None => w.iter_mut().for_each(|v| *v = 0.0),
    }
}
