"""ament_python package ``record_ros``: the ``record_detector`` node (also installs with plain pip)."""

from glob import glob

from setuptools import setup

PACKAGE = "record_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=[PACKAGE],
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", sorted(glob("launch/*.launch.py") + glob("launch/*.yaml"))),
        (f"share/{PACKAGE}/config", sorted(glob("config/*.yaml") + glob("config/*.xml"))),
    ],
    # `record` (this repository's package) must be installed in the same environment; it has no rosdep key.
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="RECORD maintainers",
    maintainer_email="record@example.org",
    description="RECORD radar object detection as a ROS 2 node",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
    entry_points={"console_scripts": [f"record_detector = {PACKAGE}.detector_node:main"]},
)
