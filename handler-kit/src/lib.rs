pub mod verify;
pub mod wire;

pub use verify::{ConfigError, Keyring, Rejection, Verified, Verifier};
