//! Bearer tokens: random, shown once, stored only as a SHA-256 hash (they
//! are 256-bit random secrets, so a fast hash is enough: there is nothing
//! to brute-force).

use rand::RngCore;
use sha2::{Digest, Sha256};

/// Prefix that makes Creditdesk tokens recognisable in logs and scanners.
pub const TOKEN_PREFIX: &str = "cdk_";

pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashes_stable() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 64);
        assert_eq!(hash_token("x"), hash_token("x"));
        assert_eq!(hash_token("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
