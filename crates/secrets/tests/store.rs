//! Integration tests of the secret store through its public API: round trips, wrong
//! keys, tampering, file permissions, redaction, rotation and input validation.

use std::fs;
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ferry_secrets::{
    generate_master_key, KdfParams, MasterKey, SecretStore, SecretsError, Zeroizing,
    STORE_FILE_NAME,
};
use serde_json::Value;

const OR_KEY: &str = "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";
const OTHER_KEY: &str = "ghp_Z9y8X7w6V5u4T3s2R1q0";

fn cheap() -> KdfParams {
    KdfParams::new(8, 1, 1).expect("cheap params are valid")
}

fn raw_key() -> MasterKey {
    MasterKey::parse(&generate_master_key()).expect("generated key parses")
}

fn passphrase(text: &str) -> MasterKey {
    MasterKey::parse(text).expect("passphrase is long enough")
}

fn secret(text: &str) -> Zeroizing<String> {
    Zeroizing::new(text.to_owned())
}

fn open(root: &Path, key: &MasterKey) -> Result<SecretStore, SecretsError> {
    SecretStore::open_with_params(root, key, cheap())
}

/// A store with two slots, written under `key`.
fn populated(root: &Path, key: &MasterKey) {
    let mut store = open(root, key).expect("open new store");
    store
        .set("openrouter.primary", "openrouter", secret(OR_KEY))
        .expect("set primary");
    store
        .set("github.token", "github", secret(OTHER_KEY))
        .expect("set github");
}

fn read_json(root: &Path) -> Value {
    let bytes = fs::read(SecretStore::store_path(root)).expect("store file exists");
    serde_json::from_slice(&bytes).expect("store file is JSON")
}

fn write_json(root: &Path, doc: &Value) {
    fs::write(
        SecretStore::store_path(root),
        serde_json::to_vec_pretty(doc).expect("encode"),
    )
    .expect("write store file");
}

fn assert_corrupted(result: Result<SecretStore, SecretsError>) -> String {
    match result {
        Err(err @ SecretsError::Corrupted { .. }) => {
            let msg = err.to_string();
            assert!(msg.contains(STORE_FILE_NAME), "{msg}");
            assert!(msg.contains("corrupted or was tampered with"), "{msg}");
            assert!(!msg.contains(OR_KEY) && !msg.contains(OTHER_KEY), "{msg}");
            msg
        }
        Err(other) => panic!("expected Corrupted, got {other:?}"),
        Ok(store) => panic!("expected Corrupted, store opened: {store:?}"),
    }
}

fn assert_wrong_key(result: Result<SecretStore, SecretsError>) {
    match result {
        Err(SecretsError::WrongMasterKey) => {}
        Err(other) => panic!("expected WrongMasterKey, got {other:?}"),
        Ok(store) => panic!("expected WrongMasterKey, store opened: {store:?}"),
    }
}

#[test]
fn missing_file_is_an_empty_store_created_on_first_write() {
    let dir = tempfile::tempdir().unwrap();
    let key = raw_key();
    assert!(!SecretStore::exists(dir.path()));
    let mut store = open(dir.path(), &key).unwrap();
    assert!(store.is_empty());
    assert!(
        !SecretStore::exists(dir.path()),
        "open alone must not write"
    );
    store
        .set("openrouter.primary", "openrouter", secret(OR_KEY))
        .unwrap();
    assert!(SecretStore::exists(dir.path()));
    assert_eq!(
        SecretStore::store_path(dir.path()),
        dir.path().join("secrets.json")
    );
}

