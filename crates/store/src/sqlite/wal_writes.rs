//! The writer's WAL writes, gathered into one system call per commit.
//!
//! SQLite writes each WAL frame as two `pwrite`s: its 24-byte header, then
//! the page. A live group at 100,000 events/s commits 150-170 pages, so
//! about 330 system calls, and they were 9.5 % of the writer thread's time
//! (`perf`, 2026-12-05). This is a VFS shim over the platform's default
//! VFS ("unix"), used by the writer's connection only: the writes of a
//! file opened as a WAL are appended to a buffer and reach the file in one
//! write when a commit frame has been written, and before anything else
//! touches the file (a read, a sync, a truncate, a size, a lock, a file
//! control, closing it) or the buffer passes [`FLUSH_AT`]. Every other
//! file, and every other call, goes straight to the default VFS.
//!
//! Why this is safe:
//!
//! - *Readers and checkpoints* (other connections) read only frames up to
//!   the WAL index's `mxFrame`, which SQLite publishes after
//!   `sqlite3WalFrames` returns, that is after the commit frame's page
//!   was written, and so after the flush. A failed flush is that write's
//!   error: the commit fails and nothing is published.
//! - *A commit frame* is recognised by its header: a 24-byte write whose
//!   bytes 4..8 (the database size after the commit) are not zero; every
//!   other frame has zero there. While the latest header seen is a
//!   commit's, every appended write is flushed at once: that covers the
//!   commit's page, and also the padding frames (copies of the commit
//!   frame) and split writes SQLite makes around a sync point under
//!   `synchronous=FULL` without power-safe overwrite.
//! - *Writes that do not append* (the WAL's header after a restart, pages
//!   overwritten in place, checksums rewritten after a commit) flush the
//!   buffer and go straight to the file, so no write is ever reordered or
//!   left pending behind a publish.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr;
use std::sync::OnceLock;

use rusqlite::ffi;

use crate::error::{Result, StoreError};

/// The VFS's registered name, for `Connection::open_with_flags_and_vfs`.
pub(crate) const VFS_NAME: &CStr = c"creditdesk-wal";

/// A WAL frame's header; the page follows in a write of its own.
const FRAME_HEADER: usize = 24;

/// The most the default VFS writes at once: "unix" masks a write's
/// length to 17 bits (`seekAndWriteFd`: a write was never meant to be
/// more than a page), so a longer one would come back short. 31 pages of
/// 4 KiB: the pieces start on the operating system's page boundaries.
const MAX_WRITE: usize = 31 * 4096;

/// Bound on the buffer (a group that spills more pages than this, such as
/// a large backfill, writes them in pieces of this size).
const FLUSH_AT: usize = 4 << 20;

/// Registers the shim (once per process) and returns its name.
pub(crate) fn register() -> Result<&'static CStr> {
    static REGISTERED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            // SAFETY: `sqlite3_vfs_find` with a null name returns the
            // default VFS, which SQLite keeps for the process's life. The
            // shim's struct is leaked, so it outlives every connection, as
            // `sqlite3_vfs_register` requires, and is registered once
            // (`OnceLock`).
            unsafe {
                let base = ffi::sqlite3_vfs_find(ptr::null());
                if base.is_null() {
                    return Err("SQLite has no default VFS".into());
                }
                let vfs = Box::leak(Box::new(ffi::sqlite3_vfs {
                    iVersion: 2,
                    szOsFile: (std::mem::size_of::<ShimFile>() as c_int) + (*base).szOsFile,
                    mxPathname: (*base).mxPathname,
                    pNext: ptr::null_mut(),
                    zName: VFS_NAME.as_ptr(),
                    pAppData: base.cast(),
                    xOpen: Some(x_open),
                    xDelete: Some(x_delete),
                    xAccess: Some(x_access),
                    xFullPathname: Some(x_full_pathname),
                    xDlOpen: Some(x_dl_open),
                    xDlError: Some(x_dl_error),
                    xDlSym: Some(x_dl_sym),
                    xDlClose: Some(x_dl_close),
                    xRandomness: Some(x_randomness),
                    xSleep: Some(x_sleep),
                    xCurrentTime: Some(x_current_time),
                    xGetLastError: Some(x_get_last_error),
                    xCurrentTimeInt64: Some(x_current_time_int64),
                    xSetSystemCall: None,
                    xGetSystemCall: None,
                    xNextSystemCall: None,
                }));
                match ffi::sqlite3_vfs_register(vfs, 0) {
                    ffi::SQLITE_OK => Ok(()),
                    rc => Err(format!("cannot register the WAL-writes VFS (SQLite code {rc})")),
                }
            }
        })
        .as_ref()
        .map(|()| VFS_NAME)
        .map_err(|e| StoreError::corrupt(e.clone()))
}

