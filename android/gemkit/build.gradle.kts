// GemKit's Android library: the Rust engine for each ABI (cargo-ndk) and its Kotlin bindings, both
// generated at build time from the workspace two levels up, never committed, plus the hand-written
// Kotlin in src/main/kotlin.
import javax.inject.Inject
import org.gradle.process.ExecOperations

plugins {
    alias(libs.plugins.android.library)
}

val minApi = 26

android {
    namespace = "dev.gemkit"
    compileSdk = 36
    defaultConfig {
        // 26 (Android 8.0): ModelDownloader moves a verified file into place with java.nio.file's
        // atomic move, which Android has from 26. The NDK and Rust's Android targets need 21; JNA
        // sets no minimum. Phones older than that lack the memory for these models anyway.
        minSdk = minApi
        consumerProguardFiles("consumer-rules.pro")
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

/** Runs [command] with the output directory as its last argument, from the workspace root. */
abstract class RustBuild : DefaultTask() {
    @get:Input abstract val command: ListProperty<String>
    @get:Input abstract val environment: MapProperty<String, String>
    @get:InputFiles abstract val inputFiles: ConfigurableFileCollection
    @get:OutputDirectory abstract val outputDir: DirectoryProperty
    @get:Internal abstract val workspace: DirectoryProperty
    @get:Inject abstract val exec: ExecOperations

    init {
        outputs.upToDateWhen { false } // cargo's own incremental build decides what to rebuild
    }

    @TaskAction
    fun run() {
        outputDir.get().asFile.apply { deleteRecursively(); mkdirs() }
        exec.exec {
            workingDir = workspace.get().asFile
            environment(this@RustBuild.environment.get())
            commandLine(command.get() + outputDir.get().asFile.path)
        }
    }
}

val workspaceDir = rootProject.layout.projectDirectory.dir("..")

val rustJniLibs by tasks.registering(RustBuild::class) {
    description = "Builds libgemkit_ffi.so for arm64-v8a, armeabi-v7a and x86_64 with cargo-ndk"
    workspace.set(workspaceDir)
    command.set(listOf("bash", "scripts/build-android.sh"))
    environment.put("GEMKIT_ANDROID_API", minApi.toString())
    outputDir.set(layout.buildDirectory.dir("generated/rustJniLibs"))
}

val uniffiKotlin by tasks.registering(RustBuild::class) {
    description = "Generates the dev.gemkit Kotlin bindings from the built library"
    workspace.set(workspaceDir)
    inputFiles.from(rustJniLibs.flatMap { it.outputDir })
    val library = rustJniLibs.flatMap { it.outputDir.file("arm64-v8a/libgemkit_ffi.so") }
    command.set(library.map {
        listOf("cargo", "run", "--quiet", "--release", "-p", "uniffi-bindgen", "--",
            "generate", "--no-format", "--language", "kotlin", it.asFile.path, "--out-dir")
    })
    outputDir.set(layout.buildDirectory.dir("generated/uniffi"))
}

androidComponents {
    onVariants { variant ->
        variant.sources.jniLibs?.addGeneratedSourceDirectory(rustJniLibs, RustBuild::outputDir)
        variant.sources.kotlin?.addGeneratedSourceDirectory(uniffiKotlin, RustBuild::outputDir)
    }
}

dependencies {
    // The AAR carries libjnidispatch.so for each ABI; the plain jar is for the JVM unit tests.
    implementation(libs.jna) { artifact { type = "aar" } }
    api(libs.kotlinx.coroutines.android) // Flow and StateFlow are in the API
    testImplementation(libs.jna)
    testImplementation(libs.junit)
    testImplementation(libs.kotlin.test.junit)
    testImplementation(libs.robolectric)
}

// The unit tests need the host-built library and the fault server: scripts/test-kotlin.sh runs
// them with Maven and sets both up; from Gradle, run it first and export what it prints.
tasks.withType<Test>().configureEach {
    systemProperty("jna.library.path", workspaceDir.dir("target/release").asFile.path)
}
