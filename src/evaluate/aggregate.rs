//! The aggregations of ATT(g,t) that R `did::aggte` defines, with their influence functions:
//!
//! - `simple`: the post-treatment cells weighted by cohort size;
//! - `group`: each cohort's mean over its post-treatment periods, and their cohort-size
//!   weighted average;
//! - `dynamic` (event study): each event time's cohort-size weighted mean over the cohorts
//!   observed at it, and the mean over event times 0 and later;
//! - `calendar`: each period's cohort-size weighted mean over the cohorts treated by then, and
//!   the mean over those periods.
//!
//! Cohort sizes are estimated (the share P(G = g) of all areas), so wherever weights use
//! them, the influence function adds the weights' own (`wif` in R `did`):
//! Σ_k att_k [(1{G_i = g_k} − p_k) / S − A_i p_k / S²], S = Σ_k p_k, A_i = Σ_k (1{G_i = g_k} − p_k).

use std::collections::BTreeMap;

use super::att::Cell;
use super::panel::Panel;

/// One estimate with its influence function over all n areas.
#[derive(Debug, Clone)]
pub struct Estimate {
    pub aggregation: &'static str,
    pub group: Option<i32>,
    pub period: Option<i32>,
    pub event_time: Option<i32>,
    pub att: f64,
    pub inf: Vec<f64>,
    pub n_treated: usize,
    pub n_control: usize,
    /// The set of estimates a uniform band covers together (`None`: an overall figure).
    pub band: Option<&'static str>,
    pub reference: bool,
    /// The areas behind the estimate, (unit, treated), sorted: counts come from membership,
    /// not from the influence function, which is exactly 0 for a cohort of one area.
    pub members: Vec<(u32, bool)>,
}

/// The cells with an estimate, as dense estimates (aggregation `group_time`).
pub fn cells(panel: &Panel, cells: &[Cell]) -> Vec<Estimate> {
    let n = panel.n();
    cells
        .iter()
        .filter_map(|c| {
            let att = c.att?;
            let mut inf = vec![0.0; n];
            for (u, x) in &c.inf {
                inf[*u as usize] = *x;
            }
            let members = c
                .inf
                .iter()
                .map(|(u, _)| (*u, panel.cohort[*u as usize] == Some(c.group)))
                .collect();
            Some(Estimate {
                aggregation: "group_time",
                group: Some(c.group),
                period: Some(c.period),
                event_time: Some(c.event_time()),
                att,
                inf,
                n_treated: c.n_treated,
                n_control: c.n_control,
                band: Some("group_time"),
                reference: c.reference,
                members,
            })
        })
        .collect()
}

/// P(G = g) over all areas of the panel.
fn shares(panel: &Panel) -> BTreeMap<i32, f64> {
    let mut count: BTreeMap<i32, f64> = BTreeMap::new();
    for g in panel.cohort.iter().flatten() {
        *count.entry(*g).or_default() += 1.0;
    }
    let n = panel.n() as f64;
    count.values_mut().for_each(|c| *c /= n);
    count
}

/// A weighted combination of estimates `parts` (att, inf, cohort), weights p_k / Σ p, with the
/// weights' influence when `estimated`.
fn combine(panel: &Panel, parts: &[(&Estimate, i32, f64)], estimated: bool) -> (f64, Vec<f64>) {
    let n = panel.n();
    let s: f64 = parts.iter().map(|p| p.2).sum();
    let att: f64 = parts.iter().map(|(e, _, p)| e.att * p / s).sum();
    let mut inf = vec![0.0; n];
    for (e, _, p) in parts {
        let w = p / s;
        for (acc, x) in inf.iter_mut().zip(&e.inf) {
            *acc += w * x;
        }
    }
    if estimated {
        let weighted: f64 = parts.iter().map(|(e, _, p)| e.att * p).sum();
        let mut sum_att: BTreeMap<i32, (f64, f64)> = BTreeMap::new();
        for (e, g, _) in parts {
            let entry = sum_att.entry(*g).or_default();
            entry.0 += e.att;
            entry.1 += 1.0;
        }
        for (i, acc) in inf.iter_mut().enumerate() {
            let (sa, count) = panel.cohort[i]
                .and_then(|g| sum_att.get(&g).copied())
                .unwrap_or((0.0, 0.0));
            let a = count - s;
            *acc += (sa - weighted) / s - a * weighted / (s * s);
        }
    }
    (att, inf)
}