#[test]
fn round_trip_with_raw_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = raw_key();
    let mut store = open(dir.path(), &key).unwrap();
    let outcome = store
        .set("openrouter.primary", "openrouter", secret(OR_KEY))
        .unwrap();
    assert!(outcome.created);
    assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);
    assert_eq!(outcome.meta.fingerprint, "sk-or-…a1b2");
    store
        .set("github.token", "github", secret(OTHER_KEY))
        .unwrap();
    let again = store
        .set("openrouter.primary", "openrouter", secret(OR_KEY))
        .unwrap();
    assert!(!again.created);

    let reopened = SecretStore::open(dir.path(), &key).unwrap();
    assert_eq!(reopened.len(), 2);
    assert_eq!(reopened.get("openrouter.primary").unwrap().as_str(), OR_KEY);
    assert_eq!(reopened.get("github.token").unwrap().as_str(), OTHER_KEY);
    assert!(reopened.get("missing").is_none());
    assert!(reopened.contains("github.token"));
    assert!(!reopened.contains("missing"));

    let list = reopened.list();
    let refs: Vec<&str> = list.iter().map(|m| m.r#ref.as_str()).collect();
    assert_eq!(
        refs,
        ["github.token", "openrouter.primary"],
        "sorted by ref"
    );
    assert_eq!(list[0].provider, "github");
    assert_eq!(list[0].fingerprint, "gh…R1q0");
    assert_eq!(list, store.list(), "what was written is what is read");
    assert_eq!(read_json(dir.path())["kdf"]["algorithm"], "raw");
}

#[test]
fn round_trip_with_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let key = passphrase("correct horse battery staple");
    populated(dir.path(), &key);

    let doc = read_json(dir.path());
    assert_eq!(doc["format"], "ferry-secrets");
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["kdf"]["algorithm"], "argon2id");
    assert_eq!(doc["kdf"]["memory_kib"], 8);
    assert_eq!(doc["kdf"]["iterations"], 1);
    let salt = STANDARD
        .decode(doc["kdf"]["salt"].as_str().unwrap())
        .unwrap();
    assert_eq!(salt.len(), 16);

    // The header's parameters are used on open, whatever the caller passes.
    let reopened = SecretStore::open(dir.path(), &key).unwrap();
    assert_eq!(reopened.get("openrouter.primary").unwrap().as_str(), OR_KEY);
    assert_eq!(reopened.get("github.token").unwrap().as_str(), OTHER_KEY);
}

#[test]
fn default_params_are_used_for_new_passphrase_stores() {
    let dir = tempfile::tempdir().unwrap();
    let key = passphrase("correct horse battery staple");
    let mut store = SecretStore::open(dir.path(), &key).unwrap();
    store.set("a", "github", secret(OTHER_KEY)).unwrap();
    let doc = read_json(dir.path());
    assert_eq!(
        doc["kdf"]["memory_kib"], 65_536,
        "RFC 9106's second recommendation"
    );
    assert_eq!(doc["kdf"]["iterations"], 3);
    assert_eq!(doc["kdf"]["parallelism"], 4);
}

#[test]
fn stores_sealed_with_the_old_owasp_parameters_stay_readable() {
    let dir = tempfile::tempdir().unwrap();
    let key = passphrase("correct horse battery staple");
    let old = KdfParams::new(19_456, 2, 1).unwrap();
    let mut store = SecretStore::open_with_params(dir.path(), &key, old).unwrap();
    store.set("a", "github", secret(OTHER_KEY)).unwrap();
    // Opened with today's defaults: the header's parameters win, and writes keep them.
    let mut reopened = SecretStore::open(dir.path(), &key).unwrap();
    assert_eq!(reopened.get("a").unwrap().as_str(), OTHER_KEY);
    reopened.set("b", "github", secret(OR_KEY)).unwrap();
    let doc = read_json(dir.path());
    assert_eq!(doc["kdf"]["memory_kib"], 19_456);
    assert_eq!(doc["kdf"]["iterations"], 2);
    assert_eq!(doc["kdf"]["parallelism"], 1);
    let again = SecretStore::open(dir.path(), &key).unwrap();
    assert_eq!(again.get("b").unwrap().as_str(), OR_KEY);
}