/// What SQLite allocates for each file (`szOsFile`): this header, then the
/// default VFS's own file struct, which `real` points at.
#[repr(C)]
struct ShimFile {
    /// SQLite's view: the methods table (ours).
    base: ffi::sqlite3_file,
    /// The default VFS's file, in the same allocation, just after this.
    real: *mut ffi::sqlite3_file,
    /// Only a WAL's writes are gathered.
    wal: bool,
    /// The latest frame header written was a commit's.
    in_commit: bool,
    /// Where the buffer's first byte goes.
    start: i64,
    /// Just past the last byte written (buffered or not); -1 when unknown.
    end: i64,
    pending: Vec<u8>,
}

fn base_vfs(vfs: *mut ffi::sqlite3_vfs) -> *mut ffi::sqlite3_vfs {
    // SAFETY (callers): `vfs` is the shim registered above, whose
    // `pAppData` is the default VFS.
    unsafe { (*vfs).pAppData.cast() }
}

impl ShimFile {
    /// The default VFS's methods for this file.
    ///
    /// SAFETY: only on a file whose open succeeded (SQLite calls methods
    /// only then).
    unsafe fn methods(&self) -> &ffi::sqlite3_io_methods {
        &*(*self.real).pMethods
    }

    /// Writes the buffer to the file, in pieces of at most [`MAX_WRITE`].
    /// On failure the buffer is dropped all the same: SQLite fails the
    /// transaction and writes its frames again from the last commit.
    unsafe fn flush(&mut self) -> c_int {
        let Some(write) = self.methods().xWrite else { return ffi::SQLITE_IOERR_WRITE };
        let mut rc = ffi::SQLITE_OK;
        let mut offset = self.start;
        for piece in self.pending.chunks(MAX_WRITE) {
            #[cfg(test)]
            tests::WAL_WRITES.with(|n| n.set(n.get() + 1));
            rc = write(self.real, piece.as_ptr().cast(), piece.len() as c_int, offset);
            if rc != ffi::SQLITE_OK {
                self.end = -1;
                break;
            }
            offset += piece.len() as i64;
        }
        self.pending.clear();
        rc
    }

    unsafe fn write(&mut self, data: &[u8], offset: i64) -> c_int {
        if data.len() == FRAME_HEADER {
            self.in_commit = data[4..8] != [0; 4];
        }
        // A write that does not append goes out at once, after what is
        // buffered, through the same buffer.
        let appends = offset == self.end;
        if !appends {
            let rc = self.flush();
            if rc != ffi::SQLITE_OK {
                return rc;
            }
        }
        if self.pending.is_empty() {
            self.start = offset;
        }
        self.pending.extend_from_slice(data);
        self.end = offset + data.len() as i64;
        if !appends || (self.in_commit && data.len() != FRAME_HEADER) || self.pending.len() >= FLUSH_AT {
            return self.flush();
        }
        ffi::SQLITE_OK
    }
}

/// The shim's part of a file SQLite hands back.
///
/// SAFETY (callers): `f` is a file this VFS opened.
unsafe fn shim<'a>(f: *mut ffi::sqlite3_file) -> &'a mut ShimFile {
    &mut *f.cast::<ShimFile>()
}

