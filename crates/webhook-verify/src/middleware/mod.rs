//! A tower layer that verifies a webhook before any handler runs.
//!
//! [`WebhookLayer`] buffers the request body up to the verifier's cap (answering
//! `413 Payload Too Large` as soon as it is passed, without reading the rest), verifies
//! the delivery, and only then calls the inner service, with the verified raw bytes as
//! the body and the [`Verified`](crate::Verified) record in the request's extensions.
//!
//! Every failed verification gets the same empty `401 Unauthorized`, whatever the
//! reason; the reason goes to `tracing` (target `webhook_verify`, field `reason`).
//! When the secret source or the replay guard cannot answer, the answer is
//! `503 Service Unavailable` (senders retry later); a configuration error is a `500`.
//! No path calls the handler without a successful verification.
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
//!     .secret(Secret::parse(&Scheme::Stripe, "whsec_test_secret")?)
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/webhooks/stripe", post(handle))
//!     .route_layer(WebhookLayer::new(Arc::new(verifier)));
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
