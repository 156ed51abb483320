-- title: Crime by ward
-- description: >
--   Recorded crimes per ward for the chosen period and crime types, with the ward's resident
--   population and the rate per 1,000 residents. Crimes with no known location are listed as
--   "Unknown area".
-- datasets: [crime_ward_cube, geography]
-- grain: ward
-- parameters:
--   from: {type: month, period: start, description: "First month, YYYY-MM"}
--   to: {type: month, period: end, description: "Last month, YYYY-MM"}
--   area: {type: area, description: "Ward or district code"}
--   crime_type: {type: text_list, description: "Crime types to include (default: all)"}
-- order: [-crimes, ward_name]
-- columns:
--   ward_code: {type: dimension, description: "Ward code (blank = unknown area)"}
--   ward_name: {type: dimension, description: "Ward name"}
--   district_name: {type: dimension, description: "District"}
--   crimes: {type: count, description: "Recorded crimes in the period"}
--   population: {type: number, description: "Resident population (mid-year estimate)"}
--   rate_per_1000: {type: derived, from: [crimes], expr: "round(1000.0 * crimes / nullif(population, 0), 2)", description: "Crimes per 1,000 residents in the period"}
WITH wards AS (
    SELECT ward_code, any_value(ward_name) AS ward_name, any_value(district_name) AS district_name,
           sum(population) AS population
    FROM geography GROUP BY ward_code
), counts AS (
    SELECT ward_code, total(n) AS crimes
    FROM crime_ward_cube
    WHERE ($from IS NULL OR month >= $from)
      AND ($to IS NULL OR month <= $to)
      AND ($area IS NULL OR ward_code = $area OR district_code = $area)
      AND ($crime_type IS NULL OR list_contains($crime_type, crime_type))
    GROUP BY ward_code
)
SELECT c.ward_code, coalesce(w.ward_name, 'Unknown area') AS ward_name, w.district_name,
       c.crimes, w.population
FROM counts c LEFT JOIN wards w USING (ward_code)
ORDER BY ward_name
