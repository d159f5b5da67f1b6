#!/usr/bin/env bash
# Builds SeaweedFS's `weed` binary from its Go module, pinned, into the cache outside git:
#   $METERLAKE_CACHE (default ~/.cache/meterlake)/seaweedfs/<version>/weed
# `go install module@version` refuses this module (its go.mod has replace directives), so the
# module is downloaded, copied somewhere writable and built there. A cold build took 276 s on
# two cores (module downloads included) and leaves ~4 GB of Go caches beside the binary.
# Prints the binary's path. Safe to run twice at once: the second waits for the first.
set -euo pipefail

MODULE=github.com/seaweedfs/seaweedfs
VERSION=v0.0.0-20261109003541-7506e5f91cd6   # SeaweedFS 4.53
CACHE="${METERLAKE_CACHE:-$HOME/.cache/meterlake}"
TARGET="$CACHE/seaweedfs/$VERSION"
WEED="$TARGET/weed"

say() { echo "build-seaweedfs: $*" >&2; }

if [[ -x "$WEED" ]]; then echo "$WEED"; exit 0; fi
command -v go >/dev/null || { say "go not found (SeaweedFS is built from its Go module)"; exit 1; }
mkdir -p "$TARGET"
exec 9>"$TARGET/.build.lock"
flock 9
if [[ -x "$WEED" ]]; then echo "$WEED"; exit 0; fi

export GOPATH="$CACHE/go" GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build" GOFLAGS=-mod=mod
export GOTOOLCHAIN=local CGO_ENABLED=0
say "downloading $MODULE@$VERSION"
module_dir="$(cd /tmp && go mod download -json "$MODULE@$VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
source_dir="$TARGET/src"
rm -rf "$source_dir"
cp -r "$module_dir" "$source_dir"
chmod -R u+w "$source_dir"
say "building weed (first time: about 5 minutes on two cores)"
started=$SECONDS
(cd "$source_dir" && go build -trimpath -ldflags "-s -w" -o "$TARGET/weed.partial" ./weed)
mv "$TARGET/weed.partial" "$WEED"
rm -rf "$source_dir"
say "built $WEED in $((SECONDS - started)) s"
echo "$WEED"
