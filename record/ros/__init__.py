"""RECORD in a ROS 2 stack: the ROS-free detector core and the message conversions.

* :mod:`record.ros.core`: :class:`DetectorCore` turns the fields of a ``sensor_msgs/Image`` (an
  :class:`InputImage`: raw ADC cube or precomputed maps) into a :class:`FrameResult` (detections, CARRADA
  label masks, timings), keeping the recurrent state between frames and resetting it on gaps, stamps going
  backwards, frame-id changes and after bad frames. Imports neither rclpy nor any message package.
* :mod:`record.ros.messages`: results to ``vision_msgs`` / ``visualization_msgs`` / ``diagnostic_msgs`` /
  ``sensor_msgs`` messages and back (needs the ROS 2 message packages, not rclpy's node machinery).

The rclpy node is the ament_python package ``record_ros`` in ``ros_node/`` (executable ``record_detector``).
Import the submodules themselves: this package module imports nothing, so the bag tools (``record play``)
do not pay for the core's dependencies.
"""
