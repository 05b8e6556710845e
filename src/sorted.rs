//! Key-sorted entry lists for the cache files: gathered in any order (in parallel), sorted once,
//! and serialized as JSON objects in key order, as a `BTreeMap` would be, without the cost of a
//! tree insert per entry (at 100,000 models, a tree of the entries cost a tenth of a second to
//! build and as much to query). When a cache file is read back, its entries are [`Taken`] by
//! the nodes they serve, each once. `FastMap` is the hash map of the maps a compile fills per
//! node. A utility: imports nothing of the crate.

use std::collections::HashMap;
use std::sync::Mutex;

use rayon::prelude::*;
use serde::{Serialize, Serializer};

/// A hash map with a fast hash (foldhash) instead of the standard library's SipHash, for the
/// maps a compile fills and queries per node: their keys come from the project's own files,
/// which have no reason to collide on purpose.
pub type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Entries sorted by key, each key once.
#[derive(Clone, Debug, PartialEq)]
pub struct SortedEntries<V>(Vec<(String, V)>);

impl<V> Default for SortedEntries<V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<V: Send> SortedEntries<V> {
    /// Sorts `entries` by key; of entries with the same key, one is kept (callers store values
    /// that are a function of their key).
    pub fn new(mut entries: Vec<(String, V)>) -> Self {
        entries.par_sort_unstable_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|a, b| a.0 == b.0);
        Self(entries)
    }
}

impl<V> SortedEntries<V> {
    /// The number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    /// The entries, in key order.
    pub fn iter(&self) -> impl Iterator<Item = &(String, V)> {
        self.0.iter()
    }
}

impl<V: Serialize> Serialize for SortedEntries<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// Entries read from a cache file, by key; each is taken (moved out) by the node it serves, so
/// that a second request for the same key gets none.
#[derive(Debug)]
pub struct Taken<V>(FastMap<String, Mutex<Option<V>>>);

impl<V> Default for Taken<V> {
    fn default() -> Self {
        Self(FastMap::default())
    }
}

impl<V> FromIterator<(String, V)> for Taken<V> {
    fn from_iter<I: IntoIterator<Item = (String, V)>>(entries: I) -> Self {
        Self(
            entries
                .into_iter()
                .map(|(k, v)| (k, Mutex::new(Some(v))))
                .collect(),
        )
    }
}

impl<'de, V: serde::Deserialize<'de>> serde::Deserialize<'de> for Taken<V> {
    /// Reads a JSON object of entries. They are gathered in a vector and the map is built at its
    /// final size: a JSON object does not say how many entries it holds, and a map grown entry
    /// by entry rehashes (and touches new memory) at every doubling.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries<V>(std::marker::PhantomData<V>);
        impl<'de, V: serde::Deserialize<'de>> serde::de::Visitor<'de> for Entries<V> {
            type Value = Vec<(String, V)>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of entries")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(entries)
            }
        }
        Ok(d.deserialize_map(Entries(std::marker::PhantomData))?
            .into_iter()
            .collect())
    }
}

impl<V> Taken<V> {
    /// The entry under `key`, moved out.
    pub fn take(&self, key: &str) -> Option<V> {
        self.0.get(key)?.lock().ok()?.take()
    }

    /// The number of entries read.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when nothing was read.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether an entry was read under `key` (taken or not).
    pub fn contains_key(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::{SortedEntries, Taken};
    use std::collections::BTreeMap;

    #[test]
    fn taken_reads_a_json_object_and_gives_each_entry_once() {
        let t: Taken<Vec<u8>> =
            serde_json::from_str(r#"{"a": [1], "b": [], "a": [2, 3]}"#).unwrap();
        assert_eq!(t.len(), 2);
        assert!(t.contains_key("b"));
        // As a map read from JSON: the last of two entries under one key.
        assert_eq!(t.take("a"), Some(vec![2, 3]));
        assert_eq!(t.take("a"), None);
        assert!(t.contains_key("a"));
        assert_eq!(t.take("b"), Some(vec![]));
        assert!(serde_json::from_str::<Taken<u8>>("[1]").is_err());
        assert!(serde_json::from_str::<Taken<u8>>("{}").unwrap().is_empty());
    }

    #[test]
    fn sorted_once_per_key_and_serialized_as_a_tree_map_would_be() {
        let e = SortedEntries::new(vec![
            ("b".to_string(), 2),
            ("a".to_string(), 1),
            ("c".to_string(), 3),
            ("a".to_string(), 1),
        ]);
        assert_eq!(e.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(e.len(), 3);
        let tree: BTreeMap<&str, i32> = [("c", 3), ("a", 1), ("b", 2)].into_iter().collect();
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            serde_json::to_string(&tree).unwrap()
        );
        assert!(SortedEntries::<i32>::new(Vec::new()).is_empty());
    }
}
