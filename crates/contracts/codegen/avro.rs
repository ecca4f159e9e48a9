//! The subset of Avro the generator understands, parsed from schema JSON.
//!
//! Anything outside the subset is a build error naming the schema and the
//! field, rather than a silently wrong Rust type. The subset is what
//! apache-avro 0.21's serde support round-trips correctly (verified by the
//! crate's tests); extend both together.

use serde_json::{Map, Value};

/// A field type, with named types referred to by full name.
#[derive(Debug, Clone, PartialEq)]
pub enum AvroType {
    String,
    /// `{"type":"string","logicalType":"uuid"}`.
    Uuid,
    Int,
    Long,
    /// `{"type":"long","logicalType":"timestamp-millis"}`.
    TimestampMillis,
    Boolean,
    Double,
    /// `["null", T]`.
    Optional(Box<AvroType>),
    Array(Box<AvroType>),
    Record(String),
    Enum(String),
}

/// A record definition.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordDef {
    pub full_name: String,
    pub name: String,
    pub doc: String,
    pub fields: Vec<FieldDef>,
}

/// One field of a record.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDef {
    pub name: String,
    pub doc: String,
    pub ty: AvroType,
    pub default: Option<Value>,
}

/// An enum definition.
#[derive(Debug, Clone, PartialEq)]
pub struct EnumDef {
    pub full_name: String,
    pub name: String,
    pub doc: String,
    pub symbols: Vec<String>,
    pub default: Option<String>,
}

/// A named type, as defined (inline) somewhere in a schema.
#[derive(Debug, Clone, PartialEq)]
pub enum NamedType {
    Record(RecordDef),
    Enum(EnumDef),
}

impl NamedType {
    pub fn full_name(&self) -> &str {
        match self {
            NamedType::Record(r) => &r.full_name,
            NamedType::Enum(e) => &e.full_name,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            NamedType::Record(r) => &r.name,
            NamedType::Enum(e) => &e.name,
        }
    }
}

/// A parsed schema document: its root record and every named type it
/// defines, in order of definition (outer before inner).
#[derive(Debug)]
pub struct ParsedSchema {
    pub root: RecordDef,
    pub named: Vec<NamedType>,
}

impl ParsedSchema {
    pub fn named_type(&self, full_name: &str) -> Option<&NamedType> {
        self.named.iter().find(|t| t.full_name() == full_name)
    }
}

/// Parses a schema document whose root must be a record.
pub fn parse_document(json: &Value) -> Result<ParsedSchema, String> {
    let mut parser = Parser { named: Vec::new() };
    match parser.parse_type(json, "", "the schema root")? {
        AvroType::Record(full_name) => {
            let root = parser
                .named
                .iter()
                .find_map(|t| match t {
                    NamedType::Record(r) if r.full_name == full_name => Some(r.clone()),
                    _ => None,
                })
                .ok_or_else(|| format!("root record `{full_name}` was not registered"))?;
            Ok(ParsedSchema {
                root,
                named: parser.named,
            })
        }
        _ => Err("the schema root must be a record".to_owned()),
    }
}

struct Parser {
    named: Vec<NamedType>,
}

impl Parser {
    /// Parses a type in `namespace` (the enclosing one); `at` says where, for errors.
    fn parse_type(&mut self, json: &Value, namespace: &str, at: &str) -> Result<AvroType, String> {
        match json {
            Value::String(name) => primitive(name).ok_or_else(|| {
                format!(
                    "{at}: `{name}` is not a supported primitive type. References to named \
                     types are not supported either: define the type inline where it is used \
                     (apache-avro 0.21's datum writer cannot resolve named references)"
                )
            }),
            Value::Array(branches) => self.parse_union(branches, namespace, at),
            Value::Object(object) => self.parse_complex(object, namespace, at),
            other => Err(format!("{at}: `{other}` is not a type")),
        }
    }

    fn parse_union(
        &mut self,
        branches: &[Value],
        namespace: &str,
        at: &str,
    ) -> Result<AvroType, String> {
        let [first, second] = branches else {
            return Err(format!(
                "{at}: only two-branch unions `[\"null\", T]` are supported"
            ));
        };
        if first != "null" {
            return Err(format!(
                "{at}: an optional type must be written `[\"null\", T]` with null first, \
                 so that its default can be null"
            ));
        }
        match self.parse_type(second, namespace, at)? {
            AvroType::Optional(_) => Err(format!("{at}: unions cannot nest")),
            inner => Ok(AvroType::Optional(Box::new(inner))),
        }
    }

