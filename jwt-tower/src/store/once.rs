//! [`OnceMarks`]: the memory store's record of one-time values (a DPoP proof's `jti`),
//! each kept until it expires, bounded in number.

use std::collections::{BTreeSet, HashMap};

/// Values marked once, each until its expiry. Expired marks are forgotten first; when
/// the set is full of live ones a new mark is refused (the caller refuses the request)
/// rather than forgetting a live one, which would let its value be used again.
#[derive(Debug)]
pub(super) struct OnceMarks {
    until: HashMap<Box<str>, i64>,
    /// (expiry, value) of every mark, the soonest first.
    ends: BTreeSet<(i64, Box<str>)>,
    capacity: usize,
}

/// What [`OnceMarks::mark`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Marked {
    /// The value was not marked: it is now, until the given expiry.
    First,
    /// The value is marked already and has not expired.
    Again,
    /// The set holds as many live marks as it may.
    Full,
}

impl OnceMarks {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            until: HashMap::new(),
            ends: BTreeSet::new(),
            capacity: capacity.max(1),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.until.len()
    }

    /// Marks `value` until `until`, unless it is marked and alive at `now`.
    pub(super) fn mark(&mut self, value: &str, until: i64, now: i64) -> Marked {
        self.forget_expired(now);
        if self.until.contains_key(value) {
            return Marked::Again;
        }
        if self.until.len() >= self.capacity {
            return Marked::Full;
        }
        let value: Box<str> = value.into();
        self.ends.insert((until, value.clone()));
        self.until.insert(value, until);
        Marked::First
    }

    fn forget_expired(&mut self, now: i64) {
        while let Some((end, _)) = self.ends.first() {
            if *end > now {
                break;
            }
            let (_, value) = self.ends.pop_first().expect("the first entry exists");
            self.until.remove(&value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_marked_once_until_it_expires() {
        let mut marks = OnceMarks::new(10);
        assert_eq!(marks.mark("a", 100, 0), Marked::First);
        assert_eq!(marks.mark("a", 100, 99), Marked::Again);
        assert_eq!(marks.mark("b", 100, 99), Marked::First);
        assert_eq!(marks.mark("a", 200, 100), Marked::First);
        assert_eq!(marks.len(), 1);
    }

    #[test]
    fn a_full_set_refuses_new_marks_until_some_expire() {
        let mut marks = OnceMarks::new(2);
        assert_eq!(marks.mark("a", 10, 0), Marked::First);
        assert_eq!(marks.mark("b", 20, 0), Marked::First);
        assert_eq!(marks.mark("c", 20, 5), Marked::Full);
        assert_eq!(marks.mark("a", 20, 5), Marked::Again);
        assert_eq!(marks.mark("c", 30, 10), Marked::First);
        assert_eq!(marks.len(), 2);
    }
}
