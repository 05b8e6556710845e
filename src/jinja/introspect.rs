//! `adapter.get_columns_in_relation` and `adapter.get_relation` while compiling, answered
//! offline from what the compiler knows: a relation's columns are its seed's header, its
//! declared columns or its analyzed select list; the relations are those the project builds or
//! declares. A first render records what it asks and gets empty answers; the compiler then
//! renders it again with the answers ([`Introspection`], made by `compile::introspect`).

use std::fmt;
use std::sync::Arc;

use minijinja::value::{Object, Value};
use minijinja::{Error, ErrorKind, State};

use super::{
    Introspected, KnownColumn, RelationCall, RenderState, THIS_TOKEN, ctx_error, rec_of,
    split_kwargs,
};
use crate::diagnostics::Code;

/// `adapter.<method>(...)` inside a node's render.
pub fn call(state: &State, method: &str, args: &[Value]) -> Result<Value, Error> {
    let rec = rec_of(state).ok_or_else(|| Error::from(ErrorKind::UnknownMethod))?;
    let rs = rec
        .downcast_object_ref::<RenderState>()
        .ok_or_else(|| Error::from(ErrorKind::UnknownMethod))?;
    match method {
        "get_columns_in_relation" => columns_in_relation(rs, args),
        _ => relation(rs, args),
    }
}

/// The call a relation argument stands for: a `ref()`/`source()` placeholder of this render.
fn call_of(rs: &RenderState, relation: &Value) -> Result<RelationCall, Error> {
    let text = relation.to_string();
    if text == THIS_TOKEN {
        return Err(ctx_error(
            Code::JinjaError,
            "adapter.get_columns_in_relation(this): a model's columns are what its own SQL makes, not known while it is rendered".into(),
            Some("list the columns in the model's properties YAML and read them from there".into()),
        ));
    }
    let n = text
        .strip_prefix("__strata_rel_")
        .and_then(|t| t.strip_suffix("__"))
        .and_then(|n| n.parse::<usize>().ok());
    let recorded = rs.recorded.lock().unwrap();
    match n.and_then(|n| recorded.relations.get(n)) {
        Some(call) => Ok(call.clone()),
        None => Err(ctx_error(
            Code::JinjaError,
            format!(
                "adapter.get_columns_in_relation({text}): strata knows the columns of a relation named with ref() or source(), not of `{text}`"
            ),
            Some("pass ref('model') or source('source', 'table')".into()),
        )),
    }
}

fn shown(call: &RelationCall) -> String {
    match call {
        RelationCall::Ref {
            project: Some(p),
            name,
        } => format!("ref('{p}', '{name}')"),
        RelationCall::Ref { name, .. } => format!("ref('{name}')"),
        RelationCall::Source { source, table } => format!("source('{source}', '{table}')"),
    }
}

fn columns_in_relation(rs: &RenderState, args: &[Value]) -> Result<Value, Error> {
    let (pos, kw) = split_kwargs(args);
    let relation = match (pos.first(), kw) {
        (Some(r), _) => r.clone(),
        (None, Some(kw)) => kw.get::<Value>("relation")?,
        (None, None) => {
            return Err(Error::new(
                ErrorKind::MissingArgument,
                "adapter.get_columns_in_relation(relation)",
            ));
        }
    };
    let call = call_of(rs, &relation)?;
    {
        let mut rec = rs.recorded.lock().unwrap();
        let asked = rec
            .introspected
            .get_or_insert_with(|| Box::new(Introspected::default()));
        if !asked.columns_of.contains(&call) {
            asked.columns_of.push(call.clone());
        }
    }
    // A first render: nothing is known yet; it is rendered again with the answers.
    let Some(known) = &rs.introspection else {
        return Ok(Value::from(Vec::<Value>::new()));
    };
    match known.columns.iter().find(|(c, _)| *c == call) {
        Some((_, Ok(cols))) => Ok(Value::from(
            cols.iter()
                .map(|c| Value::from_object(Column(c.clone())))
                .collect::<Vec<_>>(),
        )),
        Some((_, Err(why))) => Err(ctx_error(
            Code::JinjaError,
            format!(
                "adapter.get_columns_in_relation({}): its columns are not known at compile time: {why}",
                shown(&call)
            ),
            Some(format!(
                "strata compiles without a database: declare the columns of {} in its properties YAML (`columns:` with each `name`)",
                shown(&call)
            )),
        )),
        // Asked for only once earlier answers were in: answered on the next render.
        None => Ok(Value::from(Vec::<Value>::new())),
    }
}

/// `adapter.get_relation(database, schema, identifier)`: the relation when the project builds
/// or declares it, else none.
fn relation(rs: &RenderState, args: &[Value]) -> Result<Value, Error> {
    let (pos, kw) = split_kwargs(args);
    let arg = |i: usize, name: &str| -> Result<Option<String>, Error> {
        let v = match (pos.get(i), &kw) {
            (Some(v), _) => Some(v.clone()),
            (None, Some(kw)) => kw.get::<Option<Value>>(name)?,
            (None, None) => None,
        };
        Ok(v.filter(|v| !v.is_none() && !v.is_undefined())
            .map(|v| v.to_string()))
    };
    let database = arg(0, "database")?;
    let schema = arg(1, "schema")?;
    let identifier = arg(2, "identifier")?.ok_or_else(|| {
        Error::new(
            ErrorKind::MissingArgument,
            "adapter.get_relation(database, schema, identifier)",
        )
    })?;
    // Asked on a first render too: the relations are known only once every node's config is.
    rs.recorded
        .lock()
        .unwrap()
        .introspected
        .get_or_insert_with(|| Box::new(Introspected::default()));
    let Some(known) = &rs.introspection else {
        return Ok(Value::from(()));
    };
    let same = |a: &Option<String>, b: &Option<String>| match (a, b) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        _ => true,
    };
    let found = known.relations.iter().find(|[d, s, i]| {
        i.as_deref()
            .is_some_and(|i| i.eq_ignore_ascii_case(&identifier))
            && same(d, &database)
            && same(s, &schema)
    });
    Ok(match found {
        Some(parts) => super::dbt_context::relation_value(parts.clone()),
        None => Value::from(()),
    })
}

/// A column as dbt's `Column`: `name`, `column`, `quoted`, `data_type`, `dtype`.
#[derive(Debug)]
struct Column(KnownColumn);

impl Object for Column {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "name" | "column" => Some(Value::from(self.0.name.clone())),
            "quoted" => Some(Value::from(crate::ir::quote_ident(&self.0.name))),
            "data_type" | "dtype" => Some(
                self.0
                    .data_type
                    .clone()
                    .map_or(Value::from(()), Value::from),
            ),
            _ => None,
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.name)
    }
}
