//! The job roles a case can ask for.
//!
//! A case names the kinds of job it needs (`jobs = ["failed"]`); a target supplies a job per role:
//! the embedded fixture provisions a fresh one per trial, a real server gets them from `--job
//! ROLE=ID` or from discovery. Roles are a closed set so that a typo in a case file is an error.

/// One role a job can play in a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobRole {
    /// The name used in case files (`jobs = [...]`), templates (`{{job.NAME}}`) and `--job NAME=ID`.
    pub name: &'static str,
    /// What a job must look like to play the role.
    pub description: &'static str,
}

/// Every role, in the order they are reported.
pub const JOB_ROLES: &[JobRole] = &[
    JobRole {
        name: "failed",
        description: "a VMware vSphere backup job whose newest session ended Failed",
    },
    JobRole {
        name: "failed-hyperv",
        description: "a Microsoft Hyper-V backup job whose newest session ended Failed",
    },
    JobRole {
        name: "succeeded",
        description: "a backup job whose newest session ended Success",
    },
    JobRole {
        name: "warning",
        description: "a backup job whose newest session ended Warning",
    },
    JobRole {
        name: "running",
        description: "a backup job with a session that is still running",
    },
    JobRole {
        name: "backup-copy",
        description: "a backup copy job (retry is not offered for it)",
    },
];

/// Looks a role up by its case-file name.
pub fn job_role(name: &str) -> Option<&'static JobRole> {
    JOB_ROLES.iter().find(|r| r.name == name)
}

/// A job on a target, as a case sees it through `{{job.ROLE}}`, `{{job.ROLE.name}}`, `{{job.ROLE.uid}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobInfo {
    /// The bare GUID used in `/api/jobs/{ID}`.
    pub id: String,
    /// `urn:veeam:Job:{ID}`.
    pub uid: String,
    /// The job's display name.
    pub name: String,
}

impl JobInfo {
    /// A job known by its bare GUID and name.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        let id = id.into();
        JobInfo {
            uid: format!("urn:veeam:Job:{id}"),
            id,
            name: name.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_unique_and_found_by_name() {
        for role in JOB_ROLES {
            assert_eq!(job_role(role.name), Some(role));
        }
        assert!(job_role("faild").is_none());
    }
}
