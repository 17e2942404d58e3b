//! SQLite's own page cache, with one page number stored under another key
//! (process-wide: installed before SQLite initialises).
//!
//! Why: when a B-tree balance leaves new sibling pages out of order,
//! SQLite swaps their numbers through a spare one, the number of the
//! page that holds the locking byte (`PENDING_BYTE / page_size + 1`:
//! 131,073 for 8 KiB pages), which no database uses for data
//! (`balance_nonroot`). The default cache (`pcache1`) keeps the largest
//! key it has seen, and at the end of every write transaction drops the
//! pages past the database's end: with that spare number more than its
//! hash table's size past the end, which it is for any database under
//! 1 GiB, it scans the whole hash table, every page it holds, instead of
//! the few slots past the end. On the writer's 32 MiB cache that was
//! 2.3 % of the writer thread at 100,000 events/s (`perf`, 2026-12-06;
//! docs/bench-experiments.md, "The page cache's spare page number, the staging
//! guard's cost and the restarts"; docs/server.md).
//!
//! This wrapper passes every call to the default cache, except that the
//! spare number is stored under key 0, which SQLite never asks for (page
//! numbers start at 1), so the default cache's largest key stays within
//! the database. A truncation that would have dropped the spare number's
//! page drops key 0's: the same pages leave as before.

use std::ffi::{c_int, c_uint, c_void};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;

use rusqlite::ffi;

/// The byte SQLite locks on, at 1 GiB (`sqlite3PendingByte`); the page
/// holding it is the spare number.
const PENDING_BYTE: c_uint = 0x4000_0000;

/// The default cache's methods (SQLite's global configuration keeps its
/// own copy; this one is what the wrapper calls).
struct Base(ffi::sqlite3_pcache_methods2);

// SAFETY: the methods table is written once (`OnceLock`) and only read
// after; its `pArg` is the default cache's, which SQLite itself shares
// between threads.
unsafe impl Send for Base {}
unsafe impl Sync for Base {}

static BASE: OnceLock<Base> = OnceLock::new();

/// SQLite accepted the wrapper.
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Pages moved to the spare number since the wrapper was installed.
static SPARE_SWAPS: AtomicU64 = AtomicU64::new(0);

/// How many times a page took the spare number, if the wrapper is
/// installed (`None`: SQLite runs its default cache in this process).
pub fn spare_swaps() -> Option<u64> {
    INSTALLED.load(Ordering::Relaxed).then(|| SPARE_SWAPS.load(Ordering::Relaxed))
}

fn base() -> &'static ffi::sqlite3_pcache_methods2 {
    // Only called from the wrapper's methods, which SQLite calls only
    // once `install` has set `BASE`.
    &BASE.get().expect("page cache wrapper installed").0
}

/// One cache: the default cache's, and the key it stores under 0.
struct Cache {
    base: *mut ffi::sqlite3_pcache,
    spare: c_uint,
}

impl Cache {
    fn key(&self, key: c_uint) -> c_uint {
        if key == self.spare {
            0
        } else {
            key
        }
    }
}

/// The page number SQLite swaps through for pages of `page_size` bytes.
fn spare_page(page_size: c_int) -> c_uint {
    PENDING_BYTE / c_uint::try_from(page_size.max(1)).unwrap_or(1) + 1
}

/// Installs the wrapper, before SQLite initialises. Whether it did:
/// once SQLite is initialised (another connection came first, as in some
/// tests) the configuration is refused and the default cache stays,
/// which changes speed only.
pub(crate) fn install() -> bool {
    // SAFETY: `sqlite3_config` with the argument types documented for
    // SQLITE_CONFIG_GETPCACHE2 (a pointer to a methods table to fill) and
    // SQLITE_CONFIG_PCACHE2 (a pointer to a table SQLite copies); the
    // caller runs this once (`std::sync::Once` in `sqlite::configure_sqlite`).
    unsafe {
        let mut default: ffi::sqlite3_pcache_methods2 = std::mem::zeroed();
        if ffi::sqlite3_config(ffi::SQLITE_CONFIG_GETPCACHE2, &mut default as *mut _) != ffi::SQLITE_OK
            || BASE.set(Base(default)).is_err()
        {
            return false;
        }
        // The wrapper's methods read `BASE`, set just above.
        let wrapper = ffi::sqlite3_pcache_methods2 {
            iVersion: 1,
            pArg: std::ptr::null_mut(),
            xInit: Some(x_init),
            xShutdown: Some(x_shutdown),
            xCreate: Some(x_create),
            xCachesize: Some(x_cachesize),
            xPagecount: Some(x_pagecount),
            xFetch: Some(x_fetch),
            xUnpin: Some(x_unpin),
            xRekey: Some(x_rekey),
            xTruncate: Some(x_truncate),
            xDestroy: Some(x_destroy),
            xShrink: Some(x_shrink),
        };
        let installed = ffi::sqlite3_config(ffi::SQLITE_CONFIG_PCACHE2, &wrapper as *const _) == ffi::SQLITE_OK;
        INSTALLED.store(installed, Ordering::Relaxed);
        installed
    }
}

