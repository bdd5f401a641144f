//! Progress while trials run against a slow (real) server: which trials are running, for how long,
//! and what their awaits are waiting for.
//!
//! libtest prints a trial's line only when it ends, and a real server's tasks can take minutes, so
//! without this a run looks hung. Progress goes to stderr as whole lines (never a redrawn line), so
//! libtest's output on stdout — including `--format json` — stays exactly as it is. It is on against
//! a remote target when stderr is a terminal, or when `--progress` asks for it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// Where progress lines go.
type Sink = Box<dyn Fn(&str) + Send + Sync>;

/// The run's progress display; cloning shares it. [`Progress::disabled`] makes every call a no-op.
#[derive(Clone, Default)]
pub struct Progress {
    shared: Option<Arc<Shared>>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.shared.is_some() {
            "Progress(on)"
        } else {
            "Progress(off)"
        })
    }
}

struct Shared {
    running: Mutex<BTreeMap<String, Running>>,
    done: AtomicUsize,
    total: AtomicUsize,
    sink: Sink,
}

struct Running {
    started: Instant,
    awaiting: Option<Awaiting>,
}

struct Awaiting {
    /// The step's name.
    step: String,
    since: Instant,
    sends: u32,
}

/// Marks a trial as running until dropped.
pub struct TrialGuard {
    progress: Progress,
    id: String,
}

impl Drop for TrialGuard {
    fn drop(&mut self) {
        if let Some(shared) = &self.progress.shared {
            shared.lock().remove(&self.id);
            shared.done.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Running>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The status line now, if anything runs.
    fn status_line(&self) -> Option<String> {
        let running = self.lock();
        status_line(
            Instant::now(),
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
            &running,
        )
    }
}

impl Progress {
    /// No progress display.
    pub fn disabled() -> Progress {
        Progress::default()
    }

    /// Progress lines on stderr, with a status line every `interval` while something runs.
    pub fn to_stderr(interval: Duration) -> Progress {
        Progress::with_sink(interval, Box::new(|line| eprintln!("{line}")))
    }

    /// Progress lines to `sink` (tests collect them).
    fn with_sink(interval: Duration, sink: Sink) -> Progress {
        let shared = Arc::new(Shared {
            running: Mutex::new(BTreeMap::new()),
            done: AtomicUsize::new(0),
            total: AtomicUsize::new(0),
            sink,
        });
        let weak = Arc::downgrade(&shared);
        let _ = std::thread::Builder::new()
            .name("emconform-progress".into())
            .spawn(move || heartbeat(weak, interval));
        Progress {
            shared: Some(shared),
        }
    }

    /// Whether anything is shown.
    pub fn is_enabled(&self) -> bool {
        self.shared.is_some()
    }

    /// How many trials the run will run (for "3 of 40 done").
    pub fn set_total(&self, total: usize) {
        if let Some(shared) = &self.shared {
            shared.total.store(total, Ordering::Relaxed);
        }
    }

    /// Marks `id` as running until the guard is dropped.
    pub fn trial(&self, id: &str) -> TrialGuard {
        if let Some(shared) = &self.shared {
            shared.lock().insert(
                id.to_string(),
                Running {
                    started: Instant::now(),
                    awaiting: None,
                },
            );
        }
        TrialGuard {
            progress: self.clone(),
            id: id.to_string(),
        }
    }

    /// Whether anything is shown (a caller may skip working out what to say).
    pub fn is_shown(&self) -> bool {
        self.shared.is_some()
    }

    /// Says that step `step` of trial `id` is re-sending its request until `condition` holds,
    /// `sends` requests so far. The first call for an await prints a line at once; later ones
    /// update the status line.
    pub fn awaiting(&self, id: &str, step: &str, condition: &str, sends: u32) {
        let Some(shared) = &self.shared else { return };
        let first = {
            let mut running = shared.lock();
            let Some(trial) = running.get_mut(id) else {
                return;
            };
            match &mut trial.awaiting {
                Some(a) if a.step == step => {
                    a.sends = sends;
                    false
                }
                slot => {
                    *slot = Some(Awaiting {
                        step: step.to_string(),
                        since: Instant::now(),
                        sends,
                    });
                    true
                }
            }
        };
        if first {
            (shared.sink)(&format!(
                "emconform: {id}: step \"{step}\" awaits {condition}"
            ));
        }
    }

    /// The status line now, if anything runs.
    #[cfg(test)]
    fn status_line(&self) -> Option<String> {
        self.shared.as_ref()?.status_line()
    }
}

/// `emconform: 3 of 40 done; running: a::xml 14s (step "x" awaiting for 12s, 6 requests), b::json 2s`.
fn status_line(
    now: Instant,
    done: usize,
    total: usize,
    running: &BTreeMap<String, Running>,
) -> Option<String> {
    if running.is_empty() {
        return None;
    }
    let trials: Vec<String> = running
        .iter()
        .map(|(id, r)| {
            let mut text = format!("{id} {}s", now.duration_since(r.started).as_secs());
            if let Some(a) = &r.awaiting {
                text.push_str(&format!(
                    " (step \"{}\" awaiting for {}s, {} request{})",
                    a.step,
                    now.duration_since(a.since).as_secs(),
                    a.sends,
                    if a.sends == 1 { "" } else { "s" }
                ));
            }
            text
        })
        .collect();
    let count = if total > 0 {
        format!("{done} of {total} done; ")
    } else {
        String::new()
    };
    Some(format!("emconform: {count}running: {}", trials.join(", ")))
}

/// Prints the status line every `interval` until the progress display is gone.
fn heartbeat(shared: Weak<Shared>, interval: Duration) {
    loop {
        std::thread::sleep(interval);
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if let Some(line) = shared.status_line() {
            (shared.sink)(&line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collecting() -> (Progress, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink_lines = lines.clone();
        let progress = Progress::with_sink(
            Duration::from_secs(3600),
            Box::new(move |l| sink_lines.lock().unwrap().push(l.to_string())),
        );
        (progress, lines)
    }

    #[test]
    fn an_await_is_announced_once_and_then_shown_in_the_status_line() {
        let (progress, lines) = collecting();
        progress.set_total(4);
        let guard = progress.trial("a::xml");
        let _other = progress.trial("b::json");
        progress.awaiting("a::xml", "poll", "State = Finished", 1);
        progress.awaiting("a::xml", "poll", "State = Finished", 2);
        assert_eq!(
            *lines.lock().unwrap(),
            vec!["emconform: a::xml: step \"poll\" awaits State = Finished".to_string()]
        );
        let line = progress.status_line().unwrap();
        assert!(
            line.starts_with("emconform: 0 of 4 done; running: a::xml 0s (step \"poll\" awaiting for 0s, 2 requests), b::json 0s"),
            "{line}"
        );
        drop(guard);
        let line = progress.status_line().unwrap();
        assert!(
            line.starts_with("emconform: 1 of 4 done; running: b::json"),
            "{line}"
        );
    }

    #[test]
    fn disabled_progress_does_nothing() {
        let progress = Progress::disabled();
        let _g = progress.trial("a");
        progress.awaiting("a", "s", "x", 1);
        assert!(progress.status_line().is_none());
        assert!(!progress.is_enabled());
    }
}
