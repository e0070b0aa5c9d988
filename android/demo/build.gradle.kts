// The demo app: GemKit's public dev.gemkit API only. Its screens and the keyboard are built in
// Kotlin code (no layouts); the one resource is the keyboard's res/xml/method.xml. Its tests run
// under Robolectric through Maven (../jvm/demo/pom.xml), which also compiles these sources.
plugins {
    alias(libs.plugins.android.application)
}

android {
    namespace = "dev.gemkit.demo"
    compileSdk = 36
    defaultConfig {
        applicationId = "dev.gemkit.demo"
        minSdk = 26 // as :gemkit
        targetSdk = 36
        versionCode = 1
        versionName = "0.1.0"
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

dependencies {
    implementation(project(":gemkit"))
    implementation(libs.kotlinx.coroutines.android) // Dispatchers.Main for the screens
}
