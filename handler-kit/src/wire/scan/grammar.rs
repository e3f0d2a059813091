//! The JSON grammar, read left to right without recursion: strings, numbers, literals, any
//! value, and the members of an object. What is recorded along the way is up to the caller
//! (see the parent module).

use wide::u8x16;

use super::{Key, Result, ScanError};

/// Bit `i` is set when byte `i` of `chunk` ends or interrupts a string: `"`, `\` or a control
/// character (below 0x20; JSON requires them escaped). Sixteen bytes at once, with `wide`'s safe
/// SIMD (SSE2 on x86_64, NEON on aarch64, plain code elsewhere).
#[inline(always)]
fn string_stops(chunk: [u8; 16]) -> u32 {
    let bytes = u8x16::new(chunk);
    let quote = bytes.simd_eq(u8x16::splat(b'"'));
    let backslash = bytes.simd_eq(u8x16::splat(b'\\'));
    let control = bytes.max(u8x16::splat(0x1f)).simd_eq(u8x16::splat(0x1f));
    (quote | backslash | control).to_bitmask()
}

/// The position of the first `"`, `\` or control character at or after `pos`, if any.
#[inline(always)]
fn next_string_stop(bytes: &[u8], mut pos: usize) -> Option<usize> {
    let rest = bytes.get(pos..).unwrap_or_default();
    let mut chunks = rest.chunks_exact(16);
    for chunk in &mut chunks {
        let mut block = [0u8; 16];
        block.copy_from_slice(chunk);
        let stops = string_stops(block);
        if stops != 0 {
            return Some(pos + stops.trailing_zeros() as usize);
        }
        pos += 16;
    }
    // The last few bytes, padded with spaces (which stop nothing).
    let tail = chunks.remainder();
    let mut block = [b' '; 16];
    block[..tail.len()].copy_from_slice(tail);
    let stops = string_stops(block);
    (stops != 0).then(|| pos + stops.trailing_zeros() as usize)
}

/// Which containers are open, one bit per level (1 = object, 0 = array): the first 256 levels
/// in place, deeper ones (rare, but valid JSON) in a vector.
struct Nesting {
    near: [u64; 4],
    deep: Vec<u64>,
}

impl Nesting {
    fn new() -> Self {
        Nesting {
            near: [0; 4],
            deep: Vec::new(),
        }
    }

    #[inline(always)]
    fn word(&mut self, level: usize) -> &mut u64 {
        let word = level / 64;
        let near = self.near.len();
        if word < near {
            return &mut self.near[word];
        }
        let deep = word - near;
        if deep >= self.deep.len() {
            self.deep.resize(deep + 1, 0);
        }
        &mut self.deep[deep]
    }

    #[inline(always)]
    fn set(&mut self, level: usize, object: bool) {
        let bit = 1u64 << (level % 64);
        let word = self.word(level);
        if object {
            *word |= bit;
        } else {
            *word &= !bit;
        }
    }

    #[inline(always)]
    fn is_object(&mut self, level: usize) -> bool {
        *self.word(level) & (1u64 << (level % 64)) != 0
    }
}

pub(super) struct Scanner<'t> {
    pub(super) bytes: &'t [u8],
    pub(super) pos: usize,
}

impl<'t> Scanner<'t> {
    pub(super) fn new(text: &'t str) -> Self {
        Scanner {
            bytes: text.as_bytes(),
            pos: 0,
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

    #[cold]
    #[inline(never)]
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

    // Inlined: returned through memory, the key was read back with one wide load over the two
    // narrower stores that had just written it (a store-forwarding stall, which cost more than
    // the rest of reading the key).
    #[inline(always)]
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
    #[inline(always)]
    pub(super) fn string(&mut self) -> Result<bool> {
        // Most strings (keys, names, channels) are short: their first sixteen bytes at once,
        // in the caller.
        let first = self.pos + 1;
        if let Some(block) = self.bytes.get(first..).and_then(|rest| rest.first_chunk()) {
            let stops = string_stops(*block);
            let at = first + stops.trailing_zeros() as usize;
            if stops != 0 && self.bytes.get(at) == Some(&b'"') {
                self.pos = at + 1;
                return Ok(false);
            }
        }
        self.string_rest()
    }

    /// [`Scanner::string`] beyond its first look: long strings, escapes, errors.
    #[inline(never)]
    fn string_rest(&mut self) -> Result<bool> {
        self.pos += 1;
        let mut escaped = false;
        loop {
            let Some(at) = next_string_stop(self.bytes, self.pos) else {
                return Err(ScanError::at("a string is not closed", self.bytes.len()));
            };
            self.pos = at;
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(escaped);
                }
                Some(b'\\') => {
                    escaped = true;
                    self.escape()?;
                }
                _ => {
                    return Err(ScanError::at(
                        "a control character must be escaped in a string",
                        at,
                    ));
                }
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
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        self.pos += rest
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(rest.len());
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

    /// [`Scanner::value`], telling whether the value is a string holding an escape.
    #[inline]
    pub(super) fn value_noting_escapes(&mut self) -> Result<bool> {
        if self.peek() == Some(b'"') {
            self.string()
        } else {
            self.value().map(|()| false)
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
        let mut nesting = Nesting::new();
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
                        nesting.set(depth, open == b'{');
                        if open == b'{' {
                            self.ws();
                            self.key()?;
                            self.ws();
                            self.expect(b':', "expected `:` after an object key")?;
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
                let in_object = nesting.is_object(top);
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
