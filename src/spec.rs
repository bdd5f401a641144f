//! The sections of the API reference (`em-rest-api.md`, plus the one-page `seed` reference) that
//! cases cite, and what the suite deliberately leaves out of each.
//!
//! A case's `spec` (and `covers`) must name one of these, so a typo is a load error; the coverage
//! table (`cases/COVERAGE.md`, see [`crate::coverage`]) lists every section with its cases, and a
//! test fails when a section has neither a case nor a written reason for having none.

/// One section of the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Section {
    /// `1.2`, `7`, or `seed`.
    pub id: &'static str,
    pub title: &'static str,
    /// What of this section no case checks, and why; `None` when the cases cover all of it.
    pub left_out: Option<&'static str>,
}

const fn section(id: &'static str, title: &'static str, left_out: Option<&'static str>) -> Section {
    Section {
        id,
        title,
        left_out,
    }
}

/// Every section, in the reference's order.
pub const SECTIONS: &[Section] = &[
    section(
        "seed",
        "POST /jobs/{ID}?action=retry (the one-page reference)",
        None,
    ),
    section("1.1", "Entry point GET /api/", None),
    section(
        "1.2",
        "Creating a session",
        Some(
            "Set-Cookie and Location on the logon answer, tenant logons (LoginSpec), unversioned \
             and unknown ?v= values: not what a retry depends on, and the versions are open \
             questions 7 and 16",
        ),
    ),
    section(
        "1.3",
        "Using the session",
        Some(
            "the cookie as an alternative to the header and the 15-minute idle timeout: the \
             harness sends the header, as the retry page documents; waiting 15 minutes has no \
             place in a conformance run",
        ),
    ),
    section(
        "1.4",
        "Listing and deleting sessions",
        Some(
            "GET /logonSessions: on a real server it lists other users' session ids, which the \
             harness must never print",
        ),
    ),
    section(
        "2.1",
        "The Task schema",
        Some(
            "Result/@CredentialsNeeded and @ConfirmationNeeded: optional, and no action of the \
             retry family sets them",
        ),
    ),
    section("2.2", "The Task returned by retry", None),
    section(
        "2.3",
        "JSON form of a Task",
        Some(
            "key order: JSON objects are unordered, and the spec marks the order as observed only",
        ),
    ),
    section(
        "2.4",
        "Task endpoints",
        Some(
            "GET /query?type=Task and the visibility of a task to another logon session: not \
             needed to follow a retry",
        ),
    ),
    section(
        "3.1",
        "Listing and reading jobs",
        Some(
            "the job list and entities are inputs of a retry (the job ids come from --job), not \
             part of its contract",
        ),
    ),
    section(
        "3.2",
        "Actions on /api/jobs/{ID}",
        Some("clone and sync: they need a request body or a backup copy job, not the retry family"),
    ),
    section(
        "3.3",
        "Agent and file-share jobs",
        Some(
            "out of scope: agent and file-share jobs are retried through other endpoints \
             (/agents/jobs, /nas/jobs)",
        ),
    ),
    section(
        "4.1",
        "Backup job sessions",
        Some(
            "GET /backupSessions and per-session reads: the cases read sessions through the query service",
        ),
    ),
    section(
        "4.2",
        "Query service",
        Some("filter operators other than == and ;, paging: a retry needs one newest session"),
    ),
    section("4.3", "Recipe: did the last run fail?", None),
    section("5.1", "Error representation", None),
    section(
        "5.2",
        "Status codes",
        Some(
            "unsupported Accept values (open question 9), malformed request bodies (retry has \
             none), 500/501/503",
        ),
    ),
    section("6.1", "Formats", None),
    section(
        "6.2",
        "JSON mapping rules",
        Some(
            "nulls versus omitted members and list wrappers: both forms occur on real servers, so \
             the paths accept both rather than test either",
        ),
    ),
    section(
        "6.3",
        "The format parameter",
        Some("?format=Entity on single resources: not part of the retry's contract"),
    ),
    section(
        "6.4",
        "Versions",
        Some(
            "which SupportedVersion entries a server lists: undocumented per release (open \
             question 16); the run logs on with --api-version",
        ),
    ),
    section(
        "6.5",
        "Ports and URLs",
        Some("ports and TLS are how the target is reached (--target, --ca-cert), not behaviour"),
    ),
    section("7", "Task links", None),
    section(
        "8",
        "Reconstructed happy path",
        Some("a summary of the sections above; each of its steps is covered there"),
    ),
];

/// The section called `id`.
pub fn section_by_id(id: &str) -> Option<&'static Section> {
    SECTIONS.iter().find(|s| s.id == id)
}

/// `seed, 1.1, 1.2, …` for messages.
pub fn section_ids() -> String {
    SECTIONS.iter().map(|s| s.id).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_found() {
        for s in SECTIONS {
            assert_eq!(section_by_id(s.id), Some(s));
            assert!(!s.title.is_empty());
        }
        assert!(section_by_id("9.9").is_none());
        assert!(section_ids().starts_with("seed, 1.1, 1.2"));
    }
}
