//! A validating one-pass scanner of JSON text for the cheap readers of upstream replies
//! ([`crate::passthrough`]'s quick reply, [`crate::chunk`]'s quick chunk): it checks
//! JSON's grammar as it moves (strings eight bytes at a time) and lets its caller take the
//! few fields it acts on. Every method returns `None` for anything it does not accept —
//! malformed JSON, but also what a caller chose not to handle — and the caller then falls
//! back to serde, whose answer is the one that counts. Escapes and the numbers a caller
//! keeps are handed to serde_json, so their rules are serde_json's.

/// Nesting deeper than this is left to serde (whose own limit is 128).
const MAX_DEPTH: u32 = 64;

/// Puts a field into its slot; `None` when it was there already (serde refuses a
/// duplicated field of a struct) or could not be read.
pub(crate) fn once<T>(slot: &mut Option<T>, value: Option<T>) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value?);
    Some(())
}

/// A cursor over a JSON text (valid UTF-8, checked by the caller's `&str`).
pub(crate) struct Scan<'a> {
    b: &'a [u8],
    s: &'a str,
    i: usize,
    depth: u32,
}

impl<'a> Scan<'a> {
    /// A cursor at the start of `text`.
    pub(crate) fn new(text: &'a str) -> Scan<'a> {
        Scan {
            b: text.as_bytes(),
            s: text,
            i: 0,
            depth: 0,
        }
    }

    /// Only whitespace is left.
    pub(crate) fn end(&mut self) -> Option<()> {
        self.ws();
        (self.i == self.b.len()).then_some(())
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.i += 1)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i + word.len();
        (self.b.get(self.i..end)? == word).then(|| self.i = end)
    }

    /// A string at the cursor, checked: its raw contents, and when it has escapes, the
    /// whole token with its quotes (the escapes are checked by serde_json, whose rules for
    /// them are the ones that count).
    fn string(&mut self) -> Option<(&'a str, Option<&'a str>)> {
        let (raw, token) = self.string_unchecked()?;
        if let Some(token) = token {
            serde_json::from_str::<serde::de::IgnoredAny>(token).ok()?;
        }
        Some((raw, token))
    }

