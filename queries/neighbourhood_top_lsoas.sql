-- title: The LSOAs of one ward with the most recorded crime
-- description: >
--   Recorded crimes and ASB incidents in the 12 months to the latest month held, for each LSOA of
--   one ward, with rates per 1,000 residents, highest crime first (ten at most).
-- datasets: [crime_cube, asb_cube, geography]
-- grain: lsoa
-- parameters:
--   ward: {type: area, required: true, description: "Ward code"}
-- order: [-crimes, lsoa_name]
-- limit: 10
-- columns:
--   lsoa_code: {type: dimension, description: "LSOA code"}
--   lsoa_name: {type: dimension, description: "LSOA name"}
--   population: {type: number, description: "Resident population"}
--   crimes: {type: count, dataset: crime, description: "Recorded crimes, latest 12 months"}
--   crime_rate_per_1000: {type: derived, from: [crimes], expr: "round(1000.0 * crimes / nullif(population, 0), 1)", description: "Crimes per 1,000 residents"}
--   asb_incidents: {type: count, dataset: asb, description: "ASB incidents, latest 12 months"}
--   asb_rate_per_1000: {type: derived, from: [asb_incidents], expr: "round(1000.0 * asb_incidents / nullif(population, 0), 1)", description: "ASB incidents per 1,000 residents"}
WITH bounds AS (
    -- The period's cut-off months, computed once rather than for every row.
    SELECT last_month, CAST(last_month - INTERVAL 12 MONTH AS DATE) AS cut12
    FROM (SELECT max(month) AS last_month FROM crime_cube)
), l AS (
    SELECT lsoa_code, lsoa_name, population FROM geography WHERE ward_code = $ward
), c AS (
    SELECT lsoa_code, total(n) AS crimes FROM crime_cube, bounds
    WHERE ward_code = $ward AND month > cut12 GROUP BY lsoa_code
), a AS (
    SELECT lsoa_code, total(n) AS asb_incidents FROM asb_cube, bounds
    WHERE ward_code = $ward AND month > cut12 GROUP BY lsoa_code
)
SELECT l.lsoa_code, l.lsoa_name, l.population, or_none(c.crimes) AS crimes,
       or_none(a.asb_incidents) AS asb_incidents
FROM l LEFT JOIN c USING (lsoa_code) LEFT JOIN a USING (lsoa_code)
ORDER BY l.lsoa_name
