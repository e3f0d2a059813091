//! The `X-Pusher-Signature` rule: lowercase hex of HMAC-SHA256, keyed with the app secret's
//! UTF-8 bytes, over the exact payload bytes.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Length in bytes of an HMAC-SHA256 digest.
pub const SIGNATURE_LEN: usize = 32;
/// Length in characters of a signature as sent in `X-Pusher-Signature`.
pub const SIGNATURE_HEX_LEN: usize = 2 * SIGNATURE_LEN;

/// An app secret. Its `Debug` output never shows the secret.
///
/// The signing key is prepared once, so verifying many payloads with the same secret does not
/// re-derive it each time.
///
/// ```
/// use soketi_handler_kit::wire::Secret;
/// let secret = Secret::new("app1secret");
/// assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
/// ```
#[derive(Clone)]
pub struct Secret {
    mac: HmacSha256,
}

impl Secret {
    /// A secret from its text, as it appears in soketi's app configuration.
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        // HMAC accepts keys of any length (long keys are hashed first): this cannot fail.
        let mac = HmacSha256::new_from_slice(secret.as_ref())
            .expect("HMAC-SHA256 accepts keys of any length");
        Secret { mac }
    }

    /// Signs `payload`: what goes into `X-Pusher-Signature`.
    ///
    /// ```
    /// use soketi_handler_kit::wire::Secret;
    /// let payload = br#"{"time_ms":1795877256368,"events":[{"name":"channel_occupied","channel":"public-chan"}]}"#;
    /// assert_eq!(
    ///     Secret::new("app1secret").sign(payload).to_string(),
    ///     "85ec68d7113d3f7ad3173227f71b3cbbdf08d39656033108ded87ddf9f98e8bb"
    /// );
    /// ```
    pub fn sign(&self, payload: &[u8]) -> Signature {
        let mut mac = self.mac.clone();
        mac.update(payload);
        let mut out = [0u8; SIGNATURE_LEN];
        out.copy_from_slice(&mac.finalize().into_bytes());
        Signature(out)
    }

    /// Whether `signature` is this secret's signature of `payload`, compared in constant time.
    pub fn verifies(&self, payload: &[u8], signature: &Signature) -> bool {
        self.sign(payload) == *signature
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The value of a lowercase hex digit, or 0xff for any other byte (upper case included).
const fn hex_digit(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => 0xff,
    }
}

/// [`hex_digit`] of every byte, so that decoding a digit is one load.
const HEX_DIGITS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = hex_digit(b as u8);
        b += 1;
    }
    table
};

/// A decoded `X-Pusher-Signature`: the 32 bytes of an HMAC-SHA256.
///
/// `Display` prints the lowercase hex form sent on the wire. `==` compares in constant time,
/// like [`Secret::verifies`], so comparing a received signature with an expected one by hand
/// leaks nothing either.
#[derive(Clone, Copy, Eq)]
pub struct Signature([u8; SIGNATURE_LEN]);

impl PartialEq for Signature {
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.words()[..].ct_eq(&other.words()[..]))
    }
}

impl Signature {
    /// Parses the header value: exactly 64 lowercase hex digits, as soketi, Pusher and Node's
    /// `digest('hex')` produce. Anything else is an error, never a panic.
    ///
    /// ```
    /// use soketi_handler_kit::wire::{Signature, SignatureFormatError};
    /// let hex = "85ec68d7113d3f7ad3173227f71b3cbbdf08d39656033108ded87ddf9f98e8bb";
    /// assert_eq!(Signature::from_hex(hex).unwrap().to_string(), hex);
    /// assert_eq!(Signature::from_hex("abc"), Err(SignatureFormatError::WrongLength { len: 3 }));
    /// assert_eq!(
    ///     Signature::from_hex(&hex.to_uppercase()),
    ///     Err(SignatureFormatError::Uppercase)
    /// );
    /// ```
    pub fn from_hex(value: &str) -> Result<Self, SignatureFormatError> {
        let bytes = value.as_bytes();
        if bytes.len() != SIGNATURE_HEX_LEN {
            return Err(SignatureFormatError::WrongLength { len: bytes.len() });
        }
        // One pass: each digit decoded, anything else noted; errors are told apart after.
        let mut out = [0u8; SIGNATURE_LEN];
        let mut seen = 0u8;
        for (byte, [hi, lo]) in out.iter_mut().zip(bytes.as_chunks::<2>().0) {
            let (hi, lo) = (HEX_DIGITS[usize::from(*hi)], HEX_DIGITS[usize::from(*lo)]);
            seen |= hi | lo;
            *byte = (hi << 4) | (lo & 0xf);
        }
        if seen > 0xf {
            if let Some(position) = bytes.iter().position(|b| !b.is_ascii_hexdigit()) {
                return Err(SignatureFormatError::NotHex { position });
            }
            return Err(SignatureFormatError::Uppercase);
        }
        Ok(Signature(out))
    }

