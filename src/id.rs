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
    pub(crate) fn new(id: &str) -> Self {
        Self::inline(id).unwrap_or_else(|| ChildId(Repr::Shared(Arc::from(id))))
    }

    /// The id `id`, inline if it is short enough (the `Arc` is then dropped), else shared.
    pub(crate) fn from_arc(id: Arc<str>) -> Self {
        Self::inline(&id).unwrap_or(ChildId(Repr::Shared(id)))
    }

    fn inline(id: &str) -> Option<Self> {
        if id.len() > INLINE || id.ends_with('\0') {
            return None;
        }
        let mut bytes = [0; INLINE];
        bytes[..id.len()].copy_from_slice(id.as_bytes());
        Some(ChildId(Repr::Inline(bytes)))
    }

    pub(crate) fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Shared(id) => id,
            Repr::Inline(bytes) => {
                let len = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
                // Always valid: the bytes are a whole `str`'s.
                std::str::from_utf8(&bytes[..len]).unwrap_or_default()
            }
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
