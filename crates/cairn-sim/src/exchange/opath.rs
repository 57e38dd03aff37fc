//! OPATH recipient filters (`-RecipientRestrictionFilter`, `Get-Mailbox -Filter`): the
//! subset Exchange admins use for management scopes, parsed once and evaluated against
//! recipients.

use std::fmt;

/// A recipient property a filter may test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Property {
    /// Department.
    Department,
    /// CustomAttribute1..15.
    CustomAttribute(u8),
    /// RecipientTypeDetails (UserMailbox, SharedMailbox, …).
    RecipientTypeDetails,
    /// Membership of a group (by name, mail, id or distinguished name).
    MemberOfGroup,
    /// DisplayName.
    DisplayName,
    /// Alias.
    Alias,
    /// Name.
    Name,
    /// PrimarySmtpAddress.
    PrimarySmtpAddress,
    /// WindowsEmailAddress.
    WindowsEmailAddress,
    /// UserPrincipalName.
    UserPrincipalName,
}

impl Property {
    fn parse(name: &str) -> Option<Property> {
        let lower = name.to_ascii_lowercase();
        if let Some(n) = lower.strip_prefix("customattribute") {
            return match n.parse::<u8>() {
                Ok(i @ 1..=15) => Some(Property::CustomAttribute(i)),
                _ => None,
            };
        }
        Some(match lower.as_str() {
            "department" => Property::Department,
            "recipienttypedetails" => Property::RecipientTypeDetails,
            "memberofgroup" => Property::MemberOfGroup,
            "displayname" => Property::DisplayName,
            "alias" => Property::Alias,
            "name" => Property::Name,
            "primarysmtpaddress" => Property::PrimarySmtpAddress,
            "windowsemailaddress" => Property::WindowsEmailAddress,
            "userprincipalname" => Property::UserPrincipalName,
            _ => return None,
        })
    }
}

