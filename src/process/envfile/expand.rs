//! `$VAR` and `${VAR…}` in env-file values, as docker-compose interpolates them.

/// Where a variable's value comes from: the entries read earlier in the file, then the
/// supervisor's environment.
pub(super) type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Reads the reference at the start of `rest` (the text after a `$`), appends its value to
/// `out` and returns how many bytes of `rest` it took: `NAME`, `{NAME}`, `{NAME:-default}`
/// (default when unset or empty), `{NAME-default}` (when unset), `{NAME:?message}` /
/// `{NAME?message}` (an error when unset or empty / unset). A `$` followed by neither a
/// name nor `{` is kept as it is.
pub(super) fn reference(rest: &str, lookup: Lookup<'_>, out: &mut String) -> Result<usize, String> {
    if let Some(braced_part) = rest.strip_prefix('{') {
        let close = braced_part
            .find('}')
            .ok_or_else(|| "`${` without its closing `}`".to_string())?;
        braced(&braced_part[..close], lookup, out)?;
        return Ok(close + 2);
    }
    let len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    if len == 0 || rest.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('$');
        return Ok(0);
    }
    out.push_str(&lookup(&rest[..len]).unwrap_or_default());
    Ok(len)
}

/// The value of `${inner}`.
fn braced(inner: &str, lookup: Lookup<'_>, out: &mut String) -> Result<(), String> {
    let end = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    let (name, op) = inner.split_at(end);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("`${{{inner}}}` does not name a variable"));
    }
    let value = lookup(name);
    let set = value.is_some();
    let non_empty = value.as_deref().is_some_and(|v| !v.is_empty());
    let resolved = if op.is_empty() {
        value.unwrap_or_default()
    } else if let Some(default) = op.strip_prefix(":-") {
        if non_empty {
            value.unwrap_or_default()
        } else {
            default.to_string()
        }
    } else if let Some(default) = op.strip_prefix('-') {
        if set {
            value.unwrap_or_default()
        } else {
            default.to_string()
        }
    } else if let Some(message) = op.strip_prefix(":?") {
        if !non_empty {
            return Err(required(name, message));
        }
        value.unwrap_or_default()
    } else if let Some(message) = op.strip_prefix('?') {
        if !set {
            return Err(required(name, message));
        }
        value.unwrap_or_default()
    } else {
        return Err(format!(
            "`${{{inner}}}`: expected `}}`, `:-`, `-`, `:?` or `?` after the name"
        ));
    };
    out.push_str(&resolved);
    Ok(())
}

fn required(name: &str, message: &str) -> String {
    match message {
        "" => format!("{name} is required but not set"),
        message => format!("{name} is required: {message}"),
    }
}
