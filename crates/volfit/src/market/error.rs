//! `market::Error`: every failure names the file, and where it applies the line and field.

use std::fmt;
use std::path::{Path, PathBuf};

use super::clean::Rejection;

/// A reading error. Boxed so `Result<_, Error>` stays one word wide (csv-crate style).
#[derive(Debug)]
pub struct Error(Box<ErrorKind>);

/// What went wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file could not be opened or read.
    Io {
        /// File.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The gzip stream is corrupt or truncated.
    Gzip {
        /// File.
        path: PathBuf,
        /// Last line read completely before the failure.
        line: u64,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The CSV structure is broken (wrong number of fields, bad UTF-8, …).
    Csv {
        /// File.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// What the CSV parser said.
        reason: String,
    },
    /// The file is empty (no header).
    Empty {
        /// File.
        path: PathBuf,
    },
    /// The header lacks a column the format needs.
    Header {
        /// File.
        path: PathBuf,
        /// Missing column.
        missing: String,
        /// Format that needs it.
        format: &'static str,
    },
    /// The header matches no known format.
    UnknownFormat {
        /// File.
        path: PathBuf,
        /// The first bytes of the header, for the message.
        header: String,
    },
    /// One field of one row is invalid.
    Field {
        /// File.
        path: PathBuf,
        /// 1-based line (or record number for JSON).
        line: u64,
        /// Column name.
        field: String,
        /// Why.
        reason: FieldReason,
    },
    /// Malformed JSON.
    Json {
        /// File.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// What serde_json said.
        reason: String,
    },
    /// A line (a CSV record, a JSON line) longer than [`ReadOptions::max_line_bytes`](super::ReadOptions::max_line_bytes).
    LineTooLong {
        /// File.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// The limit in bytes.
        limit: usize,
    },
    /// The file holds something other than option quotes (the perpetual-futures price
    /// series); commands that take snapshot globs skip it with a notice.
    NotOptions {
        /// File.
        path: PathBuf,
        /// What the file holds and where it belongs.
        what: &'static str,
    },
    /// The file needs a setting that was not given, or a setting does not fit the file
    /// (`--snapshot-time` for a file without a time column, an ambiguous `--map` column).
    Usage {
        /// File.
        path: PathBuf,
        /// What to do, naming the flag.
        reason: String,
    },
    /// Invalid reader configuration (column mapping, units, schedule).
    Config {
        /// Why.
        reason: String,
    },
}

/// Why a field was refused.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum FieldReason {
    /// Not a number / not a time / not the expected token; the text found (truncated).
    Invalid(String),
    /// A number that is NaN or infinite.
    NonFinite,
    /// A number that must be positive (strike, forward) or non-negative (price) is not.
    OutOfRange(f64),
    /// An instrument name that is not `UND-DMMMYY-STRIKE-C|P`.
    Instrument(String),
    /// A required value is empty.
    Missing,
    /// The row's underlying disagrees with its instrument name.
    Mismatch(String),
    /// A value that parses but cannot be right (a snapshot time before Deribit listed
    /// options, an expiry decades away); the text says which setting to check. Not a
    /// counted skip: a wrong unit affects every row, so it fails the file.
    Implausible(String),
}

impl FieldReason {
    /// The counted-skip category of this reason.
    pub fn rejection(&self) -> Rejection {
        match self {
            FieldReason::NonFinite => Rejection::NonFinite,
            FieldReason::Instrument(_) => Rejection::UnparsableInstrument,
            _ => Rejection::InvalidField,
        }
    }
}

impl fmt::Display for FieldReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldReason::Invalid(s) => write!(f, "invalid value {s:?}"),
            FieldReason::NonFinite => write!(f, "non-finite number"),
            FieldReason::OutOfRange(v) => write!(f, "value {v} out of range"),
            FieldReason::Instrument(s) => {
                write!(f, "unparsable instrument name {s:?} (expected e.g. BTC-27MAR26-90000-C)")
            }
            FieldReason::Missing => write!(f, "required value is empty"),
            FieldReason::Mismatch(s) => write!(f, "inconsistent value: {s}"),
            FieldReason::Implausible(s) => f.write_str(s),
        }
    }
}

