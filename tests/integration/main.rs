//! procjail's one integration test binary (as ripgrep has one): every test runs the real
//! `procjail` binary against the real kernel, busybox and cgroupfs, as root, and checks that
//! the host is as it was afterwards.

mod check;
mod cli;
mod common;
mod confine;
mod day2;
mod doctor;
mod experiments;
mod fidelity;
mod inputs;
mod layers;
mod limits;
mod oci;
mod pid1;
mod plans;
mod rootless;
mod schema;
mod up;
