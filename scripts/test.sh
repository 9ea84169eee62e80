#!/usr/bin/env bash
# Installs what is missing, builds Shoal with AddressSanitizer + UBSan, and runs every test.
# The tests run inside a network namespace of their own (when we may create one), so
# nothing they start can reach beyond this machine's loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

export BUILD_DIR=${BUILD_DIR:-build-test}
export SHOAL_SANITIZE=${SHOAL_SANITIZE:-ON}
started=$SECONDS
bash scripts/install-deps.sh
installed=$SECONDS
bash scripts/build.sh  # its own install-deps call finds nothing missing
built=$SECONDS

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest_cmd=(ctest --test-dir "$BUILD_DIR" --output-on-failure -j "${JOBS:-2}" --timeout 900)

rc=0
if [[ $(id -u) -eq 0 ]] && command -v unshare >/dev/null && unshare -n true 2>/dev/null; then
  unshare -n -- bash -c 'ip link set lo up && exec "$@"' bash "${ctest_cmd[@]}" || rc=$?
else
  echo "test: cannot create a network namespace (not root?); running on the host's loopback" >&2
  "${ctest_cmd[@]}" || rc=$?
fi
# Where a slow run spent its time, last so that it is seen.
echo "test: install $((installed - started)) s, build $((built - installed)) s," \
  "tests $((SECONDS - built)) s (exit $rc)"
exit "$rc"
