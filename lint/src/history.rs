//! `sealant lint --history [RANGE]` and `--staged`: the blobs of a git repository, read with the
//! pure-Rust `gix` (no `git` binary, no C).
//!
//! History mode walks every commit reachable in the range (default: from `HEAD`), collects each
//! commit's files and scans every unique blob once, under the first path and commit it was seen
//! at (newest first). Staged mode scans the index entries that differ from `HEAD`: what the next
//! commit would add. Findings name the commit (`staged` for the index), the path and the line.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use gix::ObjectId;
use rayon::prelude::*;

use super::config::Settings;
use super::finding::Diagnostic;
use super::scan::{Report, ScanError, excludes, scan_text};

/// What part of a repository to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitScope {
    /// The index entries that differ from `HEAD` (what `git commit` would record).
    Staged,
    /// Every commit reachable from the range's tip and not from its base: `None` means `HEAD`,
    /// `Some("main..feature")` a range, `Some("v1.0")` everything reachable from one revision.
    History(Option<String>),
}

/// Blobs read through one repository handle (opening one reads the configuration and refs).
const BLOBS_PER_HANDLE: usize = 256;

/// One blob to scan and where it was seen.
struct Blob {
    id: ObjectId,
    path: String,
    /// Hex id of the commit, or `staged`.
    commit: String,
}