/// Flushes, then runs `call` on the default VFS's file.
unsafe fn after_flush(
    f: *mut ffi::sqlite3_file,
    call: impl FnOnce(&ffi::sqlite3_io_methods, *mut ffi::sqlite3_file) -> c_int,
) -> c_int {
    let s = shim(f);
    let rc = s.flush();
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    call(s.methods(), s.real)
}

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(x_close),
    xRead: Some(x_read),
    xWrite: Some(x_write),
    xTruncate: Some(x_truncate),
    xSync: Some(x_sync),
    xFileSize: Some(x_file_size),
    xLock: Some(x_lock),
    xUnlock: Some(x_unlock),
    xCheckReservedLock: Some(x_check_reserved_lock),
    xFileControl: Some(x_file_control),
    xSectorSize: Some(x_sector_size),
    xDeviceCharacteristics: Some(x_device_characteristics),
    xShmMap: Some(x_shm_map),
    xShmLock: Some(x_shm_lock),
    xShmBarrier: Some(x_shm_barrier),
    xShmUnmap: Some(x_shm_unmap),
    xFetch: Some(x_fetch),
    xUnfetch: Some(x_unfetch),
};

unsafe extern "C" fn x_open(
    vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let base = base_vfs(vfs);
    let real = file.cast::<u8>().add(std::mem::size_of::<ShimFile>()).cast::<ffi::sqlite3_file>();
    let Some(open) = (*base).xOpen else { return ffi::SQLITE_CANTOPEN };
    let rc = open(base, name, real, flags, out_flags);
    if rc != ffi::SQLITE_OK || (*real).pMethods.is_null() {
        // SQLite calls no method (not even xClose) on a file whose
        // methods are null.
        (*file).pMethods = ptr::null();
        return rc;
    }
    ptr::write(
        file.cast::<ShimFile>(),
        ShimFile {
            base: ffi::sqlite3_file { pMethods: &METHODS },
            real,
            wal: flags & ffi::SQLITE_OPEN_WAL != 0,
            in_commit: false,
            start: 0,
            end: -1,
            pending: Vec::new(),
        },
    );
    rc
}

unsafe extern "C" fn x_close(f: *mut ffi::sqlite3_file) -> c_int {
    let s = shim(f);
    let flushed = s.flush();
    let closed = match s.methods().xClose {
        Some(close) => close(s.real),
        None => ffi::SQLITE_OK,
    };
    ptr::drop_in_place(f.cast::<ShimFile>());
    (*f).pMethods = ptr::null();
    if flushed != ffi::SQLITE_OK {
        flushed
    } else {
        closed
    }
}

unsafe extern "C" fn x_read(f: *mut ffi::sqlite3_file, buf: *mut c_void, amount: c_int, offset: i64) -> c_int {
    after_flush(f, |m, real| m.xRead.map_or(ffi::SQLITE_IOERR_READ, |read| read(real, buf, amount, offset)))
}

unsafe extern "C" fn x_write(f: *mut ffi::sqlite3_file, buf: *const c_void, amount: c_int, offset: i64) -> c_int {
    let s = shim(f);
    if !s.wal {
        return s.methods().xWrite.map_or(ffi::SQLITE_IOERR_WRITE, |write| write(s.real, buf, amount, offset));
    }
    let Ok(len) = usize::try_from(amount) else { return ffi::SQLITE_IOERR_WRITE };
    s.write(std::slice::from_raw_parts(buf.cast::<u8>(), len), offset)
}

unsafe extern "C" fn x_truncate(f: *mut ffi::sqlite3_file, size: i64) -> c_int {
    after_flush(f, |m, real| m.xTruncate.map_or(ffi::SQLITE_IOERR_TRUNCATE, |truncate| truncate(real, size)))
}

unsafe extern "C" fn x_sync(f: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    after_flush(f, |m, real| m.xSync.map_or(ffi::SQLITE_IOERR_FSYNC, |sync| sync(real, flags)))
}

unsafe extern "C" fn x_file_size(f: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    after_flush(f, |m, real| m.xFileSize.map_or(ffi::SQLITE_IOERR_FSTAT, |file_size| file_size(real, size)))
}

unsafe extern "C" fn x_lock(f: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    after_flush(f, |m, real| m.xLock.map_or(ffi::SQLITE_IOERR_LOCK, |lock| lock(real, level)))
}

