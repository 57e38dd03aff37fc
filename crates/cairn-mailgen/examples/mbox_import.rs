//! mbox write + streaming import throughput, with a byte-exactness check.
//!
//! `cargo run --release -p cairn-mailgen --example mbox_import -- [MESSAGES] [PATH]`

use std::io::Write;
use std::time::Instant;

use cairn_mailgen::import::{self, MboxWriter};
use cairn_mailgen::{CorpusSpec, Generator, fnv1a64};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let count: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let path = args
        .get(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("cairn-mailgen-bench.mbox"));
    let generator = Generator::new(CorpusSpec {
        messages_per_mailbox: count,
        ..CorpusSpec::demo()
    });

    let start = Instant::now();
    let mut digests = Vec::new();
    let mut writer = MboxWriter::new(std::io::BufWriter::new(std::fs::File::create(&path)?));
    for m in generator.mailbox(0) {
        writer.write_message(&m.meta.from.address, m.meta.received, &m.mime)?;
        digests.push(fnv1a64(&m.mime));
    }
    writer.into_inner().flush()?;
    let written = std::fs::metadata(&path)?.len() as f64 / 1e6;
    let gen_secs = start.elapsed().as_secs_f64();
    println!("generated + wrote {count} messages, {written:.1} MB in {gen_secs:.2} s");

    let start = Instant::now();
    let (mut n, mut same, mut errors) = (0usize, 0usize, 0usize);
    for entry in import::mbox(&path)? {
        match entry {
            Ok(m) => {
                if digests.get(n) == Some(&fnv1a64(&m.raw)) {
                    same += 1;
                }
                n += 1;
            }
            Err(e) => {
                errors += 1;
                eprintln!("{e}");
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "imported {n} messages ({same} byte-identical, {errors} errors) in {secs:.2} s: {:.0} MB/s",
        written / secs
    );
    std::fs::remove_file(&path)?;
    Ok(())
}
