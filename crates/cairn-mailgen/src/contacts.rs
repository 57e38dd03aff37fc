//! Personal contacts: Graph `contact` resources, serialised in Graph's JSON shape.

use serde::Serialize;

use crate::calendar::EmailAddress;
use crate::rng::{Stream, derive, tag};
use crate::spec::CorpusSpec;

/// Graph `physicalAddress`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhysicalAddress {
    /// Street and number.
    pub street: String,
    /// City.
    pub city: String,
    /// State or region.
    pub state: String,
    /// Country or region.
    pub country_or_region: String,
    /// Postal code.
    pub postal_code: String,
}

/// A Graph `contact`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    /// Stable identity (not a Graph field; for the simulator's ids).
    #[serde(skip)]
    pub key: u64,
    /// Display name.
    pub display_name: String,
    /// Given name.
    pub given_name: String,
    /// Surname.
    pub surname: String,
    /// Middle name.
    pub middle_name: Option<String>,
    /// Nickname.
    pub nick_name: Option<String>,
    /// Title (Mr., Dr., …).
    pub title: Option<String>,
    /// E-mail addresses.
    pub email_addresses: Vec<EmailAddress>,
    /// Business phones.
    pub business_phones: Vec<String>,
    /// Home phones.
    pub home_phones: Vec<String>,
    /// Mobile phone.
    pub mobile_phone: Option<String>,
    /// Company.
    pub company_name: Option<String>,
    /// Job title.
    pub job_title: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// Business address.
    pub business_address: Option<PhysicalAddress>,
    /// Birthday, `1985-04-12T00:00:00Z`.
    pub birthday: Option<String>,
    /// Personal notes.
    pub personal_notes: String,
    /// Categories.
    pub categories: Vec<String>,
}

const GIVEN: &[&str] = &[
    "Anna",
    "Ben",
    "Chloé",
    "Dmitri",
    "Émile",
    "Fatima",
    "Georg",
    "Hana",
    "Ingrid",
    "Jun",
    "Kofi",
    "Lena",
    "Mateo",
    "Noémie",
    "Oskar",
    "Priya",
    "さくら",
    "محمد",
];
const SURNAMES: &[&str] = &[
    "Andersson",
    "Brückner",
    "Castillo",
    "Dubois",
    "Evans",
    "Fischer",
    "García",
    "Hoffmann",
    "Ito",
    "Jensen",
    "Kowalski",
    "López",
    "Müller",
    "Nakamura",
    "O'Brien",
    "Petrov",
    "佐藤",
    "حسن",
];
const COMPANIES: &[&str] = &[
    "Fabrikam, Inc.",
    "Northwind Traders",
    "Adventure Works",
    "Tailspin Toys",
    "Wingtip Toys",
    "Litware",
    "Müller & Söhne GmbH",
    "Société Générale de Test",
    "株式会社サンプル",
];
const TITLES: &[&str] = &[
    "Account Manager",
    "CFO",
    "Purchasing Lead",
    "Consultant",
    "Software Engineer",
    "Geschäftsführer",
    "Directrice commerciale",
];
const CITIES: &[(&str, &str, &str, &str)] = &[
    ("Redmond", "WA", "United States", "98052"),
    ("München", "Bayern", "Germany", "80331"),
    ("Paris", "Île-de-France", "France", "75002"),
    ("東京", "東京都", "Japan", "100-0005"),
    ("London", "", "United Kingdom", "EC1A 1BB"),
];

/// ASCII local part for a name (non-Latin names get a transliteration-free fallback).
fn local_part(given: &str, surname: &str, j: u64) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .filter_map(|c| match c {
                'a'..='z' | 'A'..='Z' => Some(c.to_ascii_lowercase()),
                'é' | 'É' => Some('e'),
                'ü' => Some('u'),
                'á' => Some('a'),
                'ó' => Some('o'),
                _ => None,
            })
            .collect()
    };
    let (g, s) = (clean(given), clean(surname));
    if g.is_empty() || s.is_empty() {
        format!("contact{j}")
    } else {
        format!("{g}.{s}")
    }
}

