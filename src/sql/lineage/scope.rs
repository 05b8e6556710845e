//! What a select's FROM makes visible: each entry with its qualifier and what it gives, the
//! `USING` columns, and the enclosing select (for correlated subqueries and `LATERAL`).

use super::{Origin, Output};
use crate::ir::lineage::TransformSubtype as Sub;

/// What a FROM entry gives.
pub(super) enum Source {
    /// A relation read (index in `Analysis::relations`): its columns are known later.
    Base(usize),
    /// A CTE or a derived table: its outputs.
    Derived(Vec<Output>),
    /// Something whose columns are not known (a table function...), described.
    Opaque(String),
}

/// A FROM entry.
pub(super) struct Item {
    /// The qualifier that names it (alias or table name), lowercased.
    pub name: Option<String>,
    pub source: Source,
}

/// The FROM entries of one select.
pub(super) struct Scope<'p> {
    pub items: Vec<Item>,
    /// Columns joined with `USING`, lowercased.
    pub using: Vec<String>,
    parent: Option<&'p Scope<'p>>,
}

/// What a column name resolves to.
pub(super) struct Found {
    /// Its inputs (subtypes as they are where it is defined).
    pub inputs: Vec<Origin>,
    /// Why some of them could not be followed.
    pub unknown: Option<String>,
    /// True when an entry names the column itself (not only a relation that may have it).
    pub definite: bool,
}

/// What one entry says about a column.
enum Lookup {
    Definite(Vec<Origin>, Option<String>),
    /// Relations read that may have it; true when an entry of unknown columns may have it.
    Possible(Vec<usize>, bool),
    Absent,
}

impl<'p> Scope<'p> {
    pub fn new(parent: Option<&'p Scope<'p>>) -> Self {
        Scope {
            items: Vec::new(),
            using: Vec::new(),
            parent,
        }
    }

    /// A scope whose one entry has `outputs` (the ORDER BY of a set operation).
    pub fn of_outputs(outputs: &[Output], parent: Option<&'p Scope<'p>>) -> Self {
        let mut s = Scope::new(parent);
        s.items.push(Item {
            name: None,
            source: Source::Derived(outputs.to_vec()),
        });
        s
    }

    /// `q.col`: None when no entry here or around is named `q`.
    pub fn qualified(&self, q: &str, col: &str) -> Option<Found> {
        let lower = col.to_lowercase();
        let Some(item) = self.items.iter().find(|i| i.name.as_deref() == Some(q)) else {
            return self.parent?.qualified(q, col);
        };
        Some(match lookup(item, &lower) {
            Lookup::Definite(inputs, unknown) => Found {
                inputs,
                unknown,
                definite: true,
            },
            Lookup::Possible(rels, _) => Found {
                inputs: origins(rels, col),
                unknown: None,
                definite: true,
            },
            Lookup::Absent => Found {
                inputs: Vec::new(),
                unknown: Some(format!("`{q}` has no column `{col}`")),
                definite: true,
            },
        })
    }

    /// `col`: None when nothing here or around may have it.
    pub fn unqualified(&self, col: &str) -> Option<Found> {
        let lower = col.to_lowercase();
        if self.using.contains(&lower) {
            return Some(Found {
                inputs: self.each_item(col),
                unknown: None,
                definite: true,
            });
        }
        let (mut definite, mut unknown, mut rels, mut opaque) =
            (Vec::new(), None, Vec::new(), false);
        let mut any_definite = false;
        for item in &self.items {
            match lookup(item, &lower) {
                Lookup::Definite(inputs, u) => {
                    any_definite = true;
                    definite.extend(inputs);
                    unknown = unknown.or(u);
                }
                Lookup::Possible(r, o) => {
                    rels.extend(r);
                    opaque |= o;
                }
                Lookup::Absent => {}
            }
        }
        if any_definite {
            return Some(Found {
                inputs: definite,
                unknown,
                definite: true,
            });
        }
        if !rels.is_empty() || opaque {
            rels.sort_unstable();
            rels.dedup();
            return Some(Found {
                inputs: origins(rels, col),
                unknown: None,
                definite: false,
            });
        }
        self.parent?.unqualified(col)
    }

    /// Every entry's own `col`, one origin each (both sides of a `USING` join).
    pub fn each_item(&self, col: &str) -> Vec<Origin> {
        let lower = col.to_lowercase();
        let mut out = Vec::new();
        for item in &self.items {
            match lookup(item, &lower) {
                Lookup::Definite(inputs, _) => out.extend(inputs),
                Lookup::Possible(rels, _) => {
                    out.extend(rels.into_iter().flat_map(|r| origins(vec![r], col)));
                }
                Lookup::Absent => {}
            }
        }
        out
    }
}

/// One origin over `rels` (none when `rels` is empty: a column of a table function).
fn origins(rels: Vec<usize>, col: &str) -> Vec<Origin> {
    if rels.is_empty() {
        return Vec::new();
    }
    vec![Origin {
        rels,
        column: col.to_string(),
        subtype: Sub::Identity,
    }]
}

fn lookup(item: &Item, lower: &str) -> Lookup {
    match &item.source {
        Source::Base(r) => Lookup::Possible(vec![*r], false),
        Source::Opaque(_) => Lookup::Possible(Vec::new(), true),
        Source::Derived(outputs) => {
            let (mut rels, mut opaque) = (Vec::new(), false);
            for o in outputs {
                match o {
                    Output::Column {
                        name,
                        inputs,
                        unknown,
                    } if name.to_lowercase() == lower => {
                        return Lookup::Definite(inputs.clone(), unknown.clone());
                    }
                    Output::Column { .. } => {}
                    Output::Star {
                        rel,
                        except,
                        replace,
                        ..
                    } => {
                        if except.iter().any(|e| e == lower) {
                            continue;
                        }
                        if let Some((_, r)) = replace.iter().find(|(n, _)| n == lower) {
                            return Lookup::Definite(r.clone(), None);
                        }
                        match rel {
                            Some(r) => rels.push(*r),
                            None => opaque = true,
                        }
                    }
                }
            }
            if rels.is_empty() && !opaque {
                Lookup::Absent
            } else {
                Lookup::Possible(rels, opaque)
            }
        }
    }
}
