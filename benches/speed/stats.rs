//! Medians and ranges of repeated measurements, and what the machine was doing meanwhile: timings
//! on a shared 2-core machine are noisy, so every figure comes with its spread and load average.

use std::time::Duration;

/// Repeated measurements of one quantity.
#[derive(Debug, Clone, Default)]
pub struct Samples(Vec<f64>);

impl Samples {
    pub fn push(&mut self, value: f64) {
        self.0.push(value);
    }

    pub fn push_duration(&mut self, value: Duration) {
        self.push(value.as_secs_f64());
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    fn sorted(&self) -> Vec<f64> {
        let mut values = self.0.clone();
        values.sort_by(f64::total_cmp);
        values
    }

    pub fn median(&self) -> f64 {
        let values = self.sorted();
        match values.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => values[n / 2],
            n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
        }
    }

    pub fn min(&self) -> f64 {
        self.sorted().first().copied().unwrap_or(f64::NAN)
    }

    pub fn max(&self) -> f64 {
        self.sorted().last().copied().unwrap_or(f64::NAN)
    }

    /// `median (min–max)` in a unit chosen by `show`.
    pub fn show(&self, show: impl Fn(f64) -> String) -> String {
        if self.len() == 1 {
            return show(self.median());
        }
        format!(
            "{} ({}–{})",
            show(self.median()),
            show(self.min()),
            show(self.max())
        )
    }
}

/// Seconds as `12.3 ms`, `1.23 s` or `45 µs`.
pub fn time(seconds: f64) -> String {
    if seconds >= 1.0 {
        format!("{seconds:.2} s")
    } else if seconds >= 1e-3 {
        format!("{:.1} ms", seconds * 1e3)
    } else {
        format!("{:.0} µs", seconds * 1e6)
    }
}

/// A rate as `1234/s`.
pub fn rate(per_second: f64) -> String {
    format!("{per_second:.0}/s")
}

/// A ratio as `1.23×`.
pub fn ratio(value: f64) -> String {
    format!("{value:.2}×")
}

/// KiB as `12.3 MiB`.
pub fn mebibytes(kib: f64) -> String {
    format!("{:.1} MiB", kib / 1024.0)
}

/// The 1-minute load average, from `/proc/loadavg` (`?` where there is none).
pub fn load_1min() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// The 1-, 5- and 15-minute load averages.
pub fn load_averages() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}

/// CPU model, cores and memory, as far as `/proc` tells.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<f64>().ok())
        })
        .map_or_else(
            || "? GiB".into(),
            |kib| format!("{:.0} GiB", kib / 1024.0 / 1024.0),
        );
    format!("{cpu}, {cores} cores, {memory}")
}

/// CPU time the process has used, all threads (the fixture's too): less disturbed by other
/// processes than wall time. System time is mostly the loopback's TCP and file reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuTime {
    pub user: Duration,
    pub system: Duration,
}

impl CpuTime {
    /// So far.
    pub fn now() -> CpuTime {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: `getrusage` fills the struct it is given; on failure it stays zeroed.
        let usage = unsafe {
            libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
            usage.assume_init()
        };
        let time = |t: libc::timeval| {
            Duration::from_secs(t.tv_sec.max(0) as u64)
                + Duration::from_micros(t.tv_usec.max(0) as u64)
        };
        CpuTime {
            user: time(usage.ru_utime),
            system: time(usage.ru_stime),
        }
    }

    /// Used since `earlier`.
    pub fn since(earlier: CpuTime) -> CpuTime {
        let now = CpuTime::now();
        CpuTime {
            user: now.user.saturating_sub(earlier.user),
            system: now.system.saturating_sub(earlier.system),
        }
    }

    pub fn total(&self) -> Duration {
        self.user + self.system
    }
}

/// A field of `/proc/self/status` in KiB (`VmHWM` is the peak resident set size).
pub fn status_kib(field: &str) -> Option<f64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Prints a table with a header row.
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        println!("| {} |", padded.join(" | "));
    };
    line(header.to_vec());
    println!(
        "|{}|",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("|")
    );
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    println!();
}
