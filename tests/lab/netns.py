"""Network namespaces, veth links and processes for interop labs.

A :class:`Lab` owns every namespace it creates (names ``pybgplab-<pid>-<n>-<name>``) and
every process started in them.  Teardown (``close()`` / leaving the ``with`` block, also
on test failure) kills only the PIDs that ``ip netns pids NS`` lists for its own
namespaces, then deletes the namespaces.  Nothing is ever killed by name and nothing is
configured in the host namespace.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, TypeVar

NS_PREFIX = "pybgplab-"

# Explicit, because a new namespace copies the host's IPv4 conf/all and conf/default.
NS_SYSCTLS: tuple[tuple[str, str], ...] = (
    ("net.ipv4.ip_forward", "0"),
    ("net.ipv4.conf.all.rp_filter", "0"),
    ("net.ipv4.conf.default.rp_filter", "0"),
    ("net.ipv4.conf.all.accept_local", "0"),
    ("net.ipv4.conf.all.arp_ignore", "0"),
    ("net.ipv4.conf.all.arp_announce", "0"),
    ("net.ipv4.fib_multipath_hash_policy", "1"),
    ("net.ipv6.conf.all.disable_ipv6", "0"),
    ("net.ipv6.conf.default.disable_ipv6", "0"),
    ("net.ipv6.conf.all.accept_dad", "0"),
    ("net.ipv6.conf.default.accept_dad", "0"),
    ("net.ipv6.conf.all.forwarding", "0"),
)

_lab_counter = itertools.count(1)

T = TypeVar("T")


class LabError(RuntimeError):
    """A lab command failed."""


def wait_for(
    what: str,
    pred: Callable[[], T | None],
    timeout: float = 30.0,
    step: float = 0.2,
) -> T:
    """Poll ``pred`` until it returns a truthy value (returned); exceptions count as "not yet".

    Raises ``TimeoutError`` naming ``what`` and the last exception seen.
    """
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while True:
        try:
            value = pred()
            if value:
                return value
        except Exception as exc:
            last_exc = exc
        if time.monotonic() >= deadline:
            extra = f" (last error: {last_exc!r})" if last_exc else ""
            raise TimeoutError(f"timeout after {timeout:.0f}s waiting for {what}{extra}")
        time.sleep(step)


@dataclass
class Process:
    """A process started by :meth:`Lab.spawn` inside a namespace."""

    name: str
    ns: str
    argv: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes] = field(repr=False)

    @property
    def pid(self) -> int:
        # `ip netns exec` execs the command, so this is the program's own PID.
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def signal(self, sig: int) -> None:
        """Send ``sig`` to this process (by PID) if it is still running."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)


@dataclass(frozen=True)
class Link:
    """One veth pair between two namespaces, with its addresses (without prefix length)."""

    index: int
    ns_a: str
    ns_b: str
    if_a: str
    if_b: str
    a4: str
    b4: str
    a6: str
    b6: str

    def addresses(self, ns: str) -> tuple[str, str]:
        """(IPv4, IPv6) address of the end in namespace ``ns``."""
        if ns == self.ns_a:
            return self.a4, self.a6
        if ns == self.ns_b:
            return self.b4, self.b6
        raise ValueError(f"{ns} is not an end of link {self.index}")

    def peer_of(self, ns: str) -> tuple[str, str]:
        """(IPv4, IPv6) address of the other end, as seen from namespace ``ns``."""
        return self.addresses(self.ns_b if ns == self.ns_a else self.ns_a)


def _run(argv: Sequence[str], timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)


def ns_pids(ns: str) -> list[int]:
    out = _run(["ip", "netns", "pids", ns]).stdout
    return [int(x) for x in out.split() if x.isdigit()]


def _kill_ns(ns: str, grace: float = 3.0) -> None:
    """Kill the processes in namespace ``ns`` (PIDs from ``ip netns pids``), then delete it."""
    if not ns.startswith(NS_PREFIX):
        raise ValueError(f"refusing to tear down foreign namespace {ns!r}")
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
        pids = ns_pids(ns)
        if not pids:
            break
        for pid in pids:
            for s in (sig, signal.SIGCONT):  # a SIGSTOPped process only dies once continued
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, s)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and ns_pids(ns):
            time.sleep(0.05)
    _run(["ip", "netns", "del", ns])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_namespaces() -> list[str]:
    """Delete ``pybgplab-<pid>-...`` namespaces whose creating process no longer exists."""
    removed = []
    for line in _run(["ip", "netns", "list"]).stdout.splitlines():
        name = line.split(" ", 1)[0]
        if not name.startswith(NS_PREFIX):
            continue
        owner = name[len(NS_PREFIX) :].split("-", 1)[0]
        if owner.isdigit() and int(owner) != os.getpid() and not _pid_alive(int(owner)):
            _kill_ns(name)
            removed.append(name)
    return removed


