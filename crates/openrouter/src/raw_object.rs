//! A request body kept as its client's text: a JSON object read once (its grammar checked
//! by serde_json), its top-level members remembered as slices of the body, and written
//! out again with a few members replaced, dropped or added — without building a JSON tree
//! of what ferry only forwards. An agent's request is mostly conversation and tool
//! definitions (tens to hundreds of KB) that ferry never looks into; parsing them into
//! `serde_json::Value`s, copying and re-encoding them cost ~9× what checking them does.

use std::fmt;

use bytes::Bytes;
use serde::de::{DeserializeOwned, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// A JSON object's top-level members, each value the client's text.
#[derive(Clone, Default)]
pub struct RawObject {
    members: Vec<(String, Bytes)>,
}

impl fmt::Debug for RawObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.members
                    .iter()
                    .map(|(k, v)| (k, String::from_utf8_lossy(v))),
            )
            .finish()
    }
}

impl RawObject {
    /// Reads `text`, which must be one JSON object (serde_json's grammar and errors). A
    /// member named twice keeps its first place and its last value, as a
    /// `serde_json::Map` does.
    pub fn parse(text: &Bytes) -> serde_json::Result<RawObject> {
        let mut de = serde_json::Deserializer::from_slice(text);
        let members = de.deserialize_map(MembersVisitor)?;
        de.end()?;
        let base = text.as_ptr() as usize;
        let members = members
            .into_iter()
            .map(|(key, value)| {
                let start = value.get().as_ptr() as usize - base;
                (key, text.slice(start..start + value.get().len()))
            })
            .collect();
        Ok(RawObject { members })
    }

    /// The object `map` encodes to (for callers that already hold a tree, and tests).
    pub fn from_map(map: &Map<String, Value>) -> RawObject {
        let members = map
            .iter()
            .map(|(k, v)| {
                let text = serde_json::to_vec(v).expect("a Value always encodes");
                (k.clone(), Bytes::from(text))
            })
            .collect();
        RawObject { members }
    }

    /// How many members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// No members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The members' names, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(|(k, _)| k.as_str())
    }

    /// The members, each value as the client's JSON text.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.members.iter().map(|(k, v)| (k.as_str(), &v[..]))
    }

    fn member(&self, key: &str) -> Option<&Bytes> {
        self.members.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Whether `key` is a member.
    pub fn contains_key(&self, key: &str) -> bool {
        self.member(key).is_some()
    }

    /// The JSON text of member `key`.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.member(key).map(|v| &v[..])
    }

    /// The JSON text of member `key`, as a slice of the body (no copy).
    pub fn text(&self, key: &str) -> Option<Bytes> {
        self.member(key).cloned()
    }

    /// Member `key` read as a `T`.
    pub fn read<T: DeserializeOwned>(&self, key: &str) -> Option<serde_json::Result<T>> {
        self.get(key).map(serde_json::from_slice)
    }

    /// Takes member `key` out, read as a JSON value. Reading fails only on what the
    /// grammar check lets through and a tree cannot hold: a string with a lone surrogate
    /// escape (`"\ud800"`).
    pub fn remove(&mut self, key: &str) -> Option<serde_json::Result<Value>> {
        let at = self.members.iter().position(|(k, _)| k == key)?;
        let (_, text) = self.members.remove(at);
        Some(serde_json::from_slice(&text))
    }

    /// The whole object as a tree. A member a tree cannot hold (a lone surrogate escape)
    /// is kept as a string of its JSON text.
    pub fn to_map(&self) -> Map<String, Value> {
        self.members
            .iter()
            .map(|(k, v)| {
                let value = serde_json::from_slice(v)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(v).into_owned()));
                (k.clone(), value)
            })
            .collect()
    }

    /// The first character of member `key`'s JSON text (`[`, `{`, `"`, a digit…).
    pub fn kind(&self, key: &str) -> Option<u8> {
        self.get(key).and_then(|v| v.first().copied())
    }

    /// Whether member `key` is an array with at least one element.
    pub fn is_nonempty_array(&self, key: &str) -> bool {
        self.get(key)
            .and_then(checked_array_elements)
            .is_some_and(|mut elements| elements.next().is_some())
    }
}