    fn parse_complex(
        &mut self,
        object: &Map<String, Value>,
        namespace: &str,
        at: &str,
    ) -> Result<AvroType, String> {
        let type_name = str_attr(object, "type", at)?;
        let logical = object.get("logicalType").and_then(Value::as_str);
        match (type_name, logical) {
            ("string", Some("uuid")) => Ok(AvroType::Uuid),
            ("long", Some("timestamp-millis")) => Ok(AvroType::TimestampMillis),
            (_, Some(other)) => Err(format!(
                "{at}: logicalType `{other}` on `{type_name}` is not supported"
            )),
            ("record", None) => self.parse_record(object, namespace, at),
            ("enum", None) => self.parse_enum(object, namespace, at),
            ("array", None) => {
                let items = object
                    .get("items")
                    .ok_or_else(|| format!("{at}: array without `items`"))?;
                let items = self.parse_type(items, namespace, &format!("{at} (array items)"))?;
                Ok(AvroType::Array(Box::new(items)))
            }
            (primitive_name, None) => primitive(primitive_name)
                .ok_or_else(|| format!("{at}: type `{primitive_name}` is not supported")),
        }
    }

    fn parse_record(
        &mut self,
        object: &Map<String, Value>,
        namespace: &str,
        at: &str,
    ) -> Result<AvroType, String> {
        let (full_name, name, own_namespace) = full_name(object, namespace, at)?;
        let doc = doc_attr(object, &format!("record `{full_name}`"))?;
        // Register before the fields so a recursive definition is caught as a duplicate.
        self.register(NamedType::Record(RecordDef {
            full_name: full_name.clone(),
            name,
            doc,
            fields: Vec::new(),
        }))?;
        let fields_json = object
            .get("fields")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("record `{full_name}` has no `fields` array"))?;
        let mut fields: Vec<FieldDef> = Vec::with_capacity(fields_json.len());
        for field_json in fields_json {
            let field = self.parse_field(field_json, &own_namespace, &full_name)?;
            if fields.iter().any(|f| f.name == field.name) {
                return Err(format!(
                    "record `{full_name}` has two fields named `{}`",
                    field.name
                ));
            }
            fields.push(field);
        }
        if fields.is_empty() {
            return Err(format!("record `{full_name}` has no fields"));
        }
        for named in &mut self.named {
            if let NamedType::Record(record) = named
                && record.full_name == full_name
            {
                record.fields = fields;
                break;
            }
        }
        Ok(AvroType::Record(full_name))
    }

    fn parse_field(
        &mut self,
        json: &Value,
        namespace: &str,
        record: &str,
    ) -> Result<FieldDef, String> {
        let object = json
            .as_object()
            .ok_or_else(|| format!("record `{record}`: a field is not an object"))?;
        let name = str_attr(object, "name", &format!("record `{record}`: field"))?.to_owned();
        check_identifier(&name, &format!("record `{record}`: field name"))?;
        let at = format!("field `{record}.{name}`");
        let doc = doc_attr(object, &at)?;
        let type_json = object
            .get("type")
            .ok_or_else(|| format!("{at} has no `type`"))?;
        let ty = self.parse_type(type_json, namespace, &at)?;
        let default = object.get("default").cloned();
        if let Some(default) = &default {
            self.check_default(&ty, default, &at)?;
        }
        Ok(FieldDef {
            name,
            doc,
            ty,
            default,
        })
    }

    fn parse_enum(
        &mut self,
        object: &Map<String, Value>,
        namespace: &str,
        at: &str,
    ) -> Result<AvroType, String> {
        let (full_name, name, _) = full_name(object, namespace, at)?;
        let at = format!("enum `{full_name}`");
        let doc = doc_attr(object, &at)?;
        let symbols: Vec<String> = object
            .get("symbols")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("{at} has no `symbols` array"))?
            .iter()
            .map(|s| {
                s.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{at}: a symbol is not a string"))
            })
            .collect::<Result<_, _>>()?;
        if symbols.is_empty() {
            return Err(format!("{at} has no symbols"));
        }
        for (i, symbol) in symbols.iter().enumerate() {
            check_identifier(symbol, &format!("{at}: symbol"))?;
            if symbols[..i].contains(symbol) {
                return Err(format!("{at} lists symbol `{symbol}` twice"));
            }
        }
        let default = match object.get("default") {
            None => None,
            Some(Value::String(s)) if symbols.contains(s) => Some(s.clone()),
            Some(other) => {
                return Err(format!("{at}: default `{other}` is not one of its symbols"));
            }
        };
        self.register(NamedType::Enum(EnumDef {
            full_name: full_name.clone(),
            name,
            doc,
            symbols,
            default,
        }))?;
        Ok(AvroType::Enum(full_name))
    }

    fn register(&mut self, named: NamedType) -> Result<(), String> {
        if self
            .named
            .iter()
            .any(|t| t.full_name() == named.full_name())
        {
            return Err(format!(
                "`{}` is defined twice in one schema; define each named type once",
                named.full_name()
            ));
        }
        self.named.push(named);
        Ok(())
    }

    /// Checks that a field default fits the field type (Avro: a union's default
    /// belongs to its first branch).
    fn check_default(&self, ty: &AvroType, default: &Value, at: &str) -> Result<(), String> {
        let fits = match ty {
            AvroType::String => default.is_string(),
            AvroType::Uuid => default.as_str().is_some_and(looks_like_uuid),
            AvroType::Int => default.as_i64().is_some_and(|v| i32::try_from(v).is_ok()),
            AvroType::Long | AvroType::TimestampMillis => default.as_i64().is_some(),
            AvroType::Boolean => default.is_boolean(),
            AvroType::Double => default.is_number(),
            AvroType::Optional(_) => default.is_null(),
            AvroType::Array(items) => match default.as_array() {
                Some(values) => {
                    for value in values {
                        self.check_default(items, value, at)?;
                    }
                    true
                }
                None => false,
            },
            AvroType::Record(_) => default.is_object(),
            AvroType::Enum(full_name) => self.named.iter().any(|t| match t {
                NamedType::Enum(e) if &e.full_name == full_name => default
                    .as_str()
                    .is_some_and(|s| e.symbols.iter().any(|sym| sym == s)),
                _ => false,
            }),
        };
        if fits {
            Ok(())
        } else {
            Err(format!(
                "{at}: default `{default}` does not fit the field type"
            ))
        }
    }
}

