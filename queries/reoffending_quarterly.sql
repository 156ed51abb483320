-- title: Proven reoffending by cohort quarter
-- description: >
--   Ministry of Justice proven-reoffending measures for each quarterly cohort, for all offenders
--   and split adult/juvenile (age_group 'all' is the total). Binary rate = reoffenders as % of
--   offenders; frequency = reoffences per offender and per reoffender.
-- datasets: [reoffending]
-- parameters:
--   cohort_type: {type: text_list, description: "custody, court_order and/or caution (default: all)"}
--   cohort_group: {type: text, description: "IOM or other (default: both)"}
-- columns:
--   cohort_quarter: {type: date, description: "First day of the cohort quarter"}
--   age_group: {type: dimension, description: "all, adult or juvenile"}
--   offenders: {type: count, description: "Offenders in the cohort"}
--   reoffenders: {type: count, description: "Offenders with a proven reoffence"}
--   reoffences: {type: count, description: "Proven reoffences"}
--   rate_pct: {type: derived, from: [offenders, reoffenders], expr: "round(100.0 * reoffenders / nullif(offenders, 0), 1)", description: "Binary reoffending rate, %"}
--   per_offender: {type: derived, from: [offenders, reoffences], expr: "round(1.0 * reoffences / nullif(offenders, 0), 2)", description: "Reoffences per offender"}
--   per_reoffender: {type: derived, from: [reoffenders, reoffences], expr: "round(1.0 * reoffences / nullif(reoffenders, 0), 2)", description: "Reoffences per reoffender"}
WITH picked AS (
    SELECT * FROM reoffending
    WHERE ($cohort_type IS NULL OR list_contains($cohort_type, cohort_type))
      AND ($cohort_group IS NULL OR cohort_group = $cohort_group)
), grouped AS (
    SELECT cohort_quarter, coalesce(age_group, 'all') AS age_group,
           total(offenders) AS offenders, total(reoffenders) AS reoffenders,
           total(reoffences) AS reoffences
    FROM picked
    GROUP BY GROUPING SETS ((cohort_quarter), (cohort_quarter, age_group))
)
SELECT cohort_quarter, age_group, offenders, reoffenders, reoffences
FROM grouped
ORDER BY cohort_quarter, age_group
