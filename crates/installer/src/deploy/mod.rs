//! Deploying the stack: flags over the deployed stack's [`settings`] ([`deployed`]) → a
//! validated [`config::StackConfig`] → the desired resources
//! ([`desired::Desired`]) → what exists ([`stack::observe`]) → a typed [`stack::StackPlan`] →
//! applied ([`stack::apply`]) or printed; or, for `down`, reversed ([`removal`]). One module per
//! AWS resource in [`resources`], each behind [`resources::Resource`]; the IAM documents in
//! [`policy`]; EventBridge schedule expressions in [`schedule`]; the alarms and
//! their windows in [`alerts`]; exports to S3 and their storage tiers in [`exports`].

pub(crate) mod alerts;
pub(crate) mod config;
pub(crate) mod deployed;
pub(crate) mod desired;
pub(crate) mod exports;
pub mod operator;
pub(crate) mod plan;
pub mod policy;
pub(crate) mod removal;
pub(crate) mod resources;
pub(crate) mod schedule;
pub mod settings;
pub mod settings_file;
pub(crate) mod stack;
