#!/usr/bin/env bash
# Compiles the generated Kotlin with the tests in bindings/tests/kotlin and runs them on the JVM
# against the host-built library (JNA finds it through -Djna.library.path), with the Rust CLI's
# results for the same requests in the environment. Run scripts/install-binding-deps.sh and
# scripts/gen-bindings.sh first.
set -euo pipefail
source "$(dirname "$0")/bindings-env.sh"

export GEMKIT_MODEL="${GEMKIT_MODEL:-$("$repo/scripts/fetch-model.sh")}"
reference_env "$GEMKIT_MODEL"
lib="$kotlin_home/lib"
classpath="$jna_jar:$lib/kotlin-test.jar"
jar="$bindings_out/kotlin-tests.jar"

"$kotlin_home/bin/kotlinc-jvm" -classpath "$classpath" -d "$jar" \
  "$bindings_out/kotlin" "$repo/bindings/tests/kotlin"
java -Djna.library.path="$target/release" -classpath "$jar:$classpath:$lib/kotlin-stdlib.jar" \
  dev.gemkit.tests.MainKt
