//! What the app fetched last, by request, with when: the UI shows data age
//! ("as of 12:03:55") and, when the server cannot be reached, the last
//! answer marked stale instead of an empty screen.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Bounded so a long session browsing many customers does not grow without end.
const MAX_ENTRIES: usize = 512;

/// Answers are kept as compact JSON text: a `serde_json::Value` of a
/// 365-day series holds several times its text's size.
#[derive(Default)]
pub struct Cache {
    entries: Mutex<HashMap<String, (DateTime<Utc>, String)>>,
}

impl Cache {
    pub fn put<T: Serialize>(&self, key: &str, at: DateTime<Utc>, value: &T) {
        let Ok(json) = serde_json::to_string(value) else { return };
        let mut map = self.entries.lock().expect("cache lock");
        if map.len() >= MAX_ENTRIES && !map.contains_key(key) {
            // Evict the oldest answer.
            if let Some(oldest) = map.iter().min_by_key(|(_, (t, _))| *t).map(|(k, _)| k.clone()) {
                map.remove(&oldest);
            }
        }
        map.insert(key.to_owned(), (at, json));
    }

    /// The last answer for `key` and when it was fetched.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<(DateTime<Utc>, T)> {
        let map = self.entries.lock().expect("cache lock");
        let (at, json) = map.get(key)?;
        serde_json::from_str(json).ok().map(|v| (*at, v))
    }

    /// Forgets everything (another server: its answers are not ours).
    pub fn clear(&self) {
        self.entries.lock().expect("cache lock").clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn keeps_the_last_answer_with_its_age_and_evicts_the_oldest() {
        let cache = Cache::default();
        let t = |s| Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap();
        cache.put("a", t(0), &vec![1, 2]);
        cache.put("a", t(5), &vec![3]);
        assert_eq!(cache.get::<Vec<i32>>("a"), Some((t(5), vec![3])));
        assert_eq!(cache.get::<Vec<i32>>("b"), None);
        for i in 0..MAX_ENTRIES as i64 {
            cache.put(&format!("k{i}"), t(10 + i), &i);
        }
        assert_eq!(cache.get::<Vec<i32>>("a"), None, "the oldest went first");
        assert_eq!(cache.get::<i64>("k0"), Some((t(10), 0)));
        cache.clear();
        assert_eq!(cache.get::<i64>("k0"), None);
    }
}
