-- title: The LSOAs of one ward with the most recorded crime
-- description: >
--   Recorded crimes and ASB incidents in the 12 months to the latest month held, for each LSOA of
--   one ward, with rates per 1,000 residents, highest crime first (ten at most).
-- datasets: [crime_cube, asb_cube, geography]
-- grain: lsoa
-- parameters:
--   ward: {type: area, required: true, description: "Ward code"}
-- columns:
--   lsoa_code: {type: dimension, description: "LSOA code"}
--   lsoa_name: {type: dimension, description: "LSOA name"}
--   population: {type: number, description: "Resident population"}
--   crimes: {type: count, description: "Recorded crimes, latest 12 months"}
--   crime_rate_per_1000: {type: derived, from: [crimes], description: "Crimes per 1,000 residents"}
--   asb_incidents: {type: count, description: "ASB incidents, latest 12 months"}
--   asb_rate_per_1000: {type: derived, from: [asb_incidents], description: "ASB incidents per 1,000 residents"}
WITH bounds AS (
    -- The period's cut-off months, computed once rather than for every row.
    SELECT last_month, CAST(last_month - INTERVAL 12 MONTH AS DATE) AS cut12
    FROM (SELECT max(month) AS last_month FROM crime_cube)
), l AS (
    SELECT lsoa_code, lsoa_name, population FROM geography WHERE ward_code = $ward
), c AS (
    SELECT lsoa_code, sum(n) AS crimes FROM crime_cube, bounds
    WHERE ward_code = $ward AND month > cut12 GROUP BY lsoa_code
), a AS (
    SELECT lsoa_code, sum(n) AS asb_incidents FROM asb_cube, bounds
    WHERE ward_code = $ward AND month > cut12 GROUP BY lsoa_code
)
SELECT l.lsoa_code, l.lsoa_name, l.population, coalesce(c.crimes, 0) AS crimes,
       round(1000.0 * coalesce(c.crimes, 0) / nullif(l.population, 0), 1) AS crime_rate_per_1000,
       coalesce(a.asb_incidents, 0) AS asb_incidents,
       round(1000.0 * coalesce(a.asb_incidents, 0) / nullif(l.population, 0), 1) AS asb_rate_per_1000
FROM l LEFT JOIN c USING (lsoa_code) LEFT JOIN a USING (lsoa_code)
ORDER BY crimes DESC, lsoa_name
LIMIT 10
