#!/usr/bin/env bash
# Proof for the cpprestsdk entries of tsan.supp (not run by CI): builds
# Debian's own cpprestsdk source (the version installed) with
# -fsanitize=thread and runs the TSan suite against it with only the
# libstdc++ (exception_ptr) suppression. With cpprestsdk instrumented, TSan
# sees its synchronisation: a report that remains is a real race, and the
# ones the cpprestsdk suppressions name do not occur.
#
# Usage: test/sanitizers/cpprest-tsan.sh [build-tsan]   (takes ~20 min on 2 cores)
# Needs network access to deb.debian.org; changes no system configuration
# (a private apt source list and cache under $work).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build-tsan}" && pwd)
work=${SRX_CPPREST_TSAN_DIR:-/tmp/srx-cpprest-tsan}
version=$(dpkg-query -W -f='${Version}' libcpprest-dev)
mkdir -p "$work/lists/partial"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main" \
  >"$work/sources.list"
apt_opts=(-o "Dir::Etc::sourcelist=$work/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$work/lists")
cd "$work"
apt-get "${apt_opts[@]}" update -qq
apt-get "${apt_opts[@]}" source --download-only "cpprest=$version" >/dev/null
src=$(find "$work" -maxdepth 1 -type d -name 'cpprestsdk-*' | head -n1)
if [ -z "$src" ]; then
  tar xzf cpprest_*.orig.tar.gz
  src=$(find "$work" -maxdepth 1 -type d -name 'cpprestsdk-*' | head -n1)
  tar xJf cpprest_*.debian.tar.xz -C "$src"
  while read -r p; do patch -d "$src" -p1 -N <"$src/debian/patches/$p" >/dev/null; done \
    <"$src/debian/patches/series"
fi
cmake -S "$src" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="-fsanitize=thread -O1 -g1 -Wno-tsan" -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread" \
  -DBUILD_TESTS=OFF -DBUILD_SAMPLES=OFF -DCPPREST_EXCLUDE_BROTLI=ON -DWERROR=OFF >/dev/null
cmake --build "$work/build" -j "$(nproc)"
supp=$(mktemp)
grep '^race:std::__exception_ptr' "$root/test/sanitizers/tsan.supp" >"$supp"
cd "$build"
LD_LIBRARY_PATH="$work/build/Release/Binaries" TSAN_OPTIONS="suppressions=$supp" \
  ctest -L tsan -j "$(nproc)" --output-on-failure
