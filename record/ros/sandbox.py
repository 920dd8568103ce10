"""Keep DDS traffic on this machine: one private network namespace per run, LOCALHOST discovery, a private
domain.

DDS discovers peers by multicast on every interface; traffic off the loopback is not allowed here. Tests
(``tests/ros/conftest.py``, fixture ``ros_ns``), benchmarks (``benchmarks/ros_core.py``) and manual runs start
their ROS processes through a :class:`RosNamespace`:

* **Environment** (:attr:`RosNamespace.env`): a copy of ``os.environ`` with
  ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``, ``RMW_IMPLEMENTATION=rmw_fastrtps_cpp``, a private
  ``ROS_DOMAIN_ID`` and ``ROS_LOG_DIR``; ``ROS_LOCALHOST_ONLY``, ``ROS_STATIC_PEERS``,
  ``ROS_DISCOVERY_SERVER`` and the Fast DDS profile variables are removed.
* **Private network namespace** (:attr:`RosNamespace.isolated`): where the machine allows it (root, and
  ``unshare --net`` + ``ip`` + ``nsenter`` work; checked once per process), ONE holder process,
  ``unshare --net sh -c 'ip link set lo up; ...; exec sleep'``, owns a namespace holding only an UP loopback.
  Every process started with :meth:`RosNamespace.popen` / :meth:`~RosNamespace.run` /
  :meth:`~RosNamespace.python` enters THAT namespace (``nsenter --net=/proc/<holder>/ns/net -- ...``), so all
  processes of one run share one namespace and discover each other, while nothing they send can leave it.
  (Two processes started by two separate ``unshare --net`` calls sit in two namespaces and never see each
  other: discovery runs over UDP. So namespaces also keep concurrent runs apart.) Elsewhere only the
  environment variables confine DDS (``isolated`` is False). ``RECORD_ROS_NETNS=off`` forces that fallback;
  ``RECORD_ROS_NETNS=require`` raises instead of falling back.
* **Domain id**: ``ROS_DOMAIN_ID`` in 0..101; :func:`pick_domain_id` gives each pytest-xdist worker its own
  window of ``102 // n_workers`` ids.
* **Clean-up**: :meth:`RosNamespace.close` sends SIGINT to the processes started through it, SIGKILL 3 s
  later, then kills the holder; all of them also die with the process that started them
  (``PR_SET_PDEATHSIG``).

Outside pytest::

    with ros_sandbox(log_dir) as ns:                 # private namespace when root, else env vars only
        node = ns.popen(["record_detector", "--ros-args", "--params-file", "launch/record.params.yaml"])
        ...
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from record.errors import ConfigError

__all__ = [
    "DOMAIN_ID_COUNT",
    "LARGE_DATA_PROFILE",
    "NETNS_MODES",
    "RosNamespace",
    "large_data_env",
    "netns_mode",
    "netns_support",
    "pick_domain_id",
    "ros_environment",
    "ros_sandbox",
    "start_holder",
    "xdist_worker",
]

#: Domain ids usable on Linux with the default RTPS port mapping (101 is the last one below 32768 ports).
DOMAIN_ID_COUNT = 102
#: Values of ``RECORD_ROS_NETNS``.
NETNS_MODES = ("auto", "off", "require")
#: Variables that could point DDS at other hosts or override the transport settings.
_DROPPED_VARS = (
    "ROS_LOCALHOST_ONLY",
    "ROS_STATIC_PEERS",
    "ROS_DISCOVERY_SERVER",
    "ROS_SUPER_CLIENT",
    "FASTRTPS_DEFAULT_PROFILES_FILE",
    "FASTDDS_DEFAULT_PROFILES_FILE",
    "FASTDDS_ENVIRONMENT_FILE",
    "FASTDDS_BUILTIN_TRANSPORTS",
    "RMW_FASTRTPS_USE_QOS_FROM_XML",
)
_HOLDER_READY = "record-netns-ready"
#: Fast DDS profile for raw radar cubes: a 32 MiB shared-memory segment and UDP only on 127.0.0.1. Fast DDS's
#: default segment (0.5 MiB) cannot hold a 2 MB ROD2021 cube, and with the default transports most best-effort
#: cubes never reached the node here (7 of 30 at 4 Hz; 14 of 100 at 5 Hz); with this profile 30 of 30 did.
LARGE_DATA_PROFILE = """<?xml version="1.0" encoding="UTF-8" ?>
<profiles xmlns="http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles">
  <transport_descriptors>
    <transport_descriptor>
      <transport_id>record_shm_32mib</transport_id>
      <type>SHM</type>
      <segment_size>33554432</segment_size>
      <maxMessageSize>16777216</maxMessageSize>
    </transport_descriptor>
    <transport_descriptor>
      <transport_id>record_udp_loopback</transport_id>
      <type>UDPv4</type>
      <interfaceWhiteList><address>127.0.0.1</address></interfaceWhiteList>
    </transport_descriptor>
  </transport_descriptors>
  <participant profile_name="record_large_data" is_default_profile="true">
    <rtps>
      <userTransports>
        <transport_id>record_shm_32mib</transport_id>
        <transport_id>record_udp_loopback</transport_id>
      </userTransports>
      <useBuiltinTransports>false</useBuiltinTransports>
    </rtps>
  </participant>