fn primitive(name: &str) -> Option<AvroType> {
    Some(match name {
        "string" => AvroType::String,
        "int" => AvroType::Int,
        "long" => AvroType::Long,
        "boolean" => AvroType::Boolean,
        "double" => AvroType::Double,
        _ => return None,
    })
}

/// Resolves a named type's full name, simple name and the namespace its
/// fields inherit, following the Avro rules.
fn full_name(
    object: &Map<String, Value>,
    enclosing: &str,
    at: &str,
) -> Result<(String, String, String), String> {
    let name = str_attr(object, "name", at)?;
    let (namespace, simple) = match name.rsplit_once('.') {
        Some((namespace, simple)) => (namespace.to_owned(), simple.to_owned()),
        None => {
            let namespace = match object.get("namespace") {
                Some(Value::String(ns)) => ns.clone(),
                Some(other) => return Err(format!("{at}: namespace `{other}` is not a string")),
                None => enclosing.to_owned(),
            };
            (namespace, name.to_owned())
        }
    };
    check_identifier(&simple, &format!("{at}: name"))?;
    for part in namespace.split('.').filter(|_| !namespace.is_empty()) {
        check_identifier(part, &format!("{at}: namespace `{namespace}`"))?;
    }
    let full = if namespace.is_empty() {
        simple.clone()
    } else {
        format!("{namespace}.{simple}")
    };
    Ok((full, simple, namespace))
}

fn str_attr<'a>(object: &'a Map<String, Value>, key: &str, at: &str) -> Result<&'a str, String> {
    object
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{at}: missing string `{key}`"))
}

/// Every record, enum and field must say what it means: the docs end up in
/// the generated Rust, the AsyncAPI document and the registry.
fn doc_attr(object: &Map<String, Value>, at: &str) -> Result<String, String> {
    match object.get("doc").and_then(Value::as_str) {
        Some(doc) if !doc.trim().is_empty() => Ok(doc.trim().to_owned()),
        _ => Err(format!("{at} needs a non-empty `doc`")),
    }
}

/// Avro names: `[A-Za-z_][A-Za-z0-9_]*`.
fn check_identifier(name: &str, at: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(format!("{at} `{name}` is not a valid Avro name"))
    }
}

fn looks_like_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}
