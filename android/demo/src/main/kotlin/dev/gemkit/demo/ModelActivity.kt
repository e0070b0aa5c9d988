package dev.gemkit.demo

import android.app.Activity
import android.content.Context
import android.content.Intent
import android.os.Bundle
import android.widget.Button
import android.widget.ProgressBar
import android.widget.TextView
import dev.gemkit.GemmaModel
import dev.gemkit.ModelDownloader
import dev.gemkit.ModelSpec
import dev.gemkit.ModelStatus
import java.io.File
import kotlinx.coroutines.Job
import kotlinx.coroutines.MainScope
import kotlinx.coroutines.cancel
import kotlinx.coroutines.flow.collect
import kotlinx.coroutines.launch

/**
 * The model screen: download the model with its progress, see it verified, delete it, and see
 * what it needs in memory against what the device has to spare. It shows the downloader's
 * status, which every download of the spec moves along (this screen's, or one still running
 * from before it was closed and opened again).
 */
class ModelActivity : Activity() {
    private val scope = MainScope()
    private lateinit var spec: ModelSpec
    private lateinit var downloader: ModelDownloader
    private var download: Job? = null
    private var state: ModelStatus = ModelStatus.NotDownloaded

    private lateinit var status: TextView
    private lateinit var progress: ProgressBar
    private lateinit var memory: TextView
    private lateinit var downloadButton: Button
    private lateinit var deleteButton: Button

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        spec = specOf(intent) ?: SharedModel.DEFAULT_SPEC
        downloader = SharedModel.downloader(this)
        status = label(this)
        progress = ProgressBar(this, null, android.R.attr.progressBarStyleHorizontal).apply { max = PROGRESS_STEPS }
        memory = label(this)
        downloadButton = button(this, "Download") { toggleDownload() }
        deleteButton = button(this, "Delete") { delete() }
        setContentView(column(this, label(this, spec.fileName), status, progress, row(this, downloadButton, deleteButton), memory))
        scope.launch { downloader.status(spec).collect(::show) }
    }

    override fun onDestroy() {
        scope.cancel() // a download in progress stops and keeps its part for the next one
        super.onDestroy()
    }

    private fun show(state: ModelStatus) {
        status.text = when (state) {
            ModelStatus.NotDownloaded -> "Not downloaded"
            is ModelStatus.Downloading -> "Downloading: ${megabytes(state.bytes)}" + (state.totalBytes?.let { " of ${megabytes(it)}" } ?: "")
            ModelStatus.Verifying -> "Verifying its SHA-256…"
            is ModelStatus.Ready -> "Verified, ready: ${state.file.path}"
            is ModelStatus.Failed -> "Failed: ${state.reason.message}"
        }
        progress.progress = when (state) {
            is ModelStatus.Downloading -> ((state.progress ?: 0f) * PROGRESS_STEPS).toInt()
            ModelStatus.Verifying, is ModelStatus.Ready -> PROGRESS_STEPS
            else -> 0
        }
        this.state = state
        showButtons()
        if (state is ModelStatus.Ready) checkMemory(state.file) else memory.text = ""
    }

    /** Download, or Stop for this screen's own download; Delete unless a download is under way. */
    private fun showButtons() {
        val mine = download?.isActive == true
        val busy = state is ModelStatus.Downloading || state is ModelStatus.Verifying
        downloadButton.text = if (mine) "Stop" else "Download"
        downloadButton.isEnabled = mine || (!busy && state !is ModelStatus.Ready)
        deleteButton.isEnabled = !busy
    }

    /** Collecting the download runs it; cancelling the collection stops it (the part is kept). */
    private fun toggleDownload() {
        download?.takeIf { it.isActive }?.let {
            it.cancel()
            return
        }
        download = scope.launch {
            try {
                downloader.download(spec).collect()
            } finally {
                download = null
                showButtons()
            }
        }
        showButtons()
    }

    private fun delete() = scope.launch {
        if (SharedModel.current != null) SharedModel.unload() // it maps the file
        downloader.delete(spec)
    }

    private fun checkMemory(file: File) = scope.launch {
        val check = GemmaModel.checkMemory(this@ModelActivity, file, SharedModel.LOAD_OPTIONS)
        val spare = check.availableBytes?.let { "the device has ${megabytes(it)} to spare" } ?: "the device did not say what it has"
        memory.text = "Needs ${megabytes(check.neededBytes)} with one chat of ${check.estimate.contextLength} tokens " +
            "(weights ${megabytes(check.estimate.weightsBytes.toLong())}, mapped from the file); $spare: " +
            if (check.fits) "it fits." else "it does not fit, so it will load with a shorter context."
    }

    companion object {
        private const val PROGRESS_STEPS = 1000

        /** This screen for [spec] instead of the default model. */
        fun intent(context: Context, spec: ModelSpec): Intent = Intent(context, ModelActivity::class.java)
            .putExtra("url", spec.url)
            .putExtra("sha256", spec.sha256)
            .putExtra("sizeBytes", spec.sizeBytes)
            .putExtra("fileName", spec.fileName)

        private fun specOf(intent: Intent): ModelSpec? {
            val url = intent.getStringExtra("url") ?: return null
            val size = intent.getLongExtra("sizeBytes", -1).takeIf { it >= 0 }
            return ModelSpec(url, intent.getStringExtra("sha256"), size, intent.getStringExtra("fileName") ?: return null)
        }
    }
}
