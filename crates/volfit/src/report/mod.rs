//! Reports: self-contained HTML pages (inline CSS and SVG charts) of fit, validate, hedge
//! and allocation runs, and the allocation's output files.

/// The style sheet shared by the hedge and allocation pages, as a literal for `concat!`.
macro_rules! compact_css {
    () => {
        "body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}
table{border-collapse:collapse;font-size:13px;margin:1em 0}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}
figure{margin:1em 0}figcaption{font-size:13px;color:#555}
.note{color:#555;font-size:13px}
"
    };
}

// `alloc`, `hedge` and `html` stay public: each is one page with its own `render` and
// `write_report`/`write_all`, names that would clash if flattened.
pub mod alloc;
mod charts;
mod data;
mod fit_plot;
pub mod fit_truth;
mod fit_views;
pub mod hedge;
pub mod html;
mod panels;
mod validation;
mod verdict;
mod view;
