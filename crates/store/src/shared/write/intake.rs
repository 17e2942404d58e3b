//! What the writers are asked to do ([`Command`]) and how a group takes
//! its requests off the queue: the linger that lets the clients of the
//! previous group join the next, at most one request per idempotency key,
//! and requests carried over to a later group ([`Gather`]).

use std::collections::VecDeque;
use std::ops::DerefMut;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use creditdesk_ledger::catalog::{CreditType, Product, RateVersion};
use creditdesk_ledger::engine::{IngestMode, IngestResult};
use creditdesk_ledger::entry::{Attribution, Entry};
use creditdesk_ledger::event::UsageEvent;
use creditdesk_ledger::grant::NewGrant;
use creditdesk_ledger::ids::{ActorId, CustomerId, EventId, GrantId, ProductId};
use creditdesk_ledger::wallet::Reversal;
use creditdesk_ledger::Credits;
use foldhash::{HashSet, HashSetExt};
use tokio::sync::{mpsc, oneshot};

use crate::error::{Result, StoreError};
use crate::model::{Customer, IdempotencyKey, Idempotent, User};
use crate::workflow::{AuditEntry, WorkflowOp, WorkflowOut};

pub(crate) type Reply<T> = oneshot::Sender<Result<T>>;

/// How often a lingering group looks at the queue again.
const LINGER_POLL: Duration = Duration::from_micros(100);

/// An admin change to the catalog, customers or users.
#[derive(Debug)]
pub enum AdminOp {
    CreditType(CreditType),
    Product { product: Product, by: ActorId },
    RateVersion { product: ProductId, customer: Option<CustomerId>, version: RateVersion, by: ActorId },
    Customer(Customer),
    User { user: User, token_hash: String },
    RevokeUser { name: String },
}

/// A write's `Idempotency-Key`, and how to render the response the server
/// will replay for it. The response is recorded in the same transaction as
/// the write, so a retry after a crash either replays it or finds nothing
/// written at all.
pub struct Idem<T> {
    pub key: IdempotencyKey,
    pub render: Render<T>,
}

/// When a writer took an ingest request off its queue and when the group
/// holding it committed, counted from when the request was queued: the
/// `queue` and `write` stages of the server's `Server-Timing` header
/// (docs/server.md, "Where an ingest's time goes").
#[derive(Debug)]
pub struct WriteTiming {
    queued_at: Instant,
    /// Nanoseconds after `queued_at`; 0 until it happened.
    taken: AtomicU64,
    pub(super) committed: AtomicU64,
}

impl WriteTiming {
    /// Starts the clock: call it right before the request is sent.
    pub fn start() -> Arc<WriteTiming> {
        Arc::new(WriteTiming { queued_at: Instant::now(), taken: AtomicU64::new(0), committed: AtomicU64::new(0) })
    }

    pub(super) fn mark(&self, at: &AtomicU64) {
        let ns = u64::try_from(self.queued_at.elapsed().as_nanos()).unwrap_or(u64::MAX).max(1);
        // The reply's channel orders this before the caller's read.
        at.store(ns, Ordering::Relaxed);
    }

    /// How long the request waited for a writer; `None` if none took it.
    pub fn queue(&self) -> Option<Duration> {
        match self.taken.load(Ordering::Relaxed) {
            0 => None,
            ns => Some(Duration::from_nanos(ns)),
        }
    }

    /// From the writer taking the request to its group's commit; `None`
    /// if the group did not commit.
    pub fn write(&self) -> Option<Duration> {
        let taken = self.queue()?;
        match self.committed.load(Ordering::Relaxed) {
            0 => None,
            ns => Some(Duration::from_nanos(ns).saturating_sub(taken)),
        }
    }
}

/// Renders a write's result as the response to record: (status, body).
pub type Render<T> = Box<dyn FnOnce(&T) -> (u16, String) + Send>;

