//! File output shared by the library and the CLI.
//!
//! [`write_atomic`]: write to a temporary file in the destination's directory, flush, fsync,
//! then rename over the destination, so readers never see a half-written file; `-` writes
//! to stdout. A destination that exists and is not a regular file (`/dev/null`, a FIFO, a
//! socket) or names an open descriptor (`/dev/stdout`, `/proc/self/fd/1`) is written in place,
//! never replaced; a symbolic link to a regular file is kept and its target is replaced
//! atomically (the temporary goes beside the target). [`OutDir`]: a command's output folder written as a whole: every file goes
//! into a hidden sibling folder, which is swapped in place of the old folder only when all
//! are written, so a rerun leaves no stale file and an interrupted one leaves the previous
//! folder intact. [`check_writable`]: proves a destination can be written before any work.
//! Temporaries of dead processes (`.NAME.tmp.PID`, files or folders) are removed on the next
//! write to the same destination. [`is_broken_pipe`]: tells a closed stdout
//! (`volfit … | head`) from a real failure.

use std::error::Error;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The manifest every [`OutDir`] carries: which command wrote the folder and its files.
pub const MANIFEST: &str = "manifest.json";

/// Writes `path` atomically with `body` (`-` = stdout, locked and buffered) and returns what
/// `body` returns.
///
/// On any error from `body` or the file system the temporary file is removed and the
/// destination is left untouched. File-system errors name `path`.
///
/// # Errors
/// The I/O error, or whatever `body` returns.
pub fn write_atomic<T, E, F>(path: &Path, body: F) -> Result<T, E>
where
    E: From<io::Error>,
    F: FnOnce(&mut dyn Write) -> Result<T, E>,
{
    if path.as_os_str() == "-" {
        let stdout = io::stdout();
        let mut w = BufWriter::new(stdout.lock());
        let out = body(&mut w)?;
        w.flush()?;
        return Ok(out);
    }
    let path = match destination(path) {
        Destination::InPlace => return write_in_place(path, body),
        Destination::File(real) => real,
    };
    let path = path.as_path();
    let (dir, name) = split(path)?;
    check_dir_target(path, &dir)?;
    remove_stale(&dir, &name);
    let tmp = dir.join(temp_name(&name, "tmp"));
    let result = (|| {
        let file = File::create(&tmp).map_err(|e| named(path, &e))?;
        let mut w = BufWriter::new(file);
        let out = body(&mut w)?;
        let file = w.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        fs::rename(&tmp, path).map_err(|e| named(path, &e))?;
        Ok::<T, E>(out)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    } else {
        sync_dir(&dir);
    }
    result
}

/// How [`write_atomic`] writes a destination.
enum Destination {
    /// Open and write the path itself: it is a device, FIFO or socket, or names an open
    /// descriptor (`/dev/stdout`, `/dev/fd/N`, `/proc/…`), where a rename would replace
    /// the special file or miss the descriptor.
    InPlace,
    /// Write a temporary beside this regular file (a symbolic link's target, resolved) and
    /// rename it over.
    File(PathBuf),
}

/// Where and how `path` is written. A missing path, or a link to nothing, is a new file at
/// `path` itself.
fn destination(path: &Path) -> Destination {
    // Names of open descriptors (`/dev/stdout` → `/proc/self/fd/1` → the shell's file).
    let special = |p: &Path| {
        ["/proc", "/dev/fd", "/dev/stdout", "/dev/stderr"].iter().any(|s| p.starts_with(s))
    };
    match fs::metadata(path) {
        Ok(meta) if !meta.is_file() && !meta.is_dir() => Destination::InPlace,
        Ok(meta) if meta.is_file() => match fs::canonicalize(path) {
            Ok(real) if special(path) || special(&real) => Destination::InPlace,
            Ok(real) => Destination::File(real),
            Err(_) => Destination::File(path.to_path_buf()),
        },
        _ if special(path) => Destination::InPlace,
        _ => Destination::File(path.to_path_buf()),
    }
}

/// Writes into `path` as it is (no temporary, no rename): for special files. Appends, so a
/// descriptor's file (`>>` in the shell) is not overwritten from its start.
fn write_in_place<T, E, F>(path: &Path, body: F) -> Result<T, E>
where
    E: From<io::Error>,
    F: FnOnce(&mut dyn Write) -> Result<T, E>,
{
    let file = fs::OpenOptions::new().append(true).open(path).map_err(|e| named(path, &e))?;
    let mut w = BufWriter::new(file);
    let out = body(&mut w)?;
    w.flush().map_err(|e| named(path, &e))?;
    Ok(out)
}

/// Checks, without writing anything, that `path` can be written by [`write_atomic`]: its
/// folder exists and takes a new file, and `path` is not a folder. `-` (stdout) and
/// special files written in place (e.g. `/dev/null`, a FIFO) pass: opening them can have
/// effects (a FIFO waits for its reader), so the write itself reports any failure.
///
/// # Errors
/// An I/O error naming `path` and what is wrong.
pub fn check_writable(path: &Path) -> io::Result<()> {
    if path.as_os_str() == "-" {
        return Ok(());
    }
    let path = match destination(path) {
        Destination::InPlace => return Ok(()),
        Destination::File(real) => real,
    };
    let path = path.as_path();
    let (dir, name) = split(path)?;
    check_dir_target(path, &dir)?;
    let probe = dir.join(temp_name(&name, "tmp"));
    File::create(&probe).map_err(|e| named(path, &e))?;
    fs::remove_file(&probe)
}

/// A command's output folder, written as a whole.
///
/// [`OutDir::create`] makes the hidden staging folder `.NAME.tmp.PID` beside `NAME`; the
/// command writes its files under [`OutDir::path`]; [`OutDir::commit`] adds
/// [`MANIFEST`] and swaps the staging folder in place of `NAME` (two renames). Dropped
/// without a commit (an error), the staging folder is removed and `NAME` is untouched.
///
/// Only a folder that is new, empty, or was written by volfit (every entry listed in its
/// manifest) is replaced, so user files are never deleted. A target that is a symbolic link
/// to a folder is resolved first: the folder it points to is replaced (by the same rules,
/// staged beside it) and the link is kept.
#[derive(Debug)]
pub struct OutDir {
    target: PathBuf,
    staging: PathBuf,
    committed: bool,
}

impl OutDir {
    /// Checks `target`, removes stale temporaries of dead processes beside it (and restores
    /// a folder a killed swap left aside), and creates the staging folder.
    ///
    /// # Errors
    /// `target` is a file, a folder volfit did not write, or the parent cannot be created
    /// or written; the message names the path.
    pub fn create(target: &Path) -> io::Result<OutDir> {
        let shown = target;
        let target = absolute(target)?;
        let (parent, name) = split(&target)?;
        fs::create_dir_all(&parent)
            .map_err(|e| io::Error::new(e.kind(), format!("creating {}: {e}", parent.display())))?;
        remove_stale(&parent, &name);
        check_replaceable(&target, shown)?;
        let staging = parent.join(temp_name(&name, "tmp"));
        if staging.exists() {
            fs::remove_dir_all(&staging)?;
        }
        fs::create_dir(&staging).map_err(|e| named(&target, &e))?;
        Ok(OutDir { target, staging, committed: false })
    }

    /// The folder to write into now (the staging folder).
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// The folder the files end up in.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Writes the manifest (`command` and every file, `/`-separated relative paths, sorted)
    /// and swaps the staging folder in place of the target; returns the files written.
    ///
    /// # Errors
    /// The I/O error; the old target is then still in place.
    pub fn commit(mut self, command: &str) -> io::Result<Vec<String>> {
        let mut files = Vec::new();
        list_files(&self.staging, "", &mut files)?;
        files.sort();
        let manifest = Manifest { command: command.to_string(), files: files.clone() };
        write_atomic(&self.staging.join(MANIFEST), |w| {
            serde_json::to_writer_pretty(&mut *w, &manifest).map_err(io::Error::other)?;
            writeln!(w)
        })?;
        sync_dir(&self.staging);
        let (parent, name) = split(&self.target)?;
        if fs::symlink_metadata(&self.target).is_ok() {
            let aside = parent.join(temp_name(&name, "old"));
            fs::rename(&self.target, &aside).map_err(|e| named(&self.target, &e))?;
            if let Err(e) = fs::rename(&self.staging, &self.target) {
                let _ = fs::rename(&aside, &self.target);
                return Err(named(&self.target, &e));
            }
            self.committed = true;
            let _ = fs::remove_dir_all(&aside);
        } else {
            fs::rename(&self.staging, &self.target).map_err(|e| named(&self.target, &e))?;
            self.committed = true;
        }
        sync_dir(&parent);
        files.push(MANIFEST.to_string());
        Ok(files)
    }
}

impl Drop for OutDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

/// Adds `file` (a name inside `dir`) to `dir`'s manifest, when `dir` has one: for a file a
/// later command adds to a folder written by [`OutDir`] (e.g. `volfit report`).
///
/// # Errors
/// The manifest cannot be read, parsed or rewritten.
pub fn record_in_manifest(dir: &Path, file: &str) -> io::Result<()> {
    let path = dir.join(MANIFEST);
    let Some(mut m) = read_manifest(&path)? else { return Ok(()) };
    if !m.files.iter().any(|f| f == file) {
        m.files.push(file.to_string());
        m.files.sort();
        write_atomic(&path, |w| {
            serde_json::to_writer_pretty(&mut *w, &m).map_err(io::Error::other)?;
            writeln!(w)
        })?;
    }
    Ok(())
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Manifest {
    command: String,
    files: Vec<String>,
}

fn read_manifest(path: &Path) -> io::Result<Option<Manifest>> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display()))
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(named(path, &e)),
    }
}

