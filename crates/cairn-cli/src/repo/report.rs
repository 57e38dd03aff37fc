//! What `cairn repo check` and `cairn repo show` print.

use std::process::ExitCode;

use anyhow::Result;
use cairn_repo::{CheckOptions, Repository};

use super::human;

pub(super) async fn check(repo: &Repository, opts: CheckOptions) -> Result<ExitCode> {
    let r = repo.check(&opts).await?;
    for w in &r.warnings {
        println!("warning: {w}");
    }
    for p in &r.problems {
        println!("error: {p}");
    }
    println!(
        "{} packs ({} read), {} blobs, {} restore points, {} item entries checked",
        r.packs, r.packs_read, r.blobs, r.restore_points, r.items
    );
    if r.is_ok() {
        println!("no errors found");
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "{} problems; {} items cannot be restored:",
            r.problems.len(),
            r.damaged_items.len()
        );
        for d in &r.damaged_items {
            println!("  {d}");
        }
        Ok(ExitCode::from(1))
    }
}

pub(super) async fn show(repo: &Repository) -> Result<()> {
    let c = repo.config();
    println!("location:      {}", repo.backend().describe());
    println!("id:            {}", c.id);
    println!("format:        {} version {}", c.format, c.version);
    println!("encryption:    {}", c.encryption);
    println!("created:       {}", c.created);
    for k in repo.key_slots().await? {
        println!(
            "key slot:      {} ({}, {}){}",
            k.id,
            k.label,
            k.created,
            if k.current { " [this password]" } else { "" }
        );
    }
    for l in repo.locks().await? {
        println!("lock:          {l}");
    }
    for s in repo.incomplete_sessions().await? {
        println!(
            "unfinished session: {} (checkpointed {})",
            s.session, s.checkpointed
        );
    }
    for o in repo.organizations().await? {
        println!("organization:  {} ({})", o.name, o.id);
        for p in repo.protected_objects(Some(&o.id)).await? {
            println!(
                "  {} {} ({}): {} items, {}, {} restore points",
                p.object.kind,
                p.object.name,
                p.object.id,
                p.latest_items,
                human(p.latest_bytes),
                p.restore_points.len()
            );
        }
    }
    for rp in repo.restore_points().await? {
        let items: u64 = rp.objects.iter().map(|o| o.items).sum();
        println!(
            "restore point: {} {} {} objects, {} items{}",
            rp.id,
            rp.created,
            rp.objects.len(),
            items,
            rp.job
                .as_ref()
                .map(|j| format!(" (job {j})"))
                .unwrap_or_default()
        );
    }
    Ok(())
}