unsafe extern "C" fn x_unlock(f: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    after_flush(f, |m, real| m.xUnlock.map_or(ffi::SQLITE_IOERR_UNLOCK, |unlock| unlock(real, level)))
}

unsafe extern "C" fn x_check_reserved_lock(f: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    after_flush(f, |m, real| m.xCheckReservedLock.map_or(ffi::SQLITE_IOERR_CHECKRESERVEDLOCK, |check| check(real, out)))
}

unsafe extern "C" fn x_file_control(f: *mut ffi::sqlite3_file, op: c_int, arg: *mut c_void) -> c_int {
    after_flush(f, |m, real| m.xFileControl.map_or(ffi::SQLITE_NOTFOUND, |control| control(real, op, arg)))
}

// Neither depends on the file's contents: no flush (and no way to report
// a failed one).
unsafe extern "C" fn x_sector_size(f: *mut ffi::sqlite3_file) -> c_int {
    let s = shim(f);
    s.methods().xSectorSize.map_or(4096, |size| size(s.real))
}

unsafe extern "C" fn x_device_characteristics(f: *mut ffi::sqlite3_file) -> c_int {
    let s = shim(f);
    s.methods().xDeviceCharacteristics.map_or(0, |dc| dc(s.real))
}

// Shared memory belongs to the database file (the WAL index), whose
// writes are never gathered: straight through.
unsafe extern "C" fn x_shm_map(
    f: *mut ffi::sqlite3_file,
    page: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    let s = shim(f);
    s.methods().xShmMap.map_or(ffi::SQLITE_IOERR_SHMMAP, |map| map(s.real, page, size, extend, out))
}

unsafe extern "C" fn x_shm_lock(f: *mut ffi::sqlite3_file, offset: c_int, n: c_int, flags: c_int) -> c_int {
    let s = shim(f);
    s.methods().xShmLock.map_or(ffi::SQLITE_IOERR_SHMLOCK, |lock| lock(s.real, offset, n, flags))
}

unsafe extern "C" fn x_shm_barrier(f: *mut ffi::sqlite3_file) {
    let s = shim(f);
    if let Some(barrier) = s.methods().xShmBarrier {
        barrier(s.real);
    }
}

unsafe extern "C" fn x_shm_unmap(f: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    let s = shim(f);
    s.methods().xShmUnmap.map_or(ffi::SQLITE_OK, |unmap| unmap(s.real, delete))
}

unsafe extern "C" fn x_fetch(f: *mut ffi::sqlite3_file, offset: i64, amount: c_int, out: *mut *mut c_void) -> c_int {
    after_flush(f, |m, real| match m.xFetch {
        Some(fetch) if m.iVersion >= 3 => fetch(real, offset, amount, out),
        // No memory map: SQLite reads the page instead.
        _ => {
            *out = ptr::null_mut();
            ffi::SQLITE_OK
        }
    })
}

unsafe extern "C" fn x_unfetch(f: *mut ffi::sqlite3_file, offset: i64, page: *mut c_void) -> c_int {
    let s = shim(f);
    if s.methods().iVersion < 3 {
        return ffi::SQLITE_OK;
    }
    s.methods().xUnfetch.map_or(ffi::SQLITE_OK, |unfetch| unfetch(s.real, offset, page))
}

// The VFS's own calls: forwarded to the default VFS.

unsafe extern "C" fn x_delete(vfs: *mut ffi::sqlite3_vfs, name: *const c_char, sync_dir: c_int) -> c_int {
    let base = base_vfs(vfs);
    (*base).xDelete.map_or(ffi::SQLITE_IOERR_DELETE, |delete| delete(base, name, sync_dir))
}

unsafe extern "C" fn x_access(vfs: *mut ffi::sqlite3_vfs, name: *const c_char, flags: c_int, out: *mut c_int) -> c_int {
    let base = base_vfs(vfs);
    (*base).xAccess.map_or(ffi::SQLITE_IOERR_ACCESS, |access| access(base, name, flags, out))
}

unsafe extern "C" fn x_full_pathname(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    n: c_int,
    out: *mut c_char,
) -> c_int {
    let base = base_vfs(vfs);
    (*base).xFullPathname.map_or(ffi::SQLITE_CANTOPEN, |full| full(base, name, n, out))
}

