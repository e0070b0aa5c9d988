// The Android build of GemKit: the library (AAR) and the demo app. Needs the Android SDK, the NDK,
// cargo-ndk and Rust with the Android targets (scripts/build-android.sh says how). On a machine
// without them, the Kotlin is compiled and tested by Maven instead (jvm/pom.xml).
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "gemkit-android"
include(":gemkit", ":demo")
