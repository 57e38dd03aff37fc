//! cairn-sim
