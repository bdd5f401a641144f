//! Which jobs of a remote target play which role, and handing them to trials.
//!
//! A role's jobs come from `--job ROLE=ID` or from discovery. A trial that only reads shares the
//! role's first job; a trial with side effects takes a job for itself (from the end of the list),
//! because a failed job supports one successful retry (design note 3). When a role has no job
//! left, the trial is ignored with a reason that says how to supply more.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::roles::{JOB_ROLES, JobInfo, job_role};

/// How a role's jobs were found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// With `--job ROLE=ID`.
    Given,
    /// By discovery, among this many jobs on the target.
    Discovered,
    /// Discovery was tried and failed, for this reason.
    DiscoveryFailed(String),
}

/// The jobs of one role.
#[derive(Debug, Clone)]
pub struct RolePool {
    pub role: String,
    pub origin: Origin,
    /// Jobs still available, in the order found.
    pub jobs: Vec<JobInfo>,
    /// Jobs taken by trials with side effects.
    pub taken: usize,
    /// Those jobs: trials that only read may still use them (after the re-check of their role).
    pub lent: Vec<JobInfo>,
    /// Jobs dropped because they no longer play the role, with why.
    pub dropped: Vec<String>,
    /// Remarks printed with the role (e.g. a given job that does not look like the role).
    pub warnings: Vec<String>,
}

impl RolePool {
    /// An empty pool.
    pub fn new(role: &str, origin: Origin) -> RolePool {
        RolePool {
            role: role.to_string(),
            origin,
            jobs: Vec::new(),
            taken: 0,
            lent: Vec::new(),
            dropped: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The next job for a trial: shared (the first, or one lent to a side-effecting trial when
    /// none is free) or for itself (the last free one, removed).
    pub fn take(&mut self, exclusive: bool) -> Option<JobInfo> {
        if exclusive {
            let job = self.jobs.pop()?;
            self.taken += 1;
            self.lent.push(job.clone());
            Some(job)
        } else {
            self.jobs.first().or_else(|| self.lent.first()).cloned()
        }
    }

    /// Removes a job that no longer plays the role.
    pub fn drop_job(&mut self, job: &JobInfo, why: &str) {
        self.jobs.retain(|j| j.id != job.id);
        self.lent.retain(|j| j.id != job.id);
        self.dropped
            .push(format!("job \"{}\" ({}) {why}", job.name, job.id));
    }

    /// Why no job is left, and how to give one.
    pub fn why_empty(&self) -> String {
        let role = &self.role;
        let what = job_role(role).map_or("", |r| r.description);
        let mut why = match &self.origin {
            Origin::Given if self.taken > 0 => format!(
                "every job given for the role `{role}` was taken by an earlier trial that changes its \
                 job (a failed job supports one retry, so each such trial needs its own)"
            ),
            Origin::Given => format!("no job given for the role `{role}` plays it any more"),
            Origin::Discovered if self.taken > 0 => format!(
                "every `{role}` job found on the target was taken by an earlier trial that changes its \
                 job (a failed job supports one retry, so each such trial needs its own)"
            ),
            Origin::Discovered => {
                format!("no job plays the role `{role}` on this target ({what})")
            }
            Origin::DiscoveryFailed(reason) => {
                format!("no job plays the role `{role}`: finding one failed ({reason})")
            }
        };
        for dropped in &self.dropped {
            let _ = write!(why, "; {dropped}");
        }
        let _ = write!(why, "; give one with --job {role}=ID (repeatable)");
        why
    }
}

/// How many jobs of a role the report names before "and N more".
const SHOWN_PER_ROLE: usize = 3;

/// What the run found, one role a line, for stderr before the trials.
pub fn describe(pools: &BTreeMap<String, RolePool>, jobs_on_target: Option<usize>) -> String {
    let mut out = String::new();
    if pools.is_empty() {
        return out;
    }
    let seen = match jobs_on_target {
        Some(n) => format!(" ({n} jobs on the target)"),
        None => String::new(),
    };
    let _ = writeln!(out, "emconform: jobs for the trials{seen}:");
    for role in JOB_ROLES {
        let Some(pool) = pools.get(role.name) else {
            continue;
        };
        let origin = match pool.origin {
            Origin::Given => "given",
            _ => "found",
        };
        if pool.jobs.is_empty() {
            let _ = writeln!(out, "  {:<14} none: {}", role.name, pool.why_empty());
        } else {
            let shown: Vec<String> = pool
                .jobs
                .iter()
                .take(SHOWN_PER_ROLE)
                .map(|j| match j.name.ends_with(&j.id) {
                    // A given job that could not be read has no name.
                    true => format!("{} ({origin})", j.id),
                    false => format!("\"{}\" {} ({origin})", j.name, j.id),
                })
                .collect();
            let more = pool.jobs.len().saturating_sub(SHOWN_PER_ROLE);
            let more = if more > 0 {
                format!(", and {more} more")
            } else {
                String::new()
            };
            let _ = writeln!(out, "  {:<14} {}{more}", role.name, shown.join(", "));
        }
        for warning in &pool.warnings {
            let _ = writeln!(out, "  {:<14} warning: {warning}", "");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(origin: Origin, n: usize) -> RolePool {
        let mut p = RolePool::new("failed", origin);
        for i in 0..n {
            p.jobs
                .push(JobInfo::new(format!("id-{i}"), format!("job {i}")));
        }
        p
    }

    #[test]
    fn shared_trials_use_the_first_job_and_exclusive_ones_take_from_the_end() {
        let mut p = pool(Origin::Given, 2);
        assert_eq!(p.take(false).unwrap().id, "id-0");
        assert_eq!(p.take(true).unwrap().id, "id-1");
        assert_eq!(p.take(true).unwrap().id, "id-0");
        // Taken jobs still serve trials that only read (their role is checked again before use).
        assert_eq!(p.take(false).unwrap().id, "id-1");
        assert!(p.take(true).is_none());
        let why = p.why_empty();
        assert!(why.contains("taken by an earlier trial"), "{why}");
        assert!(
            why.ends_with("give one with --job failed=ID (repeatable)"),
            "{why}"
        );
    }

    #[test]
    fn the_reason_names_dropped_jobs_and_failed_discovery() {
        let mut p = pool(Origin::Discovered, 1);
        let job = p.jobs[0].clone();
        p.drop_job(
            &job,
            "no longer plays `failed`: its newest session ended Success",
        );
        let why = p.why_empty();
        assert!(
            why.contains("no job plays the role `failed` on this target (a VMware"),
            "{why}"
        );
        assert!(
            why.contains("job \"job 0\" (id-0) no longer plays"),
            "{why}"
        );
        let p = pool(
            Origin::DiscoveryFailed("GET /api/jobs answered 403".into()),
            0,
        );
        assert!(
            p.why_empty()
                .contains("finding one failed (GET /api/jobs answered 403)")
        );
    }

    #[test]
    fn the_report_names_jobs_and_says_what_is_missing() {
        let mut pools = BTreeMap::new();
        pools.insert("failed".to_string(), pool(Origin::Given, 5));
        pools.insert(
            "warning".to_string(),
            RolePool::new("warning", Origin::Discovered),
        );
        let text = describe(&pools, Some(12));
        assert!(text.starts_with("emconform: jobs for the trials (12 jobs on the target):\n"));
        assert!(text.contains("  failed         \"job 0\" id-0 (given), \"job 1\" id-1 (given), \"job 2\" id-2 (given), and 2 more\n"), "{text}");
        assert!(
            text.contains("  warning        none: no job plays the role `warning`"),
            "{text}"
        );
    }
}
