//! The in-memory tail: the last N lines, oldest first.

use std::collections::VecDeque;

use super::Line;

/// A ring buffer of the last `capacity` lines. Pushing is O(1) and never allocates once full.
#[derive(Debug)]
pub(super) struct Tail {
    lines: VecDeque<Line>,
    capacity: usize,
}

impl Tail {
    /// An empty tail that keeps at most `capacity` lines (at least one). It grows as lines
    /// come, so a quiet process's tail costs nothing.
    pub(super) fn new(capacity: usize) -> Self {
        Tail {
            lines: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Adds a line, dropping the oldest when full.
    pub(super) fn push(&mut self, line: Line) {
        if self.lines.len() == self.capacity {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    /// The kept lines, oldest first (each clone is an `Arc` increment).
    pub(super) fn to_vec(&self) -> Vec<Line> {
        self.lines.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::output::Stream;
    use std::time::SystemTime;

    fn line(n: usize) -> Line {
        Line::new(
            Stream::Stdout,
            SystemTime::UNIX_EPOCH,
            n.to_string().as_bytes(),
            false,
        )
    }

    #[test]
    fn a_full_tail_drops_the_oldest_line() {
        let mut tail = Tail::new(3);
        for n in 0..5 {
            tail.push(line(n));
        }
        let texts: Vec<String> = tail
            .to_vec()
            .iter()
            .map(|l| l.text().into_owned())
            .collect();
        assert_eq!(texts, ["2", "3", "4"]);
    }
}
