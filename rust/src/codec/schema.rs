//! The protobuf ↔ JSON schema of every built-in kind, generated from the pinned Go types by
//! tools/protoschema into schema.txt (see there for the format) and parsed once on first use.
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyString;
use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    Bool,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Float64,
    String,
    Bytes,
    Msg(u32),
    Time,
    MicroTime,
    Duration,
    Quantity,
    IntOrString,
    RawExtension,
    FieldsV1,
    Json,
    TypeMeta,
    PropsOrBool(u32),
    PropsOrArray(u32),
    PropsOrStringArray(u32),
    List(Box<Ty>),
    Map(Box<Ty>),
    /// A map value that protobuf wraps in a message {repeated items = 1} (ExtraValue).
    Wrapped(Box<Ty>),
}

pub struct Field {
    pub json: Box<str>,
    pub num: u32,
    pub pointer: bool,
    pub omitempty: bool,
    pub omitzero: bool,
    pub inline: bool,
    pub ty: Ty,
    /// apiVersion and kind the server's conversion writes into each embedded object here.
    pub type_meta: Option<Box<(Box<str>, Box<str>)>>,
    /// The JSON name as a Python string and as a tape key id, made on first use: outputs
    /// look keys up once per field, not once per value.
    pub py_key: PyOnceLock<Py<PyString>>,
    pub tape_key: OnceLock<Option<u32>>,
}

pub struct Message {
    pub name: Box<str>,
    pub fields: Vec<Field>,
    /// Field number → index in `fields` + 1 (0: unknown number).
    pub by_num: Vec<u16>,
    /// Indices of the fields rendered even when absent from the wire (in order); the rest
    /// are rendered only when present, so a decoder need not look at them otherwise.
    pub always: Vec<u16>,
}

impl Message {
    pub fn field_index(&self, num: u64) -> Option<usize> {
        match self.by_num.get(num as usize) {
            Some(&i) if i > 0 => Some(i as usize - 1),
            _ => None,
        }
    }
}

pub struct Schema {
    pub messages: Vec<Message>,
    kinds: HashMap<(Box<str>, Box<str>), u32>,
}

impl Schema {
    pub fn kind(&self, api_version: &str, kind: &str) -> Option<u32> {
        self.kinds.get(&(api_version.into(), kind.into())).copied()
    }
}

fn parse_ty(s: &str) -> Ty {
    let num = |p: &str| p.parse::<u32>().expect("schema.txt: message id");
    if let Some(rest) = s.strip_prefix("[]") {
        return Ty::List(Box::new(parse_ty(rest)));
    }
    if let Some(rest) = s.strip_prefix("map:[]") {
        return Ty::Map(Box::new(Ty::Wrapped(Box::new(parse_ty(rest)))));
    }
    if let Some(rest) = s.strip_prefix("map:") {
        return Ty::Map(Box::new(parse_ty(rest)));
    }
    if let Some((name, id)) = s.split_once(':') {
        return match name {
            "propsorbool" => Ty::PropsOrBool(num(id)),
            "propsorarray" => Ty::PropsOrArray(num(id)),
            "propsorstringarray" => Ty::PropsOrStringArray(num(id)),
            _ => panic!("schema.txt: unknown type {s}"),
        };
    }
    match s {
        "bool" => Ty::Bool,
        "int32" => Ty::Int32,
        "int64" => Ty::Int64,
        "uint32" => Ty::Uint32,
        "uint64" => Ty::Uint64,
        "float64" => Ty::Float64,
        "string" => Ty::String,
        "bytes" => Ty::Bytes,
        "time" => Ty::Time,
        "microtime" => Ty::MicroTime,
        "duration" => Ty::Duration,
        "quantity" => Ty::Quantity,
        "intorstring" => Ty::IntOrString,
        "rawextension" => Ty::RawExtension,
        "fieldsv1" => Ty::FieldsV1,
        "json" => Ty::Json,
        "typemeta" => Ty::TypeMeta,
        m if m.starts_with('m') => Ty::Msg(num(&m[1..])),
        _ => panic!("schema.txt: unknown type {s}"),
    }
}

fn parse(text: &str) -> Schema {
    let mut messages: Vec<Message> = Vec::new();
    let mut kinds = HashMap::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        match parts[0] {
            "m" => {
                messages.push(Message {
                    name: parts[2].into(),
                    fields: Vec::new(),
                    by_num: Vec::new(),
                    always: Vec::new(),
                });
            }
            "f" => {
                let m = messages.last_mut().expect("schema.txt: field before message");
                let flags = parts[3];
                let num: u32 = parts[2].parse().expect("schema.txt: field number");
                if num > 0 {
                    if m.by_num.len() <= num as usize {
                        m.by_num.resize(num as usize + 1, 0);
                    }
                    m.by_num[num as usize] = m.fields.len() as u16 + 1;
                }
                let ty = parse_ty(parts[4]);
                let (pointer, omitempty, omitzero, inline) = (
                    flags.contains('p'),
                    flags.contains('e'),
                    flags.contains('z'),
                    flags.contains('i'),
                );
                // encoding/json's omitempty drops a zero scalar, nil pointer, empty list or map, never a struct.
                let emptiable = pointer
                    || matches!(
                        ty,
                        Ty::List(_)
                            | Ty::Map(_)
                            | Ty::Bytes
                            | Ty::Bool
                            | Ty::Int32
                            | Ty::Int64
                            | Ty::Uint32
                            | Ty::Uint64
                            | Ty::Float64
                            | Ty::String
                    );
                // Absent from the wire means absent from the JSON: nothing to render.
                if !(!inline && (omitzero || (omitempty && emptiable))) {
                    m.always.push(m.fields.len() as u16);
                }
                m.fields.push(Field {
                    json: parts[1].into(),
                    num,
                    pointer,
                    omitempty,
                    omitzero,
                    inline,
                    ty,
                    type_meta: (parts.len() == 7).then(|| Box::new((parts[5].into(), parts[6].into()))),
                    py_key: PyOnceLock::new(),
                    tape_key: OnceLock::new(),
                });
            }
            "k" => {
                kinds.insert(
                    (parts[1].into(), parts[2].into()),
                    parts[3].parse().expect("schema.txt: kind id"),
                );
            }
            _ => {}
        }
    }
    Schema { messages, kinds }
}

pub fn schema() -> &'static Schema {
    static S: OnceLock<Schema> = OnceLock::new();
    S.get_or_init(|| parse(include_str!("schema.txt")))
}
