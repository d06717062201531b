//! Running the function on this machine, for endpoints that cannot run it (a local emulator):
//! the deployed `bootstrap` under a Lambda Runtime API ([`runtime_api`]), driven by `invoke`;
//! one built for another architecture runs under qemu-user ([`emulate`]).

pub(crate) mod deployed_code;
pub mod emulate;
pub(crate) mod invoke;
pub mod runtime_api;
