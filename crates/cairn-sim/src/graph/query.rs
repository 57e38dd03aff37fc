//! OData query options as Microsoft Graph applies them to directory collections:
//! `$filter` (the forms clients use), `$select`, `$top`, `$skiptoken`, `$count`.

use serde_json::Value;

/// A parsed `$filter`.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `a and b`.
    And(Box<Expr>, Box<Expr>),
    /// `a or b`.
    Or(Box<Expr>, Box<Expr>),
    /// `not a`.
    Not(Box<Expr>),
    /// `prop eq|ne|gt|ge|lt|le literal`; prop may end with `/$count`.
    Cmp(String, String, Value),
    /// `startswith(prop,'x')`.
    StartsWith(String, String),
    /// `prop/any(x:x eq 'v')`.
    Any(String, Value),
}

impl Expr {
    /// Whether the filter counts a collection (an advanced query).
    pub fn is_advanced(&self) -> bool {
        match self {
            Expr::And(a, b) | Expr::Or(a, b) => a.is_advanced() || b.is_advanced(),
            Expr::Not(_) => true,
            Expr::Cmp(p, op, _) => p.ends_with("/$count") || op == "ne",
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    Open,
    Close,
    Comma,
    Colon,
}

fn tokenize(s: &str) -> Option<Vec<Tok>> {
    let c: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < c.len() {
        match c[i] {
            ' ' | '\t' => i += 1,
            '(' => {
                out.push(Tok::Open);
                i += 1
            }
            ')' => {
                out.push(Tok::Close);
                i += 1
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1
            }
            ':' => {
                out.push(Tok::Colon);
                i += 1
            }
            '\'' => {
                let mut v = String::new();
                i += 1;
                loop {
                    if i >= c.len() {
                        return None;
                    }
                    if c[i] == '\'' {
                        if i + 1 < c.len() && c[i + 1] == '\'' {
                            v.push('\'');
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    v.push(c[i]);
                    i += 1;
                }
                out.push(Tok::Str(v));
            }
            ch if ch.is_ascii_digit() || ch == '-' => {
                let start = i;
                while i < c.len() && (c[i].is_ascii_digit() || c[i] == '.' || c[i] == '-') {
                    i += 1;
                }
                let text: String = c[start..i].iter().collect();
                // GUID literals without quotes are ids, not numbers.
                if i < c.len() && c[i].is_ascii_alphanumeric() {
                    while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '-') {
                        i += 1;
                    }
                    out.push(Tok::Ident(c[start..i].iter().collect()));
                } else {
                    out.push(Tok::Num(text.parse().ok()?));
                }
            }
            _ => {
                let start = i;
                while i < c.len() && !" \t(),:'".contains(c[i]) {
                    i += 1;
                }
                out.push(Tok::Ident(c[start..i].iter().collect()));
            }
        }
    }
    Some(out)
}

struct P {
    t: Vec<Tok>,
    i: usize,
}

impl P {
    fn kw(&self, k: &str) -> bool {
        matches!(self.t.get(self.i), Some(Tok::Ident(x)) if x.eq_ignore_ascii_case(k))
    }
    fn or(&mut self) -> Option<Expr> {
        let mut l = self.and()?;
        while self.kw("or") {
            self.i += 1;
            l = Expr::Or(Box::new(l), Box::new(self.and()?));
        }
        Some(l)
    }
    fn and(&mut self) -> Option<Expr> {
        let mut l = self.unary()?;
        while self.kw("and") {
            self.i += 1;
            l = Expr::And(Box::new(l), Box::new(self.unary()?));
        }
        Some(l)
    }
    fn literal(&mut self) -> Option<Value> {
        let v = match self.t.get(self.i)? {
            Tok::Str(s) => Value::String(s.clone()),
            Tok::Num(n) => serde_json::json!(n),
            Tok::Ident(x) if x == "true" => Value::Bool(true),
            Tok::Ident(x) if x == "false" => Value::Bool(false),
            Tok::Ident(x) if x == "null" => Value::Null,
            Tok::Ident(x) => Value::String(x.clone()),
            _ => return None,
        };
        self.i += 1;
        Some(v)
    }
    fn expect(&mut self, t: Tok) -> Option<()> {
        (self.t.get(self.i) == Some(&t)).then(|| self.i += 1)
    }
    fn unary(&mut self) -> Option<Expr> {
        if self.kw("not") {
            self.i += 1;
            return Some(Expr::Not(Box::new(self.unary()?)));
        }
        if self.t.get(self.i) == Some(&Tok::Open) {
            self.i += 1;
            let e = self.or()?;
            self.expect(Tok::Close)?;
            return Some(e);
        }
        let Tok::Ident(name) = self.t.get(self.i)?.clone() else {
            return None;
        };
        self.i += 1;
        if name.eq_ignore_ascii_case("startswith") {
            self.expect(Tok::Open)?;
            let Tok::Ident(prop) = self.t.get(self.i)?.clone() else {
                return None;
            };
            self.i += 1;
            self.expect(Tok::Comma)?;
            let Value::String(v) = self.literal()? else {
                return None;
            };
            self.expect(Tok::Close)?;
            return Some(Expr::StartsWith(prop, v));
        }
        if let Some(prop) = name.strip_suffix("/any") {
            self.expect(Tok::Open)?;
            let Tok::Ident(var) = self.t.get(self.i)?.clone() else {
                return None;
            };
            self.i += 1;
            self.expect(Tok::Colon)?;
            let Tok::Ident(var2) = self.t.get(self.i)?.clone() else {
                return None;
            };
            self.i += 1;
            if var2 != var || !self.kw("eq") {
                return None;
            }
            self.i += 1;
            let v = self.literal()?;
            self.expect(Tok::Close)?;
            return Some(Expr::Any(prop.to_string(), v));
        }
        let Some(Tok::Ident(op)) = self.t.get(self.i).cloned() else {
            return None;
        };
        let op = op.to_ascii_lowercase();
        if !["eq", "ne", "gt", "ge", "lt", "le"].contains(&op.as_str()) {
            return None;
        }
        self.i += 1;
        let v = self.literal()?;
        Some(Expr::Cmp(name, op, v))
    }
}

/// Parses a `$filter`; `None` when Graph would answer "Invalid filter clause".
pub fn parse_filter(s: &str) -> Option<Expr> {
    let mut p = P {
        t: tokenize(s)?,
        i: 0,
    };
    let e = p.or()?;
    (p.i == p.t.len()).then_some(e)
}

fn lookup<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = obj;
    for part in path.split('/') {
        cur = cur
            .as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(part))
            .map(|(_, v)| v)?;
    }
    Some(cur)
}

fn cmp_values(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::String(x), Value::String(y)) => Some(x.to_lowercase().cmp(&y.to_lowercase())),
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Null, Value::Null) => Some(std::cmp::Ordering::Equal),
        _ => None,
    }
}

