//! A run: consecutive verified jobs of one message group (and one app), delivered together —
//! each webhook gets the run's events it wants in as few payloads as its size limit allows,
//! in order — and what became of each job.

use std::time::{Duration, Instant};

use super::accept::Accepted;
use super::outcome::JobOutcome;
use crate::Sender;
use crate::deliver::{Deadline, DeliveryReport, FailureKind, Report};
use crate::route::WrittenEvents;
use crate::sender::Fanout;

/// What a run's delivery gave: each job's outcome (in the run's order), how many payloads
/// carried more than one job, and how long the run took.
pub(super) struct RunResult {
    pub(super) outcomes: Vec<JobOutcome>,
    pub(super) coalesced: usize,
    pub(super) latency: Duration,
}

impl Sender {
    /// Delivers the jobs of a run (all of one app), coalesced: per webhook, their events in
    /// the jobs' order, split under the size limit, each payload naming its events' jobs; a
    /// webhook's later payloads are not sent once one failed, so that nothing arrives before
    /// an event that will come again. No attempt starts that does not fit before `deadline`.
    ///
    /// A job is delivered when every payload carrying its events was; failed when one of
    /// them failed; skipped when one was not sent (the deadline, or an earlier failure).
    pub(super) async fn deliver_run(
        &self,
        jobs: &[&Accepted<'_>],
        deadline: Deadline,
    ) -> RunResult {
        let started = Instant::now();
        let Some(first) = jobs.first() else {
            return RunResult {
                outcomes: Vec::new(),
                coalesced: 0,
                latency: Duration::ZERO,
            };
        };
        let mut written = WrittenEvents::default();
        let mut events = Vec::new();
        // The job of each event (a position in `jobs`).
        let mut job_of = Vec::new();
        for (position, job) in jobs.iter().enumerate() {
            job.write(&mut written);
            events.extend(job.events.iter().cloned());
            job_of.extend(std::iter::repeat_n(position, job.events.len()));
        }
        // A coalesced payload is stamped with the latest of its jobs' times.
        let time_ms = jobs
            .iter()
            .map(|job| job.time_ms)
            .max()
            .unwrap_or(first.time_ms);
        let (plan, carried) = self.plan_indexed(first.app, time_ms, &events, &written);
        let mut routed = vec![false; events.len()];
        // Per request: the jobs it carries, in order, each once.
        let request_jobs: Vec<Vec<usize>> = carried
            .iter()
            .map(|events| {
                let mut mine: Vec<usize> = Vec::new();
                for &event in events {
                    routed[event] = true;
                    if !mine.contains(&job_of[event]) {
                        mine.push(job_of[event]);
                    }
                }
                mine
            })
            .collect();
        let coalesced = request_jobs.iter().filter(|jobs| jobs.len() > 1).count();
        let fanout = Fanout {
            deadline,
            in_order: true,
        };
        let reports = self.deliver_each(plan.requests, fanout).await;

        let mut state = vec![State::Delivered; jobs.len()];
        let mut reports_of: Vec<Vec<DeliveryReport>> =
            (0..jobs.len()).map(|_| Vec::new()).collect();
        for (reports, carried_jobs) in reports.into_iter().zip(&request_jobs) {
            let state_of_request = State::of(&reports);
            for &job in carried_jobs {
                state[job] = state[job].max(state_of_request);
            }
            // A payload is reported once, with the first job it carries.
            if let Some(&owner) = carried_jobs.first() {
                reports_of[owner].extend(reports);
            }
        }
        let mut unrouted: Vec<Vec<_>> = (0..jobs.len()).map(|_| Vec::new()).collect();
        for (event, was_routed) in routed.into_iter().enumerate() {
            if !was_routed {
                unrouted[job_of[event]].push(events[event].clone());
            }
        }
        let outcomes = state
            .into_iter()
            .zip(reports_of.into_iter().zip(unrouted))
            .map(|(state, (deliveries, unrouted))| {
                let report = Report::new(deliveries, unrouted);
                match state {
                    State::Delivered => JobOutcome::Delivered(report),
                    State::NotSent => JobOutcome::Skipped,
                    State::Failed => JobOutcome::Failed(report),
                }
            })
            .collect();
        RunResult {
            outcomes,
            coalesced,
            latency: started.elapsed(),
        }
    }
}

/// What became of a payload, and so of the jobs it carried (the worst of their payloads).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum State {
    Delivered,
    NotSent,
    Failed,
}

impl State {
    /// A payload's state from its reports (several when the endpoint had it split).
    fn of(reports: &[DeliveryReport]) -> State {
        reports
            .iter()
            .map(|report| match report.failure() {
                None => State::Delivered,
                Some(failure) if failure.kind == FailureKind::NotSent => State::NotSent,
                Some(_) => State::Failed,
            })
            .max()
            .unwrap_or(State::Delivered)
    }
}
