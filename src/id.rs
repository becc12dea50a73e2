//! Child ids as a manager keeps them: short ones inline, longer ones shared.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// The longest id kept inline.
const INLINE: usize = 8;

/// A child's id, as its spec and its manager keep it: 16 bytes, like the `Arc<str>` it stands
/// for, but an id of at most 8 bytes (`db`, `api`, `worker-7`, `c-12345`) is kept in those 16
/// bytes instead of in an allocation of its own (32 bytes with malloc's rounding), and copying
/// it touches no reference count. A longer id is one shared `Arc<str>`.
///
/// Compares, hashes and prints as the `str` it holds.
#[derive(Clone)]
pub(crate) struct ChildId(Repr);

#[derive(Clone)]
enum Repr {
    Shared(Arc<str>),
    /// The id's bytes, then zeros: an id that ends with a NUL character is never kept inline,
    /// so the zeros at the end are padding.
    Inline([u8; INLINE]),
}

impl ChildId {
    /// The id `id`, inline if it is short enough (no allocation).
    #[cfg(test)]
    pub(crate) fn new(id: &str) -> Self {
        Self::concat(id, "")
    }

    /// The id `head` followed by `tail` (a replica's `worker-` and `7`), inline if it is short
    /// enough: then without building the joined string first.
    pub(crate) fn concat(head: &str, tail: &str) -> Self {
        match inline_bytes(head, tail) {
            Some(bytes) => ChildId(Repr::Inline(bytes)),
            None => ChildId(Repr::Shared(Arc::from([head, tail].concat()))),
        }
    }

    /// The id `id`, inline if it is short enough (the `Arc` is then dropped), else shared.
    pub(crate) fn from_arc(id: Arc<str>) -> Self {
        match inline_bytes(&id, "") {
            Some(bytes) => ChildId(Repr::Inline(bytes)),
            None => ChildId(Repr::Shared(id)),
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Shared(id) => id,
            Repr::Inline(bytes) => {
                let len = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
                // SAFETY: `bytes[..len]` are exactly the bytes of the `str` the id was made
                // from (see `inline_bytes`: it never ends with a NUL, so the zeros after it
                // are all padding), which are valid UTF-8.
                unsafe { std::str::from_utf8_unchecked(&bytes[..len]) }
            }
        }
    }

    /// A key that tells this id from others faster than its `str`: see [`IdKey`].
    pub(crate) fn key(&self) -> IdKey<'_> {
        match &self.0 {
            Repr::Shared(id) => IdKey::Shared(id),
            Repr::Inline(bytes) => IdKey::Inline(u64::from_ne_bytes(*bytes)),
        }
    }
}

/// The bytes of the inline form of the id `head` + `tail`, or `None` if it is too long or
/// ends with a NUL (so that the zeros after an inline id are always padding). Copied byte by
/// byte: at most 8, and a call to `memcpy` per id costs more than the loop.
fn inline_bytes(head: &str, tail: &str) -> Option<[u8; INLINE]> {
    let len = head.len() + tail.len();
    let last = tail.as_bytes().last().or(head.as_bytes().last());
    if len > INLINE || last == Some(&0) {
        return None;
    }
    let mut bytes = [0; INLINE];
    for (to, from) in bytes.iter_mut().zip(head.bytes().chain(tail.bytes())) {
        *to = from;
    }
    Some(bytes)
}

/// An id as a key for a set of ids (the builder's duplicate check): an inline id is one
/// `u64` to hash and compare, not a `str`. Two keys are equal exactly when their ids are,
/// because an id's form follows from its bytes alone. Does not hash like the id's `str`, so it
/// cannot stand in for one in a map looked up by `str`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum IdKey<'a> {
    Inline(u64),
    Shared(&'a str),
}

impl<'a> IdKey<'a> {
    /// The key of the id `id` (without making the id).
    pub(crate) fn of(id: &'a str) -> Self {
        match inline_bytes(id, "") {
            Some(bytes) => IdKey::Inline(u64::from_ne_bytes(bytes)),
            None => IdKey::Shared(id),
        }
    }
}

impl Deref for ChildId {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for ChildId {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for ChildId {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for ChildId {}

impl Hash for ChildId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for ChildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ChildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn an_id_reads_back_as_it_was_given_inline_or_not() {
        for id in [
            "a",
            "db",
            "c-12345",
            "worker-7",
            "worker-12",
            "é-ü",
            "ab\0c",
            "abc\0",
            "\0",
            "a longer id than eight bytes",
        ] {
            assert_eq!(ChildId::new(id).as_str(), id);
            assert_eq!(ChildId::from_arc(Arc::from(id)).as_str(), id);
        }
    }

    #[test]
    fn an_id_made_of_two_parts_is_the_id_of_their_concatenation() {
        for (head, tail) in [
            ("c-", "12345"),
            ("worker-", "12"),
            ("", "db"),
            ("ab", "\0"),
            ("a\0", ""),
        ] {
            let joined = format!("{head}{tail}");
            let id = ChildId::concat(head, tail);
            assert_eq!(id.as_str(), joined);
            assert!(id == ChildId::new(&joined));
            assert!(id.key() == ChildId::new(&joined).key());
        }
    }

    #[test]
    fn keys_are_equal_exactly_when_their_ids_are() {
        let ids = [
            "a",
            "b",
            "db",
            "worker-7",
            "worker-12",
            "abc\0",
            "a longer id than eight bytes",
        ];
        for a in ids {
            for b in ids {
                assert_eq!(
                    ChildId::new(a).key() == ChildId::new(b).key(),
                    a == b,
                    "{a:?} {b:?}"
                );
                assert!(IdKey::of(a) == ChildId::new(a).key());
            }
        }
    }

    #[test]
    fn ids_of_up_to_eight_bytes_are_inline() {
        assert!(matches!(ChildId::new("worker-7").0, Repr::Inline(_)));
        assert!(matches!(ChildId::new("worker-12").0, Repr::Shared(_)));
        assert!(matches!(ChildId::new("abc\0").0, Repr::Shared(_)));
        #[cfg(target_pointer_width = "64")]
        assert_eq!(std::mem::size_of::<ChildId>(), 16);
    }

    #[test]
    fn an_id_is_found_by_its_str() {
        let mut map = HashMap::new();
        map.insert(ChildId::new("db"), 1);
        map.insert(ChildId::new("a longer id than eight bytes"), 2);
        assert_eq!(map.get("db"), Some(&1));
        assert_eq!(map.get("a longer id than eight bytes"), Some(&2));
        assert_eq!(map.get("d"), None);
        assert_eq!(format!("{:?}", ChildId::new("db")), "\"db\"");
    }
}
