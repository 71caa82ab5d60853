//! The bench of the reconciler's tests: two in-memory fakes that answer what it hands out, the
//! canonical loop (`drive`), scripted faults, and `Bench`, the sync counterpart of the driver
//! tests' `World`. Time is a number: it moves only when the reconciler waits for a retry.

use std::sync::Arc;
use std::time::Duration;

use svcmirror_backend::{
    ApiError, DriverConfig, EventType, ExportStatus, Output, ReconcileOutcome, Reconciler, Request,
    Response, StatusEvent, TargetEvent,
};
use svcmirror_core::model::{Kind, Object};
use svcmirror_core::{Operation, Plan, SourceStore, plan, translate};
use svcmirror_fake::FakeCluster;

use crate::common::{endpoints, exported, key, link, nginx, nginx_endpoints};

pub const HTTP: [(&str, i32); 1] = [("http", 80)];

/// The clusters: `source` answers every request the reconciler sends; `target` is listed.
pub struct Clusters {
    pub source: FakeCluster,
    pub target: FakeCluster,
    /// The Events recorded in the target.
    pub events: Vec<StatusEvent>,
}

impl Clusters {
    pub fn new() -> Self {
        Self {
            source: FakeCluster::default(),
            target: FakeCluster::default(),
            events: Vec::new(),
        }
    }

    /// A target with the seed's headless `nginx-svc` (`pods` pods) and a ClusterIP `web`.
    pub fn seeded(pods: usize) -> Self {
        let mut clusters = Self::new();
        for object in [
            Object::Service(nginx("default")),
            Object::Endpoints(nginx_endpoints("default", pods)),
            Object::Service(exported("default", "web", false, &HTTP)),
            Object::Endpoints(endpoints("default", "web", &[("", "10.42.0.50")], &HTTP)),
        ] {
            clusters.target.create(object).expect("target object");
        }
        clusters
    }

    /// What the API server would answer (the fake's own mapping: `FakeCluster::answer`).
    pub fn answer(&mut self, request: &Request) -> Result<Response, ApiError> {
        match request {
            Request::ListTarget => self.target.answer(request.clone()),
            _ => self.source.answer(request.clone()),
        }
    }
}

/// What one run of the canonical loop saw.
#[derive(Default)]
pub struct Run {
    /// Every request handed out, in order.
    pub requests: Vec<Request>,
    /// Every output, in order.
    pub outputs: Vec<Output>,
    /// How long each retry waited.
    pub waits: Vec<Duration>,
    /// The time the loop ended at.
    pub now: Duration,
}

impl Run {
    pub fn outcome(&self) -> &ReconcileOutcome {
        self.outputs
            .iter()
            .rev()
            .find_map(|o| match o {
                Output::Reconciled(outcome) => Some(outcome),
                _ => None,
            })
            .expect("a reconcile outcome")
    }

    pub fn writes(&self) -> Vec<&Operation> {
        self.requests
            .iter()
            .filter_map(|r| match r {
                Request::Apply(op) => Some(op),
                _ => None,
            })
            .collect()
    }
}

/// The answer a script gives in place of the fake (`None`: the fake answers).
pub type Scripted = Option<Result<Response, ApiError>>;

/// The canonical loop (module docs of `Reconciler`): answer each request with `script` or the
/// fake, record each Event, and when nothing is ready, jump to the timeout. Bounded: a reconciler
/// that never settles fails the test.
pub fn drive(
    r: &mut Reconciler,
    clusters: &mut Clusters,
    mut now: Duration,
    mut script: impl FnMut(&Request, &mut Clusters) -> Scripted,
) -> Run {
    let mut run = Run::default();
    for _ in 0..10_000 {
        while let Some(output) = r.poll_event() {
            if let Output::RecordEvent(event) = &output {
                clusters.events.push(event.clone());
                r.handle_event_recorded(true);
            }
            run.outputs.push(output);
        }
        if let Some((id, request)) = r.poll_operation() {
            let result = match script(&request, clusters) {
                Some(result) => result,
                None => clusters.answer(&request),
            };
            run.requests.push(request);
            r.handle_applied(now, id, result);
        } else if let Some(due) = r.poll_timeout() {
            assert!(due >= now, "a deadline in the past: {due:?} < {now:?}");
            run.waits.push(due - now);
            now = due;
            r.handle_timeout(now);
        } else {
            assert!(r.is_idle());
            run.now = now;
            return run;
        }
    }
    panic!("the reconciler never settled");
}

