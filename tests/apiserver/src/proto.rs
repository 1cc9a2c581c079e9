//! Decoding of the Kubernetes protobuf encoding for the few kinds `kubectl create` posts that way
//! (`kubectl create secret|configmap|namespace` send `application/vnd.kubernetes.protobuf`).
//!
//! The body is the `k8s\0` magic followed by a `runtime.Unknown` envelope whose `raw` field holds
//! the object's own message. Only the fields these kinds and `ObjectMeta` carry on creation are
//! read; anything else is skipped, as unknown protobuf fields are.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use crate::error::ApiError;

const MAGIC: &[u8] = b"k8s\0";

/// One protobuf field: its number and its value.
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.data.split_first().ok_or("truncated varint")?;
            self.data = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varint too long".into())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.data.len() < n {
            return Err("truncated field".into());
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(head)
    }

    fn next(&mut self) -> Result<Option<(u64, Field<'a>)>, String> {
        if self.data.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = match key & 7 {
            0 => Field::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Field::Fixed
            }
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| "length overflow")?;
                Field::Bytes(self.take(len)?)
            }
            5 => {
                self.take(4)?;
                Field::Fixed
            }
            other => return Err(format!("unsupported wire type {other}")),
        };
        Ok(Some((key >> 3, field)))
    }
}

fn fields(data: &[u8]) -> Result<Vec<(u64, Field<'_>)>, String> {
    let mut reader = Reader { data };
    let mut out = Vec::new();
    while let Some(f) = reader.next()? {
        out.push(f);
    }
    Ok(out)
}

fn text(bytes: &[u8]) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| "invalid UTF-8 in a string field".to_string())
}

/// A `map<string, string>` (or bytes, base64-encoded) entry.
fn map_entry(bytes: &[u8], base64_value: bool) -> Result<(String, Value), String> {
    let mut key = String::new();
    let mut value = Value::String(String::new());
    for (n, f) in fields(bytes)? {
        match (n, f) {
            (1, Field::Bytes(b)) => key = text(b)?,
            (2, Field::Bytes(b)) if base64_value => value = json!(STANDARD.encode(b)),
            (2, Field::Bytes(b)) => value = json!(text(b)?),
            _ => {}
        }
    }
    Ok((key, value))
}

fn insert_entry(map: &mut Value, bytes: &[u8], base64_value: bool) -> Result<(), String> {
    let (k, v) = map_entry(bytes, base64_value)?;
    if !map.is_object() {
        *map = Value::Object(Map::new());
    }
    map[k] = v;
    Ok(())
}

fn object_meta(bytes: &[u8]) -> Result<Value, String> {
    let mut meta = json!({});
    for (n, f) in fields(bytes)? {
        match (n, f) {
            (1..=3, Field::Bytes([])) => {}
            (1, Field::Bytes(b)) => meta["name"] = json!(text(b)?),
            (2, Field::Bytes(b)) => meta["generateName"] = json!(text(b)?),
            (3, Field::Bytes(b)) => meta["namespace"] = json!(text(b)?),
            (11, Field::Bytes(b)) => insert_entry(&mut meta["labels"], b, false)?,
            (12, Field::Bytes(b)) => insert_entry(&mut meta["annotations"], b, false)?,
            (13, Field::Bytes(b)) => {
                let mut owner = json!({});
                for (m, g) in fields(b)? {
                    match (m, g) {
                        (1, Field::Bytes(v)) => owner["kind"] = json!(text(v)?),
                        (3, Field::Bytes(v)) => owner["name"] = json!(text(v)?),
                        (4, Field::Bytes(v)) => owner["uid"] = json!(text(v)?),
                        (5, Field::Bytes(v)) => owner["apiVersion"] = json!(text(v)?),
                        (6, Field::Varint(v)) => owner["controller"] = json!(v != 0),
                        (7, Field::Varint(v)) => owner["blockOwnerDeletion"] = json!(v != 0),
                        _ => {}
                    }
                }
                push(&mut meta["ownerReferences"], owner);
            }
            (14, Field::Bytes(b)) => push(&mut meta["finalizers"], json!(text(b)?)),
            _ => {}
        }
    }
    Ok(meta)
}

