"""Harness for ROS 2 tests: real rclpy over real Fast DDS, with every DDS packet kept on this machine.

DDS discovers peers by multicast on every interface; traffic off the loopback is not allowed here. So each
test gets a :class:`RosNamespace` (fixture ``ros_ns``) and starts its ROS processes only through it:

* **Environment** (``ros_ns.env``, also the fixture ``ros_env``): a copy of ``os.environ`` with
  ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``, ``RMW_IMPLEMENTATION=rmw_fastrtps_cpp``, a test-private
  ``ROS_DOMAIN_ID`` and ``ROS_LOG_DIR`` in the test's tmp folder; ``ROS_LOCALHOST_ONLY``,
  ``ROS_STATIC_PEERS``, ``ROS_DISCOVERY_SERVER`` and the Fast DDS profile variables are removed.
* **Private network namespace** (``ros_ns.isolated``): where the machine allows it (root, and
  ``unshare --net`` + ``ip`` + ``nsenter`` work; checked once per process), the fixture starts ONE holder
  process, ``unshare --net sh -c 'ip link set lo up; ...; exec sleep'``, whose namespace holds only an
  UP loopback. Every process started with ``ros_ns.popen`` / ``ros_ns.run`` / ``ros_ns.python`` enters
  THAT namespace (``nsenter --net=/proc/<holder>/ns/net -- ...``), so all processes of one test share one
  namespace and discover each other, while nothing they send can leave it. (Two processes started with two
  separate ``unshare --net`` calls sit in two different namespaces and never see each other: checked with
  a publisher and a subscriber on the same domain id, with Fast DDS's default UDP + shared-memory transports,
  because discovery runs over UDP. So namespaces also keep concurrent test runs apart.)
  Elsewhere the harness falls back to the environment variables alone (``isolated`` is False).
  ``RECORD_ROS_NETNS=off`` forces the fallback; ``RECORD_ROS_NETNS=require`` fails instead of falling back.
* **Domain id**: ``ROS_DOMAIN_ID`` in 0..101; each pytest-xdist worker draws from its own window of
  ``102 // n_workers`` ids (offset by a hash of the test run id, or of the pid without xdist), so parallel
  workers never share a domain even in the fallback; successive tests of one worker take successive ids.
* **Clean-up**: processes started through ``ros_ns`` get SIGINT at teardown, SIGKILL 3 s later, then the
  holder is killed (all of them also die with the pytest process: PR_SET_PDEATHSIG).

API (everything takes ``args`` as a list, like :mod:`subprocess`)::

    def test_node(ros_ns):                                # skips when rclpy/vision_msgs are missing
        sub = ros_ns.python(SUBSCRIBER_CODE, "--out", str(path))    # Popen, stdout/stderr PIPE, text
        node = ros_ns.popen([sys.executable, "-m", "record.ros.node", "--ros-args", "-p", "x:=1"])
        out, err = sub.communicate(timeout=20)          # both run in the same namespace
        ros_ns.stop(node)                               # SIGINT, then SIGKILL; returns the exit code
        res = ros_ns.run(["ip", "-o", "link"])          # CompletedProcess (capture_output, text)

``popen``/``python`` accept Popen keyword arguments; ``env={...}`` is merged over ``ros_ns.env`` (e.g.
``env={"FASTDDS_BUILTIN_TRANSPORTS": "UDPv4"}``). Children use ``sys.executable``: in the venv, the wheels'
``ros_wheels_bootstrapper`` (a .pth hook) has already put the venv's ``lib/`` on ``LD_LIBRARY_PATH`` for
pytest and its children, so rclpy and vision_msgs load without further variables.
``ros_ns.command(args)`` gives the argv prefixed with ``nsenter`` (or unchanged in the fallback) for a
driver that starts its own processes. The fixture ``ros_netns`` gives the namespace alone (no ROS
needed); ``ros_ns`` = ``ros_netns`` + a skip unless ``rclpy``, ``vision_msgs.msg`` and ``sensor_msgs.msg``
import in ``sys.executable`` (build vision_msgs with ``tools/build_vision_msgs.sh .venv`` / ``make setup``).
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

#: Domain ids usable on Linux with the default RTPS port mapping (101 is the last one below 32768 ports).
DOMAIN_ID_COUNT = 102
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
_PR_SET_PDEATHSIG = 1
_domain_counter = itertools.count()


try:  # resolved here, so that the forked child only calls an already loaded C function
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # pragma: no cover - not Linux
    _prctl = None
_SIGKILL = int(signal.SIGKILL)


def _die_with_parent() -> None:
    """``preexec_fn``: the child gets SIGKILL when the pytest process (thread) that started it dies."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, _SIGKILL, 0, 0, 0)


