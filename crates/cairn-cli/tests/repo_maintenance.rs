//! Repository maintenance end to end through the `cairn` binary, on each of the
//! three backends (a local directory, moto's S3 server, Azurite): stats against
//! what went in, check, verify (all and a sample, which must read exactly the
//! sampled packs), passwd (old password refused, new one opens, no pack
//! rewritten), forget + prune (less stored, everything kept restores byte for
//! byte).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod repo_support;

use std::collections::BTreeMap;

use repo_support::*;

/// Version 1 of the corpus: `f0` is all noise (it changes wholly in version 2,
/// so its packs become garbage entirely); `f1`–`f3` mix noise and compressible
/// text (a third of them change, so their packs become partly garbage);
/// `f3/copy.bin` duplicates `f1/item01.bin`.
fn version1() -> Tree {
    let mut t = Tree::new();
    for i in 0..24u64 {
        t.insert(format!("f0/item{i:02}.bin"), noise(i, 100_000));
    }
    for f in 1..4u64 {
        for i in 0..16u64 {
            let seed = f * 100 + i;
            if i % 2 == 0 {
                t.insert(
                    format!("f{f}/item{i:02}.txt"),
                    text(seed, 30_000 + (i as usize * 3_331)),
                );
            } else {
                t.insert(
                    format!("f{f}/item{i:02}.bin"),
                    noise(seed, 40_000 + (i as usize * 2_719)),
                );
            }
        }
    }
    t.insert("f3/copy.bin".into(), t["f1/item01.bin"].clone());
    t
}

/// Version 2: every file of `f0` and every third file elsewhere get new content.
fn version2(v1: &Tree) -> (Tree, Vec<String>) {
    let mut t = v1.clone();
    let mut changed = Vec::new();
    for (n, (k, v)) in v1.iter().enumerate() {
        if k.starts_with("f0/") || (n % 3 == 0 && k != "f3/copy.bin" && k != "f1/item01.bin") {
            let seed = 10_000 + n as u64;
            let new = if k.ends_with(".txt") {
                text(seed, v.len())
            } else {
                noise(seed, v.len())
            };
            t.insert(k.clone(), new);
            changed.push(k.clone());
        }
    }
    (t, changed)
}

fn total(t: &Tree) -> u64 {
    t.values().map(|v| v.len() as u64).sum()
}

fn n(v: &serde_json::Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("no {k} in {v}"))
}

fn packs(target: &Target) -> BTreeMap<String, u64> {
    target.objects("data/")
}