pub(crate) enum Command {
    Ingest {
        events: Vec<UsageEvent>,
        mode: IngestMode,
        actor: ActorId,
        idem: Option<Idem<Vec<IngestResult>>>,
        /// The call's audit row, written in the same transaction (stamped
        /// with the group's time) when the call is answered, replays
        /// included, and not when it is refused.
        audit: Option<Box<AuditEntry>>,
        timing: Option<Arc<WriteTiming>>,
        reply: Reply<Idempotent<Vec<IngestResult>>>,
    },
    Grant {
        grant: Box<NewGrant>,
        idem: Option<Idem<Vec<Entry>>>,
        reply: Reply<Idempotent<Vec<Entry>>>,
    },
    Void {
        grant: GrantId,
        by: Attribution,
        idem: Option<Idem<Credits>>,
        reply: Reply<Idempotent<Credits>>,
    },
    Reverse {
        event: EventId,
        by: Attribution,
        reply: Reply<Reversal>,
    },
    Sweep {
        reply: Reply<usize>,
    },
    Admin {
        op: AdminOp,
        reply: Reply<()>,
    },
    /// Limits, approvals, disputes, audit rows (`workflow.rs`).
    Workflow {
        op: Box<WorkflowOp>,
        idem: Option<Idem<WorkflowOut>>,
        reply: Reply<Idempotent<WorkflowOut>>,
    },
}

impl Command {
    pub(crate) fn is_ingest(&self) -> bool {
        matches!(self, Command::Ingest { .. })
    }

    fn weight(&self) -> usize {
        match self {
            Command::Ingest { events, .. } => events.len().max(1),
            _ => 1,
        }
    }

    pub(super) fn timing(&self) -> Option<&Arc<WriteTiming>> {
        match self {
            Command::Ingest { timing, .. } => timing.as_ref(),
            _ => None,
        }
    }

    /// Notes that a writer took the request for its group (again, if an
    /// earlier group put it back).
    fn taken(self) -> Command {
        if let Some(t) = self.timing() {
            t.mark(&t.taken);
        }
        self
    }

    pub(super) fn idem_key(&self) -> Option<&IdempotencyKey> {
        match self {
            Command::Ingest { idem, .. } => idem.as_ref().map(|i| &i.key),
            Command::Grant { idem, .. } => idem.as_ref().map(|i| &i.key),
            Command::Void { idem, .. } => idem.as_ref().map(|i| &i.key),
            Command::Workflow { idem, .. } => idem.as_ref().map(|i| &i.key),
            _ => None,
        }
    }

    pub(crate) fn fail(self, msg: &str) {
        fn err<T>(msg: &str) -> Result<T> {
            Err(StoreError::Corrupt(format!("write failed: {msg}")))
        }
        match self {
            Command::Ingest { reply, .. } => drop(reply.send(err(msg))),
            Command::Grant { reply, .. } => drop(reply.send(err(msg))),
            Command::Void { reply, .. } => drop(reply.send(err(msg))),
            Command::Reverse { reply, .. } => drop(reply.send(err(msg))),
            Command::Sweep { reply } => drop(reply.send(err(msg))),
            Command::Admin { reply, .. } => drop(reply.send(err(msg))),
            Command::Workflow { reply, .. } => drop(reply.send(err(msg))),
        }
    }
}

/// How long a group may wait for the ingest batches its predecessor's
/// clients are about to send (the SQLite writer's group commit, which
/// applies each request as it is taken: [`Gather`]).
///
/// A group has a fixed cost whatever its size, about 4 ms for 200
/// customers (docs/bench-experiments.md, "The group's fixed cost after staging"): the
/// running totals and day rollups of every customer it touches are
/// written and committed once per group. Closed-loop clients
/// fall into cohorts: those acked together send again together, and a
/// batch that arrived during a group starts the next one alone while the
/// others are still on their way, so 8 clients settled into alternating
/// groups of 7 batches and 1, each paying the fixed cost. So a group waits
/// until it holds as many ingest requests as the previous group did plus
/// those already queued when it began (the clients just acked, and the
/// others), for at most a quarter of the previous group's time and 2 ms:
/// the cohorts merge, as PostgreSQL's `commit_delay` waits only while
/// `commit_siblings` are active. A lone client is not delayed when its
/// next request finds the writer idle: its previous group held one batch,
/// which that request already is. (Had the request been queued before the
/// writer looked, it would count as another client's, and the group would
/// wait out the bound.)
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Linger {
    /// Ingest requests in the previous group.
    pub expected: usize,
    /// The longest wait: a quarter of the previous group's time, at most
    /// [`Linger::MAX`].
    pub wait: Duration,
}

