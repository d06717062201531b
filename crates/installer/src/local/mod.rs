//! Running the function on this machine, for endpoints that cannot run it (a local emulator):
//! the deployed `bootstrap` under a Lambda Runtime API ([`runtime_api`]), driven by `invoke`.

pub(crate) mod deployed_code;
pub(crate) mod invoke;
pub mod runtime_api;