</profiles>
"""
_PR_SET_PDEATHSIG = 1


try:  # resolved here, so that the forked child only calls an already loaded C function
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # pragma: no cover - not Linux
    _prctl = None
_SIGKILL = int(signal.SIGKILL)


def die_with_parent() -> None:
    """``preexec_fn``: the child gets SIGKILL when the process (thread) that started it dies."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, _SIGKILL, 0, 0, 0)


def netns_mode() -> str:
    """``RECORD_ROS_NETNS``: ``auto`` (default), ``off`` or ``require``."""
    mode = os.environ.get("RECORD_ROS_NETNS", "auto").strip().lower()
    if mode not in NETNS_MODES:
        raise ConfigError(f"RECORD_ROS_NETNS must be auto, off or require, not {mode!r}")
    return mode


@functools.lru_cache(maxsize=1)
def netns_support() -> tuple[bool, str]:
    """(usable, reason): whether a private network namespace with an UP loopback can be made here."""
    if not sys.platform.startswith("linux"):
        return False, "not Linux"
    if os.geteuid() != 0:
        return False, "not root (unshare --net needs CAP_SYS_ADMIN)"
    missing = [tool for tool in ("unshare", "nsenter", "ip") if shutil.which(tool) is None]
    if missing:
        return False, f"missing tools: {', '.join(missing)}"
    try:
        res = subprocess.run(
            ["unshare", "--net", "sh", "-c", "ip link set lo up && ip -o link"],
            check=False,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"unshare --net failed: {exc}"
    if res.returncode != 0:
        return False, f"unshare --net failed: {res.stderr.strip() or res.returncode}"
    return True, "unshare --net works"


def xdist_worker() -> tuple[int, int]:
    """(index, count) of this pytest-xdist worker; (0, 1) without xdist."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    index = int(name[2:]) if name.startswith("gw") and name[2:].isdigit() else 0
    return index, max(count, index + 1)


def pick_domain_id(worker: int, n_workers: int, offset: int, serial: int) -> int:
    """A domain id in 0..101 from a window of ``102 // n_workers`` ids private to ``worker``.

    The windows of different workers never overlap (for up to 102 workers); ``serial`` walks through the
    worker's window so that successive runs do not reuse the previous run's domain.
    """
    if not 0 <= worker < n_workers <= DOMAIN_ID_COUNT:
        raise ValueError(f"worker {worker} of {n_workers} (at most {DOMAIN_ID_COUNT} workers)")
    window = DOMAIN_ID_COUNT // n_workers
    return (offset + worker * window + serial % window) % DOMAIN_ID_COUNT


def domain_offset() -> int:
    """Offset of the domain-id windows: a hash of the pytest-xdist run id, or of this process id."""
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"pid-{os.getpid()}"
    return zlib.crc32(run_id.encode()) % DOMAIN_ID_COUNT


def ros_environment(domain_id: int, log_dir: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for ROS processes confined to the loopback, on ``domain_id``."""
    env = dict(os.environ if base is None else base)
    for var in _DROPPED_VARS:
        env.pop(var, None)
    env.update(
        ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
        ROS_DOMAIN_ID=str(domain_id),
        RMW_IMPLEMENTATION="rmw_fastrtps_cpp",
        ROS_LOG_DIR=str(log_dir),
        PYTHONUNBUFFERED="1",
    )
    return env


@dataclass
class RosNamespace:
    """Starts processes in one private network namespace (or with the env alone); see the module doc."""

    env: dict[str, str]
    domain_id: int
    holder: subprocess.Popen | None = None
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def isolated(self) -> bool:
        """True when the processes run in a private network namespace holding only the loopback."""
        return self.holder is not None

    @property
    def netns_path(self) -> str | None:
        return f"/proc/{self.holder.pid}/ns/net" if self.holder is not None else None

    def command(self, args: Sequence[str | os.PathLike]) -> list[str]:
        """``args`` as run inside the namespace: prefixed with ``nsenter --net=...`` when isolated."""
        argv = [os.fspath(a) for a in args]
        if self.holder is None:
            return argv
        if self.holder.poll() is not None:
            raise RuntimeError(f"the network namespace holder exited ({self.holder.returncode})")
        return ["nsenter", f"--net={self.netns_path}", "--", *argv]

    def popen(self, args: Sequence[str | os.PathLike], **kwargs) -> subprocess.Popen:
        """``subprocess.Popen`` in the namespace with :attr:`env`; stdout/stderr piped as text by default.

        ``env=`` adds to / overrides :attr:`env`. The process is stopped by :meth:`close` if still running.
        """
        extra_env = kwargs.pop("env", None) or {}
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        kwargs.setdefault("text", True)
        kwargs.setdefault("preexec_fn", die_with_parent)  # SIGKILL if the starting process dies
        proc = subprocess.Popen(self.command(args), env={**self.env, **extra_env}, **kwargs)
        self.processes.append(proc)
        return proc

    def run(
        self, args: Sequence[str | os.PathLike], timeout: float = 30.0, check: bool = False, **kwargs
    ) -> subprocess.CompletedProcess:
        """Run ``args`` to completion in the namespace; returns the CompletedProcess (output as text)."""
        proc = self.popen(args, **kwargs)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop(proc)
            out, err = proc.communicate()
            raise AssertionError(
                f"{list(args)} timed out after {timeout} s\n--- stdout\n{out}\n--- stderr\n{err}"
            ) from None
        res = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        if check:
            res.check_returncode()
        return res

    def python(self, code: str, *args: str | os.PathLike, **kwargs) -> subprocess.Popen:
        """Start ``sys.executable -c <dedented code> args...`` in the namespace (see :meth:`popen`)."""
        return self.popen([sys.executable, "-c", textwrap.dedent(code), *args], **kwargs)

    @staticmethod
    def stop(proc: subprocess.Popen, timeout: float = 3.0) -> int:
        """SIGINT (rclpy's clean shutdown), then SIGKILL after ``timeout`` s; returns the exit code."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
        return proc.wait()

    def close(self) -> None:
        for proc in self.processes:
            self.stop(proc)
            for stream in (proc.stdout, proc.stderr, proc.stdin):
                if stream is not None:
                    stream.close()
        if self.holder is not None and self.holder.poll() is None:
            self.holder.kill()
        if self.holder is not None:
            self.holder.wait()
            if self.holder.stdout is not None:
                self.holder.stdout.close()


def start_holder() -> subprocess.Popen:
    """A process in a new network namespace with the loopback UP, sleeping until killed."""
    holder = subprocess.Popen(
        ["unshare", "--net", "sh", "-c", f"ip link set lo up && echo {_HOLDER_READY} && exec sleep 86400"],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        preexec_fn=die_with_parent,  # noqa: PLW1509 - only a prctl call, resolved before the fork
    )
    line = holder.stdout.readline().strip()  # EOF (holder died) gives ""
    if line != _HOLDER_READY:
        holder.kill()
        holder.wait()
        raise RuntimeError(f"could not set up a network namespace (holder said {line!r})")
    return holder


def large_data_env(folder: str | os.PathLike[str]) -> dict[str, str]:
    """Environment additions that load :data:`LARGE_DATA_PROFILE` (written into ``folder``) in Fast DDS: pass
    them as ``env=`` to :meth:`RosNamespace.popen` of every process that sends or receives raw cubes."""
    path = Path(folder) / "fastdds_large_data.xml"
    path.write_text(LARGE_DATA_PROFILE, encoding="utf-8")
    return {"FASTDDS_DEFAULT_PROFILES_FILE": str(path)}


@contextlib.contextmanager
def ros_sandbox(
    log_dir: str | os.PathLike[str] | None = None, domain_id: int | None = None, mode: str | None = None
) -> Iterator[RosNamespace]:
    """A :class:`RosNamespace` for one run, closed (processes stopped, holder killed) at the end.

    Args:
        log_dir: ``ROS_LOG_DIR`` (default: a temporary folder removed at the end).
        domain_id: ``ROS_DOMAIN_ID`` (default: one derived from this process id).
        mode: ``auto`` / ``off`` / ``require`` (default: ``RECORD_ROS_NETNS``, else ``auto``).

    Raises:
        ConfigError: ``mode`` is ``require`` and no private network namespace can be made here.
    """
    mode = netns_mode() if mode is None else mode
    usable, reason = netns_support() if mode != "off" else (False, "RECORD_ROS_NETNS=off")
    if mode == "require" and not usable:
        raise ConfigError(f"RECORD_ROS_NETNS=require but no private network namespace: {reason}")
    with contextlib.ExitStack() as stack:
        if log_dir is None:
            log_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="record-ros-log-"))
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        if domain_id is None:
            domain_id = pick_domain_id(0, 1, domain_offset(), 0)
        ns = RosNamespace(env=ros_environment(domain_id, Path(log_dir)), domain_id=domain_id)
        stack.callback(ns.close)
        if usable:
            ns.holder = start_holder()
        yield ns
