"""Launch record_detector (package record_ros) with its parameter file.

    ros2 launch record_ros record.launch.py [params_file:=...] [model_path:=...] [input_topic:=...]
        [build_only:=true]

build_only:=true builds the TensorRT engine for this machine from model.path and exits (run it once on the
Jetson before driving; the first build takes minutes). Without the launch system, the same node starts with
`record_detector --ros-args --params-file <share>/record_ros/launch/record.params.yaml`.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution, PythonExpression
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

PARAMS_FILE = "record.params.yaml"


def _detector(parameters: list, condition: IfCondition) -> Node:
    return Node(
        package="record_ros",
        executable="record_detector",
        name="record_detector",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        parameters=parameters,
        remappings=[("~/input/radar", LaunchConfiguration("input_topic"))],
        condition=condition,
    )


def generate_launch_description() -> LaunchDescription:
    params_file = LaunchConfiguration("params_file")
    model_path = LaunchConfiguration("model_path")
    overrides = {"model.build_only": ParameterValue(LaunchConfiguration("build_only"), value_type=bool)}
    shipped = PathJoinSubstitution([FindPackageShare("record_ros"), "launch", PARAMS_FILE])
    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=shipped,
                              description="Parameter file of record_detector (every parameter, no defaults)"),
        DeclareLaunchArgument("model_path", default_value="",
                              description="Override model.path (ONNX, checkpoint, engine); empty: keep"),
        DeclareLaunchArgument("input_topic", default_value="/radar/adc",
                              description="Radar frames (sensor_msgs/Image), remapped onto ~/input/radar"),
        DeclareLaunchArgument("namespace", default_value="", description="Namespace of the node"),
        DeclareLaunchArgument("build_only", default_value="false",
                              description="Build the TensorRT engine from model.path and exit"),
        # model.path from the file, or from the model_path argument when one is given
        _detector([params_file, overrides], IfCondition(PythonExpression(["'", model_path, "' == ''"]))),
        _detector([params_file, overrides, {"model.path": model_path}],
                  IfCondition(PythonExpression(["'", model_path, "' != ''"]))),
    ])
