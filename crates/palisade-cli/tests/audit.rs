//! `palisade audit` end to end: keygen, append, checkpoint, verify, export,
//! verify-export, query and prove, with the export's root recomputed by a separate
//! RFC 6962 implementation written here from the RFC, not taken from the crate.
#![allow(clippy::cast_possible_truncation, reason = "test sizes are small")]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use std::path::Path;

mod support;

use support::{palisade, stderr, stdout};

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// RFC 6962 §2.1, directly: MTH over leaf inputs.
fn mth(leaves: &[&[u8]]) -> [u8; 32] {
    match leaves.len() {
        0 => Sha256::digest(b"").into(),
        1 => {
            let mut h = Sha256::new();
            h.update([0u8]);
            h.update(leaves[0]);
            h.finalize().into()
        }
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            let mut h = Sha256::new();
            h.update([1u8]);
            h.update(mth(&leaves[..k]));
            h.update(mth(&leaves[k..]));
            h.finalize().into()
        }
    }
}

/// RFC 6962 §2.1.1 PATH(m, D[n]).
fn path_of(m: usize, leaves: &[&[u8]]) -> Vec<[u8; 32]> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    if m < k {
        let mut p = path_of(m, &leaves[..k]);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = path_of(m - k, &leaves[k..]);
        p.push(mth(&leaves[..k]));
        p
    }
}

const EVENTS: &str = r#"{"tenant":"acme","actor":"alice","action":"auth.login.succeeded","ip":"203.0.113.9","user_agent":"Mozilla/5.0"}
{"tenant":"acme","actor":"bob","action":"auth.login.failed","ip":"2001:db8::2","user_agent":"curl/8"}
{"tenant":"acme","action":"approval.granted"}
{"tenant":"acme","actor":"alice","action":"approval.granted","target":"invoice-7","details":{"amount":120,"currency":"EUR"}}
not json at all
{"tenant":"acme","actor":"carol","action":"permission.changed","target":"bob","outcome":"success","details":{"role":"admin"}}
{"tenant":"acme","actor":"alice","action":"integration.connected","target":"slack"}
"#;

