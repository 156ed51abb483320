-- title: ASB, last 12 months against the 12 before
-- description: >
--   Anti-social behaviour incidents in the 12 months ending with the chosen month (default: the
--   latest month held) and in the 12 months before that, with the percentage change.
-- datasets: [asb_ward_cube]
-- parameters:
--   to: {type: month, period: end12, description: "Last month of the current 12-month period, YYYY-MM"}
--   area: {type: area, description: "Ward or district code"}
-- columns:
--   last_month: {type: date, description: "Last month of the current period"}
--   current: {type: count, description: "Incidents in the 12 months to last_month"}
--   previous: {type: count, description: "Incidents in the 12 months before that"}
--   pct_change: {type: derived, from: [current, previous], expr: "round(100.0 * (current - previous) / nullif(previous, 0), 1)", description: "Change, % of previous"}
WITH bounds AS (
    -- The period's cut-off months, computed once rather than for every row.
    SELECT last_month, CAST(last_month - INTERVAL 12 MONTH AS DATE) AS cut12,
           CAST(last_month - INTERVAL 24 MONTH AS DATE) AS cut24
    FROM (SELECT coalesce($to, max(month)) AS last_month FROM asb_ward_cube)
), scoped AS (
    SELECT a.month, a.n, b.cut12
    FROM asb_ward_cube a, bounds b
    WHERE ($area IS NULL OR a.ward_code = $area OR a.district_code = $area)
      AND a.month > b.cut24 AND a.month <= b.last_month
)
SELECT
    (SELECT last_month FROM bounds) AS last_month,
    total_if(n, month > cut12) AS current,
    total_if(n, month <= cut12) AS previous
FROM scoped
