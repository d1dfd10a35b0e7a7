#!/usr/bin/env bash
# Writes the analysis goldens under test/fixtures/analysis from Lucene 8's real analyzers:
#   golden.jsonl          StandardTokenizer and EnglishAnalyzer terms for every line of inputs.txt
#   porter-golden.tsv     word -> Porter stem for a sample of SciFact terms plus porter-extra.txt
#   scifact-golden.jsonl  EnglishAnalyzer terms for every 17th SciFact document (title + " " + text)
# Needs Java (javac) and liblucene8-java; the tests only read the committed outputs.
# SciFact is read from ../shared/data/beir/scifact/corpus.jsonl (override with SCIFACT_CORPUS).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
source "$here/lucene-classpath.sh"
fixtures="$repo/test/fixtures/analysis"
corpus=${SCIFACT_CORPUS:-$repo/../shared/data/beir/scifact/corpus.jsonl}
porter_sample=${PORTER_SAMPLE:-4000}
corpus_step=${CORPUS_STEP:-17}
[[ -f "$corpus" ]] || { echo "SciFact corpus not found: $corpus" >&2; exit 1; }

classes=$(mktemp -d)
trap 'rm -rf "$classes"' EXIT
javac -d "$classes" -cp "$LUCENE_CLASSPATH" "$here/GoldenAnalyzer.java"
run() { java -cp "$LUCENE_CLASSPATH:$classes" GoldenAnalyzer "$@"; }

run cases "$fixtures/inputs.txt" "$fixtures/golden.jsonl"
run porter "$corpus" "$fixtures/porter-extra.txt" "$fixtures/porter-golden.tsv" "$porter_sample"
run corpus "$corpus" "$fixtures/scifact-golden.jsonl" "$corpus_step"
wc -c "$fixtures/golden.jsonl" "$fixtures/porter-golden.tsv" "$fixtures/scifact-golden.jsonl"
