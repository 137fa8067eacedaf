//! Backups of a real store on disk: taken while it writes, verified, pruned, copied, restored.

use super::*;
use crate::store::Store;

/// A store in `dir` with `n` events written (operators added), and one stored file.
fn store_with_data(dir: &Path, n: usize) -> Store {
    let store = Store::open(dir).expect("a store");
    let hash = crate::auth::hash_password("a password of the test");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    for i in 0..n {
        let hash = hash.clone();
        runtime
            .block_on(store.write(move |w| {
                w.add_operator(
                    &format!("op{i}@example.com"),
                    "Op",
                    &hash,
                    protocol::OperatorRole::Agent,
                    false,
                )
            }))
            .expect("written");
    }
    crate::files::FileStore::open(dir)
        .expect("files")
        .put(b"a stored file")
        .expect("stored");
    std::fs::write(dir.join(TOKEN_SECRET), "secret-of-this-deployment").expect("secret");
    store
}

#[test]
fn a_backup_taken_while_serving_is_whole_verified_and_named_by_time() {
    let data = tempfile::tempdir().expect("a directory");
    let backups = tempfile::tempdir().expect("a directory");
    let store = store_with_data(data.path(), 3);
    let (path, manifest) = take(data.path(), "primary", backups.path()).expect("a backup");
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("livechat-primary-20"), "{name}");
    assert!(name.ends_with('Z'), "{name}");
    assert_eq!(manifest.files, 1);
    assert_eq!(manifest.file_bytes, 13);
    assert!(manifest.events >= 3, "{manifest:?}");
    assert_eq!(verify(&path).expect("verified"), manifest);
    assert_eq!(
        std::fs::read_to_string(path.join(TOKEN_SECRET)).unwrap(),
        "secret-of-this-deployment"
    );
    // A second backup in the same second gets its own name.
    let (second, _) = take(data.path(), "primary", backups.path()).expect("a backup");
    assert_ne!(second, path);
    assert_eq!(list(backups.path()), [path, second]);
    store.shutdown();
}

#[test]
fn a_damaged_backup_is_refused_by_verify_and_restore() {
    let data = tempfile::tempdir().expect("a directory");
    let backups = tempfile::tempdir().expect("a directory");
    let store = store_with_data(data.path(), 1);
    let (path, _) = take(data.path(), "primary", backups.path()).expect("a backup");
    store.shutdown();
    let file = stored_files(&path.join("files")).unwrap().remove(0).1;
    std::fs::write(&file, b"tampered").unwrap();
    assert!(matches!(verify(&path), Err(BackupError::Damaged(_))));
    let target = tempfile::tempdir().expect("a directory");
    assert!(matches!(
        restore(&path, target.path(), false),
        Err(BackupError::Damaged(_))
    ));
    assert!(
        !target.path().join(DATABASE_FILE).exists(),
        "nothing restored"
    );
}

#[test]
fn retention_keeps_the_newest_and_removes_crash_leftovers() {
    let data = tempfile::tempdir().expect("a directory");
    let backups = tempfile::tempdir().expect("a directory");
    let store = store_with_data(data.path(), 1);
    let taken: Vec<PathBuf> = (0..4)
        .map(|_| {
            take(data.path(), "primary", backups.path())
                .expect("a backup")
                .0
        })
        .collect();
    let leftover = backups.path().join(".livechat-primary-x.partial");
    std::fs::create_dir(&leftover).unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::open(&leftover)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let unrelated = backups.path().join("notes");
    std::fs::create_dir(&unrelated).unwrap();
    let removed = prune(backups.path(), 2).expect("pruned");
    assert_eq!(list(backups.path()), taken[2..]);
    assert!(removed.contains(&leftover) && removed.contains(&taken[0]));
    assert!(unrelated.exists(), "only backups are ever removed");
    store.shutdown();
}

#[test]
fn a_restore_refuses_a_served_or_occupied_directory_and_moves_old_data_aside() {
    let data = tempfile::tempdir().expect("a directory");
    let backups = tempfile::tempdir().expect("a directory");
    let store = store_with_data(data.path(), 2);
    let (path, manifest) = take(data.path(), "primary", backups.path()).expect("a backup");
    // The off-site copy verifies in its own place.
    let offsite = tempfile::tempdir().expect("a directory");
    let copy = copy_to(&path, offsite.path()).expect("copied");
    assert_eq!(verify(&copy).expect("verified"), manifest);

    let lock = crate::datadir::lock_for_serving(data.path()).expect("served");
    assert!(matches!(
        restore(&copy, data.path(), true),
        Err(BackupError::Live(_))
    ));
    drop(lock);
    store.shutdown();
    assert!(matches!(
        restore(&copy, data.path(), false),
        Err(BackupError::Occupied(_))
    ));
    restore(&copy, data.path(), true).expect("restored over the old data");
    let aside: Vec<_> = std::fs::read_dir(data.path())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("before-restore-")
        })
        .collect();
    assert_eq!(aside.len(), 1);
    assert!(aside[0].path().join(DATABASE_FILE).exists());

    let fresh = tempfile::tempdir().expect("a directory");
    let restored = restore(&copy, fresh.path(), false).expect("restored");
    assert_eq!(restored, manifest);
    let differences =
        crate::store::sync_check::compare(data.path(), fresh.path()).expect("compared");
    assert!(differences.is_empty(), "{differences:?}");
    let reopened = Store::open(fresh.path()).expect("the restored store opens");
    reopened.shutdown();
}

#[test]
fn the_message_log_keeps_its_identity_across_restarts_and_gets_a_new_one_when_restored() {
    let data = tempfile::tempdir().expect("a directory");
    let backups = tempfile::tempdir().expect("a directory");
    let store = store_with_data(data.path(), 1);
    let log = store.message_log().to_owned();
    assert_eq!(log.len(), 32, "{log}");
    let (path, _) = take(data.path(), "primary", backups.path()).expect("a backup");
    store.shutdown();
    // Clients resume from the sequence numbers they received: a restart keeps them valid.
    let reopened = Store::open(data.path()).expect("reopened");
    assert_eq!(reopened.message_log(), log);
    reopened.shutdown();
    // A restored backup numbers on from its own past, below what clients received since.
    let restored_dir = tempfile::tempdir().expect("a directory");
    restore(&path, restored_dir.path(), false).expect("restored");
    let restored = Store::open(restored_dir.path()).expect("the restored store opens");
    assert_ne!(restored.message_log(), log);
    restored.shutdown();
    // So does a new, empty database.
    let empty = tempfile::tempdir().expect("a directory");
    let fresh = Store::open(empty.path()).expect("a new store");
    assert_ne!(fresh.message_log(), log);
    fresh.shutdown();
}

#[test]
fn periods_read_as_a_number_and_a_unit() {
    use super::plan::parse_period;
    assert_eq!(parse_period("90s"), Ok(std::time::Duration::from_secs(90)));
    assert_eq!(
        parse_period("6h"),
        Ok(std::time::Duration::from_secs(21_600))
    );
    assert_eq!(
        parse_period("1d"),
        Ok(std::time::Duration::from_secs(86_400))
    );
    assert!(parse_period("6").is_err());
    assert!(parse_period("h").is_err());
    assert!(parse_period("6w").is_err());
}

#[test]
fn stamps_sort_by_time() {
    assert_eq!(stamp(0), "19700101T000000Z");
    assert_eq!(stamp(1_796_206_500_000), "20261202T101500Z");
}
