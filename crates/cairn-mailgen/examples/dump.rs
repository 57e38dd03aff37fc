//! Write a few generated messages as .eml files for eyeballing:
//! `cargo run -p cairn-mailgen --example dump -- OUT_DIR [COUNT] [SEED] [ODD_RATE]`.

use cairn_mailgen::{CorpusSpec, Generator};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "mailgen-dump".into());
    let count: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(50);
    let seed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let odd_rate: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(0.08);
    std::fs::create_dir_all(&dir)?;
    let spec = CorpusSpec {
        messages_per_mailbox: count,
        odd_rate,
        invitation_rate: odd_rate / 2.0,
        ..CorpusSpec::small().with_seed(seed)
    };
    let generator = Generator::new(spec);
    for m in generator.mailbox(0) {
        let name = format!("{dir}/{:04}-{:?}.eml", m.meta.index, m.meta.shape);
        std::fs::write(&name, &m.mime)?;
        println!(
            "{name}\t{}\t{}\t{}",
            m.meta.folder,
            m.mime.len(),
            m.meta.subject
        );
    }
    Ok(())
}
