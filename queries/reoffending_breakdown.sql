-- title: Proven reoffending by age group, cohort type and cohort group (latest year of cohorts)
-- description: >
--   The four most recent quarterly cohorts together (a year of offenders), and the four before
--   them, split by age group, by cohort type (custody, court order, caution), by cohort group
--   (IOM = integrated offender management, other) and by age group within cohort group.
-- datasets: [reoffending]
-- columns:
--   split: {type: dimension, description: "Which breakdown the row belongs to"}
--   age_group: {type: dimension, description: "adult or juvenile (blank = all)"}
--   cohort_type: {type: dimension, description: "custody, court_order or caution (blank = all)"}
--   cohort_group: {type: dimension, description: "IOM or other (blank = all)"}
--   first_quarter: {type: date, description: "First cohort quarter in the latest year"}
--   last_quarter: {type: date, description: "Latest cohort quarter"}
--   offenders: {type: count, description: "Offenders in the latest year's cohorts"}
--   reoffenders: {type: count, description: "Of whom proven to reoffend"}
--   reoffences: {type: count, description: "Proven reoffences"}
--   rate_pct: {type: derived, from: [offenders, reoffenders], expr: "round(100.0 * reoffenders / nullif(offenders, 0), 1)", description: "Binary reoffending rate, %"}
--   per_offender: {type: derived, from: [offenders, reoffences], expr: "round(1.0 * reoffences / nullif(offenders, 0), 2)", description: "Reoffences per offender"}
--   per_reoffender: {type: derived, from: [reoffenders, reoffences], expr: "round(1.0 * reoffences / nullif(reoffenders, 0), 2)", description: "Reoffences per reoffender"}
--   prev_offenders: {type: count, description: "Offenders in the year of cohorts before"}
--   prev_reoffenders: {type: count, description: "Of whom proven to reoffend"}
WITH bounds AS (
    SELECT max(cohort_quarter) AS last_quarter FROM reoffending
), tagged AS (
    SELECT r.*, b.last_quarter,
           r.cohort_quarter > CAST(b.last_quarter - INTERVAL 12 MONTH AS DATE) AS latest
    FROM reoffending r CROSS JOIN bounds b
    WHERE r.cohort_quarter > CAST(b.last_quarter - INTERVAL 24 MONTH AS DATE)
)
SELECT CASE WHEN GROUPING(age_group) = 0 AND GROUPING(cohort_group) = 0 THEN 'age group and cohort group'
            WHEN GROUPING(age_group) = 0 THEN 'age group'
            WHEN GROUPING(cohort_type) = 0 THEN 'cohort type'
            WHEN GROUPING(cohort_group) = 0 THEN 'cohort group'
            ELSE 'all' END AS split,
       age_group, cohort_type, cohort_group,
       CAST(any_value(last_quarter) - INTERVAL 9 MONTH AS DATE) AS first_quarter,
       any_value(last_quarter) AS last_quarter,
       total_if(offenders, latest) AS offenders,
       total_if(reoffenders, latest) AS reoffenders,
       total_if(reoffences, latest) AS reoffences,
       total_if(offenders, NOT latest) AS prev_offenders,
       total_if(reoffenders, NOT latest) AS prev_reoffenders
FROM tagged
GROUP BY GROUPING SETS ((), (age_group), (cohort_type), (cohort_group), (age_group, cohort_group))
ORDER BY split, age_group NULLS FIRST, cohort_type NULLS FIRST, cohort_group NULLS FIRST
