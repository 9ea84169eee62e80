#!/usr/bin/env bash
# Installs what is missing (Debian packages), then configures and builds Shoal.
#   scripts/build.sh                 release build in ./build
#   BUILD_DIR=x SHOAL_SANITIZE=ON scripts/build.sh   a sanitizer build in ./x
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

build_dir=${BUILD_DIR:-build}
sanitize=${SHOAL_SANITIZE:-OFF}
build_type=${BUILD_TYPE:-RelWithDebInfo}
jobs=${JOBS:-$(nproc)}

cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" \
  -DSHOAL_SANITIZE="$sanitize" >/dev/null
cmake --build "$build_dir" -j "$jobs"
