"""The program the sandbox's fresh interpreter runs: supervisor, then the untrusted child.

:func:`memreward_verl.verify.sandbox.run_python` starts ``python -s -P -S -B -c <this file's text>``
and writes a marshalled header (limits, isolation switches, the program) and the program's stdin to
its standard input. This file is therefore a whole program on its own: standard library only,
imported inside :func:`main`, no package imports and no module-level state (it runs with no
``sys.path`` entries of the package and before any isolation is in place). It is a module, not a
string, so it is linted, formatted and read like any other code.
"""

from __future__ import annotations


def main() -> None:  # noqa: C901 - one self-contained program by design
    """Supervisor + child entry point (see the module docstring)."""
    import ctypes
    import marshal
    import os
    import resource
    import select
    import signal
    import sys
    import time

    def read_exact(fd: int, n: int) -> bytes:
        parts = []
        while n > 0:
            chunk = os.read(fd, min(n, 1 << 20))
            if not chunk:
                raise EOFError("sandbox header truncated")
            parts.append(chunk)
            n -= len(chunk)
        return b"".join(parts)

    size = int.from_bytes(read_exact(0, 8), "little")
    cfg = marshal.loads(read_exact(0, size))
    status_fd = cfg["status_fd"]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    prot: dict = {}
    is_root = os.geteuid() == 0

    CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
    CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
    MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
    MS_REMOUNT, MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 32, 4096, 8192, 16384, 1 << 18

    def mount(src, target, fstype, flags, data=None) -> bool:
        enc = [x.encode() if isinstance(x, str) else x for x in (src, target, fstype, data)]
        return libc.mount(enc[0], enc[1], enc[2], flags, enc[3]) == 0

    # --- namespaces (each best effort) ---
    if not is_root and (cfg["net"] or cfg["mnt"] or cfg["pid"]):
        uid, gid = os.getuid(), os.getgid()
        if libc.unshare(CLONE_NEWUSER) == 0:
            prot["user_namespace"] = True
            try:
                for path, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
                    with open(f"/proc/self/{path}", "w") as fh:
                        fh.write(text)
            except OSError:
                prot["user_namespace"] = False
    wanted = (("network_namespace", "net", CLONE_NEWNET), ("pid_namespace", "pid", CLONE_NEWPID))
    for name, key, flag in wanted:
        prot[name] = bool(cfg[key]) and libc.unshare(flag) == 0
    prot["ipc_namespace"] = libc.unshare(CLONE_NEWIPC) == 0
    prot["uts_namespace"] = libc.unshare(CLONE_NEWUTS) == 0
    mnt_ok = False
    if cfg["mnt"] and libc.unshare(CLONE_NEWNS) == 0:
        # Without a private propagation type our mounts would leak to the host: never mount then.
        mnt_ok = mount(None, "/", None, MS_REC | MS_PRIVATE)
    prot["mount_namespace"] = mnt_ok

    done_r, done_w = os.pipe()
    setup_r, setup_w = os.pipe()
    run_uid = cfg["uid_base"] + os.getpid() if is_root and cfg["drop"] else None
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # ------------------------------------------------------------ the program's process
        os.close(status_fd)
        os.close(done_r)
        os.close(setup_r)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: die with the supervisor
        workdir = cfg["workdir"]
        prot["private_tmp"] = False
        prot["hidden_paths"] = []
        if mnt_ok:
            if mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={cfg['tmpfs_mb']}m,mode=1777"):
                prot["private_tmp"] = True
                for extra in ("/var/tmp", "/dev/shm"):
                    if os.path.isdir(extra):
                        mount("tmpfs", extra, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=1777")
                expose = list(cfg["expose"])
                for hide in sorted(set(cfg["hide"]), key=len):
                    if hide == "/" or hide in expose or not os.path.isdir(hide):
                        continue
                    # Python itself may live below a hidden directory (e.g. pyenv under /root): stage
                    # a bind mount of it, cover the directory with an empty tmpfs, move the bind back.
                    staged = []
                    for e in (e for e in expose if e.startswith(hide + "/")):
                        point = f"/tmp/.expose{len(staged)}"
                        os.mkdir(point)
                        if mount(e, point, None, MS_BIND | MS_REC):
                            staged.append((point, e))
                    if mount("tmpfs", hide, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755"):
                        prot["hidden_paths"].append(hide)
                    for point, e in staged:
                        if prot["hidden_paths"][-1:] == [hide]:
                            os.makedirs(e, exist_ok=True)
                            mount(point, e, None, MS_MOVE)
                            mount(None, e, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
                        else:
                            libc.umount2(point.encode(), 2)
                        os.rmdir(point)
                # A path inside the child's own private tmpfs on /tmp (mount namespace), never on
                # the host; a literal because this function's source runs alone in the child.
                workdir = "/tmp/work"
                os.mkdir(workdir, 0o700)
            if prot["pid_namespace"]:
                prot["private_proc"] = mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        if run_uid is not None:
            os.chown(workdir, run_uid, run_uid)
        os.chmod(workdir, 0o700)

        limits = (
            (resource.RLIMIT_AS, cfg["as_bytes"], cfg["as_bytes"]),
            # soft == hard: the kernel SIGKILLs at the limit (a PID-1 program would ignore SIGXCPU).
            (resource.RLIMIT_CPU, cfg["cpu"], cfg["cpu"]),
            (resource.RLIMIT_FSIZE, cfg["fsize"], cfg["fsize"]),
            (resource.RLIMIT_NOFILE, cfg["nofile"], cfg["nofile"]),
            (resource.RLIMIT_NPROC, cfg["nproc"], cfg["nproc"]),
            (resource.RLIMIT_CORE, 0, 0),
            (resource.RLIMIT_MEMLOCK, 0, 0),
            (resource.RLIMIT_MSGQUEUE, 0, 0),
        )
        applied = []
        for which, soft, hard in limits:
            try:
                resource.setrlimit(which, (soft, hard))
                applied.append(which)
            except (ValueError, OSError):
                pass
        prot["rlimits"] = len(applied) == len(limits)

        prot["dropped_privileges"] = False
        if run_uid is not None:
            # The program must still be able to reach the interpreter's files as the new uid.
            reachable = True
            for top in cfg["expose"]:
                path = top
                while path not in ("/", ""):
                    if not os.stat(path).st_mode & 0o001:
                        reachable = False
                    path = os.path.dirname(path)
            if reachable:
                os.setgroups([])
                os.setgid(run_uid)
                os.setuid(run_uid)
                prot["dropped_privileges"] = True
                prot["uid"] = run_uid
        prot["no_new_privs"] = libc.prctl(38, 1, 0, 0, 0) == 0  # PR_SET_NO_NEW_PRIVS
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # changing uid cleared the parent-death signal
        os.chdir(workdir)
        os.environ.clear()
        os.environ.update(
            {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8"}
        )
        if not prot["network_namespace"]:

            def deny_network(event: str, args: tuple) -> None:
                if event.startswith("socket."):
                    raise PermissionError("network access is disabled in this sandbox")

            sys.addaudithook(deny_network)
        sys.path[:] = [p for p in sys.path if p] + list(cfg["site"]) + [workdir]
        for sig in (signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_DFL)
        os.write(setup_w, marshal.dumps(prot))
        os.close(setup_w)
        nonce = cfg["nonce"].encode()
        program = cfg["program"]
        del cfg
        namespace = {"__name__": "__main__", "__builtins__": __builtins__, "__file__": workdir + "/solution.py"}
        sys.argv[:] = [workdir + "/solution.py"]
        code = 0
        try:
            exec(compile(program, "solution.py", "exec"), namespace)  # noqa: S102 - sandboxed by design
            threading = sys.modules.get("threading")
            if threading is not None:  # as the interpreter does at exit: scripts that run main() in a
                for thread in threading.enumerate():  # thread (a bigger stack) print from it
                    if thread is not threading.main_thread() and not thread.daemon:
                        thread.join()
        except SystemExit as exc:
            if exc.code is None:
                code = 0
            elif isinstance(exc.code, int):
                code = exc.code
            else:
                print(exc.code, file=sys.stderr)
                code = 1
            nonce = b""
        except BaseException as exc:  # noqa: BLE001 - report any failure of the program
            namespace.clear()  # free the program's memory first: a MemoryError must still be reported
            try:
                import linecache
                import traceback

                linecache.cache["solution.py"] = (len(program), None, program.splitlines(True), "solution.py")
                tb = exc.__traceback__
                traceback.print_exception(type(exc), exc, tb.tb_next if tb is not None else None)
            except BaseException:  # noqa: BLE001
                os.write(2, f"{type(exc).__name__}\n".encode())
            code = 1
            nonce = b""
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001
                pass
        if nonce:
            try:
                os.write(done_w, nonce)
            except OSError:
                pass
        os._exit(code & 0xFF)

    # ----------------------------------------------------------------------------- the supervisor
    os.close(done_w)
    os.close(setup_w)
    for fd in (0, 1, 2):
        try:
            os.close(fd)
        except OSError:
            pass
    stopped = []

    def on_term(signum, frame) -> None:
        stopped.append(signum)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    signal.signal(signal.SIGTERM, on_term)
    timed_out = False
    try:
        poller = select.poll()
        poller.register(os.pidfd_open(pid), select.POLLIN)
        exited = bool(poller.poll(int(cfg["wall"] * 1000)))
    except (AttributeError, OSError):  # no pidfd (old kernel): poll without reaping
        deadline = started + cfg["wall"]
        while not (exited := os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None):
            if time.monotonic() >= deadline or stopped:
                break
            time.sleep(0.005)
    if not exited and not stopped:
        timed_out = True
        os.kill(pid, signal.SIGKILL)
    _, wstatus, usage = os.wait4(pid, 0)
    wall = time.monotonic() - started
    if not prot["pid_namespace"] and run_uid is not None:
        # Without a PID namespace, stragglers may have escaped the process group: kill every
        # process of the run's private uid (no other process ever has it).
        helper = os.fork()
        if helper == 0:
            try:
                os.setgid(run_uid)
                os.setuid(run_uid)
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
            os._exit(0)
        os.waitpid(helper, 0)
    os.set_blocking(done_r, False)
    os.set_blocking(setup_r, False)
    try:
        done = os.read(done_r, 4096)
    except OSError:
        done = b""
    try:
        prot.update(marshal.loads(os.read(setup_r, 1 << 16)))
    except (OSError, EOFError, ValueError, TypeError):
        prot["child_setup_reported"] = False
    report = {
        "exit": os.WEXITSTATUS(wstatus) if os.WIFEXITED(wstatus) else None,
        "signal": os.WTERMSIG(wstatus) if os.WIFSIGNALED(wstatus) else None,
        "timeout": timed_out,
        "stopped": bool(stopped),
        "completed": bool(cfg["nonce"]) and cfg["nonce"].encode() in done,
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "protections": prot,
    }
    os.write(status_fd, marshal.dumps(report))
    os._exit(0)


if __name__ == "__main__":
    main()
