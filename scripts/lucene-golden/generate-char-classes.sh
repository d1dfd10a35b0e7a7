#!/usr/bin/env bash
# Regenerates src/analysis/standard-tokenizer-classes.ts, the character class table of
# StandardTokenizer, from the behaviour of Lucene 8's StandardTokenizer on every code point
# (CharClassProbe.java), solved into classes by build-char-classes.ts. Needs Java, liblucene8-java
# and a compiled tree (npx tsc -p tsconfig.json). Takes about a minute.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
source "$here/lucene-classpath.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
javac -d "$work" -cp "$LUCENE_CLASSPATH" "$here/CharClassProbe.java"
java -cp "$LUCENE_CLASSPATH:$work" CharClassProbe > "$work/probes.json"
node "$repo/dist/scripts/lucene-golden/build-char-classes.js" "$work/probes.json" "$repo/src/analysis/standard-tokenizer-classes.ts"
