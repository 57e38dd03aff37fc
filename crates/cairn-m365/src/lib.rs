//! cairn-m365
