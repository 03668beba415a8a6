//! Watches a folder the way Bevy's asset `FileWatcher` does and prints, one JSON line each, the
//! `AssetSourceEvent`s Bevy would send for what happens under it.
//!
//! Three layers, each a replay of the code Bevy runs with its `file_watcher` feature:
//!
//! 1. raw events: `notify`'s `RecommendedWatcher` (inotify on Linux), watching the root
//!    recursively; `--poll` (or an inotify that cannot start) uses a `PollWatcher` instead.
//! 2. debouncing: a port of `notify-debouncer-full` 0.7's `DebounceDataInner` (its `add_event`,
//!    `debounced_events` and `sort_events`), with the `NoCache` file-id cache that
//!    `RecommendedCache` is on Linux, and Bevy's 300 ms timeout with a tick of a quarter of it.
//! 3. classification: the `match event.kind` of `new_asset_event_debouncer` in
//!    bevy_asset/src/io/file/file_watcher.rs, and `FileEventHandler::handle`'s skipping of an
//!    event equal to the one before it in the same batch.
//!
//! One difference of versions: Debian ships notify 5.0, whose inotify backend reports a file
//! moved in from an unwatched folder (IN_MOVED_TO without IN_MOVED_FROM) as `Create(File)`;
//! notify 6.1-8.2, under the debouncer-full 0.3-0.7 that Bevy 0.14-0.19 use, report it as
//! `Modify(Name(To))`. Bevy maps both to `AddedAsset` (`AddedFolder` for a folder), and the
//! debouncer treats both as a creation, so the classified events are the same. (An unmatched
//! MOVED_FROM is `Modify(Name(From))` in both, sent after 10 ms in notify 5, at once in 8.)
//! Also, notify 7+ watch IN_OPEN as well: an open adds a raw `Access(Open(Any))`, which the
//! debouncer keeps and Bevy's `_ => {}` ignores; notify 5 does not report it.
//!
//! Usage: pixelbuild-notify-check [--trace] [--poll] [--debounce-ms N] [--quiet-ms N]
//!                                [--max-secs N] ROOT
//!
//! stdout, one JSON object a line:
//!   {"ready": true, "root": ..., "watcher": "inotify"|"poll", "debounce_ms": 300}
//!       once the watch is in place: anything done after this line is seen.
//!   {"kind": "AddedAsset", "path": "sprites/a.png", "asset": "sprites/a.png",
//!    "notify": "Create(File)", "reload": ["0.17+"]}
//!       one per classified event. `path` is the file's path relative to ROOT, `asset` Bevy's
//!       asset path (a `.meta` file's asset path drops `.meta`); renames add "old"/"old_asset".
//!       `reload`: the Bevy versions whose AssetServer reloads `asset` on this event, of
//!       "0.14-0.16" and "0.17+" (see `reloaded_by`).
//!       Kinds: AddedAsset AddedMeta ModifiedAsset ModifiedMeta RemovedAsset RemovedMeta
//!       RemovedUnknown AddedFolder RemovedFolder RenamedAsset RenamedMeta RenamedFolder.
//!   {"raw": "Modify(Name(To))", "paths": [...], "tracker": N}   (with --trace) each raw event.
//!   {"ignored": ..., "paths": [...]}   a debounced event Bevy has no arm for, or one outside ROOT.
//!   {"error": "..."}                   a watcher error.
//!   {"synced": LABEL}   answer to a stdin line `sync LABEL`, printed once every event that
//!       happened before the line has been debounced and printed.
//!   {"done": "eof"|"quiet"|"max-secs"}   last line: stdin reached EOF (after the same drain as
//!       a sync), or nothing happened for --quiet-ms, or --max-secs passed.
//!
//! Exit status: 0 after "done", 2 on bad arguments or when no watcher can be started.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::io::{BufRead, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RemoveKind, RenameMode};
use notify::{Config, Event, EventKind, PollWatcher, RecommendedWatcher, RecursiveMode, Watcher};
use serde_json::{json, Value};

// --- layer 2: notify-debouncer-full 0.7, NoCache ------------------------------------------------

#[derive(Clone, Debug)]
struct DebouncedEvent {
    event: Event,
    time: Instant,
}

#[derive(Default)]
struct Queue {
    /// remove or move-out event first, then a rename event, then the others
    events: VecDeque<DebouncedEvent>,
}