#[test]
fn wrong_key_is_reported_and_file_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let key = raw_key();
    populated(dir.path(), &key);
    let path = SecretStore::store_path(dir.path());
    let before = fs::read(&path).unwrap();

    assert_wrong_key(open(dir.path(), &raw_key()));
    assert_wrong_key(open(dir.path(), &passphrase("a passphrase instead")));
    let err = open(dir.path(), &raw_key()).unwrap_err();
    assert!(err
        .to_string()
        .starts_with("wrong master key: this store was sealed with a different FERRY_MASTER_KEY"));

    assert_eq!(fs::read(&path).unwrap(), before);
}

#[test]
fn wrong_passphrase_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path(), &passphrase("correct horse battery staple"));
    assert_wrong_key(open(
        dir.path(),
        &passphrase("correct horse battery stapler"),
    ));
    assert_wrong_key(open(dir.path(), &raw_key()));
}

#[test]
fn flipped_ciphertext_byte_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let key = raw_key();
    populated(dir.path(), &key);
    let mut doc = read_json(dir.path());
    let slot = &mut doc["slots"][1];
    let mut ct = STANDARD
        .decode(slot["ciphertext"].as_str().unwrap())
        .unwrap();
    ct[3] ^= 0x01;
    slot["ciphertext"] = Value::String(STANDARD.encode(&ct));
    write_json(dir.path(), &doc);
    let msg = assert_corrupted(open(dir.path(), &key));
    assert!(msg.contains("openrouter.primary"), "names the slot: {msg}");
}

#[test]
fn changed_provider_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let key = raw_key();
    populated(dir.path(), &key);
    let mut doc = read_json(dir.path());
    doc["slots"][1]["provider"] = Value::String("anthropic".into());
    write_json(dir.path(), &doc);
    assert_corrupted(open(dir.path(), &key));
}

#[test]
fn renamed_ref_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let key = raw_key();
    populated(dir.path(), &key);
    let mut doc = read_json(dir.path());
    doc["slots"][1]["ref"] = Value::String("openrouter.secondary".into());
    write_json(dir.path(), &doc);
    assert_corrupted(open(dir.path(), &key));
}

#[test]
fn deleted_slot_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let key = raw_key();
    populated(dir.path(), &key);
    let mut doc = read_json(dir.path());
    doc["slots"].as_array_mut().unwrap().remove(0);
    write_json(dir.path(), &doc);
    let msg = assert_corrupted(open(dir.path(), &key));
    assert!(msg.contains("authenticator"), "{msg}");
}

#[test]
fn slot_replayed_from_an_older_file_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let key = raw_key();
    populated(dir.path(), &key);
    let old = read_json(dir.path());
    let mut store = open(dir.path(), &key).unwrap();
    store
        .set(
            "openrouter.primary",
            "openrouter",
            secret("sk-or-v1-rotated-upstream-key-0000"),
        )
        .unwrap();
    // Put back the old (validly sealed) value of one slot.
    let mut doc = read_json(dir.path());
    doc["slots"][1] = old["slots"][1].clone();
    write_json(dir.path(), &doc);
    assert_corrupted(open(dir.path(), &key));
}

#[test]
fn swapped_ciphertexts_are_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let key = raw_key();
    populated(dir.path(), &key);
    let mut doc = read_json(dir.path());
    let slots = doc["slots"].as_array_mut().unwrap();
    for field in ["ciphertext", "nonce"] {
        let a = slots[0][field].clone();
        slots[0][field] = slots[1][field].clone();
        slots[1][field] = a;
    }
    write_json(dir.path(), &doc);
    assert_corrupted(open(dir.path(), &key));
}

#[test]
fn changed_timestamp_or_extra_field_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let key = raw_key();
    populated(dir.path(), &key);
    let original = read_json(dir.path());

    let mut doc = original.clone();
    doc["slots"][0]["updated_at"] = Value::String("2001-01-01T00:00:00Z".into());
    write_json(dir.path(), &doc);
    assert_corrupted(open(dir.path(), &key));

    let mut doc = original.clone();
    doc["slots"][0]["note"] = Value::String("hello".into());
    write_json(dir.path(), &doc);
    assert_corrupted(open(dir.path(), &key));

    let mut doc = original;
    doc["authenticator"]["tag"] = Value::String(STANDARD.encode([0u8; 32]));
    write_json(dir.path(), &doc);
    assert_corrupted(open(dir.path(), &key));
}

