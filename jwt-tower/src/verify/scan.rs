//! A fast path for the claims view: reads it straight from the plain JSON nearly every
//! access token carries, instead of through serde.
//!
//! It accepts a strict subset of JSON only: one flat object whose keys and strings have
//! no escapes, whose keys are all distinct, and whose values are strings, integers,
//! `true`, `false`, `null` or arrays of strings: what the strict reading (see `strict`)
//! accepts, two levels deep at most. On anything else (an escape, a float, a nested
//! object, a repeated key, a syntax error) and on anything the view would refuse (a
//! mistyped registered claim) it returns `None` and the caller reads the view through
//! [`ViewSeed`], so errors and unusual tokens are judged by serde alone. Where it does return a view,
//! it is the one `ViewSeed` would build: the tests compare the two on generated tokens.
//!
//! Anything but whitespace after the object's closing brace leaves the subset too (the
//! serde path then refuses it): a view it returns stands for the whole text, which is
//! what lets `RegisteredClaims` be built from the view with no second parse.
//!
//! Measured to pay: reading every view through serde instead (with the identity strings'
//! control-character check this subset makes needless) costs 4,500 more instructions of
//! an HS256 `GET /me` of 50,600 (8.9%; `benches/load/instructions.sh HS256`, both builds
//! counted in one run). The
//! `claims` fuzz target drives it through `Verifier::verify` against an independent
//! reading of the same claims.

use std::borrow::Cow;

use super::claims::{ClaimsView, StrOrList, ViewSeed};

/// A value of the subset.
enum Value<'a> {
    Str(&'a str),
    Int(i64),
    Null,
    Bool,
    Strs(Vec<Cow<'a, str>>),
}

struct Scanner<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    /// JSON whitespace.
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    fn eat_word(&mut self, word: &str) -> Option<()> {
        let end = self.at + word.len();
        (self.text.as_bytes().get(self.at..end)? == word.as_bytes()).then(|| self.at = end)
    }

    /// A string without escapes, borrowed. A backslash, a control character (which JSON
    /// forbids raw below 0x20; DEL and U+0080-U+009F are allowed) or any character
    /// encoded with a 0xC2 lead byte (U+0080-U+00BF, the C1 controls among them) leaves
    /// the subset: a string of the subset holds no control character.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.at;
        let rest = &self.text.as_bytes()[start..];
        let len = string_end(rest)?;
        if rest[len] != b'"' {
            return None;
        }
        self.at = start + len + 1;
        // Both ends are ASCII quotes, hence character boundaries.
        Some(&self.text[start..start + len])
    }

    /// An integer as JSON writes it (`-`, then `0` or digits not starting with `0`), of
    /// at most 18 digits so that it fits an `i64` whichever way serde_json reads it.
    /// A fraction or an exponent leaves the subset. One pass: each digit is checked and
    /// added as it is read (a token's dates are ten digits, three times a token).
    fn integer(&mut self) -> Option<i64> {
        const MAX_DIGITS: usize = 18;
        let negative = self.eat(b'-').is_some();
        let bytes = self.text.as_bytes();
        let start = self.at;
        let mut at = start;
        let mut magnitude = 0i64;
        while let Some(&digit @ b'0'..=b'9') = bytes.get(at) {
            if at - start == MAX_DIGITS {
                return None;
            }
            // At most 18 digits: no overflow, so no checks.
            magnitude = magnitude * 10 + i64::from(digit - b'0');
            at += 1;
        }
        let digits = at - start;
        if digits == 0 || (digits > 1 && bytes[start] == b'0') {
            return None;
        }
        self.at = at;
        if let Some(b'.' | b'e' | b'E') = self.peek() {
            return None;
        }
        Some(if negative { -magnitude } else { magnitude })
    }

    /// `[` strings separated by commas `]`.
    fn strings(&mut self) -> Option<Vec<Cow<'a, str>>> {
        self.eat(b'[')?;
        let mut items = Vec::new();
        self.skip_ws();
        if self.eat(b']').is_some() {
            return Some(items);
        }
        loop {
            self.skip_ws();
            items.push(Cow::Borrowed(self.string()?));
            self.skip_ws();
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(items);
                }
                _ => return None,
            }
        }
    }

    fn value(&mut self) -> Option<Value<'a>> {
        match self.peek()? {
            b'"' => self.string().map(Value::Str),
            b'-' | b'0'..=b'9' => self.integer().map(Value::Int),
            b'n' => self.eat_word("null").map(|()| Value::Null),
            b't' => self.eat_word("true").map(|()| Value::Bool),
            b'f' => self.eat_word("false").map(|()| Value::Bool),
            b'[' => self.strings().map(Value::Strs),
            _ => None,
        }
    }
}

