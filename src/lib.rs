//! emconform: a conformance harness for the Veeam Backup Enterprise Manager REST API.

pub mod fixture;
pub mod roles;
pub mod secret;