/// Evaluates a filter against the full JSON of an object.
pub fn eval(e: &Expr, obj: &Value) -> bool {
    use std::cmp::Ordering::*;
    match e {
        Expr::And(a, b) => eval(a, obj) && eval(b, obj),
        Expr::Or(a, b) => eval(a, obj) || eval(b, obj),
        Expr::Not(a) => !eval(a, obj),
        Expr::StartsWith(p, v) => lookup(obj, p)
            .and_then(Value::as_str)
            .is_some_and(|s| s.to_lowercase().starts_with(&v.to_lowercase())),
        Expr::Any(p, v) => lookup(obj, p)
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|x| cmp_values(x, v) == Some(Equal))),
        Expr::Cmp(p, op, v) => {
            let actual = match p.strip_suffix("/$count") {
                Some(coll) => serde_json::json!(
                    lookup(obj, coll)
                        .and_then(Value::as_array)
                        .map(Vec::len)
                        .unwrap_or(0) as f64
                ),
                None => lookup(obj, p).cloned().unwrap_or(Value::Null),
            };
            let v = match (&actual, v) {
                (Value::Number(_), Value::Number(n)) => serde_json::json!(n.as_f64()),
                _ => v.clone(),
            };
            let actual = match actual {
                Value::Number(n) => serde_json::json!(n.as_f64()),
                other => other,
            };
            let ord = cmp_values(&actual, &v);
            match op.as_str() {
                "eq" => ord == Some(Equal),
                "ne" => ord != Some(Equal),
                "gt" => ord == Some(Greater),
                "ge" => matches!(ord, Some(Greater | Equal)),
                "lt" => ord == Some(Less),
                "le" => matches!(ord, Some(Less | Equal)),
                _ => false,
            }
        }
    }
}

/// Keeps only the `$select`ed properties (and OData annotations).
pub fn select(obj: &Value, fields: &[String]) -> Value {
    let Some(map) = obj.as_object() else {
        return obj.clone();
    };
    let mut out = serde_json::Map::new();
    for (k, v) in map {
        if k.starts_with('@') || fields.iter().any(|f| f.eq_ignore_ascii_case(k)) {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_clients_use() {
        let u = json!({"appId": "ABC", "assignedLicenses": [{"skuId": "x"}], "groupTypes": ["Unified"], "accountEnabled": true, "displayName": "Alice"});
        for (f, want) in [
            ("appId eq 'abc'", true),
            ("assignedLicenses/$count ne 0", true),
            ("assignedLicenses/$count eq 0", false),
            ("groupTypes/any(c:c eq 'Unified')", true),
            (
                "accountEnabled eq true and startswith(displayName,'Al')",
                true,
            ),
            ("appId eq 'x' or not (accountEnabled eq false)", true),
        ] {
            let e = parse_filter(f).unwrap_or_else(|| panic!("parses {f}"));
            assert_eq!(eval(&e, &u), want, "{f}");
        }
        assert!(parse_filter("appId eq").is_none());
        assert!(parse_filter("assignedLicenses/$count ne 0").is_some_and(|e| e.is_advanced()));
    }
}
