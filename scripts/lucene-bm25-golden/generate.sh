#!/usr/bin/env bash
# Regenerates test/fixtures/bm25/lucene-norms.json from Lucene itself (Debian: apt-get install liblucene8-java).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
core="$(ls /usr/share/java/lucene-core-8*.jar | head -1)"
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
javac -cp "$core" -d "$build" "$here/Bm25Golden.java"
java -cp "$core:$build" Bm25Golden > "$root/test/fixtures/bm25/lucene-norms.json"
echo "wrote test/fixtures/bm25/lucene-norms.json"
