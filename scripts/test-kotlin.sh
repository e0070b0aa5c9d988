#!/usr/bin/env bash
# Runs the Kotlin tests with Maven (android/jvm/pom.xml): the generated bindings' JUnit tests
# (bindings/tests/kotlin), and the Android library's and the demo app's tests under Robolectric
# (android/gemkit/src/test/kotlin, android/demo/src/test/kotlin), against the host-built library,
# with the Rust CLI's results for the same requests and the fault server's URL
# (GEMKIT_FAULT_SERVER, serving the model as "model") in the environment. Surefire prints the
# counts; any failure, or any skipped test, fails the run.
# `scripts/test-kotlin.sh bench` instead prints what a Kotlin listener costs in decode speed.
# Run scripts/install-binding-deps.sh and scripts/gen-bindings.sh first.
set -euo pipefail
source "$(dirname "$0")/bindings-env.sh"

export GEMKIT_MODEL="${GEMKIT_MODEL:-$("$repo/scripts/fetch-model.sh")}"
reference_env "$GEMKIT_MODEL"
# Maven and the forked test JVMs run on Java 21+ (Robolectric's SDK 36); the code targets 17.
export JAVA_HOME; JAVA_HOME=$(jdk_home 21)
mvn=(mvn -B -ntp -f "$repo/android/jvm/pom.xml" -Dgemkit.target="$target")

if [ "${1:-}" = bench ]; then
  "${mvn[@]}" -q -pl bindings test-compile exec:exec@listener-bench
else
  start_fault_server "model=$GEMKIT_MODEL"
  log="$target/kotlin-test.log"
  "${mvn[@]}" test 2>&1 | tee "$log"
  # As test-swift.sh: everything can run here, so a skipped test (an assumption that failed) fails the run.
  if grep -Eq "Tests run: [0-9]+, Failures: [0-9]+, Errors: [0-9]+, Skipped: [1-9]" "$log"; then
    echo "test-kotlin: tests were skipped (Skipped above), though this script sets up all they need" >&2
    exit 1
  fi
fi