/// `target` may be replaced: missing, empty, or every entry listed in its manifest.
/// Messages name `shown` (the path as the user gave it).
fn check_replaceable(target: &Path, shown: &Path) -> io::Result<()> {
    let meta = match fs::metadata(target) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(named(target, &e)),
    };
    if !meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a folder; give --out a folder name", shown.display()),
        ));
    }
    let listed = read_manifest(&target.join(MANIFEST))?.map(|m| m.files);
    for entry in fs::read_dir(target).map_err(|e| named(target, &e))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name == MANIFEST || is_temporary(&name) {
            continue;
        }
        let ours = listed
            .as_ref()
            .is_some_and(|l| l.iter().any(|f| f == &name || f.starts_with(&format!("{name}/"))));
        if !ours {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{} holds {name}, which volfit did not write there; the output folder is \
                     replaced as a whole, so give a new or empty folder (or move {name} away)",
                    shown.display()
                ),
            ));
        }
    }
    Ok(())
}

/// Files under `dir`, relative to the staging root, `/`-separated.
fn list_files(dir: &Path, prefix: &str, out: &mut Vec<String>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if entry.file_type()?.is_dir() {
            list_files(&entry.path(), &format!("{name}/"), out)?;
        } else if name != MANIFEST {
            out.push(name);
        }
    }
    Ok(())
}

