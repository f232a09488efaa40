//! A simulated Juniper Mist organisation, for trying, testing and loading a Mist
//! webhook receiver without a Mist org or a real outage.
//!
//! - [`Org`]: sites, floor maps and zones, APs, switches, gateways, Mist Edges, Wi-Fi and
//!   SDK clients and BLE assets, with stable ids and MACs from a seed.
//! - [`topics`]: one generator per webhook topic, shaped like what Mist sends.
//! - [`Scenario`]: a timeline of happenings (a power outage, a rogue AP, a Marvis action)
//!   read from TOML, expanded into the messages a real network would produce.
//! - [`Plan`]: scenarios and background traffic merged in time order and aggregated per
//!   topic the way Mist does, into messages. Pure and deterministic.
//! - [`send`]: the IO shell that posts those messages, signed, through the delivery
//!   engine's client and retry schedule, and sums up what happened; [`flood`] loads a
//!   receiver as fast as its connections allow; [`demo`] runs the scenarios on a loop.
//! - [`api`]: a simulated Mist cloud: the REST subset for the org, and webhooks created
//!   through it that receive the traffic, with Mist's delivery results.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod demo;
pub mod flood;
pub mod org;
pub mod plan;
pub mod rng;
pub mod scenario;
pub mod send;
pub mod summary;
pub mod topics;
mod traffic;

pub use org::{Org, OrgSpec};
pub use plan::{Message, Plan, PlanSettings};
pub use rng::Rng;
pub use scenario::Scenario;
pub use summary::Summary;
pub use topics::{SimEvent, Truth};
