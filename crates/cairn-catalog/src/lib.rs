//! cairn-catalog