impl Queue {
    fn was_created(&self) -> bool {
        self.events.front().map_or(false, |e| {
            matches!(
                e.event.kind,
                EventKind::Create(_) | EventKind::Modify(ModifyKind::Name(RenameMode::To))
            )
        })
    }

    fn was_removed(&self) -> bool {
        self.events.front().map_or(false, |e| {
            matches!(
                e.event.kind,
                EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(RenameMode::From))
            )
        })
    }
}

struct Debouncer {
    queues: HashMap<PathBuf, Queue>,
    rename_event: Option<DebouncedEvent>,
    rescan_event: Option<DebouncedEvent>,
    timeout: Duration,
    // not part of the debouncer: what the main loop prints and waits on
    root: PathBuf,
    trace: bool,
    raw_lines: Vec<Value>,
    errors: Vec<String>,
    last_raw: Option<Instant>,
}

impl Debouncer {
    fn new(root: PathBuf, timeout: Duration, trace: bool) -> Self {
        Debouncer {
            queues: HashMap::new(),
            rename_event: None,
            rescan_event: None,
            timeout,
            root,
            trace,
            raw_lines: Vec::new(),
            errors: Vec::new(),
            last_raw: None,
        }
    }

    fn pending(&self) -> bool {
        !self.queues.is_empty() || self.rescan_event.is_some()
    }

    fn add_event(&mut self, event: Event) {
        self.last_raw = Some(Instant::now());
        if self.trace {
            let mut line = json!({
                "raw": format!("{:?}", event.kind),
                "paths": event.paths.iter().map(|p| rel_or_abs(&self.root, p)).collect::<Vec<_>>(),
            });
            if let Some(tracker) = event.tracker() {
                line["tracker"] = json!(tracker);
            }
            if event.need_rescan() {
                line["rescan"] = json!(true);
            }
            self.raw_lines.push(line);
        }

        if event.need_rescan() {
            self.rescan_event = Some(DebouncedEvent { event, time: Instant::now() });
            return;
        }
        if event.paths.is_empty() {
            return;
        }
        match &event.kind {
            EventKind::Create(_) => self.push_event(event, Instant::now()),
            EventKind::Modify(ModifyKind::Name(mode)) => match mode {
                RenameMode::Any => {
                    if event.paths[0].exists() {
                        self.handle_rename_to(event)
                    } else {
                        self.handle_rename_from(event)
                    }
                }
                RenameMode::To => self.handle_rename_to(event),
                RenameMode::From => self.handle_rename_from(event),
                // ignored: the From and To events carry it
                RenameMode::Both | RenameMode::Other => {}
            },
            EventKind::Remove(_) => self.push_remove_event(event, Instant::now()),
            EventKind::Other => {}
            _ => self.push_event(event, Instant::now()),
        }
    }

    fn handle_rename_from(&mut self, event: Event) {
        let time = Instant::now();
        self.rename_event = Some(DebouncedEvent { event: event.clone(), time });
        self.push_event(event, time);
    }

    fn handle_rename_to(&mut self, event: Event) {
        // NoCache: file ids never match, only inotify's cookies pair a From with a To
        let trackers_match = match (
            self.rename_event.as_ref().and_then(|e| e.event.tracker()),
            event.tracker(),
        ) {
            (Some(from), Some(to)) => from == to,
            _ => false,
        };
        if trackers_match {
            let mut rename_event = self.rename_event.take().unwrap();
            let path = rename_event.event.paths.remove(0);
            let time = rename_event.time;
            self.push_rename_event(path, event, time);
        } else {
            // move in
            self.push_event(event, Instant::now());
        }
        self.rename_event = None;
    }