impl Linger {
    pub const MAX: Duration = Duration::from_millis(2);

    /// What the next group should wait for, after one that held `ingests`
    /// ingest requests and took `took`.
    pub fn after(ingests: usize, took: Duration) -> Linger {
        Linger { expected: ingests, wait: (took / 4).min(Linger::MAX) }
    }
}

/// The writers' queue: the channel, and requests taken off it that wait for
/// a later group (a second request under a key the group holds, or one a
/// PostgreSQL group could not take). They are kept with the channel so
/// that whichever writer takes the queue next takes them first: kept by
/// the writer that put them back, they would wait while another writer
/// held the queue, blocked on an empty channel.
pub(crate) struct Queue {
    pub rx: mpsc::Receiver<Command>,
    pub carry: VecDeque<Command>,
}

impl Queue {
    pub(crate) fn new(rx: mpsc::Receiver<Command>) -> Queue {
        Queue { rx, carry: VecDeque::new() }
    }
}

/// One group's intake, a request at a time: every request waiting, up to
/// the group's event limit, with at most one request per idempotency key
/// (a second one waits for the next group, where it sees the first one's
/// recorded response). With a [`Linger`], the queue is polled for up to its
/// wait until the group holds as many ingest requests as expected. The
/// SQLite writer applies each request as it comes, so the group's wait for
/// the clients it expects is spent working. The queue is
/// borrowed (`&mut`) or, for PostgreSQL's writers, held under its lock
/// until the gather is dropped.
pub(crate) struct Gather<Q: DerefMut<Target = Queue>> {
    q: Q,
    limit: usize,
    until: Instant,
    ingests: usize,
    expected: usize,
    /// Set once what was waiting has been taken.
    drained: bool,
    keys: HashSet<(String, String)>,
    weight: usize,
    /// Second requests under a key the group holds: for the next group.
    later: Vec<Command>,
}

impl<Q: DerefMut<Target = Queue>> Gather<Q> {
    /// A group's first request (waiting for one), and the intake for the
    /// rest. `None` once the queue is closed and nothing is carried over.
    pub(crate) fn start(mut q: Q, limit: usize, linger: Linger) -> Option<(Gather<Q>, Command)> {
        // Requests already waiting when the previous group ended belong to
        // clients other than the ones it acked: both sets are expected now.
        let (first, waiting) = match q.carry.pop_front() {
            Some(c) => (c, true),
            None => match q.rx.try_recv() {
                Ok(c) => (c, true),
                Err(_) => (q.rx.blocking_recv()?, false),
            },
        };
        let mut keys = HashSet::new();
        if let Some(k) = first.idem_key() {
            keys.insert((k.actor.clone(), k.key.clone()));
        }
        let gather = Gather {
            q,
            limit,
            until: Instant::now() + linger.wait,
            ingests: usize::from(first.is_ingest()),
            expected: linger.expected,
            drained: !waiting,
            keys,
            weight: first.weight(),
            later: Vec::new(),
        };
        Some((gather, first.taken()))
    }

