-- title: Crime, last 12 months against the 12 before
-- description: >
--   Recorded crimes in the 12 months ending with the chosen month (default: the latest month
--   held) and in the 12 months before that, with the percentage change.
-- datasets: [crime_ward_cube]
-- parameters:
--   to: {type: month, period: end12, description: "Last month of the current 12-month period, YYYY-MM"}
--   area: {type: area, description: "Ward or district code"}
--   crime_type: {type: text_list, description: "Crime types to include (default: all)"}
-- columns:
--   last_month: {type: date, description: "Last month of the current period"}
--   current: {type: count, description: "Crimes in the 12 months to last_month"}
--   previous: {type: count, description: "Crimes in the 12 months before that"}
--   pct_change: {type: derived, from: [current, previous], expr: "round(100.0 * (current - previous) / nullif(previous, 0), 1)", description: "Change, % of previous"}
WITH bounds AS (
    -- The period's cut-off months, computed once rather than for every row.
    SELECT last_month, CAST(last_month - INTERVAL 12 MONTH AS DATE) AS cut12,
           CAST(last_month - INTERVAL 24 MONTH AS DATE) AS cut24
    FROM (SELECT coalesce($to, max(month)) AS last_month FROM crime_ward_cube)
), scoped AS (
    SELECT c.month, c.n, b.cut12
    FROM crime_ward_cube c, bounds b
    WHERE ($area IS NULL OR c.ward_code = $area OR c.district_code = $area)
      AND ($crime_type IS NULL OR list_contains($crime_type, c.crime_type))
      AND c.month > b.cut24 AND c.month <= b.last_month
)
SELECT
    (SELECT last_month FROM bounds) AS last_month,
    total_if(n, month > cut12) AS current,
    total_if(n, month <= cut12) AS previous
FROM scoped