pub fn no_errors(_: &Request, _: &mut Clusters) -> Scripted {
    None
}

/// A reconciler that listed `clusters` and reconciled the whole link.
pub fn converged(clusters: &mut Clusters) -> Reconciler {
    let mut r = Reconciler::new(link(), DriverConfig::default());
    r.relist();
    drive(&mut r, clusters, Duration::ZERO, no_errors);
    r.full_reconcile();
    let run = drive(&mut r, clusters, Duration::ZERO, no_errors);
    assert!(run.outcome().complete, "{:?}", run.outcome());
    r
}

/// Every prerequisite of a plan's operation is handed out (and succeeded) before it.
pub fn assert_dependency_order(plan: &Plan, handed_out: &[&Operation]) {
    let position = |op: &Operation| handed_out.iter().position(|h| *h == op);
    for (index, op) in plan.operations.iter().enumerate() {
        let Some(at) = position(op) else { continue };
        for on in plan.prerequisites(index) {
            let before = position(&plan.operations[on]).expect("prerequisite handed out");
            assert!(before < at, "{op:?} before its prerequisite");
        }
    }
}

/// One scripted fault: the next `times` requests `action` on `kind` `name` fail with `error`;
/// with `after`, the request takes effect first (a lost response).
pub struct Rule {
    pub action: &'static str,
    pub kind: Kind,
    pub name: &'static str,
    pub times: usize,
    pub error: ApiError,
    pub after: bool,
}

pub fn rule(
    action: &'static str,
    kind: Kind,
    name: &'static str,
    times: usize,
    error: ApiError,
) -> Rule {
    Rule {
        action,
        kind,
        name,
        times,
        error,
        after: false,
    }
}

/// The faults of a test.
#[derive(Default)]
pub struct Faults {
    pub rules: Vec<Rule>,
    /// Updates are acknowledged with the stored object but not applied (a server that lies): the
    /// reconciler never converges.
    pub ignore_updates: bool,
}

impl Faults {
    pub fn answer(&mut self, request: &Request, clusters: &mut Clusters) -> Scripted {
        let (action, kind, key) = match request {
            Request::Apply(op) => (op.action(), op.kind(), op.key()),
            Request::Get { kind, key } => ("get", *kind, key.clone()),
            Request::ListTarget | Request::ListSource => return None,
            other => panic!("unexpected request {other:?}"),
        };
        if self.ignore_updates && action == "update" {
            return Some(clusters.source.get(kind, &key).map(Response::Stored).ok_or(
                ApiError::NotFound {
                    kind,
                    key: key.clone(),
                },
            ));
        }
        let rule = self
            .rules
            .iter_mut()
            .find(|r| r.times > 0 && r.action == action && r.kind == kind && r.name == key.name)?;
        rule.times -= 1;
        if rule.after {
            let _lost = clusters.answer(request);
        }
        Some(Err(rule.error.clone()))
    }

    /// Scripted faults not consumed yet.
    pub fn left(&self) -> usize {
        self.rules.iter().map(|r| r.times).sum()
    }
}

/// A reconciler between two fakes with the test's faults: the sync counterpart of the driver
/// tests' `World`. Time only moves when the reconciler waits for a retry.
pub struct Bench {
    pub r: Reconciler,
    pub c: Clusters,
    pub faults: Faults,
    pub now: Duration,
    /// How long each retry waited, in order.
    pub waits: Vec<Duration>,
    /// The source's resourceVersion once set up: later writes are the reconciler's.
    pub setup_rv: u64,
    /// Whether every reconcile must complete (tests of failures turn it off).
    pub strict: bool,
}

impl Bench {
    pub fn new(config: DriverConfig) -> Self {
        let c = Clusters::new();
        let setup_rv = c.source.resource_version();
        Self {
            r: Reconciler::new(link(), config),
            c,
            faults: Faults::default(),
            now: Duration::ZERO,
            waits: Vec::new(),
            setup_rv,
            strict: true,
        }
    }