    /// The group's next request; `None` when the group is complete: at its
    /// event limit, or nothing queued and (with a linger) the clients
    /// expected all in or the wait over.
    pub(crate) fn next(&mut self) -> Option<Command> {
        while self.weight < self.limit {
            let next = match self.q.carry.pop_front() {
                Some(c) => c,
                None => match self.q.rx.try_recv() {
                    Ok(c) => c,
                    Err(mpsc::error::TryRecvError::Empty) if !self.drained => {
                        self.drained = true;
                        self.expected += self.ingests;
                        continue;
                    }
                    Err(mpsc::error::TryRecvError::Empty)
                        if self.ingests < self.expected && Instant::now() < self.until =>
                    {
                        std::thread::sleep(LINGER_POLL);
                        continue;
                    }
                    Err(_) => return None,
                },
            };
            if let Some(k) = next.idem_key() {
                if !self.keys.insert((k.actor.clone(), k.key.clone())) {
                    self.later.push(next);
                    continue;
                }
            }
            self.ingests += usize::from(next.is_ingest());
            self.weight += next.weight();
            return Some(next.taken());
        }
        None
    }

    /// Ingest requests taken so far.
    pub(crate) fn ingests(&self) -> usize {
        self.ingests
    }
}

/// Where a running group takes the requests that join it.
pub(crate) trait Intake {
    /// The next request to join; `None` when the group is complete.
    fn next(&mut self) -> Option<Command>;
    /// A request taken that must wait for the next group instead.
    fn put_back(&mut self, cmd: Command);
}

impl<Q: DerefMut<Target = Queue>> Intake for Gather<Q> {
    fn next(&mut self) -> Option<Command> {
        Gather::next(self)
    }

    fn put_back(&mut self, cmd: Command) {
        self.later.push(cmd);
    }
}

/// An intake that may be gone (PostgreSQL hands its queue on once the
/// group holds its locks): then nothing more joins.
impl<I: Intake> Intake for &std::cell::RefCell<Option<I>> {
    fn next(&mut self) -> Option<Command> {
        self.borrow_mut().as_mut()?.next()
    }

    fn put_back(&mut self, cmd: Command) {
        match self.borrow_mut().as_mut() {
            Some(intake) => intake.put_back(cmd),
            None => cmd.fail("the group's intake closed"),
        }
    }
}

