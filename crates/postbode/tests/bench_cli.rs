//! `postbode bench` end to end on small runs: the scenarios of the delivery engine
//! (batching, ordering, a slow receiver among fast ones) come out complete, checked and
//! with the settings they ran with; a run that measures nothing is refused.

use std::process::Command;

fn bench(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_postbode"))
        .arg("bench")
        .args(args)
        .env_remove("POSTBODE_ADMIN_TOKEN")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// The number after `label` on the report line that starts with it.
fn figure(report: &str, label: &str) -> u64 {
    let line = report
        .lines()
        .find(|line| line.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{report}"));
    line[line.find(label).unwrap() + label.len()..]
        .split_whitespace()
        .find_map(|word| word.parse().ok())
        .unwrap_or_else(|| panic!("no figure on {line:?}"))
}

#[test]
fn batched_ordered_deliveries_beside_a_slow_receiver_all_arrive_in_order() {
    let (ok, out, err) = bench(&[
        "-n",
        "300",
        "--concurrency",
        "8",
        "--fanout",
        "3",
        "--slow-receivers",
        "1",
        "--slow-latency",
        "200ms",
        "--batch-deliveries",
        "20",
        "--batch-wait",
        "5",
        "--ordered",
        "--subjects",
        "7",
        "--timeout",
        "60s",
    ]);
    assert!(ok, "bench failed:\n{out}\n{err}");
    // The settings it ran with are named; the rest are the API's defaults.
    assert!(out.contains("max_concurrency default"), "{out}");
    assert!(out.contains("batch {max_events 20, max_wait_ms 5}"), "{out}");
    assert!(out.contains("ordering profile over 7 subjects"), "{out}");
    assert!(out.contains("1 slow webhook(s)"), "{out}");
    // Every event reached both fast webhooks, once, in each subject's order; the run
    // fails when any arrives out of order.
    assert_eq!(figure(&out, "deliveries received"), 600, "{out}");
    assert_eq!(figure(&out, "lost"), 0, "{out}");
    assert!(!out.contains("out of order"), "{out}");
    assert!(out.contains("adaptive limit"), "{out}");
    assert!(out.contains("slow receivers"), "{out}");
}

#[test]
fn a_run_with_only_slow_receivers_is_refused() {
    let (ok, _, err) = bench(&["-n", "10", "--fanout", "2", "--slow-receivers", "2"]);
    assert!(!ok);
    assert!(err.contains("--slow-receivers 2 leaves no webhook to measure"), "{err}");
}

#[test]
fn two_nodes_on_postgresql_deliver_every_event_once_and_report_each_node() {
    let url = std::env::var("POSTBODE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    if std::net::TcpStream::connect("127.0.0.1:5432").is_err() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "PostgreSQL is required in CI"
        );
        eprintln!("skipped: no PostgreSQL on 127.0.0.1:5432");
        return;
    }
    let (ok, out, err) = bench(&["-n", "400", "--concurrency", "8", "--database", &url, "--nodes", "2"]);
    assert!(ok, "bench failed:\n{out}\n{err}");
    assert!(out.contains("on PostgreSQL, 2 nodes"), "{out}");
    assert_eq!(figure(&out, "deliveries received"), 400, "{out}");
    assert_eq!(figure(&out, "lost"), 0, "{out}");
    assert!(out.contains("peak RSS, node 2"), "{out}");
    assert!(out.contains("CPU per 1000 deliv."), "{out}");
    // PostgreSQL on this machine works for the nodes, and its share is reported too.
    let local = url.contains("@127.0.0.1") || url.contains("@localhost");
    assert!(
        !local
            || out
                .lines()
                .any(|line| line.starts_with("CPU per 1000 deliv.") && line.contains("; PostgreSQL ")),
        "{out}"
    );
    // The run's database is gone afterwards.
    let name = out
        .lines()
        .find_map(|line| line.strip_prefix("database: "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no database line in {out}"))
        .to_owned();
    let listed = Command::new("psql")
        .args([
            url.as_str(),
            "-tAc",
            &format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'"),
        ])
        .output()
        .expect("psql, PostgreSQL's client, is installed beside it");
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    assert_eq!(String::from_utf8_lossy(&listed.stdout).trim(), "0");
}

#[test]
fn a_short_soak_prints_its_table_bytes_per_delivery_and_a_memory_verdict() {
    let (ok, out, err) = bench(&[
        "--soak",
        "4s",
        "--rate",
        "200",
        "--sample-every",
        "1s",
        "--receiver-flap",
        "--concurrency",
        "8",
        "--timeout",
        "60s",
    ]);
    assert!(ok, "bench failed:\n{out}\n{err}");
    let header = out
        .lines()
        .position(|line| {
            line.split_whitespace()
                .collect::<Vec<_>>()
                .starts_with(&["time", "delivered"])
        })
        .unwrap_or_else(|| panic!("no table in:\n{out}"));
    for column in [
        "RSS", "anon", "cores", "CPU/1k", "database", "B/deliv", "p50", "p99", "failed",
    ] {
        assert!(
            out.lines().nth(header).unwrap().contains(column),
            "{column} missing:\n{out}"
        );
    }
    // A row per second of sending: its time, then the deliveries so far.
    let rows: Vec<&str> = out
        .lines()
        .skip(header + 1)
        .take_while(|line| line.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert_eq!(rows.len(), 4, "{out}");
    assert!(rows.iter().all(|row| row.contains(" MiB")), "{out}");
    // Every event was sent, and every delivery arrived, retried past the flapping.
    assert_eq!(figure(&out, "events accepted"), 800, "{out}");
    assert_eq!(figure(&out, "deliveries received"), 800, "{out}");
    assert_eq!(figure(&out, "lost"), 0, "{out}");
    assert!(figure(&out, "receiver failed") > 0, "{out}");
    assert!(figure(&out, "database") > 0, "{out}");
    assert!(out.contains(" bytes per delivery"), "{out}");
    assert!(out.contains("RSS slope"), "{out}");
    assert!(out.lines().any(|line| line.starts_with("memory verdict")), "{out}");
}

#[test]
fn a_soak_needs_a_rate() {
    let (ok, _, err) = bench(&["--soak", "10s"]);
    assert!(!ok);
    assert!(err.contains("--rate"), "{err}");
}
