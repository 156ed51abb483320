-- title: ASB by ward
-- description: >
--   Anti-social behaviour incidents per ward for the chosen period, with the ward's resident
--   population and the rate per 1,000 residents. Incidents with no known location are listed
--   as "Unknown area".
-- datasets: [asb_ward_cube, geography]
-- grain: ward
-- parameters:
--   from: {type: month, period: start, description: "First month, YYYY-MM"}
--   to: {type: month, period: end, description: "Last month, YYYY-MM"}
--   area: {type: area, description: "Ward or district code"}
-- order: [-incidents, ward_name]
-- columns:
--   ward_code: {type: dimension, description: "Ward code (blank = unknown area)"}
--   ward_name: {type: dimension, description: "Ward name"}
--   district_name: {type: dimension, description: "District"}
--   incidents: {type: count, description: "ASB incidents in the period"}
--   population: {type: number, description: "Resident population (mid-year estimate)"}
--   rate_per_1000: {type: derived, from: [incidents], expr: "round(1000.0 * incidents / nullif(population, 0), 2)", description: "Incidents per 1,000 residents in the period"}
WITH wards AS (
    SELECT ward_code, any_value(ward_name) AS ward_name, any_value(district_name) AS district_name,
           CAST(sum(population) AS BIGINT) AS population
    FROM geography GROUP BY ward_code
), counts AS (
    SELECT ward_code, total(n) AS incidents
    FROM asb_ward_cube
    WHERE ($from IS NULL OR month >= $from)
      AND ($to IS NULL OR month <= $to)
      AND ($area IS NULL OR ward_code = $area OR district_code = $area)
    GROUP BY ward_code
)
SELECT c.ward_code, coalesce(w.ward_name, 'Unknown area') AS ward_name, w.district_name,
       c.incidents, w.population
FROM counts c LEFT JOIN wards w USING (ward_code)
ORDER BY ward_name
