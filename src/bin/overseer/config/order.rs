//! The checks every format shares once a config is read: names that a tree accepts,
//! dependencies on siblings that exist, no cycle, and members put in an order where each
//! comes after what it waits for (the order the tree starts them in; the file's order is kept
//! wherever the dependencies allow it).

use super::model::{Group, Member};

/// Something wrong with a member of a group, to be located in the file by its format.
#[derive(Debug, PartialEq, Eq)]
pub struct Problem {
    /// The groups from the root down to the member's group (the root itself not included).
    pub groups: Vec<String>,
    /// The member's name.
    pub member: String,
    /// Whether the member is a group.
    pub is_group: bool,
    /// The member's key at fault (`depends_on`), if one.
    pub key: Option<&'static str>,
    /// What is wrong, and how to fix it.
    pub message: String,
}

/// Checks `group` and everything under it and orders each group's members after what they
/// wait for.
pub fn check(group: &mut Group) -> Result<(), Problem> {
    check_in(group, &mut Vec::new())
}

fn check_in(group: &mut Group, groups: &mut Vec<String>) -> Result<(), Problem> {
    let problem = |member: &Member, key, message: String| Problem {
        groups: groups.clone(),
        member: member.name().to_owned(),
        is_group: matches!(member, Member::Group(_)),
        key,
        message,
    };
    for (i, member) in group.members.iter().enumerate() {
        let name = member.name();
        if let Some(why) = bad_name(name) {
            return Err(problem(
                member,
                None,
                format!("{name:?} cannot be a name: {why}"),
            ));
        }
        if group.members[..i].iter().any(|m| m.name() == name) {
            return Err(problem(member, None, format!("{name:?} is declared twice")));
        }
        for (on, _) in member.depends_on() {
            if on == name {
                return Err(problem(
                    member,
                    Some("depends_on"),
                    format!("{name:?} depends on itself"),
                ));
            }
            if !group.members.iter().any(|m| m.name() == on) {
                let known: Vec<&str> = group.members.iter().map(Member::name).collect();
                return Err(problem(
                    member,
                    Some("depends_on"),
                    format!(
                        "{name:?} depends on {on:?}, which is not declared {}(declared: {})",
                        if groups.is_empty() {
                            String::new()
                        } else {
                            format!("in group {:?} ", groups.join("/"))
                        },
                        known.join(", ")
                    ),
                ));
            }
        }
    }
    if let Some(cycle) = find_cycle(&group.members) {
        let first = group
            .members
            .iter()
            .find(|m| m.name() == cycle[0])
            .expect("a member");
        return Err(problem(
            first,
            Some("depends_on"),
            format!("the dependencies form a cycle: {}", cycle.join(" → ")),
        ));
    }
    group.members = in_dependency_order(std::mem::take(&mut group.members));
    for member in &mut group.members {
        if let Member::Group(inner) = member {
            groups.push(inner.name.clone());
            check_in(inner, groups)?;
            groups.pop();
        }
    }
    Ok(())
}

/// Why `name` cannot name a member, if it cannot.
fn bad_name(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name.contains('/') {
        Some("it contains '/', which separates the names of a path")
    } else if name.chars().any(char::is_control) {
        Some("it contains a control character")
    } else {
        None
    }
}

/// A chain `a → b → … → a` of dependencies, if there is one.
fn find_cycle(members: &[Member]) -> Option<Vec<String>> {
    // Depth-first, with the path so far: 0 unvisited, 1 on the path, 2 done.
    fn visit(
        i: usize,
        members: &[Member],
        state: &mut [u8],
        path: &mut Vec<usize>,
    ) -> Option<Vec<String>> {
        state[i] = 1;
        path.push(i);
        for (on, _) in members[i].depends_on() {
            let Some(j) = members.iter().position(|m| m.name() == on) else {
                continue;
            };
            match state[j] {
                1 => {
                    let start = path.iter().position(|&k| k == j).expect("on the path");
                    let mut chain: Vec<String> = path[start..]
                        .iter()
                        .map(|&k| members[k].name().to_owned())
                        .collect();
                    chain.push(members[j].name().to_owned());
                    return Some(chain);
                }
                0 => {
                    if let Some(chain) = visit(j, members, state, path) {
                        return Some(chain);
                    }
                }
                _ => {}
            }
        }
        path.pop();
        state[i] = 2;
        None
    }
    let mut state = vec![0u8; members.len()];
    (0..members.len()).find_map(|i| {
        (state[i] == 0)
            .then(|| visit(i, members, &mut state, &mut Vec::new()))
            .flatten()
    })
}

