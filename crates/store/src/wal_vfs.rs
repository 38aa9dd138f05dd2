//! The write connection's VFS: SQLite's own (`unix`), except that a WAL file holds what
//! a commit writes and hands it to the file system in one `pwrite` when SQLite syncs it,
//! and that the sync of a light commit ([`light`]) writes without fsyncing.
//!
//! SQLite writes each WAL frame as two `pwrite`s (its 24-byte header, then its page): a
//! session run's creation and end took 36 system calls for their 18 frames. Held and
//! written at once, each commit takes one.
//!
//! Why nothing a reader can see is held back: the write connection runs at
//! `synchronous=FULL`, so SQLite syncs the WAL at the end of every commit — after writing
//! the commit's frames, before it adds them to the wal-index and publishes the new
//! wal-index header that lets readers see them. The sync writes what is held first; a
//! write that fails there fails the sync, and SQLite fails the commit exactly as it would
//! have failed the write. Whatever reads, sizes or truncates the WAL through this handle,
//! and closing it, write what is held first too. Frames a large transaction spills
//! before its commit may stay held until then; readers cannot see them either way.
//!
//! A light commit (a run's creation, a batch of its events: `synchronous=NORMAL` before)
//! runs inside [`light`]: there the WAL's sync at the end of the commit only writes. That
//! is what `NORMAL` does in WAL mode — the commit survives a killed process, and the next
//! fsynced commit makes it durable against a power cut too — except that `NORMAL` still
//! syncs the WAL's header after rewriting it when the log restarts, and so does this.
//! The writer thus never switches `PRAGMA synchronous` between groups (a run's creation
//! and end switched it twice: ~5k instructions each).

use std::cell::Cell;
use std::ffi::{c_int, c_void, CStr};
use std::ptr;
use std::sync::OnceLock;

use rusqlite::ffi;

use crate::error::StoreError;

/// The name the VFS is registered under (it is never the default).
const VFS_NAME: &CStr = c"ferry-wal";

/// Most bytes held before they are written anyway (a large transaction's frames): 23
/// frames of 4 KiB pages, a run's end twice over. It must stay under 128 KiB: the unix
/// VFS writes at most 128 KiB − 1 bytes per call (`seekAndWriteFd` masks the count with
/// `0x1ffff`), and reports a longer write as a full disk.
const HOLD_LIMIT: usize = 96 * 1024;

thread_local! {
    /// Set while this thread runs a light commit ([`light`]).
    static LIGHT: Cell<bool> = const { Cell::new(false) };
}

#[cfg(test)]
thread_local! {
    /// Writes and syncs of WAL files handed to the real VFS on this thread (tests).
    static REAL_CALLS: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

/// Counts a call handed to the real VFS (tests only).
fn count_real(write: usize, sync: usize) {
    #[cfg(test)]
    REAL_CALLS.with(|c| {
        let (w, s) = c.get();
        c.set((w + write, s + sync));
    });
    let _ = (write, sync);
}

/// Runs `commit` (a `COMMIT` of the write connection, on this thread) as a light commit:
/// its WAL frames are written but not fsynced, as `synchronous=NORMAL` would.
pub(crate) fn light<T>(commit: impl FnOnce() -> T) -> T {
    /// Ends the light commit however `commit` returns.
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            LIGHT.with(|l| l.set(false));
        }
    }
    LIGHT.with(|l| l.set(true));
    let _reset = Reset;
    commit()
}

/// Registers the VFS (once per process) and returns its name for
/// `Connection::open_with_flags_and_vfs`.
pub(crate) fn name() -> Result<&'static CStr, StoreError> {
    static REGISTERED: OnceLock<c_int> = OnceLock::new();
    // SAFETY: `register` only reads SQLite's default VFS and registers a copy of it;
    // `OnceLock` runs it once.
    let code = *REGISTERED.get_or_init(|| unsafe { register() });
    if code == ffi::SQLITE_OK {
        Ok(VFS_NAME)
    } else {
        Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(
            ffi::Error::new(code),
            Some("could not register ferry's WAL-writing VFS with SQLite".into()),
        )))
    }
}

/// SQLite's default VFS, which this one wraps (set once by [`register`]).
static REAL_VFS: OnceLock<usize> = OnceLock::new();

