//! What `cityimpact evaluate` lists: each estimator, aggregation and inference, what it is
//! and where it is published.

/// What `cityimpact evaluate` lists: each estimator and aggregation, what it is, its source.
pub struct Method {
    pub id: &'static str,
    pub kind: &'static str,
    pub name: &'static str,
    pub definition: &'static str,
    pub source: &'static str,
}

const CS: &str = "Callaway, B. and Sant'Anna, P. H. C. (2021), Difference-in-Differences with multiple time periods, Journal of Econometrics 225(2), 200-230; R package did (aggte)";

pub const METHODS: &[Method] = &[
    Method { id: "cs_did", kind: "estimator", name: "Callaway & Sant'Anna group-time effects",
        definition: "ATT(g,t) for each cohort g (areas first treated in g) and period t: the mean change of g's areas from the base period minus that of the control areas (never treated, or not yet treated), under unconditional parallel trends. Base period: the last before g minus anticipation after treatment; before it the previous period (varying) or the same (universal, whose own cell is exactly 0). Analytic standard errors from the influence functions, clustered by area; uniform bands by multiplier bootstrap; a Wald pre-test over the pre-treatment cells (anticipation periods left out).", source: CS },
    Method { id: "simple", kind: "aggregation", name: "Overall effect (simple)",
        definition: "The post-treatment ATT(g,t) averaged with weights proportional to cohort size; the estimated weights enter the influence function.", source: CS },
    Method { id: "group", kind: "aggregation", name: "Effect by cohort",
        definition: "Each cohort's average over its post-treatment periods; overall: their cohort-size weighted average.", source: CS },
    Method { id: "dynamic", kind: "aggregation", name: "Event study",
        definition: "The effect at each event time e = t − g, averaged over the cohorts observed at e with cohort-size weights; overall: the mean over e ≥ 0.", source: CS },
    Method { id: "calendar", kind: "aggregation", name: "Effect by calendar period",
        definition: "Each period's average over the cohorts treated by then, cohort-size weighted; overall: the mean over those periods.", source: CS },
    Method { id: "twfe", kind: "estimator", name: "Two-way fixed effects (for comparison)",
        definition: "β of Y_it = α_i + λ_t + β D_it + ε_it, D_it = 1 from the first treated period; clustered by area (G/(G−1)). With staggered adoption its implicit weights on group-time effects can be negative: flagged staggered and negative_weights.", source: "de Chaisemartin, C. and D'Haultfœuille, X. (2020), Two-way fixed effects estimators with heterogeneous treatment effects, American Economic Review 110(9); Goodman-Bacon, A. (2021), Journal of Econometrics 225(2)" },
    Method { id: "did_2x2", kind: "estimator", name: "2×2 difference-in-differences (for comparison)",
        definition: "Per cohort: each area's mean from treatment on minus its mean before (anticipation periods left out), cohort against never-treated areas; the standard error of a difference of two means.", source: "Card, D. and Krueger, A. B. (1994), American Economic Review 84(4)" },
    Method { id: "few_clusters", kind: "inference", name: "Few areas: wild bootstrap with Webb weights",
        definition: "Below 30 areas, analytic intervals are flagged few_clusters and p-values come from the multiplier bootstrap with Webb's six-point weights: the share of draws at least as far from the estimate as the estimate is from 0.", source: "Webb, M. D. (2014/2023), Reworking wild bootstrap-based inference for clustered errors, Canadian Journal of Economics 56(3); Cameron, Gelbach and Miller (2008), Review of Economics and Statistics 90(3)" },
];
