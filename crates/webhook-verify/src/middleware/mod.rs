//! A tower layer that verifies a webhook before any handler runs.
//!
//! [`WebhookLayer`] first checks the headers and the timestamp window (so a request
//! without a plausible signature is turned away before its body is read), then buffers
//! the request body up to the verifier's cap (answering `413 Payload Too Large` as soon
//! as it is passed, without reading the rest), verifies the delivery, and only then
//! calls the inner service, with the verified raw bytes as the body and the
//! [`Verified`](crate::Verified) record in the request's extensions.
//!
//! Every failed verification gets the same empty `401 Unauthorized`, whatever the
//! reason, and so does a delivery for an integration the secret source does not know;
//! the verifier logs the reason once, at debug level (target `webhook_verify`,
//! field `reason`). When the secret source or the replay guard cannot answer, the
//! answer is `503 Service Unavailable` (senders retry later); a configuration error is
//! a `500`. No path calls the handler without a successful verification.
//!
//! With a replay guard, a delivery is recorded before the handler runs. When the
//! handler answers with a `5xx` or fails, the layer releases the delivery
//! ([`Verifier::release`](crate::Verifier::release)) so that the sender's retry is
//! accepted rather than rejected as a replay: a delivery is handled successfully at
//! most once, and a handler that fails after a side effect must be idempotent.
//!
//! Schemes that sign the URL (Twilio) need
//! [`WebhookLayer::with_public_url`]; [`WebhookLayer::new`] refuses them.
//!
//! ```
//! # #[cfg(feature = "axum")]
//! # fn main() -> Result<(), webhook_verify::Error> {
//! use std::sync::Arc;
//! use axum::{Router, body::Bytes, routing::post};
//! use webhook_verify::{Scheme, Secret, Verified, Verifier, WebhookLayer};
//!
//! async fn handle(verified: Verified, body: Bytes) -> &'static str {
//!     // `body` is exactly the bytes that verified.
//!     let _ = (verified.id(), body.len());
//!     "ok"
//! }
//!
//! let verifier = Verifier::builder(Scheme::Stripe)
//!     .secret(Secret::parse(&Scheme::Stripe, "whsec_test_4eC39HqLyjWDarjtT1zdp7dc")?)
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/webhooks/stripe", post(handle))
//!     .route_layer(WebhookLayer::new(Arc::new(verifier))?);
//! # let _ = app;
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "axum"))]
//! # fn main() {}
//! ```

mod layer;
mod service;

pub use self::layer::WebhookLayer;
pub use self::service::WebhookService;
