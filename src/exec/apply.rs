//! The one dispatch from a step's op to the performer that makes its syscalls. Every variant is
//! named: adding an op fails to compile until it has a performer here.

use super::ctx::{Ctx, Done};
use super::{caps, cgroup, check, fs, init_loop, mount, ns, proc, supervise, sync};
use crate::error::Failure;
use crate::plan::{Op, Step};

pub fn apply(step: &Step, ctx: &mut Ctx<'_>) -> Result<Done, Failure> {
    let h = &mut ctx.h;
    let ok = |r: Result<(), Failure>| r.map(|()| Done::Ok);
    match &step.op {
        Op::Umask { mask } => ok(fs::umask(*mask)),
        Op::Mkdir { path, mode, exist_ok } => ok(fs::mkdir(path, *mode, *exist_ok)),
        Op::CopyFile { from, to, mode } => ok(fs::copy_file(from, to, *mode)),
        Op::Symlinks { target, dir, names } => ok(fs::symlinks(target, dir, names)),
        Op::Write { path, value } => ok(fs::write(path, value, h)),
        Op::Unlink { path } => ok(fs::unlink(path)),
        Op::Rmdir { path } => ok(fs::rmdir(path)),
        Op::Lock { path } => ok(fs::lock(path, h)),
        Op::SaveState { path } => ok(fs::save_state(path, ctx.plan, &ctx.h, &mut ctx.j, false)),
        Op::OpenRoot { path } => ok(mount::open_root(path, h)),
        Op::MountPoint { at, dir, no_symlinks, via } => {
            ok(mount::mount_point(at, *dir, *no_symlinks, *via, h))
        }
        Op::SymlinkIn { target, at, via } => ok(mount::symlink_in(target, at, *via, h)),
        Op::OpenDir { at, no_symlinks } => ok(mount::open_dir(at, *no_symlinks, h)),
        Op::CloseDir { .. } => {
            h.dir = None;
            Ok(Done::Ok)
        }
        Op::Mount { source, target, fstype, flags, data } => mount::mount(
            source.as_deref(),
            target,
            fstype.as_deref(),
            *flags,
            data.as_deref(),
            h,
            ctx.opts.trace,
        ),
        Op::Chdir { path } => ok(mount::chdir(path)),
        Op::PivotRoot => ok(mount::pivot_root()),
        Op::Umount2 { target, flags } => ok(mount::umount2(target, *flags)),
        Op::CloseRoot => {
            h.rootfd = None;
            Ok(Done::Ok)
        }
        Op::Chroot => ok(mount::chroot(h)),
        Op::Clone { flags, into_cgroup } => ns::clone(*flags, into_cgroup.as_deref(), &mut ctx.h, &mut ctx.j),
        Op::Unshare { flags } => ok(ns::unshare(*flags)),
        Op::Sethostname { name } => ok(ns::sethostname(name)),
        Op::OpenProc => ok(ns::open_proc(h)),
        Op::OpenNs { ns: name, path } => ok(ns::open_ns(name, path, h)),
        Op::SetNs { ns: name, flag } => ok(ns::setns(name, *flag, h)),
        Op::SocketPair { channel } => ok(sync::socketpair(*channel, h)),
        Op::Close { channel, end } => {
            h.channel(*channel)[usize::from(*end)] = None;
            Ok(Done::Ok)
        }
        Op::SyncSend { end, msg } => ok(sync::send(*end, msg, h)),
        Op::SyncRecv { end, msg } => ok(sync::recv(*end, msg, h)),
        Op::Pdeathsig => ok(proc::pdeathsig()),
        Op::NotDumpable => ok(proc::not_dumpable()),
        Op::BlockSignals { set } => ok(proc::block_signals(*set)),
        Op::Fork { until_exec } => proc::fork(*until_exec, h),
        Op::Setsid => ok(proc::setsid()),
        Op::ResetSignals { ignored } => ok(proc::reset_signals(*ignored)),
        Op::Setrlimit { key, soft, hard } => ok(proc::setrlimit(key, *soft, *hard)),
        Op::CloseFds => ok(proc::close_fds()),
        Op::CloseHostFds => ok(proc::close_host_fds(h)),
        Op::Execve { argv, env } => ok(proc::execve(argv, env)),
        Op::Kill { pid } => ok(proc::kill_proc(*pid, &ctx.h, &mut ctx.j)),
        Op::Signal { pid, start, signal, who } => ok(proc::signal(*pid, *start, *signal, who, h)),
        Op::CapBoundingDrop { drop } => ok(caps::bounding_drop(*drop)),
        Op::AmbientClear => ok(caps::ambient_clear()),
        Op::KeepCaps => ok(caps::keep_caps()),
        Op::SetUser { uid, gid, groups } => ok(proc::set_user(*uid, *gid, groups)),
        Op::Capset { effective, permitted, inheritable } => {
            ok(caps::capset(*effective, *permitted, *inheritable))
        }
        Op::AmbientRaise { caps: c } => ok(caps::ambient_raise(*c)),
        Op::NoNewPrivs => ok(caps::no_new_privs()),
        Op::Seccomp { program } => ok(caps::seccomp(program)),
        Op::JoinKeyring => ok(ns::join_keyring()),
        Op::OomScoreAdj { value } => ok(proc::oom_score_adj(*value)),
        Op::LinkUp { name } => ok(ns::link_up(name)),
        Op::MakeNetns { up } => ok(ns::make_netns(up, h)),
        Op::JoinNetns => ok(ns::join_netns(h)),
        Op::Sysctl { key, value } => ok(mount::sysctl(key, value, h)),
        Op::OpenNull { path } => ok(mount::open_null(path, h)),
        Op::Mask { at } => ok(mount::mask(at, h)),
        Op::ReadOnly { at } => ok(mount::read_only(at, h)),
        Op::MountSetattr { target, set, recursive } => ok(mount::setattr(target, *set, *recursive, h)),
        Op::DeviceFilter { cgroup: cg, program, .. } => ok(cgroup::device_filter(cg, program)),
        Op::InitLoop { grace_ms } => init_loop::run(*grace_ms, h),
        Op::AwaitStarted => ok(supervise::await_started(&ctx.h, &mut ctx.j)),
        Op::Observe { pid, paths } => ok(check::observe(*pid, paths, ctx.plan, &ctx.h, &mut ctx.j)),
        Op::AwaitReady => ok(supervise::await_ready(&ctx.h, &mut ctx.j)),
        Op::SendReadyNs => ok(sync::send_ready_ns(h)),
        Op::Verify { pid, checks, .. } => {
            ok(check::verify(*pid, checks, ctx.plan, &ctx.h, &mut ctx.j, ctx.opts))
        }
        Op::AwaitExec => ok(supervise::await_exec(&ctx.h, &mut ctx.j)),
        Op::Wait { pid, grace_ms, timeout_ms, state } => {
            let w =
                supervise::Wait { step: step.index, who: *pid, grace_ms: *grace_ms, timeout_ms: *timeout_ms };
            let state = state.as_deref().map(|path| (path, ctx.plan));
            ok(supervise::wait(w, state, &ctx.h, &mut ctx.j))
        }
        Op::AwaitExit { timeout_ms } => ok(proc::await_exit(*timeout_ms, h)),
        Op::KillCgroup { path, kill_file } => ok(cgroup::kill(path, *kill_file)),
        Op::WaitEmpty { path } => ok(cgroup::wait_empty(path)),
        Op::ReadCounter { path, counter } => ok(cgroup::read_counter(path, *counter, &mut ctx.j.report)),
        Op::CheckMounts => ok(check::mounts(ctx.plan, ctx.opts)),
        Op::CheckGone { path } => ok(check::gone(path)),
        Op::WriteIdMap { file, text } => ok(ns::write_id_map(file, text, h)),
        Op::IdMapHelper { program, map } => ok(ns::id_map_helper(program, map, h)),
        Op::CheckPrivate { path, uid } => ok(check::private(path, *uid)),
    }
}
