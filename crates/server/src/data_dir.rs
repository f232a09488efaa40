//! The data dir and its files are private: the directory is made 0700 and the database
//! 0600 before SQLite opens it (SQLite gives its `-wal` and `-shm` files the database
//! file's permissions), so that the database, the secret key and the lock are readable by
//! the service's user alone.

use std::io;
use std::path::Path;

/// The database's file name in the data dir.
pub const DATABASE: &str = "mistgate.db";

/// Makes `dir` (mode 0700) and its empty database file (0600) when they do not exist.
/// What exists already is left as the operator set it.
pub fn create(dir: &Path) -> io::Result<()> {
    create_dir(dir)?;
    let db = dir.join(DATABASE);
    if !db.exists() {
        private_file(&db)?;
    }
    Ok(())
}

/// Makes `dir` (mode 0700) when it does not exist, without a database file: for a log
/// kept in PostgreSQL, whose data dir holds only the secret key.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    if !dir.exists() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir)?;
    }
    Ok(())
}

/// Creates `path` empty with mode 0600 (it must not exist).
pub fn private_file(path: &Path) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_new_data_dir_and_its_database_are_private() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("a").join("data");
        create(&dir).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(DATABASE)), 0o600);
        // Again: nothing changes, nothing fails.
        create(&dir).unwrap();
        assert_eq!(mode(&dir.join(DATABASE)), 0o600);
    }
}
