//! What a new specification changes in a running manager: a pure plan (see [`plan`]), carried
//! out by the run (`Run::reconfigure`).

use crate::spec::ChildSpec;

/// One running child as the plan sees it.
pub(crate) struct Current<'a> {
    pub(crate) key: u32,
    pub(crate) id: &'a str,
    pub(crate) spec: &'a crate::spec::SpecBody,
}

/// What to do to go from the children a manager has to the ones a new specification declares.
#[derive(Default)]
pub(crate) struct Plan {
    /// Children the new specification does not declare: stopped one at a time, last
    /// declared first, and removed.
    pub(crate) remove: Vec<u32>,
    /// Children whose spec changed: given the new one and started again (if running).
    pub(crate) restart: Vec<(u32, ChildSpec)>,
    /// Nested managers given another manager of the same name: given its specification in
    /// turn (recursively), their own children kept where unchanged; the spec's policies are
    /// taken, the running manager kept.
    pub(crate) nested: Vec<(u32, ChildSpec)>,
    /// Children whose spec is the same: untouched.
    pub(crate) unchanged: Vec<u32>,
    /// Ids the manager does not have: added, in the new declared order.
    pub(crate) add: Vec<ChildSpec>,
}

/// Plans the change from `current` (in declared order) to `new` (the new declared children).
/// A child is the same when its id is declared again with the same runnable (shared, or one
/// that says it is the same) under the same policies (`SpecBody::same_as`).
pub(crate) fn plan(current: &[Current<'_>], new: &[ChildSpec]) -> Plan {
    let mut plan = Plan::default();
    for spec in new {
        match current.iter().find(|c| c.id == &*spec.id) {
            None => plan.add.push(spec.clone()),
            Some(c) if c.spec.same_as(&spec.body) => plan.unchanged.push(c.key),
            Some(c)
                if c.spec.runnable().as_manager().is_some()
                    && spec.body.runnable().as_manager().is_some() =>
            {
                plan.nested.push((c.key, spec.clone()))
            }
            Some(c) => plan.restart.push((c.key, spec.clone())),
        }
    }
    plan.remove = current
        .iter()
        .rev()
        .filter(|c| !new.iter().any(|spec| &*spec.id == c.id))
        .map(|c| c.key)
        .collect();
    plan
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::ProcessManager;
    use crate::spec::Restart;

    fn child(id: &str) -> ChildSpec {
        ChildSpec::task(id, |_ctx| async { Ok(()) })
    }

    fn current(specs: &[ChildSpec]) -> Vec<Current<'_>> {
        specs
            .iter()
            .enumerate()
            .map(|(key, spec)| Current {
                key: key as u32,
                id: &spec.id,
                spec: &spec.body,
            })
            .collect()
    }

    #[test]
    fn a_plan_keeps_the_same_restarts_the_changed_adds_the_new_and_removes_the_gone_last_first() {
        let (a, b, c, d) = (child("a"), child("b"), child("c"), child("d"));
        let old = [a.clone(), b.clone(), c.clone(), d.clone()];
        // a: the same; b: another closure; c and d: gone; e: new; a's policy unchanged.
        let new = [a.clone(), child("b"), child("e")];
        let plan = plan(&current(&old), &new);
        assert_eq!(plan.unchanged, [0]);
        assert_eq!(
            plan.restart.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            [1]
        );
        assert_eq!(plan.remove, [3, 2]);
        assert_eq!(plan.add.iter().map(|s| &*s.id).collect::<Vec<_>>(), ["e"]);
        assert!(plan.nested.is_empty());
    }

    #[test]
    fn the_same_runnable_under_another_policy_is_a_change() {
        let a = child("a");
        let old = [a.clone()];
        let plan = plan(&current(&old), &[a.clone().restart(Restart::Temporary)]);
        assert!(plan.unchanged.is_empty());
        assert_eq!(plan.restart.len(), 1);
        let shared = Arc::new(crate::task(|_ctx| async { Ok(()) }));
        let (x, y) = (
            ChildSpec::from_arc("x", shared.clone()),
            ChildSpec::from_arc("x", shared),
        );
        let plan = super::plan(&current(&[x]), &[y]);
        assert_eq!(
            plan.unchanged,
            [0],
            "specs sharing their runnable are the same"
        );
    }

    #[test]
    fn a_nested_manager_given_another_manager_of_its_name_is_reconfigured_not_restarted() {
        let m1 = ProcessManager::builder("m").build().unwrap().into_spec();
        let m2 = ProcessManager::builder("m").build().unwrap().into_spec();
        let plan = plan(&current(&[m1]), &[m2]);
        assert_eq!(plan.nested.len(), 1);
        assert!(plan.restart.is_empty());
    }
}