impl<Q: DerefMut<Target = Queue>> Drop for Gather<Q> {
    fn drop(&mut self) {
        let later = std::mem::take(&mut self.later);
        self.q.carry.extend(later);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A whole group at once, as a writer that applies nothing meanwhile
    /// would take it.
    fn take_group(q: &mut Queue, limit: usize, linger: Linger) -> Option<Vec<Command>> {
        let (mut gather, first) = Gather::start(q, limit, linger)?;
        let mut batch = vec![first];
        batch.extend(std::iter::from_fn(|| gather.next()));
        Some(batch)
    }

    /// An ingest request with no events (the group only counts requests).
    fn ingest() -> Command {
        let (reply, _) = oneshot::channel();
        let actor = ActorId::new("t").unwrap();
        Command::Ingest { events: vec![], mode: IngestMode::Live, actor, idem: None, audit: None, timing: None, reply }
    }

    fn queue() -> (mpsc::Sender<Command>, Queue) {
        let (tx, rx) = mpsc::channel(16);
        (tx, Queue::new(rx))
    }

    /// Sends `n` ingest requests from another thread, each `after` the last.
    fn later(tx: &mpsc::Sender<Command>, n: usize, after: Duration) -> std::thread::JoinHandle<()> {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for _ in 0..n {
                std::thread::sleep(after);
                tx.blocking_send(ingest()).unwrap();
            }
        })
    }

    #[test]
    fn a_lone_client_is_not_kept_waiting() {
        let (tx, mut q) = queue();
        // Its next request comes once the writer is idle again.
        let sender = later(&tx, 1, Duration::from_millis(50));
        let linger = Linger { expected: 1, wait: Duration::from_secs(5) };
        let t = Instant::now();
        let group = take_group(&mut q, 20_000, linger).unwrap();
        sender.join().unwrap();
        assert_eq!(group.len(), 1);
        assert!(t.elapsed() < Duration::from_secs(2), "waited {:?}", t.elapsed());
    }

    #[test]
    fn a_group_waits_for_the_clients_the_previous_one_acked() {
        let (tx, mut q) = queue();
        let sender = later(&tx, 2, Duration::from_millis(50));
        let linger = Linger { expected: 2, wait: Duration::from_secs(5) };
        let group = take_group(&mut q, 20_000, linger).unwrap();
        sender.join().unwrap();
        assert_eq!(group.len(), 2, "the first request alone would have started the group");
    }

    #[test]
    fn requests_already_waiting_add_to_the_clients_expected() {
        let (tx, mut q) = queue();
        tx.blocking_send(ingest()).unwrap();
        tx.blocking_send(ingest()).unwrap();
        let sender = later(&tx, 1, Duration::from_millis(50));
        // One client acked by the previous group, two others already queued.
        let linger = Linger { expected: 1, wait: Duration::from_secs(5) };
        let group = take_group(&mut q, 20_000, linger).unwrap();
        sender.join().unwrap();
        assert_eq!(group.len(), 3);
    }

    #[test]
    fn the_wait_ends_at_its_bound_and_never_without_a_linger() {
        let (tx, mut q) = queue();
        tx.blocking_send(ingest()).unwrap();
        let linger = Linger { expected: 3, wait: Duration::from_millis(100) };
        let t = Instant::now();
        let group = take_group(&mut q, 20_000, linger).unwrap();
        assert_eq!(group.len(), 1);
        assert!(t.elapsed() >= Duration::from_millis(100));

        // PostgreSQL's writers take what is queued and go.
        tx.blocking_send(ingest()).unwrap();
        let sender = later(&tx, 1, Duration::from_millis(200));
        let group = take_group(&mut q, 20_000, Linger::default()).unwrap();
        assert_eq!(group.len(), 1);
        sender.join().unwrap();
    }

    fn keyed(key: &str) -> Command {
        let (reply, _) = oneshot::channel();
        let key = IdempotencyKey { actor: "t".into(), key: key.into(), request_hash: String::new() };
        let idem = Some(Idem { key, render: Box::new(|_: &Vec<IngestResult>| (200, String::new())) });
        Command::Ingest {
            events: vec![],
            mode: IngestMode::Live,
            actor: ActorId::new("t").unwrap(),
            idem,
            audit: None,
            timing: None,
            reply,
        }
    }

    /// The SQLite writer works on each request as it is taken: requests
    /// that arrive while the group is being applied still join it.
    #[test]
    fn a_group_is_taken_a_request_at_a_time_as_they_arrive() {
        let (tx, mut q) = queue();
        let first = later(&tx, 1, Duration::from_millis(20));
        // Three clients acked by the previous group.
        let linger = Linger { expected: 3, wait: Duration::from_secs(5) };
        let t = Instant::now();
        let (mut gather, _) = Gather::start(&mut q, 20_000, linger).unwrap();
        first.join().unwrap();
        // While the first is applied: a request under key a, a second one
        // under the same key (for the next group), and a third client's
        // a little later.
        tx.blocking_send(keyed("a")).unwrap();
        tx.blocking_send(keyed("a")).unwrap();
        let third = later(&tx, 1, Duration::from_millis(50));
        let joined = gather.next().expect("the request under key a");
        assert_eq!(joined.idem_key().map(|k| k.key.as_str()), Some("a"));
        let joined = gather.next().expect("the third client's, waited for");
        assert!(joined.idem_key().is_none());
        assert_eq!(gather.ingests(), 3);
        assert!(gather.next().is_none(), "the expected clients are in and nothing waits");
        assert!(t.elapsed() < Duration::from_secs(2), "waited {:?}", t.elapsed());
        drop(gather);
        third.join().unwrap();
        assert_eq!(q.carry.len(), 1, "the second request under key a waits for the next group");
    }

    #[test]
    fn the_linger_follows_the_previous_group() {
        let l = Linger::after(8, Duration::from_millis(4));
        assert_eq!((l.expected, l.wait), (8, Duration::from_millis(1)));
        assert_eq!(Linger::after(8, Duration::from_millis(40)).wait, Linger::MAX);
    }
}
