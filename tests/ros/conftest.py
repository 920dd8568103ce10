"""Harness for ROS 2 tests: real rclpy over real Fast DDS, with every DDS packet kept on this machine.

The namespace machinery lives in :mod:`record.ros.sandbox` (shared with ``benchmarks/ros_core.py``); this file
turns it into fixtures.

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

import functools
import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from record.errors import ConfigError
from record.ros.sandbox import (  # noqa: F401 - re-exported for tests that used them from here
    DOMAIN_ID_COUNT,
    RosNamespace,
    domain_offset,
    netns_mode,
    netns_support,
    pick_domain_id,
    ros_environment,
    start_holder,
    xdist_worker,
)

_domain_counter = itertools.count()


def _netns_mode() -> str:
    try:
        return netns_mode()
    except ConfigError as error:
        raise pytest.UsageError(str(error)) from None


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
    domain_id = pick_domain_id(worker, n_workers, domain_offset(), next(_domain_counter))
    log_dir = tmp_path / "ros_log"
    log_dir.mkdir()
    ns = RosNamespace(env=ros_environment(domain_id, log_dir), domain_id=domain_id)
    try:
        if usable:
            ns.holder = start_holder()
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


# ------------------------------------------------------------ models for the node, replay and soak tests
#: Cache of the ROS tests' random checkpoints and ONNX exports (exports take tens of seconds; kept across
#: runs).
MODEL_CACHE = Path(os.environ.get("RECORD_TEST_CACHE", Path.home() / ".cache" / "record" / "tests"))
#: Frame size of the tiny CARRADA RA model of the soak tests (precomputed maps, a few ms per frame).
SMALL_RA_SIZE = (32, 32)


@pytest.fixture(scope="session")
def trained_rod2021_onnx(trained_rod2021_checkpoint: Path) -> Path:
    """The ONNX export of the trained record_rod2021 fixture (cached beside the runtime's exports)."""
    from record.runtime.cache import onnx_for_source

    return onnx_for_source(trained_rod2021_checkpoint, cache_dir=MODEL_CACHE)


@pytest.fixture(scope="session")
def small_ra_onnx() -> Path:
    """A seeded random ``record_carrada_ra`` exported at 32 x 32 (maps input; soak tests)."""
    import torch

    from record.models import create_model, save_checkpoint
    from record.runtime.cache import onnx_for_source

    checkpoint = MODEL_CACHE / "record_carrada_ra_random_seed0.pt"
    if not checkpoint.is_file():  # kept, so that its digest (the export's cache key) stays the same
        MODEL_CACHE.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(0)
        save_checkpoint(create_model("record_carrada_ra"), checkpoint)
    return onnx_for_source(checkpoint, size=SMALL_RA_SIZE, cache_dir=MODEL_CACHE)
