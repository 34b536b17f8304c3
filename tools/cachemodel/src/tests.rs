//! Host tests: hand-written event sequences with the verdict real non-coherent hardware
//! would give.

mod scenarios;
mod support;
