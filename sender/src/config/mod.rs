//! soketi's app and webhook configuration, read exactly as soketi documents it.
//!
//! An app is `{"id", "key", "secret", "webhooks": [...]}` (soketi also accepts `webhooks` given
//! as a JSON string). Each webhook has either a `url` or a `lambda_function`, the
//! `event_types` it wants, an optional `filter` on the channel name, optional custom `headers`
//! and, for Lambda, a `lambda` object (`async`, `region`, `client_options`). Unknown fields are
//! ignored, as soketi ignores them.
//!
//! Validation errors name the webhook (its index in `webhooks`) and the field:
//!
//! ```
//! use soketi_lambda_sender::config::{App, ConfigErrorKind};
//! let err = App::from_json(r#"{"id":"1","key":"k","secret":"s","webhooks":[
//!     {"url":"http://127.0.0.1:8080/hook","event_types":["channel_occupied"]},
//!     {"lambda_function":"f","event_types":["channel_ocupied"],"lambda":{"region":"eu-west-1"}}
//! ]}"#).unwrap_err();
//! assert_eq!(err.kind(), ConfigErrorKind::UnknownEventType);
//! assert_eq!(err.webhook(), Some(1));
//! assert_eq!(err.field(), "webhooks[1].event_types[0]");
//! ```
//!
//! Inside (each item has one public path, this module), lower modules first:
//! - `error`: [`ConfigError`] and its [`ConfigErrorKind`];
//! - `target`: [`Target`] and its kinds, with all that differs between them (the body of a
//!   request, the checks, the form a dead letter stores);
//! - `model`: [`App`], [`Webhook`], [`Filter`];
//! - `validate`: the checks every webhook passes, parsed or built in code;
//! - `apps_file`: reading soketi's apps file ([`parse_apps_file`], [`App::from_json`],
//!   [`parse_apps_file_credentials`]).

mod apps_file;
mod error;
mod model;
mod target;
mod validate;

pub use apps_file::{AppCredentials, parse_apps_file, parse_apps_file_credentials};
pub use error::{ConfigError, ConfigErrorKind};
pub use model::{App, Filter, Webhook};
pub use target::{
    HttpTarget, InvocationMode, LambdaTarget, RegionSource, StaticCredentials, Target,
};
