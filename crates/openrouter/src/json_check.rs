//! Whether a text is one JSON value, checked in one pass that builds nothing and keeps
//! no call stack: the stream tap's check of every event it does not parse. serde_json's
//! `IgnoredAny` does the same job through its visitor machinery at ~24 instructions a
//! byte of a chat chunk; this loop is a few (strings eight bytes at a time).
//!
//! It is at least as strict as serde_json: what it accepts, serde_json accepts (a
//! property test holds it to that); what it refuses, its caller hands to serde_json,
//! whose verdict and message count. It refuses, where serde_json might not: invalid UTF-8
//! anywhere, lone surrogate escapes, and nesting deeper than 64.

/// Nesting deeper than this is refused (serde_json's own limit is 128).
const MAX_DEPTH: u32 = 64;

/// Whether `b` is one JSON value with only whitespace around it.
pub(crate) fn is_value(b: &[u8]) -> bool {
    std::str::from_utf8(b).is_ok() && check(b).is_some()
}

fn check(b: &[u8]) -> Option<()> {
    // One bit per open container, innermost lowest: 1 an object, 0 an array.
    let mut stack: u64 = 0;
    let mut depth: u32 = 0;
    let mut i = 0;
    'value: loop {
        i = ws(b, i);
        match *b.get(i)? {
            b'{' => {
                i = ws(b, i + 1);
                if b.get(i) == Some(&b'}') {
                    i += 1;
                } else {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return None;
                    }
                    stack = stack << 1 | 1;
                    i = key(b, i)?;
                    continue 'value;
                }
            }
            b'[' => {
                i = ws(b, i + 1);
                if b.get(i) == Some(&b']') {
                    i += 1;
                } else {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return None;
                    }
                    stack <<= 1;
                    continue 'value;
                }
            }
            b'"' => i = string(b, i)?,
            b't' => i = literal(b, i, b"true")?,
            b'f' => i = literal(b, i, b"false")?,
            b'n' => i = literal(b, i, b"null")?,
            _ => i = number(b, i)?,
        }
        // A value ended: close containers until one goes on.
        loop {
            i = ws(b, i);
            if depth == 0 {
                return (i == b.len()).then_some(());
            }
            let in_object = stack & 1 == 1;
            match *b.get(i)? {
                b',' => {
                    i += 1;
                    if in_object {
                        i = key(b, ws(b, i))?;
                    }
                    continue 'value;
                }
                b'}' if in_object => {}
                b']' if !in_object => {}
                _ => return None,
            }
            i += 1;
            stack >>= 1;
            depth -= 1;
        }
    }
}

fn ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// A member's key and its colon, at `i`; the index after the colon.
fn key(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let i = ws(b, string(b, i)?);
    (b.get(i) == Some(&b':')).then_some(i + 1)
}

fn literal(b: &[u8], i: usize, word: &[u8]) -> Option<usize> {
    let end = i + word.len();
    (b.get(i..end)? == word).then_some(end)
}

/// A string whose opening quote is at `i`; the index after its closing quote.
fn string(b: &[u8], i: usize) -> Option<usize> {
    let mut i = i + 1;
    loop {
        i = plain_text_end(b, i);
        match *b.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => i = escape(b, i + 1)?,
            _ => return None,
        }
    }
}

/// An escape after its backslash (at `i`); the index after it.
fn escape(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(i + 1),
        b'u' => {
            let unit = hex4(b, i + 1)?;
            match unit {
                0xD800..=0xDBFF => {
                    // A high surrogate must be followed by an escaped low one.
                    if b.get(i + 5..i + 7)? != b"\\u" {
                        return None;
                    }
                    let low = hex4(b, i + 7)?;
                    (0xDC00..=0xDFFF).contains(&low).then_some(i + 11)
                }
                0xDC00..=0xDFFF => None,
                _ => Some(i + 5),
            }
        }
        _ => None,
    }
}

fn hex4(b: &[u8], i: usize) -> Option<u16> {
    let digits = b.get(i..i + 4)?;
    let mut v: u16 = 0;
    for &d in digits {
        v = v << 4 | char::from(d).to_digit(16)? as u16;
    }
    Some(v)
}

/// A number at `i`, by JSON's grammar; the index after it.
fn number(b: &[u8], mut i: usize) -> Option<usize> {
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match *b.get(i)? {
        b'0' => i += 1,
        b'1'..=b'9' => i = digits(b, i + 1),
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        i = some_digits(b, i + 1)?;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        i = some_digits(b, i)?;
    }
    Some(i)
}

fn digits(b: &[u8], mut i: usize) -> usize {
    while let Some(b'0'..=b'9') = b.get(i) {
        i += 1;
    }
    i
}

