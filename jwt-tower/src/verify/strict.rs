//! The strict reading of a token's JSON, shared by the header, the claims view and the
//! issuer router: the text is UTF-8 (the caller's `&str`), the top level is an object,
//! no object names a member twice, and nothing nests deeper than [`MAX_JSON_DEPTH`].
//!
//! It is a reading, not a second pass: the header and claims visitors read the members
//! they want themselves and hand every other one to [`StrictValue`], and they name their
//! own members through [`MemberNames`]. Once the claims view has been read this way, the
//! claims type `C` is read from JSON that has one meaning, whatever serde does with
//! duplicates or unknown members.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use super::claims::BorrowedStr;

/// The deepest nesting of arrays and objects accepted in a token's header or claims,
/// the top-level object included: `{"a":{"b":[1]}}` nests 3 deep.
///
/// Real tokens nest a few levels (`{"realm_access":{"roles":[...]}}` is 3); serde_json's
/// own limit is 128, and the members nobody reads were skipped with no limit at all.
///
/// ```
/// assert!(jwt_tower::verify::MAX_JSON_DEPTH >= 8);
/// ```
pub const MAX_JSON_DEPTH: usize = 32;

/// How a text breaks the strict reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Violation {
    /// The top level is an array, a string, a number, `true`, `false` or `null`.
    NotAnObject,
    /// An object names a member twice (after unescaping).
    DuplicateMember,
    /// Arrays and objects nest deeper than [`MAX_JSON_DEPTH`].
    TooDeep,
}

impl Violation {
    /// The message of the serde error that carries it (see [`Violation::of`]).
    fn message(self) -> &'static str {
        match self {
            Self::NotAnObject => "jwt-tower strict JSON: not an object",
            Self::DuplicateMember => "jwt-tower strict JSON: duplicate member name",
            Self::TooDeep => "jwt-tower strict JSON: nested too deep",
        }
    }

    /// A serde error carrying this violation.
    pub(crate) fn error<E: de::Error>(self) -> E {
        E::custom(self.message())
    }

    /// The violation a serde_json error carries, if it is one of ours: serde_json keeps a
    /// custom error's message as given, followed by its position.
    pub(crate) fn of(e: &serde_json::Error) -> Option<Self> {
        if !e.is_data() {
            return None;
        }
        let text = e.to_string();
        [Self::NotAnObject, Self::DuplicateMember, Self::TooDeep]
            .into_iter()
            .find(|v| text.starts_with(v.message()))
    }
}

/// Whether the first significant character of `text` opens an object. Only an object
/// can be read as one, so this decides the top-level type without a parse.
pub(crate) fn is_object(text: &str) -> bool {
    text.trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with('{')
}

/// `seed` read from the whole of `text`, which must be an object (trailing characters
/// are an error, as in `serde_json::from_str`).
pub(crate) fn read_object<'a, S: DeserializeSeed<'a>>(
    text: &'a str,
    seed: S,
) -> serde_json::Result<S::Value> {
    if !is_object(text) {
        return Err(Violation::NotAnObject.error());
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let value = seed.deserialize(&mut de)?;
    de.end().map(|()| value)
}

/// The member names of one object so far: a short list searched in turn (an object has a
/// few members), a hash set once it grows, so that many members cost no quadratic time.
#[derive(Default)]
pub(crate) struct MemberNames<'a> {
    few: Vec<Cow<'a, str>>,
    many: Option<HashSet<Cow<'a, str>, ahash::RandomState>>,
}

impl<'a> MemberNames<'a> {
    /// Past this many names the set is hashed.
    const FEW: usize = 16;

    /// Notes `name`; an error if the object named it before.
    pub(crate) fn insert<E: de::Error>(&mut self, name: Cow<'a, str>) -> Result<(), E> {
        let repeated = match &mut self.many {
            None if self.few.len() < Self::FEW => {
                let repeated = self.few.contains(&name);
                self.few.push(name);
                repeated
            }
            None => {
                let mut many: HashSet<_, _> = self.few.drain(..).collect();
                let repeated = !many.insert(name);
                self.many = Some(many);
                repeated
            }
            Some(many) => !many.insert(name),
        };
        if repeated {
            return Err(Violation::DuplicateMember.error());
        }
        Ok(())
    }
}

/// Any JSON value, read for its shape only: objects without repeated names, no deeper
/// than [`MAX_JSON_DEPTH`]. `depth` is how many arrays and objects enclose the value.
#[derive(Clone, Copy)]
pub(crate) struct StrictValue {
    pub(crate) depth: usize,
}