// SAFETY (every method below): SQLite calls them only with caches that
// `x_create` returned (a `Cache`, alive until `x_destroy`), and with pages
// that the default cache handed out for that cache; each passes them on
// to the default cache's method of the same name, which the default
// cache always has.

unsafe extern "C" fn x_init(_: *mut c_void) -> c_int {
    match base().xInit {
        Some(f) => f(base().pArg),
        None => ffi::SQLITE_OK,
    }
}

unsafe extern "C" fn x_shutdown(_: *mut c_void) {
    if let Some(f) = base().xShutdown {
        f(base().pArg)
    }
}

unsafe extern "C" fn x_create(page_size: c_int, extra: c_int, purgeable: c_int) -> *mut ffi::sqlite3_pcache {
    let Some(create) = base().xCreate else { return std::ptr::null_mut() };
    let inner = create(page_size, extra, purgeable);
    if inner.is_null() {
        return inner;
    }
    Box::into_raw(Box::new(Cache { base: inner, spare: spare_page(page_size) })).cast()
}

unsafe fn cache<'a>(p: *mut ffi::sqlite3_pcache) -> &'a Cache {
    &*p.cast::<Cache>()
}

unsafe extern "C" fn x_cachesize(p: *mut ffi::sqlite3_pcache, pages: c_int) {
    if let Some(f) = base().xCachesize {
        f(cache(p).base, pages)
    }
}

unsafe extern "C" fn x_pagecount(p: *mut ffi::sqlite3_pcache) -> c_int {
    base().xPagecount.map_or(0, |f| f(cache(p).base))
}

unsafe extern "C" fn x_fetch(p: *mut ffi::sqlite3_pcache, key: c_uint, create: c_int) -> *mut ffi::sqlite3_pcache_page {
    let c = cache(p);
    base().xFetch.map_or(std::ptr::null_mut(), |f| f(c.base, c.key(key), create))
}

unsafe extern "C" fn x_unpin(p: *mut ffi::sqlite3_pcache, page: *mut ffi::sqlite3_pcache_page, discard: c_int) {
    if let Some(f) = base().xUnpin {
        f(cache(p).base, page, discard)
    }
}

unsafe extern "C" fn x_rekey(
    p: *mut ffi::sqlite3_pcache,
    page: *mut ffi::sqlite3_pcache_page,
    old: c_uint,
    new: c_uint,
) {
    let c = cache(p);
    if new == c.spare {
        SPARE_SWAPS.fetch_add(1, Ordering::Relaxed);
    }
    if let Some(f) = base().xRekey {
        f(c.base, page, c.key(old), c.key(new))
    }
}

unsafe extern "C" fn x_truncate(p: *mut ffi::sqlite3_pcache, limit: c_uint) {
    let c = cache(p);
    if let Some(f) = base().xTruncate {
        f(c.base, limit)
    }
    // The spare number's page would have gone too: it lives under key 0.
    if limit <= c.spare {
        if let (Some(fetch), Some(unpin)) = (base().xFetch, base().xUnpin) {
            let page = fetch(c.base, 0, 0);
            if !page.is_null() {
                unpin(c.base, page, 1);
            }
        }
    }
}

unsafe extern "C" fn x_destroy(p: *mut ffi::sqlite3_pcache) {
    let c = Box::from_raw(p.cast::<Cache>());
    if let Some(f) = base().xDestroy {
        f(c.base)
    }
}

unsafe extern "C" fn x_shrink(p: *mut ffi::sqlite3_pcache) {
    if let Some(f) = base().xShrink {
        f(cache(p).base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spare_page_is_the_locking_bytes_page() {
        assert_eq!(spare_page(8192), 131_073);
        assert_eq!(spare_page(4096), 262_145);
        assert_eq!(spare_page(65_536), 16_385);
    }

    #[test]
    fn only_the_spare_number_moves_to_key_0() {
        let c = Cache { base: std::ptr::null_mut(), spare: spare_page(8192) };
        assert_eq!(c.key(131_073), 0);
        assert_eq!(c.key(131_072), 131_072);
        assert_eq!(c.key(1), 1);
        assert_eq!(c.key(200_000), 200_000);
    }
}
