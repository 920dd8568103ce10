"""``tools/wheelhouse.py`` (``make wheels``): which requirements are carried, and the dependency walk that
leaves out torch, the skipped packages and what only they need, markers evaluated for the target Python."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tool() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("wheelhouse", ROOT / "tools" / "wheelhouse.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_the_project_requirements_and_build_requirements_less_torch_and_the_skipped(tool: ModuleType) -> None:
    names = [r.name for r in tool.project_requirements(ROOT / "pyproject.toml", ["NumPy", "onnxruntime"])]
    assert {"hydra-core", "omegaconf", "rocket-fft", "rosbags", "setuptools", "wheel"} <= set(names)
    assert not {"torch", "numpy", "onnxruntime"} & set(names)
    assert not any(name.startswith("ros-") or name == "pytest" for name in names)  # extras are not carried


def test_the_closure_follows_target_markers_and_stops_at_skipped_packages(tool: ModuleType) -> None:
    requires = {
        "app": ["lib", "plugin; extra == 'gui'", "new-only; python_version >= '3.12'", "torch>=2"],
        "lib": ["numpy>=1.26"],
        "numpy": [],
        "old-only": [],
        "new-only": ["typing-extensions; python_version < '3.12'"],
        "torch": ["nvidia-cublas"],
        "typing-extensions": [],
    }
    roots = [Requirement("App"), Requirement("old_only; python_version < '3.12'")]
    target = tool.target_environment("3.12")
    assert tool.closure(roots, requires, target, ["numpy"]) == ["app", "lib", "new-only"]
    assert tool.closure(roots, requires, tool.target_environment("3.11"), ["numpy"]) == [
        "app", "lib", "old-only"]
    assert tool.closure(roots, requires, target, []) == ["app", "lib", "new-only", "numpy"]
    with pytest.raises(KeyError, match="lib is needed on the target"):
        tool.closure(roots, {key: value for key, value in requires.items() if key != "lib"}, target, [])
