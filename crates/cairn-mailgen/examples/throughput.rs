//! Generation throughput: messages/s and MB/s, plus what was generated.
//!
//! `cargo run --release -p cairn-mailgen --example throughput -- [MAILBOXES] [MESSAGES] [light|heavy|none] [LARGE_RATE]`

use std::collections::BTreeMap;
use std::time::Instant;

use cairn_mailgen::{AttachmentMix, CorpusSpec, Generator};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mailboxes: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(4);
    let messages: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(500);
    let mix = match args.get(2).map(String::as_str) {
        Some("heavy") => AttachmentMix::Heavy,
        Some("none") => AttachmentMix::None,
        _ => AttachmentMix::Light,
    };
    let large: f64 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(0.0);
    let spec = CorpusSpec {
        messages_per_mailbox: messages,
        attachment_mix: mix,
        large_message_rate: large,
        ..CorpusSpec::benchmark(mailboxes, "contoso.com")
    };
    let generator = Generator::new(spec);

    let start = Instant::now();
    let (mut count, mut bytes, mut largest) = (0u64, 0u64, 0usize);
    let mut shapes: BTreeMap<String, u64> = BTreeMap::new();
    let (mut attachments, mut shared) = (0u64, 0u64);
    for m in generator.all_messages() {
        count += 1;
        bytes += m.mime.len() as u64;
        largest = largest.max(m.mime.len());
        *shapes.entry(format!("{:?}", m.meta.shape)).or_default() += 1;
        attachments += m.attachments.len() as u64;
        shared += m.attachments.iter().filter(|a| a.shared.is_some()).count() as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    let mb = bytes as f64 / 1e6;
    println!("{count} messages, {mb:.1} MB in {secs:.2} s");
    println!(
        "{:.0} messages/s, {:.1} MB/s",
        count as f64 / secs,
        mb / secs
    );
    println!(
        "mean {:.1} KB, largest {:.1} MB",
        mb * 1e3 / count.max(1) as f64,
        largest as f64 / 1e6
    );
    println!("{attachments} attachments/inline parts, {shared} from the shared pool");
    for (shape, n) in shapes {
        println!("  {shape:<15} {n}");
    }
}
