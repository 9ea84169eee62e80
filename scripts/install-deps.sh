#!/usr/bin/env bash
# Installs every Debian package Shoal needs to build, run and test.
# Idempotent and quick when everything is present: apt-get runs only for what is missing.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  clang-14 libfuzzer-14-dev libclang-rt-14-dev
  # libraries
  libboost-dev libsodium-dev libmsgpack-cxx-dev libleveldb-dev libsnappy-dev
  libspdlog-dev libfmt-dev libcli11-dev
  nlohmann-json3-dev libtomlplusplus-dev catch2
  libarchive-dev libssl-dev
  # real peers the tests and benchmarks run beside Shoal
  serf etcd-server
  # a real Prometheus (with promtool) scrapes a cluster's /metrics in the reporting tests
  prometheus
  # a real browser loads the /ui dashboard in the reporting tests (DevTools protocol, headless)
  chromium fonts-dejavu-core
  # bench/router: a keep-alive reverse proxy to compare the router with, the backend it
  # proxies to, and the load generator (each run starts its own nginx, never the system one)
  nginx wrk
  # protocol specification (read, never linked)
  golang-github-hashicorp-memberlist-dev golang-github-hashicorp-serf-dev
  # test harness tools
  iproute2 procps curl openssl python3 python3-msgpack
  # what builds of detected apps run (docs/apps.md, "Detected apps"): a Python virtualenv,
  # the Go toolchain (Node.js below)
  python3-venv golang-go
)
# npm for Node.js apps, from Debian unless a Node.js install already brings its own.
if ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages (${missing[*]}); run as root or install them" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive

# Debian's server packages (nginx, etcd-server, prometheus) start their system service on install through
# invoke-rc.d; nothing here wants a daemon on port 80 or 2379. A policy-rc.d that answers 101
# ("action forbidden") keeps every service down; it is removed afterwards, and only if this
# script put it there (an administrator's own policy stays untouched).
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi

apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
