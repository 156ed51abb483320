-- title: "Data quality: drug and alcohol treatment by quarter"
-- description: >
--   Per quarter: rows, rows whose district is in the geography lookup, rows repeating another
--   row's quarter, district and substance group, and adults in treatment.
-- datasets: [substance_misuse, geography]
-- columns:
--   month: {type: date, description: "Quarter (first day)"}
--   records: {type: number, description: "Rows (one per district and substance group)"}
--   located: {type: number, description: "Rows whose district is in the geography lookup"}
--   pct_located: {type: number, description: "Share of rows with a valid geography (%)"}
--   duplicate_ids: {type: number, description: "Rows repeating another row's quarter, district and substance group"}
--   in_treatment: {type: count, description: "Adults in treatment"}
WITH keyed AS (
  SELECT *, count(*) OVER (PARTITION BY quarter, district_code, substance_group) AS n
  FROM substance_misuse
)
SELECT quarter AS month, count(*) AS records,
       count(*) FILTER (WHERE district_code IN (SELECT district_code FROM geography)) AS located,
       round(100.0 * count(*) FILTER (WHERE district_code IN (SELECT district_code FROM geography)) / count(*), 1) AS pct_located,
       count(*) FILTER (WHERE n > 1) AS duplicate_ids,
       total(in_treatment) AS in_treatment
FROM keyed
GROUP BY quarter
ORDER BY quarter