#[test]
fn garbage_and_foreign_files_are_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let key = raw_key();
    let path = SecretStore::store_path(dir.path());

    fs::write(&path, b"this is not json {").unwrap();
    assert_corrupted(open(dir.path(), &key));

    fs::write(&path, b"").unwrap();
    assert_corrupted(open(dir.path(), &key));

    fs::write(&path, br#"{"format":"something-else","version":1}"#).unwrap();
    assert_corrupted(open(dir.path(), &key));

    fs::remove_file(&path).unwrap();
    populated(dir.path(), &key);
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    assert_corrupted(open(dir.path(), &key));
}

#[test]
fn newer_format_version_is_unsupported() {
    let dir = tempfile::tempdir().unwrap();
    let key = raw_key();
    populated(dir.path(), &key);
    let mut doc = read_json(dir.path());
    doc["version"] = Value::from(2);
    write_json(dir.path(), &doc);
    match open(dir.path(), &key) {
        Err(SecretsError::UnsupportedVersion {
            found: 2,
            supported: 1,
            ..
        }) => {}
        other => panic!("expected UnsupportedVersion, got {other:?}"),
    }
}

#[cfg(unix)]
#[test]
fn store_file_is_mode_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path(), &raw_key());
    let mode = fs::metadata(SecretStore::store_path(dir.path()))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn plaintext_never_reaches_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let key = passphrase("correct horse battery staple");
    populated(dir.path(), &key);
    let bytes = fs::read(SecretStore::store_path(dir.path())).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    for value in [OR_KEY, OTHER_KEY] {
        assert!(!text.contains(value));
        assert!(!text.contains(&value[value.len() - 12..]));
        assert!(!text.contains(&STANDARD.encode(value)));
        assert!(
            !bytes.windows(value.len()).any(|w| w == value.as_bytes()),
            "raw bytes"
        );
    }
    assert!(!text.contains("correct horse"));
}

#[test]
fn each_write_uses_a_fresh_nonce() {
    let dir = tempfile::tempdir().unwrap();
    let key = raw_key();
    let mut store = open(dir.path(), &key).unwrap();
    store.set("a", "github", secret(OTHER_KEY)).unwrap();
    let first = read_json(dir.path())["slots"][0].clone();
    store.set("a", "github", secret(OTHER_KEY)).unwrap();
    let second = read_json(dir.path())["slots"][0].clone();
    assert_ne!(first["nonce"], second["nonce"]);
    assert_ne!(first["ciphertext"], second["ciphertext"]);
}

#[test]
fn debug_and_errors_never_show_values() {
    let dir = tempfile::tempdir().unwrap();
    let key_text = generate_master_key();
    let key = MasterKey::parse(&key_text).unwrap();
    populated(dir.path(), &key);
    let store = open(dir.path(), &key).unwrap();
    let shown = format!("{store:?} {store:#?} {key:?}");
    for hidden in [OR_KEY, OTHER_KEY, &OR_KEY[..20], key_text.as_str()] {
        assert!(!shown.contains(hidden), "{shown}");
    }
    assert!(
        shown.contains("openrouter.primary"),
        "refs are fine: {shown}"
    );

    let pass = passphrase("correct horse battery staple");
    assert!(!format!("{pass:?}").contains("horse"));
    let outcome = store.list();
    let listed = format!("{outcome:?}");
    assert!(!listed.contains(OR_KEY) && !listed.contains(OTHER_KEY));
    let json = serde_json::to_string(&outcome).unwrap();
    assert!(json.contains("\"ref\":\"github.token\""), "{json}");
    assert!(!json.contains(OR_KEY));
}

