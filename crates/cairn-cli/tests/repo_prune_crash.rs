//! Crash safety of prune with a real `kill -9`: a repository with several
//! restore points, most of them forgotten (so most data is garbage and the
//! packs still in use are partly garbage and get repacked), and `cairn repo
//! prune` killed at each of its steps (on the step's log line or when its
//! first effect appears in the repository directory) and after increasing
//! delays. After every kill: the stale lock is removed by `repo unlock`,
//! `repo check --read-data` passes and every remaining restore point restores
//! byte for byte; then a prune runs to completion and leaves a clean repository.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod repo_support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use repo_support::*;

/// Whether file `n` changes in `round`: a scattered third of the files, a
/// different third each round, so packs of older rounds end up partly used.
fn changes(n: u64, round: u64) -> bool {
    let mut x = (n << 8 | round).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 29;
    x.wrapping_mul(0xBF58_476D_1CE4_E5B9) >> 61 < 3
}

/// Five versions of a tree: each changes a third of the files and adds a few.
fn versions() -> Vec<Tree> {
    let mut t = Tree::new();
    for f in 0..10u64 {
        for i in 0..12u64 {
            let seed = f * 100 + i;
            let len = 50_000 + ((seed * 7_919) % 100_000) as usize;
            if i % 4 == 0 {
                t.insert(format!("f{f}/item{i:02}.txt"), text(seed, len));
            } else {
                t.insert(format!("f{f}/item{i:02}.bin"), noise(seed, len));
            }
        }
    }
    let mut out = vec![t.clone()];
    for round in 1..5u64 {
        let keys: Vec<String> = t.keys().cloned().collect();
        for (n, k) in keys.iter().enumerate() {
            if changes(n as u64, round) {
                let seed = round * 10_000 + n as u64;
                let len = t[k].len();
                let data = if k.ends_with(".txt") {
                    text(seed, len)
                } else {
                    noise(seed, len)
                };
                t.insert(k.clone(), data);
            }
        }
        for i in 0..4u64 {
            t.insert(
                format!("new{round}/item{i}.bin"),
                noise(round * 1_000_000 + i, 60_000),
            );
        }
        out.push(t.clone());
    }
    out
}

/// Every file under `dir` (relative path → size), temporary files included.
fn files(dir: &Path) -> BTreeMap<String, u64> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, u64>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if let Ok(m) = e.metadata() {
                let rel = p.strip_prefix(root).unwrap().to_str().unwrap().to_string();
                out.insert(rel, m.len());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    for rel in files(from).keys() {
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(from.join(rel), dest).unwrap();
    }
    // Empty directories (locks/, sessions/) matter to nobody but keep the shape.
    for d in ["locks", "sessions"] {
        std::fs::create_dir_all(to.join(d)).unwrap();
    }
}

fn names(dir: &Path, prefix: &str) -> BTreeSet<String> {
    files(dir)
        .into_keys()
        .filter(|k| k.starts_with(prefix))
        .collect()
}

fn is_temporary(name: &str) -> bool {
    name.rsplit('/').next().unwrap().starts_with(".tmp-")
}

/// Lock files proper (a kill while taking the lock can leave a temporary file).
fn locks(dir: &Path) -> Vec<String> {
    names(dir, "locks/")
        .into_iter()
        .filter(|n| !is_temporary(n))
        .collect()
}