unsafe extern "C" fn x_dl_open(vfs: *mut ffi::sqlite3_vfs, name: *const c_char) -> *mut c_void {
    let base = base_vfs(vfs);
    (*base).xDlOpen.map_or(ptr::null_mut(), |open| open(base, name))
}

unsafe extern "C" fn x_dl_error(vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) {
    let base = base_vfs(vfs);
    if let Some(error) = (*base).xDlError {
        error(base, n, out);
    }
}

type DlSym = unsafe extern "C" fn(*mut ffi::sqlite3_vfs, *mut c_void, *const c_char);

unsafe extern "C" fn x_dl_sym(vfs: *mut ffi::sqlite3_vfs, handle: *mut c_void, symbol: *const c_char) -> Option<DlSym> {
    let base = base_vfs(vfs);
    (*base).xDlSym.and_then(|sym| sym(base, handle, symbol))
}

unsafe extern "C" fn x_dl_close(vfs: *mut ffi::sqlite3_vfs, handle: *mut c_void) {
    let base = base_vfs(vfs);
    if let Some(close) = (*base).xDlClose {
        close(base, handle);
    }
}

unsafe extern "C" fn x_randomness(vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) -> c_int {
    let base = base_vfs(vfs);
    (*base).xRandomness.map_or(0, |random| random(base, n, out))
}

unsafe extern "C" fn x_sleep(vfs: *mut ffi::sqlite3_vfs, micros: c_int) -> c_int {
    let base = base_vfs(vfs);
    (*base).xSleep.map_or(0, |sleep| sleep(base, micros))
}

unsafe extern "C" fn x_current_time(vfs: *mut ffi::sqlite3_vfs, out: *mut f64) -> c_int {
    let base = base_vfs(vfs);
    (*base).xCurrentTime.map_or(ffi::SQLITE_ERROR, |now| now(base, out))
}

unsafe extern "C" fn x_get_last_error(vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) -> c_int {
    let base = base_vfs(vfs);
    (*base).xGetLastError.map_or(0, |last| last(base, n, out))
}

