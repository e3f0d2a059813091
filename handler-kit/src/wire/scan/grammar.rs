//! The JSON grammar, read left to right without recursion: strings, numbers, literals, any
//! value, and the members of an object. What is recorded along the way is up to the caller
//! (see the parent module).

use super::{Key, Result, ScanError};

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Flags (high bit of each byte) the bytes of `w` that end or interrupt a string: `"`, `\` or
/// a control character. Only the lowest flag is exact, which is the one used.
#[inline(always)]
fn string_stops(w: u64) -> u64 {
    let quote = w ^ (LO * u64::from(b'"'));
    let backslash = w ^ (LO * u64::from(b'\\'));
    let zero_quote = quote.wrapping_sub(LO) & !quote;
    let zero_backslash = backslash.wrapping_sub(LO) & !backslash;
    let control = w.wrapping_sub(LO * 0x20) & !w;
    (zero_quote | zero_backslash | control) & HI
}

pub(super) struct Scanner<'t> {
    pub(super) bytes: &'t [u8],
    pub(super) pos: usize,
    /// Whether the text holds any control character (below 0x20) at all. `JSON.stringify`
    /// writes none (no whitespace, and escapes them in strings), so usually strings need no
    /// check for them and are skipped with a vectorized search for `"` and `\`.
    has_controls: bool,
}

/// Whether any byte is below 0x20 (a loop the compiler vectorizes: no early exit).
fn has_controls(bytes: &[u8]) -> bool {
    bytes
        .chunks(4096)
        .any(|chunk| chunk.iter().fold(false, |found, &b| found | (b < 0x20)))
}

impl<'t> Scanner<'t> {
    pub(super) fn new(text: &'t str) -> Self {
        Scanner {
            bytes: text.as_bytes(),
            pos: 0,
            has_controls: has_controls(text.as_bytes()),
        }
    }

    #[inline(always)]
    pub(super) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    #[inline(always)]
    pub(super) fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    pub(super) fn expect(&mut self, byte: u8, what: &str) -> Result<()> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    pub(super) fn unexpected(&self, what: &str) -> ScanError {
        match self.peek() {
            None => ScanError::at(format!("{what}, but the text ended"), self.pos),
            Some(b) if b.is_ascii_graphic() => {
                ScanError::at(format!("{what}, found `{}`", char::from(b)), self.pos)
            }
            Some(b) => ScanError::at(format!("{what}, found byte 0x{b:02x}"), self.pos),
        }
    }

