-- title: Recorded crime by ward, last 12 months against the 12 before
-- description: >
--   For each ward you may see: recorded crimes in the 12 months to the latest month held and in
--   the 12 months before, to find where a change is concentrated.
-- datasets: [crime_ward_cube, geography]
-- grain: ward
-- parameters:
--   crime_type: {type: text_list, description: "Crime types to include (default: all)"}
-- columns:
--   ward_code: {type: dimension, description: "Ward code"}
--   ward_name: {type: dimension, description: "Ward name"}
--   current: {type: count, description: "Crimes in the latest 12 months"}
--   previous: {type: count, description: "Crimes in the 12 months before"}
WITH bounds AS (
    -- The period's cut-off months, computed once rather than for every row.
    SELECT last_month, CAST(last_month - INTERVAL 12 MONTH AS DATE) AS cut12,
           CAST(last_month - INTERVAL 24 MONTH AS DATE) AS cut24
    FROM (SELECT max(month) AS last_month FROM crime_ward_cube)
), counts AS (
    -- Counted per ward first, then named: joining names onto every cube row costs ~10x more.
    SELECT c.ward_code,
           total_if(c.n, c.month > b.cut12) AS current,
           total_if(c.n, c.month <= b.cut12) AS previous
    FROM crime_ward_cube c, bounds b
    WHERE c.ward_code IS NOT NULL
      AND c.month > b.cut24
      AND ($crime_type IS NULL OR list_contains($crime_type, c.crime_type))
    GROUP BY c.ward_code
), names AS (
    SELECT ward_code, any_value(ward_name) AS ward_name FROM geography GROUP BY ward_code
)
SELECT k.ward_code, nm.ward_name, k.current, k.previous
FROM counts k LEFT JOIN names nm USING (ward_code)
ORDER BY k.ward_code
