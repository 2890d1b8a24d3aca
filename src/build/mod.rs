//! The phase order of each plan procjail makes, one function per command, each a short list of
//! calls to the planners (as nsjail's `containProc` is a list of `RETURN_ON_FAILURE` lines). Every
//! `b.phase(...)` of a plan is here or in the one planner that owns that phase. Pure: the
//! inputs are the validated spec and what the command read from the host.

mod exec;
mod gc;
mod rootfs;
mod signal;
mod summary;
mod up;

pub use exec::{Joined, exec};
pub use gc::gc;
pub use rootfs::rootfs;
pub use signal::{Target, down, kill};
pub use up::up;