    fn push_rename_event(&mut self, path: PathBuf, event: Event, time: Instant) {
        let mut source_queue = self.queues.remove(&path).unwrap_or_default();

        // remove the rename `from` event
        source_queue.events.pop_back();

        // remove an existing rename event
        let (remove_index, original_path, original_time) = source_queue
            .events
            .iter()
            .enumerate()
            .find_map(|(index, e)| {
                if matches!(e.event.kind, EventKind::Modify(ModifyKind::Name(RenameMode::Both))) {
                    Some((Some(index), e.event.paths[0].clone(), e.time))
                } else {
                    None
                }
            })
            .unwrap_or((None, path, time));
        if let Some(remove_index) = remove_index {
            source_queue.events.remove(remove_index);
        }

        // split off a remove or move-out event and add it back to the events map
        if source_queue.was_removed() {
            let removed = source_queue.events.pop_front().unwrap();
            let mut queue = Queue::default();
            let key = removed.event.paths[0].clone();
            queue.events.push_back(removed);
            self.queues.insert(key, queue);
        }

        // update paths
        for e in &mut source_queue.events {
            e.event.paths = vec![event.paths[0].clone()];
        }

        // insert the rename event at the front, unless the file was just created
        if !source_queue.was_created() {
            let mut rename = Event::new(EventKind::Modify(ModifyKind::Name(RenameMode::Both)));
            rename.paths = vec![original_path, event.paths[0].clone()];
            rename.attrs = event.attrs.clone();
            source_queue.events.push_front(DebouncedEvent { event: rename, time: original_time });
        }

        let target = event.paths[0].clone();
        if let Some(target_queue) = self.queues.get_mut(&target) {
            if !target_queue.was_created() {
                let mut remove = Event::new(EventKind::Remove(RemoveKind::Any));
                remove.paths = vec![target.clone()];
                if !target_queue.was_removed() {
                    remove = remove.set_info("override");
                }
                source_queue.events.push_front(DebouncedEvent { event: remove, time: original_time });
            }
            *target_queue = source_queue;
        } else {
            self.queues.insert(target, source_queue);
        }
    }

    fn push_remove_event(&mut self, event: Event, time: Instant) {
        let path = event.paths[0].clone();

        // remove child queues
        self.queues.retain(|p, _| !p.starts_with(&path) || *p == path);

        match self.queues.get_mut(&path) {
            Some(queue) if queue.was_created() => {
                self.queues.remove(&path);
            }
            Some(queue) => {
                queue.events = [DebouncedEvent { event, time }].into();
            }
            None => self.push_event(event, time),
        }
    }

    fn push_event(&mut self, event: Event, time: Instant) {
        let path = event.paths[0].clone();
        if let Some(queue) = self.queues.get_mut(&path) {
            // skip duplicate create events and modifications right after creation
            let keep = match event.kind {
                EventKind::Modify(
                    ModifyKind::Any
                    | ModifyKind::Data(_)
                    | ModifyKind::Metadata(_)
                    | ModifyKind::Other,
                )
                | EventKind::Create(_) => !queue.was_created(),
                _ => true,
            };
            if keep {
                queue.events.push_back(DebouncedEvent { event, time });
            }
        } else {
            let mut queue = Queue::default();
            queue.events.push_back(DebouncedEvent { event, time });
            self.queues.insert(path, queue);
        }
    }

    /// The events older than the timeout, removed from the queues (`debounced_events`).
    fn debounced_events(&mut self) -> Vec<DebouncedEvent> {
        let now = Instant::now();
        let mut expired: Vec<DebouncedEvent> = Vec::new();
        let mut remaining = HashMap::new();

        if let Some(event) = self.rescan_event.take() {
            if now.saturating_duration_since(event.time) >= self.timeout {
                expired.push(event);
            } else {
                self.rescan_event = Some(event);
            }
        }

        for (path, mut queue) in self.queues.drain() {
            let mut kind_index: HashMap<EventKind, usize> = HashMap::new();
            while let Some(event) = queue.events.pop_front() {
                // remove a previous event of the same kind
                if let Some(idx) = kind_index.get(&event.event.kind).copied() {
                    expired.remove(idx);
                    kind_index.values_mut().for_each(|i| {
                        if *i > idx {
                            *i -= 1
                        }
                    });
                }
                if now.saturating_duration_since(event.time) >= self.timeout {
                    kind_index.insert(event.event.kind.clone(), expired.len());
                    expired.push(event);
                } else {
                    queue.events.push_front(event);
                    break;
                }
            }
            if !queue.events.is_empty() {
                remaining.insert(path, queue);
            }
        }
        self.queues = remaining;
        sort_events(expired)
    }
}

/// Events of different paths in chronological order, those of one path in their order.
fn sort_events(events: Vec<DebouncedEvent>) -> Vec<DebouncedEvent> {
    let mut sorted = Vec::with_capacity(events.len());
    let mut by_path: HashMap<PathBuf, VecDeque<DebouncedEvent>> = HashMap::new();
    for event in events {
        by_path
            .entry(event.event.paths.last().cloned().unwrap_or_default())
            .or_default()
            .push_back(event);
    }
    let mut heap: BinaryHeap<Reverse<(Instant, PathBuf)>> =
        by_path.iter().map(|(path, evs)| Reverse((evs[0].time, path.clone()))).collect();
    while let Some(Reverse((min_time, path))) = heap.pop() {
        let evs = by_path.get_mut(&path).unwrap();
        let mut push_next = false;
        while evs.front().map_or(false, |e| e.time <= min_time) {
            sorted.push(evs.pop_front().unwrap());
            push_next = true;
        }
        if push_next {
            if let Some(e) = evs.front() {
                heap.push(Reverse((e.time, path)));
            }
        }
    }
    sorted
}