#[test]
fn rotate_to_passphrase_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let old = raw_key();
    populated(dir.path(), &old);
    let before = open(dir.path(), &old).unwrap().list();

    let new = passphrase("a brand new passphrase");
    let count = SecretStore::rotate_with_params(dir.path(), &old, &new, cheap()).unwrap();
    assert_eq!(count, 2);
    assert_wrong_key(open(dir.path(), &old));
    let store = open(dir.path(), &new).unwrap();
    assert_eq!(store.get("openrouter.primary").unwrap().as_str(), OR_KEY);
    assert_eq!(store.get("github.token").unwrap().as_str(), OTHER_KEY);
    assert_eq!(store.list(), before, "metadata and times survive rotation");

    let newest = raw_key();
    assert_eq!(
        SecretStore::rotate_with_params(dir.path(), &new, &newest, cheap()).unwrap(),
        2
    );
    assert_wrong_key(open(dir.path(), &new));
    let store = open(dir.path(), &newest).unwrap();
    assert_eq!(store.get("openrouter.primary").unwrap().as_str(), OR_KEY);
    assert_eq!(read_json(dir.path())["kdf"]["algorithm"], "raw");
}

#[test]
fn rotate_with_the_same_passphrase_changes_salt_and_ciphertexts() {
    let dir = tempfile::tempdir().unwrap();
    let key = passphrase("correct horse battery staple");
    populated(dir.path(), &key);
    let before = read_json(dir.path());
    SecretStore::rotate_with_params(dir.path(), &key, &key, cheap()).unwrap();
    let after = read_json(dir.path());
    assert_ne!(before["kdf"]["salt"], after["kdf"]["salt"]);
    assert_ne!(
        before["slots"][0]["ciphertext"],
        after["slots"][0]["ciphertext"]
    );
    assert_eq!(
        open(dir.path(), &key)
            .unwrap()
            .get("github.token")
            .unwrap()
            .as_str(),
        OTHER_KEY
    );
}

#[test]
fn rotate_refuses_wrong_old_key_and_missing_store() {
    let dir = tempfile::tempdir().unwrap();
    let key = raw_key();
    match SecretStore::rotate(dir.path(), &key, &raw_key()) {
        Err(SecretsError::NoStore { .. }) => {}
        other => panic!("expected NoStore, got {other:?}"),
    }
    populated(dir.path(), &key);
    let path = SecretStore::store_path(dir.path());
    let before = fs::read(&path).unwrap();
    assert!(matches!(
        SecretStore::rotate(dir.path(), &raw_key(), &raw_key()),
        Err(SecretsError::WrongMasterKey)
    ));
    assert_eq!(fs::read(&path).unwrap(), before);
    assert!(open(dir.path(), &key).is_ok());
}

#[test]
fn openrouter_value_without_prefix_is_stored_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let key = raw_key();
    let mut store = open(dir.path(), &key).unwrap();
    let outcome = store
        .set(
            "openrouter.primary",
            "openrouter",
            secret("sk-ant-api03-somethingelse"),
        )
        .unwrap();
    assert_eq!(
        outcome.warnings,
        [
            "value for openrouter.primary does not start with sk-or- — OpenRouter keys look like \
          sk-or-v1-…; check you pasted the key, not something else"
        ]
    );
    assert!(outcome
        .warnings
        .iter()
        .all(|w| !w.contains("somethingelse")));
    assert_eq!(
        open(dir.path(), &key)
            .unwrap()
            .get("openrouter.primary")
            .unwrap()
            .as_str(),
        "sk-ant-api03-somethingelse"
    );
}