#[test]
fn audit_commands_end_to_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("audit.key");
    let log = dir.path().join("log");
    let (key_s, log_s) = (path(&key), path(&log));

    // keygen: a 0600 key and its public half.
    let out = palisade(&["audit", "keygen", "--out", key_s], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let public = std::fs::read_to_string(format!("{key_s}.pub")).expect("public key");
    assert_eq!(stdout(&out), public);
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&key).expect("key").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        palisade(&["audit", "keygen", "--out", key_s], "")
            .status
            .code(),
        Some(2)
    );
    let pub_s = &format!("{key_s}.pub");

    // append: bad lines are named and skipped, every good line lands.
    let out = palisade(&["audit", "append", "--log", log_s], EVENTS);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        "index 0\nindex 1\nindex 2\nindex 3\nindex 4\n"
    );
    let err = stderr(&out);
    assert!(
        err.contains("line 3: rejected") && err.contains("actor"),
        "{err}"
    );
    assert!(err.contains("line 5: rejected"), "{err}");
    assert!(
        !err.contains("line 4:") && !err.contains("line 6:"),
        "{err}"
    );

    // checkpoint.
    let out = palisade(&["audit", "checkpoint", "--log", log_s, "--key", key_s], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let note = stdout(&out);
    let mut lines = note.lines();
    assert_eq!(lines.next(), Some("palisade-audit/acme"));
    assert_eq!(lines.next(), Some("5"));
    let checkpoint_root = lines.next().expect("root line").to_owned();
    assert!(note.contains("\n\n\u{2014} palisade-audit "), "{note}");
    let checkpoint = dir.path().join("checkpoint-5");
    std::fs::write(&checkpoint, &note).expect("save checkpoint");
    let cp_s = path(&checkpoint);

    // verify, with and without the key and the pin.
    for args in [
        vec!["audit", "verify", "--log", log_s],
        vec!["audit", "verify", "--log", log_s, "--public-key", pub_s],
        vec![
            "audit",
            "verify",
            "--log",
            log_s,
            "--public-key",
            pub_s,
            "--trusted",
            cp_s,
        ],
    ] {
        let out = palisade(&args, "");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stdout(&out));
        assert_eq!(stdout(&out), format!("ok 5 {checkpoint_root}\n"));
    }

    // export, and the root recomputed independently.
    let export = dir.path().join("export.jsonl");
    let export_s = path(&export);
    let out = palisade(&["audit", "export", "--log", log_s, "--out", export_s], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let exported = std::fs::read(&export).expect("export");
    let leaves: Vec<&[u8]> = exported
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(leaves.len(), 5);
    for (i, leaf) in leaves.iter().enumerate() {
        let value: serde_json::Value = serde_json::from_slice(leaf).expect("a JSON line");
        assert_eq!(value["index"], i);
        assert_eq!(value["tenant"], "acme");
    }
    assert_eq!(STANDARD.encode(mth(&leaves)), checkpoint_root);
    let out = palisade(&["audit", "export", "--log", log_s], "");
    assert_eq!(out.stdout, exported);

    // verify-export: offline, same output and exit codes.
    let verify_export = |export: &str, extra: &[&str]| {
        let mut args = vec![
            "audit",
            "verify-export",
            "--export",
            export,
            "--checkpoint",
            cp_s,
            "--public-key",
            pub_s,
        ];
        args.extend_from_slice(extra);
        palisade(&args, "")
    };
    let out = verify_export(export_s, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(stdout(&out), format!("ok 5 {checkpoint_root}\n"));
    let tampered = dir.path().join("tampered.jsonl");
    std::fs::write(
        &tampered,
        String::from_utf8(exported.clone())
            .expect("utf-8")
            .replace("bob", "eve"),
    )
    .expect("write");
    let out = verify_export(path(&tampered), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).starts_with("invalid: "), "{}", stdout(&out));
    let short = dir.path().join("short.jsonl");
    let cut = exported.iter().rposition(|b| *b == b'\n').expect("newline");
    let cut = exported[..cut]
        .iter()
        .rposition(|b| *b == b'\n')
        .expect("newline")
        + 1;
    std::fs::write(&short, &exported[..cut]).expect("write");
    let out = verify_export(path(&short), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("holds 4 entries"), "{}", stdout(&out));

    // query: filters and limit.
    let query = |extra: &[&str]| {
        let mut args = vec!["audit", "query", "--log", log_s];
        args.extend_from_slice(extra);
        let out = palisade(&args, "");
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stdout(&out)
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).expect("JSON line")["index"]
                    .as_u64()
                    .expect("index")
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(query(&[]), vec![4, 3, 2, 1, 0]);
    assert_eq!(query(&["--actor", "alice"]), vec![4, 2, 0]);
    assert_eq!(query(&["--action", "auth"]), vec![1, 0]);
    assert_eq!(query(&["--action", "auth.login.failed"]), vec![1]);
    assert_eq!(query(&["--tenant", "acme", "--limit", "2"]), vec![4, 3]);
    assert_eq!(query(&["--tenant", "other"]), Vec::<u64>::new());
    assert_eq!(
        query(&[
            "--since",
            "2000-01-01T00:00:00Z",
            "--until",
            "2000-01-02T00:00:00Z"
        ]),
        Vec::<u64>::new()
    );
    assert_eq!(query(&["--since", "2000-01-01T00:00:00Z"]).len(), 5);
    assert_eq!(
        palisade(
            &["audit", "query", "--log", log_s, "--since", "yesterday"],
            ""
        )
        .status
        .code(),
        Some(2)
    );

    // prove: checked against the independent implementation.
    for (index, size) in [(0u64, None), (3, None), (2, Some(3u64)), (4, Some(5))] {
        let mut args = vec!["audit", "prove", "--log", log_s];
        let index_s = index.to_string();
        args.extend(["--index", index_s.as_str()]);
        let size_s = size.map(|s| s.to_string());
        if let Some(size_s) = &size_s {
            args.extend(["--size", size_s.as_str()]);
        }
        let out = palisade(&args, "");
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let proof: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
        let n = size.unwrap_or(5) as usize;
        assert_eq!(proof["leafIdx"], index);
        assert_eq!(proof["treeSize"], n);
        assert_eq!(proof["root"], STANDARD.encode(mth(&leaves[..n])));
        assert_eq!(
            proof["leafHash"],
            STANDARD.encode(mth(&leaves[index as usize..=index as usize]))
        );
        let expected: Vec<String> = path_of(index as usize, &leaves[..n])
            .iter()
            .map(|h| STANDARD.encode(h))
            .collect();
        assert_eq!(proof["proof"], serde_json::json!(expected));
    }
    assert_eq!(
        palisade(&["audit", "prove", "--log", log_s, "--index", "5"], "")
            .status
            .code(),
        Some(2)
    );

    // Rollback: keep a copy at 5 entries, grow the log, pin the newer checkpoint.
    let old_copy = dir.path().join("old");
    copy_dir(&log, &old_copy);
    let more = "{\"tenant\":\"acme\",\"actor\":\"dave\",\"action\":\"auth.session.revoked\",\"target\":\"s-1\"}\n";
    let out = palisade(&["audit", "append", "--log", log_s], more);
    assert_eq!(
        (out.status.code(), stdout(&out).as_str()),
        (Some(0), "index 5\n")
    );
    let out = palisade(&["audit", "checkpoint", "--log", log_s, "--key", key_s], "");
    let newer = dir.path().join("checkpoint-6");
    std::fs::write(&newer, stdout(&out)).expect("save");
    let out = palisade(
        &[
            "audit",
            "verify",
            "--log",
            path(&old_copy),
            "--public-key",
            pub_s,
            "--trusted",
            path(&newer),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).starts_with("invalid: rolled back"),
        "{}",
        stdout(&out)
    );
    let out = verify_export(export_s, &["--trusted", path(&newer)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).starts_with("invalid: rolled back"),
        "{}",
        stdout(&out)
    );

    // Tamper with a byte of the segment: invalid.
    let segment = log.join("acme").join("segment-00000000000000000000.log");
    let mut bytes = std::fs::read(&segment).expect("segment");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x20;
    std::fs::write(&segment, &bytes).expect("write");
    let out = palisade(
        &["audit", "verify", "--log", log_s, "--public-key", pub_s],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).starts_with("invalid: "), "{}", stdout(&out));
}

