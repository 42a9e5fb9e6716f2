//! Runs members in dependency order: a member starts once everything it needs finished well,
//! at most `parallelism` at once; after a failure nothing more starts and those in flight finish.
//! The futures are polled on the caller's task (no spawn), so they may borrow the members.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

/// What became of one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ran {
    Ok,
    Failed,
    NotStarted,
}

/// A member's run: true when it succeeded.
pub type Job<'a> = Pin<Box<dyn Future<Output = bool> + 'a>>;

/// Runs `start(name)` for every node of `needs` (name → the names it waits for, all in the map)
/// and returns each node's fate, with the order they finished in.
pub async fn run<'a>(needs: &BTreeMap<String, Vec<String>>, parallelism: usize, start: impl Fn(&str) -> Job<'a>) -> (BTreeMap<String, Ran>, Vec<String>) {
    let mut fate: BTreeMap<String, Ran> = needs.keys().map(|n| (n.clone(), Ran::NotStarted)).collect();
    let mut started: BTreeSet<String> = BTreeSet::new();
    let mut order = Vec::new();
    let mut running = FuturesUnordered::new();
    let mut failed = false;
    loop {
        if !failed {
            let ready: Vec<String> =
                needs.iter().filter(|(n, deps)| !started.contains(*n) && deps.iter().all(|d| fate.get(d) == Some(&Ran::Ok))).map(|(n, _)| n.clone()).collect();
            for name in ready.into_iter().take(parallelism.saturating_sub(running.len())) {
                started.insert(name.clone());
                let job = start(&name);
                running.push(async move { (name, job.await) });
            }
        }
        let Some((name, ok)) = running.next().await else { break };
        failed |= !ok;
        fate.insert(name.clone(), if ok { Ran::Ok } else { Ran::Failed });
        order.push(name);
    }
    (fate, order)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::time::Duration;

    fn graph(edges: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        edges.iter().map(|(n, d)| (n.to_string(), d.iter().map(|s| s.to_string()).collect())).collect()
    }

    #[tokio::test]
    async fn needs_are_respected_and_a_failure_stops_later_members() {
        let g = graph(&[("a", &[]), ("b", &["a"]), ("c", &["a"]), ("d", &["b", "c"])]);
        let log = RefCell::new(Vec::new());
        let (fate, order) = run(&g, 4, |n| {
            let n = n.to_owned();
            let log = &log;
            Box::pin(async move {
                log.borrow_mut().push(format!("start {n}"));
                tokio::time::sleep(Duration::from_millis(10)).await;
                log.borrow_mut().push(format!("end {n}"));
                n != "c"
            })
        })
        .await;
        let log = log.into_inner();
        assert_eq!(&log[..3], ["start a", "end a", "start b"]);
        assert!(log.contains(&"start c".to_owned()));
        assert_eq!(fate["c"], Ran::Failed);
        assert_eq!(fate["b"], Ran::Ok, "in flight when c failed: it finishes");
        assert_eq!(fate["d"], Ran::NotStarted);
        assert_eq!(order.len(), 3);
    }

    #[tokio::test]
    async fn parallelism_bounds_members_in_flight() {
        let g = graph(&[("a", &[]), ("b", &[]), ("c", &[])]);
        let now = RefCell::new((0usize, 0usize));
        run(&g, 2, |_| {
            let now = &now;
            Box::pin(async move {
                {
                    let mut n = now.borrow_mut();
                    n.0 += 1;
                    n.1 = n.1.max(n.0);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                now.borrow_mut().0 -= 1;
                true
            })
        })
        .await;
        assert_eq!(now.into_inner().1, 2);
    }
}
