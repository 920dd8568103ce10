# Configure-time fix for the include paths baked into the PyPI ROS 2 wheels (ros-kilted-*).
#
# The wheels' exported CMake targets for the Python type support of builtin_interfaces, std_msgs,
# geometry_msgs, ... (``<pkg>::<pkg>__rosidl_generator_py``) list the include directories of the machine
# that built the wheels (``/opt/python/cp311-cp311/include/python3.11`` and a numpy include under it).
# CMake's generate step then fails with "Imported target ... includes non-existent path".
#
# Use: ``cmake -DCMAKE_PROJECT_INCLUDE=<this file> ...`` (tools/build_vision_msgs.sh does). CMake includes it
# right after the top-level ``project()``; it defers itself to the end of the top-level directory's
# configure step and then rewrites, on every imported target of the build, each include directory that
# does not exist and looks like a Python or numpy include to the configuring interpreter's
# ``Python3_INCLUDE_DIRS`` / ``Python3_NumPy_INCLUDE_DIRS``. The package's own CMakeLists.txt stays as
# upstream's. Existing paths and other missing paths are left alone (CMake still reports the latter).

if(CMAKE_VERSION VERSION_LESS 3.21)  # IMPORTED_TARGETS directory property
  message(FATAL_ERROR "fix_wheel_include_dirs.cmake needs CMake >= 3.21 (found ${CMAKE_VERSION})")
endif()
# CMAKE_PROJECT_INCLUDE runs after every project() call; register the fix once.
get_property(_record_fix_registered GLOBAL PROPERTY RECORD_FIX_WHEEL_INCLUDE_DIRS_REGISTERED)
if(_record_fix_registered)
  return()
endif()
set_property(GLOBAL PROPERTY RECORD_FIX_WHEEL_INCLUDE_DIRS_REGISTERED TRUE)

function(_record_fix_collect_imported_targets dir out_var)
  get_property(_targets DIRECTORY "${dir}" PROPERTY IMPORTED_TARGETS)
  get_property(_subdirs DIRECTORY "${dir}" PROPERTY SUBDIRECTORIES)
  foreach(_sub IN LISTS _subdirs)
    _record_fix_collect_imported_targets("${_sub}" _sub_targets)
    list(APPEND _targets ${_sub_targets})
  endforeach()
  set(${out_var} ${_targets} PARENT_SCOPE)
endfunction()

function(_record_fix_wheel_include_dirs)
  if(NOT DEFINED Python3_INCLUDE_DIRS OR NOT DEFINED Python3_NumPy_INCLUDE_DIRS)
    find_package(Python3 REQUIRED COMPONENTS Interpreter Development.Module NumPy)
  endif()
  _record_fix_collect_imported_targets("${CMAKE_SOURCE_DIR}" _targets)
  list(REMOVE_DUPLICATES _targets)
  set(_fixed 0)
  foreach(_target IN LISTS _targets)
    get_target_property(_dirs ${_target} INTERFACE_INCLUDE_DIRECTORIES)
    if(NOT _dirs)
      continue()
    endif()
    set(_new_dirs "")
    set(_changed FALSE)
    foreach(_dir IN LISTS _dirs)
      if(NOT _dir MATCHES "^\\$<" AND NOT EXISTS "${_dir}")
        if(_dir MATCHES "numpy/(_core/|core/)?include$")
          list(APPEND _new_dirs ${Python3_NumPy_INCLUDE_DIRS})
          set(_changed TRUE)
          continue()
        elseif(_dir MATCHES "/include/python3\\.[0-9]+$")
          list(APPEND _new_dirs ${Python3_INCLUDE_DIRS})
          set(_changed TRUE)
          continue()
        endif()
      endif()
      list(APPEND _new_dirs "${_dir}")
    endforeach()
    if(_changed)
      list(REMOVE_DUPLICATES _new_dirs)
      set_target_properties(${_target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_new_dirs}")
      math(EXPR _fixed "${_fixed} + 1")
    endif()
  endforeach()
  message(STATUS "fix_wheel_include_dirs: rewrote Python/numpy include paths on ${_fixed} imported target(s) "
                 "to ${Python3_INCLUDE_DIRS};${Python3_NumPy_INCLUDE_DIRS}")
endfunction()

cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL _record_fix_wheel_include_dirs)