    /// The raw digest bytes.
    pub fn as_bytes(&self) -> &[u8; SIGNATURE_LEN] {
        &self.0
    }

    /// The digest as four words, which `==` compares in constant time (a quarter of the
    /// steps of comparing 32 bytes one by one, each behind an optimization barrier).
    fn words(&self) -> [u64; SIGNATURE_LEN / 8] {
        let mut words = [0u64; SIGNATURE_LEN / 8];
        for (word, bytes) in words.iter_mut().zip(self.0.as_chunks::<8>().0) {
            *word = u64::from_ne_bytes(*bytes);
        }
        words
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({self})")
    }
}

/// Why an `X-Pusher-Signature` value is not a well-formed signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureFormatError {
    /// Not 64 characters long.
    #[error("signature must be 64 hex digits, got {len} characters")]
    WrongLength {
        /// The length received, in bytes.
        len: usize,
    },
    /// A character that is not a hex digit.
    #[error("signature must be hex digits, found another character at position {position}")]
    NotHex {
        /// Byte offset of the first offending character.
        position: usize,
    },
    /// Hex digits in upper case: soketi and Pusher always send lower case.
    #[error("signature must be lowercase hex (soketi and Pusher send lowercase), got uppercase")]
    Uppercase,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_flipped_bit_fails_and_the_original_verifies() {
        let secret = Secret::new("s3cret");
        let payload = b"{\"time_ms\":1,\"events\":[]}".to_vec();
        let sig = secret.sign(&payload);
        assert!(secret.verifies(&payload, &sig));
        for i in 0..payload.len() {
            let mut tampered = payload.clone();
            tampered[i] ^= 0x01;
            assert!(!secret.verifies(&tampered, &sig), "byte {i}");
        }
        assert!(!Secret::new("other").verifies(&payload, &sig));
    }

    #[test]
    fn signatures_differing_in_any_bit_are_unequal() {
        let signature = Secret::new("s").sign(b"payload");
        assert_eq!(signature, Signature(*signature.as_bytes()));
        for i in 0..SIGNATURE_LEN * 8 {
            let mut bytes = *signature.as_bytes();
            bytes[i / 8] ^= 1 << (i % 8);
            assert_ne!(signature, Signature(bytes), "bit {i}");
        }
    }

    #[test]
    fn every_digit_decodes_to_its_value() {
        let hex = "0123456789abcdef".repeat(4);
        let signature = Signature::from_hex(&hex).expect("lowercase hex");
        assert_eq!(signature.to_string(), hex);
        assert_eq!(
            signature.as_bytes()[..8],
            [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]
        );
        for b in 0..=255u8 {
            let mut text = "0".repeat(SIGNATURE_HEX_LEN).into_bytes();
            text[63] = b;
            let Ok(text) = String::from_utf8(text) else {
                continue;
            };
            let expected = matches!(b, b'0'..=b'9' | b'a'..=b'f');
            assert_eq!(Signature::from_hex(&text).is_ok(), expected, "byte {b}");
        }
    }

    #[test]
    fn malformed_signatures_are_errors() {
        let good = "0".repeat(64);
        assert!(Signature::from_hex(&good).is_ok());
        assert_eq!(
            Signature::from_hex(&"0".repeat(63)),
            Err(SignatureFormatError::WrongLength { len: 63 })
        );
        let mut non_hex = good.clone();
        non_hex.replace_range(10..11, "g");
        assert_eq!(
            Signature::from_hex(&non_hex),
            Err(SignatureFormatError::NotHex { position: 10 })
        );
        // A multi-byte character of the right byte length is not hex either.
        let multibyte = format!("é{}", "0".repeat(62));
        assert_eq!(
            Signature::from_hex(&multibyte),
            Err(SignatureFormatError::NotHex { position: 0 })
        );
        assert_eq!(
            Signature::from_hex(&"A".repeat(64)),
            Err(SignatureFormatError::Uppercase)
        );
    }
}