    /// [`Self::string`] with its escapes not yet checked: for a caller that declines an
    /// escaped string, or has serde_json read it (which checks it as it unescapes).
    fn string_unchecked(&mut self) -> Option<(&'a str, Option<&'a str>)> {
        self.eat(b'"')?;
        let start = self.i;
        let mut escaped = false;
        loop {
            self.skip_plain_text();
            match *self.b.get(self.i)? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    // The escaped byte is never the closing quote.
                    self.i += 2;
                }
                0x00..=0x1f => return None,
                _ => self.i += 1,
            }
        }
        let raw = self.s.get(start..self.i)?;
        self.i += 1;
        if !escaped {
            return Some((raw, None));
        }
        Some((raw, Some(self.s.get(start - 1..self.i)?)))
    }

    /// Moves the cursor inside a string to its next quote, backslash or control byte
    /// (or the end), eight bytes at a time.
    fn skip_plain_text(&mut self) {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        // A byte of `w` that is zero sets its high bit here. A byte above a zero one may
        // too (the borrow), but the lowest bit set is always a true zero byte, so the
        // lowest bit of the three tests below is the first special byte.
        let zero_byte = |w: u64| w.wrapping_sub(ONES) & !w & HIGH;
        let special = |c: u8| c == b'"' || c == b'\\' || c < 0x20;
        let mut i = self.i;
        while let Some(chunk) = self.b.get(i..i + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let w = u64::from_le_bytes(word);
            let hits = zero_byte(w ^ (ONES * u64::from(b'"')))
                | zero_byte(w ^ (ONES * u64::from(b'\\')))
                | (w.wrapping_sub(ONES * 0x20) & !w & HIGH);
            if hits != 0 {
                self.i = i + (hits.trailing_zeros() / 8) as usize;
                return;
            }
            i += 8;
        }
        while self.b.get(i).is_some_and(|&c| !special(c)) {
            i += 1;
        }
        self.i = i;
    }

    /// A number at the cursor, by JSON's grammar; its text.
    pub(crate) fn number(&mut self) -> Option<&'a str> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            self.some_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            self.some_digits()?;
        }
        self.s.get(start..self.i)
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
    }

    fn some_digits(&mut self) -> Option<()> {
        let start = self.i;
        self.digits();
        (self.i > start).then_some(())
    }

    /// Any value, checked and skipped.
    pub(crate) fn skip_value(&mut self) -> Option<()> {
        self.ws();
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' => self.object(|scan, _| scan.skip_value()),
            b'[' => self.array(|scan| scan.skip_value()),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number().map(drop),
        }
    }

    /// Any value, checked and skipped; its text.
    pub(crate) fn raw_value(&mut self) -> Option<&'a str> {
        self.ws();
        let start = self.i;
        self.skip_value()?;
        self.s.get(start..self.i)
    }

    /// An object; `member` is called with each key (without escapes: a key with escapes
    /// might spell a field, so it gives `None`) and must consume the value.
    pub(crate) fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, &'a str) -> Option<()>,
    ) -> Option<()> {
        self.object_at(|scan, key, _| member(scan, key))
    }

    /// [`Self::object`], `member` also given where its key starts.
    pub(crate) fn object_at(
        &mut self,
        mut member: impl FnMut(&mut Self, &'a str, usize) -> Option<()>,
    ) -> Option<()> {
        self.sequence(b'{', b'}', |scan| scan.member(&mut member))
    }

    /// The rest of a top-level object whose members before `at` were read already: `at`
    /// is where a key starts (as [`Self::object_at`] gave it), after at least one member.
    pub(crate) fn object_from(
        &mut self,
        at: usize,
        mut member: impl FnMut(&mut Self, &'a str, usize) -> Option<()>,
    ) -> Option<()> {
        self.i = at;
        self.enter()?;
        self.rest_of_sequence(b'}', |scan| scan.member(&mut member))
    }

    fn member(
        &mut self,
        member: &mut impl FnMut(&mut Self, &'a str, usize) -> Option<()>,
    ) -> Option<()> {
        self.ws();
        let at = self.i;
        let (key, None) = self.string_unchecked()? else {
            return None;
        };
        self.ws();
        self.eat(b':')?;
        member(self, key, at)
    }

    /// An array; `element` must consume each element.
    pub(crate) fn array(&mut self, element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.sequence(b'[', b']', element)
    }

    /// `open`, items separated by commas, `close`; `item` must consume each item.
    fn sequence(
        &mut self,
        open: u8,
        close: u8,
        item: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        self.ws();
        self.eat(open)?;
        self.enter()?;
        self.ws();
        if self.eat(close).is_some() {
            self.depth -= 1;
            return Some(());
        }
        self.rest_of_sequence(close, item)
    }

    /// Items from the cursor (at an item) to `close`, inside a sequence already entered.
    fn rest_of_sequence(
        &mut self,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        loop {
            item(self)?;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                c if c == close => {
                    self.i += 1;
                    break;
                }
                _ => return None,
            }
        }
        self.depth -= 1;
        Some(())
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    pub(crate) fn null(&mut self) -> Option<()> {
        self.ws();
        self.literal(b"null")
    }

    pub(crate) fn is_null(&mut self) -> bool {
        self.ws();
        self.literal(b"null").is_some()
    }

    /// A string without escapes, or null (`None`).
    pub(crate) fn plain_text_or_null(&mut self) -> Option<Option<&'a str>> {
        if self.is_null() {
            return Some(None);
        }
        match self.string_unchecked()? {
            (text, None) => Some(Some(text)),
            (_, Some(_)) => None,
        }
    }

    /// A string (unescaped: borrowed when it has no escapes), or null (`None`).
    pub(crate) fn text_or_null(&mut self) -> Option<Option<std::borrow::Cow<'a, str>>> {
        if self.is_null() {
            return Some(None);
        }
        Some(Some(match self.string_unchecked()? {
            (raw, None) => std::borrow::Cow::Borrowed(raw),
            (_, Some(token)) => std::borrow::Cow::Owned(serde_json::from_str(token).ok()?),
        }))
    }

    /// A number read as serde reads a field of type `T` (`u64`: an integer that fits;
    /// `f64`: any number), or null.
    pub(crate) fn number_or_null<T: serde::de::DeserializeOwned>(&mut self) -> Option<Option<T>> {
        if self.is_null() {
            return Some(None);
        }
        Some(Some(serde_json::from_str(self.number()?).ok()?))
    }
}

/// Every body one edit away from `base`, for the quick readers' property tests: each
/// byte cut, doubled, or replaced by a byte that matters to JSON (or a control byte, or
/// the start of a multi-byte character), and `base` cut short at each byte.
#[cfg(test)]
pub(crate) fn one_edit_away(base: &str) -> Vec<Vec<u8>> {
    let replacements: &[u8] = b"\"\\{}[],:0123456789-+.eEtrufalsn \x01\xc3";
    let bytes = base.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() * (3 + replacements.len()));
    for at in 0..bytes.len() {
        out.push([&bytes[..at], &bytes[at + 1..]].concat());
        out.push([&bytes[..=at], &bytes[at..]].concat());
        out.push(bytes[..at].to_vec());
        for &r in replacements {
            let mut v = bytes.to_vec();
            v[at] = r;
            out.push(v);
        }
    }
    out
}