/// Where a string's characters end: the index of the first quote, backslash, control
/// character below 0x20, DEL (0x7F) or 0xC2 lead byte in `bytes`. Eight bytes a step, as
/// one `u64` (SWAR): the strings of a token's claims are short (a key is three letters, a
/// value a few dozen), too short for a SIMD search to pay for its set-up, and one pass
/// finds every kind of byte.
fn string_end(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // The high bit of each byte of `x` below `n` (`n` at most 0x80). A borrow can only
    // flag a byte above one truly below `n`, so the lowest flagged byte is exact.
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS;
    let equal = |x: u64, b: u8| below(x ^ (ONES * u64::from(b)), 1);
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let x = u64::from_le_bytes(chunk.try_into().expect("chunks of eight"));
        let found =
            equal(x, b'"') | equal(x, b'\\') | below(x, 0x20) | equal(x, 0x7f) | equal(x, 0xc2);
        if found != 0 {
            return Some(at + found.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    let tail = chunks.remainder();
    tail.iter().position(ends_a_string).map(|i| at + i)
}

/// The bytes [`string_end`] stops at.
fn ends_a_string(&b: &u8) -> bool {
    b == b'"' || b == b'\\' || b < 0x20 || b == 0x7f || b == 0xc2
}

/// Stores a present value, as the view does (a key comes once: see [`Keys`]).
fn store<T>(slot: &mut Option<T>, value: Option<T>) -> Option<bool> {
    let present = value.is_some();
    if present {
        *slot = value;
    }
    Some(present)
}

/// The keys of the object so far. The view's own claims (nine registered names and the
/// roles claim) are bits; other keys, few in an access token, are compared in turn.
/// A repeated key, or more other keys than are kept, leaves the fast path.
struct Keys<'a> {
    claims: u16,
    others: [&'a str; Keys::OTHERS],
    other_count: usize,
}

impl<'a> Keys<'a> {
    const OTHERS: usize = 24;

    /// Notes view claim number `bit`; `None` if it came before.
    fn claim(&mut self, bit: u16) -> Option<()> {
        let mask = 1 << bit;
        if self.claims & mask != 0 {
            return None;
        }
        self.claims |= mask;
        Some(())
    }

    /// Notes another key; `None` if it came before or there is no room left.
    fn other(&mut self, key: &'a str) -> Option<()> {
        let seen = &self.others[..self.other_count];
        if self.other_count == Self::OTHERS || seen.contains(&key) {
            return None;
        }
        self.others[self.other_count] = key;
        self.other_count += 1;
        Some(())
    }
}

fn string(value: Value<'_>) -> Option<Option<Cow<'_, str>>> {
    match value {
        Value::Str(s) => Some(Some(Cow::Borrowed(s))),
        Value::Null => Some(None),
        _ => None,
    }
}

fn list(value: Value<'_>) -> Option<Option<StrOrList<'_>>> {
    match value {
        Value::Str(s) => Some(Some(StrOrList::One(Cow::Borrowed(s)))),
        Value::Strs(items) => Some(Some(StrOrList::Many(items))),
        Value::Null => Some(None),
        _ => None,
    }
}

fn date(value: Value<'_>) -> Option<Option<i64>> {
    match value {
        Value::Int(n) => Some(Some(n)),
        Value::Null => Some(None),
        _ => None,
    }
}

/// The claims view of `text` when it is in the subset and the view would accept it.
pub(crate) fn view<'a>(text: &'a str, seed: &ViewSeed<'_>) -> Option<ClaimsView<'a>> {
    let mut s = Scanner { text, at: 0 };
    let mut view = ClaimsView {
        no_controls: true,
        ..ClaimsView::default()
    };
    let mut keys = Keys {
        claims: 0,
        others: [""; Keys::OTHERS],
        other_count: 0,
    };
    s.skip_ws();
    s.eat(b'{')?;
    s.skip_ws();
    if s.eat(b'}').is_some() {
        s.skip_ws();
        return (s.at == text.len()).then_some(view);
    }
    loop {
        s.skip_ws();
        let key = s.string()?;
        s.skip_ws();
        s.eat(b':')?;
        s.skip_ws();
        let value = s.value()?;
        // The same claims, in the same order of precedence, as `ViewVisitor`.
        let present = match key {
            "iss" => keys.claim(0).and(store(&mut view.iss, string(value)?))?,
            "sub" => keys.claim(1).and(store(&mut view.sub, string(value)?))?,
            "jti" => keys.claim(2).and(store(&mut view.jti, string(value)?))?,
            "scope" => keys.claim(3).and(store(&mut view.scope, string(value)?))?,
            "aud" => keys.claim(4).and(store(&mut view.aud, list(value)?))?,
            "scp" => keys.claim(5).and(store(&mut view.scp, list(value)?))?,
            "exp" => keys.claim(6).and(store(&mut view.exp, date(value)?))?,
            "nbf" => keys.claim(7).and(store(&mut view.nbf, date(value)?))?,
            "iat" => keys.claim(8).and(store(&mut view.iat, date(value)?))?,
            // A confirmation or an actor is an object, read (and its type judged) by
            // serde alone.
            "cnf" | "act" => return None,
            name if Some(name) == seed.roles_claim => {
                keys.claim(9).and(store(&mut view.roles, list(value)?))?
            }
            _ => keys.other(key).map(|()| !matches!(value, Value::Null))?,
        };
        if present && let Some(i) = seed.required.iter().position(|r| **r == *key) {
            view.required_seen |= 1 << i;
        }
        s.skip_ws();
        match s.peek()? {
            b',' => s.at += 1,
            b'}' => {
                s.at += 1;
                s.skip_ws();
                return (s.at == text.len()).then_some(view);
            }
            _ => return None,
        }
    }
}

/// Everything a view holds, comparable: `([iss, sub, jti, scope], [aud, scp, roles],
/// [exp, nbf, iat], required_seen)`.
#[cfg(test)]
pub(crate) type Projection = (
    [Option<String>; 4],
    [Option<Vec<String>>; 3],
    [Option<i64>; 3],
    u64,
);

#[cfg(test)]
pub(crate) fn project(v: &ClaimsView<'_>) -> Projection {
    let s = |c: &Option<Cow<'_, str>>| c.as_ref().map(|c| c.to_string());
    let l = |c: &Option<StrOrList<'_>>| {
        c.as_ref()
            .map(|c| c.iter().map(str::to_owned).collect::<Vec<_>>())
    };
    (
        [s(&v.iss), s(&v.sub), s(&v.jti), s(&v.scope)],
        [l(&v.aud), l(&v.scp), l(&v.roles)],
        [v.exp, v.nbf, v.iat],
        v.required_seen,
    )
}

/// The view serde reads from `text`, which must hold nothing after the object (as the
/// verifier's serde path requires): the oracle the fast path is compared with.
#[cfg(test)]
fn whole_text<'a>(seed: ViewSeed<'_>, text: &'a str) -> serde_json::Result<ClaimsView<'a>> {
    use serde::de::DeserializeSeed as _;
    let mut de = serde_json::Deserializer::from_str(text);
    let view = seed.deserialize(&mut de)?;
    de.end()?;
    Ok(view)
}

#[cfg(test)]
mod tests {
    use super::{project, string_end, view, whole_text};
    use crate::verify::claims::ViewSeed;

    /// A small deterministic generator (xorshift), enough to cover the grammar.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[self.next(from.len())]
        }
    }

    const KEYS: &[&str] = &[
        "iss",
        "sub",
        "jti",
        "scope",
        "aud",
        "scp",
        "exp",
        "nbf",
        "iat",
        "roles",
        "groups",
        "tenant",
        "x",
        "s\\u0075b",
        "",
    ];
    const VALUES: &[&str] = &[
        "\"a\"",
        "\"\"",
        "\"a b\"",
        "\"\\\"\"",
        "\"é\"",
        "\"\u{1}\"",
        "0",
        "-0",
        "7",
        "-7",
        "1700000000",
        "01",
        "1.5",
        "1e3",
        "-",
        "123456789012345678",
        "1234567890123456789",
        "99999999999999999999",
        "null",
        "true",
        "false",
        "nul",
        "[]",
        "[\"a\"]",
        "[\"a\",\"b c\"]",
        "[\"a\",]",
        "[1]",
        "[null]",
        "[[\"a\"]]",
        "{}",
        "{\"a\":1}",
        "[ \"a\" , \"b\" ]",
    ];
    const SPACE: &[&str] = &["", "", "", " ", "\n\t ", "\r"];

    fn payload(rng: &mut Rng) -> String {
        let mut text = String::from(rng.pick(SPACE));
        text.push('{');
        let members = rng.next(6);
        for i in 0..members {
            if i > 0 {
                text.push_str(rng.pick(&[",", ",", ",", " , ", ",,", ""]));
            }
            text.push_str(rng.pick(SPACE));
            text.push('"');
            text.push_str(rng.pick(KEYS));
            text.push('"');
            text.push_str(rng.pick(SPACE));
            text.push_str(rng.pick(&[":", ":", ": ", ""]));
            text.push_str(rng.pick(SPACE));
            text.push_str(rng.pick(VALUES));
        }
        text.push_str(rng.pick(SPACE));
        text.push_str(rng.pick(&["}", "}", "}", "} trailing", "", ",}", "]"]));
        text
    }

    #[test]
    fn agrees_with_the_view_seed_wherever_it_answers() {
        let required: Vec<Box<str>> = vec!["sub".into(), "tenant".into(), "groups".into()];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut answered = 0;
        for _ in 0..200_000 {
            let text = payload(&mut rng);
            for roles_claim in ["roles", "groups", "sub"] {
                let seed = || ViewSeed {
                    required: &required,
                    roles_claim: Some(roles_claim),
                };
                let slow = whole_text(seed(), &text);
                if let Some(fast) = view(&text, &seed()) {
                    answered += 1;
                    let slow = slow.unwrap_or_else(|e| panic!("{text}: fast path accepted, {e}"));
                    assert_eq!(project(&fast), project(&slow), "{text}");
                }
            }
        }
        // The generator must exercise the fast path, not only its refusals.
        assert!(answered > 50_000, "{answered}");
    }

    /// The eight-bytes-a-step search finds what a byte-by-byte one finds, wherever the
    /// byte falls in a word, whatever precedes it (borrows), for every kind of byte.
    #[test]
    fn string_end_finds_the_first_quote_backslash_or_control_character() {
        let symbols = [
            b'a', b'"', b'\\', 0x00, 0x1f, b' ', 0x21, 0x5b, 0x5d, 0x7e, 0x7f, 0x80, 0xa2, 0xc1,
            0xc2, 0xc3, 0xdc, 0xff,
        ];
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for _ in 0..200_000 {
            let len = rng.next(41);
            // Mostly plain bytes, so that the first match falls anywhere.
            let bytes: Vec<u8> = (0..len)
                .map(|_| match rng.next(8) {
                    0 => symbols[rng.next(symbols.len())],
                    _ => b'a' + rng.next(26) as u8,
                })
                .collect();
            let expected = bytes
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20 || b == 0x7f || b == 0xc2);
            assert_eq!(string_end(&bytes), expected, "{bytes:?}");
        }
    }

    /// A key that comes twice leaves the fast path (for the strict reading to refuse),
    /// whether it is one of the view's claims or another, and so do more other keys than
    /// it keeps.
    #[test]
    fn repeated_keys_leave_the_fast_path() {
        let seed = ViewSeed {
            required: &[],
            roles_claim: Some("groups"),
        };
        for text in [
            r#"{"sub":"a","sub":null}"#,
            r#"{"sub":null,"sub":"a"}"#,
            r#"{"groups":"a","x":1,"groups":["b"]}"#,
            r#"{"tenant":"a","sub":"s","tenant":"b"}"#,
        ] {
            assert!(view(text, &seed).is_none(), "{text}");
        }
        let others = |n: usize| {
            let members: Vec<String> = (0..n).map(|i| format!("\"k{i}\":{i}")).collect();
            format!(r#"{{"sub":"a",{}}}"#, members.join(","))
        };
        assert!(view(&others(24), &seed).is_some());
        assert!(view(&others(25), &seed).is_none());
    }

    #[test]
    fn reads_a_typical_access_token() {
        let text = r#"{"sub":"user-1","iss":"https://auth.example.com","aud":["api","web"],
            "exp":1700000600,"iat":1700000000,"scope":"read write","roles":["admin"]}"#;
        let seed = ViewSeed {
            required: &[],
            roles_claim: Some("roles"),
        };
        let v = view(text, &seed).expect("in the subset");
        assert_eq!(v.sub.as_deref(), Some("user-1"));
        assert_eq!(v.exp, Some(1_700_000_600));
        assert_eq!(v.aud.unwrap().iter().collect::<Vec<_>>(), ["api", "web"]);
    }
}
