"""ROS 2 package ``record_ros``: the ``record_detector`` node (:mod:`record_ros.detector_node`) and its
parameter table (:mod:`record_ros.parameters`). The detection logic is ROS-free, in :mod:`record.ros.core`."""
