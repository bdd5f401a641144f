//! Reading a real server's jobs: what each job is (type, platform) and how its newest backup
//! session ended, and from that which role it can play (see [`crate::roles`]).
//!
//! Everything here only reads (`GET /api/jobs?format=Entity`, spec §3.1; the newest session of a
//! job through the query service, the recipe of spec §4.3), so it is safe against production.
//! Answers are read as XML, the one format every EM version speaks; elements are matched by local
//! name so that any namespace prefix works.

use std::fmt;

/// What the API says about a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFacts {
    /// The bare GUID.
    pub id: String,
    pub name: String,
    /// `Backup`, `BackupCopy`, `Replica`, ...
    pub job_type: String,
    /// `VMware`, `HyperV`, `vCloud`, `CustomPlatform`, ...
    pub platform: String,
}

impl JobFacts {
    /// `urn:veeam:Job:{ID}`.
    pub fn uid(&self) -> String {
        format!("urn:veeam:Job:{}", self.id)
    }
}

/// How a job's newest backup session stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionFacts {
    /// `Stopped`, `Working`, `Starting`, ...
    pub state: String,
    /// `Success`, `Warning`, `Failed`, or `None` while it runs.
    pub result: String,
    /// `CreationTimeUTC` as sent (ISO 8601, so it sorts as text).
    pub created: String,
}

impl fmt::Display for SessionFacts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.state.eq_ignore_ascii_case("Stopped") {
            write!(f, "ended {}", self.result)
        } else {
            write!(f, "is {} (result {})", self.state, self.result)
        }
    }
}

/// The GUID in `urn:veeam:Job:{GUID}`, or the last path segment of an Href.
fn bare_id(uid: Option<&str>, href: Option<&str>) -> Option<String> {
    if let Some(uid) = uid {
        return Some(uid.rsplit(':').next().unwrap_or(uid).to_ascii_lowercase());
    }
    let href = href?;
    let path = href.split('?').next().unwrap_or(href);
    path.rsplit('/')
        .find(|s| !s.is_empty())
        .map(str::to_ascii_lowercase)
}

fn child_text(node: roxmltree::Node, name: &str) -> Option<String> {
    node.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
        .and_then(|c| c.text())
        .map(|t| t.trim().to_string())
}

fn parse_xml(text: &str) -> Result<roxmltree::Document<'_>, String> {
    roxmltree::Document::parse(text.trim_start_matches('\u{feff}'))
        .map_err(|e| format!("the answer is not XML: {e}"))
}

/// Reads the `Job` entities of `GET /api/jobs?format=Entity` (or one `Job` entity of
/// `GET /api/jobs/{ID}?format=Entity`).
pub fn parse_jobs(text: &str) -> Result<Vec<JobFacts>, String> {
    let doc = parse_xml(text)?;
    let jobs = doc
        .descendants()
        .filter(|n| n.is_element() && n.tag_name().name() == "Job")
        .filter_map(|n| {
            Some(JobFacts {
                id: bare_id(n.attribute("UID"), n.attribute("Href"))?,
                name: n.attribute("Name").unwrap_or_default().to_string(),
                job_type: child_text(n, "JobType").unwrap_or_default(),
                platform: child_text(n, "Platform").unwrap_or_default(),
            })
        })
        .collect();
    Ok(jobs)
}

/// Reads the newest `BackupJobSession` of a query result; `None` when there is none.
pub fn parse_newest_session(text: &str) -> Result<Option<SessionFacts>, String> {
    let doc = parse_xml(text)?;
    let newest = doc
        .descendants()
        .filter(|n| n.is_element() && n.tag_name().name() == "BackupJobSession")
        .map(|n| SessionFacts {
            state: child_text(n, "State").unwrap_or_default(),
            result: child_text(n, "Result").unwrap_or_default(),
            created: child_text(n, "CreationTimeUTC").unwrap_or_default(),
        })
        // The query asks for the newest first; taking the latest creation time as well keeps a
        // server that ignores `sortDesc` from misleading us within the page.
        .max_by(|a, b| a.created.cmp(&b.created));
    Ok(newest)
}

/// The query (relative to the API base) for a job's newest backup session (spec §4.3).
pub fn newest_session_query(job_id: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("type", "BackupJobSession")
        .append_pair("format", "Entities")
        .append_pair("filter", &format!("JobUid==\"urn:veeam:Job:{job_id}\""))
        .append_pair("sortDesc", "CreationTime")
        .append_pair("pageSize", "1");
    format!("query?{}", query.finish())
}

fn is(value: &str, expected: &str) -> bool {
    value.eq_ignore_ascii_case(expected)
}

/// Platforms whose backup jobs the job actions support (spec §3.2).
fn supported_platform(platform: &str) -> bool {
    ["VMware", "HyperV", "vCloud"]
        .iter()
        .any(|p| is(platform, p))
}

/// Whether a role depends on the newest session (and so must be checked again before use).
pub fn role_depends_on_session(role: &str) -> bool {
    role != "backup-copy"
}

/// Whether a job's kind and platform fit `role`; if not, why.
pub fn kind_fits(role: &str, job: &JobFacts) -> Result<(), String> {
    let backup = is(&job.job_type, "Backup");
    let fits = match role {
        "failed" => backup && is(&job.platform, "VMware"),
        "failed-hyperv" => backup && is(&job.platform, "HyperV"),
        "succeeded" | "warning" | "running" => backup && supported_platform(&job.platform),
        "backup-copy" => is(&job.job_type, "BackupCopy"),
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(format!(
            "it is a {} job on {}, not {}",
            job.job_type,
            if job.platform.is_empty() {
                "no platform"
            } else {
                &job.platform
            },
            crate::roles::job_role(role).map_or("a job for this role", |r| r.description)
        ))
    }
}

