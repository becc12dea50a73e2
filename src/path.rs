//! Paths that name a node in the tree: `root/db/primary`.

use std::fmt;
use std::sync::Arc;

/// The path of a node in the supervision tree, its ids joined by `/`, starting with the root
/// manager's name: `root`, `root/db`, `root/db/primary`.
///
/// Cloning is cheap (one reference count). Paths are what every [`Handle`](crate::Handle)
/// command, [`Event`](crate::Event), [`Failure`](crate::Failure) and snapshot entry is keyed by.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChildPath(Arc<str>);

impl ChildPath {
    pub(crate) fn root(name: &str) -> Self {
        ChildPath(Arc::from(name))
    }

    pub(crate) fn join(&self, id: &str) -> Self {
        let mut s = String::with_capacity(self.0.len() + 1 + id.len());
        s.push_str(&self.0);
        s.push('/');
        s.push_str(id);
        ChildPath(Arc::from(s))
    }

    /// The path as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last segment: the id of the node (the root's name for the root).
    pub fn id(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The path of the parent manager, or `None` for the root.
    pub fn parent(&self) -> Option<ChildPath> {
        self.0
            .rfind('/')
            .map(|i| ChildPath(Arc::from(&self.0[..i])))
    }

    /// The segments from the root down.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// Whether `self` is `other` or lies below it.
    pub fn starts_with(&self, other: &ChildPath) -> bool {
        relative_to(&self.0, &other.0).is_some()
    }
}

/// The part of `path` below `base` (`Some("")` when they are equal), or `None` when `path` is
/// not `base` nor under it.
pub(crate) fn relative_to<'a>(path: &'a str, base: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(base)?;
    if rest.is_empty() {
        Some("")
    } else {
        rest.strip_prefix('/')
    }
}

impl fmt::Display for ChildPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ChildPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl AsRef<str> for ChildPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for ChildPath {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for ChildPath {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

/// Displays `parent/id` without allocating; used for tracing fields.
pub(crate) struct JoinedPath<'a>(pub(crate) &'a str, pub(crate) &'a str);

impl fmt::Display for JoinedPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.0, self.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_knows_its_id_and_parent() {
        let p = ChildPath::root("root").join("db").join("primary");
        assert_eq!(p, "root/db/primary");
        assert_eq!(p.id(), "primary");
        assert_eq!(p.parent().unwrap(), "root/db");
        assert_eq!(ChildPath::root("root").parent(), None);
        assert_eq!(p.segments().collect::<Vec<_>>(), ["root", "db", "primary"]);
    }

    #[test]
    fn relative_to_matches_whole_segments_only() {
        assert_eq!(relative_to("root/db/x", "root"), Some("db/x"));
        assert_eq!(relative_to("root", "root"), Some(""));
        assert_eq!(relative_to("rooty/db", "root"), None);
        assert_eq!(relative_to("other", "root"), None);
        let db = ChildPath::root("root").join("db");
        assert!(db.join("x").starts_with(&db));
        assert!(!ChildPath::root("root").join("dbx").starts_with(&db));
    }
}