#[test]
fn invalid_input_is_rejected_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path(), &raw_key()).unwrap();
    assert!(matches!(
        store.set("Bad Ref", "openrouter", secret(OR_KEY)),
        Err(SecretsError::InvalidRef { .. })
    ));
    assert!(matches!(
        store.set(&"a".repeat(129), "openrouter", secret(OR_KEY)),
        Err(SecretsError::InvalidRef { .. })
    ));
    assert!(matches!(
        store.set("ok", "Open Router", secret(OR_KEY)),
        Err(SecretsError::InvalidProvider { .. })
    ));
    assert!(matches!(
        store.set("ok", "openrouter", secret("")),
        Err(SecretsError::EmptyValue)
    ));
    assert!(matches!(
        store.set("ok", "openrouter", secret(" \n")),
        Err(SecretsError::EmptyValue)
    ));
    assert!(store.is_empty());
    assert!(!SecretStore::exists(dir.path()));
}

#[test]
fn delete_persists() {
    let dir = tempfile::tempdir().unwrap();
    let key = raw_key();
    populated(dir.path(), &key);
    let mut store = open(dir.path(), &key).unwrap();
    assert!(store.delete("github.token").unwrap());
    assert!(!store.delete("github.token").unwrap());
    assert!(!store.delete("never.existed").unwrap());
    let reopened = open(dir.path(), &key).unwrap();
    assert!(!reopened.contains("github.token"));
    assert!(reopened.contains("openrouter.primary"));
    assert_eq!(reopened.len(), 1);
}

#[test]
fn failed_write_changes_nothing_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path(), &raw_key()).unwrap();
    // A non-empty directory where the file should go makes the final rename fail.
    let path = SecretStore::store_path(dir.path());
    fs::create_dir(&path).unwrap();
    fs::write(path.join("occupied"), b"x").unwrap();
    let err = store
        .set("openrouter.primary", "openrouter", secret(OR_KEY))
        .unwrap_err();
    assert!(matches!(err, SecretsError::Io { .. }), "{err:?}");
    assert!(!err.to_string().contains(OR_KEY));
    assert!(!store.contains("openrouter.primary"));
    let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1, "no temp file left behind");
}

#[test]
fn open_optional_requires_a_key_only_when_a_store_exists() {
    let dir = tempfile::tempdir().unwrap();
    assert!(SecretStore::open_optional(dir.path(), None)
        .unwrap()
        .is_none());
    let key = raw_key();
    populated(dir.path(), &key);
    let err = SecretStore::open_optional(dir.path(), None).unwrap_err();
    assert!(matches!(err, SecretsError::NoMasterKey));
    let msg = err.to_string();
    assert!(
        msg.contains("FERRY_MASTER_KEY") && msg.contains("FERRY_MASTER_KEY_FILE"),
        "{msg}"
    );
    assert!(SecretStore::open_optional(dir.path(), Some(&key))
        .unwrap()
        .is_some());
}

#[test]
fn tampered_kdf_header_cannot_open_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let key = passphrase("correct horse battery staple");
    populated(dir.path(), &key);
    let mut doc = read_json(dir.path());
    doc["kdf"]["salt"] = Value::String(STANDARD.encode([1u8; 16]));
    write_json(dir.path(), &doc);
    // The salt decides the key, so a changed salt looks like a different key.
    assert_wrong_key(open(dir.path(), &key));

    let mut doc = read_json(dir.path());
    doc["kdf"]["memory_kib"] = Value::from(u64::from(u32::MAX));
    write_json(dir.path(), &doc);
    assert_corrupted(open(dir.path(), &key));
}

// --- A store kept elsewhere than a file (a shared database) -----------------------------

/// The document of a populated file store, split as a database keeps it and put back.
fn as_database_keeps_it(doc: &ferry_secrets::SealedDocument) -> ferry_secrets::SealedDocument {
    let header = doc.header_json().unwrap();
    assert!(!header.contains("slots"), "{header}");
    ferry_secrets::SealedDocument::from_parts("db", &header, doc.slots.clone()).unwrap()
}