/// What a filter is evaluated against.
pub trait Recipient {
    /// Text value of a property (`None` = `$null`). Not called for MemberOfGroup.
    fn property(&self, property: Property) -> Option<String>;
    /// Whether the recipient is a member of the group the value names.
    fn is_member_of(&self, group: &str) -> bool;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Like,
    NotLike,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Cmp(Property, Op, Option<String>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    text: String,
    root: Node,
}

/// Why a filter was rejected, worded like Exchange's messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterError {
    /// Not a syntactically valid filter.
    Syntax {
        /// The filter.
        filter: String,
        /// 1-based character position of the problem.
        position: usize,
    },
    /// A property the simulator's Exchange does not know or cannot filter on.
    UnknownProperty {
        /// The filter.
        filter: String,
        /// The property.
        property: String,
    },
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterError::Syntax { filter, position } => write!(
                f,
                "Invalid filter syntax. For a description of the filter parameter syntax see the command help.\r\n\"{filter}\" at position {position}."
            ),
            FilterError::UnknownProperty { filter, property } => write!(
                f,
                "Cannot bind parameter 'Filter' to the target. Exception setting \"Filter\": \"'{property}' is not a recognized filterable property. For a description of the filter parameter syntax see the command help.\r\n\"{filter}\" at position 1.\""
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Dash(String),
    Open,
    Close,
}

fn tokenize(text: &str) -> Result<Vec<(usize, Tok)>, usize> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            out.push((i, Tok::Open));
            i += 1;
        } else if c == ')' {
            out.push((i, Tok::Close));
            i += 1;
        } else if c == '\'' || c == '"' {
            let start = i;
            let mut s = String::new();
            i += 1;
            loop {
                if i >= chars.len() {
                    return Err(start + 1);
                }
                if chars[i] == c {
                    // A doubled quote is an escaped quote.
                    if i + 1 < chars.len() && chars[i + 1] == c {
                        s.push(c);
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                s.push(chars[i]);
                i += 1;
            }
            out.push((start, Tok::Str(s)));
        } else {
            let start = i;
            let mut s = String::new();
            while i < chars.len()
                && !chars[i].is_whitespace()
                && chars[i] != '('
                && chars[i] != ')'
                && chars[i] != '\''
                && chars[i] != '"'
            {
                s.push(chars[i]);
                i += 1;
            }
            if let Some(op) = s.strip_prefix('-') {
                out.push((start, Tok::Dash(op.to_ascii_lowercase())));
            } else {
                out.push((start, Tok::Word(s)));
            }
        }
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    text: &'a str,
}

impl Parser<'_> {
    fn syntax(&self) -> FilterError {
        let position = self
            .toks
            .get(self.pos)
            .map(|(p, _)| p + 1)
            .unwrap_or(self.text.chars().count() + 1);
        FilterError::Syntax {
            filter: self.text.to_string(),
            position,
        }
    }

    fn peek_dash(&self, name: &str) -> bool {
        matches!(self.toks.get(self.pos), Some((_, Tok::Dash(d))) if d == name)
    }

    fn or(&mut self) -> Result<Node, FilterError> {
        let mut left = self.and()?;
        while self.peek_dash("or") {
            self.pos += 1;
            let right = self.and()?;
            left = Node::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Node, FilterError> {
        let mut left = self.unary()?;
        while self.peek_dash("and") {
            self.pos += 1;
            let right = self.unary()?;
            left = Node::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Node, FilterError> {
        match self.toks.get(self.pos).cloned() {
            Some((_, Tok::Dash(d))) if d == "not" => {
                self.pos += 1;
                Ok(Node::Not(Box::new(self.unary()?)))
            }
            Some((_, Tok::Open)) => {
                self.pos += 1;
                let inner = self.or()?;
                match self.toks.get(self.pos) {
                    Some((_, Tok::Close)) => {
                        self.pos += 1;
                        Ok(inner)
                    }
                    _ => Err(self.syntax()),
                }
            }
            Some((_, Tok::Word(name))) => {
                let Some(property) = Property::parse(&name) else {
                    return Err(FilterError::UnknownProperty {
                        filter: self.text.to_string(),
                        property: name,
                    });
                };
                self.pos += 1;
                let op = match self.toks.get(self.pos) {
                    Some((_, Tok::Dash(d))) => match d.as_str() {
                        "eq" => Op::Eq,
                        "ne" => Op::Ne,
                        "like" => Op::Like,
                        "notlike" => Op::NotLike,
                        _ => return Err(self.syntax()),
                    },
                    _ => return Err(self.syntax()),
                };
                self.pos += 1;
                let value = match self.toks.get(self.pos) {
                    Some((_, Tok::Str(s))) => Some(s.clone()),
                    Some((_, Tok::Word(w))) => match w.to_ascii_lowercase().as_str() {
                        "$null" => None,
                        "$true" => Some("True".into()),
                        "$false" => Some("False".into()),
                        _ => Some(w.clone()),
                    },
                    _ => return Err(self.syntax()),
                };
                self.pos += 1;
                Ok(Node::Cmp(property, op, value))
            }
            _ => Err(self.syntax()),
        }
    }
}

fn like(value: &str, pattern: &str) -> bool {
    // `*` matches any run of characters; comparison is case-insensitive like Exchange's.
    let value = value.to_lowercase();
    let pattern = pattern.to_lowercase();
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return value == pattern;
    }
    let mut rest = value.as_str();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else if let Some(at) = rest.find(part) {
            rest = &rest[at + part.len()..];
        } else {
            return false;
        }
    }
    true
}

impl Filter {
    /// Parses a filter such as `Department -eq 'Sales' -and CustomAttribute1 -ne $null`.
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        let trimmed = text.trim();
        let body = trimmed
            .strip_prefix('{')
            .and_then(|s| s.strip_suffix('}'))
            .unwrap_or(trimmed);
        let toks = tokenize(body).map_err(|position| FilterError::Syntax {
            filter: text.to_string(),
            position,
        })?;
        let mut p = Parser {
            toks,
            pos: 0,
            text: body,
        };
        let root = p.or()?;
        if p.pos != p.toks.len() {
            return Err(p.syntax());
        }
        Ok(Filter {
            text: text.to_string(),
            root,
        })
    }

    /// The filter text as given.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the recipient matches.
    pub fn matches(&self, r: &dyn Recipient) -> bool {
        eval(&self.root, r)
    }
}

fn eval(node: &Node, r: &dyn Recipient) -> bool {
    match node {
        Node::And(a, b) => eval(a, r) && eval(b, r),
        Node::Or(a, b) => eval(a, r) || eval(b, r),
        Node::Not(a) => !eval(a, r),
        Node::Cmp(Property::MemberOfGroup, op, value) => {
            let member = value.as_deref().map(|v| r.is_member_of(v)).unwrap_or(false);
            match op {
                Op::Eq | Op::Like => member,
                Op::Ne | Op::NotLike => !member,
            }
        }
        Node::Cmp(p, op, value) => {
            let actual = r.property(*p).filter(|s| !s.is_empty());
            match (op, value) {
                (Op::Eq, None) => actual.is_none(),
                (Op::Ne, None) => actual.is_some(),
                (Op::Eq, Some(v)) => actual.is_some_and(|a| a.eq_ignore_ascii_case(v)),
                (Op::Ne, Some(v)) => !actual.is_some_and(|a| a.eq_ignore_ascii_case(v)),
                (Op::Like, Some(v)) => actual.is_some_and(|a| like(&a, v)),
                (Op::NotLike, Some(v)) => !actual.is_some_and(|a| like(&a, v)),
                (Op::Like, None) => actual.is_none(),
                (Op::NotLike, None) => actual.is_some(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct R {
        dept: Option<&'static str>,
        ca1: Option<&'static str>,
        rtd: &'static str,
        groups: Vec<&'static str>,
    }

    impl Recipient for R {
        fn property(&self, p: Property) -> Option<String> {
            match p {
                Property::Department => self.dept.map(String::from),
                Property::CustomAttribute(1) => self.ca1.map(String::from),
                Property::RecipientTypeDetails => Some(self.rtd.into()),
                _ => None,
            }
        }
        fn is_member_of(&self, g: &str) -> bool {
            self.groups.iter().any(|x| x.eq_ignore_ascii_case(g))
        }
    }

    fn sales() -> R {
        R {
            dept: Some("Sales"),
            ca1: Some("backup"),
            rtd: "UserMailbox",
            groups: vec!["Sales"],
        }
    }

    #[test]
    fn evaluates_the_operators_scopes_use() {
        let cases = [
            ("Department -eq 'Sales'", true),
            ("Department -eq 'sales'", true),
            ("Department -ne 'Sales'", false),
            (
                "Department -eq 'Sales' -and RecipientTypeDetails -eq 'SharedMailbox'",
                false,
            ),
            (
                "Department -eq 'Finance' -or CustomAttribute1 -eq \"backup\"",
                true,
            ),
            ("-not (Department -eq 'Sales')", false),
            ("{CustomAttribute1 -like 'back*'}", true),
            ("CustomAttribute2 -eq $null", true),
            ("MemberOfGroup -eq 'Sales'", true),
            ("MemberOfGroup -eq 'Finance'", false),
        ];
        for (f, want) in cases {
            let filter = Filter::parse(f).unwrap_or_else(|e| panic!("{f}: {e}"));
            assert_eq!(filter.matches(&sales()), want, "{f}");
        }
    }

    #[test]
    fn rejects_unknown_properties_and_bad_syntax() {
        match Filter::parse("Colour -eq 'red'") {
            Err(FilterError::UnknownProperty { property, .. }) => assert_eq!(property, "Colour"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            Filter::parse("Department -eq"),
            Err(FilterError::Syntax { .. })
        ));
        assert!(matches!(
            Filter::parse("Department -eq 'x"),
            Err(FilterError::Syntax { .. })
        ));
        assert!(matches!(
            Filter::parse("CustomAttribute16 -eq 'x'"),
            Err(FilterError::UnknownProperty { .. })
        ));
    }
}
