//! Routing: pure functions from events to signed requests.
//!
//! Unlike soketi (SPEC §6), each webhook receives **only** the events that match its
//! `event_types` and `filter`, in a payload signed over exactly what it receives; batches are
//! per app, so every payload is signed with its own app's secret; and a webhook's events are
//! split over several requests when one would exceed Lambda's request size limit.
//!
//! ```
//! use soketi_handler_kit::wire::{Event, EventKind};
//! use soketi_lambda_sender::config::{App, Filter, Webhook};
//! use soketi_lambda_sender::route::{plan, Limits};
//!
//! let app = App::new("1", "app1key", "app1secret")
//!     .webhook(Webhook::lambda("presence-fn").region("eu-west-1")
//!         .event_types([EventKind::MemberAdded]))
//!     .webhook(Webhook::http("http://127.0.0.1:8080/hook")
//!         .event_types([EventKind::ChannelOccupied])
//!         .filter(Filter::new("private-", "")));
//! let events = [
//!     Event::channel_occupied("private-a"),
//!     Event::member_added("presence-r", "u1"),
//!     Event::channel_occupied("public-b"),
//! ];
//! let plan = plan(&app, 1_700_000_000_000, 42, &events, &Limits::default());
//! assert_eq!(plan.requests.len(), 2);
//! assert_eq!(plan.requests[0].events, [Event::member_added("presence-r", "u1")]);
//! assert_eq!(plan.requests[1].events, [Event::channel_occupied("private-a")]);
//! assert_eq!(plan.unrouted, [Event::channel_occupied("public-b")]);
//! ```
//!
//! Inside (each item has one public path, this module), lower modules first:
//! - `limits`: [`Limits`], the largest request each kind of target takes;
//! - `request`: [`Request`], one signed request and everything to send it again;
//! - `sign`: the one place where requests are built and signed ([`Request::build`]), each
//!   event written once;
//! - `plan`: [`plan`] (which webhook gets which events, split under the limits) and
//!   [`split_request`] (the halves of a request refused as too large).

mod limits;
mod plan;
mod request;
mod sign;

pub use limits::{HTTP_DEFAULT_LIMIT, LAMBDA_EVENT_LIMIT, LAMBDA_REQUEST_RESPONSE_LIMIT, Limits};
pub(crate) use plan::plan_indexed;
pub use plan::{Plan, plan, split_request};
pub use request::Request;
pub(crate) use sign::WrittenEvents;
