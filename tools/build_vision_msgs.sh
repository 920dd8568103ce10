#!/usr/bin/env bash
# Build the vision_msgs interface package (tools/ros/vision_msgs) with the PyPI ROS 2 build tools and install
# it into a venv, so that `import vision_msgs.msg` works there with no extra environment variables.
#
#   tools/build_vision_msgs.sh [VENV]          (VENV defaults to .venv; `make setup` runs this)
#   FORCE=1 tools/build_vision_msgs.sh [VENV]  (rebuild even when the stamp says it is up to date)
#   JOBS=N  tools/build_vision_msgs.sh [VENV]  (parallel compile jobs, default 2)
#
# Needs: the venv with `.[ros,ros-build]` installed, cmake >= 3.21, a C and a C++ compiler, make, and the
# interpreter's Python headers. Takes about a minute on 2 cores (compiling the generated type support).
# Idempotent: a stamp file in the venv holds a hash of the package sources, this script, the CMake fix
# and the versions of the ROS wheels it builds against; when it matches and the install is present, it
# skips. A rebuild first removes the files the previous install wrote (its install manifest).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
pkg_dir="$repo/tools/ros/vision_msgs"
fix_cmake="$repo/tools/ros/fix_wheel_include_dirs.cmake"
jobs="${JOBS:-2}"

die() { echo "build_vision_msgs: error: $*" >&2; exit 1; }
log() { echo "build_vision_msgs: $*" >&2; }

venv_arg="${1:-.venv}"
[[ -d "$venv_arg" ]] || die "venv '$venv_arg' not found (create it with 'make setup' or python3 -m venv)"
venv="$(cd "$venv_arg" && pwd)"
py="$venv/bin/python"
[[ -x "$py" ]] || die "$py is not an executable Python interpreter"

stamp="$venv/.vision_msgs.stamp"
manifest="$venv/.vision_msgs.install_manifest"

# --- tools ----------------------------------------------------------------------------------------------
missing=()
command -v cmake >/dev/null 2>&1 || missing+=("cmake")
command -v make >/dev/null 2>&1 || missing+=("make")
{ command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1; } || missing+=("gcc (C compiler)")
{ command -v c++ >/dev/null 2>&1 || command -v g++ >/dev/null 2>&1; } || missing+=("g++ (C++ compiler)")
if ((${#missing[@]})); then
  die "missing build tools: ${missing[*]}. On Debian/Ubuntu: apt-get install cmake make gcc g++"
fi
cmake_version="$(cmake --version | sed -n 's/^cmake version \([0-9.]*\).*/\1/p')"
if ! printf '%s\n' 3.21 "$cmake_version" | sort -V -C; then
  die "cmake >= 3.21 needed (found $cmake_version)"
fi
"$py" - <<'EOF' || die "the venv lacks the ROS 2 wheels or Python headers: pip install -e '.[ros,ros-build]' (and apt-get install python3-dev)"
import importlib.util, os, sys, sysconfig
for mod in ("rclpy", "rosidl_generator_py", "catkin_pkg", "numpy"):
    if importlib.util.find_spec(mod) is None:
        sys.exit(f"build_vision_msgs: error: Python module {mod!r} not importable in {sys.prefix}")
header = os.path.join(sysconfig.get_paths()["include"], "Python.h")
if not os.path.isfile(header):
    sys.exit(f"build_vision_msgs: error: {header} not found (Python development headers)")
EOF
for d in ament_cmake rosidl_default_generators std_msgs geometry_msgs; do
  [[ -f "$venv/share/$d/package.xml" ]] || die "$venv/share/$d missing: pip install -e '.[ros,ros-build]' into $venv"
done

# --- up to date? ----------------------------------------------------------------------------------------
# Sources of the package and of this build, plus the versions of what the generated code links against.
source_hash() {
  {
    (cd "$repo" && find tools/ros -type f \
      \( -name '*.msg' -o -name 'package.xml' -o -name 'CMakeLists.txt' -o -name '*.cmake' \) -print0 \
      | LC_ALL=C sort -z | xargs -0 sha256sum)
    sha256sum "$here/build_vision_msgs.sh" | cut -d' ' -f1
    "$py" -c 'import sys; print(sys.version)'
    for d in rosidl_generator_py rosidl_generator_c rosidl_typesupport_fastrtps_c rosidl_typesupport_c \
             rosidl_runtime_c std_msgs geometry_msgs builtin_interfaces; do
      sed -n 's:.*<version>\(.*\)</version>.*:'"$d"' \1:p' "$venv/share/$d/package.xml" 2>/dev/null || true
    done
  } | sha256sum | cut -d' ' -f1
}

installed_ok() {
  [[ -f "$venv/share/vision_msgs/package.xml" ]] \
    && compgen -G "$venv/lib/python3*/site-packages/vision_msgs/msg/__init__.py" >/dev/null \
    && [[ -f "$venv/lib/libvision_msgs__rosidl_typesupport_fastrtps_c.so" ]]
}

# One build at a time per venv.
exec 9>"$venv/.vision_msgs.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi

want="$(source_hash)"
if [[ "${FORCE:-0}" != 1 && -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && installed_ok; then
  log "vision_msgs in $venv is up to date (stamp $stamp); FORCE=1 to rebuild"
  exit 0
fi

# --- build ----------------------------------------------------------------------------------------------
build_dir="$(mktemp -d "${TMPDIR:-/tmp}/vision_msgs_build.XXXXXX")"
trap 'rm -rf "$build_dir"' EXIT
log "building $pkg_dir into $venv (build dir $build_dir, $jobs jobs)"
start=$SECONDS

export AMENT_PREFIX_PATH="$venv"
export CMAKE_PREFIX_PATH="$venv"
export PATH="$venv/bin:$PATH"

cmake -S "$pkg_dir" -B "$build_dir" \
  -DCMAKE_PROJECT_INCLUDE="$fix_cmake" \
  -DPython3_EXECUTABLE="$py" \
  -DBUILD_TESTING=OFF \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_INSTALL_PREFIX="$venv" >"$build_dir/configure.log" 2>&1 \
  || { cat "$build_dir/configure.log" >&2; die "cmake configure failed"; }
cmake --build "$build_dir" -j "$jobs" >"$build_dir/build.log" 2>&1 \
  || { tail -n 60 "$build_dir/build.log" >&2; die "build failed"; }

# Replace the previous install: remove the files it wrote (only those inside the venv).
if [[ -f "$manifest" ]]; then
  while IFS= read -r f; do
    if [[ "$f" == "$venv"/* && ( -f "$f" || -L "$f" ) ]]; then rm -f -- "$f"; fi
  done <"$manifest"
fi
rm -f "$stamp"
cmake --install "$build_dir" >"$build_dir/install.log" 2>&1 \
  || { cat "$build_dir/install.log" >&2; die "install failed"; }
cp "$build_dir/install_manifest.txt" "$manifest"

"$py" -c 'import vision_msgs.msg as m; m.Detection3DArray()' \
  || die "installed, but 'import vision_msgs.msg' fails in $py"
echo "$want" >"$stamp"
log "installed vision_msgs into $venv in $((SECONDS - start)) s"
