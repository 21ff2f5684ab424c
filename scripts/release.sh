#!/usr/bin/env bash
# Build a release: every target (scripts/build.sh) stamped with the
# version, commit and commit date, one archive per target (tar.gz; zip
# for Windows) holding the binary, README.md and contrib/, and a SHA-256
# checksum file, all in $DIST. The names are those of .goreleaser.yaml:
#
#   chatserver_1.2.0_linux_armv6.tar.gz ... chatserver_1.2.0_windows_amd64.zip
#   chatserver_1.2.0_checksums.txt      (check with: sha256sum -c chatserver_1.2.0_checksums.txt)
#
# Environment:
#   VERSION  the release, such as 1.2.0 (default: git describe, without a leading v)
#   COMMIT   default: git rev-parse HEAD
#   DATE     default: the commit's date, UTC, RFC 3339
#   DIST     where to write (default dist); emptied first
#   GO, TARGETS, JOBS as for scripts/build.sh
#
# Archives are reproducible: files sorted, owned by 0:0, dated to the
# commit, gzip without a name or time stamp.
set -euo pipefail

cd "$(dirname "$0")/.."
DIST=${DIST:-dist}

in_git() { git rev-parse --is-inside-work-tree >/dev/null 2>&1; }

if [ -z "${VERSION:-}" ]; then
	in_git || { echo "release.sh: not a git checkout: set VERSION" >&2; exit 2; }
	VERSION=$(git describe --tags --always --dirty)
fi
VERSION=${VERSION#v}
if in_git; then
	COMMIT=${COMMIT:-$(git rev-parse HEAD)}
	DATE=${DATE:-$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ)}
	epoch=$(git log -1 --format=%ct)
else
	epoch=$(date +%s)
fi
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$epoch}
case $VERSION in
*[!A-Za-z0-9._+-]*) echo "release.sh: VERSION $VERSION has characters a file name should not" >&2; exit 2 ;;
esac
if [[ " ${TARGETS:-windows/} " == *" windows/"* ]] && ! command -v zip >/dev/null; then
	echo "release.sh: zip is needed for the Windows archive (apt-get install zip)" >&2
	exit 1
fi

rm -rf "$DIST"
mkdir -p "$DIST"
echo "chatserver $VERSION (commit ${COMMIT:-unknown}, ${DATE:-no date})"
VERSION=$VERSION COMMIT=${COMMIT:-} DATE=${DATE:-} scripts/build.sh "$DIST/build"

dist=$(cd "$DIST" && pwd)
stage="$dist/stage"
for dir in "$dist"/build/*/; do
	target=$(basename "$dir")
	archive="chatserver_${VERSION}_${target}"
	rm -rf "$stage" && mkdir -p "$stage/contrib"
	cp "$dir"/chatserver* README.md "$stage/"
	cp -R contrib/. "$stage/contrib/"
	find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
	if [[ $target == windows_* ]]; then
		(cd "$stage" && find . -type f | LC_ALL=C sort | TZ=UTC zip -X -q "$dist/$archive.zip" -@)
	else
		(cd "$stage" && tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" -cf - -- *) |
			gzip -n -9 >"$dist/$archive.tar.gz"
	fi
done
rm -rf "$stage"

cd "$dist"
shopt -s nullglob
archives=(chatserver_"${VERSION}"_*.tar.gz chatserver_"${VERSION}"_*.zip)
sums="chatserver_${VERSION}_checksums.txt"
sha256sum -- "${archives[@]}" >"$sums"
echo "in $DIST:"
ls -l -- "${archives[@]}" "$sums"