// --- layer 3: bevy_asset's FileWatcher ----------------------------------------------------------

/// `AssetSourceEvent`, with the file paths kept for the output.
#[derive(Clone, Debug, PartialEq)]
struct SourceEvent {
    kind: &'static str,
    asset: PathBuf,
    file: PathBuf,
    old: Option<(PathBuf, PathBuf)>, // (asset, file) of a rename's old path
}

/// bevy's `normalize_path`: drops `.` and resolves `..` lexically.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `get_asset_path`: (relative file path, asset path, is_meta); None outside the root, where
/// Bevy's `strip_prefix(..).unwrap_or_else(panic!)` would panic.
fn asset_path(root: &Path, absolute: &Path) -> Option<(PathBuf, PathBuf, bool)> {
    let rel = normalize(absolute).strip_prefix(root).ok()?.to_path_buf();
    let is_meta = rel.extension().map_or(false, |e| e == "meta");
    let asset = if is_meta { rel.with_extension("") } else { rel.clone() };
    Some((rel, asset, is_meta))
}

fn added_or_modified(added: bool, is_meta: bool) -> &'static str {
    match (added, is_meta) {
        (true, false) => "AddedAsset",
        (true, true) => "AddedMeta",
        (false, false) => "ModifiedAsset",
        (false, true) => "ModifiedMeta",
    }
}

/// The `match event.kind` of `new_asset_event_debouncer`. Err: why the event sends nothing.
fn classify(root: &Path, event: &Event) -> Result<Option<SourceEvent>, &'static str> {
    let paths: Vec<PathBuf> = event.paths.iter().map(|p| normalize(p)).collect();
    let Some(first) = paths.first() else { return Err("no path") };
    let Some((file, asset, is_meta)) = asset_path(root, first) else {
        return Err("outside the watched root");
    };
    let simple = |kind: &'static str| {
        Ok(Some(SourceEvent { kind, asset: asset.clone(), file: file.clone(), old: None }))
    };
    match event.kind {
        EventKind::Create(CreateKind::File) => simple(added_or_modified(true, is_meta)),
        EventKind::Create(CreateKind::Folder) => simple("AddedFolder"),
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
            simple(added_or_modified(false, is_meta))
        }
        // a dangling From (no To within the debounce) counts as removed
        EventKind::Remove(RemoveKind::Any)
        | EventKind::Modify(ModifyKind::Name(RenameMode::From)) => simple("RemovedUnknown"),
        EventKind::Create(CreateKind::Any)
        | EventKind::Modify(ModifyKind::Name(RenameMode::To)) => {
            if first.is_dir() {
                simple("AddedFolder")
            } else {
                simple(added_or_modified(true, is_meta))
            }
        }
        EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => {
            let Some(second) = paths.get(1) else { return Err("rename without a new path") };
            let Some((new_file, new_asset, new_is_meta)) = asset_path(root, second) else {
                return Err("rename out of the watched root");
            };
            let kind = if second.is_dir() {
                "RenamedFolder"
            } else {
                match (is_meta, new_is_meta) {
                    (true, true) => "RenamedMeta",
                    (false, false) => "RenamedAsset",
                    // Bevy logs an error and sends nothing
                    _ => return Err("asset renamed to meta or back (Bevy logs an error)"),
                }
            };
            Ok(Some(SourceEvent {
                kind,
                asset: new_asset,
                file: new_file,
                old: Some((asset.clone(), file.clone())),
            }))
        }
        EventKind::Modify(_) => {
            if first.is_dir() {
                Err("modified folder") // "modified folder means nothing in this case"
            } else {
                simple(added_or_modified(false, is_meta))
            }
        }
        EventKind::Remove(RemoveKind::File) => {
            simple(if is_meta { "RemovedMeta" } else { "RemovedAsset" })
        }
        EventKind::Remove(RemoveKind::Folder) => simple("RemovedFolder"),
        _ => Ok(None), // `_ => {}`
    }
}

