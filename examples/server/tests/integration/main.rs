//! The server's routes, driven through the router with `tower::ServiceExt::oneshot`.

mod support;

mod audit;
mod integrations;
mod login;
mod postgres;
mod redis;
mod second_factor;
mod sessions;
mod startup;
mod webhooks;
