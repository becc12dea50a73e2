//! Locking a std mutex.

use std::sync::Mutex;

/// Locks a std mutex, ignoring poisoning: every critical section in this crate leaves its data
/// valid, so a panic elsewhere while the lock was held does not make the data unusable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
