//! Data files of the site: JSON values wrapped in a call, `strata.load("kind", k, [...]);`,
//! so that a page opened from disk can load them as scripts (browsers refuse `fetch` on
//! `file://`). Items go into numbered shards of about [`TARGET`] bytes each, so that no file
//! grows past [`LIMIT`] and a page loads only the shards it needs.

use std::path::Path;

use anyhow::{Context, Result};

/// Bytes a shard is closed at.
pub const TARGET: usize = 256 * 1024;
/// No data file may be larger.
pub const LIMIT: usize = 1024 * 1024;

/// The shards of one kind of data, filled in order.
pub struct Shards {
    kind: &'static str,
    done: Vec<String>,
    open: String,
    items_in_open: usize,
    /// Index of the first item of each shard.
    firsts: Vec<usize>,
    count: usize,
}

impl Shards {
    /// No shard yet.
    pub fn new(kind: &'static str) -> Shards {
        Shards {
            kind,
            done: Vec::new(),
            open: String::new(),
            items_in_open: 0,
            firsts: Vec::new(),
            count: 0,
        }
    }

    /// Adds one item, given as its JSON text; returns the shard it went into. An item is never
    /// split: one larger than [`LIMIT`] is the caller's to cut first.
    pub fn push(&mut self, json: &str) -> usize {
        if self.items_in_open > 0 && self.open.len() + json.len() > TARGET {
            self.close();
        }
        if self.items_in_open == 0 {
            self.firsts.push(self.count);
            self.open.push_str(&format!(
                "strata.load({:?},{},[",
                self.kind,
                self.done.len()
            ));
        } else {
            self.open.push(',');
        }
        self.open.push_str(json);
        self.items_in_open += 1;
        self.count += 1;
        self.done.len()
    }

    fn close(&mut self) {
        if self.items_in_open > 0 {
            self.open.push_str("]);\n");
            self.done.push(std::mem::take(&mut self.open));
            self.items_in_open = 0;
        }
    }

    /// Writes the shards as `data/<kind>-<k>.js` under `dir`; returns their paths relative to
    /// the site, the first item index of each, and the largest size.
    pub fn write(mut self, dir: &Path) -> Result<(Vec<String>, Vec<usize>, usize)> {
        self.close();
        let mut names = Vec::with_capacity(self.done.len());
        let mut largest = 0;
        for (k, text) in self.done.iter().enumerate() {
            let name = format!("data/{}-{k}.js", self.kind);
            std::fs::write(dir.join(&name), text)
                .with_context(|| format!("writing {}", dir.join(&name).display()))?;
            largest = largest.max(text.len());
            names.push(name);
        }
        Ok((names, self.firsts, largest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_fill_shards_in_order() {
        let mut s = Shards::new("graph");
        let item = format!("\"{}\"", "x".repeat(100 * 1024));
        assert_eq!(s.push(&item), 0);
        assert_eq!(s.push(&item), 0);
        assert_eq!(s.push(&item), 1);
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        let (names, firsts, largest) = s.write(dir.path()).unwrap();
        assert_eq!(names, ["data/graph-0.js", "data/graph-1.js"]);
        assert_eq!(firsts, [0, 2]);
        assert!(largest < LIMIT);
        let first = std::fs::read_to_string(dir.path().join("data/graph-0.js")).unwrap();
        assert!(
            first.starts_with("strata.load(\"graph\",0,[\"xx"),
            "{}",
            &first[..40]
        );
        assert!(first.ends_with("\"]);\n"));
    }
}