fn push(list: &mut Value, item: Value) {
    if !list.is_array() {
        *list = json!([]);
    }
    if let Some(a) = list.as_array_mut() {
        a.push(item);
    }
}

/// Decodes a protobuf-encoded Secret, ConfigMap or Namespace into its JSON form.
pub(crate) fn decode(body: &[u8]) -> Result<Value, ApiError> {
    decode_inner(body)
        .map_err(|why| ApiError::bad_request(format!("unable to decode protobuf body: {why}")))?
}

fn decode_inner(body: &[u8]) -> Result<Result<Value, ApiError>, String> {
    let envelope = body
        .strip_prefix(MAGIC)
        .ok_or("missing k8s protobuf magic")?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for (n, f) in fields(envelope)? {
        match (n, f) {
            (1, Field::Bytes(type_meta)) => {
                for (m, g) in fields(type_meta)? {
                    match (m, g) {
                        (1, Field::Bytes(v)) => api_version = text(v)?,
                        (2, Field::Bytes(v)) => kind = text(v)?,
                        _ => {}
                    }
                }
            }
            (2, Field::Bytes(b)) => raw = b,
            _ => {}
        }
    }
    let mut object = json!({"apiVersion": api_version, "kind": kind});
    let base64_field = |kind: &str, n: u64| matches!((kind, n), ("Secret", 2) | ("ConfigMap", 3));
    for (n, f) in fields(raw)? {
        match (kind.as_str(), n, f) {
            (_, 1, Field::Bytes(b)) => object["metadata"] = object_meta(b)?,
            ("Secret", 2, Field::Bytes(b)) | ("ConfigMap", 3, Field::Bytes(b)) => {
                let key = if kind == "Secret" {
                    "data"
                } else {
                    "binaryData"
                };
                insert_entry(&mut object[key], b, base64_field(&kind, n))?;
            }
            ("Secret", 3, Field::Bytes(b)) => object["type"] = json!(text(b)?),
            ("Secret", 4, Field::Bytes(b)) => insert_entry(&mut object["stringData"], b, false)?,
            ("Secret", 5, Field::Varint(v)) | ("ConfigMap", 4, Field::Varint(v)) => {
                object["immutable"] = json!(v != 0)
            }
            ("ConfigMap", 2, Field::Bytes(b)) => insert_entry(&mut object["data"], b, false)?,
            ("Namespace", 2, Field::Bytes(b)) => {
                for (m, g) in fields(b)? {
                    if let (1, Field::Bytes(v)) = (m, g) {
                        push(&mut object["spec"]["finalizers"], json!(text(v)?));
                    }
                }
            }
            ("Secret" | "ConfigMap" | "Namespace", _, _) => {}
            _ => {
                return Ok(Err(ApiError::unsupported_media_type(&format!(
                    "application/vnd.kubernetes.protobuf for {kind}; send application/json"
                ))));
            }
        }
    }
    Ok(Ok(object))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(n: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![((n << 3) | 2) as u8, payload.len() as u8];
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn decodes_a_kubectl_style_secret() {
        let meta = [field(1, b"s1"), field(3, b"default")].concat();
        let entry = [field(1, b"a"), field(2, b"b")].concat();
        let raw = [field(1, &meta), field(2, &entry), field(3, b"Opaque")].concat();
        let type_meta = [field(1, b"v1"), field(2, b"Secret")].concat();
        let body = [MAGIC.to_vec(), field(1, &type_meta), field(2, &raw)].concat();
        let object = decode(&body).unwrap();
        assert_eq!(object["metadata"]["name"], "s1");
        assert_eq!(object["data"]["a"], "Yg==");
        assert_eq!(object["type"], "Opaque");
    }

    #[test]
    fn garbage_is_a_400_not_a_panic() {
        assert_eq!(decode(b"k8s\0\xff\xff\xff").unwrap_err().code, 400);
        assert_eq!(decode(b"nope").unwrap_err().code, 400);
    }
}