/// The members, each after what it waits for, otherwise in their order (no cycle).
fn in_dependency_order(members: Vec<Member>) -> Vec<Member> {
    let mut left: Vec<Option<Member>> = members.into_iter().map(Some).collect();
    let mut placed: Vec<Member> = Vec::with_capacity(left.len());
    while placed.len() < left.len() {
        let next = left
            .iter()
            .position(|m| {
                m.as_ref().is_some_and(|m| {
                    m.depends_on()
                        .iter()
                        .all(|(on, _)| placed.iter().any(|p| p.name() == on))
                })
            })
            .expect("no cycle, so some member is free to go");
        placed.push(left[next].take().expect("not placed yet"));
    }
    placed
}

#[cfg(test)]
mod tests {
    use overseer::{Condition, Strategy};

    use super::*;
    use crate::config::model::{CommandLine, Process};

    fn process(name: &str, depends_on: &[&str]) -> Member {
        let mut p = Process::new(name, CommandLine::Shell("true".into()));
        p.depends_on = depends_on
            .iter()
            .map(|d| (d.to_string(), Condition::Started))
            .collect();
        Member::Process(Box::new(p))
    }

    fn group(members: Vec<Member>) -> Group {
        Group {
            name: "root".into(),
            strategy: Strategy::OneForOne,
            intensity: None,
            depends_on: Vec::new(),
            members,
        }
    }

    fn names(g: &Group) -> Vec<&str> {
        g.members.iter().map(Member::name).collect()
    }

    #[test]
    fn members_are_put_after_what_they_wait_for_and_otherwise_keep_the_files_order() {
        let mut g = group(vec![
            process("web", &["api"]),
            process("db", &[]),
            process("api", &["db"]),
            process("cron", &[]),
        ]);
        check(&mut g).unwrap();
        assert_eq!(names(&g), ["db", "api", "web", "cron"]);
    }

    #[test]
    fn a_dependency_cycle_is_an_error_that_names_the_chain() {
        let mut g = group(vec![
            process("a", &["b"]),
            process("b", &["c"]),
            process("c", &["a"]),
        ]);
        let problem = check(&mut g).unwrap_err();
        assert_eq!(
            problem.message,
            "the dependencies form a cycle: a → b → c → a"
        );
        assert_eq!(problem.member, "a");
        assert_eq!(problem.key, Some("depends_on"));
    }

    #[test]
    fn an_unknown_dependency_is_an_error_that_lists_the_names_declared() {
        let mut g = group(vec![process("web", &["dbb"]), process("db", &[])]);
        let problem = check(&mut g).unwrap_err();
        assert_eq!(
            problem.message,
            "\"web\" depends on \"dbb\", which is not declared (declared: web, db)"
        );
    }

    #[test]
    fn a_name_with_a_slash_or_declared_twice_is_an_error() {
        let mut g = group(vec![process("a/b", &[])]);
        assert!(check(&mut g).unwrap_err().message.contains("contains '/'"));
        let mut g = group(vec![process("a", &[]), process("a", &[])]);
        assert_eq!(
            check(&mut g).unwrap_err().message,
            "\"a\" is declared twice"
        );
    }

    #[test]
    fn a_problem_inside_a_nested_group_names_the_group() {
        let mut inner = group(vec![process("w", &["x"])]);
        inner.name = "workers".into();
        let mut g = group(vec![Member::Group(inner)]);
        let problem = check(&mut g).unwrap_err();
        assert_eq!(problem.groups, ["workers"]);
        assert!(
            problem
                .message
                .contains("not declared in group \"workers\""),
            "{}",
            problem.message
        );
    }
}