def _netns_mode() -> str:
    mode = os.environ.get("RECORD_ROS_NETNS", "auto").strip().lower()
    if mode not in {"auto", "off", "require"}:
        raise pytest.UsageError(f"RECORD_ROS_NETNS must be auto, off or require, not {mode!r}")
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
    worker's window so that successive tests do not reuse the previous test's domain.
    """
    if not 0 <= worker < n_workers <= DOMAIN_ID_COUNT:
        raise ValueError(f"worker {worker} of {n_workers} (at most {DOMAIN_ID_COUNT} workers)")
    window = DOMAIN_ID_COUNT // n_workers
    return (offset + worker * window + serial % window) % DOMAIN_ID_COUNT


def _domain_offset() -> int:
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

        ``env=`` adds to / overrides :attr:`env`. The process is stopped at teardown if still running.
        """
        extra_env = kwargs.pop("env", None) or {}
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        kwargs.setdefault("text", True)
        kwargs.setdefault("preexec_fn", _die_with_parent)  # SIGKILL if pytest dies
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


def _start_holder() -> subprocess.Popen:
    """A process in a new network namespace with the loopback UP, sleeping until killed."""
    holder = subprocess.Popen(
        ["unshare", "--net", "sh", "-c", f"ip link set lo up && echo {_HOLDER_READY} && exec sleep 86400"],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - only a prctl call, resolved before the fork
    )
    line = holder.stdout.readline().strip()  # EOF (holder died) gives ""
    if line != _HOLDER_READY:
        holder.kill()
        holder.wait()
        raise RuntimeError(f"could not set up a network namespace (holder said {line!r})")
    return holder


def _ros_importable() -> tuple[bool, str]:
    """Whether rclpy and the message packages import in ``sys.executable`` (checked once per process)."""
    return _ros_importable_cached(sys.executable)


@functools.lru_cache(maxsize=4)
def _ros_importable_cached(python: str) -> tuple[bool, str]:
    res = subprocess.run(
        [python, "-c", "import rclpy, rclpy.serialization, sensor_msgs.msg, vision_msgs.msg"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if res.returncode == 0:
        return True, ""
    last = (res.stderr.strip().splitlines() or ["?"])[-1]
    return False, (
        f"ROS 2 not importable in {python} ({last}); install with "
        "`pip install -e '.[ros,ros-build]' && tools/build_vision_msgs.sh .venv` or `make setup`"
    )


@pytest.fixture
def ros_netns(tmp_path: Path) -> Iterator[RosNamespace]:
    """A :class:`RosNamespace` for this test (private network namespace when possible); no ROS needed."""
    mode = _netns_mode()
    usable, reason = netns_support() if mode != "off" else (False, "RECORD_ROS_NETNS=off")
    if mode == "require" and not usable:
        pytest.fail(f"RECORD_ROS_NETNS=require but no private network namespace: {reason}")
    worker, n_workers = xdist_worker()
    domain_id = pick_domain_id(worker, n_workers, _domain_offset(), next(_domain_counter))
    log_dir = tmp_path / "ros_log"
    log_dir.mkdir()
    ns = RosNamespace(env=ros_environment(domain_id, log_dir), domain_id=domain_id)
    try:
        if usable:
            ns.holder = _start_holder()
        yield ns
    finally:
        ns.close()


@pytest.fixture
def ros_ns(ros_netns: RosNamespace) -> RosNamespace:
    """:func:`ros_netns`, skipping unless rclpy, sensor_msgs and vision_msgs import."""
    ok, reason = _ros_importable()
    if not ok:
        pytest.skip(reason)
    return ros_netns


@pytest.fixture
def ros_env(ros_ns: RosNamespace) -> dict[str, str]:
    """The environment dict of :func:`ros_ns` (LOCALHOST discovery, private domain id, Fast DDS)."""
    return ros_ns.env
