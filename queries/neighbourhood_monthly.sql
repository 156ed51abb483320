-- title: One ward, month by month, recent months first
-- description: >
--   Recorded crimes and ASB incidents per month in one ward and in the part of its district you
--   may see, for the 12 months to the latest month held, most recent first.
-- datasets: [crime_ward_cube, asb_ward_cube, geography]
-- grain: ward
-- parameters:
--   ward: {type: area, required: true, description: "Ward code"}
-- columns:
--   month: {type: date, description: "Month (first day)"}
--   ward_crimes: {type: count, dataset: crime, description: "Recorded crimes in the ward"}
--   ward_asb: {type: count, dataset: asb, description: "ASB incidents in the ward"}
--   district_crimes: {type: count, dataset: crime, description: "Recorded crimes in the district (the part you may see)"}
--   district_asb: {type: count, dataset: asb, description: "ASB incidents in the district (the part you may see)"}
WITH here AS (
    SELECT any_value(district_code) AS district_code FROM geography WHERE ward_code = $ward
), bounds AS (
    -- The period's cut-off months, computed once rather than for every row.
    SELECT last_month, CAST(last_month - INTERVAL 12 MONTH AS DATE) AS cut12
    FROM (SELECT max(month) AS last_month FROM crime_ward_cube)
), c AS (
    SELECT month, total_if(n, ward_code = $ward) AS ward_crimes, total(n) AS district_crimes
    FROM crime_ward_cube, here, bounds
    WHERE crime_ward_cube.district_code = here.district_code AND month > cut12
    GROUP BY month
), a AS (
    SELECT month, total_if(n, ward_code = $ward) AS ward_asb, total(n) AS district_asb
    FROM asb_ward_cube, here, bounds
    WHERE asb_ward_cube.district_code = here.district_code AND month > cut12
    GROUP BY month
)
SELECT coalesce(c.month, a.month) AS month, or_none(c.ward_crimes) AS ward_crimes,
       or_none(a.ward_asb) AS ward_asb, or_none(c.district_crimes) AS district_crimes,
       or_none(a.district_asb) AS district_asb
FROM c FULL OUTER JOIN a USING (month)
ORDER BY month DESC
