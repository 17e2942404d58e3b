//! Bearer tokens: random, shown once, stored only as a SHA-256 hash (they
//! are 256-bit random secrets, so a fast hash is enough: there is nothing
//! to brute-force).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use creditdesk_store::User;
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

/// How long a token lookup is trusted without reading the database again.
/// A token revoked through this server is refused from the next request;
/// revoked by the `users revoke` command or through another server sharing
/// the database, within this long.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(1);

/// Tokens this many at most are remembered (then the cache starts over).
const TOKEN_CACHE_MAX: usize = 4096;

/// Recent token lookups by token hash. Every request authenticates, and a
/// database read per request cost more than the ingest of a small batch;
/// a second's staleness is the price, bounded and documented.
pub struct TokenCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (User, Instant)>>,
}

impl Default for TokenCache {
    fn default() -> TokenCache {
        TokenCache::with_ttl(TOKEN_CACHE_TTL)
    }
}

impl TokenCache {
    pub fn with_ttl(ttl: Duration) -> TokenCache {
        TokenCache { ttl, entries: Mutex::default() }
    }

    /// The user of a token hash, if looked up less than the TTL ago.
    pub fn get(&self, hash: &str) -> Option<User> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(hash).filter(|(_, at)| at.elapsed() < self.ttl).map(|(u, _)| u.clone())
    }

    pub fn put(&self, hash: String, user: User) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= TOKEN_CACHE_MAX {
            entries.clear();
        }
        entries.insert(hash, (user, Instant::now()));
    }

    /// Forgets every lookup of this user (called when it is revoked here).
    pub fn forget_user(&self, user_id: &str) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).retain(|_, (u, _)| u.id != user_id);
    }
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

    fn user(id: &str) -> User {
        User {
            id: id.into(),
            name: id.into(),
            role: "agent".into(),
            created_at: chrono::DateTime::UNIX_EPOCH,
            revoked_at: None,
        }
    }

    #[test]
    fn token_lookups_are_kept_for_the_ttl_and_forgotten_on_revocation() {
        let cache = TokenCache::default();
        cache.put("h1".into(), user("u1"));
        cache.put("h2".into(), user("u2"));
        assert_eq!(cache.get("h1").map(|u| u.id), Some("u1".into()));
        cache.forget_user("u1");
        assert!(cache.get("h1").is_none());
        assert_eq!(cache.get("h2").map(|u| u.id), Some("u2".into()));

        let expired = TokenCache::with_ttl(Duration::ZERO);
        expired.put("h1".into(), user("u1"));
        assert!(expired.get("h1").is_none());
    }
}
