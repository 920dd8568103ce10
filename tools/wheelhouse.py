"""Wheels of the project's dependencies for an offline install on another machine (``make wheels``).

    python tools/wheelhouse.py [--out wheelhouse] [--python-version 3.12] [--skip "numpy scipy ..."]
                               [--max-mib 48]

Writes into ``--out`` the wheels of ``pyproject.toml``'s ``[project] dependencies`` and of its build
requirements (``pip install -e .`` builds the project with them), with their dependencies, for CPython
``--python-version`` on x86-64 manylinux Linux, so that ``pip install --no-index --find-links wheelhouse
-e .`` runs there without a network (Python 3.11+ here: tomllib). Left out: ``torch`` (the target's own
build: CUDA) and the ``--skip`` packages, which the target already has, with what only they need; the
optional extras (ROS, TensorRT, dev) are not carried.

Steps: (1) a dependency that PyPI ships as a source archive only (``antlr4-python3-runtime``, omegaconf's) is
built here into a pure-Python wheel; (2) pip resolves the dependencies for the target's interpreter and
platform (``--dry-run --report``, wheels only, the built ones found in ``--out``); (3) the dependency graph is
walked from the requirements, markers evaluated for the target, not entering skipped packages; (4) the
wheels reached are downloaded (``--no-deps``), other wheels in ``--out`` removed. Prints each wheel's size and
the total, and fails when the total exceeds ``--max-mib``: the GPU machine's tool carries at most 64 MiB with
the working tree.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import tomllib
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name, parse_wheel_filename
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
#: Never carried: the target machine brings its own (CUDA) build.
ALWAYS_SKIPPED = ("torch",)
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64")
MIB = 2**20


def project_requirements(pyproject: Path, skip: Iterable[str]) -> list[Requirement]:
    """``[project] dependencies`` and ``[build-system] requires`` of ``pyproject``, less ``skip``, torch."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    skipped = {canonicalize_name(name) for name in (*skip, *ALWAYS_SKIPPED)}
    texts = [*data["project"]["dependencies"], *data["build-system"]["requires"]]
    return [r for r in map(Requirement, texts) if canonicalize_name(r.name) not in skipped]


def target_environment(python_version: str) -> dict[str, str]:
    """Marker variables of CPython ``python_version`` (``3.12``) on x86-64 Linux."""
    environment = dict(default_environment())
    environment.update(python_version=python_version, python_full_version=f"{python_version}.0",
                       implementation_name="cpython", platform_python_implementation="CPython",
                       sys_platform="linux", platform_system="Linux", platform_machine="x86_64",
                       os_name="posix")
    return environment


def closure(roots: Sequence[Requirement], requires: Mapping[NormalizedName, Sequence[str]],
            environment: Mapping[str, str], skip: Iterable[str]) -> list[NormalizedName]:
    """Names of the packages ``roots`` need (themselves included), sorted: ``requires`` gives each resolved
    package's ``Requires-Dist``; requirements whose marker is false in ``environment`` (extras too: none is
    asked for) and the ``skip`` packages, with what only they need, are left out.

    Raises:
        KeyError: a needed package is not among the resolved ones.
    """
    skipped = {canonicalize_name(name) for name in (*skip, *ALWAYS_SKIPPED)}
    plain = {**environment, "extra": ""}

    def applying(requirements: Iterable[Requirement]) -> list[Requirement]:
        return [r for r in requirements if r.marker is None or r.marker.evaluate(plain)]

    needed: set[NormalizedName] = set()
    pending = applying(roots)
    while pending:
        name = canonicalize_name(pending.pop().name)
        if name in needed or name in skipped:
            continue
        if name not in requires:
            raise KeyError(f"{name} is needed on the target but pip did not resolve it")
        needed.add(name)
        pending += applying(map(Requirement, requires[name]))
    return sorted(needed)


def _pip(*arguments: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", *arguments], check=True)


def _target_options(python_version: str) -> list[str]:
    platforms = [option for platform in PLATFORMS for option in ("--platform", platform)]
    return ["--only-binary=:all:", "--implementation", "cp", "--python-version", python_version, *platforms]


def _report(arguments: Sequence[str], folder: Path) -> list[dict]:
    """The packages ``pip install --dry-run`` would install for ``arguments`` (its JSON report's entries)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "report.json"
    _pip("install", "--quiet", "--dry-run", "--ignore-installed", "--target", str(folder / "target"),
         "--report", str(path), *arguments)
    return json.loads(path.read_text(encoding="utf-8"))["install"]


def build_source_only(requirements: Sequence[Requirement], out: Path, folder: Path) -> None:
    """Build here the wheels of the resolved packages that come as source archives only (pure Python)."""
    for entry in _report([str(r) for r in requirements], folder):
        if not entry["download_info"]["url"].endswith(".whl"):
            pinned = f"{entry['metadata']['name']}=={entry['metadata']['version']}"
            _pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), pinned)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "wheelhouse", help="folder of the wheels")
    parser.add_argument("--python-version", default="3.12", help="the target's CPython (major.minor)")
    parser.add_argument("--skip", default="", help="space-separated packages the target already has")
    parser.add_argument("--max-mib", type=float, default=48.0, help="fail above this total size (MiB)")
    args = parser.parse_args(argv)
    skip = args.skip.split()
    roots = project_requirements(ROOT / "pyproject.toml", skip)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="record-wheels-") as temporary:
        build_source_only(roots, args.out, Path(temporary) / "host")
        resolved = _report([*_target_options(args.python_version), "--find-links", str(args.out),
                            *map(str, roots)], Path(temporary) / "target")
    versions = {canonicalize_name(e["metadata"]["name"]): e["metadata"]["version"] for e in resolved}
    requires = {canonicalize_name(e["metadata"]["name"]): e["metadata"].get("requires_dist") or []
                for e in resolved}
    needed = closure(roots, requires, target_environment(args.python_version), skip)
    _pip("download", "--quiet", "--no-deps", *_target_options(args.python_version), "--find-links",
         str(args.out), "--dest", str(args.out), *(f"{name}=={versions[name]}" for name in needed))
    wanted = {(name, Version(versions[name])) for name in needed}
    total = 0
    for wheel in sorted(args.out.glob("*.whl")):
        if parse_wheel_filename(wheel.name)[:2] not in wanted:
            wheel.unlink()
            continue
        total += wheel.stat().st_size
        print(f"{wheel.stat().st_size / MIB:8.2f} MiB  {wheel.name}")
    print(f"{total / MIB:8.2f} MiB  total: {len(wanted)} wheels in {args.out} (limit {args.max_mib:g} MiB)")
    if total > args.max_mib * MIB:
        print(f"error: the wheels exceed {args.max_mib:g} MiB: skip more packages the target has (--skip)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