fn scenario(store: Store) {
    let tmp = tempfile::tempdir().unwrap();
    let Some(target) = Target::new(store, tmp.path()) else {
        return;
    };
    let mut cli = Cli::new(tmp.path().join("home"), "first password");
    target.create(&cli, "main");
    let src = tmp.path().join("src");
    let out = tmp.path().join("out");

    // Version 1: the figures match what went in.
    let v1 = version1();
    write_tree(&src, &v1);
    let rp1 = cli.put_dir("main", &src);
    let dup = v1["f3/copy.bin"].len() as u64;
    let noise_bytes: u64 = v1
        .iter()
        .filter(|(k, _)| k.ends_with(".bin"))
        .map(|(_, v)| v.len() as u64)
        .sum();
    let s1 = cli.stats("main");
    assert_eq!(n(&s1, "restore_points"), 1, "{s1}");
    assert_eq!(n(&s1, "organizations"), 1, "{s1}");
    assert_eq!(n(&s1, "protected_objects"), 1, "{s1}");
    assert_eq!(n(&s1, "latest_items"), v1.len() as u64, "{s1}");
    assert_eq!(n(&s1, "latest_logical_bytes"), total(&v1), "{s1}");
    assert_eq!(n(&s1, "total_logical_bytes"), total(&v1), "{s1}");
    // The duplicate file is stored once: unique data is everything else, exactly.
    assert_eq!(n(&s1, "unique_bytes"), total(&v1) - dup, "{s1}");
    let stored1 = packs(&target);
    assert_eq!(n(&s1, "packs"), stored1.len() as u64, "{s1}");
    assert_eq!(
        n(&s1, "stored_bytes"),
        stored1.values().sum::<u64>(),
        "{s1}"
    );
    // Text compresses, noise does not: stored is between the two.
    assert!(n(&s1, "stored_bytes") < total(&v1) - dup, "{s1}");
    assert!(n(&s1, "stored_bytes") > noise_bytes - dup, "{s1}");
    assert!(s1["compression_ratio"].as_f64().unwrap() > 1.1, "{s1}");
    let dedup = s1["dedup_ratio"].as_f64().unwrap();
    let expected = total(&v1) as f64 / (total(&v1) - dup) as f64;
    assert!((dedup - expected).abs() < 1e-9, "{s1}");

    // Version 2: a second restore point; only the changed files are new data.
    let (v2, changed) = version2(&v1);
    write_tree(&src, &v2);
    let rp2 = cli.put_dir("main", &src);
    let changed_bytes: u64 = changed.iter().map(|k| v2[k].len() as u64).sum();
    let s2 = cli.stats("main");
    assert_eq!(n(&s2, "restore_points"), 2, "{s2}");
    assert_eq!(n(&s2, "latest_items"), v2.len() as u64, "{s2}");
    assert_eq!(
        n(&s2, "total_logical_bytes"),
        total(&v1) + total(&v2),
        "{s2}"
    );
    assert_eq!(
        n(&s2, "unique_bytes"),
        total(&v1) - dup + changed_bytes,
        "{s2}"
    );
    let stored2 = packs(&target);
    assert_eq!(
        n(&s2, "stored_bytes"),
        stored2.values().sum::<u64>(),
        "{s2}"
    );

    // check and verify: everything is sound, and verify reads every pack.
    let text_out = cli.ok(&["repo", "check", "main"]);
    assert!(text_out.contains("no errors found"), "{text_out}");
    assert_eq!(figure(&text_out, "restore points"), 2, "{text_out}");
    assert_eq!(figure(&text_out, "read)"), 0, "{text_out}");
    let text_out = cli.ok(&["repo", "check", "main", "--read-data"]);
    assert!(text_out.contains("no errors found"), "{text_out}");
    assert_eq!(
        figure(&text_out, "read)"),
        stored2.len() as u64,
        "{text_out}"
    );
    let text_out = cli.ok(&["repo", "verify", "main"]);
    assert!(text_out.contains("no errors found"), "{text_out}");
    assert_eq!(
        figure(&text_out, "read)"),
        stored2.len() as u64,
        "{text_out}"
    );
    let text_out = cli.ok(&["repo", "verify", "main", "--sample", "50"]);
    assert!(text_out.contains("no errors found"), "{text_out}");
    assert_eq!(
        figure(&text_out, "read)"),
        stored2.keys().filter(|k| in_sample(k, 50)).count() as u64,
        "{text_out}"
    );

    // passwd: the old password stops working, the new one opens everything,
    // and no pack was rewritten.
    let mut passwd = cli.cmd(&["repo", "passwd", "main", "--kdf-memory-mib", "1"]);
    passwd.env("CAIRN_REPO_NEW_PASSWORD", "second password");
    let said = ok(&mut passwd);
    assert!(said.contains("no data was rewritten"), "{said}");
    let refused = cli.output(&["repo", "show", "main"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("wrong password"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    cli.password = "second password".into();
    let show = cli.ok(&["repo", "show", "main"]);
    assert_eq!(
        show.lines().filter(|l| l.starts_with("key slot:")).count(),
        1,
        "{show}"
    );
    assert_eq!(packs(&target), stored2, "passwd rewrote packs");
    // The only key slot cannot be removed.
    let slot = show
        .lines()
        .find(|l| l.starts_with("key slot:"))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap()
        .to_string();
    let last = cli.output(&["repo", "passwd", "main", "--remove", &slot]);
    assert_eq!(last.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&last.stderr).contains("last key slot"),
        "{}",
        String::from_utf8_lossy(&last.stderr)
    );
    assert_eq!(target.objects("keys/").len(), 1);
    assert_same(
        "rp1 after passwd",
        &v1,
        &cli.get_dir("main", Some(&rp1), &out),
    );
    assert_same("latest after passwd", &v2, &cli.get_dir("main", None, &out));

    // forget refuses an unknown id and then deletes nothing.
    let unknown = uuid::Uuid::new_v4().to_string();
    let refused = cli.output(&["repo", "forget", "main", &rp1, &unknown]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains(&unknown),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_eq!(target.objects("restorepoints/").len(), 2);

    // forget the first restore point, then prune: a dry run changes nothing.
    let said = cli.ok(&["repo", "forget", "main", &rp1]);
    assert!(said.contains(&rp1), "{said}");
    let show = cli.ok(&["repo", "show", "main"]);
    assert!(!show.contains(&rp1) && show.contains(&rp2), "{show}");
    let gone = cli.output(&["repo", "get-dir", "main", "--restore-point", &rp1, "x"]);
    assert_eq!(gone.status.code(), Some(2));
    let dry = cli.ok(&["repo", "prune", "main", "--dry-run"]);
    assert!(dry.starts_with("dry run"), "{dry}");
    assert_eq!(packs(&target), stored2, "the dry run changed the storage");

    let said = cli.ok(&["repo", "prune", "main"]);
    eprintln!("{store:?}: {said}");
    // f0's packs held only old data; the others were partly used.
    assert!(figure(&said, "packs deleted") > 0, "{said}");
    assert!(figure(&said, "repacked into") > 0, "{said}");
    let stored3 = packs(&target);
    let s3 = cli.stats("main");
    assert_eq!(
        n(&s3, "stored_bytes"),
        stored3.values().sum::<u64>(),
        "{s3}"
    );
    // The old versions of the changed noise files (incompressible) are freed,
    // at least mostly: a kept pack may hold up to 20 % garbage.
    let garbage_noise: u64 = changed
        .iter()
        .filter(|k| k.ends_with(".bin"))
        .map(|k| v1[k].len() as u64)
        .sum();
    let (before, after) = (n(&s2, "stored_bytes"), n(&s3, "stored_bytes"));
    eprintln!("{store:?}: stored {before} -> {after}, {garbage_noise} bytes of garbage noise");
    assert!(
        after + garbage_noise * 3 / 4 < before,
        "stored {before} -> {after}, {garbage_noise} bytes of garbage"
    );
    // Everything still referenced is still there.
    assert!(n(&s3, "unique_bytes") >= total(&v2) - dup, "{s3}");
    assert_eq!(n(&s3, "restore_points"), 1, "{s3}");
    let text_out = cli.ok(&["repo", "check", "main", "--read-data"]);
    assert!(
        text_out.contains("no errors found") && !text_out.contains("warning"),
        "{text_out}"
    );
    assert_same("latest after prune", &v2, &cli.get_dir("main", None, &out));
    assert_same(
        "rp2 after prune",
        &v2,
        &cli.get_dir("main", Some(&rp2), &out),
    );
    // A second prune finds nothing more to do.
    let said = cli.ok(&["repo", "prune", "main"]);
    assert_eq!(figure(&said, "packs deleted"), 0, "{said}");
    assert_eq!(packs(&target), stored3);

    verify_sample_reads_exactly_the_sample(&cli, &target, &stored3);
}

/// `verify --sample P` reads the packs whose id's first byte b has
/// b·100/256 < P: damage one pack outside the sample and one inside, and the
/// sample must miss the first and catch the second (full verify catches both).
/// Only packs over 200 KB are damaged: data packs (tree packs are a few KB
/// here), since listings are read even without `--read-data`.
fn verify_sample_reads_exactly_the_sample(
    cli: &Cli,
    target: &Target,
    packs: &BTreeMap<String, u64>,
) {
    let bucket = |k: &str| first_byte(k) as u64 * 100 / 256;
    let packs: BTreeMap<&String, &u64> = packs.iter().filter(|(_, s)| **s > 200_000).collect();
    let lowest = packs.keys().map(|k| bucket(k)).min().unwrap();
    let pct = lowest + 1;
    let inside = packs.keys().find(|k| bucket(k) < pct).unwrap().to_string();
    let outside = packs
        .keys()
        .find(|k| bucket(k) >= pct)
        .expect("every data pack id falls in the same sampling bucket")
        .to_string();
    eprintln!("sample {pct}%: damaging {outside} (outside), then {inside} (inside)");
    let pct = pct.to_string();
    let damage = |name: &str| {
        let mut data = target.get(name);
        let mid = data.len() / 2;
        data[mid] ^= 0x5a;
        target.put(name, data);
    };

    damage(&outside);
    let sample = cli.output(&["repo", "verify", "main", "--sample", &pct]);
    let said = String::from_utf8_lossy(&sample.stdout).to_string();
    assert_eq!(sample.status.code(), Some(0), "{said}");
    let full = cli.output(&["repo", "verify", "main"]);
    let said = String::from_utf8_lossy(&full.stdout).to_string();
    assert_eq!(full.status.code(), Some(1), "{said}");
    assert!(said.contains(short(&outside)), "{said}");

    damage(&inside);
    let sample = cli.output(&["repo", "verify", "main", "--sample", &pct]);
    let said = String::from_utf8_lossy(&sample.stdout).to_string();
    assert_eq!(sample.status.code(), Some(1), "{said}");
    assert!(said.contains(short(&inside)), "{said}");
    assert!(!said.contains(short(&outside)), "{said}");
}

/// `data/xx/<64 hex>` → the pack id's hex.
fn short(name: &str) -> &str {
    name.rsplit('/').next().unwrap()
}

fn first_byte(name: &str) -> u8 {
    u8::from_str_radix(&short(name)[..2], 16).unwrap()
}

fn in_sample(name: &str, pct: u64) -> bool {
    (first_byte(name) as u64) * 100 / 256 < pct
}

#[test]
fn maintenance_on_a_local_repository() {
    scenario(Store::Local);
}

#[test]
fn maintenance_on_s3() {
    scenario(Store::S3);
}

#[test]
fn maintenance_on_azure() {
    scenario(Store::Azure);
}

/// Send a signal with the system's `kill` (STOP freezes a process: it holds
/// its lock and stays alive, so the lock is not stale).
fn signal(child: &std::process::Child, sig: &str) {
    let status = std::process::Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Wait until `cond` holds while `child` runs; a child that ends first fails
/// the test (no clock: a slow machine only waits longer).
fn wait_for(child: &mut std::process::Child, what: &str, mut cond: impl FnMut() -> bool) {
    while !cond() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("never saw {what}: the process ended first ({status})");
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// Locks through the CLI: prune refuses while a backup holds its shared lock
/// (a live process: `unlock` keeps it), a backup refuses while prune holds the
/// exclusive one, and both go through once the other is done.
#[test]
fn prune_and_backups_exclude_each_other() {
    use std::io::BufRead;
    use std::process::Stdio;

    let tmp = tempfile::tempdir().unwrap();
    let target = Target::new(Store::Local, tmp.path()).unwrap();
    let cli = Cli::new(tmp.path().join("home"), "pw");
    target.create(&cli, "main");
    let repo = tmp.path().join("repo");
    let locks = || {
        std::fs::read_dir(repo.join("locks"))
            .map(|d| {
                d.flatten()
                    .filter(|e| !e.file_name().to_string_lossy().starts_with(".tmp-"))
                    .count()
            })
            .unwrap_or(0)
    };
    let src = tmp.path().join("src");
    let mut tree = Tree::new();
    for i in 0..40u64 {
        tree.insert(format!("d/f{i:02}.bin"), noise(i, 100_000));
    }
    write_tree(&src, &tree);

    // A backup holds a shared lock: prune is refused and the lock is not stale.
    let mut backup = cli
        .cmd(&["repo", "put-dir", "main", src.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&mut backup, "the backup's lock", || locks() == 1);
    signal(&backup, "-STOP");
    let refused = cli.output(&["repo", "prune", "main"]);
    let said = String::from_utf8_lossy(&refused.stderr).to_string();
    assert_eq!(refused.status.code(), Some(2), "{said}");
    assert!(
        said.contains("locked") && said.contains("backup session"),
        "{said}"
    );
    let unlock = cli.ok(&["repo", "unlock", "main"]);
    assert!(
        unlock.contains("no stale locks") && unlock.contains("kept"),
        "{unlock}"
    );
    signal(&backup, "-CONT");
    assert!(backup.wait().unwrap().success());
    assert_eq!(locks(), 0);

    // Prune holds the exclusive lock: a backup is refused.
    let mut prune = cli
        .cmd(&["repo", "prune", "main"])
        .env("CAIRN_LOG", "cairn_repo=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(prune.stderr.take().unwrap()).lines();
    wait_for(&mut prune, "prune's first step", || {
        lines
            .next()
            .is_some_and(|l| l.unwrap().contains("prune step 1/4"))
    });
    signal(&prune, "-STOP");
    let refused = cli.output(&["repo", "put-dir", "main", src.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&refused.stderr).to_string();
    assert_eq!(refused.status.code(), Some(2), "{said}");
    assert!(said.contains("locked") && said.contains("prune"), "{said}");
    signal(&prune, "-CONT");
    std::thread::spawn(move || lines.for_each(drop));
    assert!(prune.wait().unwrap().success());
    cli.put_dir("main", &src);
    let check = cli.ok(&["repo", "check", "main", "--read-data"]);
    assert!(check.contains("no errors found"), "{check}");
    assert_same(
        "after both",
        &tree,
        &cli.get_dir("main", None, &tmp.path().join("out")),
    );
}
