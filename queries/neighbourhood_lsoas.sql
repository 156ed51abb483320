-- title: The LSOAs of one ward, latest 12 months
-- description: >
--   Recorded crimes and ASB incidents in the latest 12 months held, for every LSOA of one ward, with
--   its name and resident population (and its year) for rates per 1,000 residents a year: the
--   ward's hotspots and the map's labels.
-- datasets: [crime_cube, asb_cube, areas]
-- system: [held, scope]
-- held_of: crime
-- grain: lsoa
-- parameters:
--   ward: {type: area, required: true, description: "Ward code"}
-- order: [-crime_rate_per_1000, lsoa_name]
-- columns:
--   lsoa_code: {type: dimension, description: "LSOA code"}
--   lsoa_name: {type: dimension, description: "LSOA name"}
--   population: {type: number, description: "Resident population"}
--   population_year: {type: number, description: "Mid-year estimate year of the population"}
--   crimes: {type: count, dataset: crime, description: "Recorded crimes, latest 12 months"}
--   crime_rate_per_1000: {type: derived, from: [crimes], expr: "round(1000.0 * crimes / nullif(population, 0), 1)", description: "Crimes per 1,000 residents a year"}
--   asb_incidents: {type: count, dataset: asb, description: "ASB incidents, latest 12 months"}
--   asb_rate_per_1000: {type: derived, from: [asb_incidents], expr: "round(1000.0 * asb_incidents / nullif(population, 0), 1)", description: "ASB incidents per 1,000 residents a year"}
WITH bounds AS (
    SELECT CAST($held_last AS DATE) AS last_month,
           CAST(CAST($held_last AS DATE) - INTERVAL 12 MONTH AS DATE) AS cut12
), l AS (
    SELECT area_code AS lsoa_code, area_label AS lsoa_name, population, population_year
    FROM areas WHERE area_level = 'lsoa' AND ward_code = $ward
      -- areas are public (not filtered by scope): no rows, not false zeros, for another ward
      AND ($scope_wards IS NULL OR list_contains($scope_wards, $ward))
), c AS (
    SELECT lsoa_code, total(n) AS crimes FROM crime_cube, bounds
    WHERE ward_code = $ward AND month > cut12 AND month <= last_month GROUP BY lsoa_code
), a AS (
    SELECT lsoa_code, total(n) AS asb_incidents FROM asb_cube, bounds
    WHERE ward_code = $ward AND month > cut12 AND month <= last_month GROUP BY lsoa_code
)
SELECT l.lsoa_code, l.lsoa_name, l.population, l.population_year, or_none(c.crimes) AS crimes,
       or_none(a.asb_incidents) AS asb_incidents
FROM l LEFT JOIN c USING (lsoa_code) LEFT JOIN a USING (lsoa_code)
ORDER BY l.lsoa_name