/// When to kill the prune.
#[derive(Debug, Clone, Copy)]
enum Trigger {
    /// Its log line for a step.
    Line(&'static str),
    /// The first new object (or temporary file) under `data/`: a repacked pack in flight.
    NewPack,
    /// The first old index file gone.
    IndexDeleted,
    /// This many of the packs a full prune deletes are gone.
    PacksDeleted(usize),
    /// A delay after the start.
    After(Duration),
}

#[derive(Debug, PartialEq, Eq)]
enum Landing {
    Killed,
    /// It completed before the trigger fired (or before the signal arrived).
    Finished,
}

/// Start `cairn repo prune` (logging its steps) and `kill -9` it as soon as
/// `fire(lines so far, time since start)` says so.
fn prune_killed_when(
    cli: &Cli,
    what: &str,
    mut fire: impl FnMut(&[String], Duration) -> bool,
) -> Landing {
    let mut child = cli
        .cmd(&["repo", "prune", "main"])
        .env("CAIRN_LOG", "cairn_repo=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut said = Vec::new();
    let fired = loop {
        if child.try_wait().unwrap().is_some() {
            break false;
        }
        said.extend(rx.try_iter());
        if fire(&said, started.elapsed()) {
            break true;
        }
        std::thread::sleep(Duration::from_micros(200));
    };
    if fired {
        child.kill().unwrap(); // SIGKILL
    }
    let status = child.wait().unwrap();
    reader.join().unwrap();
    said.extend(rx.try_iter());
    if status.signal() == Some(9) {
        Landing::Killed
    } else {
        assert!(
            status.success(),
            "prune (to be killed at {what}) failed: {status}: {said:?}"
        );
        Landing::Finished
    }
}

struct Fixture {
    cli: Cli,
    repo: PathBuf,
    pristine: PathBuf,
    out: PathBuf,
    /// Restore points kept, with their content.
    kept: Vec<(String, Tree)>,
    pristine_packs: BTreeSet<String>,
    pristine_index: BTreeSet<String>,
    /// Pristine packs a complete prune deletes.
    doomed: BTreeSet<String>,
}

impl Fixture {
    fn reset(&self) {
        copy_dir(&self.pristine, &self.repo);
    }

    /// Start a prune and `kill -9` it when `trigger` fires.
    fn prune_killed_at(&self, trigger: Trigger) -> Landing {
        prune_killed_when(
            &self.cli,
            &format!("{trigger:?}"),
            |said, elapsed| match trigger {
                Trigger::Line(step) => said.iter().any(|l| l.contains(step)),
                Trigger::NewPack => names(&self.repo, "data/")
                    .iter()
                    .any(|n| !self.pristine_packs.contains(n)),
                Trigger::IndexDeleted => {
                    names(&self.repo, "index/")
                        .intersection(&self.pristine_index)
                        .count()
                        < self.pristine_index.len()
                }
                Trigger::PacksDeleted(k) => {
                    self.doomed
                        .iter()
                        .filter(|p| !self.repo.join(p).exists())
                        .count()
                        >= k
                }
                Trigger::After(d) => elapsed >= d,
            },
        )
    }

    /// What a kill left, for the log: new packs, pristine packs gone, index files.
    fn describe(&self) -> String {
        let packs = names(&self.repo, "data/");
        let index = names(&self.repo, "index/");
        format!(
            "{} new packs or temporary files, {} of {} old packs gone, {} of {} old index files left, {} new index files, {} locks",
            packs.difference(&self.pristine_packs).count(),
            self.pristine_packs.difference(&packs).count(),
            self.pristine_packs.len(),
            index.intersection(&self.pristine_index).count(),
            self.pristine_index.len(),
            index.difference(&self.pristine_index).count(),
            locks(&self.repo).len(),
        )
    }

    /// The repository as a kill left it: the lock is stale and can be
    /// removed, check passes, every kept restore point restores byte for byte.
    fn assert_consistent(&self, when: &str) {
        let unlock = self.cli.ok(&["repo", "unlock", "main"]);
        for l in unlock.lines() {
            assert!(
                l == "no stale locks" || (l.starts_with("removed") && l.contains("prune")),
                "{when}: {unlock}"
            );
        }
        assert!(locks(&self.repo).is_empty(), "{when}: {unlock}");
        let check = self.cli.ok(&["repo", "check", "main", "--read-data"]);
        assert!(check.contains("no errors found"), "{when}: {check}");
        assert_eq!(figure(&check, "restore points"), 2, "{when}: {check}");
        for (rp, tree) in &self.kept {
            let got = self.cli.get_dir("main", Some(rp), &self.out);
            assert_same(&format!("{when}: restore point {rp}"), tree, &got);
        }
    }

    /// A prune to completion leaves no garbage: no warnings, every doomed pack
    /// gone, no temporary file left.
    fn assert_prune_completes(&self, when: &str) {
        let said = self.cli.ok(&["repo", "prune", "main"]);
        let check = self.cli.ok(&["repo", "check", "main", "--read-data"]);
        assert!(
            check.contains("no errors found") && !check.contains("warning"),
            "{when}: {said}\n{check}"
        );
        let packs = names(&self.repo, "data/");
        assert!(
            packs.is_disjoint(&self.doomed),
            "{when}: garbage packs survived a complete prune: {said}"
        );
        // Temporary files under locks/ stay for an hour (a live process may be
        // taking a lock); everywhere else prune removes them at once.
        let leftovers: Vec<_> = files(&self.repo)
            .into_keys()
            .filter(|k| is_temporary(k) && !k.starts_with("locks/"))
            .collect();
        assert!(
            leftovers.is_empty(),
            "{when}: temporary files left: {leftovers:?}"
        );
        for (rp, tree) in &self.kept {
            let got = self.cli.get_dir("main", Some(rp), &self.out);
            assert_same(&format!("{when}, pruned: restore point {rp}"), tree, &got);
        }
    }
}

fn fixture(tmp: &Path) -> Fixture {
    let cli = Cli::new(tmp.join("home"), "prune password");
    let target = Target::new(Store::Local, tmp).unwrap();
    target.create(&cli, "main");
    let repo = tmp.join("repo");
    let src = tmp.join("src");
    let mut rps = Vec::new();
    for v in versions() {
        write_tree(&src, &v);
        rps.push((cli.put_dir("main", &src), v));
    }
    // Forget the three oldest restore points: most of their data is garbage now.
    let forget: Vec<&str> = rps[..3].iter().map(|(id, _)| id.as_str()).collect();
    cli.ok(&[&["repo", "forget", "main"][..], &forget].concat());
    let kept: Vec<(String, Tree)> = rps.split_off(3);
    let pristine = tmp.join("pristine");
    copy_dir(&repo, &pristine);

    // A rehearsal on a copy: which packs a complete prune deletes.
    let pristine_packs = names(&repo, "data/");
    let pristine_index = names(&repo, "index/");
    let started = Instant::now();
    let said = cli.ok(&["repo", "prune", "main"]);
    eprintln!(
        "rehearsal prune: {said} in {:?} ({} packs, {} index files before)",
        started.elapsed(),
        pristine_packs.len(),
        pristine_index.len()
    );
    assert!(figure(&said, "repacked into") > 0, "{said}");
    assert!(figure(&said, "packs deleted") > 0, "{said}");
    let doomed: BTreeSet<String> = pristine_packs
        .difference(&names(&repo, "data/"))
        .cloned()
        .collect();
    let f = Fixture {
        cli,
        repo,
        pristine,
        out: tmp.join("out"),
        kept,
        pristine_packs,
        pristine_index,
        doomed,
    };
    f.reset();
    f
}

#[test]
fn kill_9_at_every_prune_step_leaves_a_consistent_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let f = fixture(tmp.path());
    let half = f.doomed.len() / 2;
    let triggers = [
        Trigger::Line("step 1/4"),
        Trigger::NewPack,
        Trigger::Line("step 2/4"),
        Trigger::Line("step 3/4"),
        Trigger::IndexDeleted,
        Trigger::Line("step 4/4"),
        Trigger::PacksDeleted(half.max(1)),
    ];
    let mut killed = 0;
    for trigger in triggers {
        f.reset();
        let landing = f.prune_killed_at(trigger);
        let when = format!("kill at {trigger:?}");
        eprintln!("{when}: {landing:?}; {}", f.describe());
        if landing == Landing::Killed {
            killed += 1;
        }
        f.assert_consistent(&when);
        f.assert_prune_completes(&when);
    }
    assert!(
        killed >= 5,
        "only {killed} of {} kills landed while prune ran",
        triggers.len()
    );
}

#[test]
fn kill_9_after_increasing_delays_then_a_prune_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let f = fixture(tmp.path());
    let mut killed = 0;
    // Kills accumulate: each prune starts from what the killed one left. The
    // delays grow by 30 % until a prune completes on its own.
    let mut ms = 20.0f64;
    loop {
        let landing = f.prune_killed_at(Trigger::After(Duration::from_millis(ms as u64)));
        let when = format!("kill after {} ms", ms as u64);
        ms *= 1.3;
        eprintln!("{when}: {landing:?}; {}", f.describe());
        f.assert_consistent(&when);
        if landing == Landing::Finished {
            break;
        }
        killed += 1;
    }
    assert!(killed > 0, "no prune was killed before it finished");
    f.assert_prune_completes("after the delayed kills");
}