/// Scans the repository that contains `dir`.
pub fn scan_git(dir: &Path, scope: &GitScope, settings: &Settings) -> Result<Report, ScanError> {
    let repo = gix::discover(dir).map_err(|e| ScanError::Git {
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    let git_err = |message: String| ScanError::Git {
        path: dir.display().to_string(),
        message,
    };
    let root = repo
        .workdir()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| repo.git_dir().to_path_buf());
    // `.sealant.toml` excludes apply to the paths of history as to the working tree.
    let overrides = excludes(&root, &settings.exclude)?;
    let blobs = match scope {
        GitScope::Staged => staged_blobs(&repo).map_err(git_err)?,
        GitScope::History(range) => history_blobs(&repo, range.as_deref()).map_err(git_err)?,
    };
    let blobs: Vec<Blob> = blobs
        .into_iter()
        .filter(|b| !is_excluded(&overrides, &root, &b.path))
        .collect();
    // gix without its `parallel` feature is single-threaded (its handles are `Rc`s), and
    // reading objects is a quarter of the work: each chunk of blobs is read through a handle of its
    // own, opened on the thread that scans the chunk (kept for the whole scan, a handle would keep
    // its own mapping of every pack: a third more memory for no measurable speed).
    let git_dir = repo.git_dir().to_path_buf();
    let results: Vec<(Vec<super::Finding>, Vec<Diagnostic>, u64, bool)> = blobs
        .par_chunks(BLOBS_PER_HANDLE)
        .flat_map_iter(|chunk| {
            let repo = gix::open(&git_dir).ok();
            chunk
                .iter()
                .map(|blob| {
                    let data = match &repo {
                        Some(repo) => read_blob(repo, blob),
                        None => Err(format!("cannot open {}", git_dir.display())),
                    };
                    scan_blob(blob, data, settings)
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let mut report = Report {
        root,
        ..Report::default()
    };
    for (findings, diagnostics, bytes, scanned) in results {
        report.findings.extend(findings);
        report.diagnostics.extend(diagnostics);
        report.bytes_scanned += bytes;
        report.files_scanned += usize::from(scanned);
    }
    report.findings.sort_by(|a, b| {
        (&a.commit, &a.path, a.line, a.column).cmp(&(&b.commit, &b.path, b.line, b.column))
    });
    Ok(report)
}

/// Whether a repository path, or one of its directories, matches an exclude pattern (`vendor/`
/// matches directories, as in a walk).
fn is_excluded(overrides: &ignore::overrides::Override, root: &Path, path: &str) -> bool {
    let mut dir = root.to_path_buf();
    let parts: Vec<&str> = path.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        dir.push(part);
        let is_dir = i + 1 < parts.len();
        if overrides.matched(&dir, is_dir).is_ignore() {
            return true;
        }
    }
    false
}

fn read_blob(repo: &gix::Repository, blob: &Blob) -> Result<Vec<u8>, String> {
    repo.find_blob(blob.id)
        .map(|b| b.detach().data)
        .map_err(|e| format!("cannot read blob {}: {e}", blob.id))
}

fn scan_blob(
    blob: &Blob,
    data: Result<Vec<u8>, String>,
    settings: &Settings,
) -> (Vec<super::Finding>, Vec<Diagnostic>, u64, bool) {
    let diag = |message: String| Diagnostic {
        path: format!("{}:{}", blob.commit, blob.path),
        message,
    };
    let data = match data {
        Ok(d) => d,
        Err(e) => return (Vec::new(), vec![diag(e)], 0, false),
    };
    let size = data.len() as u64;
    if size > settings.max_file_size {
        let message = format!(
            "skipped: {size} bytes is over the {} byte limit",
            settings.max_file_size
        );
        return (Vec::new(), vec![diag(message)], 0, false);
    }
    if data[..data.len().min(8192)].contains(&0) {
        return (Vec::new(), Vec::new(), 0, false);
    }
    let text = String::from_utf8_lossy(&data);
    let (mut findings, diagnostics) = scan_text(&blob.path, &text, settings);
    for f in &mut findings {
        f.commit = Some(blob.commit.clone());
    }
    let diagnostics = diagnostics.into_iter().map(|d| diag(d.message)).collect();
    (findings, diagnostics, size, true)
}

/// Every unique blob of every commit in the range, newest commit first.
fn history_blobs(repo: &gix::Repository, range: Option<&str>) -> Result<Vec<Blob>, String> {
    let (base, tip) = match range {
        Some(r) if r.contains("..") => {
            let (from, to) = r.split_once("..").unwrap_or((r, ""));
            let to = if to.is_empty() { "HEAD" } else { to };
            (Some(from), to)
        }
        Some(r) => (None, r),
        None => (None, "HEAD"),
    };
    let resolve = |spec: &str| -> Result<ObjectId, String> {
        repo.rev_parse_single(spec)
            .map(|id| id.detach())
            .map_err(|e| format!("cannot resolve `{spec}`: {e}"))
    };
    // A repository before its first commit has an unborn HEAD: there is no history to scan,
    // which is an empty result, not an error (`git init && sealant lint --history`).
    if matches!(range, None | Some("HEAD")) && repo.head().is_ok_and(|head| head.is_unborn()) {
        return Ok(Vec::new());
    }
    let tip = resolve(tip)?;
    let hidden: Vec<ObjectId> = base.map(resolve).transpose()?.into_iter().collect();
    let walk = repo
        .rev_walk([tip])
        .with_hidden(hidden)
        .all()
        .map_err(|e| format!("cannot walk history: {e}"))?;
    let mut seen = Seen::default();
    let mut blobs = Vec::new();
    for info in walk {
        let info = info.map_err(|e| format!("cannot walk history: {e}"))?;
        let commit = info
            .object()
            .map_err(|e| format!("cannot read commit {}: {e}", info.id))?;
        let tree = commit
            .tree()
            .map_err(|e| format!("cannot read the tree of {}: {e}", info.id))?;
        if !seen.trees.insert(tree.id) {
            continue;
        }
        let mut visit = NewBlobs {
            location: gix::traverse::tree::Recorder::default(),
            seen: &mut seen,
            found: Vec::new(),
        };
        tree.traverse()
            .breadthfirst(&mut visit)
            .map_err(|e| format!("cannot list the tree of {}: {e}", info.id))?;
        let hex = info.id.to_string();
        blobs.extend(visit.found.into_iter().map(|(id, path)| Blob {
            id,
            path,
            commit: hex.clone(),
        }));
    }
    Ok(blobs)
}

/// The trees and blobs of newer commits.
#[derive(Default)]
struct Seen {
    trees: HashSet<ObjectId>,
    blobs: HashSet<ObjectId>,
}

/// A tree traversal that records the blobs not seen in a newer commit and does not descend into
/// trees already seen (a directory no commit changed since): each tree and each blob of the
/// history is read once, instead of every tree of every commit.
struct NewBlobs<'a> {
    /// Tracks the path of the current entry (its records stay empty).
    location: gix::traverse::tree::Recorder,
    seen: &'a mut Seen,
    found: Vec<(ObjectId, String)>,
}

impl gix::traverse::tree::Visit for NewBlobs<'_> {
    fn pop_back_tracked_path_and_set_current(&mut self) {
        self.location.pop_back_tracked_path_and_set_current();
    }

    fn pop_front_tracked_path_and_set_current(&mut self) {
        self.location.pop_front_tracked_path_and_set_current();
    }

    fn push_back_tracked_path_component(&mut self, component: &gix::bstr::BStr) {
        self.location.push_back_tracked_path_component(component);
    }

    fn push_path_component(&mut self, component: &gix::bstr::BStr) {
        self.location.push_path_component(component);
    }

    fn pop_path_component(&mut self) {
        self.location.pop_path_component();
    }

    fn visit_tree(
        &mut self,
        entry: &gix::objs::tree::EntryRef<'_>,
    ) -> gix::traverse::tree::visit::Action {
        std::ops::ControlFlow::Continue(self.seen.trees.insert(entry.oid.to_owned()))
    }

    fn visit_nontree(
        &mut self,
        entry: &gix::objs::tree::EntryRef<'_>,
    ) -> gix::traverse::tree::visit::Action {
        if entry.mode.is_blob() && self.seen.blobs.insert(entry.oid.to_owned()) {
            self.found
                .push((entry.oid.to_owned(), self.location.path().to_string()));
        }
        std::ops::ControlFlow::Continue(true)
    }
}

/// The index entries whose content differs from `HEAD`'s (all of them before the first commit).
fn staged_blobs(repo: &gix::Repository) -> Result<Vec<Blob>, String> {
    let mut head: HashMap<String, ObjectId> = HashMap::new();
    if let Ok(commit) = repo.head_commit() {
        let tree = commit
            .tree()
            .map_err(|e| format!("cannot read HEAD's tree: {e}"))?;
        let mut recorder = gix::traverse::tree::Recorder::default();
        tree.traverse()
            .breadthfirst(&mut recorder)
            .map_err(|e| format!("cannot list HEAD's tree: {e}"))?;
        for entry in recorder.records {
            if entry.mode.is_blob() {
                head.insert(entry.filepath.to_string(), entry.oid);
            }
        }
    }
    let index = repo
        .index_or_empty()
        .map_err(|e| format!("cannot read the index: {e}"))?;
    let mut blobs = Vec::new();
    for entry in index.entries() {
        let is_file = entry.mode == gix::index::entry::Mode::FILE
            || entry.mode == gix::index::entry::Mode::FILE_EXECUTABLE;
        if !is_file {
            continue;
        }
        let path = entry.path(&index).to_string();
        if head.get(&path) == Some(&entry.id) {
            continue;
        }
        blobs.push(Blob {
            id: entry.id,
            path,
            commit: "staged".to_string(),
        });
    }
    Ok(blobs)
}
