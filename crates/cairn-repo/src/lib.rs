//! cairn-repo