/// `.NAME.KIND.PID` of this process.
fn temp_name(name: &str, kind: &str) -> String {
    format!(".{name}.{kind}.{}", std::process::id())
}

/// True for a name of the `.NAME.tmp.PID` / `.NAME.old.PID` shape.
fn is_temporary(name: &str) -> bool {
    temp_parts(name).is_some()
}

/// (NAME, kind, PID) of a temporary's file name.
fn temp_parts(file: &str) -> Option<(&str, &str, u32)> {
    let rest = file.strip_prefix('.')?;
    let (head, pid) = rest.rsplit_once('.')?;
    let pid: u32 = pid.parse().ok()?;
    let (name, kind) = head.rsplit_once('.')?;
    matches!(kind, "tmp" | "old").then_some((name, kind, pid))
}

/// True when no process `pid` runs (Linux: no `/proc/PID`). Elsewhere nothing is known to
/// be dead, so nothing is removed.
fn is_dead(pid: u32) -> bool {
    cfg!(target_os = "linux")
        && Path::new("/proc/self").exists()
        && !Path::new("/proc").join(pid.to_string()).exists()
}

/// Removes the temporaries of `name` in `dir` left by dead processes; a folder a killed
/// swap had set aside (`.NAME.old.PID`) is put back when `NAME` is missing.
fn remove_stale(dir: &Path, name: &str) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some((n, kind, pid)) =
            temp_parts(&file.to_string_lossy()).map(|(n, k, p)| (n.to_string(), k.to_string(), p))
        else {
            continue;
        };
        if n != name || pid == std::process::id() || !is_dead(pid) {
            continue;
        }
        let path = entry.path();
        let target = dir.join(name);
        if kind == "old" && fs::symlink_metadata(&target).is_err() {
            let _ = fs::rename(&path, &target);
        } else if path.is_dir() {
            let _ = fs::remove_dir_all(&path);
        } else {
            let _ = fs::remove_file(&path);
        }
    }
}