/// Registers a copy of the default VFS whose `xOpen` wraps WAL files.
unsafe fn register() -> c_int {
    let real = ffi::sqlite3_vfs_find(ptr::null());
    if real.is_null() {
        return ffi::SQLITE_ERROR;
    }
    let _ = REAL_VFS.set(real as usize);
    let mut vfs = *real;
    vfs.szOsFile = (REAL_OFFSET + (*real).szOsFile as usize) as c_int;
    vfs.pNext = ptr::null_mut();
    vfs.zName = VFS_NAME.as_ptr();
    vfs.xOpen = Some(open);
    // The VFS lives as long as the process: SQLite keeps the pointer.
    ffi::sqlite3_vfs_register(Box::leak(Box::new(vfs)), 0)
}

fn real_vfs() -> *mut ffi::sqlite3_vfs {
    REAL_VFS
        .get()
        .map_or(ptr::null_mut(), |p| *p as *mut ffi::sqlite3_vfs)
}

/// A WAL file: the real file's handle lives `REAL_OFFSET` bytes into the same allocation.
#[repr(C)]
struct WalFile {
    /// SQLite's view: its methods are [`WAL_METHODS`].
    base: ffi::sqlite3_file,
    real: *mut ffi::sqlite3_file,
    /// Bytes written by SQLite and not yet by the file system, from offset `held_at`.
    held: Vec<u8>,
    held_at: i64,
    /// The WAL's header was rewritten and not yet synced (SQLite syncs it right after).
    header_unsynced: bool,
}

/// Where the real file's handle starts (aligned for any SQLite file object).
const REAL_OFFSET: usize = (std::mem::size_of::<WalFile>() + 15) & !15;

impl WalFile {
    /// The real file's methods (the wrapped VFS sets them all).
    unsafe fn methods(&self) -> &'static ffi::sqlite3_io_methods {
        &*(*self.real).pMethods
    }

    /// Writes what is held.
    unsafe fn write_held(&mut self) -> c_int {
        if self.held.is_empty() {
            return ffi::SQLITE_OK;
        }
        count_real(1, 0);
        let code = match self.methods().xWrite {
            Some(write) => write(
                self.real,
                self.held.as_ptr().cast(),
                self.held.len() as c_int,
                self.held_at,
            ),
            None => ffi::SQLITE_IOERR_WRITE,
        };
        // Written or failed, it is not held any more: after a failure SQLite fails the
        // transaction, whose frames were never published.
        self.held.clear();
        code
    }
}

/// # Safety
/// `file` is a file this VFS opened with [`WAL_METHODS`].
unsafe fn wal<'a>(file: *mut ffi::sqlite3_file) -> &'a mut WalFile {
    &mut *file.cast::<WalFile>()
}

unsafe extern "C" fn open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let real_vfs = real_vfs();
    let Some(real_open) = real_vfs.as_ref().and_then(|v| v.xOpen) else {
        return ffi::SQLITE_ERROR;
    };
    if flags & ffi::SQLITE_OPEN_WAL == 0 {
        // The database, temporary files: the real VFS's own handle, in place.
        return real_open(real_vfs, name, file, flags, out_flags);
    }
    let real = file
        .cast::<u8>()
        .add(REAL_OFFSET)
        .cast::<ffi::sqlite3_file>();
    let code = real_open(real_vfs, name, real, flags, out_flags);
    if code != ffi::SQLITE_OK {
        (*file).pMethods = ptr::null();
        return code;
    }
    file.cast::<WalFile>().write(WalFile {
        base: ffi::sqlite3_file {
            pMethods: &WAL_METHODS,
        },
        real,
        held: Vec::new(),
        held_at: 0,
        header_unsynced: false,
    });
    ffi::SQLITE_OK
}

static WAL_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: Some(shm_map),
    xShmLock: Some(shm_lock),
    xShmBarrier: Some(shm_barrier),
    xShmUnmap: Some(shm_unmap),
    xFetch: Some(fetch),
    xUnfetch: Some(unfetch),
};

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    let w = wal(file);
    let written = w.write_held();
    let closed = match w.methods().xClose {
        Some(close) => close(w.real),
        None => ffi::SQLITE_OK,
    };
    ptr::drop_in_place(&mut w.held);
    if written != ffi::SQLITE_OK {
        written
    } else {
        closed
    }
}

unsafe extern "C" fn read(
    file: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    let w = wal(file);
    let code = w.write_held();
    if code != ffi::SQLITE_OK {
        return code;
    }
    match w.methods().xRead {
        Some(read) => read(w.real, buf, amount, offset),
        None => ffi::SQLITE_IOERR_READ,
    }
}

