//! An object's warnings for its result: the first ones word for word, the rest
//! counted, so a mailbox full of bad items cannot fill memory (every warning is also
//! logged and sent as a progress event, which the session record keeps).

/// Warnings of one object kept word for word; the rest are counted (and logged).
pub(crate) const MAX_WARNINGS: usize = 100;

/// An object's warnings: the first [`MAX_WARNINGS`], and how many more there were.
#[derive(Debug, Default)]
pub(crate) struct Warnings {
    kept: Vec<String>,
    more: u64,
}

impl Warnings {
    pub fn push(&mut self, text: String) {
        if self.kept.len() < MAX_WARNINGS {
            self.kept.push(text);
        } else {
            self.more += 1;
        }
    }

    /// The messages of the object's result.
    pub fn messages(&self) -> Vec<String> {
        let mut out = self.kept.clone();
        if self.more > 0 {
            out.push(format!(
                "… and {} more warnings (each is in the session's log)",
                self.more
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_are_capped_and_counted() {
        let mut w = Warnings::default();
        for i in 0..(MAX_WARNINGS + 5) {
            w.push(format!("w{i}"));
        }
        let m = w.messages();
        assert_eq!(m.len(), MAX_WARNINGS + 1);
        assert_eq!(m[0], "w0");
        assert!(m[MAX_WARNINGS].contains("5 more warnings"), "{m:?}");
    }
}