fn some_digits(b: &[u8], i: usize) -> Option<usize> {
    let end = digits(b, i);
    (end > i).then_some(end)
}

/// The index of the first quote, backslash or control byte at or after `i` inside a
/// string (or the end), eight bytes at a time.
pub(crate) fn plain_text_end(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte of `w` that is zero sets its high bit here. A byte above a zero one may
    // too (the borrow), but the lowest bit set is always a true zero byte, so the
    // lowest bit of the three tests below is the first special byte.
    let zero_byte = |w: u64| w.wrapping_sub(ONES) & !w & HIGH;
    while let Some(chunk) = b.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let hits = zero_byte(w ^ (ONES * u64::from(b'"')))
            | zero_byte(w ^ (ONES * u64::from(b'\\')))
            | (w.wrapping_sub(ONES * 0x20) & !w & HIGH);
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while b
        .get(i)
        .is_some_and(|&c| c != b'"' && c != b'\\' && c >= 0x20)
    {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serde_accepts(b: &[u8]) -> bool {
        serde_json::from_slice::<serde::de::IgnoredAny>(b).is_ok()
    }

    #[test]
    fn accepts_json_and_refuses_the_rest() {
        for ok in [
            "0",
            " -1.5e+3 ",
            "\"\"",
            "[]",
            "{}",
            "[1,[2,[3]],{\"a\":{}}]",
            "{\"a\":\"x\\\"y\\\\z\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\",\"b\":[true,false,null]}",
            "\n{ \"k\" : [ 1 , 2 ] }\t",
        ] {
            assert!(is_value(ok.as_bytes()), "{ok}");
            assert!(serde_accepts(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "",
            " ",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\"}",
            "{1:2}",
            "[1 2]",
            "01",
            "1.",
            "-",
            "1e",
            "tru",
            "nul",
            "\"a",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\\udc00\"",
            "\"\\ud83d\"",
            "\"a\u{1}\"",
            "[1]]",
            "{}x",
            "[}",
            "{]",
        ] {
            assert!(!is_value(bad.as_bytes()), "{bad:?}");
        }
        assert!(!is_value(b"\"\xc3\""));
        // The innermost `[]` opens no level of its own.
        let deep = format!("{}{}", "[".repeat(66), "]".repeat(66));
        assert!(!is_value(deep.as_bytes()));
        let fine = format!("{}{}", "[".repeat(65), "]".repeat(65));
        assert!(is_value(fine.as_bytes()));
    }

    /// Over every text one edit away from real events: what this accepts, serde_json
    /// accepts; what it refuses and serde_json accepts is invalid UTF-8 or escapes a
    /// surrogate (a lone one, made by the edit), and that is little.
    #[test]
    fn never_accepts_what_serde_refuses() {
        let events = [
            r#"{"id":"gen-1796430090-8dFKGuN4bxY77H9dJZGg","provider":"OpenAI","model":"openai/gpt-5.4-mini","object":"chat.completion.chunk","created":1796430090,"choices":[{"index":0,"delta":{"role":"assistant","content":" hello"},"finish_reason":null,"native_finish_reason":null,"logprobs":null}]}"#,
            r#"{"type":"response.output_text.delta","sequence_number":5,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"a \"q\" \u00e9\n\ud83d\ude00","logprobs":[]}"#,
            r#"{"n":[-0.25,1e5,0,1.5E-3,{"t":true,"f":false,"z":null}],"s":"\\\/"}"#,
        ];
        let (mut checked, mut accepted, mut stricter) = (0, 0, 0);
        for base in events {
            assert!(is_value(base.as_bytes()), "{base}");
            for body in crate::json_scan::one_edit_away(base) {
                checked += 1;
                let serde = serde_accepts(&body);
                if is_value(&body) {
                    assert!(serde, "{}", String::from_utf8_lossy(&body));
                    accepted += 1;
                } else if serde {
                    let text = std::str::from_utf8(&body);
                    assert!(
                        text.is_err() || text.is_ok_and(surrogate_escape),
                        "refused what serde accepts: {}",
                        String::from_utf8_lossy(&body)
                    );
                    stricter += 1;
                }
            }
        }
        assert!(
            checked > 8_000 && accepted > 1_000 && stricter < accepted / 10,
            "{checked} {accepted} {stricter}"
        );
    }

    /// Whether `text` escapes a UTF-16 surrogate (`\uD800` to `\uDFFF`).
    fn surrogate_escape(text: &str) -> bool {
        text.as_bytes().windows(4).any(|w| {
            w[..3].eq_ignore_ascii_case(b"\\ud")
                && matches!(w[3], b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
        })
    }
}
