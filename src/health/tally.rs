//! Kubernetes' thresholds as a pure machine: results in, transitions out.

/// Where a probe stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Standing {
    /// No threshold reached yet in this run.
    Unknown,
    Healthy,
    Unhealthy,
}

/// Counts consecutive results against the thresholds.
#[derive(Debug)]
pub(crate) struct Tally {
    success_threshold: u32,
    failure_threshold: u32,
    successes: u32,
    failures: u32,
    standing: Standing,
}

impl Tally {
    pub(crate) fn new(success_threshold: u32, failure_threshold: u32) -> Self {
        Tally {
            success_threshold: success_threshold.max(1),
            failure_threshold: failure_threshold.max(1),
            successes: 0,
            failures: 0,
            standing: Standing::Unknown,
        }
    }

    /// Takes one result; returns the new standing when this result changed it.
    pub(crate) fn record(&mut self, passed: bool) -> Option<Standing> {
        let next = if passed {
            self.failures = 0;
            self.successes = self.successes.saturating_add(1);
            (self.successes >= self.success_threshold).then_some(Standing::Healthy)
        } else {
            self.successes = 0;
            self.failures = self.failures.saturating_add(1);
            (self.failures >= self.failure_threshold).then_some(Standing::Unhealthy)
        };
        match next {
            Some(standing) if standing != self.standing => {
                self.standing = standing;
                Some(standing)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Standing::*;
    use super::*;

    /// Feeds `results` (`+` pass, `-` fail) and lists the transitions with their positions.
    fn run(success: u32, failure: u32, results: &str) -> Vec<(usize, Standing)> {
        let mut tally = Tally::new(success, failure);
        results
            .chars()
            .enumerate()
            .filter_map(|(i, c)| tally.record(c == '+').map(|s| (i, s)))
            .collect()
    }

    /// Success threshold, failure threshold, results, the transitions expected.
    type Case = (u32, u32, &'static str, &'static [(usize, Standing)]);

    #[test]
    fn thresholds_count_consecutive_results_and_report_only_changes() {
        let cases: &[Case] = &[
            // Kubernetes' defaults: 1 success, 3 failures.
            (1, 3, "+", &[(0, Healthy)]),
            (1, 3, "++++", &[(0, Healthy)]),
            (1, 3, "+--+---", &[(0, Healthy), (6, Unhealthy)]),
            (1, 3, "---", &[(2, Unhealthy)]),
            (1, 3, "---+", &[(2, Unhealthy), (3, Healthy)]),
            (1, 3, "--+--+--", &[(2, Healthy)]),
            // Two successes needed: a failure in between starts the count again.
            (2, 1, "+-++", &[(1, Unhealthy), (3, Healthy)]),
            (2, 2, "+", &[]),
            // Zero thresholds are taken as one.
            (0, 0, "+-", &[(0, Healthy), (1, Unhealthy)]),
        ];
        for &(success, failure, results, expected) in cases {
            assert_eq!(
                run(success, failure, results),
                expected,
                "success {success}, failure {failure}, results {results}"
            );
        }
    }
}
