// The demo app: GemKit's public dev.gemkit API only. Its screens come later.
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
}