/// The destination's folder (`.` for a bare name) and file name.
fn split(path: &Path) -> io::Result<(PathBuf, String)> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("{} names no file", path.display()))
    })?;
    Ok((dir, name))
}

/// The destination is not a folder, and its folder exists.
fn check_dir_target(path: &Path, dir: &Path) -> io::Result<()> {
    if path.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            format!("{} is a folder; give a file name", path.display()),
        ));
    }
    if !dir.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("cannot write {}: folder {} does not exist", path.display(), dir.display()),
        ));
    }
    Ok(())
}

/// An absolute path (symbolic links of an existing target resolved).
fn absolute(path: &Path) -> io::Result<PathBuf> {
    match fs::canonicalize(path) {
        Ok(p) => Ok(p),
        Err(_) => std::path::absolute(path).map_err(|e| named(path, &e)),
    }
}

/// `e` with `path` in its message.
fn named(path: &Path, e: &io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()))
}

/// Persists renames in `dir`; not all platforms allow fsync on a directory.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// True when `e`, or an error it wraps, is a broken pipe: an I/O error of that kind (also
/// one wrapped inside another I/O error) or a csv error over one, anywhere along the
/// `source()` chain.
pub fn is_broken_pipe(e: &(dyn Error + 'static)) -> bool {
    let pipe = |io: &io::Error| io.kind() == io::ErrorKind::BrokenPipe;
    let mut cur: Option<&(dyn Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            if pipe(io) || io.get_ref().is_some_and(|inner| is_broken_pipe(inner)) {
                return true;
            }
        }
        if let Some(csv::ErrorKind::Io(io)) = err.downcast_ref::<csv::Error>().map(|c| c.kind()) {
            if pipe(io) {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_body_leaves_destination_untouched() {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = dir.path().join("out.csv");
        write_atomic::<(), io::Error, _>(&p, |w| w.write_all(b"old")).expect("first write");
        let r = write_atomic::<(), io::Error, _>(&p, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("boom"))
        });
        assert!(r.is_err());
        assert_eq!(fs::read(&p).expect("read back"), b"old");
        assert_eq!(fs::read_dir(dir.path()).expect("list").count(), 1, "temp file removed");
    }

    #[test]
    fn broken_pipe_is_found_through_wrappers() {
        let pipe = io::Error::from(io::ErrorKind::BrokenPipe);
        assert!(is_broken_pipe(&pipe));
        assert!(is_broken_pipe(&io::Error::other(io::Error::from(io::ErrorKind::BrokenPipe))));
        assert!(is_broken_pipe(&csv::Error::from(pipe)));
        assert!(!is_broken_pipe(&io::Error::from(io::ErrorKind::NotFound)));
    }

    /// A PID that no process has: a child that has exited and been reaped.
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().expect("spawn true");
        let pid = child.id();
        child.wait().expect("wait");
        pid
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn write(dir: &Path, name: &str, text: &str) {
        write_atomic::<(), io::Error, _>(&dir.join(name), |w| w.write_all(text.as_bytes()))
            .expect("write");
    }

    #[test]
    fn rerun_into_a_used_folder_leaves_no_stale_file() {
        let root = tempfile::tempdir().expect("temp dir");
        let target = root.path().join("out");
        let first = OutDir::create(&target).expect("stage");
        write(first.path(), "fit.json", "old");
        write(first.path(), "report.html", "old page");
        first.commit("fit").expect("commit");
        let second = OutDir::create(&target).expect("stage again");
        write(second.path(), "fit.json", "new");
        let files = second.commit("fit").expect("commit again");
        assert_eq!(files, ["fit.json", MANIFEST]);
        assert_eq!(names(&target), ["fit.json", MANIFEST]);
        assert_eq!(fs::read_to_string(target.join("fit.json")).expect("read"), "new");
        assert_eq!(names(root.path()), ["out"], "no staging or old folder left");
    }

    #[test]
    fn interrupted_run_leaves_the_old_folder_intact() {
        let root = tempfile::tempdir().expect("temp dir");
        let target = root.path().join("out");
        let first = OutDir::create(&target).expect("stage");
        write(first.path(), "fit.json", "old");
        first.commit("fit").expect("commit");
        // An error mid-run: the OutDir is dropped without a commit.
        let second = OutDir::create(&target).expect("stage again");
        write(second.path(), "fit.json", "new");
        drop(second);
        assert_eq!(fs::read_to_string(target.join("fit.json")).expect("read"), "old");
        assert_eq!(names(root.path()), ["out"]);
    }

    #[test]
    fn stale_temporaries_of_dead_processes_are_removed() {
        let root = tempfile::tempdir().expect("temp dir");
        let pid = dead_pid();
        // kill -9 mid-write of a file, and mid-run of a folder output.
        fs::write(root.path().join(format!(".q.csv.tmp.{pid}")), "partial").expect("temp file");
        fs::create_dir(root.path().join(format!(".out.tmp.{pid}"))).expect("temp folder");
        // A live process's temporary (ours) and another name's are kept.
        let mine = format!(".q.csv.tmp.{}", std::process::id());
        let other = format!(".x.csv.tmp.{pid}");
        fs::write(root.path().join(&other), "x").expect("other");
        write(root.path(), "q.csv", "rows");
        let folder = format!(".out.tmp.{pid}");
        assert_eq!(names(root.path()), [folder.as_str(), other.as_str(), "q.csv"]);
        assert!(!root.path().join(mine).exists());
        OutDir::create(&root.path().join("out")).expect("stage").commit("fit").expect("commit");
        assert_eq!(names(root.path()), [other.as_str(), "out", "q.csv"]);
    }

    #[test]
    fn a_folder_set_aside_by_a_killed_swap_is_restored() {
        let root = tempfile::tempdir().expect("temp dir");
        let aside = root.path().join(format!(".out.old.{}", dead_pid()));
        fs::create_dir(&aside).expect("aside");
        fs::write(aside.join("fit.json"), "old").expect("old file");
        let manifest = r#"{"command": "fit", "files": ["fit.json"]}"#;
        fs::write(aside.join(MANIFEST), manifest).expect("old manifest");
        let target = root.path().join("out");
        let staged = OutDir::create(&target).expect("stage");
        assert_eq!(fs::read_to_string(target.join("fit.json")).expect("restored"), "old");
        drop(staged);
        assert_eq!(names(root.path()), ["out"]);
    }

    #[test]
    fn folders_volfit_did_not_write_are_never_replaced() {
        let root = tempfile::tempdir().expect("temp dir");
        fs::write(root.path().join("data.csv"), "user data").expect("user file");
        let err = OutDir::create(root.path()).expect_err("user folder");
        assert!(err.to_string().contains("data.csv"), "{err}");
        let file = root.path().join("afile");
        fs::write(&file, "x").expect("file");
        let err = OutDir::create(&file).expect_err("a file");
        assert!(err.to_string().contains("afile exists and is not a folder"), "{err}");
        // An empty folder is taken.
        let empty = root.path().join("empty");
        fs::create_dir(&empty).expect("empty");
        OutDir::create(&empty).expect("stage").commit("fit").expect("commit");
        assert_eq!(names(&empty), [MANIFEST]);
        // A file added by a later command and recorded in the manifest is ours.
        fs::write(empty.join("report.html"), "page").expect("page");
        assert!(OutDir::create(&empty).is_err(), "unrecorded file protects the folder");
        record_in_manifest(&empty, "report.html").expect("record");
        OutDir::create(&empty).expect("recorded file is ours").commit("fit").expect("commit");
        assert_eq!(names(&empty), [MANIFEST]);
    }

    #[test]
    fn special_files_are_written_in_place_never_replaced() {
        use std::os::unix::fs::FileTypeExt;
        let root = tempfile::tempdir().expect("temp dir");
        let fifo = root.path().join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
        assert!(made.success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || fs::read(&fifo).expect("read the fifo"))
        };
        check_writable(&fifo).expect("a fifo is writable");
        write_atomic::<(), io::Error, _>(&fifo, |w| w.write_all(b"rows\n")).expect("write");
        // Checked before joining: had the FIFO been replaced, the reader would wait forever.
        let kind = fs::symlink_metadata(&fifo).expect("still there").file_type();
        assert!(kind.is_fifo(), "the FIFO was replaced by {kind:?}");
        assert_eq!(reader.join().expect("reader"), b"rows\n");
        assert_eq!(names(root.path()), ["pipe"], "no temporary beside it");
    }

    #[test]
    fn a_symlink_is_kept_and_its_target_replaced() {
        let root = tempfile::tempdir().expect("temp dir");
        let (real_dir, link_dir) = (root.path().join("data"), root.path().join("links"));
        fs::create_dir(&real_dir).expect("dir");
        fs::create_dir(&link_dir).expect("dir");
        let real = real_dir.join("q.csv");
        fs::write(&real, "old").expect("file");
        let link = link_dir.join("q.csv");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        write(&link_dir, "q.csv", "new");
        assert!(fs::symlink_metadata(&link).expect("link").file_type().is_symlink());
        assert_eq!(fs::read_to_string(&real).expect("target"), "new");
        assert_eq!(
            (names(&real_dir), names(&link_dir)),
            (vec!["q.csv".into()], vec!["q.csv".into()])
        );
        // An output folder given as a link: the folder it points to is replaced.
        let out_real = root.path().join("out_real");
        let first = OutDir::create(&out_real).expect("stage");
        write(first.path(), "fit.json", "old");
        first.commit("fit").expect("commit");
        let out_link = root.path().join("out");
        std::os::unix::fs::symlink(&out_real, &out_link).expect("symlink");
        let second = OutDir::create(&out_link).expect("stage through the link");
        write(second.path(), "fit.json", "new");
        second.commit("fit").expect("commit");
        assert!(fs::symlink_metadata(&out_link).expect("link").file_type().is_symlink());
        assert_eq!(fs::read_to_string(out_real.join("fit.json")).expect("read"), "new");
    }

    #[test]
    fn bad_destinations_are_named() {
        let root = tempfile::tempdir().expect("temp dir");
        let missing = root.path().join("nodir").join("x.csv");
        let err = check_writable(&missing).expect_err("missing folder");
        assert!(err.to_string().contains("nodir"), "{err}");
        let err = write_atomic::<(), io::Error, _>(root.path(), |_| Ok(())).expect_err("folder");
        assert!(err.to_string().contains("is a folder"), "{err}");
        check_writable(&root.path().join("ok.csv")).expect("writable");
        assert!(names(root.path()).is_empty(), "the check writes nothing");
    }
}
