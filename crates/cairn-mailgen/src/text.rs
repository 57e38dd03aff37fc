//! Human-looking text: subjects, plain bodies and their HTML renderings, in several
//! languages and scripts. Text is the compressible part of a corpus, so it is built from
//! a vocabulary with real repetition rather than random letters.

use crate::rng::Stream;

/// Languages the generator writes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    English,
    German,
    French,
    Japanese,
    Arabic,
}

impl Lang {
    pub(crate) fn tag(self) -> &'static str {
        match self {
            Lang::English => "en-US",
            Lang::German => "de-DE",
            Lang::French => "fr-FR",
            Lang::Japanese => "ja-JP",
            Lang::Arabic => "ar-SA",
        }
    }
}

const TOPICS: &[&str] = &[
    "Q3 budget review",
    "Quarterly business review",
    "Customer escalation: Contoso Pharmaceuticals",
    "Project Falcon status",
    "Onboarding checklist",
    "Travel request",
    "Updated org chart",
    "Lunch on Friday?",
    "Release 4.2 go/no-go",
    "Invoice 2026-0413",
    "Security awareness training",
    "Office move logistics",
    "Contract renewal - Fabrikam",
    "Design review notes",
    "Weekly sales pipeline",
    "Vendor evaluation",
    "Holiday schedule",
    "Expense report approval",
    "Incident postmortem",
    "Marketing launch plan",
    "Hiring loop feedback",
    "Board deck draft",
    "Data retention policy",
    "Server maintenance window",
];

const SUFFIXES: &[&str] = &[
    "",
    "",
    "",
    " - action required",
    " (draft)",
    " v2",
    " - final",
    " - please review",
    " [internal]",
    " for next week",
];

const FOREIGN_SUBJECTS: &[(Lang, &str)] = &[
    (
        Lang::German,
        "Besprechung über die Größenänderung der Büroflächen",
    ),
    (
        Lang::German,
        "Änderungen am Übergabeprotokoll – bitte prüfen",
    ),
    (Lang::German, "Grüße aus München und Rückfragen zum Angebot"),
    (Lang::French, "Réunion d'équipe — ordre du jour révisé"),
    (
        Lang::French,
        "Compte rendu de la réunion de lundi, à relire",
    ),
    (Lang::French, "Facture n°2026-117 : échéance dépassée"),
    (Lang::Japanese, "会議の議事録について"),
    (Lang::Japanese, "来週の出張スケジュールの確認"),
    (Lang::Japanese, "【重要】システムメンテナンスのお知らせ"),
    (Lang::Arabic, "تقرير المبيعات الشهري"),
    (Lang::Arabic, "دعوة لحضور الاجتماع السنوي"),
];

const EMOJI: &[&str] = &["🎉", "🚀", "📅", "✅", "⚠️", "🔥", "☕", "📎", "👍🏽", "🇩🇪"];

const EN_WORDS: &[&str] = &[
    "the",
    "team",
    "project",
    "customer",
    "deadline",
    "budget",
    "review",
    "meeting",
    "update",
    "please",
    "we",
    "should",
    "will",
    "need",
    "to",
    "and",
    "for",
    "with",
    "this",
    "next",
    "week",
    "report",
    "numbers",
    "forecast",
    "deliverables",
    "scope",
    "timeline",
    "risk",
    "approval",
    "contract",
    "feedback",
    "draft",
    "attached",
    "version",
    "quarter",
    "revenue",
    "pipeline",
    "release",
    "issue",
    "schedule",
    "agenda",
    "notes",
    "follow",
    "up",
    "on",
    "our",
    "call",
    "today",
    "tomorrow",
    "thanks",
    "regarding",
    "plan",
    "migration",
    "mailbox",
    "backup",
    "restore",
    "policy",
    "compliance",
    "vendor",
    "invoice",
];

const DE_SENTENCES: &[&str] = &[
    "Vielen Dank für die schnelle Rückmeldung zu unserem Angebot.",
    "Könnten Sie bitte die überarbeitete Kalkulation bis Freitag schicken?",
    "Die Größe der Büroflächen ändert sich ab dem ersten Quartal.",
    "Wir müssen die Übergabe noch einmal gemeinsam durchgehen.",
    "Grüße aus dem Team in Köln und bis nächste Woche.",
    "Bitte beachten Sie die geänderten Öffnungszeiten während der Feiertage.",
];

const FR_SENTENCES: &[&str] = &[
    "Merci pour votre réponse rapide concernant le devis.",
    "Pourriez-vous m'envoyer la version révisée avant vendredi ?",
    "La réunion est déplacée à jeudi prochain, même heure.",
    "Voici le compte rendu de notre échange de ce matin.",
    "N'hésitez pas à me contacter si vous avez des questions.",
    "Bien à vous, et à très bientôt à la conférence de Genève.",
];

const JA_SENTENCES: &[&str] = &[
    "いつもお世話になっております。",
    "会議の議事録を添付いたしますので、ご確認ください。",
    "来週の打ち合わせの日程について調整させてください。",
    "ご不明な点がございましたら、お気軽にお問い合わせください。",
    "引き続きよろしくお願いいたします。",
];

const AR_SENTENCES: &[&str] = &[
    "شكرا لكم على الرد السريع.",
    "مرفق تقرير المبيعات الشهري للمراجعة.",
    "يرجى تأكيد موعد الاجتماع القادم.",
    "نتطلع إلى التعاون معكم في المشروع الجديد.",
    "مع أطيب التحيات.",
];

