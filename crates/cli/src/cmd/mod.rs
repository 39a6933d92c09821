//! One module per subcommand, each a clap `Args` struct and a `run` function; and what they
//! share: the worker-thread flag and the closing "wrote … in … s" line.

pub mod allocate;
pub mod deephedge;
pub mod demo;
pub mod fit;
pub mod hedge;
pub mod input;
pub mod iv;
pub mod quotes;
pub mod report;
pub mod risk;
pub mod surrogate;
pub mod synth;
pub mod validate;

use std::path::Path;
use std::time::Instant;

/// Most worker threads per core: more only add switching.
pub const THREADS_PER_CORE: usize = 4;

/// The `--threads` flag shared by the parallel commands.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct Threads {
    /// Worker threads: 0 (the default) = one per core; at most 4 per core (more are
    /// lowered to that, with a notice). Results do not depend on it.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

impl Threads {
    /// The number of threads to start: 0 = one per core, and at most
    /// [`THREADS_PER_CORE`] × the cores (a larger request is lowered, with a notice on
    /// stderr).
    pub fn count(self) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let max = THREADS_PER_CORE * cores;
        match self.threads {
            None | Some(0) => cores,
            Some(n) if n > max => {
                eprintln!(
                    "volfit: --threads {n} is more than {THREADS_PER_CORE} per core; using {max} \
                     ({cores} cores)"
                );
                max
            }
            Some(n) => n,
        }
    }

    /// A worker pool of [`Threads::count`] threads.
    ///
    /// # Errors
    /// The threads cannot be started.
    pub fn pool(self) -> anyhow::Result<rayon::ThreadPool> {
        use anyhow::Context;
        rayon::ThreadPoolBuilder::new()
            .num_threads(self.count())
            .build()
            .context("starting worker threads")
    }
}

/// Runs `f` with a counted progress bar on stderr (only on a terminal, not with `quiet`):
/// `f` gets a callback `(done, total)` for the library loop, callable from any thread.
pub fn with_counted<T>(
    what: &str,
    quiet: bool,
    f: impl FnOnce(&(dyn Fn(usize, usize) + Sync)) -> T,
) -> T {
    use std::io::IsTerminal;
    let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        let template = format!("{what} {{bar:40}} {{pos}}/{{len}} eta {{eta}}");
        if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
            bar.set_style(style);
        }
        bar
    });
    let out = f(&|done, total| {
        if let Some(b) = &bar {
            b.set_length(total as u64);
            // Workers finish out of order: never move the bar back.
            b.set_position(b.position().max(done as u64));
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    out
}

/// Prints (stderr, unless `quiet`) the files a command wrote into `dir` and its elapsed time.
pub fn print_written(dir: &Path, files: &[String], start: Instant, quiet: bool) {
    if !quiet {
        eprintln!(
            "wrote {} files in {}/: {} ({:.1} s)",
            files.len(),
            dir.display(),
            files.join(", "),
            start.elapsed().as_secs_f64()
        );
    }
}

/// Prints (stderr, unless `quiet`) one file a command wrote and its elapsed time.
pub fn print_wrote_file(path: &Path, start: Instant, quiet: bool) {
    if !quiet && path.as_os_str() != "-" {
        eprintln!("wrote {} ({:.1} s)", path.display(), start.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_are_bounded_and_zero_means_one_per_core() {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        assert_eq!(Threads { threads: Some(0) }.count(), cores);
        assert_eq!(Threads { threads: None }.count(), cores);
        assert_eq!(Threads { threads: Some(1) }.count(), 1);
        assert_eq!(Threads { threads: Some(100_000) }.count(), THREADS_PER_CORE * cores);
    }
}
