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

    /// dbt's `Column` methods: `is_string()`, `is_number()`, `is_numeric()`, `is_integer()`,
    /// `is_float()`, `string_size()`, by the type's name (either engine's spelling).
    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let () = minijinja::value::from_args(args)?;
        let kind = TypeKind::of(self.0.data_type.as_deref().unwrap_or(""));
        let answer = match method {
            "is_string" => kind.base == TypeBase::String,
            "is_integer" => kind.base == TypeBase::Integer,
            "is_numeric" => kind.base == TypeBase::Numeric,
            "is_float" => kind.base == TypeBase::Float,
            "is_number" => matches!(
                kind.base,
                TypeBase::Integer | TypeBase::Numeric | TypeBase::Float
            ),
            "string_size" => {
                if kind.base != TypeBase::String {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        format!(
                            "string_size() of column `{}`, which is not a string",
                            self.0.name
                        ),
                    ));
                }
                // dbt's answer for a string without a declared size.
                return Ok(Value::from(kind.size.unwrap_or(256)));
            }
            _ => return Err(Error::from(ErrorKind::UnknownMethod)),
        };
        Ok(Value::from(answer))
    }
}

/// The family of a column type, as dbt's `Column` tells them apart.
#[derive(Debug, PartialEq, Eq)]
enum TypeBase {
    String,
    Integer,
    Numeric,
    Float,
    Other,
}

/// A column type's family and its declared size (`varchar(20)`).
struct TypeKind {
    base: TypeBase,
    size: Option<u64>,
}

impl TypeKind {
    fn of(data_type: &str) -> TypeKind {
        let t = data_type.trim().to_ascii_lowercase();
        let (name, size) = match t.split_once('(') {
            Some((name, rest)) => (
                name.trim().to_string(),
                rest.trim_end_matches(')')
                    .split(',')
                    .next()
                    .and_then(|s| s.trim().parse().ok()),
            ),
            None => (t.clone(), None),
        };
        let base = match name.as_str() {
            "text" | "character varying" | "character" | "varchar" | "char" | "bpchar"
            | "string" => TypeBase::String,
            "smallint" | "integer" | "int" | "bigint" | "tinyint" | "hugeint" | "int2" | "int4"
            | "int8" | "smallserial" | "serial" | "bigserial" | "utinyint" | "usmallint"
            | "uinteger" | "ubigint" | "uhugeint" => TypeBase::Integer,
            "numeric" | "decimal" => TypeBase::Numeric,
            "real" | "float4" | "float" | "double precision" | "float8" | "double" => {
                TypeBase::Float
            }
            _ => TypeBase::Other,
        };
        TypeKind { base, size }
    }
}

#[cfg(test)]
mod tests {
    use super::{TypeBase, TypeKind};

    #[test]
    fn column_types_fall_in_dbts_families_in_either_engines_spelling() {
        let k = TypeKind::of("character varying(20)");
        assert_eq!((k.base, k.size), (TypeBase::String, Some(20)));
        assert_eq!(TypeKind::of("VARCHAR").base, TypeBase::String);
        assert_eq!(TypeKind::of("BIGINT").base, TypeBase::Integer);
        assert_eq!(TypeKind::of("int4").base, TypeBase::Integer);
        let k = TypeKind::of("DECIMAL(18,2)");
        assert_eq!((k.base, k.size), (TypeBase::Numeric, Some(18)));
        assert_eq!(TypeKind::of("double precision").base, TypeBase::Float);
        assert_eq!(TypeKind::of("DATE").base, TypeBase::Other);
    }
}