/// Contact `j` of mailbox `m`.
pub(crate) fn contact(spec: &CorpusSpec, m: usize, j: u64) -> Contact {
    let mut s = Stream::new(spec.seed, &[tag::CONTACTS, m as u64, j]);
    let given = s.pick(GIVEN).to_string();
    let surname = s.pick(SURNAMES).to_string();
    let company = s.pick(COMPANIES);
    let domain = match company.split(|c: char| !c.is_ascii_alphanumeric()).next() {
        Some(w) if !w.is_empty() => format!("{}.example", w.to_ascii_lowercase()),
        _ => "example.com".to_string(),
    };
    let display_name = format!("{given} {surname}");
    let mut email_addresses = vec![EmailAddress {
        name: display_name.clone(),
        address: format!("{}@{domain}", local_part(&given, &surname, j)),
    }];
    if s.chance(0.2) {
        email_addresses.push(EmailAddress {
            name: display_name.clone(),
            address: format!(
                "{}{}@gmail.example",
                local_part(&given, &surname, j),
                s.below(100)
            ),
        });
    }
    let phone = |s: &mut Stream| {
        format!(
            "+{} {} {:04} {:04}",
            s.pick(&["1", "49", "33", "81", "44"]),
            s.range(20, 999),
            s.below(10_000),
            s.below(10_000)
        )
    };
    let business_phones = (0..s.below(3)).map(|_| phone(&mut s)).collect();
    let home_phones = if s.chance(0.2) {
        vec![phone(&mut s)]
    } else {
        vec![]
    };
    let mobile_phone = s.chance(0.6).then(|| phone(&mut s));
    let (city, state, country, postal) = CITIES.get(s.index(CITIES.len())).copied().unwrap_or((
        "Redmond",
        "WA",
        "United States",
        "98052",
    ));
    let business_address = s.chance(0.5).then(|| PhysicalAddress {
        street: format!(
            "{} {}",
            s.range(1, 400),
            s.pick(&[
                "Main Street",
                "Hauptstraße",
                "rue de Rivoli",
                "Microsoft Way"
            ])
        ),
        city: city.into(),
        state: state.into(),
        country_or_region: country.into(),
        postal_code: postal.into(),
    });
    let birthday = s.chance(0.3).then(|| {
        format!(
            "{}-{:02}-{:02}T00:00:00Z",
            s.range(1950, 2002),
            s.range(1, 12),
            s.range(1, 28)
        )
    });
    let categories = if s.chance(0.2) {
        vec![
            s.pick(&["Customers", "Vendors", "Family", "Kategorie Grün"])
                .to_string(),
        ]
    } else {
        vec![]
    };
    Contact {
        key: derive(spec.seed, &[tag::CONTACTS, m as u64, j]),
        display_name,
        given_name: given,
        surname,
        middle_name: s
            .chance(0.1)
            .then(|| s.pick(&["J.", "Marie", "K."]).to_string()),
        nick_name: s
            .chance(0.1)
            .then(|| s.pick(&["Ben", "Liz", "Dima"]).to_string()),
        title: s
            .chance(0.15)
            .then(|| s.pick(&["Dr.", "Mr.", "Ms.", "Prof."]).to_string()),
        email_addresses,
        business_phones,
        home_phones,
        mobile_phone,
        company_name: s.chance(0.8).then(|| company.to_string()),
        job_title: s.chance(0.6).then(|| s.pick(TITLES).to_string()),
        department: s
            .chance(0.3)
            .then(|| s.pick(&["Sales", "Finance", "R&D", "Einkauf"]).to_string()),
        business_address,
        birthday,
        personal_notes: if s.chance(0.2) {
            "Met at Ignite; follow up on the renewal.".into()
        } else {
            String::new()
        },
        categories,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_are_deterministic_and_graph_shaped() {
        let spec = CorpusSpec::small();
        let c = contact(&spec, 2, 5);
        assert_eq!(c, contact(&spec, 2, 5));
        let v = serde_json::to_value(&c).unwrap();
        assert!(v["givenName"].is_string());
        assert!(
            v["emailAddresses"][0]["address"]
                .as_str()
                .unwrap()
                .contains('@')
        );
        assert!(v["businessPhones"].is_array());
        assert!(v.get("key").is_none());
    }
}
