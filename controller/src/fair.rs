//! Reconcile slots handed out round-robin across namespaces.
//!
//! kube's controller queue runs objects first come, first served: a tenant who creates a few
//! hundred SealedSecrets at once would have every other namespace wait behind them. Each
//! reconcile instead takes a slot here for its namespace; while slots are short, a freed slot
//! goes to the next namespace (in name order, after the one served last) that has a reconcile
//! waiting, so one namespace's flood delays another namespace by at most one reconcile per
//! waiting namespace.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::Mutex;

use tokio::sync::oneshot;

/// A fixed number of slots (0: unlimited), shared fairly by namespace.
pub struct FairQueue {
    state: Mutex<State>,
    unlimited: bool,
}

struct State {
    free: usize,
    waiting: BTreeMap<String, VecDeque<oneshot::Sender<()>>>,
    /// The namespace the last handed-over slot went to.
    last: Option<String>,
}

/// One slot, given back when dropped.
pub struct Slot<'a> {
    queue: &'a FairQueue,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.queue.release();
    }
}

impl FairQueue {
    /// `slots` at once; 0 means no limit.
    pub fn new(slots: usize) -> FairQueue {
        FairQueue {
            state: Mutex::new(State {
                free: slots,
                waiting: BTreeMap::new(),
                last: None,
            }),
            unlimited: slots == 0,
        }
    }

    /// Waits for a slot for a reconcile in `namespace`.
    pub async fn acquire(&self, namespace: &str) -> Slot<'_> {
        let receiver = {
            let Ok(mut state) = self.state.lock() else {
                // A poisoned lock (a panic while holding it) must not stop reconciling.
                return Slot { queue: self };
            };
            if self.unlimited || (state.free > 0 && state.waiting.is_empty()) {
                state.free = state.free.saturating_sub(1);
                return Slot { queue: self };
            }
            let (sender, receiver) = oneshot::channel();
            state
                .waiting
                .entry(namespace.to_string())
                .or_default()
                .push_back(sender);
            receiver
        };
        let mut waiter = Waiter {
            receiver: Some(receiver),
            queue: self,
        };
        if let Some(receiver) = waiter.receiver.as_mut() {
            let _ = receiver.await;
        }
        waiter.receiver = None;
        Slot { queue: self }
    }

    /// Gives a slot to the next waiting namespace, or back to the pool.
    fn release(&self) {
        if self.unlimited {
            return;
        }
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        loop {
            let next = match &state.last {
                Some(last) => state
                    .waiting
                    .range::<String, _>((Bound::Excluded(last), Bound::Unbounded))
                    .next()
                    .map(|(k, _)| k.clone()),
                None => None,
            }
            .or_else(|| state.waiting.keys().next().cloned());
            let Some(namespace) = next else {
                state.free += 1;
                return;
            };
            let sender = state
                .waiting
                .get_mut(&namespace)
                .and_then(VecDeque::pop_front);
            if state
                .waiting
                .get(&namespace)
                .is_some_and(VecDeque::is_empty)
            {
                state.waiting.remove(&namespace);
            }
            state.last = Some(namespace);
            // A waiter that gave up (its reconcile was dropped) is skipped.
            if sender.is_some_and(|s| s.send(()).is_ok()) {
                return;
            }
        }
    }
}

/// A reconcile waiting for a slot; if it is dropped after the slot was handed to it, the slot
/// goes on to the next waiter.
struct Waiter<'a> {
    receiver: Option<oneshot::Receiver<()>>,
    queue: &'a FairQueue,
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        if let Some(mut receiver) = self.receiver.take() {
            receiver.close();
            if receiver.try_recv().is_ok() {
                self.queue.release();
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_flood_in_one_namespace_does_not_delay_another() {
        let queue = Arc::new(FairQueue::new(1));
        let order = Arc::new(Mutex::new(Vec::new()));
        let held = queue.acquire("flood").await;
        let mut tasks = Vec::new();
        // 50 reconciles in "flood" queue up first, then one in "quiet".
        for i in 0..50 {
            let (queue, order) = (Arc::clone(&queue), Arc::clone(&order));
            tasks.push(tokio::spawn(async move {
                let _slot = queue.acquire("flood").await;
                order.lock().unwrap().push(format!("flood{i}"));
            }));
            tokio::task::yield_now().await;
        }
        let (q, o) = (Arc::clone(&queue), Arc::clone(&order));
        tasks.push(tokio::spawn(async move {
            let _slot = q.acquire("quiet").await;
            o.lock().unwrap().push("quiet".to_string());
        }));
        tokio::task::yield_now().await;
        drop(held);
        for task in tasks {
            task.await.unwrap();
        }
        let order = order.lock().unwrap();
        let at = order.iter().position(|o| o == "quiet").unwrap();
        assert!(
            at <= 1,
            "quiet served at {at} of {}: {order:?}",
            order.len()
        );
        assert_eq!(order.len(), 51);
    }

    #[tokio::test]
    async fn a_dropped_waiter_passes_its_slot_on() {
        let queue = FairQueue::new(1);
        let held = queue.acquire("a").await;
        let mut gave_up = Box::pin(queue.acquire("b"));
        assert!(futures::poll!(gave_up.as_mut()).is_pending());
        drop(gave_up);
        drop(held);
        // The slot is free again, not lost to the waiter that left.
        let again =
            tokio::time::timeout(std::time::Duration::from_secs(1), queue.acquire("c")).await;
        assert!(again.is_ok());
    }
}