#[test]
fn several_tenants_need_a_choice_and_bad_flags_are_usage_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("log");
    let log_s = path(&log);
    let events = "{\"tenant\":\"a\",\"actor\":\"x\",\"action\":\"auth.mfa.enrolled\"}\n\
                  {\"tenant\":\"b\",\"actor\":\"y\",\"action\":\"auth.mfa.removed\"}\n\
                  {\"tenant\":\"a\",\"actor\":\"z\",\"action\":\"custom.thing\"}\n";
    let out = palisade(&["audit", "append", "--log", log_s], events);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "index 0\nindex 0\nindex 1\n");
    let out = palisade(&["audit", "verify", "--log", log_s], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--tenant"), "{}", stderr(&out));
    let out = palisade(&["audit", "verify", "--log", log_s, "--tenant", "a"], "");
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).starts_with("ok 2 "), "{}", stdout(&out));

    // A trusted checkpoint names its tenant; a log gone since it was signed is a
    // rollback (exit 1), not a usage error.
    let (key, public) = (dir.path().join("key"), dir.path().join("key.pub"));
    let out = palisade(&["audit", "keygen", "--out", path(&key)], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = palisade(
        &[
            "audit",
            "checkpoint",
            "--log",
            log_s,
            "--key",
            path(&key),
            "--tenant",
            "b",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let trusted = dir.path().join("b.checkpoint");
    std::fs::write(&trusted, stdout(&out)).expect("write");
    let pinned = |log: &str| {
        let args = [
            "audit",
            "verify",
            "--log",
            log,
            "--public-key",
            path(&public),
        ];
        palisade(&[&args[..], &["--trusted", path(&trusted)]].concat(), "")
    };
    let out = pinned(log_s);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("ok 1 "), "{}", stdout(&out));
    let out = pinned(path(&dir.path().join("gone")));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("invalid: rolled back"),
        "{}",
        stdout(&out)
    );
    assert!(
        !stderr(&pinned(log_s)).contains("note:"),
        "b is signed throughout"
    );
    // With a key, entries no signed checkpoint covers are named on stderr; still ok.
    let out = palisade(
        &[
            "audit",
            "verify",
            "--log",
            log_s,
            "--tenant",
            "a",
            "--public-key",
            path(&public),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("covers 0 of the 2 entries"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        palisade(
            &[
                "audit",
                "verify",
                "--log",
                path(&dir.path().join("missing"))
            ],
            ""
        )
        .status
        .code(),
        Some(2)
    );
    assert_eq!(palisade(&["audit", "append"], "").status.code(), Some(2));
    assert_eq!(
        palisade(&["audit", "prove", "--log", log_s, "--index", "x"], "")
            .status
            .code(),
        Some(2)
    );
    let key = dir.path().join("not-a-key");
    std::fs::write(&key, "nonsense").expect("write");
    let out = palisade(
        &[
            "audit",
            "checkpoint",
            "--log",
            log_s,
            "--key",
            path(&key),
            "--tenant",
            "a",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for item in std::fs::read_dir(from).expect("read dir") {
        let item = item.expect("entry");
        let target = to.join(item.file_name());
        if item.file_type().expect("type").is_dir() {
            copy_dir(&item.path(), &target);
        } else {
            std::fs::copy(item.path(), target).expect("copy");
        }
    }
}