unsafe extern "C" fn write(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    let w = wal(file);
    let Ok(len) = usize::try_from(amount) else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    if offset == 0 {
        // The WAL's header: SQLite rewrites it when the log restarts.
        w.header_unsynced = true;
    }
    let follows = offset == w.held_at + w.held.len() as i64;
    if !follows || w.held.len() + len > HOLD_LIMIT {
        let code = w.write_held();
        if code != ffi::SQLITE_OK {
            return code;
        }
        w.held_at = offset;
    }
    w.held
        .extend_from_slice(std::slice::from_raw_parts(buf.cast::<u8>(), len));
    ffi::SQLITE_OK
}

unsafe extern "C" fn truncate(file: *mut ffi::sqlite3_file, size: ffi::sqlite3_int64) -> c_int {
    let w = wal(file);
    let code = w.write_held();
    if code != ffi::SQLITE_OK {
        return code;
    }
    match w.methods().xTruncate {
        Some(truncate) => truncate(w.real, size),
        None => ffi::SQLITE_IOERR_TRUNCATE,
    }
}

unsafe extern "C" fn sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    let w = wal(file);
    let code = w.write_held();
    if code != ffi::SQLITE_OK {
        return code;
    }
    if LIGHT.with(Cell::get) && !w.header_unsynced {
        return ffi::SQLITE_OK;
    }
    w.header_unsynced = false;
    count_real(0, 1);
    match w.methods().xSync {
        Some(sync) => sync(w.real, flags),
        None => ffi::SQLITE_IOERR_FSYNC,
    }
}

unsafe extern "C" fn file_size(
    file: *mut ffi::sqlite3_file,
    size: *mut ffi::sqlite3_int64,
) -> c_int {
    let w = wal(file);
    let code = w.write_held();
    if code != ffi::SQLITE_OK {
        return code;
    }
    match w.methods().xFileSize {
        Some(file_size) => file_size(w.real, size),
        None => ffi::SQLITE_IOERR_FSTAT,
    }
}

unsafe extern "C" fn lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    let w = wal(file);
    match w.methods().xLock {
        Some(lock) => lock(w.real, level),
        None => ffi::SQLITE_OK,
    }
}

unsafe extern "C" fn unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    let w = wal(file);
    match w.methods().xUnlock {
        Some(unlock) => unlock(w.real, level),
        None => ffi::SQLITE_OK,
    }
}

unsafe extern "C" fn check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    let w = wal(file);
    match w.methods().xCheckReservedLock {
        Some(check) => check(w.real, out),
        None => {
            *out = 0;
            ffi::SQLITE_OK
        }
    }
}

unsafe extern "C" fn file_control(
    file: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    let w = wal(file);
    let code = w.write_held();
    if code != ffi::SQLITE_OK {
        return code;
    }
    match w.methods().xFileControl {
        Some(control) => control(w.real, op, arg),
        None => ffi::SQLITE_NOTFOUND,
    }
}

unsafe extern "C" fn sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    let w = wal(file);
    w.methods().xSectorSize.map_or(4096, |size| size(w.real))
}

unsafe extern "C" fn device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    let w = wal(file);
    w.methods()
        .xDeviceCharacteristics
        .map_or(0, |characteristics| characteristics(w.real))
}

unsafe extern "C" fn shm_map(
    file: *mut ffi::sqlite3_file,
    page: c_int,
    page_size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    let w = wal(file);
    match w.methods().xShmMap {
        Some(map) => map(w.real, page, page_size, extend, out),
        None => ffi::SQLITE_IOERR_SHMMAP,
    }
}

unsafe extern "C" fn shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    let w = wal(file);
    match w.methods().xShmLock {
        Some(lock) => lock(w.real, offset, n, flags),
        None => ffi::SQLITE_IOERR_SHMLOCK,
    }
}

unsafe extern "C" fn shm_barrier(file: *mut ffi::sqlite3_file) {
    let w = wal(file);
    if let Some(barrier) = w.methods().xShmBarrier {
        barrier(w.real);
    }
}

unsafe extern "C" fn shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    let w = wal(file);
    match w.methods().xShmUnmap {
        Some(unmap) => unmap(w.real, delete),
        None => ffi::SQLITE_OK,
    }
}