/// The areas behind a set of estimates: the union of their members.
fn union(used: &[&Estimate]) -> Vec<(u32, bool)> {
    let mut all: Vec<(u32, bool)> = used
        .iter()
        .flat_map(|e| e.members.iter().copied())
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// Treated and control areas among `members` (an area treated in one cell and a not-yet
/// treated control in another counts as treated).
fn counts(members: &[(u32, bool)]) -> (usize, usize) {
    let treated: std::collections::BTreeSet<u32> =
        members.iter().filter(|m| m.1).map(|m| m.0).collect();
    let control: std::collections::BTreeSet<u32> = members
        .iter()
        .filter(|m| !m.1 && !treated.contains(&m.0))
        .map(|m| m.0)
        .collect();
    (treated.len(), control.len())
}

fn estimate(
    panel: &Panel,
    aggregation: &'static str,
    parts: &[(&Estimate, i32, f64)],
    estimated: bool,
    band: Option<&'static str>,
) -> Estimate {
    let (att, inf) = combine(panel, parts, estimated);
    let used: Vec<&Estimate> = parts.iter().map(|p| p.0).collect();
    let members = union(&used);
    let (n_treated, n_control) = counts(&members);
    Estimate {
        aggregation,
        group: None,
        period: None,
        event_time: None,
        att,
        inf,
        n_treated,
        n_control,
        band,
        reference: false,
        members,
    }
}

/// The four aggregations and their overall figures, from the group-time estimates.
pub fn all(panel: &Panel, gt: &[Estimate]) -> Vec<Estimate> {
    let p = shares(panel);
    let with_p = |e: &Estimate| -> Option<(i32, f64)> {
        let g = e.group?;
        Some((g, *p.get(&g)?))
    };
    let post: Vec<&Estimate> = gt
        .iter()
        .filter(|e| e.period >= e.group && !e.reference)
        .collect();
    let mut out = Vec::new();
    if post.is_empty() {
        return out;
    }

    // simple
    let parts: Vec<(&Estimate, i32, f64)> = post
        .iter()
        .filter_map(|e| with_p(e).map(|(g, w)| (*e, g, w)))
        .collect();
    out.push(estimate(panel, "simple", &parts, true, None));

    // group
    let mut by_group: Vec<Estimate> = Vec::new();
    for g in panel.cohorts() {
        let mine: Vec<(&Estimate, i32, f64)> = post
            .iter()
            .filter(|e| e.group == Some(g))
            .map(|e| (*e, g, 1.0))
            .collect();
        if mine.is_empty() {
            continue;
        }
        let mut e = estimate(panel, "group", &mine, false, Some("group"));
        e.group = Some(g);
        by_group.push(e);
    }
    let parts: Vec<(&Estimate, i32, f64)> = by_group
        .iter()
        .filter_map(|e| with_p(e).map(|(g, w)| (e, g, w)))
        .collect();
    out.push(estimate(panel, "group", &parts, true, None));
    out.extend(by_group);

    // dynamic
    let mut events: Vec<i32> = gt.iter().filter_map(|e| e.event_time).collect();
    events.sort_unstable();
    events.dedup();
    let mut by_event: Vec<Estimate> = Vec::new();
    for ev in events {
        let parts: Vec<(&Estimate, i32, f64)> = gt
            .iter()
            .filter(|e| e.event_time == Some(ev))
            .filter_map(|e| with_p(e).map(|(g, w)| (e, g, w)))
            .collect();
        if parts.is_empty() {
            continue;
        }
        let mut e = estimate(panel, "dynamic", &parts, true, Some("dynamic"));
        e.event_time = Some(ev);
        e.reference = parts.iter().all(|p| p.0.reference);
        by_event.push(e);
    }
    let after: Vec<(&Estimate, i32, f64)> = by_event
        .iter()
        .filter(|e| e.event_time >= Some(0))
        .map(|e| (e, 0, 1.0))
        .collect();
    if !after.is_empty() {
        out.push(estimate(panel, "dynamic", &after, false, None));
    }
    out.extend(by_event);

    // calendar
    let first = panel.cohorts().first().copied();
    let mut by_period: Vec<Estimate> = Vec::new();
    for t in panel.periods.iter().filter(|t| Some(**t) >= first) {
        let parts: Vec<(&Estimate, i32, f64)> = post
            .iter()
            .filter(|e| e.period == Some(*t))
            .filter_map(|e| with_p(e).map(|(g, w)| (*e, g, w)))
            .collect();
        if parts.is_empty() {
            continue;
        }
        let mut e = estimate(panel, "calendar", &parts, true, Some("calendar"));
        e.period = Some(*t);
        by_period.push(e);
    }
    if !by_period.is_empty() {
        let parts: Vec<(&Estimate, i32, f64)> = by_period.iter().map(|e| (e, 0, 1.0)).collect();
        out.push(estimate(panel, "calendar", &parts, false, None));
    }
    out.extend(by_period);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four areas: one of cohort 2021, two of cohort 2022, one never treated, so P(G = 2021)
    /// = 1/4 and P(G = 2022) = 2/4. Group-time effects chosen by hand; their influence
    /// functions are small zero-mean vectors.
    fn case() -> (Panel, Vec<Estimate>) {
        let panel = Panel {
            units: vec!["a".into(), "b".into(), "c".into(), "d".into()],
            periods: vec![2020, 2021, 2022],
            y: vec![Some(0.0); 12],
            cohort: vec![Some(2021), Some(2022), Some(2022), None],
            notes: vec![],
        };
        let cell = |g: i32, t: i32, att: f64, inf: [f64; 4]| Estimate {
            aggregation: "group_time",
            group: Some(g),
            period: Some(t),
            event_time: Some(t - g),
            att,
            inf: inf.to_vec(),
            n_treated: 1,
            n_control: 1,
            band: Some("group_time"),
            reference: false,
            members: vec![],
        };
        let gt = vec![
            cell(2021, 2021, 1.0, [1.0, 0.0, 0.0, -1.0]),
            cell(2021, 2022, 3.0, [2.0, 0.0, 0.0, -2.0]),
            cell(2022, 2021, 0.5, [0.0, 1.0, -1.0, 0.0]),
            cell(2022, 2022, 6.0, [0.0, 3.0, -1.0, -2.0]),
        ];
        (panel, gt)
    }

    fn find<'a>(all: &'a [Estimate], agg: &str, f: impl Fn(&Estimate) -> bool) -> &'a Estimate {
        all.iter()
            .find(|e| e.aggregation == agg && f(e))
            .unwrap_or_else(|| panic!("no {agg}"))
    }

    #[test]
    fn aggregation_weights_by_hand() {
        let (panel, gt) = case();
        let all = all(&panel, &gt);
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} != {b}");
        let overall =
            |e: &Estimate| e.group.is_none() && e.period.is_none() && e.event_time.is_none();
        // simple: post cells weighted by P(G): (¼·1 + ¼·3 + ½·6) / (¼ + ¼ + ½) = 4.
        close(find(&all, "simple", overall).att, 4.0);
        // group: θ(2021) = (1 + 3) / 2 = 2, θ(2022) = 6; overall (¼·2 + ½·6) / ¾ = 14/3.
        close(find(&all, "group", |e| e.group == Some(2021)).att, 2.0);
        close(find(&all, "group", |e| e.group == Some(2022)).att, 6.0);
        close(find(&all, "group", overall).att, 14.0 / 3.0);
        // dynamic: e = 0: (¼·1 + ½·6) / ¾ = 13/3; e = 1: 3; e = −1: 0.5 (pre, cohort 2022
        // only); overall: the mean over e ≥ 0, (13/3 + 3) / 2 = 11/3.
        close(
            find(&all, "dynamic", |e| e.event_time == Some(0)).att,
            13.0 / 3.0,
        );
        close(find(&all, "dynamic", |e| e.event_time == Some(1)).att, 3.0);
        close(find(&all, "dynamic", |e| e.event_time == Some(-1)).att, 0.5);
        close(find(&all, "dynamic", overall).att, 11.0 / 3.0);
        // calendar: 2021: cohort 2021 only, 1; 2022: (¼·3 + ½·6) / ¾ = 5; overall 3.
        close(find(&all, "calendar", |e| e.period == Some(2021)).att, 1.0);
        close(find(&all, "calendar", |e| e.period == Some(2022)).att, 5.0);
        close(find(&all, "calendar", overall).att, 3.0);
    }

    #[test]
    fn estimated_weights_add_an_influence_that_sums_to_zero() {
        // With cells' influence functions summing to zero, so does every aggregate's, the
        // weights' own part included (Σ_i (1{G_i = g} − P(G = g)) = 0).
        let (panel, gt) = case();
        for e in all(&panel, &gt) {
            let s: f64 = e.inf.iter().sum();
            assert!(s.abs() < 1e-12, "{} {:?}: {s}", e.aggregation, e.group);
        }
        // And simple's influence is not just the weighted cells': the weights' part for area
        // a (cohort 2021) is Σ_k att_k (1{G = g_k} − p_k) / S − A_a Σ_k att_k p_k / S² with
        // S = 1, A_a = 2 − 1 = 1, Σ att p = 4: (1 + 3 − 4) / 1 − 1 · 4 = −4; weighted cells
        // give ¼·1 + ¼·2 + ½·0 = 0.75; in all −3.25.
        let simple = find(&all(&panel, &gt), "simple", |e| e.group.is_none()).clone();
        assert!((simple.inf[0] + 3.25).abs() < 1e-12, "{}", simple.inf[0]);
    }
}
