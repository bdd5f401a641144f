//! emconform: a conformance harness for the Veeam Backup Enterprise Manager REST API.

pub mod body;
pub mod case;
pub mod check;
pub mod cli;
pub mod coverage;
pub mod expect;
pub mod fixture;
pub mod http;
pub mod normalize;
pub mod progress;
pub mod recording;
pub mod report;
pub mod roles;
pub mod runner;
pub mod secret;
pub mod selfcheck;
pub mod serve;
pub mod snapshot;
pub mod spec;
pub mod target_server;