    /// After the top-level value: only whitespace may follow.
    pub(super) fn end(&mut self) -> Result<()> {
        self.ws();
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(self.unexpected("expected the end of the JSON text"))
        }
    }

    /// Walks the members of an object whose `{` is next: for each, reads the key and the `:`,
    /// then lets `f` read the value.
    pub(super) fn members(
        &mut self,
        mut f: impl FnMut(&mut Self, Key<'t>) -> Result<()>,
    ) -> Result<()> {
        self.expect(b'{', "expected an object")?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.ws();
            let key = self.key()?;
            self.ws();
            self.expect(b':', "expected `:` after an object key")?;
            self.ws();
            f(self, key)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.unexpected("expected `,` or `}` in an object")),
            }
        }
    }

    pub(super) fn key(&mut self) -> Result<Key<'t>> {
        if self.peek() != Some(b'"') {
            return Err(self.unexpected("expected a string key"));
        }
        let start = self.pos;
        let escaped = self.string()?;
        Ok(if escaped {
            // The text is UTF-8 and the literal lies between ASCII quotes.
            Key::Escaped(std::str::from_utf8(&self.bytes[start..self.pos]).unwrap_or_default())
        } else {
            Key::Plain(&self.bytes[start + 1..self.pos - 1])
        })
    }

    /// Reads a string whose `"` is next; returns whether it holds an escape.
    #[inline]
    pub(super) fn string(&mut self) -> Result<bool> {
        self.pos += 1;
        // Most strings are short: look at the first eight bytes at once.
        if let Some(chunk) = self.bytes.get(self.pos..self.pos + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let stops = string_stops(u64::from_le_bytes(word));
            if stops != 0 {
                let at = self.pos + (stops.trailing_zeros() / 8) as usize;
                if self.bytes[at] == b'"' {
                    self.pos = at + 1;
                    return Ok(false);
                }
            }
        }
        if self.has_controls {
            self.string_checking_controls()
        } else {
            self.string_without_controls()
        }
    }

    /// The rest of a string, in a text with no control character: only `"` and `\` stop.
    fn string_without_controls(&mut self) -> Result<bool> {
        let mut escaped = false;
        loop {
            let rest = self.bytes.get(self.pos..).unwrap_or_default();
            match memchr::memchr2(b'"', b'\\', rest) {
                Some(i) if rest[i] == b'"' => {
                    self.pos += i + 1;
                    return Ok(escaped);
                }
                Some(i) => {
                    self.pos += i;
                    escaped = true;
                    self.escape()?;
                }
                None => return Err(ScanError::at("a string is not closed", self.bytes.len())),
            }
        }
    }

    /// The rest of a string, eight bytes at a time to the next quote, backslash or control
    /// character.
    fn string_checking_controls(&mut self) -> Result<bool> {
        let mut escaped = false;
        loop {
            while let Some(chunk) = self.bytes.get(self.pos..self.pos + 8) {
                let mut word = [0u8; 8];
                word.copy_from_slice(chunk);
                let stops = string_stops(u64::from_le_bytes(word));
                if stops != 0 {
                    self.pos += (stops.trailing_zeros() / 8) as usize;
                    break;
                }
                self.pos += 8;
            }
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(escaped);
                }
                Some(b'\\') => {
                    escaped = true;
                    self.escape()?;
                }
                Some(b) if b < 0x20 => {
                    return Err(ScanError::at(
                        "a control character must be escaped in a string",
                        self.pos,
                    ));
                }
                Some(_) => self.pos += 1,
                None => return Err(ScanError::at("a string is not closed", self.pos)),
            }
        }
    }

    fn escape(&mut self) -> Result<()> {
        let at = self.pos;
        match self.bytes.get(self.pos + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.pos += 2;
                Ok(())
            }
            Some(b'u') => {
                let digits = self.bytes.get(self.pos + 2..self.pos + 6);
                if digits.is_some_and(|d| d.iter().all(u8::is_ascii_hexdigit)) {
                    self.pos += 6;
                    Ok(())
                } else {
                    Err(ScanError::at("a \\u escape needs four hex digits", at))
                }
            }
            _ => Err(ScanError::at("invalid escape in a string", at)),
        }
    }

    fn number(&mut self) -> Result<()> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(ScanError::at("invalid number", start)),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return Err(ScanError::at("invalid number", start));
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return Err(ScanError::at("invalid number", start));
            }
            self.digits();
        }
        Ok(())
    }

    #[inline]
    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<()> {
        if self.bytes.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(ScanError::at("expected a JSON value", self.pos))
        }
    }

    /// Reads one value that is not an object or an array.
    #[inline]
    fn scalar(&mut self) -> Result<()> {
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            _ => Err(self.unexpected("expected a JSON value")),
        }
    }

    /// Reads any value, of any depth, without recursion: open containers are bits on a stack.
    #[inline]
    pub(super) fn value(&mut self) -> Result<()> {
        match self.peek() {
            Some(b'{' | b'[') => self.container(),
            _ => self.scalar(),
        }
    }

    /// Reads an object or array and everything in it.
    fn container(&mut self) -> Result<()> {
        // One bit per open container: 1 = object, 0 = array.
        let mut stack: Vec<u64> = Vec::new();
        let mut depth = 0usize;
        loop {
            // A value starts here.
            self.ws();
            match self.peek() {
                Some(open @ (b'{' | b'[')) => {
                    self.pos += 1;
                    self.ws();
                    let close = if open == b'{' { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.pos += 1;
                    } else {
                        let (word, bit) = (depth / 64, depth % 64);
                        if word == stack.len() {
                            stack.push(0);
                        }
                        if open == b'{' {
                            stack[word] |= 1 << bit;
                            self.ws();
                            self.key()?;
                            self.ws();
                            self.expect(b':', "expected `:` after an object key")?;
                        } else {
                            stack[word] &= !(1 << bit);
                        }
                        depth += 1;
                        continue;
                    }
                }
                _ => self.scalar()?,
            }
            // A value ended: close containers until one continues.
            loop {
                if depth == 0 {
                    return Ok(());
                }
                let top = depth - 1;
                let in_object = stack[top / 64] & (1 << (top % 64)) != 0;
                self.ws();
                match (self.peek(), in_object) {
                    (Some(b','), true) => {
                        self.pos += 1;
                        self.ws();
                        self.key()?;
                        self.ws();
                        self.expect(b':', "expected `:` after an object key")?;
                        break;
                    }
                    (Some(b','), false) => {
                        self.pos += 1;
                        break;
                    }
                    (Some(b'}'), true) | (Some(b']'), false) => {
                        self.pos += 1;
                        depth -= 1;
                    }
                    (_, true) => return Err(self.unexpected("expected `,` or `}` in an object")),
                    (_, false) => return Err(self.unexpected("expected `,` or `]` in an array")),
                }
            }
        }
    }
}