/// Regression: a write killed between creating its temporary file and renaming
/// it left the file forever (nothing listed or removed it). `check` now warns
/// about them and prune removes them: at once in the directories only lock
/// holders write to; in `locks/` and `keys/`, written without a lock, only when
/// older than an hour (a younger one may belong to a live process).
#[test]
fn prune_removes_temporary_files_of_killed_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let cli = Cli::new(tmp.path().join("home"), "pw");
    Target::new(Store::Local, tmp.path())
        .unwrap()
        .create(&cli, "main");
    let src = tmp.path().join("src");
    let mut tree = Tree::new();
    for i in 0..5u64 {
        tree.insert(format!("d/file{i}.bin"), noise(i, 30_000));
    }
    write_tree(&src, &tree);
    let rp = cli.put_dir("main", &src);
    let repo = tmp.path().join("repo");
    let removable = [
        "data/ab/.tmp-0a0a0a0a",
        "index/.tmp-0b0b0b0b",
        "restorepoints/.tmp-0c0c0c0c",
        "sessions/.tmp-0d0d0d0d",
        "locks/.tmp-0e0e0e0e",
        "keys/.tmp-0f0f0f0f",
    ];
    let kept = ["locks/.tmp-1e1e1e1e", "keys/.tmp-1f1f1f1f"];
    for name in removable.iter().chain(&kept) {
        let p = repo.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, noise(7, 1_000)).unwrap();
        if !kept.contains(name) {
            let two_hours_ago = std::time::SystemTime::now() - Duration::from_secs(7200);
            std::fs::File::options()
                .write(true)
                .open(&p)
                .unwrap()
                .set_modified(two_hours_ago)
                .unwrap();
        }
    }
    let check = cli.ok(&["repo", "check", "main"]);
    assert!(
        check.contains("no errors found")
            && check.contains("warning: 6 temporary files of unfinished writes"),
        "{check}"
    );
    let said = cli.ok(&["repo", "prune", "main"]);
    assert!(said.contains("6 temporary files removed"), "{said}");
    for name in removable {
        assert!(!repo.join(name).exists(), "{name} survived prune");
    }
    for name in kept {
        assert!(repo.join(name).exists(), "{name} was removed");
    }
    let check = cli.ok(&["repo", "check", "main", "--read-data"]);
    assert!(
        check.contains("no errors found") && !check.contains("warning"),
        "{check}"
    );
    let out = tmp.path().join("out");
    assert_same("after prune", &tree, &cli.get_dir("main", Some(&rp), &out));
}