class Lab:
    """Namespaces, links and processes of one test, torn down on exit (also on failure).

    ``workdir`` holds daemon configs and logs; it is a fresh temp dir.  ``keep=None`` keeps
    it (path printed) when the ``with`` block raised or ``PYBGPLAB_KEEP=1``, and removes it
    otherwise; ``keep=True``/``False`` always keeps/removes it.
    """

    def __init__(self, workdir: Path | None = None, keep: bool | None = None) -> None:
        self.prefix = f"{NS_PREFIX}{os.getpid()}-{next(_lab_counter)}"
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix=self.prefix + "-"))
        # daemons that drop privileges (FRR runs as user frr) must reach their files
        os.chmod(self.workdir, 0o755)
        self.keep = keep
        self.namespaces: list[str] = []
        self.links: list[Link] = []
        self.processes: list[Process] = []
        self._if_count: dict[str, int] = {}
        self._names: set[str] = set()
        self._closed = False

    # context manager ------------------------------------------------------------------
    def __enter__(self) -> Lab:
        remove_stale_namespaces()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(failed=exc_type is not None)

    def close(self, failed: bool = False) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            for ns in reversed(self.namespaces):
                _kill_ns(ns)
            # A child that had not yet entered its namespace (still in `ip netns exec`) is not
            # in `ip netns pids`; it is our own unreaped child, so its PID is still ours.
            for p in self.processes:
                if p.alive():
                    self.stop(p, timeout=2)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.popen.wait(timeout=2)
        finally:
            self.namespaces.clear()
            keep = self.keep
            if keep is None:
                keep = failed or os.environ.get("PYBGPLAB_KEEP") == "1"
            if keep:
                print(f"pybgplab: logs and configs kept in {self.workdir}")
            elif self._own_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)

    # namespaces and links -------------------------------------------------------------
    def add_ns(self, name: str) -> str:
        """Create namespace ``<prefix>-<name>`` (lo up, sysctls set); returns its full name."""
        full = f"{self.prefix}-{name}"
        if full in self.namespaces:
            raise ValueError(f"namespace {full} exists already")
        self._check(["ip", "netns", "add", full])
        self.namespaces.append(full)
        self.run(full, ["ip", "link", "set", "lo", "up"])
        for key, value in NS_SYSCTLS:
            self.run(full, ["sysctl", "-qw", f"{key}={value}"])
        return full

    def link(self, ns_a: str, ns_b: str, mtu: int | None = None) -> Link:
        """A veth pair between ``ns_a`` (host .1) and ``ns_b`` (host .2).

        Link number ``x`` (1, 2, ... per lab) gets ``198.18.x.0/24`` and ``fd00:198:18:x::/64``;
        the interfaces are ``vethN`` with N counted per namespace.
        """
        for ns in (ns_a, ns_b):
            if ns not in self.namespaces:
                raise ValueError(f"{ns} was not created by this lab")
        x = len(self.links) + 1
        if x > 255:
            raise ValueError("too many links")
        if_a, if_b = self._ifname(ns_a), self._ifname(ns_b)
        peer = ["peer", "name", if_b, "netns", ns_b]
        self._check(["ip", "link", "add", if_a, "netns", ns_a, "type", "veth", *peer])
        link = Link(
            x, ns_a, ns_b, if_a, if_b, f"198.18.{x}.1", f"198.18.{x}.2",
            f"fd00:198:18:{x}::1", f"fd00:198:18:{x}::2",
        )  # fmt: skip
        for ns, ifname, (a4, a6) in (
            (ns_a, if_a, link.addresses(ns_a)),
            (ns_b, if_b, link.addresses(ns_b)),
        ):
            self.run(ns, ["ip", "addr", "add", f"{a4}/24", "dev", ifname])
            self.run(ns, ["ip", "-6", "addr", "add", f"{a6}/64", "dev", ifname, "nodad"])
            if mtu is not None:
                self.run(ns, ["ip", "link", "set", ifname, "mtu", str(mtu)])
            self.run(ns, ["ip", "link", "set", ifname, "up"])
            self.run(ns, ["sysctl", "-qw", f"net.ipv4.conf.{ifname}.rp_filter=0"])
        self.links.append(link)
        return link

    def pair(self, name_a: str = "a", name_b: str = "b") -> tuple[str, str, Link]:
        """Shortcut: two new namespaces joined by one link."""
        a, b = self.add_ns(name_a), self.add_ns(name_b)
        return a, b, self.link(a, b)

    def _ifname(self, ns: str) -> str:
        n = self._if_count.get(ns, 0)
        self._if_count[ns] = n + 1
        return f"veth{n}"

    # processes ------------------------------------------------------------------------
    def run(
        self,
        ns: str,
        argv: Sequence[str],
        *,
        check: bool = True,
        timeout: float = 20.0,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in ``ns`` to completion (text output captured)."""
        self._own(ns)
        full_env = {**os.environ, **env} if env else None
        cp = subprocess.run(
            ["ip", "netns", "exec", ns, *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=full_env,
            stdin=subprocess.DEVNULL,
        )
        if check and cp.returncode != 0:
            raise LabError(
                f"{' '.join(argv)} in {ns} failed (rc={cp.returncode}): "
                f"{cp.stdout.strip()} {cp.stderr.strip()}"
            )
        return cp

    def spawn(
        self,
        ns: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        *,
        name: str | None = None,
        cwd: Path | None = None,
        stdin: int | IO[bytes] | None = subprocess.DEVNULL,
    ) -> Process:
        """Start ``argv`` in ``ns`` in the background (stdout and stderr to
        ``<workdir>/<name>.log``); the PID is recorded and killed at teardown."""
        self._own(ns)
        base = name or Path(argv[0]).name
        uniq, i = base, 1
        while uniq in self._names:
            i += 1
            uniq = f"{base}-{i}"
        self._names.add(uniq)
        log_path = self.workdir / f"{uniq}.log"
        full_env = {**os.environ, **env} if env else None
        with open(log_path, "ab") as logf:
            popen = subprocess.Popen(
                ["ip", "netns", "exec", ns, *argv],
                stdout=logf,
                stderr=subprocess.STDOUT,
                stdin=stdin,
                env=full_env,
                cwd=cwd or self.workdir,
                start_new_session=True,
            )
        proc = Process(uniq, ns, list(argv), log_path, popen)
        self.processes.append(proc)
        return proc

    def stop(self, proc: Process, timeout: float = 5.0) -> int | None:
        """SIGTERM (then SIGKILL) one of our processes, by PID; returns its exit status."""
        self._own_proc(proc)
        proc.signal(signal.SIGTERM)
        proc.signal(signal.SIGCONT)
        try:
            return proc.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.signal(signal.SIGKILL)
            return proc.popen.wait(timeout=5)

    def pause(self, proc: Process) -> None:
        """SIGSTOP the process (it stops sending KEEPALIVEs: the peer's hold timer runs out)."""
        self._own_proc(proc)
        proc.signal(signal.SIGSTOP)

    def resume(self, proc: Process) -> None:
        self._own_proc(proc)
        proc.signal(signal.SIGCONT)

    def capture(self, ns: str, iface: str, path: Path | str, bpf: str = "tcp port 179") -> Process:
        """Start tcpdump on ``iface`` in ``ns`` writing a pcap to ``path``; stop it with
        :meth:`stop_capture` (SIGINT) so that the file is complete."""
        path = Path(path)
        write = ["-Z", "root", "-w", str(path), bpf]
        proc = self.spawn(
            ns,
            ["tcpdump", "-i", iface, "-U", "--immediate-mode", "-n", "-s", "0", *write],
            name=f"tcpdump-{path.stem}",
        )
        wait_for(f"tcpdump on {iface}", lambda: "listening on" in proc.log(), timeout=10, step=0.05)
        return proc

    def stop_capture(self, proc: Process, linger: float = 0.5) -> None:
        time.sleep(linger)
        proc.signal(signal.SIGINT)
        proc.popen.wait(timeout=10)

    def _own(self, ns: str) -> None:
        if ns not in self.namespaces:
            raise ValueError(f"namespace {ns!r} does not belong to this lab")

    def _own_proc(self, proc: Process) -> None:
        if proc not in self.processes:
            raise ValueError(f"process {proc.name} was not started by this lab")

    @staticmethod
    def _check(argv: list[str]) -> None:
        cp = _run(argv)
        if cp.returncode != 0:
            raise LabError(f"{' '.join(argv)} failed: {cp.stdout.strip()} {cp.stderr.strip()}")