/// What is wrong with member `key`, whose text passed the body's grammar check but could
/// not be read as a value (`e`): serde's reason without its position (which counts from
/// the member's start, not the body's) and what to send instead.
pub fn member_error(key: &str, e: &serde_json::Error) -> String {
    let text = e.to_string();
    let reason = match text.rsplit_once(" at line ") {
        Some((reason, _)) => reason,
        None => &text,
    };
    let fix = if reason.contains("surrogate") || reason.contains("hex escape") {
        "send it without lone surrogate escapes (a string cut in the middle of a character)"
    } else if reason.contains("recursion limit") {
        "nest it less deeply (at most 128 levels)"
    } else if reason.contains("number out of range") {
        "send a number a 64-bit float can hold"
    } else {
        "send it as valid JSON"
    };
    format!("{key}: {reason}; {fix}")
}

/// The elements of a JSON array's text that serde_json has already checked (a member of a
/// [`RawObject`]), each as its text; `None` when the text is not an array. It trusts the
/// text's grammar and only follows its structure — strings are skipped to their closing
/// quote with `memchr` — so a second look at a checked body costs a fraction of a parse.
pub fn checked_array_elements(text: &[u8]) -> Option<impl Iterator<Item = &[u8]>> {
    let mut walk = Checked { b: text, i: 0 };
    walk.ws();
    if walk.peek() != Some(b'[') {
        return None;
    }
    walk.i += 1;
    Some(std::iter::from_fn(move || walk.next_element()))
}

/// The members of a JSON object's text that serde_json has already checked, as (the key's
/// contents as written — escapes not undone —, the value's text); `None` when the text is
/// not an object. See [`checked_array_elements`].
pub fn checked_object_members(text: &[u8]) -> Option<impl Iterator<Item = (&[u8], &[u8])>> {
    let mut walk = Checked { b: text, i: 0 };
    walk.ws();
    if walk.peek() != Some(b'{') {
        return None;
    }
    walk.i += 1;
    Some(std::iter::from_fn(move || {
        let key = walk.next_element()?;
        walk.ws();
        walk.i += 1; // the colon
        walk.ws();
        let start = walk.i;
        walk.skip_value();
        Some((&key[1..key.len() - 1], &walk.b[start..walk.i]))
    }))
}

/// A cursor over checked JSON text: it follows the structure and never validates.
struct Checked<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Checked<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// The next element of the container the cursor is in (after its opening bracket or
    /// an element), or `None` at its end. In an object, the element is a key.
    fn next_element(&mut self) -> Option<&'a [u8]> {
        self.ws();
        if self.peek() == Some(b',') {
            self.i += 1;
            self.ws();
        }
        match self.peek() {
            None | Some(b']' | b'}') => None,
            Some(_) => {
                let start = self.i;
                self.skip_value();
                Some(&self.b[start..self.i])
            }
        }
    }

    fn skip_value(&mut self) {
        match self.peek() {
            Some(b'"') => self.skip_string(),
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                while let Some(byte) = self.peek() {
                    match byte {
                        b'"' => {
                            self.skip_string();
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.i += 1;
                                return;
                            }
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
            }
            _ => {
                while let Some(byte) = self.peek() {
                    if matches!(byte, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        return;
                    }
                    self.i += 1;
                }
            }
        }
    }

    /// From an opening quote to after the closing one.
    fn skip_string(&mut self) {
        self.i += 1;
        while let Some(at) = memchr::memchr2(b'"', b'\\', &self.b[self.i..]) {
            self.i += at;
            if self.b[self.i] == b'\\' {
                self.i += 2;
            } else {
                self.i += 1;
                return;
            }
        }
        self.i = self.b.len();
    }
}

/// Writes a JSON object member by member: the client's members as their text, others
/// encoded.
pub struct ObjectWriter {
    out: Vec<u8>,
    first: bool,
}

impl ObjectWriter {
    /// An object of about `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> ObjectWriter {
        let mut out = Vec::with_capacity(capacity + 2);
        out.push(b'{');
        ObjectWriter { out, first: true }
    }

    fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        serde_json::to_writer(&mut self.out, key).expect("a string always encodes");
        self.out.push(b':');
    }

    /// A member whose value is JSON text already checked.
    pub fn raw(&mut self, key: &str, json: &[u8]) {
        self.key(key);
        self.out.extend_from_slice(json);
    }

    /// A member whose value is encoded here.
    pub fn value<T: serde::Serialize + ?Sized>(
        &mut self,
        key: &str,
        value: &T,
    ) -> serde_json::Result<()> {
        self.key(key);
        serde_json::to_writer(&mut self.out, value)
    }

    /// The object's text.
    pub fn finish(mut self) -> Vec<u8> {
        self.out.push(b'}');
        self.out
    }
}

