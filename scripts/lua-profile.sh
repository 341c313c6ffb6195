#!/usr/bin/env bash
# Profiles the queue's scripts line by line: where a contact's lifecycle
# spends Redis's time, by line and by function of the scripts' library.
#
#   scripts/lua-profile.sh [bench pattern] [benchtime]
#   (default: 'Scripts/agents=1000/waiting=0/shape=14x6' 1000x)
#
# Builds, once, Debian's redis-server (the version apt-get source gives)
# with scripts/lua-profile.patch: with LX_PROF set, each FCALL runs with a
# Lua count hook that adds the instructions and the cycles to the line
# that ran them. Then runs BenchmarkScripts with LIANXIN_BENCH_LUAPROF on
# that build. Reports: $LUAPROF_OUT (default /tmp/lianxin-luaprof/out),
# one <cell>.txt and the library it names (<cell>.lua) per cell.
# Needs root for apt-get (deb-src and the build's packages); a developer's
# tool, not part of the suite. callgrind (BenchmarkScripts with
# LIANXIN_BENCH_CALLGRIND=1) counts the same lifecycles' instructions
# exactly, by Redis's C functions; this tells which lines of ours cause them.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
build=${LUAPROF_BUILD:-/tmp/lianxin-luaprof}
out=${LUAPROF_OUT:-$build/out}
pattern=${1:-Scripts/agents=1000/waiting=0/shape=14x6}
benchtime=${2:-1000x}

if [ ! -x "$build/bin/redis-server" ]; then
  if ! grep -rqs '^Types: deb-src\|^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    # Added for apt-get source only, and taken away again however the
    # build ends (apt's lists for it go with the next apt-get update).
    srcs=/etc/apt/sources.list.d/lianxin-deb-src.sources
    trap 'rm -f "$srcs"' EXIT
    . /etc/os-release
    cat > "$srcs" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $VERSION_CODENAME
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  fi
  apt-get update -qq
  apt-get install -y -qq dpkg-dev build-essential pkg-config libjemalloc-dev libsystemd-dev libssl-dev \
    liblzf-dev libhiredis-dev liblua5.1-dev lua-bitop-dev lua-cjson-dev >/dev/null
  rm -rf "$build/src" && mkdir -p "$build/src" "$build/bin"
  (cd "$build/src" && apt-get source -qq redis 2>/dev/null)
  dir=$(find "$build/src" -maxdepth 1 -type d -name 'redis-*' | head -1)
  patch -d "$dir" -p1 < "$repo/scripts/lua-profile.patch"
  make -C "$dir" -j"$(nproc)" USE_SYSTEM_JEMALLOC=yes USE_JEMALLOC=yes >"$build/make.log" 2>&1 ||
    { tail -20 "$build/make.log"; exit 1; }
  cp "$dir/src/redis-server" "$build/bin/redis-server"
fi

mkdir -p "$out"
PATH="$build/bin:$PATH" LIANXIN_BENCH_LUAPROF="$out" \
  go test ./queue -run '^$' -bench "$pattern" -benchtime "$benchtime" -timeout 60m
echo "reports: $out/*.txt"
