"""Package checks of record_ros that need no DDS: parameters file vs the declared table, launch file,
manifest, entry point, lint. Run with ``pytest ros_node/test`` (or ``colcon test``)."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from record_ros.parameters import PARAMETERS, ParameterError, check_values, parameter_names, read_params_file

PACKAGE = Path(__file__).resolve().parents[1]
PARAMS = PACKAGE / "launch" / "record.params.yaml"
LAUNCH = PACKAGE / "launch" / "record.launch.py"


def test_params_file_gives_exactly_the_declared_parameters() -> None:
    values = read_params_file(PARAMS)
    assert sorted(values) == sorted(parameter_names())
    check_values(values)  # types, choices and ranges of the shipped values
    assert values["model.build_only"] is False  # the launch argument turns it on


def test_config_folder_holds_the_same_file() -> None:
    config = PACKAGE / "config" / "record.params.yaml"
    assert config.resolve() == PARAMS.resolve()


def test_every_parameter_in_the_file_is_commented() -> None:
    lines = PARAMS.read_text().splitlines()
    for index, line in enumerate(lines):
        if re.match(r"^\s+\w+:\s*\S", line):  # a leaf with a value
            above = lines[index - 1].strip()
            assert above.startswith("#"), f"{PARAMS.name}:{index + 1}: no comment above {line.strip()!r}"


def test_check_values_names_the_parameter() -> None:
    values = read_params_file(PARAMS)
    cases = [("state.max_gap_s", None, "is not set"), ("state.max_gap_s", 1, "must be a double"),
             ("model.backend", "caffe", "unknown value"), ("warmup.frames", -1, "out of range"),
             ("model.build_only", True, "set model.backend to tensorrt"),
             ("model.threads", True, "must be a integer")]
    for name, value, text in cases:
        with pytest.raises(ParameterError, match=re.escape(name)) as error:
            check_values({**values, name: value})
        assert text in str(error.value)


def test_descriptors_carry_type_description_and_range() -> None:
    pytest.importorskip("rclpy")
    from rclpy.parameter import Parameter
    from record_ros.detector_node import _descriptor

    for spec in PARAMETERS:
        descriptor = _descriptor(spec)
        assert descriptor.name == spec.name and descriptor.description and descriptor.read_only
        types = {"string": Parameter.Type.STRING, "integer": Parameter.Type.INTEGER,
                 "double": Parameter.Type.DOUBLE, "bool": Parameter.Type.BOOL}
        assert descriptor.type == types[spec.type].value
        ranges = list(descriptor.integer_range) + list(descriptor.floating_point_range)
        if spec.bounds is None:
            assert ranges == []
        else:
            assert [(r.from_value, r.to_value) for r in ranges] == [spec.bounds]


def test_launch_file_parses_and_names_the_params_file() -> None:
    tree = ast.parse(LAUNCH.read_text())
    functions = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    assert "generate_launch_description" in functions
    strings = {node.value for node in ast.walk(tree)
               if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    assert {"record.params.yaml", "record_ros", "record_detector", "model.build_only"} <= strings
    arguments = {node.args[0].value for node in ast.walk(tree) if isinstance(node, ast.Call)
                 and getattr(node.func, "id", "") == "DeclareLaunchArgument"}
    assert {"params_file", "build_only", "model_path", "input_topic"} <= arguments
    modules = {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert {"launch", "launch_ros"} <= modules


def test_manifest_and_setup() -> None:
    root = ET.parse(PACKAGE / "package.xml").getroot()
    assert root.get("format") == "3" and root.findtext("name") == "record_ros"
    assert root.find("export").findtext("build_type") == "ament_python"
    exec_depends = {e.text for e in root.findall("exec_depend")}
    assert {"rclpy", "std_msgs", "sensor_msgs", "geometry_msgs", "visualization_msgs", "diagnostic_msgs",
            "vision_msgs", "builtin_interfaces", "python3-numpy"} <= exec_depends
    setup = (PACKAGE / "setup.py").read_text()
    assert "record_detector = {PACKAGE}.detector_node:main" in setup and 'PACKAGE = "record_ros"' in setup
    assert "script_dir=$base/lib/record_ros" in (PACKAGE / "setup.cfg").read_text()
    marker = PACKAGE / "resource" / "record_ros"
    assert marker.is_file() and marker.read_text() == ""


def test_lint() -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).is_file():
        pytest.skip("ruff not installed")
    res = subprocess.run([ruff, "check", "--line-length", "110", "--select", "E,F,W,B,UP", str(PACKAGE)],
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
