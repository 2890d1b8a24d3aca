//! `procjail up` against the real kernel.

use crate::common::*;

#[test]
fn hello_from_the_jail_hostname() {
    let j = jail(
        "hello",
        "hostname = \"jailhost\"\n[rootfs]\npath = \"{rootfs}\"\n[command]\nargv = [\"/bin/sh\", \"-c\", \"echo hello from $(hostname)\"]\n",
    );
    let host_before = nix::unistd::gethostname().unwrap();
    let run = up(&j);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "hello from jailhost\n");
    assert_eq!(nix::unistd::gethostname().unwrap(), host_before);
}