    /// Drives the command or input just given to its end; its outcome, if it reconciled.
    pub fn run(&mut self) -> Option<ReconcileOutcome> {
        let faults = &mut self.faults;
        let run = drive(&mut self.r, &mut self.c, self.now, |request, c| {
            faults.answer(request, c)
        });
        self.now = run.now;
        self.waits.extend(&run.waits);
        let outcome = run.outputs.iter().rev().find_map(|o| match o {
            Output::Reconciled(outcome) => Some(outcome.clone()),
            _ => None,
        });
        if self.strict
            && let Some(outcome) = &outcome
        {
            assert!(
                outcome.complete,
                "the reconcile did not finish: {outcome:?}"
            );
        }
        outcome
    }

    /// Relists and reconciles the whole link.
    pub fn resync(&mut self) -> ReconcileOutcome {
        self.r.relist();
        self.run();
        self.r.full_reconcile();
        self.run().expect("reconciled")
    }

    pub fn event(&mut self, event: TargetEvent) -> ReconcileOutcome {
        self.r.handle_target_event(self.now, event);
        self.run().expect("reconciled")
    }

    /// Creates or replaces `object` in the target and hands the reconciler the event.
    pub fn put(&mut self, mut object: Object) -> ReconcileOutcome {
        match (self.c.target.get(object.kind(), &object.key()), &mut object) {
            (Some(Object::Service(old)), Object::Service(new)) => {
                new.metadata.resource_version = old.metadata.resource_version;
                new.spec.cluster_ip = old.spec.cluster_ip;
            }
            (Some(Object::Endpoints(old)), Object::Endpoints(new)) => {
                new.metadata.resource_version = old.metadata.resource_version;
            }
            _ => {}
        }
        let stored = if self.c.target.get(object.kind(), &object.key()).is_some() {
            self.c.target.update(object)
        } else {
            self.c.target.create(object)
        };
        match stored.expect("the target accepts it") {
            Object::Service(s) => self.event(TargetEvent::ServiceApplied(s)),
            Object::Endpoints(e) => self.event(TargetEvent::EndpointsApplied(e)),
            other => panic!("not a target object: {other:?}"),
        }
    }

    /// A ClusterIP export `default/<name>` with one ready address.
    pub fn put_clusterip(&mut self, name: &str) {
        self.put(Object::Service(exported("default", name, false, &HTTP)));
        self.put(Object::Endpoints(endpoints(
            "default",
            name,
            &[("", "10.42.0.50")],
            &HTTP,
        )));
    }

    /// `(service, type, reason)` of the Events recorded so far.
    pub fn events(&self) -> Vec<(String, EventType, String)> {
        self.c
            .events
            .iter()
            .map(|e| (e.service.to_string(), e.type_, e.reason.clone()))
            .collect()
    }

    pub fn status_of(&self, name: &str) -> Arc<ExportStatus> {
        self.r
            .exports()
            .get(&key("default", name))
            .cloned()
            .unwrap_or_else(|| panic!("no status for {name}: {:#?}", self.r.exports()))
    }

    /// What must hold after every step: the source holds the desired state of the whole link;
    /// the reconciler's cache is what the source holds; every write since setup carried this
    /// link's labels; a reconcile of this converged state hands out nothing.
    pub fn assert_converged(&mut self) {
        let source = self.c.source.state();
        let translation = translate(&link(), &self.c.target.target_state(), &source);
        let p = plan(&link(), &translation.desired, &source);
        assert!(p.is_empty(), "not converged: {:#?}", p.operations);
        assert_eq!(
            self.r.cached_source().without_server_fields(),
            SourceStore::from_state(source.clone()).without_server_fields()
        );
        for (_, event) in self.c.source.events_since(self.setup_rv) {
            let object = event.object();
            let labels = match object {
                Object::Namespace(ns) => &ns.metadata.labels,
                Object::Service(s) => &s.metadata.labels,
                Object::Endpoints(e) => &e.metadata.labels,
                Object::EndpointSlice(e) => &e.metadata.labels,
            };
            assert!(
                svcmirror_core::labels::is_owned(labels, &link()),
                "{event:?}"
            );
        }
        self.r.relist();
        self.run();
        self.r.full_reconcile();
        let again = drive(&mut self.r, &mut self.c, self.now, no_errors);
        assert!(again.requests.is_empty(), "{:?}", again.requests);
    }
}
