-- title: Crime by LSOA
-- description: >
--   Recorded crimes per LSOA (lower-layer super output area) for the chosen period and crime
--   types, with its resident population and the rate per 1,000 residents. Every LSOA you may
--   see is listed, those with no crimes as 0.
-- datasets: [crime_cube, geography]
-- grain: lsoa
-- parameters:
--   from: {type: month, period: start, description: "First month, YYYY-MM"}
--   to: {type: month, period: end, description: "Last month, YYYY-MM"}
--   area: {type: area, description: "Ward or district code"}
--   crime_type: {type: text_list, description: "Crime types to include (default: all)"}
-- order: [-crimes, lsoa_name]
-- columns:
--   lsoa_code: {type: dimension, description: "LSOA code"}
--   lsoa_name: {type: dimension, description: "LSOA name"}
--   ward_name: {type: dimension, description: "Ward the LSOA lies in"}
--   crimes: {type: count, description: "Recorded crimes in the period"}
--   population: {type: number, description: "Resident population"}
--   rate_per_1000: {type: derived, from: [crimes], expr: "round(1000.0 * crimes / nullif(population, 0), 2)", description: "Crimes per 1,000 residents in the period"}
WITH counts AS (
    SELECT lsoa_code, total(n) AS crimes
    FROM crime_cube
    WHERE lsoa_code IS NOT NULL
      AND ($from IS NULL OR month >= $from)
      AND ($to IS NULL OR month <= $to)
      AND ($area IS NULL OR ward_code = $area OR district_code = $area)
      AND ($crime_type IS NULL OR list_contains($crime_type, crime_type))
    GROUP BY lsoa_code
)
SELECT g.lsoa_code, g.lsoa_name, g.ward_name, or_none(c.crimes) AS crimes, g.population
FROM geography g LEFT JOIN counts c USING (lsoa_code)
WHERE g.lsoa_code IS NOT NULL
  AND ($area IS NULL OR g.ward_code = $area OR g.district_code = $area)
ORDER BY g.lsoa_name
