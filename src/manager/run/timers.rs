//! Restart delays and stop deadlines: one heap, one `Sleep`.

use super::*;

impl Run {
    pub(super) fn push_timer(&mut self, timer: Timer) {
        // Deadlines of stops that already finished sit at the top: drop them first, so the
        // heap stays as small as the number of timers that can still fire.
        while let Some(Reverse(top)) = self.timers.peek() {
            if self.timer_is_live(top) {
                break;
            }
            self.timers.pop();
        }
        let at = timer.at;
        self.timers.push(Reverse(timer));
        if self.armed.is_none_or(|armed| at < armed) {
            self.sleep.as_mut().reset(at);
            self.armed = Some(at);
        }
    }

    pub(super) fn timer_is_live(&self, timer: &Timer) -> bool {
        let Some(slot) = self.slots.get(timer.key) else {
            return false;
        };
        if slot.generation != timer.generation {
            return false;
        }
        match timer.kind {
            TimerKind::Restart => {
                matches!(slot.state, SlotState::Restarting { due } if due == timer.at)
            }
            TimerKind::StopDeadline => self
                .slots
                .stop(timer.key)
                .is_some_and(|s| s.deadline == Some(timer.at) && !s.brutal && !s.timed_out),
        }
    }

    pub(super) fn on_timer(&mut self) {
        self.armed = None;
        let now = self.now();
        while let Some(Reverse(timer)) = self.timers.peek().copied() {
            if timer.at > now {
                self.sleep.as_mut().reset(timer.at);
                self.armed = Some(timer.at);
                break;
            }
            self.timers.pop();
            let Some(slot) = self.slots.get_mut(timer.key) else {
                continue;
            };
            if slot.generation != timer.generation {
                continue;
            }
            match timer.kind {
                TimerKind::Restart => {
                    if matches!(slot.state, SlotState::Restarting { due } if due == timer.at)
                        && matches!(self.phase, Phase::Running)
                    {
                        self.set_state(timer.key, SlotState::Pending);
                    }
                }
                TimerKind::StopDeadline => {
                    if let Some(stop) = self.slots.stop_mut(timer.key)
                        && stop.deadline == Some(timer.at)
                        && !stop.brutal
                        && !stop.timed_out
                    {
                        stop.timed_out = true;
                        self.abort(timer.key);
                    }
                }
            }
        }
    }
}