#[test]
fn a_file_store_moves_into_parts_verbatim_and_opens_there() {
    let dir = tempfile::tempdir().unwrap();
    let key = passphrase("correct horse battery staple");
    populated(dir.path(), &key);
    let doc = SecretStore::read_document(dir.path()).unwrap().unwrap();
    let moved = as_database_keeps_it(&doc);
    assert_eq!(moved, doc);
    let store = SecretStore::open_document("db", moved, &key).unwrap();
    assert_eq!(store.get("openrouter.primary").unwrap().as_str(), OR_KEY);
    assert_eq!(store.origin(), "db");
    // A store kept elsewhere is not a file: the file-writing calls refuse.
    let mut store = store;
    match store.set("x.y", "other", secret("v")) {
        Err(SecretsError::NotAFile { .. }) => {}
        other => panic!("expected NotAFile, got {other:?}"),
    }
    assert!(!store.contains("x.y"));
}

#[test]
fn staged_changes_change_nothing_until_applied_and_reload_takes_another_writers_changes() {
    let key = raw_key();
    let mut a = SecretStore::new_detached("db", &key, cheap()).unwrap();
    let (staged, outcome) = a
        .stage_set("openrouter.primary", "openrouter", secret(OR_KEY))
        .unwrap();
    assert!(outcome.created);
    assert!(!a.contains("openrouter.primary"), "staging changes nothing");
    let kept = staged.document().clone();
    a.apply(staged);
    assert_eq!(a.get("openrouter.primary").unwrap().as_str(), OR_KEY);
    assert_eq!(a.document().unwrap().slots, kept.slots);

    // B opens what A kept, adds a slot; A reloads B's document with the keys it holds.
    let mut b = SecretStore::open_document("db", kept, &key).unwrap();
    let (staged, outcome) = b
        .stage_set("github.token", "github", secret(OTHER_KEY))
        .unwrap();
    assert!(outcome.created);
    let from_b = staged.document().clone();
    b.apply(staged);
    a.reload(from_b.clone()).unwrap();
    assert_eq!(a.list(), b.list());
    // A deletion, staged and applied.
    let staged = a.stage_delete("github.token").unwrap().unwrap();
    assert!(a.contains("github.token"));
    a.apply(staged);
    assert!(!a.contains("github.token"));
    assert!(a.stage_delete("github.token").unwrap().is_none());

    // A document sealed under another master key is refused and changes nothing.
    let other = SecretStore::new_detached("db", &raw_key(), cheap()).unwrap();
    match a.reload(other.document().unwrap()) {
        Err(SecretsError::WrongMasterKey) => {}
        other => panic!("expected WrongMasterKey, got {other:?}"),
    }
    assert!(a.contains("openrouter.primary"));

    // A slot dropped from the parts fails the store authenticator.
    let mut dropped = from_b;
    dropped.slots.retain(|s| s.r#ref != "github.token");
    match a.reload(dropped) {
        Err(SecretsError::Corrupted { detail, .. }) => {
            assert!(detail.contains("authenticator"), "{detail}")
        }
        other => panic!("expected Corrupted, got {other:?}"),
    }
}

#[test]
fn a_damaged_header_says_what_is_wrong() {
    let doc = SecretStore::new_detached("db", &raw_key(), cheap())
        .unwrap()
        .document()
        .unwrap();
    let header = doc.header_json().unwrap();
    for (bad, says) in [
        ("not json", "not JSON"),
        ("[1]", "not a JSON object"),
        (
            &header.replace("ferry-secrets", "other") as &str,
            "\"format\"",
        ),
    ] {
        match ferry_secrets::SealedDocument::from_parts("db", bad, Vec::new()) {
            Err(SecretsError::Corrupted { store, detail }) => {
                assert_eq!(store, "db");
                assert!(detail.contains(says), "{detail}")
            }
            other => panic!("expected Corrupted, got {other:?}"),
        }
    }
    let newer = header.replace("\"version\":1", "\"version\":2");
    assert!(matches!(
        ferry_secrets::SealedDocument::from_parts("db", &newer, Vec::new()),
        Err(SecretsError::UnsupportedVersion { found: 2, .. })
    ));
}