/// The Bevy versions whose AssetServer reloads the asset on an event of this kind: the
/// `handle_event` closure of `handle_internal_asset_events`, crates/bevy_asset/src/server/mod.rs.
///
/// - 0.14-0.16: `ModifiedAsset(path) | ModifiedMeta(path)` queue `path` (and its dependents) for
///   reload; `AddedAsset`, `RemovedAsset`, `RemovedFolder`, `AddedFolder` and `RenamedFolder`
///   only reload folder handles (`reload_parent_folders`); the rest is `_ => {}`. v0.14.0
///   lines 1266-1281, v0.15.0 lines 1552-1567, v0.16.0 lines 1703-1718.
/// - 0.17+: `AddedAsset` reloads too (bevyengine/bevy#21183); `AddedMeta` still does not.
///   v0.17.0 lines 1733-1751, v0.18.0 lines 1828-1846, the same on main (2026-08).
fn reloaded_by(kind: &str) -> &'static [&'static str] {
    match kind {
        "ModifiedAsset" | "ModifiedMeta" => &["0.14-0.16", "0.17+"],
        "AddedAsset" => &["0.17+"],
        _ => &[],
    }
}

fn rel_or_abs(root: &Path, path: &Path) -> String {
    let n = normalize(path);
    match n.strip_prefix(root) {
        Ok(rel) => rel.to_string_lossy().into_owned(),
        Err(_) => n.to_string_lossy().into_owned(),
    }
}

// --- the program --------------------------------------------------------------------------------

fn emit(value: Value) {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}

fn usage(message: &str) -> ! {
    eprintln!("pixelbuild-notify-check: {message}");
    eprintln!(
        "usage: pixelbuild-notify-check [--trace] [--poll] [--debounce-ms N] [--quiet-ms N] \
         [--max-secs N] ROOT"
    );
    std::process::exit(2);
}

enum Command {
    Sync(String, Instant),
    Eof(Instant),
}

fn start_watcher(
    root: &Path,
    data: &Arc<Mutex<Debouncer>>,
    force_poll: bool,
) -> Result<(Box<dyn Watcher>, &'static str), String> {
    let handler = |data: Arc<Mutex<Debouncer>>| {
        move |result: notify::Result<Event>| {
            let mut d = data.lock().unwrap();
            match result {
                Ok(event) => d.add_event(event),
                Err(error) => d.errors.push(format!("{error:?}")),
            }
        }
    };
    let mut inotify_error = String::from("--poll given");
    if !force_poll {
        match RecommendedWatcher::new(handler(data.clone()), Config::default()) {
            Ok(mut w) => match w.watch(root, RecursiveMode::Recursive) {
                Ok(()) => return Ok((Box::new(w), "inotify")),
                Err(e) => inotify_error = format!("{e:?}"),
            },
            Err(e) => inotify_error = format!("{e:?}"),
        }
        eprintln!("pixelbuild-notify-check: inotify unavailable ({inotify_error}), polling");
    }
    let config = Config::default()
        .with_poll_interval(Duration::from_millis(50))
        .with_compare_contents(true);
    let mut w = PollWatcher::new(handler(data.clone()), config)
        .map_err(|e| format!("inotify: {inotify_error}; poll: {e:?}"))?;
    w.watch(root, RecursiveMode::Recursive)
        .map_err(|e| format!("inotify: {inotify_error}; poll: {e:?}"))?;
    Ok((Box::new(w), "poll"))
}

