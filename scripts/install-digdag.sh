#!/usr/bin/env bash
# Install Digdag 0.10.5.1 (io.digdag:digdag-cli with its runtime-scope dependencies, fetched by Maven)
# under .tools/, and write the launcher .tools/bin/digdag. Idempotent: a no-op when already installed.
#
#   scripts/install-digdag.sh
#   DIGDAG_LIB=/path/to/jars scripts/install-digdag.sh   # use an existing Digdag 0.10.5.1 jar folder instead
#   DIGDAG_M2=/path/to/m2 scripts/install-digdag.sh      # an extra Maven repository folder holding io.digdag
#
# Maven resolves from Maven Central. When ../shared/digdag/m2 exists beside the repository (or DIGDAG_M2
# names a folder), it is added as a file repository: it holds the io.digdag artifacts for registries that
# lack them. Two pins make Digdag work on Java 17:
# - com.google.inject:guice 5.1.0 instead of Digdag's 5.0.1, whose AOP proxies fail on Java 17
#   (IllegalAccessError ... EnhancerByGuice, google/guice#1536) so `digdag server` would not start;
# - org.slf4j:slf4j-simple excluded: it arrives with fluency-meter-registory as a second SLF4J binding and
#   breaks every command when it precedes logback on the class path.
#
# The launcher runs `java --add-opens java.base/java.lang=ALL-UNNAMED -cp 'LIB/*' io.digdag.cli.Main`
# (Java 17 needs the flag for Digdag's database layer), with the JVM in UTC unless DIGDAG_TZ says otherwise.
# Fails loudly (exit 1) when java or mvn is missing or Maven cannot resolve the artifacts.
set -euo pipefail
VERSION=0.10.5.1
PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.6.1
REPO=$(cd "$(dirname "$0")/.." && pwd)
TOOLS=${GEN_TOOLS_DIR:-$REPO/.tools}
LIB=${DIGDAG_LIB:-$TOOLS/digdag-$VERSION/lib}
LAUNCHER=$TOOLS/bin/digdag

die() { echo "install-digdag: $*" >&2; exit 1; }
command -v java >/dev/null 2>&1 || die "java not found (Digdag needs Java 8+; Java 17 is tested)"

write_launcher() {
  mkdir -p "$(dirname "$LAUNCHER")"
  cat >"$LAUNCHER.tmp" <<LAUNCH
#!/usr/bin/env bash
# Digdag $VERSION launcher written by scripts/install-digdag.sh.
set -euo pipefail
exec java --add-opens java.base/java.lang=ALL-UNNAMED -Duser.timezone="\${DIGDAG_TZ:-UTC}" \${DIGDAG_JAVA_OPTS:-} \\
  -cp '$LIB/*' io.digdag.cli.Main "\$@"
LAUNCH
  chmod +x "$LAUNCHER.tmp"
  mv -f "$LAUNCHER.tmp" "$LAUNCHER"
}

if [[ -n ${DIGDAG_LIB:-} ]]; then
  ls "$LIB"/*.jar >/dev/null 2>&1 || die "DIGDAG_LIB=$LIB holds no jars"
  write_launcher
  exit 0
fi
# The recipe's version: an install made by an older recipe (Guice 5.0.1, slf4j-simple) is redone.
RECIPE="$VERSION guice-5.1.0 without-slf4j-simple"
if [[ $(cat "$LIB/.complete" 2>/dev/null) == "$RECIPE" ]]; then
  grep -qF "$LIB/*" "$LAUNCHER" 2>/dev/null || write_launcher
  exit 0
fi
command -v mvn >/dev/null 2>&1 || die "mvn (Apache Maven) not found; it fetches Digdag's jars"

M2=${DIGDAG_M2:-$REPO/../shared/digdag/m2}
repositories=""
if [[ -d $M2/io/digdag ]]; then
  M2=$(cd "$M2" && pwd)
  repositories="<repositories><repository><id>digdag-m2</id><url>file://$M2</url></repository></repositories>"
  echo "install-digdag: using $M2 as an extra Maven repository" >&2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>gen.tools</groupId><artifactId>digdag-fetch</artifactId><version>1</version><packaging>pom</packaging>
  $repositories
  <dependencyManagement><dependencies>
    <dependency><groupId>com.google.inject</groupId><artifactId>guice</artifactId><version>5.1.0</version></dependency>
  </dependencies></dependencyManagement>
  <dependencies>
    <dependency><groupId>io.digdag</groupId><artifactId>digdag-cli</artifactId><version>$VERSION</version>
      <exclusions><exclusion><groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId></exclusion></exclusions>
    </dependency>
  </dependencies>
</project>
POM
echo "install-digdag: fetching io.digdag:digdag-cli:$VERSION and its runtime dependencies" >&2
# includeScope=runtime = compile + runtime; compile alone misses org.antlr:stringtemplate.
if ! mvn -B -q -U -f "$work/pom.xml" "$PLUGIN:copy-dependencies" -DincludeScope=runtime \
     -DoutputDirectory="$work/lib" >"$work/mvn.log" 2>&1; then
  grep -E "ERROR" "$work/mvn.log" | head -5 >&2
  die "Maven could not resolve io.digdag:digdag-cli:$VERSION (see above); install Digdag yourself and rerun with DIGDAG_LIB=<folder of its jars>"
fi
ls "$work/lib"/digdag-cli-*.jar >/dev/null 2>&1 || die "digdag-cli jar missing after Maven ran"
mkdir -p "$(dirname "$LIB")"
rm -rf "$LIB"
mv "$work/lib" "$LIB"
echo "$RECIPE" >"$LIB/.complete"
write_launcher
"$LAUNCHER" --version >/dev/null 2>&1 || die "the installed Digdag does not start: run $LAUNCHER --version"
echo "install-digdag: Digdag $VERSION ready at $LAUNCHER" >&2