const GREETINGS: &[&str] = &["Hi", "Hello", "Dear", "Hey", "Good morning"];
const CLOSINGS: &[&str] = &[
    "Thanks,",
    "Best regards,",
    "Cheers,",
    "Kind regards,",
    "Thank you,",
];

/// A subject line and the language the message is written in.
pub(crate) fn subject(s: &mut Stream, non_ascii: bool) -> (String, Lang) {
    if non_ascii {
        let choice = s.below(FOREIGN_SUBJECTS.len() as u64 + 3);
        if let Some((lang, text)) = FOREIGN_SUBJECTS.get(choice as usize) {
            return ((*text).to_string(), *lang);
        }
        // Emoji in an otherwise English subject (4-byte UTF-8 in encoded-words).
        let e = s.pick(EMOJI);
        return (
            format!("{e} {}{}", s.pick(TOPICS), s.pick(SUFFIXES)),
            Lang::English,
        );
    }
    (
        format!("{}{}", s.pick(TOPICS), s.pick(SUFFIXES)),
        Lang::English,
    )
}

fn english_sentence(s: &mut Stream) -> String {
    let n = s.range(6, 18);
    let mut out = String::new();
    for i in 0..n {
        let w = s.pick(EN_WORDS);
        if i == 0 {
            let mut c = w.chars();
            if let Some(f) = c.next() {
                out.extend(f.to_uppercase());
                out.push_str(c.as_str());
            }
        } else {
            out.push(' ');
            out.push_str(w);
        }
    }
    out.push(if s.below(8) == 0 { '?' } else { '.' });
    out
}

fn sentence(s: &mut Stream, lang: Lang) -> String {
    match lang {
        Lang::English => english_sentence(s),
        Lang::German => s.pick(DE_SENTENCES).to_string(),
        Lang::French => s.pick(FR_SENTENCES).to_string(),
        Lang::Japanese => s.pick(JA_SENTENCES).to_string(),
        Lang::Arabic => s.pick(AR_SENTENCES).to_string(),
    }
}

/// Paragraphs of text (no greeting), roughly `target` bytes long.
pub(crate) fn paragraphs(s: &mut Stream, lang: Lang, target: usize) -> Vec<String> {
    let mut paras = Vec::new();
    let mut len = 0;
    while len < target {
        let mut p = String::new();
        for i in 0..s.range(2, 6) {
            if i > 0 {
                p.push(' ');
            }
            p.push_str(&sentence(s, lang));
        }
        len += p.len() + 2;
        paras.push(p);
    }
    paras
}

/// A plain-text body: greeting, paragraphs, closing and signature.
pub(crate) fn plain_body(s: &mut Stream, lang: Lang, to_name: &str, from_name: &str) -> String {
    let target = match s.below(10) {
        0..=5 => s.range(120, 900),
        6..=8 => s.range(900, 4000),
        _ => s.range(4000, 20000),
    } as usize;
    let mut out = String::new();
    let first = to_name.split(' ').next().unwrap_or("");
    out.push_str(&format!("{} {first},\n\n", s.pick(GREETINGS)));
    for p in paragraphs(s, lang, target) {
        out.push_str(&wrap(&p, 72));
        out.push_str("\n\n");
    }
    out.push_str(&format!("{}\n{from_name}\n", s.pick(CLOSINGS)));
    out
}

/// Wrap at spaces to lines of at most `width` characters (longer words stay whole).
pub(crate) fn wrap(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / width);
    let mut line = 0;
    for word in text.split(' ') {
        let w = word.chars().count();
        if line > 0 && line + 1 + w > width {
            out.push('\n');
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += w;
    }
    out
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// An Outlook-flavoured HTML rendering of a plain body; `images` are `cid:` references to
/// embed (inline images of a multipart/related).
pub(crate) fn html_body(plain: &str, lang: Lang, images: &[String]) -> String {
    let dir = if lang == Lang::Arabic {
        " dir=\"rtl\""
    } else {
        ""
    };
    let mut out = String::with_capacity(plain.len() * 2 + 600);
    out.push_str(
        "<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\n",
    );
    out.push_str("<style type=\"text/css\" style=\"display:none;\"> P {margin-top:0;margin-bottom:0;} </style>\n</head>\n");
    out.push_str(&format!("<body{dir}>\n<div style=\"font-family: Aptos, Calibri, Helvetica, sans-serif; font-size: 12pt; color: rgb(0, 0, 0);\">\n"));
    for para in plain.split("\n\n").filter(|p| !p.trim().is_empty()) {
        out.push_str("<p>");
        out.push_str(&escape_html(&para.replace('\n', " ")));
        out.push_str("</p>\n");
    }
    for cid in images {
        out.push_str(&format!(
            "<p><img src=\"cid:{cid}\" width=\"240\" height=\"80\" alt=\"image\" style=\"width:240px;height:80px\"></p>\n"
        ));
    }
    out.push_str("</div>\n</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_words() {
        let w = wrap("aaa bbb ccc ddd", 7);
        assert_eq!(w, "aaa bbb\nccc ddd");
    }

    #[test]
    fn html_escapes() {
        let h = html_body("a < b & c\n\nnext", Lang::English, &["x@y".into()]);
        assert!(h.contains("a &lt; b &amp; c"));
        assert!(h.contains("cid:x@y"));
    }
}
