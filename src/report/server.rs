//! What a report says about the server: where it is and which API versions its entry point
//! (`GET /api/`, spec §1.1) lists, so that reports from several implementations can be told apart
//! and merged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::body::{BodyPath, Document, EM_NAMESPACE, Format};
use crate::http::OutgoingRequest;
use crate::target_server::{Target, TargetKind};

/// The server a run or a recording was made against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetInfo {
    /// `fixture` (the embedded one) or `remote`.
    pub kind: String,
    /// The API base, without any user name or password.
    pub base_url: String,
    /// The version the run logged on with (`--api-version`).
    pub api_version: String,
    /// The fixture's deliberate deviation, if it was started with one.
    pub fault: Option<String>,
    /// The `Name` of every `SupportedVersion` that `GET /api/` lists, in its order.
    pub supported_versions: Vec<String>,
    /// Why the versions are unknown, when `GET /api/` did not answer as documented.
    pub entry_point_problem: Option<String>,
}

/// Reads `GET /api/` (no session needed) and describes the target.
pub async fn target_info(target: &Target, fault: Option<&str>) -> TargetInfo {
    let mut base = target.api_base.clone();
    let _ = base.set_username("");
    let _ = base.set_password(None);
    let (supported_versions, entry_point_problem) = match supported_versions(target).await {
        Ok(versions) => (versions, None),
        Err(problem) => (Vec::new(), Some(target.redactor.redact(&problem))),
    };
    TargetInfo {
        kind: match target.kind {
            TargetKind::Fixture => "fixture",
            TargetKind::Remote => "remote",
        }
        .to_string(),
        base_url: base.to_string(),
        api_version: target.api_version.clone(),
        fault: fault.map(str::to_string),
        supported_versions,
        entry_point_problem,
    }
}

async fn supported_versions(target: &Target) -> Result<Vec<String>, String> {
    let request = OutgoingRequest {
        method: "GET".into(),
        url: target.api_base.clone(),
        headers: vec![("Accept".into(), Format::Xml.mime().into())],
        body: None,
    };
    let response = target
        .http
        .send(&request)
        .await
        .map_err(|e| format!("GET {} failed: {e}", target.api_base))?;
    if response.status != 200 {
        return Err(format!(
            "GET {} answered {} instead of 200",
            target.api_base, response.status
        ));
    }
    let text = response.text();
    let doc = Document::parse(&text, Format::Xml).map_err(|e| {
        format!(
            "GET {} answered a body that is not XML: {e}",
            target.api_base
        )
    })?;
    let path = BodyPath::parse("SupportedVersions/SupportedVersion/@Name").and_then(|p| {
        p.resolve(&BTreeMap::<String, String>::new())
            .map(std::borrow::Cow::into_owned)
            .map_err(|e| e.to_string())
    })?;
    Ok(doc.select(&path, EM_NAMESPACE).values)
}
