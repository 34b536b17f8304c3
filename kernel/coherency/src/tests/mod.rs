//! Unit, model and property tests. The model and its runner live in `crate::model`.

mod access;
mod boundary;
mod cache_model;
mod directed;
mod flags;
mod legacy;
mod legacy_model;
mod lineset;
mod mutations;
mod plan_table;
mod props;
mod range;
mod strategy;
