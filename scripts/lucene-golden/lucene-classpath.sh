# Sourced by the generate scripts: finds the Lucene 8 jars (Debian's liblucene8-java by default;
# set LUCENE_JAR_DIR to use another directory holding lucene-core-8*.jar and lucene-analyzers-common-8*.jar).
lucene_jar_dir=${LUCENE_JAR_DIR:-/usr/share/java}
lucene_core=$(ls "$lucene_jar_dir"/lucene-core-8*.jar 2>/dev/null | head -n 1 || true)
lucene_analyzers=$(ls "$lucene_jar_dir"/lucene-analyzers-common-8*.jar 2>/dev/null | head -n 1 || true)
if [[ -z "$lucene_core" || -z "$lucene_analyzers" ]]; then
  echo "Lucene 8 jars not found in $lucene_jar_dir (apt-get install liblucene8-java, or set LUCENE_JAR_DIR)" >&2
  exit 1
fi
LUCENE_CLASSPATH="$lucene_core:$lucene_analyzers"