impl StrictValue {
    /// The value inside an array or object that is itself this value.
    fn inside<E: de::Error>(self) -> Result<Self, E> {
        let depth = self.depth + 1;
        if depth > MAX_JSON_DEPTH {
            return Err(Violation::TooDeep.error());
        }
        Ok(Self { depth })
    }
}

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let inside = self.inside()?;
        while seq.next_element_seed(inside)?.is_some() {}
        Ok(())
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        let inside = self.inside()?;
        let mut names = MemberNames::default();
        while let Some(BorrowedStr(name)) = map.next_key::<BorrowedStr<'de>>()? {
            names.insert(name)?;
            map.next_value_seed(inside)?;
        }
        Ok(())
    }
}

/// A member of the top-level object that nobody reads: `null` or not, read strictly.
/// `true` when it is present and not `null`.
pub(crate) struct Member;

impl<'de> DeserializeSeed<'de> for Member {
    type Value = bool;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(MemberVisitor)
    }
}

struct MemberVisitor;

/// The top-level object's members are enclosed by it alone.
const MEMBER: StrictValue = StrictValue { depth: 1 };

impl<'de> Visitor<'de> for MemberVisitor {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(true)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(true)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(true)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(true)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<bool, E> {
        Ok(true)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<bool, A::Error> {
        MEMBER.visit_seq(seq).map(|()| true)
    }
    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<bool, M::Error> {
        MEMBER.visit_map(map).map(|()| true)
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_JSON_DEPTH, MemberNames, StrictValue, Violation, read_object};

    /// An object read with [`StrictValue`] at the top (depth 0: nothing encloses it).
    fn read(text: &str) -> Result<(), Option<Violation>> {
        read_object(text, StrictValue { depth: 0 }).map_err(|e| Violation::of(&e))
    }

    fn nested(depth: usize) -> String {
        // `depth` containers in all, the top-level object included.
        let inner = depth - 1;
        format!("{{\"x\":{}1{}}}", "[".repeat(inner), "]".repeat(inner))
    }

    #[test]
    fn only_an_object_is_read() {
        assert_eq!(read(r#" {"a":[1,{"b":null}]} "#), Ok(()));
        for text in [r#"["HS256"]"#, r#""x""#, "1", "true", "null", " [] "] {
            assert_eq!(read(text), Err(Some(Violation::NotAnObject)), "{text}");
        }
        // Syntax errors stay serde_json's.
        assert_eq!(read("{"), Err(None));
        assert_eq!(read("{} x"), Err(None));
    }

    #[test]
    fn a_member_name_repeated_at_any_level_is_refused() {
        for text in [
            r#"{"a":1,"a":2}"#,
            r#"{"sub":"alice","sub":null}"#,
            r#"{"a":1,"\u0061":2}"#,
            r#"{"x":{"b":1,"b":1}}"#,
            r#"{"x":[{"c":[{"d":0,"d":0}]}]}"#,
        ] {
            assert_eq!(read(text), Err(Some(Violation::DuplicateMember)), "{text}");
        }
        assert_eq!(read(r#"{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]}"#), Ok(()));
    }

    /// Past the short list the names are hashed: a repeat is found on either side of the
    /// switch, and distinct names pass.
    #[test]
    fn many_member_names_are_checked_as_few() {
        let names: Vec<String> = (0..100).map(|i| format!("n{i}")).collect();
        let object = |names: &[String]| {
            let members: Vec<String> = names.iter().map(|n| format!("\"{n}\":0")).collect();
            format!("{{{}}}", members.join(","))
        };
        assert_eq!(read(&object(&names)), Ok(()));
        for (first, again) in [(3, 10), (3, 60), (40, 99)] {
            let mut with_repeat = names.clone();
            with_repeat[again] = names[first].clone();
            assert_eq!(
                read(&object(&with_repeat)),
                Err(Some(Violation::DuplicateMember)),
                "{first} {again}"
            );
        }
        let mut seen = MemberNames::default();
        for name in &names {
            seen.insert::<serde_json::Error>(name.as_str().into())
                .unwrap();
        }
    }

    #[test]
    fn nesting_is_bounded() {
        assert_eq!(read(&nested(MAX_JSON_DEPTH)), Ok(()));
        assert_eq!(
            read(&nested(MAX_JSON_DEPTH + 1)),
            Err(Some(Violation::TooDeep))
        );
        // Far past serde_json's own limit (128), which never comes into play.
        assert_eq!(read(&nested(10_000)), Err(Some(Violation::TooDeep)));
        let objects = format!("{}{}", "{\"a\":".repeat(MAX_JSON_DEPTH + 1), "1")
            + &"}".repeat(MAX_JSON_DEPTH + 1);
        assert_eq!(read(&objects), Err(Some(Violation::TooDeep)));
    }
}