impl Error {
    /// Builds an error from its kind.
    pub fn new(kind: ErrorKind) -> Error {
        Error(Box::new(kind))
    }
    /// The kind of error.
    pub fn kind(&self) -> &ErrorKind {
        &self.0
    }
    /// Consumes the error, returning its kind.
    pub fn into_kind(self) -> ErrorKind {
        *self.0
    }
    /// True when the file holds something other than option quotes (see
    /// [`ErrorKind::NotOptions`]): callers reading many files skip it with a notice.
    pub fn is_not_options(&self) -> bool {
        matches!(*self.0, ErrorKind::NotOptions { .. })
    }
    pub(crate) fn usage(path: &Path, reason: impl Into<String>) -> Error {
        Error::new(ErrorKind::Usage { path: path.to_path_buf(), reason: reason.into() })
    }
    /// True for I/O failures (including a broken pipe on output).
    pub fn is_io(&self) -> bool {
        matches!(*self.0, ErrorKind::Io { .. })
    }
    /// `(file, line)` when the error has a position.
    pub fn position(&self) -> Option<(&Path, u64)> {
        match &*self.0 {
            ErrorKind::Gzip { path, line, .. }
            | ErrorKind::Csv { path, line, .. }
            | ErrorKind::Field { path, line, .. }
            | ErrorKind::LineTooLong { path, line, .. }
            | ErrorKind::Json { path, line, .. } => Some((path, *line)),
            _ => None,
        }
    }
    /// The counted-skip category when this is a row-level error, `None` for file-level ones.
    pub fn rejection(&self) -> Option<Rejection> {
        match &*self.0 {
            ErrorKind::Field { reason: FieldReason::Implausible(_), .. } => None,
            ErrorKind::Field { reason, .. } => Some(reason.rejection()),
            _ => None,
        }
    }
    pub(crate) fn field(path: &Path, line: u64, field: &str, reason: FieldReason) -> Error {
        Error::new(ErrorKind::Field { path: path.to_path_buf(), line, field: field.into(), reason })
    }
    /// An I/O error on `path` (also used for output failures).
    pub fn io(path: &Path, source: std::io::Error) -> Error {
        Error::new(ErrorKind::Io { path: path.to_path_buf(), source })
    }
    pub(crate) fn config(reason: impl Into<String>) -> Error {
        Error::new(ErrorKind::Config { reason: reason.into() })
    }
    /// Maps a csv-crate error, telling gzip corruption and I/O apart from CSV structure.
    pub(crate) fn from_csv(path: &Path, line: u64, e: csv::Error) -> Error {
        let pos_line = e.position().map_or(line, |p| p.line());
        match e.into_kind() {
            csv::ErrorKind::Io(source) => {
                if is_gzip_error(&source) {
                    Error::new(ErrorKind::Gzip { path: path.to_path_buf(), line, source })
                } else {
                    Error::io(path, source)
                }
            }
            csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                Error::new(ErrorKind::Csv {
                    path: path.to_path_buf(),
                    line: pos_line,
                    reason: format!("expected {expected_len} fields, found {len}"),
                })
            }
            csv::ErrorKind::Utf8 { err, .. } => Error::new(ErrorKind::Csv {
                path: path.to_path_buf(),
                line: pos_line,
                reason: format!("invalid UTF-8 in field {}", err.field() + 1),
            }),
            other => Error::new(ErrorKind::Csv {
                path: path.to_path_buf(),
                line: pos_line,
                reason: format!("{other:?}"),
            }),
        }
    }
}

/// flate2 reports corrupt data as `InvalidInput`/`InvalidData` and truncation as `UnexpectedEof`.
pub(crate) fn is_gzip_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::InvalidData
            | std::io::ErrorKind::InvalidInput
    )
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            ErrorKind::Io { path, source } => write!(f, "{}: {source}", path.display()),
            ErrorKind::Gzip { path, line, source } => {
                write!(f, "{}: corrupt or truncated gzip stream", path.display())?;
                if *line > 0 {
                    write!(f, " after line {line}")?;
                }
                write!(
                    f,
                    " ({source}); the file itself is damaged: copy or download it again \
                     (`gzip -t` checks it)"
                )
            }
            ErrorKind::Csv { path, line, reason } => {
                write!(f, "{}: line {line}: malformed CSV: {reason}", path.display())
            }
            ErrorKind::Empty { path } => {
                write!(f, "{}: line 1: empty file (no header)", path.display())
            }
            ErrorKind::Header { path, missing, format } => write!(
                f,
                "{}: line 1: header lacks column {missing:?} required by the {format} format",
                path.display()
            ),
            ErrorKind::UnknownFormat { path, header } => write!(
                f,
                "{}: line 1: unrecognised header {header:?} (use --format or --map)",
                path.display()
            ),
            ErrorKind::Field { path, line, field, reason } => {
                write!(f, "{}: line {line}: field {field:?}: {reason}", path.display())
            }
            ErrorKind::Json { path, line, reason } => {
                write!(f, "{}: line {line}: malformed JSON: {reason}", path.display())
            }
            ErrorKind::LineTooLong { path, line, limit } => write!(
                f,
                "{}: line {line}: longer than the limit of {limit} bytes; not a chain file, or \
                 raise the limit with --max-line-bytes",
                path.display()
            ),
            ErrorKind::NotOptions { path, what } => write!(f, "{}: {what}", path.display()),
            ErrorKind::Usage { path, reason } => write!(f, "{}: {reason}", path.display()),
            ErrorKind::Config { reason } => write!(f, "invalid reader configuration: {reason}"),
        }
    }
}

/// The message already includes the underlying I/O error's text, so no `source()` is
/// reported (it would print twice under `{:#}`); use [`Error::io_error`] to inspect it.
impl std::error::Error for Error {}

impl Error {
    /// The underlying I/O error, for `Io` and `Gzip` kinds.
    pub fn io_error(&self) -> Option<&std::io::Error> {
        match &*self.0 {
            ErrorKind::Io { source, .. } | ErrorKind::Gzip { source, .. } => Some(source),
            _ => None,
        }
    }
}