fn main() {
    let mut trace = false;
    let mut force_poll = false;
    let mut debounce_ms: u64 = 300; // Bevy's AssetSourceBuilder default
    let mut quiet_ms: Option<u64> = None;
    let mut max_secs: Option<u64> = None;
    let mut root: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> u64 {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| usage(&format!("{name} needs a number")))
        };
        match arg.as_str() {
            "--trace" => trace = true,
            "--poll" => force_poll = true,
            "--debounce-ms" => debounce_ms = number("--debounce-ms").max(1),
            "--quiet-ms" => quiet_ms = Some(number("--quiet-ms")),
            "--max-secs" => max_secs = Some(number("--max-secs")),
            "-h" | "--help" => usage("watches ROOT like Bevy's asset file watcher"),
            _ if arg.starts_with('-') => usage(&format!("unknown option {arg}")),
            _ if root.is_none() => root = Some(PathBuf::from(arg)),
            _ => usage("one ROOT only"),
        }
    }
    let Some(root) = root else { usage("ROOT missing") };
    // Bevy: normalize_path(std::path::absolute(path)), no symlinks resolved
    let root = match std::path::absolute(&root) {
        Ok(p) => normalize(&p),
        Err(e) => usage(&format!("{}: {e}", root.display())),
    };
    if !root.is_dir() {
        usage(&format!("{} is not a folder", root.display()));
    }

    let timeout = Duration::from_millis(debounce_ms);
    let tick = timeout / 4; // new_debouncer(timeout, None, ..): a quarter of the timeout
    let data = Arc::new(Mutex::new(Debouncer::new(root.clone(), timeout, trace)));
    // the watcher stops when dropped: keep it until exit
    let (_watcher, kind) = match start_watcher(&root, &data, force_poll) {
        Ok(w) => w,
        Err(e) => {
            emit(json!({ "error": e }));
            eprintln!("pixelbuild-notify-check: no watcher: {e}");
            std::process::exit(2);
        }
    };

    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            let Ok(line) = line else { break };
            let line = line.trim();
            if let Some(label) = line.strip_prefix("sync") {
                let _ = tx.send(Command::Sync(label.trim().to_string(), Instant::now()));
            } else if !line.is_empty() {
                emit(json!({ "error": format!("unknown command {line:?}") }));
            }
        }
        let _ = tx.send(Command::Eof(Instant::now()));
    });

    emit(json!({
        "ready": true,
        "root": root.to_string_lossy(),
        "watcher": kind,
        "debounce_ms": debounce_ms,
    }));

    let started = Instant::now();
    let mut waiting: VecDeque<Command> = VecDeque::new();
    loop {
        std::thread::sleep(tick);
        let (raw, events, errors, pending, last_raw) = {
            let mut d = data.lock().unwrap();
            let events = d.debounced_events();
            (
                std::mem::take(&mut d.raw_lines),
                events,
                std::mem::take(&mut d.errors),
                d.pending(),
                d.last_raw,
            )
        };
        raw.into_iter().for_each(emit);

        // FileEventHandler: begin() per batch, then handle() skips an event equal to the last
        let mut last: Option<SourceEvent> = None;
        for event in &events {
            match classify(&root, &event.event) {
                Ok(Some(source)) => {
                    if last.as_ref() == Some(&source) {
                        continue;
                    }
                    let mut line = json!({
                        "kind": source.kind,
                        "path": source.file.to_string_lossy(),
                        "asset": source.asset.to_string_lossy(),
                        "notify": format!("{:?}", event.event.kind),
                        "reload": reloaded_by(source.kind),
                    });
                    if let Some((old_asset, old_file)) = &source.old {
                        line["old"] = json!(old_file.to_string_lossy());
                        line["old_asset"] = json!(old_asset.to_string_lossy());
                    }
                    emit(line);
                    last = Some(source);
                }
                Ok(None) => emit(json!({
                    "ignored": format!("{:?}", event.event.kind),
                    "paths": event.event.paths.iter().map(|p| rel_or_abs(&root, p)).collect::<Vec<_>>(),
                })),
                Err(why) => emit(json!({
                    "ignored": format!("{:?}", event.event.kind),
                    "why": why,
                    "paths": event.event.paths.iter().map(|p| rel_or_abs(&root, p)).collect::<Vec<_>>(),
                })),
            }
        }
        for error in errors {
            emit(json!({ "error": error }));
        }

        while let Ok(command) = rx.try_recv() {
            waiting.push_back(command);
        }
        // A sync is answered once the kernel has had time to deliver what happened before it
        // (two ticks), and every raw event has been quiet for a whole debounce and printed.
        let now = Instant::now();
        let settled = |at: Instant| {
            !pending
                && now.saturating_duration_since(at) >= tick * 2
                && last_raw.map_or(true, |t| now.saturating_duration_since(t) >= timeout + tick * 2)
        };
        while let Some(command) = waiting.front() {
            match command {
                Command::Sync(label, at) if settled(*at) => {
                    emit(json!({ "synced": label }));
                    waiting.pop_front();
                }
                Command::Eof(at) if settled(*at) => {
                    emit(json!({ "done": "eof" }));
                    std::process::exit(0);
                }
                _ => break,
            }
        }
        if let Some(q) = quiet_ms {
            let since = last_raw.unwrap_or(started);
            if !pending && now.saturating_duration_since(since) >= Duration::from_millis(q) {
                emit(json!({ "done": "quiet" }));
                std::process::exit(0);
            }
        }
        if let Some(m) = max_secs {
            if now.saturating_duration_since(started) >= Duration::from_secs(m) {
                emit(json!({ "done": "max-secs" }));
                std::process::exit(0);
            }
        }
    }
}