/// Collects an object's members as borrowed text, folding a repeated member into its
/// first place.
struct MembersVisitor;

impl<'de> Visitor<'de> for MembersVisitor {
    type Value = Vec<(String, &'de RawValue)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members: Vec<(String, &'de RawValue)> = Vec::with_capacity(16);
        while let Some(key) = map.next_key::<String>()? {
            let value: &'de RawValue = map.next_value()?;
            match members.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => members.push((key, value)),
            }
        }
        Ok(members)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> serde_json::Result<RawObject> {
        RawObject::parse(&Bytes::copy_from_slice(text.as_bytes()))
    }

    #[test]
    fn members_are_the_clients_text() {
        let o = parse(r#" { "model" : "a/b", "messages":[ {"role":"user","content":"h\u00e9"} ], "n": 1.50 } "#)
            .unwrap();
        assert_eq!(o.keys().collect::<Vec<_>>(), ["model", "messages", "n"]);
        assert_eq!(o.get("n").unwrap(), b"1.50");
        assert_eq!(
            o.get("messages").unwrap(),
            br#"[ {"role":"user","content":"h\u00e9"} ]"#
        );
        assert_eq!(o.read::<Value>("model").unwrap().unwrap(), json!("a/b"));
        assert!(o.is_nonempty_array("messages"));
        assert_eq!(o.kind("model"), Some(b'"'));
    }

    #[test]
    fn a_repeated_member_keeps_its_place_and_its_last_value() {
        let o = parse(r#"{"a":1,"b":2,"a":3}"#).unwrap();
        let tree: Map<String, Value> = serde_json::from_str(r#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert_eq!(o.to_map(), tree);
        assert_eq!(o.keys().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn refuses_what_serde_refuses_with_its_category() {
        use serde_json::error::Category;
        for (text, category) in [
            ("[1]", Category::Data),
            ("\"x\"", Category::Data),
            ("{\"a\":1", Category::Eof),
            ("{\"a\":1}}", Category::Syntax),
            ("{\"a\":tru}", Category::Syntax),
            ("{\"a\":\"\u{1}\"}", Category::Syntax),
            ("{a:1}", Category::Syntax),
            ("", Category::Eof),
        ] {
            let e = parse(text).expect_err(text);
            assert_eq!(e.classify(), category, "{text}");
            let tree = serde_json::from_str::<Map<String, Value>>(text).expect_err(text);
            assert_eq!(tree.classify(), category, "{text}");
        }
    }

    #[test]
    fn a_lone_surrogate_passes_as_the_clients_text() {
        let mut o = parse(r#"{"a":"\ud800","b":1}"#).unwrap();
        assert_eq!(o.get("a").unwrap(), br#""\ud800""#);
        assert_eq!(o.to_map()["a"], json!(r#""\ud800""#));
        assert!(o.remove("a").unwrap().is_err());
        assert_eq!(o.keys().collect::<Vec<_>>(), ["b"]);
    }

    #[test]
    fn empty_arrays_are_told_apart() {
        let o = parse(r#"{"a":[ ],"b":[0],"c":{},"d":"[x]"}"#).unwrap();
        assert!(!o.is_nonempty_array("a"));
        assert!(o.is_nonempty_array("b"));
        assert!(!o.is_nonempty_array("c"));
        assert!(!o.is_nonempty_array("d"));
        assert!(!o.is_nonempty_array("e"));
    }

    /// Over every body one edit away from two requests (with escapes, nesting, numbers,
    /// a repeated member): the raw object refuses what a serde map refuses (a body that is
    /// not an object as such), and otherwise reads the tree serde reads, its members in the same
    /// order — or, where the tree cannot hold an unpaired surrogate escape, keeps the text.
    #[test]
    fn reads_what_a_serde_map_reads() {
        use serde_json::error::Category;
        let bases = [
            r#"{"model":"openai/gpt-5.4-mini","messages":[{"role":"user","content":"h\u00e9 \"q\" \ud83d\ude00"}],"temperature":0.5,"stop":["a"],"n":1,"x":null,"ok":true}"#,
            r#" {"a" : [ 1e3, -0.25, {"b": {}}, [] ] , "a": false, "k\\ey" : "v\n"} "#,
        ];
        let mut checked = 0;
        for base in bases {
            for body in crate::json_scan::one_edit_away(base) {
                let text = String::from_utf8_lossy(&body).into_owned();
                let raw = RawObject::parse(&Bytes::from(body.clone()));
                let tree = serde_json::from_slice::<Map<String, Value>>(&body);
                match (raw, tree) {
                    (Ok(raw), Ok(tree)) => {
                        assert_eq!(raw.to_map(), tree, "{text}");
                        assert!(raw.keys().eq(tree.keys().map(String::as_str)), "{text}");
                    }
                    // A body cut inside a number is a syntax error to one reader and an
                    // early end to the other; "not an object" is the same to both.
                    (Err(r), Err(t)) => assert_eq!(
                        r.classify() == Category::Data,
                        t.classify() == Category::Data,
                        "{text}: {r} / {t}"
                    ),
                    (Ok(_), Err(t)) => {
                        // A `\\u` escape of a surrogate not paired as a tree needs.
                        let t = t.to_string();
                        assert!(
                            t.contains("surrogate") || t.contains("hex escape"),
                            "{text}: {t}"
                        );
                        assert!(text.contains("\\ud"), "{text}: {t}");
                    }
                    (Err(r), Ok(_)) => panic!("{text}: refused ({r}) what serde reads"),
                }
                checked += 1;
            }
        }
        assert!(checked > 5_000, "{checked}");
    }

    /// Over every body one edit away from a request that serde_json accepts, the checked
    /// walkers find the elements and members serde finds, each as the text serde reads.
    #[test]
    fn checked_walkers_find_what_serde_finds() {
        let bases = [
            r#"[ {"role" : "user", "content": "a \"b\" \\ [c] {d}"}, {"r\u006fle":"x","n":[1,{"y":null}]} , 2.5e3, true, null, [], {} ]"#,
            r#"{"a":[1,2],"b":{"c":"}"},"k\"ey":-0.5,"e":""}"#,
        ];
        let mut checked = 0;
        for base in bases {
            for body in crate::json_scan::one_edit_away(base)
                .into_iter()
                .chain([base.into()])
            {
                let Ok(value) = serde_json::from_slice::<Value>(&body) else {
                    continue;
                };
                let text = String::from_utf8_lossy(&body).into_owned();
                match &value {
                    Value::Array(list) => {
                        let found: Vec<Value> = checked_array_elements(&body)
                            .expect("an array")
                            .map(|e| serde_json::from_slice(e).expect(&text))
                            .collect();
                        assert_eq!(&found, list, "{text}");
                        assert!(checked_object_members(&body).is_none());
                    }
                    Value::Object(map) => {
                        let found: Vec<(String, Value)> = checked_object_members(&body)
                            .expect("an object")
                            .map(|(k, v)| {
                                let key = format!("\"{}\"", std::str::from_utf8(k).unwrap());
                                let key: String = serde_json::from_str(&key).expect(&text);
                                (key, serde_json::from_slice(v).expect(&text))
                            })
                            .collect();
                        // A tree keeps a repeated key's last value in its first place.
                        let mut folded: Map<String, Value> = Map::new();
                        for (k, v) in found {
                            folded.insert(k, v);
                        }
                        assert_eq!(&folded, map, "{text}");
                        assert!(checked_array_elements(&body).is_none());
                    }
                    _ => {
                        assert!(checked_array_elements(&body).is_none(), "{text}");
                        assert!(checked_object_members(&body).is_none(), "{text}");
                    }
                }
                checked += 1;
            }
        }
        assert!(checked > 500, "{checked}");
    }

    #[test]
    fn written_objects_read_back() {
        let o = parse(r#"{"x":{"y":[1,2]},"k\"ey":"v","drop":true}"#).unwrap();
        let mut w = ObjectWriter::with_capacity(64);
        w.value("model", "m").unwrap();
        for (k, v) in o.iter().filter(|(k, _)| *k != "drop") {
            w.raw(k, v);
        }
        w.value("stream", &true).unwrap();
        let out: Value = serde_json::from_slice(&w.finish()).unwrap();
        assert_eq!(
            out,
            json!({"model": "m", "x": {"y": [1, 2]}, "k\"ey": "v", "stream": true})
        );
        assert_eq!(ObjectWriter::with_capacity(0).finish(), b"{}");
    }
}
