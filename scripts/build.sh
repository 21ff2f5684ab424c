#!/usr/bin/env bash
# Build chatserver for every release target: static (CGO_ENABLED=0),
# -trimpath, stripped (-s -w). `make cross` runs it into a temporary
# directory on every test run; scripts/release.sh runs it into dist/.
#
#   scripts/build.sh OUTDIR
#
# writes OUTDIR/<os>_<arch>/chatserver (chatserver.exe on Windows), the
# ARM ones as linux_armv6 and linux_armv7, prints each binary's size, and
# fails if the armv6 one (every Raspberry Pi, the Zero and Pi 1 included)
# is ARMV6_LIMIT bytes or more.
#
# Environment:
#   GO           the go command (default go)
#   TARGETS      space-separated os/arch or linux/arm/LEVEL (default: all below)
#   JOBS         builds run at once (default: the number of CPUs)
#   VERSION, COMMIT, DATE
#                stamped into chatserver/cmd with -ldflags -X when set
#   ARMV6_LIMIT  the armv6 binary's size limit in bytes (default 12000000, 12 MB)
set -euo pipefail

GO=${GO:-go}
TARGETS=${TARGETS:-"linux/amd64 linux/arm64 linux/arm/6 linux/arm/7 darwin/amd64 darwin/arm64 windows/amd64"}
JOBS=${JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}
ARMV6_LIMIT=${ARMV6_LIMIT:-12000000}

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
out=$1
cd "$(dirname "$0")/.."
mkdir -p "$out"
out=$(cd "$out" && pwd)

ldflags="-s -w"
[ -n "${VERSION:-}" ] && ldflags+=" -X chatserver/cmd.Version=$VERSION"
[ -n "${COMMIT:-}" ] && ldflags+=" -X chatserver/cmd.Commit=$COMMIT"
[ -n "${DATE:-}" ] && ldflags+=" -X chatserver/cmd.Date=$DATE"

# name prints the directory name of target $1: linux_amd64, linux_armv6.
name() {
	local os arch level
	IFS=/ read -r os arch level <<<"$1"
	echo "${os}_${arch}${level:+v$level}"
}

# build builds target $1 into $out/$(name $1); its output goes to
# $out/.log/NAME and its exit status to $out/.log/NAME.rc.
build() {
	local os arch level dir log exe=chatserver rc=0
	IFS=/ read -r os arch level <<<"$1"
	dir="$out/$(name "$1")"
	log="$out/.log/$(name "$1")"
	[ "$os" = windows ] && exe=chatserver.exe
	mkdir -p "$dir"
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch GOARM=$level \
		"$GO" build -trimpath -ldflags "$ldflags" -o "$dir/$exe" . >"$log" 2>&1 || rc=$?
	echo "$rc" >"$log.rc"
}

for t in $TARGETS; do
	case $t in
	linux/arm/[5-7]) ;;
	linux/arm | */*/*) echo "build.sh: bad target $t (ARM wants its level: linux/arm/6 or linux/arm/7)" >&2; exit 2 ;;
	?*/?*) ;;
	*) echo "build.sh: bad target $t (want os/arch, or linux/arm/LEVEL)" >&2; exit 2 ;;
	esac
done

rm -rf "$out/.log"
mkdir -p "$out/.log"
start=$(date +%s)
for t in $TARGETS; do
	# At most $JOBS at once: wait for one to finish before starting more.
	while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
	build "$t" &
done
wait

failed=0
for t in $TARGETS; do
	if [ "$(cat "$out/.log/$(name "$t").rc")" != 0 ]; then
		echo "build.sh: building $t failed:" >&2
		cat "$out/.log/$(name "$t")" >&2
		failed=1
	fi
done
rm -rf "$out/.log"
[ "$failed" = 0 ] || exit 1

for t in $TARGETS; do
	f=$(ls "$out/$(name "$t")"/chatserver*)
	size=$(wc -c <"$f")
	printf '%-14s %9d bytes (%s MB)  %s\n' "$t" "$size" "$(awk "BEGIN { printf \"%.1f\", $size / 1e6 }")" "$f"
	if [ "$t" = linux/arm/6 ] && [ "$size" -ge "$ARMV6_LIMIT" ]; then
		echo "build.sh: the linux/arm GOARM=6 binary is $size bytes, at or over the limit of $ARMV6_LIMIT: weigh the new dependencies" >&2
		exit 1
	fi
done
n=$(wc -w <<<"$TARGETS")
echo "built $n target$([ "$n" = 1 ] || echo s) in $(($(date +%s) - start))s"
