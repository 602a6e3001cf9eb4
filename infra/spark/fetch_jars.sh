#!/usr/bin/env bash
# Copies the Delta (and PostgreSQL JDBC) jars into var/jars with Maven.
# Runs once; later runs see the stamp and return at once.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dest="$root/var/jars"
stamp="$dest/.stamp"
want="$(cat "$root/infra/spark/pom.xml" "$0" | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
command -v mvn >/dev/null || { apt-get update -qq && apt-get install -y -qq maven >/dev/null; }
rm -rf "$dest" && mkdir -p "$dest"
mvn -q -f "$root/infra/spark/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$dest" -DincludeScope=runtime \
    -DexcludeGroupIds=org.scala-lang,org.antlr
echo "$want" > "$stamp"
echo "[spark] jars in $dest: $(ls "$dest" | grep -c '\.jar$')"
