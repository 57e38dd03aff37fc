//! People: the organization's users and a deterministic population of external
//! correspondents, with names in several scripts (so that From/To display names need
//! RFC 2047 encoding now and then).

use serde::{Deserialize, Serialize};

use crate::rng::{Stream, derive, tag};
use crate::spec::MailboxSpec;

/// A name and an address, as they appear in From/To/Cc and in Graph `emailAddress`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Person {
    /// Display name (possibly non-ASCII, possibly empty).
    pub name: String,
    /// SMTP address.
    pub address: String,
}

impl Person {
    /// A person with this name and address.
    pub fn new(name: impl Into<String>, address: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            address: address.into(),
        }
    }
}

impl From<&MailboxSpec> for Person {
    fn from(m: &MailboxSpec) -> Self {
        Person::new(m.display_name.clone(), m.address.clone())
    }
}

/// (given name, surname, ASCII local-part stem) by language. The stem is what an admin
/// would have typed for the address.
const NAMES: &[(&str, &str, &str)] = &[
    ("Adele", "Vance", "adele.vance"),
    ("Megan", "Bowen", "megan.bowen"),
    ("Lee", "Gu", "lee.gu"),
    ("Isaiah", "Langer", "isaiah.langer"),
    ("Nestor", "Wilke", "nestor.wilke"),
    ("Patti", "Fernandez", "patti.fernandez"),
    ("Diego", "Siciliani", "diego.siciliani"),
    ("Grady", "Archie", "grady.archie"),
    ("Jürgen", "Größmann", "juergen.groessmann"),
    ("Zoë", "Schäfer", "zoe.schaefer"),
    ("Björn", "Ødegård", "bjorn.odegard"),
    ("François", "Lefèvre", "francois.lefevre"),
    ("Hélène", "Dubois-Crémieux", "helene.dubois"),
    ("Łukasz", "Wiśniewski", "lukasz.wisniewski"),
    ("José", "Peña", "jose.pena"),
    ("太郎", "山田", "taro.yamada"),
    ("さくら", "佐藤", "sakura.sato"),
    ("محمد", "العلي", "mohammed.alali"),
    ("فاطمة", "حسن", "fatima.hassan"),
    ("Олег", "Смирнов", "oleg.smirnov"),
    ("Priya", "Raghunathan", "priya.raghunathan"),
    ("Siobhán", "O'Connor", "siobhan.oconnor"),
    ("Ana", "Ramírez", "ana.ramirez"),
    ("Chen", "Wei", "chen.wei"),
];

const EXTERNAL_DOMAINS: &[&str] = &[
    "fabrikam.com",
    "northwindtraders.com",
    "adventure-works.com",
    "tailspintoys.com",
    "wingtiptoys.com",
    "litwareinc.com",
    "example.org",
    "example.net",
    "gmail.example",
    "lists.example.org",
];

/// Display name for a (given, surname) pair, in the order the language writes it.
fn full_name(given: &str, surname: &str) -> String {
    let cjk = given
        .chars()
        .any(|c| ('\u{3040}'..='\u{9fff}').contains(&c));
    if cjk {
        format!("{surname} {given}")
    } else {
        format!("{given} {surname}")
    }
}

pub(crate) fn generated_mailboxes(count: usize, domain: &str, seed: u64) -> Vec<MailboxSpec> {
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let mut s = Stream::new(seed, &[tag::NAMES, i as u64]);
        let (given, _, stem_g) = NAMES[s.index(NAMES.len())];
        let (_, surname, stem_s) = NAMES[s.index(NAMES.len())];
        let given_stem = stem_g.split('.').next().unwrap_or("user");
        let surname_stem = stem_s.rsplit('.').next().unwrap_or("user");
        // The index suffix keeps addresses unique however the names collide.
        let address = format!("{given_stem}.{surname_stem}{i}@{domain}");
        out.push(MailboxSpec::new(address, full_name(given, surname)));
    }
    out
}

/// The external correspondent number `k` of the corpus (a stable population of 256).
pub(crate) fn external(seed: u64, k: u64) -> Person {
    let k = k % 256;
    let mut s = Stream::new(seed, &[tag::EXTERNAL, k]);
    let (given, surname, stem) = NAMES[s.index(NAMES.len())];
    let domain = s.pick(EXTERNAL_DOMAINS);
    let style = s.below(10);
    let local = match style {
        0 => format!("noreply{k}"),
        1 => format!("info{k}"),
        _ => format!("{stem}{}", k % 7),
    };
    let name = match style {
        0 => format!(
            "{} Notifications",
            capitalize(domain.split('.').next().unwrap_or("Service"))
        ),
        // Some senders have no display name at all.
        1 => String::new(),
        _ => full_name(given, surname),
    };
    Person::new(name, format!("{local}@{domain}"))
}

/// Additional colleagues at the organization's domain who have no mailbox in the corpus
/// (people who left, distribution lists, …): makes To/Cc lists larger than the corpus.
pub(crate) fn colleague(seed: u64, domain: &str, k: u64) -> Person {
    let k = k % 64;
    let h = derive(seed, &[tag::NAMES, 1_000_000 + k]);
    let (given, surname, stem) = NAMES[(h % NAMES.len() as u64) as usize];
    if k.is_multiple_of(16) {
        return Person::new("All Company", format!("allcompany{k}@{domain}"));
    }
    Person::new(full_name(given, surname), format!("{stem}.{k}@{domain}"))
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_addresses_are_unique_and_ascii() {
        let m = generated_mailboxes(100, "contoso.com", 3);
        let mut addrs: Vec<_> = m.iter().map(|m| m.address.clone()).collect();
        assert!(addrs.iter().all(|a| a.is_ascii()));
        addrs.sort();
        addrs.dedup();
        assert_eq!(addrs.len(), 100);
        assert!(m.iter().any(|m| !m.display_name.is_ascii()));
    }
}
