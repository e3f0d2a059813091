//! Deliver soketi-format webhooks to AWS Lambda and HTTP endpoints, byte for byte as soketi
//! sends them — without soketi's defects.

pub mod config;
pub mod deliver;
pub mod input;
pub mod route;
mod sender;

pub use sender::{
    BuildError, Queue, QueueConfig, QueueError, RegionFallback, Sender, SenderBuilder, UnknownApp,
};
