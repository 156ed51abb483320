-- title: "Data quality: reoffending cohorts by quarter"
-- description: >
--   Per cohort quarter: rows, rows whose district is in the geography lookup, rows repeating
--   another row's cohort definition, and offenders in the cohorts.
-- datasets: [reoffending, geography]
-- columns:
--   month: {type: date, description: "Cohort quarter (first day)"}
--   records: {type: number, description: "Rows (one per district and cohort breakdown)"}
--   located: {type: number, description: "Rows whose district is in the geography lookup"}
--   pct_located: {type: number, description: "Share of rows with a valid geography (%)"}
--   duplicate_ids: {type: number, description: "Rows repeating another row's quarter, district and breakdown"}
--   offenders: {type: count, description: "Offenders in the cohorts"}
WITH keyed AS (
  SELECT *, count(*) OVER (PARTITION BY cohort_quarter, district_code, age_group, cohort_type, cohort_group) AS n
  FROM reoffending
)
SELECT cohort_quarter AS month, count(*) AS records,
       count(*) FILTER (WHERE district_code IN (SELECT district_code FROM geography)) AS located,
       round(100.0 * count(*) FILTER (WHERE district_code IN (SELECT district_code FROM geography)) / count(*), 1) AS pct_located,
       count(*) FILTER (WHERE n > 1) AS duplicate_ids,
       total(offenders) AS offenders
FROM keyed
GROUP BY cohort_quarter
ORDER BY cohort_quarter
