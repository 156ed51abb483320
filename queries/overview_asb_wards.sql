-- title: ASB incidents by ward, last 12 months against the 12 before
-- description: >
--   For each ward you may see: anti-social behaviour incidents in the 12 months to the latest
--   month held and in the 12 months before.
-- datasets: [asb_ward_cube, geography]
-- grain: ward
-- columns:
--   ward_code: {type: dimension, description: "Ward code"}
--   ward_name: {type: dimension, description: "Ward name"}
--   current: {type: count, description: "Incidents in the latest 12 months"}
--   previous: {type: count, description: "Incidents in the 12 months before"}
WITH bounds AS (
    -- The period's cut-off months, computed once rather than for every row.
    SELECT last_month, CAST(last_month - INTERVAL 12 MONTH AS DATE) AS cut12,
           CAST(last_month - INTERVAL 24 MONTH AS DATE) AS cut24
    FROM (SELECT max(month) AS last_month FROM asb_ward_cube)
), counts AS (
    -- Counted per ward first, then named: joining names onto every cube row costs ~10x more.
    SELECT a.ward_code,
           total_if(a.n, a.month > b.cut12) AS current,
           total_if(a.n, a.month <= b.cut12) AS previous
    FROM asb_ward_cube a, bounds b
    WHERE a.ward_code IS NOT NULL
      AND a.month > b.cut24
    GROUP BY a.ward_code
), names AS (
    SELECT ward_code, any_value(ward_name) AS ward_name FROM geography GROUP BY ward_code
)
SELECT k.ward_code, nm.ward_name, k.current, k.previous
FROM counts k LEFT JOIN names nm USING (ward_code)
ORDER BY k.ward_code
