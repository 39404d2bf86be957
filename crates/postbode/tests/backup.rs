//! `postbode backup` against the real service under load: the copy, restored into a
//! new data directory and served, holds every event that had its 202 before the backup
//! began. A PostgreSQL store is refused with the tool to use instead. The data
//! directory, its files and backups are readable by their owner only, whatever the umask.

mod common;

use common::binary::{post, start_binary, start_binary_under};
use common::free_port;
use common::{ADMIN, eventually};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_every_event_accepted_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let binary = start_binary(&data, free_port()).await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let (_, account) = post(
        &client,
        &format!("{}/v1/accounts", binary.url),
        ADMIN,
        json!({"name": "Acme"}),
    )
    .await
    .unwrap();
    let key = account["api_key"].as_str().unwrap().to_owned();

    let accepted = Arc::new(Mutex::new(Vec::<String>::new()));
    let done = Arc::new(AtomicBool::new(false));
    let mut producers = Vec::new();
    for producer in 0..8 {
        let (accepted, done, key, client) = (accepted.clone(), done.clone(), key.clone(), client.clone());
        let url = format!("{}/v1/events", binary.url);
        producers.push(tokio::spawn(async move {
            // Bounded, and ended as soon as the backup is done.
            for n in 0..20_000 {
                if done.load(Ordering::SeqCst) {
                    return;
                }
                let (status, answer) = post(
                    &client,
                    &url,
                    &key,
                    json!({"type": "stream", "data": {"p": producer, "n": n}}),
                )
                .await
                .unwrap();
                assert_eq!(status, 202, "{answer}");
                accepted.lock().unwrap().push(answer["id"].as_str().unwrap().to_owned());
            }
        }));
    }
    eventually("some events accepted", || async {
        (accepted.lock().unwrap().len() >= 200).then_some(())
    })
    .await;

    let before_backup: Vec<String> = accepted.lock().unwrap().clone();
    let copy = dir.path().join("copy.db");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_postbode"))
        .args(["backup"])
        .arg(&copy)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stdout).starts_with("Backed up "),
        "{output:?}"
    );
    let during_backup = accepted.lock().unwrap().len();
    done.store(true, Ordering::SeqCst);
    for producer in producers {
        producer.await.unwrap();
    }
    assert!(
        during_backup > before_backup.len(),
        "events kept coming in while the backup ran"
    );
    drop(binary);

    // Restore: the copy is the new data directory's database.
    let restored = dir.path().join("restored");
    std::fs::create_dir_all(&restored).unwrap();
    std::fs::copy(&copy, restored.join("postbode.db")).unwrap();
    std::fs::copy(data.join("master-key"), restored.join("master-key")).unwrap();
    let binary = start_binary(&restored, free_port()).await;
    for id in &before_backup {
        let response = client
            .get(format!("{}/v1/events/{id}", binary.url))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status().as_u16(),
            200,
            "event {id} accepted before the backup is missing"
        );
    }

    // A second backup never overwrites a file.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_postbode"))
        .args(["backup"])
        .arg(&copy)
        .arg("--data-dir")
        .arg(&restored)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("exists already"),
        "{output:?}"
    );
}

#[test]
fn a_postgres_store_is_backed_up_with_pg_dump() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_postbode"))
        .args([
            "backup",
            "/tmp/never-written.db",
            "--database",
            "postgres://postgres:secret@127.0.0.1:1/none",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("pg_dump") && !stderr.contains("secret"), "{stderr}");
}

/// Runs the command it is given with umask 000, so anything not made private on
/// purpose would be readable and writable by every local user.
const UMASK_000: &[&str] = &["sh", "-c", "umask 000 && exec \"$0\" \"$@\""];

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_and_backups_are_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let binary = start_binary_under(UMASK_000, &data, free_port(), &[]).await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let (status, account) = post(
        &client,
        &format!("{}/v1/accounts", binary.url),
        ADMIN,
        json!({"name": "Acme"}),
    )
    .await
    .unwrap();
    assert_eq!(status, 201, "{account}");
    assert_eq!(mode(&data), 0o700);
    let files = || -> Vec<(String, u32)> {
        let mut files: Vec<(String, u32)> = std::fs::read_dir(&data)
            .unwrap()
            .map(|entry| {
                let path = entry.unwrap().path();
                (path.file_name().unwrap().to_string_lossy().into_owned(), mode(&path))
            })
            .collect();
        files.sort();
        files
    };
    let names: Vec<String> = files().into_iter().map(|(name, _)| name).collect();
    for expected in [
        "master-key",
        "postbode.db",
        "postbode.db-wal",
        "postbode.db-shm",
        "postbode.db.lock",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} in {names:?}");
    }
    assert!(files().iter().all(|(_, mode)| *mode == 0o600), "{:?}", files());

    let copy = dir.path().join("copy.db");
    let output = std::process::Command::new(UMASK_000[0])
        .args(&UMASK_000[1..])
        .arg(env!("CARGO_BIN_EXE_postbode"))
        .arg("backup")
        .arg(&copy)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(mode(&copy), 0o600);

    // Files an earlier start left readable by others are made private again.
    drop(binary);
    std::fs::set_permissions(data.join("postbode.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let _binary = start_binary_under(UMASK_000, &data, free_port(), &[]).await;
    assert!(files().iter().all(|(_, mode)| *mode == 0o600), "{:?}", files());
}