unsafe extern "C" fn x_current_time_int64(vfs: *mut ffi::sqlite3_vfs, out: *mut i64) -> c_int {
    let base = base_vfs(vfs);
    if (*base).iVersion < 2 {
        return ffi::SQLITE_ERROR;
    }
    (*base).xCurrentTimeInt64.map_or(ffi::SQLITE_ERROR, |now| now(base, out))
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::path::Path;

    use rusqlite::{Connection, OpenFlags};

    use super::*;

    thread_local! {
        /// Writes that reached a WAL file from this thread.
        pub(super) static WAL_WRITES: Cell<usize> = const { Cell::new(0) };
    }

    fn through_shim(path: &Path) -> Connection {
        let conn = Connection::open_with_flags_and_vfs(path, OpenFlags::default(), register().unwrap()).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
        conn.execute_batch("CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v BLOB NOT NULL)").unwrap();
        conn
    }

    /// What a process killed at this instant leaves: the database file and
    /// its WAL, without the shared-memory index, opened afresh (SQLite
    /// rebuilds the index from the WAL's frames and their checksums).
    fn rows_after_a_crash(path: &Path, copy: &Path) -> (i64, i64) {
        let wal = |p: &Path| p.with_file_name(format!("{}-wal", p.file_name().unwrap().to_str().unwrap()));
        for p in [copy.to_path_buf(), wal(copy), copy.with_extension("db-shm")] {
            let _ = std::fs::remove_file(p);
        }
        std::fs::copy(path, copy).unwrap();
        std::fs::copy(wal(path), wal(copy)).unwrap();
        let conn = Connection::open(copy).unwrap();
        let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(ok, "ok");
        conn.query_row("SELECT COUNT(*), COALESCE(SUM(length(v)), 0) FROM t", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
    }

    fn insert(conn: &Connection, from: i64, rows: i64, bytes: i64) {
        let tx = conn.unchecked_transaction().unwrap();
        for k in from..from + rows {
            tx.execute("INSERT INTO t VALUES (?1, randomblob(?2))", [k, bytes]).unwrap();
        }
        tx.commit().unwrap();
    }

    /// Each commit, small or large, is whole in the WAL file when it
    /// returns: another connection sees it, and so does a copy of the
    /// files taken then. Includes a transaction past the buffer's bound, a
    /// WAL started again from its beginning, and a rolled-back transaction
    /// whose pages had spilled.
    #[test]
    fn every_commit_is_on_file_when_it_returns() {
        let dir = tempfile::tempdir().unwrap();
        let (path, copy) = (dir.path().join("w.db"), dir.path().join("copy.db"));
        let writer = through_shim(&path);
        let reader = Connection::open(&path).unwrap();
        let seen = |c: &Connection| -> (i64, i64) {
            c.query_row("SELECT COUNT(*), COALESCE(SUM(length(v)), 0) FROM t", [], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
        };
        let (mut rows, mut bytes) = (0, 0);
        // (rows, bytes per row): one page; many pages; past FLUSH_AT.
        let plan = [(1, 10), (200, 100), (3, 4000), (1, 6 << 20), (500, 300), (1, 10)];
        for (step, (n, size)) in plan.into_iter().enumerate() {
            insert(&writer, rows, n, size);
            (rows, bytes) = (rows + n, bytes + n * size);
            assert_eq!(seen(&reader), (rows, bytes), "step {step}: another connection");
            assert_eq!(rows_after_a_crash(&path, &copy), (rows, bytes), "step {step}: after a crash");
            if step == 3 {
                // The next commit writes the WAL from its first byte again.
                writer.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
            }
        }
        // Spilled pages of a transaction that is then rolled back lie in
        // the WAL past its last commit; the next commit writes over them.
        writer.pragma_update(None, "cache_size", 10).unwrap();
        let tx = writer.unchecked_transaction().unwrap();
        for k in rows..rows + 400 {
            tx.execute("INSERT INTO t VALUES (?1, randomblob(2000))", [k]).unwrap();
        }
        drop(tx);
        insert(&writer, rows, 2, 50);
        (rows, bytes) = (rows + 2, bytes + 100);
        assert_eq!(seen(&reader), (rows, bytes));
        assert_eq!(rows_after_a_crash(&path, &copy), (rows, bytes));
    }

    /// With a small page cache a transaction writes the same pages to the
    /// WAL more than once: SQLite overwrites their frames in place and
    /// rewrites the checksums after the commit frame, writes that do not
    /// append and go straight to the file.
    #[test]
    fn pages_overwritten_in_place_and_rewritten_checksums_reach_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (path, copy) = (dir.path().join("w.db"), dir.path().join("copy.db"));
        let writer = through_shim(&path);
        insert(&writer, 0, 300, 500);
        writer.pragma_update(None, "cache_size", 5).unwrap();
        let tx = writer.unchecked_transaction().unwrap();
        for round in 0..4 {
            tx.execute("UPDATE t SET v = randomblob(500 + ?1)", [round]).unwrap();
        }
        tx.commit().unwrap();
        assert_eq!(rows_after_a_crash(&path, &copy), (300, 300 * 503));
    }

    /// The point of the shim: a commit of many pages reaches the file in
    /// as few writes as [`MAX_WRITE`] allows, where SQLite makes two per
    /// page.
    #[test]
    fn a_commit_is_written_in_a_few_large_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let wal_len = || std::fs::metadata(dir.path().join("w.db-wal")).unwrap().len() as usize;
        let writer = through_shim(&path);
        insert(&writer, 0, 1, 10);
        let (writes, len) = (WAL_WRITES.with(Cell::get), wal_len());
        insert(&writer, 1, 400, 1000);
        let (writes, bytes) = (WAL_WRITES.with(Cell::get) - writes, wal_len() - len);
        let page = writer.query_row("PRAGMA page_size", [], |r| r.get::<_, u32>(0)).unwrap() as usize;
        let frames = bytes / (FRAME_HEADER + page);
        assert!(frames > 50, "a commit of many pages: {frames} frames");
        assert_eq!(writes, bytes.div_ceil(MAX_WRITE), "{frames} frames, {bytes} bytes");
    }
}