/// The same on S3 (moto): one repository, a prune killed at the log line of
/// each step in turn (each starting from what the previous kill left), the
/// repository consistent after each, then a prune that completes.
#[test]
fn kill_9_of_prune_on_s3_at_every_step() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(target) = Target::new(Store::S3, tmp.path()) else {
        return;
    };
    let cli = Cli::new(tmp.path().join("home"), "prune password");
    target.create(&cli, "main");
    let src = tmp.path().join("src");
    let out = tmp.path().join("out");
    let mut rps = Vec::new();
    for v in versions().into_iter().skip(2) {
        write_tree(&src, &v);
        rps.push((cli.put_dir("main", &src), v));
    }
    cli.ok(&["repo", "forget", "main", &rps[0].0]);
    let kept = rps.split_off(1);
    let before = target.objects("data/");
    let consistent = |when: &str| {
        let unlock = cli.ok(&["repo", "unlock", "main"]);
        assert!(target.objects("locks/").is_empty(), "{when}: {unlock}");
        let check = cli.ok(&["repo", "check", "main", "--read-data"]);
        assert!(check.contains("no errors found"), "{when}: {check}");
        for (rp, tree) in &kept {
            let got = cli.get_dir("main", Some(rp), &out);
            assert_same(&format!("{when}: restore point {rp}"), tree, &got);
        }
    };
    for step in ["step 1/4", "step 2/4", "step 3/4", "step 4/4"] {
        let landing =
            prune_killed_when(&cli, step, |said, _| said.iter().any(|l| l.contains(step)));
        eprintln!("S3, kill at {step}: {landing:?}");
        assert_eq!(landing, Landing::Killed, "prune finished before {step}");
        consistent(&format!("S3, kill at {step}"));
    }
    let said = cli.ok(&["repo", "prune", "main"]);
    let check = cli.ok(&["repo", "check", "main", "--read-data"]);
    assert!(
        check.contains("no errors found") && !check.contains("warning"),
        "{said}\n{check}"
    );
    let after = target.objects("data/");
    assert!(
        after.values().sum::<u64>() < before.values().sum::<u64>(),
        "{said}"
    );
    consistent("S3, pruned");
}
