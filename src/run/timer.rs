//! The stages' timings, as the manifest lists them, in the order the stages run.

use std::time::Instant;

use crate::output::manifest::StageTiming;

/// Stage timings recorded from any thread.
pub(super) struct Timer {
    stages: std::sync::Mutex<Vec<StageTiming>>,
}

impl Timer {
    /// A timer whose first stage is the pipeline file's reading, already done.
    pub(super) fn after_config(config_time: std::time::Duration) -> Timer {
        let timer = Timer {
            stages: Default::default(),
        };
        timer.push(StageTiming {
            stage: "config".into(),
            after: vec![],
            seconds: config_time.as_secs_f64(),
            rows_out: None,
            status: "ran".into(),
            reason: None,
            key: None,
        });
        timer
    }

    pub(super) fn into_stages(self) -> Vec<StageTiming> {
        self.stages.into_inner().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn record<S: AsRef<str>>(
        &self,
        stage: &str,
        after: &[S],
        started: Instant,
        rows_out: Option<usize>,
    ) {
        self.push(StageTiming {
            stage: stage.to_string(),
            after: after.iter().map(|s| s.as_ref().to_string()).collect(),
            seconds: started.elapsed().as_secs_f64(),
            rows_out,
            status: "ran".into(),
            reason: None,
            key: None,
        });
    }

    pub(super) fn push(&self, timing: StageTiming) {
        self.stages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(timing);
    }
}

/// Where a stage sorts among the others: by its place in a run, then by name.
pub(super) fn stage_order(stage: &str) -> (usize, String) {
    let rank = [
        "config",
        "ingest:",
        "checks",
        "indicators:",
        "evaluate",
        "index",
        "output:tables",
        "output:charts",
        "output:manifest",
    ]
    .iter()
    .position(|p| stage.starts_with(p))
    .unwrap_or(99);
    (rank, stage.to_string())
}