/// Whether a job's newest session fits `role`; if not, why.
pub fn session_fits(role: &str, newest: Option<&SessionFacts>) -> Result<(), String> {
    if !role_depends_on_session(role) {
        return Ok(());
    }
    let Some(s) = newest else {
        return Err("it has never run".into());
    };
    let stopped = is(&s.state, "Stopped");
    let fits = match role {
        "failed" | "failed-hyperv" => stopped && is(&s.result, "Failed"),
        "succeeded" => stopped && is(&s.result, "Success"),
        "warning" => stopped && is(&s.result, "Warning"),
        "running" => !stopped && !is(&s.state, "Idle"),
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(format!("its newest session {s}"))
    }
}

/// The role a job plays, if any (every job plays at most one).
pub fn role_of(job: &JobFacts, newest: Option<&SessionFacts>) -> Option<&'static str> {
    crate::roles::JOB_ROLES
        .iter()
        .map(|r| r.name)
        .find(|role| kind_fits(role, job).is_ok() && session_fits(role, newest).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOBS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<Jobs xmlns="http://www.veeam.com/ent/v1.0">
  <Job Href="https://em:9398/api/jobs/AA?format=Entity" Type="Job" Name="SQL nightly" UID="urn:veeam:Job:AA">
    <JobType>Backup</JobType><Platform>VMware</Platform>
  </Job>
  <Job Href="https://em:9398/api/jobs/bb?format=Entity" Type="Job" Name="Copy">
    <JobType>BackupCopy</JobType><Platform>CustomPlatform</Platform>
  </Job>
</Jobs>"#;

    fn session(state: &str, result: &str) -> SessionFacts {
        SessionFacts {
            state: state.into(),
            result: result.into(),
            created: "2025-03-03T01:00:00Z".into(),
        }
    }

    #[test]
    fn reads_jobs_with_or_without_uid() {
        let jobs = parse_jobs(JOBS).unwrap();
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[0].id, "aa");
        assert_eq!(jobs[0].name, "SQL nightly");
        assert_eq!(jobs[0].platform, "VMware");
        assert_eq!(jobs[1].id, "bb");
        assert_eq!(jobs[1].job_type, "BackupCopy");
        assert!(parse_jobs("not xml").is_err());
    }

    #[test]
    fn the_newest_session_is_the_latest_created() {
        let text = r#"<QueryResult xmlns:v="http://www.veeam.com/ent/v1.0"><v:Entities><v:BackupJobSessions>
            <v:BackupJobSession><v:CreationTimeUTC>2025-03-03T01:00:00Z</v:CreationTimeUTC><v:State>Stopped</v:State><v:Result>Success</v:Result></v:BackupJobSession>
            <v:BackupJobSession><v:CreationTimeUTC>2025-03-04T01:00:00Z</v:CreationTimeUTC><v:State>Stopped</v:State><v:Result>Failed</v:Result></v:BackupJobSession>
          </v:BackupJobSessions></v:Entities></QueryResult>"#;
        let newest = parse_newest_session(text).unwrap().unwrap();
        assert_eq!(newest.result, "Failed");
        assert_eq!(parse_newest_session("<QueryResult/>").unwrap(), None);
    }

    #[test]
    fn every_job_plays_at_most_the_role_its_kind_and_newest_session_say() {
        let jobs = parse_jobs(JOBS).unwrap();
        let (vmware, copy) = (&jobs[0], &jobs[1]);
        let hyperv = JobFacts {
            platform: "Hyperv".into(),
            ..vmware.clone()
        };
        for (job, newest, role) in [
            (vmware, Some(session("Stopped", "Failed")), Some("failed")),
            (
                &hyperv,
                Some(session("Stopped", "Failed")),
                Some("failed-hyperv"),
            ),
            (
                vmware,
                Some(session("Stopped", "Success")),
                Some("succeeded"),
            ),
            (vmware, Some(session("Stopped", "Warning")), Some("warning")),
            (vmware, Some(session("Working", "None")), Some("running")),
            (vmware, None, None),
            (
                copy,
                Some(session("Stopped", "Failed")),
                Some("backup-copy"),
            ),
            (copy, None, Some("backup-copy")),
        ] {
            assert_eq!(role_of(job, newest.as_ref()), role, "{job:?} {newest:?}");
        }
    }

    #[test]
    fn says_why_a_job_does_not_fit() {
        let jobs = parse_jobs(JOBS).unwrap();
        let why = kind_fits("failed", &jobs[1]).unwrap_err();
        assert!(why.starts_with("it is a BackupCopy job on CustomPlatform, not a VMware vSphere"));
        let why = session_fits("failed", Some(&session("Stopped", "Success"))).unwrap_err();
        assert_eq!(why, "its newest session ended Success");
        let why = session_fits("succeeded", Some(&session("Working", "None"))).unwrap_err();
        assert_eq!(why, "its newest session is Working (result None)");
    }

    #[test]
    fn the_newest_session_query_follows_the_recipe() {
        let q = newest_session_query("aa");
        assert!(q.starts_with("query?type=BackupJobSession&format=Entities&filter="));
        assert!(q.contains("urn%3Aveeam%3AJob%3Aaa"));
        assert!(q.ends_with("&sortDesc=CreationTime&pageSize=1"));
    }
}