unsafe extern "C" fn fetch(
    file: *mut ffi::sqlite3_file,
    offset: ffi::sqlite3_int64,
    amount: c_int,
    out: *mut *mut c_void,
) -> c_int {
    let w = wal(file);
    let code = w.write_held();
    if code != ffi::SQLITE_OK {
        return code;
    }
    match w.methods().xFetch {
        Some(fetch) => fetch(w.real, offset, amount, out),
        None => {
            *out = ptr::null_mut();
            ffi::SQLITE_OK
        }
    }
}

unsafe extern "C" fn unfetch(
    file: *mut ffi::sqlite3_file,
    offset: ffi::sqlite3_int64,
    page: *mut c_void,
) -> c_int {
    let w = wal(file);
    match w.methods().xUnfetch {
        Some(unfetch) => unfetch(w.real, offset, page),
        None => ffi::SQLITE_OK,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::{Connection, OpenFlags};

    /// A write connection through this VFS (as the store opens it) and a reader through
    /// SQLite's own, on a new database.
    fn open(dir: &std::path::Path) -> (Connection, Connection) {
        let path = dir.join("t.db");
        let writer = crate::connection::open_writer(&path).expect("writer");
        writer
            .execute_batch("CREATE TABLE t (n INTEGER, body TEXT)")
            .expect("table");
        let reader =
            Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("reader");
        (writer, reader)
    }

    /// Runs `rows` inserts of `size`-byte bodies in one transaction, committed light or
    /// synced; returns the real writes and syncs it made.
    fn commit(conn: &Connection, from: i64, rows: i64, size: usize, sync: bool) -> (usize, usize) {
        REAL_CALLS.with(|c| c.set((0, 0)));
        conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
        for n in from..from + rows {
            conn.execute("INSERT INTO t VALUES (?1, ?2)", (n, "x".repeat(size)))
                .expect("insert");
        }
        let done = |conn: &Connection| conn.execute_batch("COMMIT");
        if sync {
            done(conn)
        } else {
            light(|| done(conn))
        }
        .expect("commit");
        REAL_CALLS.with(Cell::get)
    }

    fn count(reader: &Connection) -> i64 {
        reader
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .expect("count")
    }

    #[test]
    fn a_commit_reaches_the_file_in_one_write_and_light_ones_are_not_synced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (writer, reader) = open(dir.path());
        // Several pages (the table's and a few overflow pages), each two writes without
        // the VFS: one write, visible to the other connection at once.
        assert_eq!(commit(&writer, 0, 4, 3000, false), (1, 0), "light");
        assert_eq!(count(&reader), 4);
        assert_eq!(commit(&writer, 4, 4, 3000, true), (1, 1), "synced");
        assert_eq!(count(&reader), 8);
        assert_eq!(commit(&writer, 8, 1, 10, false), (1, 0), "light again");
        assert_eq!(count(&reader), 9);
    }

    #[test]
    fn a_transaction_larger_than_the_hold_limit_is_written_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (writer, reader) = open(dir.path());
        // ~600 KB of rows: well past the limit, so written as it goes.
        let (writes, syncs) = commit(&writer, 0, 150, 4000, false);
        assert!(writes >= 600 * 1024 / HOLD_LIMIT, "{writes} writes");
        assert_eq!(syncs, 0);
        assert_eq!(count(&reader), 150);
        let total: i64 = reader
            .query_row("SELECT SUM(LENGTH(body)) FROM t", [], |r| r.get(0))
            .expect("sum");
        assert_eq!(total, 150 * 4000);
        let check: String = reader
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("integrity");
        assert_eq!(check, "ok");
    }

    #[test]
    fn a_light_commit_that_restarts_the_log_syncs_its_header() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (writer, reader) = open(dir.path());
        commit(&writer, 0, 3, 100, true);
        // Everything checkpointed and no reader in the log: the next commit rewrites the
        // WAL's header (a new salt), which SQLite syncs before any frame, as NORMAL does.
        writer
            .query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))
            .expect("checkpoint");
        assert_eq!(
            commit(&writer, 3, 1, 100, false),
            (2, 1),
            "header, then frames"
        );
        assert_eq!(count(&reader), 4);
        assert_eq!(commit(&writer, 4, 1, 100, false), (1, 0));
    }

    #[test]
    fn light_commits_survive_an_abandoned_connection() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (writer, reader) = open(dir.path());
        commit(&writer, 0, 5, 2000, false);
        // As if the process died: the connection never closes (nor checkpoints).
        std::mem::forget(writer);
        drop(reader);
        let again = Connection::open(dir.path().join("t.db")).expect("reopen");
        assert_eq!(count(&again), 5);
    }
}
