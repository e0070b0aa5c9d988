#!/usr/bin/env bash
# Runs the Kotlin tests with Maven (android/jvm/pom.xml): the generated bindings' JUnit tests
# (bindings/tests/kotlin) and the Android library's tests under Robolectric
# (android/gemkit/src/test/kotlin), against the host-built library, with the Rust CLI's results
# for the same requests and the fault server's URL (GEMKIT_FAULT_SERVER, serving the model as
# "model") in the environment. Surefire prints the counts and fails the run on any failure.
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
  "${mvn[@]}" test
fi
