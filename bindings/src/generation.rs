//! Streaming across the seam: a request returns a [`GenerationHandle`] at once, and the
//! engine's own thread calls the app's [`TokenListener`] with each piece of text, then exactly
//! once with the reply or the error. Whatever a listener throws is caught here: from `on_text`
//! it cancels the request, from the last call it is logged.

use std::sync::Arc;

use crate::error::{CallbackError, GemKitError};
use crate::records::Reply;

/// Receives a streamed reply, on the engine's thread (never the caller's): hand work for the
/// UI to the main thread, and return quickly, since decoding waits for each call.
#[uniffi::export(with_foreign)]
pub trait TokenListener: Send + Sync {
    /// A piece of the reply: whole characters, never part of a stop string. Throwing anything
    /// cancels the request, which then completes as cancelled.
    fn on_text(&self, text: String) -> Result<(), CallbackError>;
    /// The reply, also when cancelled (its `finish_reason` says so). Last call.
    fn on_complete(&self, reply: Reply) -> Result<(), CallbackError>;
    /// The request failed; no reply follows. Last call.
    fn on_error(&self, error: GemKitError) -> Result<(), CallbackError>;
}

/// The core's listener, calling the app's.
pub(crate) struct Forward(pub Arc<dyn TokenListener>);

impl gemkit::Listener for Forward {
    fn on_text(&mut self, text: &str) -> bool {
        self.0
            .on_text(text.to_owned())
            .map_err(|e| log::warn!("the listener threw, cancelling its request: {e}"))
            .is_ok()
    }

    fn on_finish(self: Box<Self>, result: gemkit::Result<gemkit::Reply>) {
        let outcome = match result {
            Ok(reply) => self.0.on_complete(reply.into()),
            Err(e) => self.0.on_error(e.into()),
        };
        if let Err(e) = outcome {
            log::warn!("the listener threw from its last call: {e}");
        }
    }
}

/// A streamed request in flight. Dropping it (`close()` in Kotlin, the last reference in
/// Swift) cancels the request, so keep it until the listener's last call.
#[derive(uniffi::Object)]
pub struct GenerationHandle(pub(crate) gemkit::GenerationHandle);

#[uniffi::export]
impl GenerationHandle {
    /// Stops the request from any thread, within one decode step or prefill chunk; the
    /// listener then gets the reply so far, as cancelled.
    pub fn cancel(&self) {
        self.0.cancel();
    }

    /// Whether the listener has had its last call.
    pub fn is_finished(&self) -> bool {
        self.0.is_finished()
    }
}

/// Stops a blocking call ([`crate::Engine::proofread`]) from another thread.
#[derive(uniffi::Object)]
pub struct CancelToken(pub(crate) gemkit::CancelToken);

#[uniffi::export]
impl CancelToken {
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(CancelToken(gemkit::CancelToken::new()))
    }

    pub fn cancel(&self) {
        self.0.cancel();
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.is_cancelled()
    }
}
